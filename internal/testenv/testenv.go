// Package testenv gives tests the real services scripts/test starts
// (Redis, PostgreSQL, Chromium) through environment variables.
//
// Run directly with `go test` on a machine without them, tests that need a
// service skip with a message saying how to run them; under scripts/test
// (SWITCHBOARD_TEST_REQUIRE=1) a missing service fails the test.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func required() bool { return os.Getenv("SWITCHBOARD_TEST_REQUIRE") == "1" }

func missing(tb testing.TB, what, env string) {
	tb.Helper()
	if required() {
		tb.Fatalf("%s is required but %s is not set (scripts/test sets it)", what, env)
	}
	tb.Skipf("%s not available: run ./scripts/test, or set %s", what, env)
}

// RedisURL returns the URL of the test Redis server (redis://127.0.0.1:port/0).
// Tests share one server: use unique key prefixes, or RedisDB for a private database.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("SWITCHBOARD_TEST_REDIS_URL")
	if u == "" {
		missing(tb, "Redis", "SWITCHBOARD_TEST_REDIS_URL")
	}
	return u
}

// RedisAddr returns host:port of the test Redis server.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	u, err := url.Parse(RedisURL(tb))
	if err != nil {
		tb.Fatalf("bad SWITCHBOARD_TEST_REDIS_URL: %v", err)
	}
	return u.Host
}

// PostgresURL returns a URL to a fresh, empty PostgreSQL database created
// for this test and dropped when it ends.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("SWITCHBOARD_TEST_DATABASE_URL")
	if admin == "" {
		missing(tb, "PostgreSQL", "SWITCHBOARD_TEST_DATABASE_URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "sbtest_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("bad SWITCHBOARD_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Chromium returns the path of the Chromium binary for browser tests.
func Chromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("SWITCHBOARD_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(tb, "Chromium", "SWITCHBOARD_TEST_CHROMIUM")
	return ""
}
