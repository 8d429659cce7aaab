package chat

import (
	"context"
	"sync"

	sb "github.com/switchboard-chat/switchboard"
)

// Sizes of the per-conversation buffers.
const (
	// SubscriberQueue is how many frames a subscriber may have pending
	// before it is closed as a slow consumer.
	SubscriberQueue = 512
	// RingSize is how many recent durable frames a hub keeps for resume.
	RingSize = 256
)

// ReasonSlowConsumer is the close reason of a subscriber that fell behind.
const ReasonSlowConsumer = "slow consumer"

// Outbound is a frame ready to send: encoded once, shared by all subscribers.
type Outbound struct {
	Seq     int64
	Type    string
	JSON    []byte
	private bool // agents only (private notes)
}

func encode(f *sb.Frame) Outbound {
	return Outbound{Seq: f.Seq, Type: f.Type, JSON: f.AppendJSON(make([]byte, 0, 128))}
}

// Subscription delivers a conversation's frames: first the replay of what
// the subscriber missed, then live frames, each exactly once.
type Subscription struct {
	replay  []Outbound
	c       chan Outbound
	done    chan struct{}
	reason  string
	skipTo  int64           // live durable frames with seq <= skipTo were in the replay
	skipMsg map[string]bool // deltas of these messages were replayed whole
	visitor bool            // never receives private frames
	hub     *hub
	once    sync.Once
	release func()
}

// Next returns the next frame, blocking until one is available, the
// subscription is closed (ErrClosed with Reason) or ctx is done.
func (s *Subscription) Next(ctx context.Context) (Outbound, error) {
	if len(s.replay) > 0 {
		o := s.replay[0]
		s.replay = s.replay[1:]
		return o, nil
	}
	for {
		select {
		case o := <-s.c:
			if s.skip(o) {
				continue
			}
			return o, nil
		case <-s.done:
			// Deliver what was queued before the close, then report it.
			select {
			case o := <-s.c:
				if s.skip(o) {
					continue
				}
				return o, nil
			default:
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
		return s.skipMsg != nil && s.skipMsg[deltaMessageID(o.JSON)]
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
}

// hub fans out one conversation's frames. mu serialises "allocate seq,
// persist, publish" so frames are published in seq order.
type hub struct {
	id string

	seqMu sync.Mutex // held across persist+publish of durable events

	mu    sync.Mutex
	subs  map[*Subscription]struct{}
	ring  []ringEntry
	base  int64 // every durable frame with seq > base is in ring
	valid bool  // base is known
	live  *live
	human bool // owner is not the bot: no deltas may be published

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
		select {
		case s.c <- o:
		default:
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

// C is the live channel; callers that select over several sources use C,
// Skip and PopReplay instead of Next.
func (s *Subscription) C() <-chan Outbound { return s.c }

// Skip reports whether a frame from C was already part of the replay.
func (s *Subscription) Skip(o Outbound) bool { return s.skip(o) }

// PopReplay returns the next replayed frame, if any is left.
func (s *Subscription) PopReplay() (Outbound, bool) {
	if len(s.replay) == 0 {
		return Outbound{}, false
	}
	o := s.replay[0]
	s.replay = s.replay[1:]
	return o, true
}

// Encode makes an Outbound of a frame (for frames sent to one socket).
func Encode(f *sb.Frame) Outbound { return encode(f) }
