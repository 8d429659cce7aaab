package chat

import (
	"context"
	"sync"

	sb "github.com/switchboard-chat/switchboard"
)

// Bounds of the per-conversation buffers.
const (
	// MaxPendingBytes is how much a subscriber may have waiting to be sent
	// before it is closed as a slow consumer (default of
	// Options.MaxPendingBytes). Queues grow only as needed, so an idle
	// subscriber costs no buffer at all.
	MaxPendingBytes = 1 << 20
	// MaxPendingFrames bounds the frames waiting (deltas of one message
	// merge into one frame while the reader is behind).
	MaxPendingFrames = 4096
	// RingSize is how many recent durable frames a hub keeps for resume.
	RingSize = 256
)

// ReasonSlowConsumer is the close reason of a subscriber that fell behind.
const ReasonSlowConsumer = "slow consumer"

// Outbound is a frame ready to send: encoded once, shared by all
// subscribers. Deltas keep their parts so that consecutive deltas of one
// message can be merged for a subscriber that is behind.
type Outbound struct {
	Seq     int64
	Type    string
	JSON    []byte // nil for a merged delta until it is encoded
	private bool   // agents only (private notes)

	msgID   string // deltas
	offset  int
	payload string
	size    int // bytes charged to a subscriber's queue
}

func encode(f *sb.Frame) Outbound {
	o := Outbound{Seq: f.Seq, Type: f.Type, JSON: f.AppendJSON(make([]byte, 0, 64+len(f.Payload)))}
	if f.Type == sb.FrameDelta {
		o.msgID, o.offset, o.payload = f.MessageID, f.Offset, f.Payload
	}
	return o
}

// merge appends a delta that continues o (same message, next offset).
func (o *Outbound) merge(next Outbound) bool {
	if o.Type != sb.FrameDelta || next.Type != sb.FrameDelta || o.msgID != next.msgID || o.offset+len(o.payload) != next.offset {
		return false
	}
	o.payload += next.payload
	o.Seq = next.Seq
	o.JSON = nil
	return true
}

// Subscription delivers a conversation's frames: first the replay of what
// the subscriber missed, then live frames, each exactly once. The
// publisher never blocks on it: frames wait in a queue that grows as
// needed, bounded by MaxPendingBytes.
type Subscription struct {
	replay  []Outbound
	skipTo  int64           // live durable frames with seq <= skipTo were in the replay
	skipMsg map[string]bool // deltas of these messages were replayed whole
	visitor bool            // never receives private frames

	mu      sync.Mutex
	q       []Outbound
	head    int
	pending int           // bytes waiting
	limit   int           // of pending bytes
	ready   chan struct{} // signalled when frames are waiting
	done    chan struct{}
	reason  string

	hub     *hub
	once    sync.Once
	release func()
}

