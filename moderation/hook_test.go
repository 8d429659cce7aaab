package moderation_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	switchboard "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/moderation"
)

// checkFor calls fn every interval until it returns nil or wait passes.
func checkFor(tb testing.TB, wait, every time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal(err)
		}
		time.Sleep(every)
	}
}

func counter(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}

type errorf string

func (e errorf) Error() string { return string(e) }

func MustOpenHook(tb testing.TB, opts moderation.HookOptions) *moderation.Hook {
	tb.Helper()
	h := moderation.NewHook(opts)
	if err := h.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

func event() moderation.HookEvent {
	return moderation.HookEvent{
		ConversationID: "c1", MessageID: "m1", InboxID: "i1",
		Direction: moderation.DirectionInput, Action: switchboard.ActionReview, Text: "hmm 法轮功",
		Hits: []switchboard.ModerationHit{{Word: "法轮功", Action: switchboard.ActionReview, Start: 4, End: 13}},
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestHook(t *testing.T) {
	t.Run("SignatureVerifies", func(t *testing.T) {
		got := make(chan moderation.HookEvent, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if !moderation.Verify("s3cret", body, r.Header.Get(moderation.HeaderSignature)) {
				t.Errorf("bad signature %q", r.Header.Get(moderation.HeaderSignature))
			}
			if moderation.Verify("other", body, r.Header.Get(moderation.HeaderSignature)) {
				t.Error("signature verifies with another secret")
			}
			ts, err := strconv.ParseInt(r.Header.Get(moderation.HeaderTimestamp), 10, 64)
			if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
				t.Errorf("timestamp %q", r.Header.Get(moderation.HeaderTimestamp))
			}
			var ev moderation.HookEvent
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Error(err)
			}
			got <- ev
		}))
		defer srv.Close()
		reg := prometheus.NewRegistry()
		h := MustOpenHook(t, moderation.HookOptions{URL: srv.URL, Secret: "s3cret", Registerer: reg})
		if !h.Enqueue(event()) {
			t.Fatal("enqueue failed")
		}
		select {
		case ev := <-got:
			want := event()
			if ev.ConversationID != want.ConversationID || ev.Text != want.Text || !ev.Time.Equal(want.Time) ||
				len(ev.Hits) != 1 || ev.Hits[0] != want.Hits[0] || ev.Direction != want.Direction {
				t.Fatalf("got %+v", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery")
		}
		checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			if n := counter(t, reg, "switchboard_moderation_hook_sent_total"); n != 1 {
				return errorf("sent = " + strconv.FormatFloat(n, 'f', -1, 64))
			}
			return nil
		})
	})

	t.Run("RetryAfter500", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}))
		defer srv.Close()
		reg := prometheus.NewRegistry()
		h := MustOpenHook(t, moderation.HookOptions{URL: srv.URL, Secret: "x", Registerer: reg, Backoff: time.Millisecond})
		h.Enqueue(event())
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			if counter(t, reg, "switchboard_moderation_hook_sent_total") != 1 {
				return errorf("not delivered")
			}
			return nil
		})
		if n := calls.Load(); n != 2 {
			t.Fatalf("%d calls, want 2", n)
		}
	})

	t.Run("GivesUpAfterMaxRetries", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		}))
		defer srv.Close()
		reg := prometheus.NewRegistry()
		h := MustOpenHook(t, moderation.HookOptions{URL: srv.URL, Registerer: reg, MaxRetries: 2, Backoff: time.Millisecond})
		h.Enqueue(event())
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			if counter(t, reg, "switchboard_moderation_hook_failed_total") != 1 {
				return errorf("not given up")
			}
			return nil
		})
		if n := calls.Load(); n != 3 {
			t.Fatalf("%d calls, want 3 (1 + 2 retries)", n)
		}
	})

	t.Run("NoRetryOn4xx", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusBadRequest)
		}))
		defer srv.Close()
		reg := prometheus.NewRegistry()
		h := MustOpenHook(t, moderation.HookOptions{URL: srv.URL, Registerer: reg, Backoff: time.Millisecond})
		h.Enqueue(event())
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			if counter(t, reg, "switchboard_moderation_hook_failed_total") != 1 {
				return errorf("not failed")
			}
			return nil
		})
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d calls, want 1", n)
		}
	})

	t.Run("QueueFullDropsAreCounted", func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		var once sync.Once
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case started <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer once.Do(func() { close(release) })
		reg := prometheus.NewRegistry()
		h := MustOpenHook(t, moderation.HookOptions{URL: srv.URL, Registerer: reg, QueueSize: 2})
		// The worker takes one event and blocks on the server; two more
		// fill the queue; the rest are dropped.
		h.Enqueue(event())
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("worker did not post")
		}
		for i := range 2 {
			if !h.Enqueue(event()) {
				t.Fatalf("enqueue %d failed", i)
			}
		}
		for range 6 {
			if h.Enqueue(event()) {
				t.Fatal("enqueued into a full queue")
			}
		}
		if n := counter(t, reg, "switchboard_moderation_hook_dropped_total"); n != 6 {
			t.Fatalf("dropped = %v, want 6", n)
		}
		once.Do(func() { close(release) })
	})

	t.Run("CloseStopsWorker", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers
		}))
		defer srv.Close()
		h := moderation.NewHook(moderation.HookOptions{URL: srv.URL})
		if err := h.Open(); err != nil {
			t.Fatal(err)
		}
		h.Enqueue(event())
		done := make(chan struct{})
		go func() { h.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close blocked")
		}
		if h.Enqueue(event()) {
			t.Fatal("enqueued after Close")
		}
	})
}
