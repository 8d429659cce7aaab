package redis_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/limit"
	"github.com/switchboard-chat/switchboard/limit/limittest"
	"github.com/switchboard-chat/switchboard/redis"
)

var _ auth.Counter = (*redis.Limiter)(nil)

func TestLimiter_Contract(t *testing.T) {
	limittest.RunLimiter(t, func(tb testing.TB) switchboard.Limiter { return MustOpenRedis(tb).Limiter() })
}

// Two Clients are two Switchboard instances sharing one Redis.
func TestLimiter_TwoInstances(t *testing.T) {
	url, prefix := testenv.RedisURL(t), uniquePrefix()
	a := mustOpenPrefix(t, url, prefix).Limiter()
	b := mustOpenPrefix(t, url, prefix).Limiter()
	rl := switchboard.RateLimit{Requests: 30, Window: time.Minute}
	key := limittest.UniqueKey("visitor:")

	var wg sync.WaitGroup
	var na, nb int
	wg.Go(func() { na = limittest.ConcurrentAllow(t, a, key, rl, 50) })
	wg.Go(func() { nb = limittest.ConcurrentAllow(t, b, key, rl, 50) })
	wg.Wait()
	if na+nb != 30 {
		t.Fatalf("allowed %d + %d = %d of 100, want exactly 30", na, nb, na+nb)
	}
	t.Logf("instance A allowed %d, B %d", na, nb)
}

func TestLimiter_Keys(t *testing.T) {
	ctx := context.Background()
	c := MustOpenRedis(t)
	rl := switchboard.RateLimit{Requests: 5, Window: 2 * time.Second}
	if _, err := c.Limiter().Allow(ctx, "user:42", rl); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Redis().Keys(ctx, "*user:42*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.HasSuffix(keys[0], "rl:{user:42}") {
		t.Fatalf("keys = %v", keys)
	}
	ttl, err := c.Redis().PTTL(ctx, keys[0]).Result()
	if err != nil || ttl <= 0 || ttl > rl.Window+time.Millisecond {
		t.Fatalf("PTTL = %v, %v", ttl, err)
	}
	// Members are unique even within one microsecond.
	for range 4 {
		c.Limiter().Allow(ctx, "user:42", rl)
	}
	if n, _ := c.Redis().ZCard(ctx, keys[0]).Result(); n != 5 {
		t.Fatalf("ZCARD = %d, want 5", n)
	}
}

// Redis killed mid-test: the Limiter errors; WithFallback applies its
// policy, says why in Healthy, and recovers when Redis is back.
func TestLimiter_RedisKilled(t *testing.T) {
	ctx := context.Background()
	srv := mustStartRedisServer(t)
	c := mustOpenPrefix(t, srv.URL(), "sbtest:")
	rl := switchboard.RateLimit{Requests: 2, Window: time.Minute}
	open := limit.WithFallback(c.Limiter(), limit.FailOpen, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	closed := limit.WithFallback(c.Limiter(), limit.FailClosed, slog.New(slog.NewTextHandler(testWriter{t}, nil)))

	for _, f := range []*limit.Failover{open, closed} {
		if d, err := f.Allow(ctx, "k", rl); err != nil || !d.Allowed {
			t.Fatalf("before the kill: %+v %v", d, err)
		}
	}

	srv.kill()

	if _, err := c.Limiter().Allow(ctx, "k", rl); err == nil {
		t.Fatal("Limiter.Allow succeeded with Redis dead")
	}
	for range 5 {
		if d, err := open.Allow(ctx, "k", rl); err != nil || !d.Allowed {
			t.Fatalf("fail open: %+v %v", d, err)
		}
		d, err := closed.Allow(ctx, "k", rl)
		if d.Allowed || switchboard.ErrorCode(err) != switchboard.ERATELIMITED || switchboard.ErrorRetryAfter(err) <= 0 {
			t.Fatalf("fail closed: %+v %v", d, err)
		}
	}
	for _, f := range []*limit.Failover{open, closed} {
		h := f.Healthy()
		if h == nil || !strings.Contains(h.Error(), "connection refused") {
			t.Fatalf("Healthy = %v, want the cause", h)
		}
		t.Logf("Healthy: %v", h)
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded with Redis dead")
	}

	srv.start() // same port, empty data
	limittest.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := closed.Allow(ctx, "k2", rl)
		return err
	})
	if err := closed.Healthy(); err != nil {
		t.Fatalf("recovered but Healthy = %v", err)
	}
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func BenchmarkRedisLimiter(b *testing.B) {
	c := MustOpenRedis(b)
	l := c.Limiter()
	ctx := context.Background()
	rl := switchboard.RateLimit{Requests: 30, Window: time.Minute}
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = limittest.UniqueKey("bench:")
	}
	for _, bc := range []struct {
		name        string
		parallelism int
	}{{"Serial", 0}, {"Parallel4", 4}, {"Parallel16", 16}} {
		b.Run(bc.name, func(b *testing.B) {
			var mu sync.Mutex
			var lat []time.Duration
			run := func(pb interface{ Next() bool }, start int) {
				mine := make([]time.Duration, 0, 1024)
				i := start
				for pb.Next() {
					t0 := time.Now()
					if _, err := l.Allow(ctx, keys[i%len(keys)], rl); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
					i += 7
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}
			if bc.parallelism == 0 {
				run(&loopNext{b: b}, 0)
			} else {
				b.SetParallelism(bc.parallelism)
				var seq sync.Mutex
				n := 0
				b.RunParallel(func(pb *testing.PB) {
					seq.Lock()
					n++
					start := n * 997
					seq.Unlock()
					run(pb, start)
				})
			}
			b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "decisions/s")
			if len(lat) > 0 {
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// loopNext adapts b.Loop to the pb.Next shape.
type loopNext struct{ b *testing.B }

func (l *loopNext) Next() bool { return l.b.Loop() }
