package limit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/limit"
	"github.com/switchboard-chat/switchboard/limit/limittest"
)

// flaky is a limiter whose failure the test switches, standing in for a
// Redis outage (the real one is in redis/limiter_test.go).
type flaky struct {
	mu    sync.Mutex
	err   error
	calls int
	next  *limit.Memory
}

func (f *flaky) fail(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

func (f *flaky) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

func (f *flaky) Allow(ctx context.Context, key string, rl switchboard.RateLimit) (switchboard.Decision, error) {
	f.mu.Lock()
	err := f.err
	f.calls++
	f.mu.Unlock()
	if err != nil {
		return switchboard.Decision{}, err
	}
	return f.next.Allow(ctx, key, rl)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestFailover(t *testing.T) {
	ctx := context.Background()
	rl := switchboard.RateLimit{Requests: 1, Window: time.Minute}
	for _, policy := range []limit.FailPolicy{limit.FailOpen, limit.FailClosed} {
		t.Run(string(policy), func(t *testing.T) {
			var logs syncBuffer
			p := &flaky{next: limit.NewMemory(nil)}
			f := limit.WithFallback(p, policy, slog.New(slog.NewTextHandler(&logs, nil)))

			if d, err := f.Allow(ctx, "k", rl); err != nil || !d.Allowed {
				t.Fatalf("healthy: %+v %v", d, err)
			}
			if d, err := f.Allow(ctx, "k", rl); err != nil || d.Allowed {
				t.Fatalf("healthy, over limit: %+v %v", d, err)
			}
			if err := f.Healthy(); err != nil {
				t.Fatal(err)
			}

			p.fail(errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"))
			before := p.count()
			for range 10 {
				d, err := f.Allow(ctx, "k", rl)
				switch policy {
				case limit.FailOpen:
					if err != nil || !d.Allowed {
						t.Fatalf("fail open: %+v %v", d, err)
					}
				case limit.FailClosed:
					if d.Allowed || switchboard.ErrorCode(err) != switchboard.ERATELIMITED || switchboard.ErrorRetryAfter(err) <= 0 {
						t.Fatalf("fail closed: %+v %v", d, err)
					}
				}
			}
			// Only the first call asked the failing primary; the others
			// followed the policy at once (the next probe is ProbeEvery later).
			if n := p.count() - before; n != 1 {
				t.Fatalf("primary asked %d times while failing, want 1", n)
			}
			h := f.Healthy()
			if h == nil || !strings.Contains(h.Error(), "connection refused") || !strings.Contains(h.Error(), string(policy)) {
				t.Fatalf("Healthy = %v", h)
			}
			if n := strings.Count(logs.String(), "rate limiter unavailable"); n != 1 {
				t.Fatalf("logged the outage %d times:\n%s", n, logs.String())
			}

			// The caller's own cancellation says nothing about the primary.
			p.fail(context.Canceled)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := f.Allow(cctx, "k", rl); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled: %v", err)
			}

			// Recovery is noticed by the next probe, within ProbeEvery.
			p.fail(nil)
			limittest.CheckFor(t, 5*limit.ProbeEvery, 10*time.Millisecond, func() error {
				if _, err := f.Allow(ctx, "other", rl); err != nil {
					return err
				}
				return f.Healthy()
			})
			if n := strings.Count(logs.String(), "rate limiter recovered"); n != 1 {
				t.Fatalf("logged recovery %d times:\n%s", n, logs.String())
			}
		})
	}
}

func TestFailover_Peek(t *testing.T) {
	f := limit.WithFallback(limit.NewMemory(nil), limit.FailOpen, nil)
	if d, err := f.Peek(context.Background(), "k", switchboard.RateLimit{Requests: 1, Window: time.Second}); err != nil || !d.Allowed {
		t.Fatalf("%+v %v", d, err)
	}
	g := limit.WithFallback(&flaky{next: limit.NewMemory(nil)}, limit.FailOpen, nil)
	if _, err := g.Peek(context.Background(), "k", switchboard.RateLimit{Requests: 1, Window: time.Second}); err == nil {
		t.Fatal("peek on a limiter that cannot peek")
	}
}
