package http_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
)

type tokens struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refresh_token"`
}

// TestLoginRefreshLogout: a refresh token works once (rotation), logout
// revokes it, a wrong password is 401 and repeated failures are throttled.
func TestLoginRefreshLogout(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	hash, err := auth.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	u := &sb.User{Email: "Ana@Example.com", Name: "Ana", Role: sb.RoleAgent, PasswordHash: hash}
	if err := srv.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	login := func(pw string) *http.Response {
		return srv.Do(t, "POST", "/v1/auth/login", "", map[string]string{"email": "ana@example.com", "password": pw})
	}
	resp := login("correct horse battery")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	var first tokens
	sbtest.DecodeJSON(t, resp, &first)
	if r := srv.Do(t, "GET", "/v1/agent/me", first.Token, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("me: %s", r.Status)
	}

	resp = srv.Do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken})
	var second tokens
	sbtest.DecodeJSON(t, resp, &second)
	if resp.StatusCode != http.StatusOK || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh: %s %+v", resp.Status, second)
	}
	if r := srv.Do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("reusing a rotated refresh token: %s", r.Status)
	}
	if r := srv.Do(t, "POST", "/v1/auth/logout", "", map[string]string{"refresh_token": second.RefreshToken}); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %s", r.Status)
	}
	if r := srv.Do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %s", r.Status)
	}

	for i := 0; i < 5; i++ {
		if r := login("wrong"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %s", i, r.Status)
		}
	}
	r := login("correct horse battery")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %s (Retry-After %q)", r.Status, r.Header.Get("Retry-After"))
	}
}

// TestMetrics: /metrics serves the server's collectors, named switchboard_…
func TestMetrics(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	srv.Do(t, "GET", "/healthz", "", nil)
	resp := srv.Do(t, "GET", "/metrics", "", nil)
	b, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"switchboard_http_requests_total", "switchboard_ws_connections", "switchboard_generations_running", "switchboard_provider_breaker_state"} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
