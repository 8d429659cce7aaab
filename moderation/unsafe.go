package moderation

import "unsafe"

// unsafeBytes views s as bytes without copying; the scanner only reads it.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
