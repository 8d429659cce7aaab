package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters of new hashes (OWASP's second recommended set:
// 19 MiB, 2 passes, 1 lane). Hashes made with other parameters still verify:
// the parameters are read from the PHC string.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16

	// Upper bounds for parameters read from a stored hash, so a corrupt or
	// hostile hash cannot make CheckPassword allocate gigabytes.
	maxArgonMemory  = 1 << 20 // 1 GiB
	maxArgonTime    = 16
	maxArgonThreads = 16
	maxArgonKeyLen  = 128
)

// passwordAlphabet is URL-safe and unambiguous enough to read aloud.
const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_"

// HashPassword returns an argon2id hash of pw in PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func HashPassword(pw string) (string, error) {
	salt := randomBytes(argonSaltLen)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches hash, an argon2id PHC string or
// a bcrypt hash ($2a$, $2b$, $2y$). The comparison is constant-time; a
// malformed hash never matches.
func CheckPassword(hash, pw string) bool {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, err := parseArgon2id(hash)
		if err != nil {
			return false
		}
		key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		return subtle.ConstantTimeCompare(key, p.key) == 1
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	}
	return false
}

// GeneratePassword returns a random 20-character URL-safe password
// (about 117 bits of entropy).
func GeneratePassword() string {
	return randomString(20, passwordAlphabet)
}

type argon2Params struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

var errBadHash = errors.New("auth: malformed argon2id hash")

func parseArgon2id(s string) (*argon2Params, error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, errBadHash
	}
	var p argon2Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, errBadHash
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > maxArgonThreads {
				return nil, errBadHash
			}
			p.threads = uint8(n)
		default:
			return nil, errBadHash
		}
	}
	if p.memory == 0 || p.memory > maxArgonMemory || p.time == 0 || p.time > maxArgonTime || p.threads == 0 {
		return nil, errBadHash
	}
	var err error
	if p.salt, err = decodeB64(parts[4]); err != nil || len(p.salt) < 8 {
		return nil, errBadHash
	}
	if p.key, err = decodeB64(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > maxArgonKeyLen {
		return nil, errBadHash
	}
	return &p, nil
}

// decodeB64 accepts the unpadded form of the PHC spec and, leniently, padded.
func decodeB64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}
