package limit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/limit"
	"github.com/switchboard-chat/switchboard/limit/limittest"
)

var (
	_ auth.Counter = (*limit.Memory)(nil)
	_ auth.Counter = (*limit.Failover)(nil)
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestMemory_Contract(t *testing.T) {
	limittest.RunLimiter(t, func(testing.TB) switchboard.Limiter { return limit.NewMemory(nil) })
}

func TestMemory_Slides(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m := limit.NewMemory(clk.Now)
	rl := switchboard.RateLimit{Requests: 3, Window: 10 * time.Second}
	allow := func() switchboard.Decision {
		t.Helper()
		d, err := m.Allow(ctx, "k", rl)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	// Requests at 0s, 2s, 4s.
	for i := range 3 {
		if d := allow(); !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v", i, d)
		}
		clk.Advance(2 * time.Second)
	}
	// At 6s: full; the 0s request leaves at 10s, the last at 14s.
	d := allow()
	if d.Allowed || d.RetryAfter != 4*time.Second || d.Reset != 8*time.Second || d.Remaining != 0 {
		t.Fatalf("at 6s: %+v", d)
	}
	clk.Advance(4*time.Second - time.Nanosecond)
	if d := allow(); d.Allowed {
		t.Fatalf("just before 10s: %+v", d)
	}
	clk.Advance(time.Nanosecond)
	if d := allow(); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("at 10s: %+v", d) // the 0s request left; this one took its slot
	}
	if d := allow(); d.Allowed || d.RetryAfter != 2*time.Second {
		t.Fatalf("at 10s again: %+v", d) // next frees when the 2s request leaves at 12s
	}
	clk.Advance(time.Hour)
	if d := allow(); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("an hour later: %+v", d)
	}
}

func TestMemory_LimitChanges(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m := limit.NewMemory(clk.Now)
	big := switchboard.RateLimit{Requests: 100, Window: time.Minute}
	for range 100 {
		if d, _ := m.Allow(ctx, "k", big); !d.Allowed {
			t.Fatal("denied under the limit")
		}
		clk.Advance(time.Millisecond)
	}
	// Lowered to 10: the oldest 91 must leave before a slot frees.
	small := switchboard.RateLimit{Requests: 10, Window: time.Minute}
	d, _ := m.Allow(ctx, "k", small)
	if d.Allowed || d.RetryAfter != time.Minute-100*time.Millisecond+90*time.Millisecond {
		t.Fatalf("lowered limit: %+v", d)
	}
}

func TestMemory_NoLimit(t *testing.T) {
	m := limit.NewMemory(nil)
	for range 1000 {
		if d, err := m.Allow(context.Background(), "k", switchboard.RateLimit{}); err != nil || !d.Allowed {
			t.Fatalf("%+v %v", d, err)
		}
	}
	if m.Len() != 0 {
		t.Fatalf("kept %d keys for no limit", m.Len())
	}
}

func TestMemory_GC(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m := limit.NewMemory(clk.Now)
	rl := switchboard.RateLimit{Requests: 5, Window: 10 * time.Second}
	for i := range 1000 {
		m.Allow(ctx, "k"+string(rune('a'+i%26))+string(rune(i)), rl)
	}
	if m.Len() != 1000 {
		t.Fatalf("Len = %d", m.Len())
	}
	clk.Advance(2 * time.Minute)
	// Each access sweeps its shard; touch every shard via many keys.
	for i := range 1000 {
		m.Peek(ctx, "other"+string(rune(i)), rl)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("Len after sweep = %d, want 0", n)
	}
}

func BenchmarkMemoryLimiter(b *testing.B) {
	m := limit.NewMemory(nil)
	rl := switchboard.RateLimit{Requests: 30, Window: time.Minute}
	ctx := context.Background()
	b.Run("OneKey", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Allow(ctx, "hot", rl)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	})
	b.Run("ManyKeys", func(b *testing.B) {
		keys := make([]string, 10000)
		for i := range keys {
			keys[i] = limittest.UniqueKey("k")
		}
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				m.Allow(ctx, keys[i%len(keys)], rl)
				i += 7
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	})
}
