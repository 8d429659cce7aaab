package http

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/chat"
)

// streamTracker ends SSE streams on shutdown.
type streamTracker struct {
	mu      sync.Mutex
	cancels map[*context.CancelFunc]struct{}
	closed  bool
}

func (t *streamTracker) add(c *context.CancelFunc) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if t.cancels == nil {
		t.cancels = map[*context.CancelFunc]struct{}{}
	}
	t.cancels[c] = struct{}{}
	return true
}

func (t *streamTracker) remove(c *context.CancelFunc) {
	t.mu.Lock()
	delete(t.cancels, c)
	t.mu.Unlock()
}

func (t *streamTracker) closeAll() {
	t.mu.Lock()
	t.closed = true
	for c := range t.cancels {
		(*c)()
	}
	t.mu.Unlock()
}

// sseWriter writes Server-Sent Events; the handler goroutine is its only
// writer. Every write is flushed and bounded by a write deadline.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	b  []byte
}

func newSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w), b: make([]byte, 0, 512)}
	_ = s.rc.Flush()
	return s
}

// frame writes one frame: "id: seq" for frames that carry a seq.
func (s *sseWriter) frame(o chat.Outbound) error {
	s.b = s.b[:0]
	if o.Seq != 0 {
		s.b = append(s.b, "id: "...)
		s.b = strconv.AppendInt(s.b, o.Seq, 10)
		s.b = append(s.b, '\n')
	}
	s.b = append(s.b, "data: "...)
	s.b = append(s.b, o.JSON...)
	s.b = append(s.b, '\n', '\n')
	return s.write()
}

func (s *sseWriter) comment(text string) error {
	s.b = append(s.b[:0], ": "...)
	s.b = append(s.b, text...)
	s.b = append(s.b, '\n', '\n')
	return s.write()
}

func (s *sseWriter) write() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.w.Write(s.b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// events streams a conversation's frames as SSE, resuming after
// Last-Event-ID (or ?last_seq=).
func (s *Server) events(w http.ResponseWriter, r *http.Request, conv *sb.Conversation, a access) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_seq")
	}
	lastSeq, _ := strconv.ParseInt(last, 10, 64)
	s.serveSSE(w, r, conv.ID, lastSeq, a.visitor, nil)
}

// serveSSE subscribes and writes frames until the client leaves, the
// server shuts down, the subscriber falls behind, or until returns true.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, convID string, lastSeq int64, visitor bool, until func(chat.Outbound) bool) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if !s.streams.add(&cancel) {
		s.writeError(w, r, &sb.Error{Code: sb.EUNAVAILABLE, Message: "The server is restarting.", RetryAfter: 3 * time.Second})
		return
	}
	defer s.streams.remove(&cancel)
	sub, err := s.engine.Subscribe(ctx, convID, lastSeq, chat.SubscribeOptions{Visitor: visitor})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer sub.Close()
	out := newSSE(w)
	ping := time.NewTicker(s.opt.SSEPing)
	defer ping.Stop()
	write := func(o chat.Outbound) bool {
		if err := out.frame(o); err != nil {
			return false
		}
		return until == nil || !until(o)
	}
	for {
		for {
			o, ok := sub.Pop()
			if !ok {
				break
			}
			if !write(o) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sub.Done():
			for o, ok := sub.Pop(); ok; o, ok = sub.Pop() { // what was queued first
				if !write(o) {
					return
				}
			}
			_ = out.comment("closed: " + sub.Reason())
			return
		case <-sub.Ready():
		case <-ping.C:
			if out.comment("ping") != nil {
				return
			}
		}
	}
}

// streamReply streams the answer to a just-posted visitor message: from
// the message's echo to the bot's done or error frame.
func (s *Server) streamReply(w http.ResponseWriter, r *http.Request, convID string, m *sb.Message, existed bool) {
	conv, err := s.store.FindConversationByID(r.Context(), convID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	botAnswers := conv.Owner == sb.OwnerBot && !existed
	started := false
	s.serveSSE(w, r, convID, m.Seq-1, true, func(o chat.Outbound) bool {
		switch o.Type {
		case sb.FrameStart:
			started = started || o.Seq > m.Seq
		case sb.FrameDone, sb.FrameError:
			return started || o.Seq > m.Seq
		case sb.FrameMessage:
			return o.Seq >= m.Seq && !botAnswers
		case sb.FrameStatus:
			return o.Seq > m.Seq && !started // handed off instead of answered
		}
		return false
	})
}
