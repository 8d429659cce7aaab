package chat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

type stopReason int32

const (
	stopNone stopReason = iota
	stopUser
	stopTakeover
	stopShutdown
)

// deltaBlock is how many delta seqs a job reserves in the store at once.
const deltaBlock = 64

// job is one generation: it belongs to the engine, not to any socket.
type job struct {
	convID string
	cancel context.CancelFunc
	reason atomic.Int32
	again  bool // a visitor message arrived while it ran; guarded by Engine.mu
	done   chan struct{}
}

func (j *job) stop(r stopReason) {
	j.reason.CompareAndSwap(int32(stopNone), int32(r))
	j.cancel()
}

// startJob runs a generation for the conversation unless one is running:
// a job that finishes answers again when a visitor message arrived after
// its context was built (on whichever instance).
func (e *Engine) startJob(convID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil || e.ctx.Err() != nil {
		return
	}
	if j := e.jobs[convID]; j != nil {
		j.again = true
		return
	}
	e.launchLocked(convID)
}

func (e *Engine) launchLocked(convID string) {
	ctx, cancel := context.WithTimeout(e.ctx, e.opt.JobTimeout)
	j := &job{convID: convID, cancel: cancel, done: make(chan struct{})}
	e.jobs[convID] = j
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(j.done)
		defer cancel()
		since, handoff := e.runJob(ctx, j)
		// Embedded, every visitor message reaches this engine and sets
		// j.again; with a bus it may have arrived on another instance.
		again := !handoff && since >= 0 && e.opt.Bus != nil && j.reason.Load() == int32(stopNone) && e.ctx.Err() == nil && e.unanswered(e.ctx, convID, since)
		e.mu.Lock()
		delete(e.jobs, convID)
		again = again || (!handoff && j.again && j.reason.Load() == int32(stopNone))
		if again && e.ctx.Err() == nil {
			e.launchLocked(convID)
		}
		e.mu.Unlock()
		if handoff {
			// After deregistering: Handoff cancels the conversation's job
			// and waits for it, which must not be this one.
			if _, err := e.Handoff(e.ctx, convID, "bot"); err != nil && sb.ErrorCode(err) != sb.ECONFLICT && e.ctx.Err() == nil {
				e.logger.Warn("bot handoff", "conversation_id", convID, "err", err)
			}
		}
	}()
}

// cancelJob stops the conversation's job and waits for it to finish.
func (e *Engine) cancelJob(ctx context.Context, convID string, r stopReason) bool {
	e.mu.Lock()
	j := e.jobs[convID]
	e.mu.Unlock()
	if j == nil {
		return false
	}
	j.stop(r)
	select {
	case <-j.done:
	case <-ctx.Done():
	}
	return true
}

// Running reports whether a generation runs for the conversation.
func (e *Engine) Running(convID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.jobs[convID] != nil
}

// gen is the state of one generation.
type gen struct {
	e        *Engine
	h        *hub
	conv     *sb.Conversation
	inbox    *sb.Inbox
	msg      *sb.Message
	content  []byte
	flushed  int
	lastSave time.Time
	started  time.Time
	ttft     time.Duration
	provider string
	model    string
	usage    sb.Usage
	cost     float64
	flags    []string
	sources  []sb.Source
	handoff  bool
	kbMiss   bool
	// contextSeq is the conversation's last seq when the context was read.
	contextSeq int64
}

// runJob generates one answer. It returns the conversation's last seq when
// the context was built (-1 when nothing was generated) and whether the
// conversation must now go to a human (the model's handoff tool, or
// repeated knowledge-base misses).
func (e *Engine) runJob(ctx context.Context, j *job) (int64, bool) {
	h, release := e.acquire(j.convID)
	defer release()
	g := &gen{e: e, h: h, started: time.Now()}
	e.opt.Metrics.jobs.Inc()
	defer e.opt.Metrics.jobs.Dec()

	if e.opt.Bus != nil {
		// One instance generates per conversation; the holder answers any
		// message that arrives meanwhile when it finishes.
		ok, err := e.opt.Bus.AcquireLease(ctx, j.convID, e.busID(), e.opt.LeaseTTL)
		switch {
		case err != nil:
			// Redis is down: answering matters more than exclusivity, and
			// the store's CAS and seqs keep the conversation consistent.
			e.opt.Metrics.busErrors.Inc()
			e.logger.Warn("generation lease unavailable; answering without it", "conversation_id", j.convID, "err", err)
		case !ok:
			return -1, false
		}
	}
	if e.opt.Bus != nil {
		lctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); e.renewLease(lctx, j) }()
		defer func() {
			stop()
			wg.Wait()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = e.opt.Bus.ReleaseLease(rctx, j.convID, e.busID())
			cancel()
		}()
	}

	// Owner checked at the start, under the seq lock, so a takeover either
	// happens before (and we do nothing) or after (and cancels us).
	req, err := g.begin(ctx)
	if err != nil || req == nil {
		if err != nil && ctx.Err() == nil {
			e.logger.Error("generation setup", "conversation_id", j.convID, "err", err)
		}
		return -1, false
	}
	var filter sb.StreamFilter
	if e.opt.Moderator != nil {
		filter = e.opt.Moderator.StreamFilter(g.inbox.ID)
	}
	final, ferr := g.stream(ctx, req, filter)
	g.finish(j, final, ferr)
	return g.contextSeq, g.handoff && stopReason(j.reason.Load()) == stopNone
}

