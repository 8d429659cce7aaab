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
	// Bus connects instances (scale-out); nil in the embedded mode.
	Bus sb.Bus
	// InstanceID names this instance on the bus and in leases.
	InstanceID string
	// LeaseTTL of a generation lease, default 15 s; renewed every third.
	LeaseTTL time.Duration
	// MaxPendingBytes a subscriber may have waiting before it is closed
	// as a slow consumer; default MaxPendingBytes.
	MaxPendingBytes int
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

	inboxes  inboxCache
	assignMu sync.Mutex // serialises auto-assignment decisions
	rr       int        // round-robin cursor for ties
	presence *presence
}

type hubRef struct {
	h     *hub
	refs  int
	ready chan struct{} // closed once the hub follows the shared log
}

// follow makes a new hub receive other instances' frames (scale-out).
func (e *Engine) follow(h *hub) {
	if e.opt.Bus == nil {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	frames, pos, err := e.opt.Bus.Log(ctx, h.id)
	if err == nil {
		// Rebuild before following: the frames after pos then reach the
		// hub in order on top of this state, none of them before it.
		for _, l := range rebuildLive(frames) {
			if !e.fillLive(ctx, l) {
				e.logger.Warn("answer in progress is neither in the shared log nor in the store", "conversation_id", h.id, "message_id", l.msgID)
				continue
			}
			h.mu.Lock()
			h.remote = l
			h.mu.Unlock()
		}
		var stop func()
		if stop, err = e.opt.Bus.Follow(e.ctx, h.id, pos); err == nil {
			h.follow = stop
		}
	}
	if err != nil {
		e.opt.Metrics.busErrors.Inc()
		e.logger.Warn("follow conversation", "conversation_id", h.id, "err", err)
	}
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
	if opt.MaxPendingBytes <= 0 {
		opt.MaxPendingBytes = MaxPendingBytes
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = 15 * time.Second
	}
	if opt.InstanceID == "" {
		opt.InstanceID = sb.NewID()
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
	if e.opt.Bus == nil {
		// Embedded: this process ran every job, so every answer still
		// streaming in the store was cut by a crash or kill.
		msgs, err := e.store.FindStreamingMessages(ctx)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := e.interruptOrphan(ctx, m); err != nil {
				e.logger.Warn("recover streaming message", "message_id", m.ID, "err", err)
			}
		}
	} else {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.sweep(e.ctx) }()
	}
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.presence.run(e.ctx) }()
	return nil
}

// sweep finds answers whose instance died (lease expired) and marks them
// interrupted, once, whichever instance gets there first.
func (e *Engine) sweep(ctx context.Context) {
	t := time.NewTicker(e.opt.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		msgs, err := e.store.FindStreamingMessages(ctx)
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if time.Since(m.UpdatedAt) < e.opt.LeaseTTL {
				continue
			}
			if holder, err := e.opt.Bus.LeaseHolder(ctx, m.ConversationID); err != nil || holder != "" {
				continue
			}
			// Take the lease to be the only one finishing it.
			ok, err := e.opt.Bus.AcquireLease(ctx, m.ConversationID, e.busID(), e.opt.LeaseTTL)
			if err != nil || !ok {
				continue
			}
			cur, err := e.store.FindMessageByID(ctx, m.ID)
			if err == nil && cur.State == sb.StateStreaming {
				if err := e.interruptOrphan(ctx, cur); err != nil {
					e.logger.Warn("interrupt orphaned answer", "message_id", m.ID, "err", err)
				} else {
					e.logger.Info("interrupted orphaned answer", "message_id", m.ID, "conversation_id", m.ConversationID)
				}
			}
			_ = e.opt.Bus.ReleaseLease(ctx, m.ConversationID, e.busID())
		}
	}
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
	created := r == nil
	if created {
		r = &hubRef{h: newHub(id), ready: make(chan struct{})}
		e.hubs[id] = r
	}
	r.refs++
	e.mu.Unlock()
	if created {
		e.follow(r.h)
		close(r.ready)
	} else {
		<-r.ready
	}
	var once sync.Once
	return r.h, func() {
		once.Do(func() {
			e.mu.Lock()
			r.refs--
			if r.refs == 0 {
				delete(e.hubs, id)
				if r.h.follow != nil {
					r.h.follow()
				}
			}
			e.mu.Unlock()
		})
	}
}

// persist runs a store write that yields an event under the hub's seq lock
// and publishes the event's frame: persist, then publish, in seq order.
func (e *Engine) persist(ctx context.Context, h *hub, write func() (*sb.Event, error)) (*sb.Event, error) {
	ev, err := e.persistLocked(ctx, h, write)
	if err == nil && ev != nil && (ev.Type == sb.EventStatus || ev.Type == sb.EventMessage) {
		// After the conversation's lock: building the consoles' view reads
		// the store, which must not hold up the conversation.
		e.notifyWatchers(ctx, ev.ConversationID)
	}
	return ev, err
}

func (e *Engine) persistLocked(ctx context.Context, h *hub, write func() (*sb.Event, error)) (*sb.Event, error) {
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
		e.append(h, o)
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
