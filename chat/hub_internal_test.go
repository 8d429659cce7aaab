package chat

import (
	"context"
	"errors"
	"testing"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// subscribe registers a live subscriber on h as Subscribe does.
func subscribe(h *hub) *Subscription {
	s := &Subscription{c: make(chan Outbound, SubscriberQueue), done: make(chan struct{}), hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// TestHubSlowConsumer: a subscriber that never reads is dropped with
// ReasonSlowConsumer once its queue is full; the publisher never blocks
// and a subscriber that reads gets every frame in order.
func TestHubSlowConsumer(t *testing.T) {
	const frames = 3 * SubscriberQueue
	h := newHub("conv")
	slow, fast := subscribe(h), subscribe(h)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
			f := &sb.Frame{Type: sb.FrameDelta, Seq: int64(i), MessageID: "m", Offset: i - 1, Payload: "x"}
			h.mu.Lock()
			h.deliverLocked(encode(f))
			h.mu.Unlock()
			if i%64 == 0 { // let the fast reader keep up, as a socket writer would
				for len(fast.c) > SubscriberQueue/2 && ctx.Err() == nil {
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
	// What was queued before the drop is still delivered, then ErrClosed.
	for i := 1; i <= SubscriberQueue; i++ {
		o, err := slow.Next(ctx)
		if err != nil || o.Seq != int64(i) {
			t.Fatalf("queued frame %d: seq %d, %v", i, o.Seq, err)
		}
	}
	if _, err := slow.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("after the queue: %v, want ErrClosed", err)
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
