// Package chat is the conversation engine: visitor and agent messages,
// generation jobs that outlive sockets, per-conversation fan-out with
// exactly-once resume, and the handoff state machine.
package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// Options configure an Engine. Store and Router are required.
type Options struct {
	Store     sb.Store
	Router    sb.Provider // the router: ChatRequest.Model names a route
	KB        sb.KnowledgeBase
	Moderator sb.Moderator
	Cache     sb.ContextCache
	Budgets   sb.Budgets
	Logger    *slog.Logger
	Metrics   *Metrics

	MaxTurns      int           // context turns, default 50
	MaxBytes      int           // context bytes, default 128 KiB
	FlushInterval time.Duration // partial text persisted at least this often, default 1s
	JobTimeout    time.Duration // hard bound on one generation, default 5m
	KBPassages    int           // passages per question, default 4
	// OnFlag is called (asynchronously safe) for moderation hits worth a review.
	OnFlag func(FlagEvent)
	// OnUsage records one generation's spend.
	OnUsage func(sb.UsageRecord)
}

// FlagEvent is a moderation hit on a message.
type FlagEvent struct {
	InboxID, ConversationID, MessageID, Direction, Text string
	Hits                                                []sb.ModerationHit
}

// Engine runs conversations. Open starts it, Close stops its jobs.
type Engine struct {
	opt    Options
	store  sb.Store
	logger *slog.Logger

	ctx    context.Context // parent of every job; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	hubs  map[string]*hubRef
	jobs  map[string]*job
	watch *hub // agent console feed: conversation changes

	assignMu sync.Mutex // serialises auto-assignment decisions
	rr       int        // round-robin cursor for ties
	presence *presence
}

type hubRef struct {
	h    *hub
	refs int
}

// New returns an Engine; call Open before use.
func New(opt Options) *Engine {
	if opt.MaxTurns <= 0 {
		opt.MaxTurns = 50
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = 128 << 10
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = time.Second
	}
	if opt.JobTimeout <= 0 {
		opt.JobTimeout = 5 * time.Minute
	}
	if opt.KBPassages <= 0 {
		opt.KBPassages = 4
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Metrics == nil {
		opt.Metrics = NewMetrics(nil)
	}
	e := &Engine{opt: opt, store: opt.Store, logger: opt.Logger,
		hubs: make(map[string]*hubRef), jobs: make(map[string]*job), watch: newHub("*")}
	e.presence = newPresence(e)
	return e
}

// Open recovers from a previous crash (messages left streaming become
// interrupted) and starts background work.
func (e *Engine) Open(ctx context.Context) error {
	e.ctx, e.cancel = context.WithCancel(context.Background())
	msgs, err := e.store.FindStreamingMessages(ctx)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := e.interruptOrphan(ctx, m); err != nil {
			e.logger.Warn("recover streaming message", "message_id", m.ID, "err", err)
		}
	}
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.presence.run(e.ctx) }()
	return nil
}

// interruptOrphan marks a message whose job is gone as interrupted, keeping
// its last persisted text, and tells subscribers.
func (e *Engine) interruptOrphan(ctx context.Context, m *sb.Message) error {
	h, release := e.acquire(m.ConversationID)
	defer release()
	st := sb.StateInterrupted
	data, _ := json.Marshal(sb.ErrorData{Code: sb.EINTERRUPTED, Message: "The answer was interrupted. Please try again."})
	_, err := e.persist(ctx, h, func() (*sb.Event, error) {
		return e.store.FinishMessage(ctx, m.ID, sb.MessageUpdate{State: &st}, sb.EventError, data)
	})
	return err
}

