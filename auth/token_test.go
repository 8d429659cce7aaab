package auth_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable time source for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func mustUnauthorized(tb testing.TB, err error) {
	tb.Helper()
	if code := switchboard.ErrorCode(err); code != switchboard.EUNAUTHORIZED {
		tb.Fatalf("got %v (code %q), want %s", err, code, switchboard.EUNAUTHORIZED)
	}
}

func TestIssuer_Access(t *testing.T) {
	clk := newClock()
	iss := auth.NewIssuer(testSecret, auth.IssuerOptions{Now: clk.Now})
	tok, err := iss.IssueAccess(&switchboard.User{ID: "u1", Role: switchboard.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != auth.TypeAccess || c.Subject != "u1" || c.Role != switchboard.RoleAdmin {
		t.Fatalf("claims = %+v", c)
	}
	if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != auth.DefaultAccessTTL {
		t.Fatalf("ttl = %v", got)
	}
	if h := header(t, tok); h["alg"] != "HS256" {
		t.Fatalf("header = %v", h)
	}

	t.Run("Expired", func(t *testing.T) {
		clk.Advance(auth.DefaultAccessTTL + time.Second)
		defer clk.Advance(-auth.DefaultAccessTTL - time.Second)
		_, err := iss.Verify(tok)
		mustUnauthorized(t, err)
	})
	t.Run("NoUserID", func(t *testing.T) {
		if _, err := iss.IssueAccess(&switchboard.User{}); err == nil {
			t.Fatal("issued a token without a subject")
		}
	})
}

func TestIssuer_Visitor(t *testing.T) {
	clk := newClock()
	iss := auth.NewIssuer(testSecret, auth.IssuerOptions{Now: clk.Now, VisitorTTL: time.Hour})
	tok, err := iss.IssueVisitor("c1", "in1", "conv1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != auth.TypeVisitor || c.Subject != "c1" || c.InboxID != "in1" || c.ConversationID != "conv1" {
		t.Fatalf("claims = %+v", c)
	}
	clk.Advance(time.Hour + time.Second)
	_, err = iss.Verify(tok)
	mustUnauthorized(t, err)
}

func TestIssuer_Verify_Refused(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	iss := auth.NewIssuer(testSecret, auth.IssuerOptions{Now: clk.Now})
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": "switchboard", "sub": "u1", "typ": "access", "role": "admin",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
	}
	sign := func(m jwt.SigningMethod, claims jwt.MapClaims, key any) string {
		t.Helper()
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(jwt.SigningMethodHS256, valid(), testSecret)
	if _, err := iss.Verify(good); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	noExp := valid()
	delete(noExp, "exp")
	expired := valid()
	expired["exp"] = now.Add(-time.Second).Unix()
	noTyp := valid()
	delete(noTyp, "typ")
	badTyp := valid()
	badTyp["typ"] = "identity"
	noSub := valid()
	delete(noSub, "sub")
	otherIss := valid()
	otherIss["iss"] = "someone-else"

	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding
	tamperedPayload := b64.EncodeToString([]byte(
		`{"iss":"switchboard","sub":"u2","typ":"access","role":"admin","iat":` +
			strconv.FormatInt(now.Unix(), 10) + `,"exp":` + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + `}`))

	for name, tok := range map[string]string{
		"AlgNone":        sign(jwt.SigningMethodNone, valid(), jwt.UnsafeAllowNoneSignatureType),
		"AlgNoneNoSig":   b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"HS384":          sign(jwt.SigningMethodHS384, valid(), testSecret),
		"HS512":          sign(jwt.SigningMethodHS512, valid(), testSecret),
		"RS256":          sign(jwt.SigningMethodRS256, valid(), rsaKey),
		"RS256HeaderHS":  hs256WithHeader(`{"alg":"RS256","typ":"JWT"}`, parts[1], testSecret),
		"WrongSecret":    sign(jwt.SigningMethodHS256, valid(), []byte("another-secret-another-secret-xx")),
		"Expired":        sign(jwt.SigningMethodHS256, expired, testSecret),
		"MissingExp":     sign(jwt.SigningMethodHS256, noExp, testSecret),
		"MissingTyp":     sign(jwt.SigningMethodHS256, noTyp, testSecret),
		"UnknownTyp":     sign(jwt.SigningMethodHS256, badTyp, testSecret),
		"MissingSub":     sign(jwt.SigningMethodHS256, noSub, testSecret),
		"OtherIssuer":    sign(jwt.SigningMethodHS256, otherIss, testSecret),
		"TamperedClaims": parts[0] + "." + tamperedPayload + "." + parts[2],
		"TamperedSig":    parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"Truncated":      parts[0] + "." + parts[1],
		"Empty":          "",
		"Garbage":        "not.a.jwt",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := iss.Verify(tok)
			if c != nil {
				t.Fatalf("claims returned: %+v", c)
			}
			mustUnauthorized(t, err)
		})
	}
}

