package limit

import (
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
)

var _ switchboard.Limiter = (*Memory)(nil)

// Memory is an in-process sliding-window log limiter: each key keeps the
// times of the requests it allowed within the window (a ring buffer of at
// most limit entries), so decisions are exact, under any concurrency.
//
// Keys that have been idle for longer than their window are dropped lazily
// (a shard sweeps itself on access, at most once a minute); Memory owns no
// goroutine and needs no Close.
//
// A zero RateLimit (Requests or Window <= 0) means no limit.
type Memory struct {
	now   func() time.Time
	epoch time.Time
	keys  *shardedMap[*window]
}

// NewMemory returns a Memory limiter reading time from now (time.Now when
// nil; tests inject a clock).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	epoch := now()
	return &Memory{
		now:   now,
		epoch: epoch,
		keys: newShardedMap(epoch, func(w *window, t time.Time) bool {
			return w.idle(t.Sub(epoch))
		}),
	}
}

// Allow records one request for key when fewer than limit.Requests were
// allowed within the last limit.Window. It never returns an error.
func (m *Memory) Allow(_ context.Context, key string, limit switchboard.RateLimit) (switchboard.Decision, error) {
	return m.decide(key, limit, true), nil
}

// Peek returns the decision Allow would make now, recording nothing.
func (m *Memory) Peek(_ context.Context, key string, limit switchboard.RateLimit) (switchboard.Decision, error) {
	return m.decide(key, limit, false), nil
}

// Len returns the number of keys held (expired ones included until swept).
func (m *Memory) Len() int { return m.keys.len() }

func (m *Memory) decide(key string, limit switchboard.RateLimit, record bool) switchboard.Decision {
	if limit.Requests <= 0 || limit.Window <= 0 {
		return switchboard.Decision{Allowed: true}
	}
	wall := m.now()
	now := wall.Sub(m.epoch) // monotonic when the clock has a monotonic reading
	s := m.keys.lock(key, wall)
	defer s.mu.Unlock()

	w := s.m[key]
	if w == nil {
		if !record {
			return switchboard.Decision{Allowed: true, Limit: limit.Requests, Remaining: limit.Requests}
		}
		w = &window{ts: make([]time.Duration, min(limit.Requests, 64))}
		s.m[key] = w
	}
	w.span = limit.Window
	w.prune(now - limit.Window)

	d := switchboard.Decision{Limit: limit.Requests}
	if w.n < limit.Requests {
		d.Allowed = true
		if record {
			w.push(now)
		}
	} else {
		// A slot frees when the (n-limit+1)th oldest entry leaves the window.
		d.RetryAfter = w.at(w.n-limit.Requests) + limit.Window - now
	}
	d.Remaining = max(0, limit.Requests-w.n)
	if w.n > 0 {
		d.Reset = w.at(w.n-1) + limit.Window - now
	}
	return d
}

// window is a ring buffer of request times, oldest first.
type window struct {
	ts   []time.Duration
	head int
	n    int
	span time.Duration // the window it was last used with
}

func (w *window) at(i int) time.Duration { return w.ts[(w.head+i)%len(w.ts)] }

// prune drops entries at or before cutoff: the window is (now-W, now].
func (w *window) prune(cutoff time.Duration) {
	for w.n > 0 && w.ts[w.head] <= cutoff {
		w.head = (w.head + 1) % len(w.ts)
		w.n--
	}
}

func (w *window) push(t time.Duration) {
	if w.n == len(w.ts) {
		grown := make([]time.Duration, max(2*len(w.ts), 1))
		for i := 0; i < w.n; i++ {
			grown[i] = w.at(i)
		}
		w.ts, w.head = grown, 0
	}
	w.ts[(w.head+w.n)%len(w.ts)] = t
	w.n++
}

// idle reports whether every entry has left the window.
func (w *window) idle(now time.Duration) bool {
	return w.n == 0 || w.at(w.n-1) <= now-w.span
}
