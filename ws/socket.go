package ws

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/chat"
)

// socket is one WebSocket: the reader goroutine (run's caller) decodes
// client frames; the writer goroutine is the only one writing to conn.
type socket struct {
	h    *Handler
	conn *websocket.Conn
	peer *Peer

	ctrl    chan chat.Outbound      // frames for this socket alone
	subs    chan *chat.Subscription // hello: switch the watched conversation
	closeMu sync.Mutex
	closing bool
	code    websocket.StatusCode
	reason  string
	cancel  context.CancelFunc
}

func newSocket(h *Handler, conn *websocket.Conn, p *Peer) *socket {
	return &socket{h: h, conn: conn, peer: p, ctrl: make(chan chat.Outbound, ControlQueue),
		subs: make(chan *chat.Subscription, 1)}
}

// closeWith records why the socket closes and stops both loops; the writer
// sends the close frame.
func (s *socket) closeWith(code websocket.StatusCode, reason string) {
	s.closeMu.Lock()
	if !s.closing {
		s.closing, s.code, s.reason = true, code, reason
	}
	cancel := s.cancel
	s.closeMu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (s *socket) run(parent context.Context) {
	// The reader's context outlives the writer's: closing cancels the
	// writer, which sends the close frame; the handshake then ends Read.
	// (Cancelling a Read's context would drop the TCP connection without
	// our close code.)
	rctx, rcancel := context.WithCancel(context.WithoutCancel(parent))
	defer rcancel()
	wctx, wcancel := context.WithCancel(rctx)
	s.closeMu.Lock()
	s.cancel = wcancel
	if s.closing {
		wcancel()
	}
	s.closeMu.Unlock()

	var beat func()
	var watch *chat.Subscription
	if !s.peer.Visitor && s.peer.User != nil {
		var leave func()
		beat, leave = s.h.opt.Engine.AgentConnected(rctx, s.peer.User.ID)
		defer leave()
		watch = s.h.opt.Engine.Watch()
		defer watch.Close()
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.writeLoop(wctx, watch) }()
	err := s.readLoop(rctx, beat)
	switch {
	case errors.Is(err, errBye):
		s.closeWith(websocket.StatusNormalClosure, "bye")
	case websocket.CloseStatus(err) == websocket.StatusMessageTooBig:
		s.closeWith(websocket.StatusMessageTooBig, "frame too large")
	default:
		s.closeWith(websocket.StatusNormalClosure, "")
	}
	wg.Wait()
}

// send queues a frame for this socket; a full queue means the client does
// not read: it is closed as a slow consumer.
func (s *socket) send(f *sb.Frame) {
	select {
	case s.ctrl <- chat.Encode(f):
	default:
		s.closeWith(CloseSlowConsumer, chat.ReasonSlowConsumer)
	}
}

func (s *socket) readLoop(ctx context.Context, beat func()) error {
	idle := time.AfterFunc(s.h.opt.IdleTimeout, func() { s.closeWith(CloseIdle, "idle timeout") })
	defer idle.Stop()
	var cur *chat.Subscription
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	for {
		typ, data, err := s.conn.Read(ctx)
		if err != nil {
			return err
		}
		idle.Reset(s.h.opt.IdleTimeout)
		if beat != nil {
			beat()
		}
		if typ != websocket.MessageText {
			s.send(errorFrame(sb.Errorf(sb.EINVALID, "Frames must be JSON text.")))
			continue
		}
		f, err := decode(data)
		if err != nil {
			s.send(errorFrame(err))
			continue
		}
		switch f.Type {
		case "hello":
			sub, err := s.hello(ctx, f)
			if err != nil {
				s.send(errorFrame(err))
				continue
			}
			if cur != nil {
				cur.Close()
			}
			cur = sub
			select {
			case s.subs <- sub:
			case <-ctx.Done():
				return ctx.Err()
			}
		case "message":
			s.message(ctx, f)
		case "stop":
			if conv := s.conversation(f); conv != "" {
				s.h.opt.Engine.Stop(ctx, conv)
			}
		case "handoff":
			if conv := s.conversation(f); conv != "" && s.peer.Visitor {
				if _, err := s.h.opt.Engine.Handoff(ctx, conv, "visitor"); err != nil {
					s.send(errorFrame(err))
				}
			}
		case "typing":
			if conv := s.conversation(f); conv != "" {
				from := "contact"
				if !s.peer.Visitor {
					from = "agent"
				}
				s.h.opt.Engine.Typing(conv, from)
			}
		case "ping":
			s.send(&sb.Frame{Type: sb.FramePong})
		case "bye":
			return errBye
		default:
			s.send(errorFrame(sb.Errorf(sb.EINVALID, "Unknown frame type %q.", truncate(f.Type, 40))))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// conversation returns the conversation a frame is about: the one named
// (agents) or the visitor's own.
func (s *socket) conversation(f clientFrame) string {
	if s.peer.Visitor {
		return s.peer.ConversationID
	}
	if f.ConversationID != "" {
		return f.ConversationID
	}
	return s.peer.ConversationID
}

func (s *socket) hello(ctx context.Context, f clientFrame) (*chat.Subscription, error) {
	id := f.ConversationID
	if id == "" {
		id = s.peer.ConversationID
	}
	if id == "" {
		return nil, sb.Errorf(sb.EINVALID, "hello needs a conversation_id.")
	}
	conv, err := s.h.opt.Engine.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.peer.Visitor && (conv.ContactID != s.peer.ContactID) {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Not your conversation.")
	}
	if f.LastSeq < 0 {
		f.LastSeq = 0
	}
	sub, err := s.h.opt.Engine.Subscribe(ctx, conv.ID, f.LastSeq, chat.SubscribeOptions{Visitor: s.peer.Visitor})
	if err != nil {
		return nil, err
	}
	s.peer.ConversationID = conv.ID
	last := conv.LastSeq
	s.send(&sb.Frame{Type: sb.FrameReady, ConversationID: conv.ID, LastSeq: &last})
	return sub, nil
}

func (s *socket) message(ctx context.Context, f clientFrame) {
	if !s.peer.Visitor {
		s.send(errorFrame(sb.Errorf(sb.EINVALID, "Agents reply through POST /v1/agent/conversations/{id}/messages.")))
		return
	}
	if len(f.Content) > s.h.opt.MaxMessageBytes {
		s.send(errorFrame(sb.Errorf(sb.ETOOLARGE, "Message is larger than %d bytes.", s.h.opt.MaxMessageBytes)))
		return
	}
	if s.h.opt.Limit != nil {
		if err := s.h.opt.Limit(ctx, s.peer); err != nil {
			s.send(errorFrame(err))
			return
		}
	}
	m, existed, err := s.h.opt.Engine.PostContactMessage(ctx, s.peer.ConversationID, f.ClientMsgID, f.Content)
	if err != nil {
		s.send(errorFrame(err))
		return
	}
	if existed {
		s.send(&sb.Frame{Type: sb.FrameMessage, Seq: m.Seq, Message: m})
	}
}

// writeLoop is the only writer of the socket.
func (s *socket) writeLoop(ctx context.Context, watch *chat.Subscription) {
	ping := time.NewTicker(s.h.opt.PingInterval)
	defer ping.Stop()
	var sub *chat.Subscription
	var subReady, watchReady <-chan struct{}
	var subDone, watchDone <-chan struct{}
	if watch != nil {
		watchReady, watchDone = watch.Ready(), watch.Done()
	}
	// drain writes every frame waiting in a subscription.
	drain := func(q *chat.Subscription) bool {
		for {
			if o, ok := q.Pop(); !ok {
				return true
			} else if !s.write(ctx, o) {
				return false
			}
		}
	}
	for {
		// Frames for this socket alone (ready, errors) go first, then the
		// subscription's replay and live frames.
		select {
		case o := <-s.ctrl:
			if !s.write(ctx, o) {
				return
			}
			continue
		default:
		}
		select {
		case <-ctx.Done():
			s.finish()
			return
		case o := <-s.ctrl:
			if !s.write(ctx, o) {
				return
			}
		case n := <-s.subs:
			sub, subReady, subDone = n, n.Ready(), n.Done()
			if !drain(sub) { // the replay
				return
			}
		case <-subReady:
			if !drain(sub) {
				return
			}
		case <-subDone:
			// The reader also closes subscriptions (a new hello, bye, a
			// read error): only the hub dropping us is a slow consumer.
			if sub.Reason() == chat.ReasonSlowConsumer {
				s.closeWith(CloseSlowConsumer, chat.ReasonSlowConsumer)
			}
			subReady, subDone = nil, nil
		case <-watchReady:
			if !drain(watch) {
				return
			}
		case <-watchDone:
			s.closeWith(CloseSlowConsumer, chat.ReasonSlowConsumer)
			watchReady, watchDone = nil, nil
		case <-ping.C:
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.h.opt.WriteTimeout)
			err := s.conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				s.closeWith(websocket.StatusPolicyViolation, "ping timeout")
			}
		}
	}
}

func (s *socket) write(ctx context.Context, o chat.Outbound) bool {
	// Not a child of ctx: the websocket library closes the connection when
	// a write's context ends while that write is registered, and closeWith
	// (another goroutine) may cancel ctx just as a write completes, which
	// would drop the connection without its close frame. A write is
	// bounded by WriteTimeout alone.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.h.opt.WriteTimeout)
	defer cancel()
	if err := s.conn.Write(wctx, websocket.MessageText, o.JSON); err != nil {
		if ctx.Err() == nil {
			s.closeWith(CloseSlowConsumer, "write timeout")
		}
		s.finish()
		return false
	}
	return true
}

// finish sends the close frame with the recorded reason.
func (s *socket) finish() {
	s.closeMu.Lock()
	code, reason := s.code, s.reason
	s.closeMu.Unlock()
	if code == 0 {
		code = websocket.StatusNormalClosure
	}
	s.h.closes.WithLabelValues(closeLabel(code)).Inc()
	_ = s.conn.Close(code, reason)
}

func closeLabel(c websocket.StatusCode) string {
	switch c {
	case CloseIdle:
		return "idle"
	case CloseSlowConsumer:
		return "slow_consumer"
	case CloseRestarting:
		return "restarting"
	case websocket.StatusMessageTooBig:
		return "too_big"
	case websocket.StatusNormalClosure:
		return "normal"
	}
	return "other"
}
