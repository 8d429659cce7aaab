package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/limit/limittest"
	"github.com/switchboard-chat/switchboard/redis"
)

// MustOpenRedis opens a Client on the test Redis with a key prefix of its
// own, whose keys are deleted when the test ends.
func MustOpenRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	return mustOpenPrefix(tb, testenv.RedisURL(tb), uniquePrefix())
}

func uniquePrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "sbtest:" + hex.EncodeToString(b) + ":"
}

func mustOpenPrefix(tb testing.TB, url, prefix string) *redis.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := redis.OpenWithOptions(ctx, url, redis.Options{Prefix: prefix})
	if err != nil {
		tb.Fatalf("open redis: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		deleteKeys(ctx, c.Redis(), prefix)
		c.Close()
	})
	return c
}

func deleteKeys(ctx context.Context, rdb *goredis.Client, prefix string) {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}

// redisServer is a redis-server process of the test's own, for tests that
// kill it.
type redisServer struct {
	tb   testing.TB
	path string
	port int
	cmd  *exec.Cmd
}

func (s *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// mustStartRedisServer starts redis-server (SWITCHBOARD_TEST_REDIS_SERVER,
// else from PATH) on a free port and stops it when the test ends. Without
// one it skips, or fails under scripts/test (SWITCHBOARD_TEST_REQUIRE=1).
func mustStartRedisServer(tb testing.TB) *redisServer {
	tb.Helper()
	path := os.Getenv("SWITCHBOARD_TEST_REDIS_SERVER")
	if path == "" {
		var err error
		if path, err = exec.LookPath("redis-server"); err != nil {
			if os.Getenv("SWITCHBOARD_TEST_REQUIRE") == "1" {
				tb.Fatal("redis-server is required but not found (scripts/test sets SWITCHBOARD_TEST_REDIS_SERVER)")
			}
			tb.Skip("redis-server not available: run ./scripts/test, or set SWITCHBOARD_TEST_REDIS_SERVER")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{tb: tb, path: path, port: port}
	s.start()
	tb.Cleanup(s.kill)
	return s
}

func (s *redisServer) start() {
	s.tb.Helper()
	s.cmd = exec.Command(s.path, "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.tb.TempDir())
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.port), MaxRetries: -1})
	defer rdb.Close()
	limittest.CheckFor(s.tb, 10*time.Second, 20*time.Millisecond, func() error {
		return rdb.Ping(context.Background()).Err()
	})
}

// kill stops the server at once (SIGKILL) and waits for it to exit.
func (s *redisServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func TestOpen(t *testing.T) {
	c := MustOpenRedis(t)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Run("Unreachable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		_, err := redis.Open(ctx, "redis://:hunter2@"+addr+"/0")
		if err == nil {
			t.Fatal("opened a closed port")
		}
	})
	t.Run("BadURL", func(t *testing.T) {
		_, err := redis.Open(context.Background(), "http://user:hunter2@x")
		if err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if s := err.Error(); strings.Contains(s, "hunter2") {
			t.Fatalf("password in error: %s", s)
		}
	})
}
