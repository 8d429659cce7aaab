package auth_test

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-chat/switchboard/auth"
)

func TestPassword(t *testing.T) {
	h, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash = %q", h)
	}
	h2, _ := auth.HashPassword("correct horse")
	if h == h2 {
		t.Fatal("same salt twice")
	}
	if !auth.CheckPassword(h, "correct horse") {
		t.Fatal("right password refused")
	}
	for _, pw := range []string{"", "correct horse ", "Correct horse", "correct hors"} {
		if auth.CheckPassword(h, pw) {
			t.Fatalf("wrong password %q accepted", pw)
		}
	}

	t.Run("Bcrypt", func(t *testing.T) {
		b, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "$2a$") {
			t.Fatalf("bcrypt hash = %q", b)
		}
		if !auth.CheckPassword(string(b), "s3cret") || auth.CheckPassword(string(b), "s3cret!") {
			t.Fatal("bcrypt check wrong")
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		parts := strings.Split(h, "$")
		for _, bad := range []string{
			"", "plain", "$argon2id$", "$argon2i$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
			"$argon2id$v=18$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
			"$argon2id$v=19$m=99999999,t=2,p=1$" + parts[4] + "$" + parts[5],
			"$argon2id$v=19$m=19456,t=0,p=1$" + parts[4] + "$" + parts[5],
			"$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "$",
			"$argon2id$v=19$m=19456,t=2,p=1$!!$" + parts[5],
		} {
			if auth.CheckPassword(bad, "correct horse") {
				t.Fatalf("malformed hash %q matched", bad)
			}
		}
	})
}

func TestGeneratePassword(t *testing.T) {
	a, b := auth.GeneratePassword(), auth.GeneratePassword()
	if len(a) != 20 || a == b {
		t.Fatalf("%q %q", a, b)
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			t.Fatalf("not URL-safe: %q", a)
		}
	}
}

func TestAPIKey(t *testing.T) {
	secret, prefix, hash := auth.NewAPIKey()
	if !strings.HasPrefix(secret, "sk-sb-") || len(secret) != len("sk-sb-")+32 {
		t.Fatalf("secret = %q", secret)
	}
	for _, c := range secret[6:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			t.Fatalf("not base62: %q", secret)
		}
	}
	if !strings.HasPrefix(secret, prefix) || len(prefix) >= len(secret)/2 {
		t.Fatalf("prefix = %q", prefix)
	}
	if hash != auth.HashAPIKey(secret) || len(hash) != 64 || strings.Contains(hash, secret) {
		t.Fatalf("hash = %q", hash)
	}
	other, _, _ := auth.NewAPIKey()
	if other == secret {
		t.Fatal("duplicate key")
	}
}
