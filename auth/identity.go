package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Identity is a visitor the host site vouches for (see docs/identity.md).
type Identity struct {
	UID   string `json:"uid"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Bounds of a signed identity.
const (
	// IdentityMaxAge is how old an HMAC "ts", or the "iat" of a JWT without
	// "exp", may be.
	IdentityMaxAge = 24 * time.Hour
	// IdentityClockSkew is how far in the future a "ts"/"iat" may be, and
	// how long after "exp" a JWT is still accepted.
	IdentityClockSkew = time.Minute

	maxIdentityField = 512 // bytes of uid, name or email
)

// VerifyIdentity checks an identity signed by the host site with the
// inbox's identity secret and returns it. raw is either
//
//   - a JSON string holding a JWT (HS256 only) with claims uid, name, email
//     and exp; exp may be omitted when iat is present and at most 24 h old;
//   - a JSON object {uid, name, email, ts, signature} where ts is Unix
//     seconds (number or decimal string, at most 24 h old) and signature is
//     hex(HMAC-SHA256(secret, uid+"\n"+email+"\n"+name+"\n"+ts)).
//
// Anything unsigned, wrongly signed, stale, or an empty secret is refused
// with EUNAUTHORIZED: an identity is never trusted on the client's word.
func VerifyIdentity(secret string, raw json.RawMessage) (*Identity, error) {
	return verifyIdentity(secret, raw, time.Now())
}

func verifyIdentity(secret string, raw json.RawMessage, now time.Time) (*Identity, error) {
	if secret == "" {
		return nil, unauthorized("Identity verification is not configured for this inbox.")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, unauthorized("Invalid identity.")
	}
	var id *Identity
	var ok bool
	switch raw[0] {
	case '"':
		var tok string
		if json.Unmarshal(raw, &tok) == nil {
			id, ok = identityFromJWT(secret, tok, now)
		}
	case '{':
		id, ok = identityFromHMAC(secret, raw, now)
	}
	if !ok || id.UID == "" || len(id.UID) > maxIdentityField ||
		len(id.Name) > maxIdentityField || len(id.Email) > maxIdentityField {
		return nil, unauthorized("Invalid identity.")
	}
	return id, nil
}

type identityClaims struct {
	Identity
	jwt.RegisteredClaims
}

func identityFromJWT(secret, tok string, now time.Time) (*Identity, bool) {
	var c identityClaims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(IdentityClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if _, err := p.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil }); err != nil {
		return nil, false
	}
	if c.ExpiresAt == nil {
		// No expiry: bounded by its issue time instead, like the HMAC form.
		if c.IssuedAt == nil || now.Sub(c.IssuedAt.Time) > IdentityMaxAge {
			return nil, false
		}
	}
	return &c.Identity, true
}

type identityHMAC struct {
	UID       string          `json:"uid"`
	Name      string          `json:"name"`
	Email     string          `json:"email"`
	TS        json.RawMessage `json:"ts"`
	Signature string          `json:"signature"`
}

func identityFromHMAC(secret string, raw json.RawMessage, now time.Time) (*Identity, bool) {
	var f identityHMAC
	if json.Unmarshal(raw, &f) != nil || f.Signature == "" {
		return nil, false
	}
	ts, ok := parseTS(f.TS)
	if !ok {
		return nil, false
	}
	if age := now.Sub(time.Unix(ts, 0)); age > IdentityMaxAge || age < -IdentityClockSkew {
		return nil, false
	}
	got, err := hex.DecodeString(f.Signature)
	if err != nil {
		return nil, false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(f.UID + "\n" + f.Email + "\n" + f.Name + "\n" + strconv.FormatInt(ts, 10)))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return nil, false
	}
	return &Identity{UID: f.UID, Name: f.Name, Email: f.Email}, true
}

// parseTS reads Unix seconds given as a JSON integer or a decimal string.
func parseTS(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if len(s) >= 2 && s[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	return ts, err == nil && ts > 0
}
