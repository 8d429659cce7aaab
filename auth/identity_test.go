package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-chat/switchboard/auth"
)

const identitySecret = "inbox-identity-secret"

func identityJWT(tb testing.TB, m jwt.SigningMethod, claims jwt.MapClaims, key any) json.RawMessage {
	tb.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	raw, _ := json.Marshal(s)
	return raw
}

func identityHMAC(secret, uid, name, email string, ts int64) map[string]any {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(uid + "\n" + email + "\n" + name + "\n" + strconv.FormatInt(ts, 10)))
	return map[string]any{"uid": uid, "name": name, "email": email, "ts": ts, "signature": hex.EncodeToString(mac.Sum(nil))}
}

func mustJSON(tb testing.TB, v any) json.RawMessage {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestVerifyIdentity_JWT(t *testing.T) {
	now := time.Now()
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"uid": "42", "name": "Ada", "email": "ada@example.com", "exp": now.Add(time.Hour).Unix()}
	}
	t.Run("OK", func(t *testing.T) {
		id, err := auth.VerifyIdentity(identitySecret, identityJWT(t, jwt.SigningMethodHS256, claims(), []byte(identitySecret)))
		if err != nil {
			t.Fatal(err)
		}
		if *id != (auth.Identity{UID: "42", Name: "Ada", Email: "ada@example.com"}) {
			t.Fatalf("identity = %+v", id)
		}
	})
	t.Run("OKIatWithoutExp", func(t *testing.T) {
		c := claims()
		delete(c, "exp")
		c["iat"] = now.Add(-time.Hour).Unix()
		if _, err := auth.VerifyIdentity(identitySecret, identityJWT(t, jwt.SigningMethodHS256, c, []byte(identitySecret))); err != nil {
			t.Fatal(err)
		}
	})

	noTime := claims()
	delete(noTime, "exp")
	staleIat := claims()
	delete(staleIat, "exp")
	staleIat["iat"] = now.Add(-25 * time.Hour).Unix()
	futureIat := claims()
	futureIat["iat"] = now.Add(time.Hour).Unix()
	expired := claims()
	expired["exp"] = now.Add(-time.Hour).Unix()
	noUID := claims()
	delete(noUID, "uid")
	good := identityJWT(t, jwt.SigningMethodHS256, claims(), []byte(identitySecret))
	var goodTok string
	json.Unmarshal(good, &goodTok)

	for name, raw := range map[string]json.RawMessage{
		"WrongSecret": identityJWT(t, jwt.SigningMethodHS256, claims(), []byte("other")),
		"AlgNone":     identityJWT(t, jwt.SigningMethodNone, claims(), jwt.UnsafeAllowNoneSignatureType),
		"HS512":       identityJWT(t, jwt.SigningMethodHS512, claims(), []byte(identitySecret)),
		"NoExpNoIat":  identityJWT(t, jwt.SigningMethodHS256, noTime, []byte(identitySecret)),
		"StaleIat":    identityJWT(t, jwt.SigningMethodHS256, staleIat, []byte(identitySecret)),
		"FutureIat":   identityJWT(t, jwt.SigningMethodHS256, futureIat, []byte(identitySecret)),
		"Expired":     identityJWT(t, jwt.SigningMethodHS256, expired, []byte(identitySecret)),
		"NoUID":       identityJWT(t, jwt.SigningMethodHS256, noUID, []byte(identitySecret)),
		"Tampered":    mustJSON(t, goodTok[:len(goodTok)-2]+"xx"),
		"NotJWT":      mustJSON(t, "hello"),
		"Null":        json.RawMessage("null"),
		"Number":      json.RawMessage("42"),
		"Empty":       nil,
	} {
		t.Run(name, func(t *testing.T) {
			id, err := auth.VerifyIdentity(identitySecret, raw)
			if id != nil {
				t.Fatalf("identity returned: %+v", id)
			}
			mustUnauthorized(t, err)
		})
	}
	t.Run("NoSecret", func(t *testing.T) {
		_, err := auth.VerifyIdentity("", good)
		mustUnauthorized(t, err)
	})
}

func TestVerifyIdentity_HMAC(t *testing.T) {
	now := time.Now().Unix()
	t.Run("OK", func(t *testing.T) {
		id, err := auth.VerifyIdentity(identitySecret, mustJSON(t, identityHMAC(identitySecret, "42", "Ada Lovelace", "ada@example.com", now)))
		if err != nil {
			t.Fatal(err)
		}
		if *id != (auth.Identity{UID: "42", Name: "Ada Lovelace", Email: "ada@example.com"}) {
			t.Fatalf("identity = %+v", id)
		}
	})
	t.Run("OKStringTS", func(t *testing.T) {
		f := identityHMAC(identitySecret, "42", "", "", now-3600)
		f["ts"] = strconv.FormatInt(now-3600, 10)
		if _, err := auth.VerifyIdentity(identitySecret, mustJSON(t, f)); err != nil {
			t.Fatal(err)
		}
	})

	tamper := func(k string, v any) map[string]any {
		f := identityHMAC(identitySecret, "42", "Ada", "ada@example.com", now)
		f[k] = v
		return f
	}
	unsigned := identityHMAC(identitySecret, "42", "Ada", "ada@example.com", now)
	delete(unsigned, "signature")
	for name, f := range map[string]map[string]any{
		"WrongSecret":   identityHMAC("other", "42", "Ada", "ada@example.com", now),
		"TamperedUID":   tamper("uid", "43"),
		"TamperedEmail": tamper("email", "admin@example.com"),
		"TamperedName":  tamper("name", "Bob"),
		"TamperedTS":    tamper("ts", now-1),
		"Unsigned":      unsigned,
		"EmptySig":      tamper("signature", ""),
		"NotHexSig":     tamper("signature", "zz"),
		"StaleTS":       identityHMAC(identitySecret, "42", "Ada", "ada@example.com", now-25*3600),
		"FutureTS":      identityHMAC(identitySecret, "42", "Ada", "ada@example.com", now+3600),
		"NoUID":         identityHMAC(identitySecret, "", "Ada", "ada@example.com", now),
		"NoTS":          tamper("ts", nil),
		"BadTS":         tamper("ts", "yesterday"),
	} {
		t.Run(name, func(t *testing.T) {
			id, err := auth.VerifyIdentity(identitySecret, mustJSON(t, f))
			if id != nil {
				t.Fatalf("identity returned: %+v", id)
			}
			mustUnauthorized(t, err)
		})
	}
}

func FuzzVerifyIdentity(f *testing.F) {
	f.Add([]byte(`{"uid":"1","ts":1,"signature":"00"}`))
	f.Add([]byte(`"a.b.c"`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if id, err := auth.VerifyIdentity(identitySecret, raw); err == nil {
			t.Fatalf("accepted unsigned input %q as %+v", raw, id)
		}
	})
}