// renewLease keeps the job's lease until ctx ends; a lost lease stops the job.
func (e *Engine) renewLease(ctx context.Context, j *job) {
	t := time.NewTicker(e.opt.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ok, err := e.opt.Bus.RenewLease(ctx, j.convID, e.busID(), e.opt.LeaseTTL)
			if err == nil && !ok {
				e.logger.Warn("generation lease lost", "conversation_id", j.convID)
				j.stop(stopShutdown)
				return
			}
		}
	}
}

// unanswered reports whether a visitor message arrived after seq.
func (e *Engine) unanswered(ctx context.Context, convID string, seq int64) bool {
	ms, err := e.store.FindMessages(ctx, sb.MessageFilter{ConversationID: convID, AfterSeq: seq, Limit: 200})
	if err != nil {
		return false
	}
	for _, m := range ms {
		if m.Sender == sb.SenderContact && m.Kind == sb.KindText {
			return true
		}
	}
	return false
}

// begin loads the conversation, builds the context and stores the bot
// message (start frame). It returns nil when the bot must not answer.
func (g *gen) begin(ctx context.Context) (*sb.ChatRequest, error) {
	e, h := g.e, g.h
	// The conversation's lock is held from reading its owner to publishing
	// the start frame, so a takeover either happens before (and the bot
	// does nothing) or after (and cancels the job). Other conversations
	// are not held up.
	h.seqMu.Lock()
	defer h.seqMu.Unlock()
	if h.human {
		return nil, nil
	}
	conv, err := e.store.FindConversationByID(ctx, h.id)
	if err != nil || conv.Owner != sb.OwnerBot {
		return nil, err
	}
	g.contextSeq = conv.LastSeq
	inbox, err := e.Inbox(ctx, conv.InboxID)
	if err != nil {
		return nil, err
	}
	g.conv, g.inbox = conv, inbox
	req, err := e.buildRequest(ctx, conv, inbox)
	if err != nil || req == nil {
		return nil, err
	}
	if inbox.Settings.KnowledgeBase && e.opt.KB != nil {
		g.kbMiss = len(req.Passages) == 0
		for _, p := range req.Passages {
			g.sources = appendSource(g.sources, sb.Source{DocumentID: p.DocumentID, Title: p.Title, Heading: p.Heading})
		}
	}
	m := &sb.Message{ConversationID: conv.ID, Sender: sb.SenderBot, Kind: sb.KindText, State: sb.StateStreaming}
	stored, _, err := e.store.AppendMessage(ctx, m)
	if err != nil {
		return nil, err
	}
	g.msg = stored
	g.lastSave = time.Now()
	h.blockNext, h.blockEnd = 0, 0
	h.mu.Lock()
	h.live = &live{msgID: stored.ID, startSeq: stored.Seq}
	h.mu.Unlock()
	o := encode(&sb.Frame{Type: sb.FrameStart, Seq: stored.Seq, MessageID: stored.ID})
	h.publish(o, nil)
	e.append(h, o)
	return req, nil
}

func appendSource(ss []sb.Source, s sb.Source) []sb.Source {
	for _, x := range ss {
		if x.DocumentID == s.DocumentID && x.Heading == s.Heading {
			return ss
		}
	}
	return append(ss, s)
}

// finalChunk is what the stream's last chunk told us.
type finalChunk struct {
	finishReason string
	blocked      bool
}

