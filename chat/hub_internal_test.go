package chat

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// subscribe registers a live subscriber on h as Subscribe does.
func subscribe(h *hub) *Subscription {
	s := newSubscription(h, false, MaxPendingBytes)
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (s *Subscription) pendingBytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

func deliver(h *hub, f *sb.Frame) {
	h.mu.Lock()
	h.deliverLocked(encode(f))
	h.mu.Unlock()
}

// TestHubSlowConsumer: a subscriber that never reads is dropped with
// ReasonSlowConsumer once more than MaxPendingBytes wait for it; the
// publisher never blocks and a subscriber that reads gets every frame in
// order.
func TestHubSlowConsumer(t *testing.T) {
	big := strings.Repeat("x", 1024)
	frames := MaxPendingBytes/1024 + 200
	h := newHub("conv")
	slow, fast := subscribe(h), subscribe(h)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan []int64, 1)
	go func() {
		var seqs []int64
		for len(seqs) < frames {
			o, err := fast.Next(ctx)
			if err != nil {
				break
			}
			seqs = append(seqs, o.Seq)
		}
		got <- seqs
	}()

	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 1; i <= frames; i++ {
			// Messages do not merge: each one waits in the queue.
			deliver(h, &sb.Frame{Type: sb.FrameMessage, Seq: int64(i), Message: &sb.Message{Content: big}})
			if i%64 == 0 { // let the fast reader keep up, as a socket writer would
				for fast.pendingBytes() > MaxPendingBytes/2 && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
			}
		}
	}()
	select {
	case <-published:
	case <-ctx.Done():
		t.Fatal("the publisher blocked on a subscriber that does not read")
	}

	select {
	case <-slow.Done():
	default:
		t.Fatal("the slow subscriber was not dropped")
	}
	if slow.Reason() != ReasonSlowConsumer {
		t.Fatalf("reason %q, want %q", slow.Reason(), ReasonSlowConsumer)
	}
	if fast.Reason() != "" {
		t.Fatalf("the fast subscriber was dropped: %q", fast.Reason())
	}
	// What was queued before the drop is still delivered, in order, then ErrClosed.
	n := 0
	for {
		o, err := slow.Next(ctx)
		if errors.Is(err, ErrClosed) {
			break
		}
		n++
		if err != nil || o.Seq != int64(n) {
			t.Fatalf("queued frame %d: seq %d, %v", n, o.Seq, err)
		}
	}
	if n == 0 || n >= frames {
		t.Fatalf("the slow subscriber had %d frames queued of %d", n, frames)
	}
	if h.subscribers() != 1 {
		t.Fatalf("%d subscribers, want 1", h.subscribers())
	}

	seqs := <-got
	if len(seqs) != frames {
		t.Fatalf("fast subscriber got %d frames, want %d", len(seqs), frames)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("frame %d has seq %d: out of order", i, s)
		}
	}
	fast.Close()
	if h.subscribers() != 0 {
		t.Fatalf("%d subscribers after Close", h.subscribers())
	}
}

// TestHubMergesDeltas: while a subscriber is behind, consecutive deltas of
// one message wait as one delta (same offset, payloads joined, the last
// seq), so a long fast answer never overflows a reader that keeps up.
func TestHubMergesDeltas(t *testing.T) {
	h := newHub("conv")
	s := subscribe(h)
	var text strings.Builder
	const n = 20000 // far more frames than MaxPendingFrames
	for i := 1; i <= n; i++ {
		p := strconv.Itoa(i%10) + " "
		deliver(h, &sb.Frame{Type: sb.FrameDelta, Seq: int64(i), MessageID: "m1", Offset: text.Len(), Payload: p})
		text.WriteString(p)
	}
	deliver(h, &sb.Frame{Type: sb.FrameStatus, Seq: n + 1, Status: sb.StatusQueued})
	deliver(h, &sb.Frame{Type: sb.FrameDelta, Seq: n + 2, MessageID: "m2", Offset: 0, Payload: "next"})
	if s.Reason() != "" {
		t.Fatalf("dropped: %q", s.Reason())
	}

	var f struct {
		Type    string `json:"type"`
		Seq     int64  `json:"seq"`
		Offset  int    `json:"offset"`
		Payload string `json:"payload"`
		ID      string `json:"message_id"`
	}
	want := []struct {
		typ, id, payload string
		seq              int64
	}{{"delta", "m1", text.String(), n}, {"status", "", "", n + 1}, {"delta", "m2", "next", n + 2}}
	for i, w := range want {
		o, ok := s.Pop()
		if !ok {
			t.Fatalf("frame %d missing", i)
		}
		f.Payload, f.ID = "", ""
		if err := json.Unmarshal(o.JSON, &f); err != nil {
			t.Fatalf("frame %d: %v in %s", i, err, o.JSON)
		}
		if f.Type != w.typ || f.Seq != w.seq || f.Payload != w.payload || f.ID != w.id || f.Offset != 0 || o.Seq != w.seq {
			t.Fatalf("frame %d = %+v (%d bytes of payload), want %s seq %d", i, f.Type, len(f.Payload), w.typ, w.seq)
		}
	}
	if _, ok := s.Pop(); ok {
		t.Fatal("more frames than published")
	}
	if s.pendingBytes() != 0 {
		t.Fatalf("%d bytes still counted as pending", s.pendingBytes())
	}
}
