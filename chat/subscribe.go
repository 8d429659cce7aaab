package chat

import (
	"bytes"
	"context"

	sb "github.com/switchboard-chat/switchboard"
)

// replayLimit bounds the events rebuilt from the store for one resume.
const replayLimit = 5000

// SubscribeOptions select what a subscriber may see.
type SubscribeOptions struct {
	Visitor bool // visitors never see private notes
}

// Subscribe delivers the conversation's frames after lastSeq, then live
// ones. Text of every bot message reaches the subscriber exactly once by
// offset: a message in progress is re-sent as one delta from offset 0.
func (e *Engine) Subscribe(ctx context.Context, conversationID string, lastSeq int64, opt SubscribeOptions) (*Subscription, error) {
	h, release := e.acquire(conversationID)
	s := newSubscription(h, opt.Visitor, e.opt.MaxPendingBytes)
	s.release = release

	h.mu.Lock()
	if h.valid && lastSeq >= h.base {
		s.replay = h.replayRing(lastSeq, s.visitor)
		h.subs[s] = struct{}{}
		h.mu.Unlock()
		return s, nil
	}
	// Store path: register first (live frames queue up), snapshot the live
	// message at the same instant, then read what was missed.
	h.subs[s] = struct{}{}
	var snap *live
	if l := h.live; l != nil || h.remote != nil {
		if l == nil {
			l = h.remote // generated on another instance, rebuilt from the shared log
		}
		snap = &live{msgID: l.msgID, startSeq: l.startSeq, content: bytes.Clone(l.content), lastDelta: l.lastDelta}
	}
	h.mu.Unlock()

	evs, err := e.store.FindEvents(ctx, conversationID, lastSeq, replayLimit)
	if err != nil {
		s.Close()
		return nil, err
	}
	finished := map[string]bool{}
	for _, ev := range evs {
		s.replay = append(s.replay, e.replayEvent(ctx, ev, s.visitor)...)
		if ev.Seq > s.skipTo {
			s.skipTo = ev.Seq
		}
		if ev.Type == sb.EventDone || ev.Type == sb.EventError {
			finished[ev.MessageID] = true
		}
	}
	if snap != nil && !finished[snap.msgID] && len(snap.content) > 0 {
		f := &sb.Frame{Type: sb.FrameDelta, Seq: max(snap.lastDelta, snap.startSeq), MessageID: snap.msgID, Payload: string(snap.content)}
		s.replay = append(s.replay, encode(f))
	}
	if len(finished) > 0 {
		s.skipMsg = finished
	}
	// From now on the ring is complete for this conversation if it was not.
	h.mu.Lock()
	if !h.valid && e.opt.Bus == nil { // with a bus, other instances' frames bypass the ring
		h.valid = true
		h.base = max(h.base, s.skipTo, lastSeq)
	}
	h.mu.Unlock()
	return s, nil
}

// replayEvent rebuilds the frames of one stored event.
func (e *Engine) replayEvent(ctx context.Context, ev *sb.Event, visitor bool) []Outbound {
	f, msg := e.eventFrame(ctx, ev)
	if f == nil || (visitor && isPrivate(ev)) {
		return nil
	}
	var out []Outbound
	if (ev.Type == sb.EventDone || ev.Type == sb.EventError) && msg != nil && msg.Content != "" {
		out = append(out, encode(&sb.Frame{Type: sb.FrameDelta, Seq: msg.Seq, MessageID: msg.ID, Payload: msg.Content}))
	}
	return append(out, encode(f))
}

// replayRing builds the replay from the in-memory ring. Caller holds h.mu.
func (h *hub) replayRing(lastSeq int64, visitor bool) []Outbound {
	var out []Outbound
	liveDone := false
	for _, e := range h.ring {
		if e.out.Seq <= lastSeq || (visitor && e.out.private) {
			continue
		}
		if (e.out.Type == sb.FrameDone || e.out.Type == sb.FrameError) && e.msg != nil {
			if e.msg.Content != "" {
				seq := e.lastDelta
				if seq == 0 {
					seq = e.msg.Seq
				}
				out = append(out, encode(&sb.Frame{Type: sb.FrameDelta, Seq: seq, MessageID: e.msg.ID, Payload: e.msg.Content}))
			}
			if h.live != nil && e.msg.ID == h.live.msgID {
				liveDone = true
			}
		}
		out = append(out, e.out)
	}
	if h.live != nil && !liveDone && len(h.live.content) > 0 {
		out = append(out, encode(&sb.Frame{Type: sb.FrameDelta, Seq: max(h.live.lastDelta, h.live.startSeq), MessageID: h.live.msgID, Payload: string(h.live.content)}))
	}
	return out
}