// stream pumps the provider stream into deltas.
func (g *gen) stream(ctx context.Context, req *sb.ChatRequest, filter sb.StreamFilter) (finalChunk, error) {
	var fc finalChunk
	if g.e.opt.Budgets != nil {
		lim := sb.BudgetLimits{}
		if g.inbox.Settings.Budget != nil {
			lim = *g.inbox.Settings.Budget
		}
		if err := g.e.opt.Budgets.Check(ctx, req.Subject, lim); sb.ErrorCode(err) == sb.EBUDGET {
			return fc, err
		} else if err != nil {
			g.e.logger.Warn("budget check unavailable; answering", "subject", req.Subject, "err", err)
		}
	}
	st, err := g.e.opt.Router.Stream(ctx, req)
	if err != nil {
		return fc, err
	}
	defer st.Close()
	for {
		c, err := st.Recv()
		if c.Provider != "" {
			g.provider, g.model = c.Provider, c.Model
		}
		if c.Text != "" {
			out := c.Text
			if filter != nil {
				var res sb.ModerationResult
				out, res = filter.Push(c.Text)
				g.noteModeration(res, out)
				if res.Action == sb.ActionBlock {
					g.publishDelta(ctx, out)
					fc.blocked = true
					return fc, nil
				}
			}
			if !g.publishDelta(ctx, out) {
				return fc, context.Canceled
			}
		}
		if c.ToolCall != nil && c.ToolCall.Name == "handoff" {
			g.handoff = true
		}
		if c.Usage != nil {
			g.usage = *c.Usage
			g.cost = c.Cost
		}
		if c.FinishReason != "" {
			fc.finishReason = c.FinishReason
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fc, err
		}
	}
	if filter != nil {
		out, res := filter.Flush()
		g.noteModeration(res, out)
		if res.Action == sb.ActionBlock {
			g.publishDelta(ctx, out)
			fc.blocked = true
			return fc, nil
		}
		g.publishDelta(ctx, out)
	}
	if fc.finishReason == "" {
		fc.finishReason = "stop"
	}
	return fc, nil
}

func (g *gen) noteModeration(res sb.ModerationResult, out string) {
	if res.Action == sb.ActionAllow {
		return
	}
	flag := "moderation:" + string(res.Action)
	found := false
	for _, f := range g.flags {
		found = found || f == flag
	}
	if !found {
		g.flags = append(g.flags, flag)
	}
	if g.e.opt.OnFlag != nil && (res.Action == sb.ActionReview || res.Action == sb.ActionBlock || res.Action == sb.ActionHandoff) {
		g.e.opt.OnFlag(FlagEvent{InboxID: g.inbox.ID, ConversationID: g.conv.ID, MessageID: g.msg.ID, Direction: "output", Text: out, Hits: res.Hits})
	}
}

// publishDelta publishes text as the next delta unless a human owns the
// conversation now. It persists the partial text at least every
// FlushInterval.
func (g *gen) publishDelta(ctx context.Context, text string) bool {
	if text == "" {
		return true
	}
	h := g.h
	h.seqMu.Lock()
	if h.human || ctx.Err() != nil {
		h.seqMu.Unlock()
		return false
	}
	if h.blockNext >= h.blockEnd {
		first, err := g.e.store.ReserveSeqs(ctx, h.id, deltaBlock)
		if err != nil {
			h.seqMu.Unlock()
			g.e.logger.Error("reserve delta seqs", "conversation_id", h.id, "err", err)
			return false
		}
		h.blockNext, h.blockEnd = first, first+deltaBlock
	}
	seq := h.blockNext
	h.blockNext++
	if g.ttft == 0 {
		g.ttft = time.Since(g.started)
		g.e.opt.Metrics.ttft.Observe(g.ttft.Seconds())
	}
	f := sb.Frame{Type: sb.FrameDelta, Seq: seq, MessageID: g.msg.ID, Offset: len(g.content), Payload: text}
	o := encode(&f)
	g.content = append(g.content, text...)
	h.mu.Lock()
	if h.live != nil {
		h.live.content = append(h.live.content, text...)
		h.live.lastDelta = seq
	}
	h.deliverLocked(o)
	h.mu.Unlock()
	g.e.append(h, o)
	h.seqMu.Unlock()
	g.e.opt.Metrics.deltas.Inc()

	if time.Since(g.lastSave) >= g.e.opt.FlushInterval && len(g.content) > g.flushed {
		s := string(g.content)
		if _, err := g.e.store.UpdateMessage(ctx, g.msg.ID, sb.MessageUpdate{Content: &s}); err != nil && ctx.Err() == nil {
			g.e.logger.Warn("persist partial answer", "message_id", g.msg.ID, "err", err)
		} else {
			g.flushed = len(g.content)
		}
		g.lastSave = time.Now()
	}
	return true
}

