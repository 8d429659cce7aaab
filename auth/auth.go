// Package auth holds Switchboard's credentials: password hashes, access and
// visitor tokens (JWT HS256), refresh tokens, API keys, identified-visitor
// signatures and login throttling.
//
// Every verification failure is a *switchboard.Error with code
// EUNAUTHORIZED (or ERATELIMITED from the Throttle); details of why a
// credential was refused are never sent to the client.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"

	"github.com/switchboard-chat/switchboard"
)

// unauthorized is the error every refused credential returns.
func unauthorized(msg string) error {
	return &switchboard.Error{Code: switchboard.EUNAUTHORIZED, Message: msg}
}

// randomBytes returns n bytes from crypto/rand, which never fails on the
// platforms Go supports (it panics instead, as of Go 1.24).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// sha256Hex returns the lowercase hex SHA-256 of s.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// randomString returns n characters drawn uniformly from alphabet (at most
// 256 characters) by rejection sampling, so there is no modulo bias.
func randomString(n int, alphabet string) string {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet)
	for len(out) < n {
		for _, c := range randomBytes(n) {
			if int(c) >= limit {
				continue
			}
			out = append(out, alphabet[int(c)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}
