package provider

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider/internal/upstream"
)

const (
	// attemptBuffer is how many chunks an attempt's pump reads ahead.
	attemptBuffer = 16
	// maxAttempts per target in one phase (before the commit point, or one
	// continuation).
	maxAttempts = 3
	// maxContinuations bounds how often one answer moves to another target.
	maxContinuations = 4
	// A continuation that starts by repeating at least minOverlap bytes of
	// the answer's tail has them cut; up to maxOverlap bytes are held back
	// while that is undecided.
	minOverlap = 12
	maxOverlap = 256
	// unavailableRetryAfter is the retry hint of EUNAVAILABLE.
	unavailableRetryAfter = 3 * time.Second
)

// event is what an attempt's pump hands to the router: a chunk or the
// error that ended the upstream stream (io.EOF after the last chunk).
type event struct {
	c   switchboard.Chunk
	err error
}

// attempt is one call to one target; its pump goroutine reads the upstream
// stream into ch until the stream ends or ctx is cancelled.
type attempt struct {
	t        *target
	ts       *tstate
	req      *switchboard.ChatRequest
	ctx      context.Context
	cancel   context.CancelFunc
	ch       chan event
	start    time.Time
	deadline time.Time // first token
	probe    bool      // the half-open breaker's probe
	judged   bool      // breaker outcome reported
	gotFirst bool
	ttft     time.Duration
	segStart int // offset of this attempt's text in the answer
}

// tstate is a target's state within one phase of one request.
type tstate struct {
	t             *target
	tries         int
	done          bool // moved on; not tried again in this phase
	retry         bool // a retry is due at retryAt
	retryAt       time.Time
	connRetried   bool
	serverRetried bool
	contForm      bool // continue by an explicit request, not prefill
	busy          bool // an attempt is in flight
}

// stream is the router's stream of one answer.
type stream struct {
	r   *Router
	rt  *route
	req *switchboard.ChatRequest

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // pumps
	timer  *time.Timer
	start  time.Time

	mu        sync.Mutex // held by Recv; Close takes it after cancelling
	order     []*target
	states    []*tstate
	badModels []string
	broke     []*target // targets that broke this answer after the commit point
	lastErr   *switchboard.ProviderError
	launched  int

	cur           *attempt
	raw           switchboard.Chunk // upstream chunk not yet processed
	hasRaw        bool
	answer        strings.Builder // text sent to the caller
	announce      bool            // next chunk names provider and model
	overlapCheck  bool            // first text of a continuation
	obuf          string
	continuations int

	usage    switchboard.Usage
	cost     float64
	finished bool
	err      error
}

func newStream(ctx context.Context, r *Router, rt *route, req *switchboard.ChatRequest) *stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{r: r, rt: rt, req: req, ctx: ctx, cancel: cancel, start: time.Now(), announce: true}
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	return s
}

// open runs the request up to the commit point.
func (s *stream) open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order = s.r.order(s.rt)
	s.newPhase(nil)
	a, c, err := s.race(true)
	if err != nil {
		s.finished, s.err = true, err
		return err
	}
	s.cur, s.raw, s.hasRaw = a, c, true
	return nil
}

// newPhase resets the per-target state for a continuation: the targets
// that broke this answer go last, the most recent last of all.
func (s *stream) newPhase(failed *target) {
	if failed != nil {
		s.broke = append(slices.DeleteFunc(s.broke, func(t *target) bool { return t == failed }), failed)
	}
	s.states = s.states[:0]
	for _, t := range s.order {
		if !slices.Contains(s.broke, t) {
			s.states = append(s.states, &tstate{t: t})
		}
	}
	for _, t := range s.broke {
		s.states = append(s.states, &tstate{t: t})
	}
}

func (s *stream) eligible(ts *tstate) bool {
	return !ts.done && !ts.busy && ts.tries < maxAttempts && !slices.Contains(s.badModels, ts.t.model)
}