// finish stores the message's final state and publishes done or error.
func (g *gen) finish(j *job, fc finalChunk, err error) {
	e := g.e
	// The job's own ctx may be cancelled; the final write must still happen.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	state := sb.StateComplete
	evType := sb.EventDone
	var data []byte
	reason := stopReason(j.reason.Load())
	switch {
	case fc.blocked:
		state, evType = sb.StateBlocked, sb.EventError
		data, _ = json.Marshal(sb.ErrorData{Code: sb.EBLOCKED, Message: "The answer was stopped by the content filter."})
	case reason == stopUser || reason == stopTakeover:
		state = sb.StateCancelled
		data, _ = json.Marshal(sb.DoneData{FinishReason: "cancelled"})
	case reason == stopShutdown:
		state, evType = sb.StateInterrupted, sb.EventError
		data, _ = json.Marshal(sb.ErrorData{Code: sb.EINTERRUPTED, Message: "The server is restarting; the answer was interrupted.", RetryAfter: 3})
	case err != nil:
		code := sb.ErrorCode(err)
		msg := sb.ErrorMessage(err)
		var pe *sb.ProviderError
		switch {
		case errors.As(err, &pe) && pe.Class == sb.FailContentFilter:
			code, msg = sb.ECONTENTFILTER, pe.Message
		case errors.As(err, &pe) || errors.Is(err, context.DeadlineExceeded) || code == sb.EINTERNAL:
			code, msg = sb.EUNAVAILABLE, "No model could answer right now. Please try again."
			if len(g.content) > 0 {
				code, msg = sb.EINTERRUPTED, "The answer was interrupted."
			}
		}
		state = sb.StateError
		if code == sb.EINTERRUPTED {
			state = sb.StateInterrupted
		}
		ra := int(sb.ErrorRetryAfter(err).Seconds())
		if code == sb.EUNAVAILABLE && ra == 0 {
			ra = 3
		}
		if msg == "" {
			msg = "The answer failed."
		}
		evType = sb.EventError
		data, _ = json.Marshal(sb.ErrorData{Code: code, Message: msg, RetryAfter: ra})
		if code != sb.EUNAVAILABLE && code != sb.EINTERRUPTED && code != sb.EBUDGET && code != sb.ECONTENTFILTER {
			e.logger.Error("generation failed", "conversation_id", g.conv.ID, "err", err)
		} else {
			e.logger.Warn("generation failed", "conversation_id", g.conv.ID, "code", code, "err", err)
		}
	default:
		data, _ = json.Marshal(sb.DoneData{FinishReason: fc.finishReason})
	}
	e.opt.Metrics.generations.WithLabelValues(string(state)).Inc()

	content := string(g.content)
	ttft := g.ttft.Milliseconds()
	upd := sb.MessageUpdate{Content: &content, State: &state, Usage: &g.usage, Cost: &g.cost, TTFTMs: &ttft}
	if g.provider != "" {
		upd.Provider, upd.Model = &g.provider, &g.model
	}
	if len(g.flags) > 0 {
		upd.Flags = &g.flags
	}
	if len(g.sources) > 0 && len(g.content) > 0 {
		upd.Sources = &g.sources
	}
	_, perr := e.persist(ctx, g.h, func() (*sb.Event, error) {
		ev, err := e.store.FinishMessage(ctx, g.msg.ID, upd, evType, data)
		if err == nil && len(g.content) > 0 {
			// Before done is published: the visitor's next message must
			// come after this answer in the cached context too.
			e.cacheAppend(ctx, g.conv, &sb.Message{Sender: sb.SenderBot, Kind: sb.KindText, Content: content, State: state})
		}
		return ev, err
	})
	g.h.mu.Lock()
	g.h.live = nil
	g.h.mu.Unlock()
	if perr != nil {
		e.logger.Error("store final answer", "message_id", g.msg.ID, "err", perr)
	}
	if reason != stopNone {
		return
	}
	// Knowledge-base misses and the model's handoff tool feed the handoff rule.
	if g.inbox.Settings.KnowledgeBase && e.opt.KB != nil {
		misses := 0
		if g.kbMiss {
			misses = g.conv.KBMisses + 1
		}
		if misses != g.conv.KBMisses {
			if c, _, err := e.store.UpdateConversation(ctx, g.conv.ID, g.conv.Version, sb.ConversationUpdate{KBMisses: &misses}); err == nil {
				g.conv = c
			}
		}
		if n := g.inbox.Settings.KBMissHandoff; n > 0 && misses >= n {
			g.handoff = true
		}
	}
}