func newSubscription(h *hub, visitor bool, limit int) *Subscription {
	return &Subscription{hub: h, visitor: visitor, limit: limit, ready: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues a live frame; false when the subscriber is too far behind.
func (s *Subscription) push(o Outbound) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last := len(s.q) - 1; last >= s.head && s.q[last].merge(o) {
		s.q[last].size += len(o.payload)
		s.pending += len(o.payload)
	} else {
		o.size = len(o.JSON) + len(o.payload)
		if s.pending+o.size > s.limit || len(s.q)-s.head >= MaxPendingFrames {
			return false
		}
		s.q = append(s.q, o)
		s.pending += o.size
	}
	if s.pending > s.limit {
		return false
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return true
}

// Ready is signalled when frames may be waiting: call Pop until it
// reports none.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Pop returns the next frame to send (replay first), if one is waiting.
func (s *Subscription) Pop() (Outbound, bool) {
	if len(s.replay) > 0 {
		o := s.replay[0]
		s.replay = s.replay[1:]
		return o, true
	}
	for {
		s.mu.Lock()
		if s.head == len(s.q) {
			if cap(s.q) > 64 {
				s.q = nil // give a burst's memory back
			} else {
				s.q = s.q[:0]
			}
			s.head = 0
			s.mu.Unlock()
			return Outbound{}, false
		}
		o := s.q[s.head]
		s.q[s.head] = Outbound{}
		s.head++
		s.pending -= o.size
		s.mu.Unlock()
		if s.skip(o) {
			continue
		}
		if o.JSON == nil { // a merged delta
			o.JSON = (&sb.Frame{Type: sb.FrameDelta, Seq: o.Seq, MessageID: o.msgID, Offset: o.offset, Payload: o.payload}).AppendJSON(make([]byte, 0, 96+len(o.payload)))
		}
		return o, true
	}
}

// Next returns the next frame, blocking until one is available, the
// subscription is closed (ErrClosed with Reason, after what was queued)
// or ctx is done.
func (s *Subscription) Next(ctx context.Context) (Outbound, error) {
	for {
		if o, ok := s.Pop(); ok {
			return o, nil
		}
		select {
		case <-s.ready:
		case <-s.done:
			if o, ok := s.Pop(); ok {
				return o, nil
			}
			return Outbound{}, errClosed
		case <-ctx.Done():
			return Outbound{}, ctx.Err()
		}
	}
}

// skip reports whether a live frame was already part of the replay.
func (s *Subscription) skip(o Outbound) bool {
	if o.Type == sb.FrameDelta {
		return s.skipMsg != nil && s.skipMsg[o.msgID]
	}
	return o.Seq != 0 && o.Seq <= s.skipTo
}

// Done is closed when the hub dropped the subscription.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Reason the hub dropped the subscription ("" while open).
func (s *Subscription) Reason() string {
	select {
	case <-s.done:
		return s.reason
	default:
		return ""
	}
}

// Close unsubscribes. Safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() {
		if s.hub != nil {
			s.hub.remove(s)
		}
		if s.release != nil {
			s.release()
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }

const errClosed = errString("subscription closed")

// ErrClosed is returned by Next when the hub dropped the subscription.
var ErrClosed error = errClosed

// ringEntry is a durable frame kept for resume. For done and error frames
// msg holds the message's final state so a replay can send its text.
type ringEntry struct {
	out       Outbound
	msg       *sb.Message
	lastDelta int64
}

// live is the in-progress bot message of a conversation.
type live struct {
	msgID     string
	startSeq  int64
	content   []byte
	lastDelta int64
	missing   int // bytes before content not rebuilt yet (trimmed shared log)
}

// hub fans out one conversation's frames. mu serialises "allocate seq,
// persist, publish" so frames are published in seq order.
type hub struct {
	id string

	seqMu sync.Mutex // held across persist+publish of durable events

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	ring   []ringEntry
	base   int64  // every durable frame with seq > base is in ring
	valid  bool   // base is known
	live   *live  // in-progress bot message generated here
	remote *live  // in-progress bot message generated by another instance
	human  bool   // owner is not the bot: no deltas may be published
	follow func() // stops following the shared log (scale-out)

	// delta seq block reserved in the store
	blockNext, blockEnd int64
}

func newHub(id string) *hub { return &hub{id: id, subs: make(map[*Subscription]struct{})} }

// publish delivers a frame to every subscriber and records durable frames.
// The caller holds seqMu for durable frames. It never blocks: a subscriber
// whose queue is full is dropped as a slow consumer.
func (h *hub) publish(o Outbound, msg *sb.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch o.Type {
	case sb.FrameDelta:
		// live state is updated by the job through appendLive
	case sb.FrameTyping, sb.FramePong:
	default:
		if o.Seq != 0 {
			e := ringEntry{out: o, msg: msg}
			if h.live != nil && msg != nil && h.live.msgID == msg.ID {
				e.lastDelta = h.live.lastDelta
			}
			if len(h.ring) == RingSize {
				h.base = h.ring[0].out.Seq
				copy(h.ring, h.ring[1:])
				h.ring = h.ring[:RingSize-1]
			}
			h.ring = append(h.ring, e)
		}
	}
	h.deliverLocked(o)
}

func (h *hub) deliverLocked(o Outbound) {
	for s := range h.subs {
		if o.private && s.visitor {
			continue
		}
		if !s.push(o) {
			s.reason = ReasonSlowConsumer
			delete(h.subs, s)
			close(s.done)
		}
	}
}

func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.done)
	}
}

func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Encode makes an Outbound of a frame (for frames sent to one socket).
func Encode(f *sb.Frame) Outbound { return encode(f) }