// Close cancels running jobs (their partial answers are kept as
// interrupted) waiting at most until ctx is done.
func (e *Engine) Close(ctx context.Context) error {
	if e.cancel == nil {
		return nil
	}
	e.mu.Lock()
	for _, j := range e.jobs {
		j.stop(stopShutdown)
	}
	e.mu.Unlock()
	e.cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain waits until no generation job runs or ctx is done (graceful shutdown).
func (e *Engine) Drain(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		e.mu.Lock()
		n := len(e.jobs)
		e.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// acquire returns the conversation's hub, creating it, and a release func.
func (e *Engine) acquire(id string) (*hub, func()) {
	e.mu.Lock()
	r := e.hubs[id]
	if r == nil {
		r = &hubRef{h: newHub(id)}
		e.hubs[id] = r
	}
	r.refs++
	e.mu.Unlock()
	var once sync.Once
	return r.h, func() {
		once.Do(func() {
			e.mu.Lock()
			r.refs--
			if r.refs == 0 {
				delete(e.hubs, id)
			}
			e.mu.Unlock()
		})
	}
}

// persist runs a store write that yields an event under the hub's seq lock
// and publishes the event's frame: persist, then publish, in seq order.
func (e *Engine) persist(ctx context.Context, h *hub, write func() (*sb.Event, error)) (*sb.Event, error) {
	h.seqMu.Lock()
	defer h.seqMu.Unlock()
	ev, err := write()
	if err != nil || ev == nil {
		return ev, err
	}
	h.blockNext, h.blockEnd = 0, 0 // deltas continue after this event
	f, msg := e.eventFrame(ctx, ev)
	if f != nil {
		o := encode(f)
		o.private = isPrivate(ev)
		h.publish(o, msg)
	}
	if ev.Type == sb.EventStatus || ev.Type == sb.EventMessage {
		e.notifyWatchers(ctx, ev.ConversationID)
	}
	return ev, nil
}

func isPrivate(ev *sb.Event) bool {
	return ev.Message != nil && ev.Message.Kind == sb.KindNote
}

// eventFrame turns a stored event into its live frame (and, for done and
// error, the final message kept in the ring for replays).
func (e *Engine) eventFrame(ctx context.Context, ev *sb.Event) (*sb.Frame, *sb.Message) {
	switch ev.Type {
	case sb.EventMessage:
		return &sb.Frame{Type: sb.FrameMessage, Seq: ev.Seq, Message: ev.Message}, nil
	case sb.EventStart:
		return &sb.Frame{Type: sb.FrameStart, Seq: ev.Seq, MessageID: ev.MessageID}, nil
	case sb.EventDone:
		var d sb.DoneData
		_ = json.Unmarshal(ev.Data, &d)
		f := &sb.Frame{Type: sb.FrameDone, Seq: ev.Seq, MessageID: ev.MessageID, FinishReason: d.FinishReason}
		if ev.Message != nil {
			u := ev.Message.Usage
			f.Usage = &u
			f.Sources = ev.Message.Sources
		}
		return f, ev.Message
	case sb.EventError:
		var d sb.ErrorData
		_ = json.Unmarshal(ev.Data, &d)
		return &sb.Frame{Type: sb.FrameError, Seq: ev.Seq, MessageID: ev.MessageID, Code: d.Code, Text: d.Message, RetryAfter: d.RetryAfter}, ev.Message
	case sb.EventStatus:
		var d sb.StatusData
		_ = json.Unmarshal(ev.Data, &d)
		f := &sb.Frame{Type: sb.FrameStatus, Seq: ev.Seq, Status: d.Status, Owner: d.Owner}
		if d.AssigneeID != "" {
			f.Assignee = &sb.Assignee{ID: d.AssigneeID}
			if u, err := e.store.FindUserByID(ctx, d.AssigneeID); err == nil {
				f.Assignee.Name = u.Name
			}
		}
		if d.Status == sb.StatusQueued {
			f.QueuePosition, f.QueueWaitSec = e.queuePosition(ctx, ev.ConversationID)
		}
		return f, nil
	}
	return nil, nil
}

// Conversation returns a stored conversation (ENOTFOUND).
func (e *Engine) Conversation(ctx context.Context, id string) (*sb.Conversation, error) {
	return e.store.FindConversationByID(ctx, id)
}
