package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-chat/switchboard"
)

// Token types, in the "typ" claim.
const (
	TypeAccess  = "access"  // a console user (agent or admin)
	TypeVisitor = "visitor" // a widget visitor
)

// issuerName is the "iss" claim of every token Switchboard issues.
const issuerName = "switchboard"

// Default token lifetimes.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultVisitorTTL = 30 * 24 * time.Hour
)

// SecretSize is the size of a generated token secret; shorter secrets
// given by configuration must still be at least MinSecretSize bytes.
const (
	SecretSize    = 32
	MinSecretSize = 16
)

// Claims of a Switchboard token. Subject is the user ID for access tokens
// and the contact ID for visitor tokens. Callers check Type.
type Claims struct {
	Type           string           `json:"typ"`
	Role           switchboard.Role `json:"role,omitempty"`
	InboxID        string           `json:"inbox,omitempty"`
	ConversationID string           `json:"conv,omitempty"`
	jwt.RegisteredClaims
}

// IssuerOptions configure an Issuer; zero fields take defaults.
type IssuerOptions struct {
	AccessTTL  time.Duration    // default 15 min
	VisitorTTL time.Duration    // default 30 days
	Now        func() time.Time // default time.Now
}

// Issuer issues and verifies HS256 tokens with one secret. It is safe for
// concurrent use.
type Issuer struct {
	secret []byte
	opts   IssuerOptions
	parser *jwt.Parser
}

// NewIssuer returns an Issuer signing with secret, which should be
// SecretSize random bytes (see GenerateSecret, LoadOrCreateSecret). A secret
// shorter than MinSecretSize makes every Issue fail and every Verify refuse.
func NewIssuer(secret []byte, opts IssuerOptions) *Issuer {
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.VisitorTTL <= 0 {
		opts.VisitorTTL = DefaultVisitorTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Issuer{
		secret: bytes.Clone(secret),
		opts:   opts,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuer(issuerName),
			jwt.WithTimeFunc(opts.Now),
		),
	}
}

// IssueAccess returns an access token (typ "access") for user: sub = user
// ID, role, iat, exp = now + AccessTTL.
func (s *Issuer) IssueAccess(user *switchboard.User) (string, error) {
	if user == nil || user.ID == "" {
		return "", errors.New("auth: issue access token: user without ID")
	}
	return s.issue(Claims{Type: TypeAccess, Role: user.Role}, user.ID, s.opts.AccessTTL)
}

// IssueVisitor returns a visitor token (typ "visitor") for a widget
// visitor: sub = contactID, with the inbox and conversation it may use.
func (s *Issuer) IssueVisitor(contactID, inboxID, conversationID string) (string, error) {
	if contactID == "" || inboxID == "" {
		return "", errors.New("auth: issue visitor token: contact and inbox required")
	}
	return s.issue(Claims{Type: TypeVisitor, InboxID: inboxID, ConversationID: conversationID},
		contactID, s.opts.VisitorTTL)
}

func (s *Issuer) issue(c Claims, subject string, ttl time.Duration) (string, error) {
	if len(s.secret) < MinSecretSize {
		return "", errors.New("auth: token secret too short")
	}
	now := s.opts.Now()
	c.RegisteredClaims = jwt.RegisteredClaims{
		Issuer:    issuerName,
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return tok, nil
}

// Verify checks token's signature (HS256 only: "none", other HMAC sizes and
// asymmetric algorithms are refused), issuer and expiry (required) and
// returns its claims. Every failure is EUNAUTHORIZED.
func (s *Issuer) Verify(token string) (*Claims, error) {
	if len(s.secret) < MinSecretSize {
		return nil, unauthorized("Invalid token.")
	}
	var c Claims
	_, err := s.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.secret, nil })
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, unauthorized("Token expired.")
		}
		return nil, unauthorized("Invalid token.")
	}
	if c.Subject == "" || (c.Type != TypeAccess && c.Type != TypeVisitor) {
		return nil, unauthorized("Invalid token.")
	}
	return &c, nil
}

// NewRefreshToken returns an opaque refresh token (43 URL-safe characters,
// 256 random bits) for the client and its hash (HashRefreshToken) for
// store.AuthSession.TokenHash.
func NewRefreshToken() (token, hash string) {
	token = base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return token, HashRefreshToken(token)
}

// HashRefreshToken returns the lowercase hex SHA-256 of a refresh token, the
// form sessions are stored and looked up by.
func HashRefreshToken(token string) string {
	return sha256Hex(token)
}

// GenerateSecret returns SecretSize random bytes for signing tokens.
func GenerateSecret() []byte {
	return randomBytes(SecretSize)
}

// LoadOrCreateSecret returns the token secret kept in the file at path,
// creating the file (mode 0600, its directory 0700) with a new secret on
// first use. The file holds the secret hex-encoded on one line. A file
// written by an operator may instead hold any other text of at least
// MinSecretSize bytes, used as is (surrounding whitespace trimmed).
//
// Creation is atomic: concurrent callers (several processes sharing the
// data dir) all end up with the same secret.
func LoadOrCreateSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		return parseSecret(path, b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("auth: read secret: %w", err)
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create secret dir: %w", err)
	}
	// Write a complete temporary file, then hard-link it into place: a link
	// never replaces an existing file, so a concurrent creator wins or we do,
	// and no reader ever sees a partial file.
	tmp, err := os.CreateTemp(dir, ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	secret := GenerateSecret()
	_, werr := tmp.WriteString(hex.EncodeToString(secret) + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("auth: write secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("auth: read secret: %w", err)
			}
			return parseSecret(path, b)
		}
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	return secret, nil
}

func parseSecret(path string, b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if dec, err := hex.DecodeString(string(b)); err == nil && len(dec) >= MinSecretSize {
		return dec, nil
	}
	if len(b) < MinSecretSize {
		return nil, fmt.Errorf("auth: secret in %s is shorter than %d bytes", path, MinSecretSize)
	}
	return b, nil
}