// race runs attempts until one produces its first token (text, tool call
// or a final chunk) and returns it with that chunk. initial is the phase
// before the commit point: the route's budget and hedging apply to it.
func (s *stream) race(initial bool) (*attempt, switchboard.Chunk, error) {
	rc := s.rt.cfg
	var budget time.Time
	if initial {
		budget = s.start.Add(rc.Budget)
	}
	var active []*attempt
	hedged := !initial || !rc.Hedge
	for {
		if len(active) == 0 {
			a, err := s.launchNext(budget, false)
			if err != nil {
				return nil, switchboard.Chunk{}, err
			}
			if a == nil {
				return nil, switchboard.Chunk{}, s.exhausted()
			}
			active = append(active, a)
		}
		next := active[0].deadline
		if len(active) > 1 && active[1].deadline.Before(next) {
			next = active[1].deadline
		}
		var hedgeAt time.Time
		if !hedged && len(active) == 1 {
			if d := active[0].t.hedgeAfter(); d > 0 {
				hedgeAt = active[0].start.Add(d)
				if hedgeAt.Before(next) {
					next = hedgeAt
				}
			} else {
				hedged = true // too few samples: no hedge for this request
			}
		}
		if !budget.IsZero() && budget.Before(next) {
			next = budget
		}
		var ch1 chan event
		if len(active) > 1 {
			ch1 = active[1].ch
		}
		s.timer.Reset(time.Until(next))
		var (
			ev event
			a  *attempt
		)
		select {
		case ev = <-active[0].ch:
			a = active[0]
		case ev = <-ch1:
			a = active[1]
		case <-s.timer.C:
			now := time.Now()
			if !budget.IsZero() && !now.Before(budget) {
				for _, a := range active {
					s.abandon(a)
				}
				return nil, switchboard.Chunk{}, s.exhausted()
			}
			active = slices.DeleteFunc(active, func(a *attempt) bool {
				if now.Before(a.deadline) {
					return false
				}
				// First-token timeout: move on, never retry a silent target.
				a.cancel()
				a.ts.done = true
				s.failed(a, &switchboard.ProviderError{Provider: a.t.pname, Model: a.t.model,
					Class: switchboard.FailTimeout, Retryable: true, Message: "no first token in time"})
				return true
			})
			if !hedgeAt.IsZero() && !now.Before(hedgeAt) && len(active) == 1 {
				hedged = true
				if h, err := s.launchNext(budget, true); err == nil && h != nil {
					s.rt.hedges.Inc()
					active = append(active, h)
				}
			}
			continue
		case <-s.ctx.Done():
			for _, a := range active {
				s.abandon(a)
			}
			return nil, switchboard.Chunk{}, s.canceled()
		}

		if ev.err == nil && ev.c.Text == "" && ev.c.ToolCall == nil && ev.c.FinishReason == "" {
			continue // nothing yet
		}
		if ev.err == io.EOF {
			// Ended without a final chunk: an empty, complete answer.
			ev = event{c: switchboard.Chunk{FinishReason: "stop"}}
		}
		active = slices.DeleteFunc(active, func(x *attempt) bool { return x == a })
		if ev.err != nil {
			a.cancel()
			if err := s.fail(a, ev.err); err != nil {
				for _, a := range active {
					s.abandon(a)
				}
				return nil, switchboard.Chunk{}, err
			}
			continue
		}
		if ev.c.FinishReason == "content_filter" && ev.c.Text == "" && ev.c.ToolCall == nil {
			a.cancel()
			s.failed(a, &switchboard.ProviderError{Provider: a.t.pname, Model: a.t.model, Class: switchboard.FailContentFilter})
			for _, a := range active {
				s.abandon(a)
			}
			return nil, switchboard.Chunk{}, contentFilterError("")
		}
		// The winner.
		for _, l := range active {
			s.lost(l)
		}
		a.gotFirst, a.ttft = true, time.Since(a.start)
		a.t.observeTTFT(a.ttft)
		a.t.done(s.r.now(), a.probe, "")
		a.judged = true
		return a, ev.c, nil
	}
}

