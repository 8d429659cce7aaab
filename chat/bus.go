package chat

import (
	"context"
	"encoding/json"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// wireFrame is the part of a frame an instance needs to track remote
// in-progress messages.
type wireFrame struct {
	Type      string `json:"type"`
	Seq       int64  `json:"seq"`
	MessageID string `json:"message_id"`
	Offset    int    `json:"offset"`
	Payload   string `json:"payload"`
}

func (e *Engine) busID() string { return e.opt.InstanceID }

// append publishes a locally produced frame to the other instances.
// Caller holds the hub's seqMu so the log keeps seq order.
func (e *Engine) append(h *hub, o Outbound) {
	if e.opt.Bus == nil {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Second)
	defer cancel()
	if err := e.opt.Bus.Append(ctx, h.id, sb.BusFrame{Origin: e.busID(), ConvID: h.id, Frame: o.JSON}); err != nil {
		e.opt.Metrics.busErrors.Inc()
		e.logger.Warn("bus append", "conversation_id", h.id, "err", err)
	}
}

// Deliver is the Bus's callback for frames appended by any instance: frames
// from other instances are fanned out to local subscribers.
func (e *Engine) Deliver(f sb.BusFrame) {
	if f.Origin == e.busID() {
		return
	}
	e.mu.Lock()
	r := e.hubs[f.ConvID]
	e.mu.Unlock()
	if r == nil {
		return
	}
	var w wireFrame
	if err := json.Unmarshal(f.Frame, &w); err != nil {
		return
	}
	o := Outbound{Seq: w.Seq, Type: w.Type, JSON: f.Frame}
	switch w.Type {
	case sb.FrameMessage:
		o.private = isNoteFrame(f.Frame)
	case sb.FrameDelta:
		o.msgID, o.offset, o.payload = w.MessageID, w.Offset, w.Payload
	}
	h := r.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remoteLive(w)
	h.deliverLocked(o)
}

func isNoteFrame(b []byte) bool {
	var f struct {
		Message *struct {
			Kind sb.Kind `json:"kind"`
		} `json:"message"`
	}
	return json.Unmarshal(b, &f) == nil && f.Message != nil && f.Message.Kind == sb.KindNote
}

// remoteLive tracks a message streaming on another instance. Caller holds h.mu.
func (h *hub) remoteLive(w wireFrame) {
	switch w.Type {
	case sb.FrameStart:
		h.remote = &live{msgID: w.MessageID, startSeq: w.Seq}
	case sb.FrameDelta:
		if h.remote != nil && h.remote.msgID == w.MessageID && w.Offset == len(h.remote.content) {
			h.remote.content = append(h.remote.content, w.Payload...)
			h.remote.lastDelta = w.Seq
		}
	case sb.FrameDone, sb.FrameError:
		if h.remote != nil && h.remote.msgID == w.MessageID {
			h.remote = nil
		}
	}
}

// rebuildLive reconstructs in-progress messages from the shared log: for
// each message that started and has not finished, its text so far. The log
// is capped, so a long answer's start and first deltas may be gone: such a
// message comes back with missing > 0, the bytes before content that the
// caller must take from the store (fillLive).
func rebuildLive(frames []sb.BusFrame) map[string]*live {
	out := map[string]*live{}
	for _, f := range frames {
		var w wireFrame
		if json.Unmarshal(f.Frame, &w) != nil {
			continue
		}
		switch w.Type {
		case sb.FrameStart:
			out[w.MessageID] = &live{msgID: w.MessageID, startSeq: w.Seq}
		case sb.FrameDelta:
			l := out[w.MessageID]
			if l == nil && w.Offset > 0 {
				l = &live{msgID: w.MessageID, missing: w.Offset} // start trimmed from the log
				out[w.MessageID] = l
			}
			if l != nil && w.Offset == l.missing+len(l.content) {
				l.content = append(l.content, w.Payload...)
				l.lastDelta = w.Seq
			}
		case sb.FrameDone, sb.FrameError:
			delete(out, w.MessageID)
		}
	}
	return out
}

// fillLive completes a message rebuilt from a trimmed log with the text
// persisted so far (a prefix of the answer, flushed at least every
// FlushInterval). It reports false when the store cannot fill the gap.
func (e *Engine) fillLive(ctx context.Context, l *live) bool {
	if l.missing == 0 {
		return true
	}
	m, err := e.store.FindMessageByID(ctx, l.msgID)
	if err != nil || m.State != sb.StateStreaming || len(m.Content) < l.missing {
		return false
	}
	l.content = append([]byte(m.Content[:l.missing]), l.content...)
	l.startSeq, l.missing = m.Seq, 0
	return true
}

// HandleCommand applies a command from another instance.
func (e *Engine) HandleCommand(c sb.BusCommand) {
	if c.Origin == e.busID() {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	switch c.Op {
	case "stop":
		e.cancelJob(ctx, c.ConvID, stopUser)
	case "takeover":
		e.setHuman(c.ConvID, true)
		e.cancelJob(ctx, c.ConvID, stopTakeover)
	case "owner":
		e.setHuman(c.ConvID, c.Human)
	}
}

func (e *Engine) setHuman(convID string, human bool) {
	e.mu.Lock()
	r := e.hubs[convID]
	e.mu.Unlock()
	if r == nil {
		return
	}
	r.h.seqMu.Lock()
	r.h.human = human
	r.h.seqMu.Unlock()
}

// broadcast sends a command to the other instances (scale-out only).
func (e *Engine) broadcast(ctx context.Context, c sb.BusCommand) {
	if e.opt.Bus == nil {
		return
	}
	c.Origin = e.busID()
	if err := e.opt.Bus.Send(ctx, c); err != nil {
		e.opt.Metrics.busErrors.Inc()
		e.logger.Warn("bus command", "op", c.Op, "conversation_id", c.ConvID, "err", err)
	}
}