func TestIssuer_ShortSecret(t *testing.T) {
	iss := auth.NewIssuer([]byte("short"), auth.IssuerOptions{})
	if _, err := iss.IssueAccess(&switchboard.User{ID: "u1"}); err == nil {
		t.Fatal("issued with a 5-byte secret")
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "switchboard", "sub": "u1", "typ": "access", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte("short"))
	_, err := iss.Verify(tok)
	mustUnauthorized(t, err)
}

func TestRefreshToken(t *testing.T) {
	tok, hash := auth.NewRefreshToken()
	tok2, _ := auth.NewRefreshToken()
	if len(tok) != 43 || tok == tok2 {
		t.Fatalf("token %q (other %q)", tok, tok2)
	}
	sum := sha256.Sum256([]byte(tok))
	if hash != hex.EncodeToString(sum[:]) || auth.HashRefreshToken(tok) != hash {
		t.Fatalf("hash %q", hash)
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "jwt.secret")
	var wg sync.WaitGroup
	secrets := make([][]byte, 8)
	for i := range secrets {
		wg.Go(func() {
			s, err := auth.LoadOrCreateSecret(path)
			if err != nil {
				t.Error(err)
			}
			secrets[i] = s
		})
	}
	wg.Wait()
	for _, s := range secrets {
		if len(s) != auth.SecretSize || string(s) != string(secrets[0]) {
			t.Fatalf("secrets differ or wrong size: %x vs %x", s, secrets[0])
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v", fi.Mode())
	}
	again, err := auth.LoadOrCreateSecret(path)
	if err != nil || string(again) != string(secrets[0]) {
		t.Fatalf("reload: %x, %v", again, err)
	}
	left, _ := os.ReadDir(filepath.Dir(path))
	if len(left) != 1 {
		t.Fatalf("temporary files left: %v", left)
	}

	t.Run("OperatorText", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "s")
		os.WriteFile(p, []byte("  a passphrase of some length \n"), 0o600)
		s, err := auth.LoadOrCreateSecret(p)
		if err != nil || string(s) != "a passphrase of some length" {
			t.Fatalf("%q, %v", s, err)
		}
	})
	t.Run("TooShort", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "s")
		os.WriteFile(p, []byte("short\n"), 0o600)
		if _, err := auth.LoadOrCreateSecret(p); err == nil {
			t.Fatal("accepted a 5-byte secret")
		}
	})
}

func TestGenerateSecret(t *testing.T) {
	a, b := auth.GenerateSecret(), auth.GenerateSecret()
	if len(a) != 32 || string(a) == string(b) {
		t.Fatalf("%x %x", a, b)
	}
}

func header(tb testing.TB, tok string) map[string]any {
	tb.Helper()
	p := jwt.NewParser()
	parsed, _, err := p.ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		tb.Fatal(err)
	}
	return parsed.Header
}

// hs256WithHeader signs header.payload with HMAC-SHA256 whatever the header
// claims (algorithm confusion).
func hs256WithHeader(hdr, payload string, key []byte) string {
	signing := base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + payload
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
