// Package limittest is the contract suite of switchboard.Limiter and
// switchboard.Budgets, run against every implementation (memory, Redis).
// It uses real time with short windows and polls for conditions; it never
// asserts on timings beyond the bounds the contract promises.
package limittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// Peeker is implemented by limiters that can be read without recording.
type Peeker interface {
	Peek(ctx context.Context, key string, limit switchboard.RateLimit) (switchboard.Decision, error)
}

// UniqueKey returns a key no other test uses.
func UniqueKey(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// CheckFor calls fn every `every` until it returns nil or wait has passed,
// then fails with fn's last error.
func CheckFor(tb testing.TB, wait, every time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met after %v: %v", wait, err)
		}
		time.Sleep(every)
	}
}

// ConcurrentAllow calls l.Allow n times concurrently for key and returns how
// many were allowed. Any error fails tb.
func ConcurrentAllow(tb testing.TB, l switchboard.Limiter, key string, limit switchboard.RateLimit, n int) int {
	tb.Helper()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			d, err := l.Allow(context.Background(), key, limit)
			if err != nil {
				tb.Error(err)
				return
			}
			if d.Allowed {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}

// RunLimiter runs the Limiter contract against the limiter newLimiter returns.
func RunLimiter(t *testing.T, newLimiter func(tb testing.TB) switchboard.Limiter) {
	ctx := context.Background()

	t.Run("ExactUnderConcurrency", func(t *testing.T) {
		l := newLimiter(t)
		limit := switchboard.RateLimit{Requests: 30, Window: time.Minute}
		key := UniqueKey("exact:")
		if got := ConcurrentAllow(t, l, key, limit, 100); got != 30 {
			t.Fatalf("allowed %d of 100, want exactly 30", got)
		}
		d, err := l.Allow(ctx, key, limit)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed || d.Limit != 30 || d.Remaining != 0 {
			t.Fatalf("31st decision = %+v", d)
		}
		if d.RetryAfter <= 0 || d.RetryAfter > time.Minute || d.Reset < d.RetryAfter || d.Reset > time.Minute {
			t.Fatalf("31st decision times = %+v", d)
		}
	})

	t.Run("Remaining", func(t *testing.T) {
		l := newLimiter(t)
		limit := switchboard.RateLimit{Requests: 3, Window: time.Minute}
		key := UniqueKey("remaining:")
		for i, want := range []int{2, 1, 0} {
			d, err := l.Allow(ctx, key, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed || d.Remaining != want || d.Limit != 3 || d.RetryAfter != 0 || d.Reset <= 0 || d.Reset > time.Minute {
				t.Fatalf("request %d: %+v", i+1, d)
			}
		}
	})

	t.Run("KeysIndependent", func(t *testing.T) {
		l := newLimiter(t)
		limit := switchboard.RateLimit{Requests: 1, Window: time.Minute}
		a, b := UniqueKey("a:"), UniqueKey("b:")
		for _, k := range []string{a, b} {
			if d, err := l.Allow(ctx, k, limit); err != nil || !d.Allowed {
				t.Fatalf("%s: %+v %v", k, d, err)
			}
		}
		if d, _ := l.Allow(ctx, a, limit); d.Allowed {
			t.Fatal("second request on a allowed")
		}
	})

	t.Run("WindowSlides", func(t *testing.T) {
		l := newLimiter(t)
		limit := switchboard.RateLimit{Requests: 3, Window: 300 * time.Millisecond}
		key := UniqueKey("slide:")
		if got := ConcurrentAllow(t, l, key, limit, 10); got != 3 {
			t.Fatalf("allowed %d, want 3", got)
		}
		d, err := l.Allow(ctx, key, limit)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > limit.Window {
			t.Fatalf("denied decision = %+v", d)
		}
		// Denied requests are not recorded, so the window frees up once the
		// first three leave it: no more than one window from now.
		CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			d, err := l.Allow(ctx, key, limit)
			if err == nil && !d.Allowed {
				return errStillDenied
			}
			return err
		})
	})

	t.Run("Peek", func(t *testing.T) {
		l := newLimiter(t)
		p, ok := l.(Peeker)
		if !ok {
			t.Skipf("%T cannot peek", l)
		}
		limit := switchboard.RateLimit{Requests: 2, Window: time.Minute}
		key := UniqueKey("peek:")
		for range 5 {
			if d, err := p.Peek(ctx, key, limit); err != nil || !d.Allowed || d.Remaining != 2 {
				t.Fatalf("peek on empty key: %+v %v", d, err)
			}
		}
		l.Allow(ctx, key, limit)
		l.Allow(ctx, key, limit)
		d, err := p.Peek(ctx, key, limit)
		if err != nil || d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 {
			t.Fatalf("peek on full key: %+v %v", d, err)
		}
	})
}

