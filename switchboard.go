// Package switchboard holds the domain of the Switchboard chat server:
// users, inboxes, contacts, conversations, messages, events and frames, the
// service interfaces the other packages implement, and the error codes.
// It imports only the standard library.
package switchboard

import (
	"crypto/rand"
	"time"
)

// Build information, set by cmd/switchboard from -ldflags.
type BuildInfo struct {
	Version string
	Commit  string
}

// NewID returns a new sortable, unique identifier (a ULID in Crockford base32:
// 48 bits of milliseconds then 80 random bits).
func NewID() string { return NewIDAt(time.Now()) }

// NewIDAt is NewID for a given time.
func NewIDAt(t time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [16]byte
	ms := uint64(t.UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	_, _ = rand.Read(b[6:])
	// 128 bits -> 26 characters of 5 bits, most significant first.
	var out [26]byte
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
