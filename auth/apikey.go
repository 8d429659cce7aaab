package auth

// APIKeyPrefix starts every API key secret.
const APIKeyPrefix = "sk-sb-"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// apiKeyRandomLen is the number of random base62 characters (~190 bits).
const apiKeyRandomLen = 32

// apiKeyVisibleLen is how many random characters the stored prefix shows.
const apiKeyVisibleLen = 4

// NewAPIKey returns a new API key: secret ("sk-sb-" + 32 random base62
// characters) is shown to the user once; prefix (e.g. "sk-sb-Ab3x") is stored
// to recognise the key in lists; hash (HashAPIKey(secret)) is what the store
// looks keys up by.
func NewAPIKey() (secret, prefix, hash string) {
	secret = APIKeyPrefix + randomString(apiKeyRandomLen, base62)
	return secret, secret[:len(APIKeyPrefix)+apiKeyVisibleLen], HashAPIKey(secret)
}

// HashAPIKey returns the lowercase hex SHA-256 of secret. A fast hash is
// right here: the secret has ~190 bits of entropy, so there is nothing to
// brute-force, and lookups happen on every API request.
func HashAPIKey(secret string) string {
	return sha256Hex(secret)
}