// launchNext starts the next attempt: a due retry first, then the first
// healthy target; when none is left (and noWait is false), a target
// cooling down after a 429 if it cools within MaxRetryWait (waiting for
// it), then one whose breaker is open. nil when nothing can be tried.
func (s *stream) launchNext(budget time.Time, noWait bool) (*attempt, error) {
	now := time.Now()
	hnow := s.r.now()
	for _, ts := range s.states {
		if !ts.retry || !s.eligible(ts) {
			continue
		}
		if noWait && ts.retryAt.After(now) {
			continue
		}
		ts.retry = false
		ok, probe := ts.t.admit(hnow, false)
		if !ok {
			continue
		}
		if err := s.sleep(ts.retryAt.Sub(now), budget); err != nil {
			ts.t.done(s.r.now(), probe, switchboard.FailCanceled)
			return nil, err
		}
		return s.launch(ts, probe, false), nil
	}
	for _, ts := range s.states {
		if !s.eligible(ts) {
			continue
		}
		if ok, probe := ts.t.admit(hnow, false); ok {
			return s.launch(ts, probe, true), nil
		}
	}
	if noWait {
		return nil, nil
	}
	var (
		best *tstate
		wait time.Duration
	)
	for _, ts := range s.states {
		if !s.eligible(ts) {
			continue
		}
		if cooling, _ := ts.t.blocked(hnow); cooling > 0 && cooling <= s.rt.cfg.MaxRetryWait &&
			(budget.IsZero() || now.Add(cooling).Before(budget)) && (best == nil || cooling < wait) {
			best, wait = ts, cooling
		}
	}
	if best != nil {
		if err := s.sleep(wait, budget); err != nil {
			return nil, err
		}
		_, probe := best.t.admit(s.r.now(), true)
		return s.launch(best, probe, true), nil
	}
	for _, ts := range s.states {
		if !s.eligible(ts) {
			continue
		}
		if cooling, open := ts.t.blocked(hnow); cooling == 0 && open {
			_, probe := ts.t.admit(hnow, true)
			return s.launch(ts, probe, true), nil
		}
	}
	return nil, nil
}

// sleep waits d, or returns the error that ends the phase (cancelled, or
// the budget would run out).
func (s *stream) sleep(d time.Duration, budget time.Time) error {
	if d <= 0 {
		return nil
	}
	if !budget.IsZero() && time.Now().Add(d).After(budget) {
		return s.exhausted()
	}
	s.timer.Reset(d)
	select {
	case <-s.timer.C:
		return nil
	case <-s.ctx.Done():
		return s.canceled()
	}
}

// launch starts an attempt on ts's target.
func (s *stream) launch(ts *tstate, probe, failover bool) *attempt {
	if failover && s.launched > 0 && s.continuations == 0 {
		s.rt.failovers.Inc()
	}
	s.launched++
	ts.tries++
	ts.busy = true
	ts.t.started()
	ctx, cancel := context.WithCancel(s.ctx)
	a := &attempt{
		t:        ts.t,
		ts:       ts,
		req:      s.attemptRequest(ts),
		ctx:      ctx,
		cancel:   cancel,
		ch:       make(chan event, attemptBuffer),
		start:    time.Now(),
		probe:    probe,
		segStart: s.answer.Len(),
	}
	a.deadline = a.start.Add(s.rt.cfg.FirstTokenTimeout)
	s.wg.Add(1)
	go s.pump(a)
	return a
}

// attemptRequest is the caller's request for ts's model, continuing the
// answer so far: as Prefill, or (contForm) as an explicit continuation
// request for a target that refused the prefill.
func (s *stream) attemptRequest(ts *tstate) *switchboard.ChatRequest {
	req := *s.req
	req.Model = ts.t.model
	prefix := s.req.Prefill + s.answer.String()
	req.Prefill = prefix
	if ts.contForm && prefix != "" {
		req.Prefill = ""
		req.Messages = append(slices.Clip(s.req.Messages), switchboard.ChatMessage{
			Role: switchboard.RoleUser, Content: upstream.ContinuationPrompt(prefix),
		})
	}
	return &req
}