var errStillDenied = errors.New("still denied")

// RunBudgets runs the Budgets contract against the budgets newBudgets returns.
func RunBudgets(t *testing.T, newBudgets func(tb testing.TB) switchboard.Budgets) {
	ctx := context.Background()

	t.Run("Tokens", func(t *testing.T) {
		b := newBudgets(t)
		s := UniqueKey("tokens:")
		limits := switchboard.BudgetLimits{TokensPerMinute: 1000}
		if err := b.Check(ctx, s, limits); err != nil {
			t.Fatalf("fresh subject: %v", err)
		}
		must(t, b.Add(ctx, s, 600, 0))
		if err := b.Check(ctx, s, limits); err != nil {
			t.Fatalf("600 of 1000: %v", err)
		}
		must(t, b.Add(ctx, s, 400, 0))
		err := b.Check(ctx, s, limits)
		if switchboard.ErrorCode(err) != switchboard.EBUDGET {
			t.Fatalf("1000 of 1000: %v, want %s", err, switchboard.EBUDGET)
		}
		if ra := switchboard.ErrorRetryAfter(err); ra <= 0 || ra > time.Minute {
			t.Fatalf("RetryAfter = %v", ra)
		}
		sp, err := b.Spent(ctx, s)
		if err != nil || sp.TokensThisMinute != 1000 || sp.CostToday != 0 {
			t.Fatalf("Spent = %+v, %v", sp, err)
		}
		if err := b.Check(ctx, s, switchboard.BudgetLimits{TokensPerMinute: 1001}); err != nil {
			t.Fatalf("1000 of 1001: %v", err)
		}
		if err := b.Check(ctx, s, switchboard.BudgetLimits{}); err != nil {
			t.Fatalf("no limits: %v", err)
		}
	})

	t.Run("Cost", func(t *testing.T) {
		b := newBudgets(t)
		s := UniqueKey("cost:")
		limits := switchboard.BudgetLimits{CostPerDay: 1.5}
		must(t, b.Add(ctx, s, 10, 0.75))
		must(t, b.Add(ctx, s, 10, 0.5))
		if err := b.Check(ctx, s, limits); err != nil {
			t.Fatalf("1.25 of 1.5: %v", err)
		}
		must(t, b.Add(ctx, s, 0, 0.25))
		err := b.Check(ctx, s, limits)
		if switchboard.ErrorCode(err) != switchboard.EBUDGET {
			t.Fatalf("1.5 of 1.5: %v, want %s", err, switchboard.EBUDGET)
		}
		if ra := switchboard.ErrorRetryAfter(err); ra <= 0 || ra > 24*time.Hour {
			t.Fatalf("RetryAfter = %v", ra)
		}
		sp, err := b.Spent(ctx, s)
		if err != nil || sp.TokensThisMinute != 20 || sp.CostToday < 1.4999 || sp.CostToday > 1.5001 {
			t.Fatalf("Spent = %+v, %v", sp, err)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		b := newBudgets(t)
		sp, err := b.Spent(ctx, UniqueKey("unknown:"))
		if err != nil || sp != (switchboard.Spend{}) {
			t.Fatalf("Spent = %+v, %v", sp, err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		b := newBudgets(t)
		s := UniqueKey("concurrent:")
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if err := b.Add(ctx, s, 10, 0.01); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		sp, err := b.Spent(ctx, s)
		if err != nil || sp.TokensThisMinute != 500 || sp.CostToday < 0.4999 || sp.CostToday > 0.5001 {
			t.Fatalf("Spent = %+v, %v", sp, err)
		}
	})
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