// pump reads a's upstream stream into a.ch until it ends or a is cancelled.
func (s *stream) pump(a *attempt) {
	defer s.wg.Done()
	send := func(ev event) bool {
		select {
		case a.ch <- ev:
			return true
		case <-a.ctx.Done():
			return false
		}
	}
	st, err := a.t.provider.Stream(a.ctx, a.req)
	if err != nil {
		send(event{err: err})
		return
	}
	defer st.Close()
	for {
		c, err := st.Recv()
		if err != nil {
			send(event{err: err})
			return
		}
		if !send(event{c: c}) {
			return
		}
	}
}

// fail handles a failed attempt before its first token: it records the
// failure and decides what the target gets next. A non-nil error ends the
// phase (content filter, cancellation).
func (s *stream) fail(a *attempt, err error) error {
	pe := providerError(a, err)
	s.failed(a, pe)
	ts, now := a.ts, time.Now()
	switch pe.Class {
	case switchboard.FailContentFilter:
		return contentFilterError(pe.Message)
	case switchboard.FailCanceled:
		if s.ctx.Err() != nil {
			return s.canceled()
		}
		ts.done = true
	case switchboard.FailConnect, switchboard.FailCut:
		// Connect error or reset: once more at once, then move on.
		if !ts.connRetried {
			ts.connRetried, ts.retry, ts.retryAt = true, true, now
		} else {
			ts.done = true
		}
	case switchboard.FailServer:
		// 5xx: once more after a short jittered backoff, then move on.
		if !ts.serverRetried {
			backoff := 50*time.Millisecond + rand.N(150*time.Millisecond)
			ts.serverRetried, ts.retry, ts.retryAt = true, true, now.Add(backoff)
		} else {
			ts.done = true
		}
	case switchboard.FailRateLimited:
		// Cooled down: skipped while another target can answer.
		a.t.coolDown(s.r.now(), pe.RetryAfter)
	case switchboard.FailContextLength:
		// Never this model again in this request.
		s.badModels = append(s.badModels, a.t.model)
	case switchboard.FailRejected:
		if a.req.Prefill != "" && !ts.contForm {
			// Prefill refused: once more as a continuation request.
			ts.contForm, ts.retry, ts.retryAt = true, true, now
		} else {
			ts.done = true
		}
	default: // malformed, timeout
		ts.done = true
	}
	return nil
}

// failed records a failed attempt: breaker, error metric, usage record.
func (s *stream) failed(a *attempt, pe *switchboard.ProviderError) {
	s.lastErr = pe
	a.ts.busy = false
	if !a.judged {
		a.t.done(s.r.now(), a.probe, pe.Class)
		a.judged = true
	} else if healthFailure(pe.Class) {
		// Failed after its first token (cut, stalled): a failure as well.
		a.t.done(s.r.now(), false, pe.Class)
	}
	s.r.logger.Debug("provider attempt failed", "route", s.rt.name, "provider", a.t.pname,
		"model", a.t.model, "class", pe.Class, "err", pe)
	if !a.gotFirst {
		s.record(a, switchboard.Usage{}, 0, pe.Class)
	}
}

// abandon cancels an attempt the router no longer waits for (budget,
// caller gone); it says nothing about the target's health.
func (s *stream) abandon(a *attempt) {
	a.cancel()
	a.ts.busy = false
	if !a.judged {
		a.t.done(s.r.now(), a.probe, switchboard.FailCanceled)
		a.judged = true
	}
}

// lost cancels a hedge race's loser and records its (estimated) usage:
// the prompt was sent and may be billed.
func (s *stream) lost(a *attempt) {
	s.abandon(a)
	u := switchboard.Usage{PromptTokens: s.r.est.prompt(a.req), Estimated: true}
	cost := a.t.price.Cost(u)
	a.t.bill(u, cost)
	s.record(a, u, cost, switchboard.FailCanceled)
}

// record passes a usage record to OnUsage.
func (s *stream) record(a *attempt, u switchboard.Usage, cost float64, outcome string) {
	if s.r.onUsage == nil {
		return
	}
	s.r.onUsage(switchboard.UsageRecord{
		Subject:   s.req.Subject,
		Provider:  a.t.pname,
		Model:     a.t.model,
		Usage:     u,
		Cost:      cost,
		Outcome:   outcome,
		TTFTMs:    a.ttft.Milliseconds(),
		CreatedAt: s.r.now(),
	})
}

func providerError(a *attempt, err error) *switchboard.ProviderError {
	var pe *switchboard.ProviderError
	if errors.As(err, &pe) {
		return pe
	}
	class := switchboard.FailServer
	msg := ""
	switch switchboard.ErrorCode(err) {
	case switchboard.ECONTENTFILTER:
		class, msg = switchboard.FailContentFilter, switchboard.ErrorMessage(err)
	case switchboard.EUNAVAILABLE:
		class = switchboard.FailServer
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		class = switchboard.FailCanceled
	}
	return &switchboard.ProviderError{Provider: a.t.pname, Model: a.t.model, Class: class,
		Retryable: class == switchboard.FailServer, Message: msg, Err: err}
}

func contentFilterError(reason string) error {
	if reason == "" {
		reason = "The provider refused to answer on policy grounds."
	}
	return &switchboard.Error{Code: switchboard.ECONTENTFILTER, Message: reason}
}

func (s *stream) exhausted() error {
	return &switchboard.Error{Code: switchboard.EUNAVAILABLE,
		Message: "No model provider is available right now; please try again shortly.", RetryAfter: unavailableRetryAfter}
}

func (s *stream) canceled() error {
	err := s.ctx.Err()
	if err == nil {
		err = context.Canceled
	}
	return &switchboard.ProviderError{Provider: "router", Model: s.rt.name, Class: switchboard.FailCanceled, Err: err}
}

// Recv returns the next chunk of the answer; after the final one, io.EOF.
// A cut, stalled or failing upstream is continued on the next healthy
// target and spliced in; when nothing can continue it, Recv returns
// EINTERRUPTED (ECONTENTFILTER when a continuation was refused).
func (s *stream) Recv() (switchboard.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.finished {
			return switchboard.Chunk{}, s.err
		}
		if s.hasRaw {
			s.hasRaw = false
			if out, ok := s.process(s.raw); ok {
				return out, nil
			}
			continue
		}
		a := s.cur
		s.timer.Reset(s.rt.cfg.IdleTimeout)
		select {
		case ev := <-a.ch:
			switch {
			case ev.err == io.EOF:
				s.raw, s.hasRaw = switchboard.Chunk{FinishReason: "stop"}, true
			case ev.err != nil:
				s.interrupted(a, ev.err)
			default:
				s.raw, s.hasRaw = ev.c, true
			}
		case <-s.timer.C:
			s.interrupted(a, &switchboard.ProviderError{Provider: a.t.pname, Model: a.t.model,
				Class: switchboard.FailTimeout, Retryable: true, Message: "stream stalled"})
		case <-s.ctx.Done():
			s.stop(s.canceled(), switchboard.FailCanceled)
		}
	}
}

// interrupted continues an answer whose upstream failed after the commit
// point on the next healthy target, or ends the stream.
func (s *stream) interrupted(a *attempt, err error) {
	a.cancel()
	pe := providerError(a, err)
	if pe.Class == switchboard.FailCanceled && s.ctx.Err() != nil {
		s.stop(s.canceled(), switchboard.FailCanceled)
		return
	}
	s.failed(a, pe)
	s.closeSegment(a, nil, pe.Class)
	if pe.Class == switchboard.FailContentFilter {
		s.finish(contentFilterError(pe.Message))
		return
	}
	if pe.Class == switchboard.FailContextLength {
		s.badModels = append(s.badModels, a.t.model)
	}
	if s.continuations >= maxContinuations {
		s.finish(interruptedError())
		return
	}
	s.continuations++
	s.newPhase(a.t)
	s.cur = nil
	next, c, err := s.race(false)
	if err != nil {
		switch switchboard.ErrorCode(err) {
		case switchboard.ECONTENTFILTER:
			s.finish(err)
		case switchboard.EUNAVAILABLE:
			s.finish(interruptedError())
		default:
			s.finish(err)
		}
		return
	}
	s.rt.conts.Inc()
	s.cur, s.raw, s.hasRaw = next, c, true
	s.announce, s.overlapCheck, s.obuf = true, true, ""
}

func interruptedError() error {
	return &switchboard.Error{Code: switchboard.EINTERRUPTED,
		Message: "The answer was interrupted and could not be completed."}
}

// process turns an upstream chunk into the caller's chunk; ok is false when
// there is nothing to pass on yet.
func (s *stream) process(c switchboard.Chunk) (out switchboard.Chunk, ok bool) {
	a := s.cur
	text := c.Text
	if s.overlapCheck {
		s.obuf += text
		if c.FinishReason == "" && c.ToolCall == nil && s.undecided(s.obuf) {
			return out, false
		}
		text = s.obuf[s.overlap(s.obuf):]
		s.overlapCheck, s.obuf = false, ""
	}
	out.Text, out.ToolCall = text, c.ToolCall
	s.answer.WriteString(text)
	if c.FinishReason != "" {
		return s.final(a, c, out), true
	}
	if text == "" && c.ToolCall == nil {
		return out, false
	}
	if s.announce {
		out.Provider, out.Model = a.t.pname, a.t.model
		s.announce = false
	}
	return out, true
}

// prefixTail returns the last n bytes of the answer so far (with the
// caller's own prefill in front of it).
func (s *stream) prefixTail(n int) string {
	p := s.answer.String()
	if len(p) < n {
		p = s.req.Prefill + p
	}
	if len(p) > n {
		p = p[len(p)-n:]
	}
	return p
}

// undecided reports whether the start of a continuation could still grow
// into a repeat of the answer's tail.
func (s *stream) undecided(buf string) bool {
	return len(buf) < maxOverlap && strings.Contains(s.prefixTail(maxOverlap), buf)
}

// overlap returns how many leading bytes of buf repeat the answer's tail.
func (s *stream) overlap(buf string) int {
	tail := s.prefixTail(maxOverlap)
	for k := min(len(tail), len(buf)); k >= minOverlap; k-- {
		if strings.HasSuffix(tail, buf[:k]) {
			return k
		}
	}
	return 0
}

// final completes the answer with the final chunk of attempt a.
func (s *stream) final(a *attempt, c switchboard.Chunk, out switchboard.Chunk) switchboard.Chunk {
	s.closeSegment(a, c.Usage, "ok")
	u := s.usage
	out.Provider, out.Model = a.t.pname, a.t.model
	out.FinishReason, out.Usage, out.Cost = c.FinishReason, &u, s.cost
	s.finish(io.EOF)
	return out
}

// closeSegment bills the part of the answer attempt a produced: the usage
// the provider reported, or an estimate.
func (s *stream) closeSegment(a *attempt, reported *switchboard.Usage, outcome string) {
	var u switchboard.Usage
	if reported != nil {
		u = *reported
	} else {
		u = switchboard.Usage{
			PromptTokens:     s.r.est.prompt(a.req),
			CompletionTokens: s.r.est.count(s.answer.String()[a.segStart:]),
			Estimated:        true,
		}
	}
	cost := a.t.price.Cost(u)
	a.t.bill(u, cost)
	s.usage.PromptTokens += u.PromptTokens
	s.usage.CompletionTokens += u.CompletionTokens
	s.usage.Estimated = s.usage.Estimated || u.Estimated
	s.cost += cost
	s.record(a, u, cost, outcome)
}

// stop ends the stream because the caller went away: the current segment
// is billed as cancelled.
func (s *stream) stop(err error, outcome string) {
	if s.cur != nil && !s.finished {
		s.cur.cancel()
		s.closeSegment(s.cur, nil, outcome)
	}
	s.finish(err)
}

// finish ends the stream with err (io.EOF after a complete answer) and
// cancels every upstream request.
func (s *stream) finish(err error) {
	if s.finished {
		return
	}
	s.finished, s.err = true, err
	s.cancel()
}

// Close cancels the upstream requests and waits for their pumps; safe to
// call more than once and concurrently with Recv.
func (s *stream) Close() error {
	s.cancel()
	s.mu.Lock()
	if !s.finished {
		s.stop(s.canceled(), switchboard.FailCanceled)
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.timer.Stop()
	return nil
}
