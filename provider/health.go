package provider

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-chat/switchboard"
)

// Breaker states; the values are those of the breaker_state gauge.
const (
	breakerClosed   = 0
	breakerHalfOpen = 1
	breakerOpen     = 2
)

var breakerNames = [...]string{"closed", "half-open", "open"}

// BreakerConfig shapes the per-target circuit breakers: a target whose
// error rate over its last Window calls (only those younger than
// WindowTime) reaches Threshold, with at least MinCalls calls, opens for
// Cooldown; then one probe request is let through (half-open): success
// closes the breaker, failure opens it again.
type BreakerConfig struct {
	Window     int           // default 20
	WindowTime time.Duration // default 30s
	MinCalls   int           // default 5
	Threshold  float64       // default 0.5
	Cooldown   time.Duration // default 5s
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Window <= 0 {
		c.Window = 20
	}
	if c.WindowTime <= 0 {
		c.WindowTime = 30 * time.Second
	}
	if c.MinCalls <= 0 {
		c.MinCalls = 5
	}
	if c.Threshold <= 0 {
		c.Threshold = 0.5
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 5 * time.Second
	}
	return c
}

// ttftRing is how many recent times to first token a target keeps, for
// p50/p95 (hedging needs minHedgeSamples of them).
const (
	ttftRing        = 64
	minHedgeSamples = 20
	ewmaAlpha       = 0.2
	rateLimitWait   = time.Second // cooldown after a 429 without Retry-After
)

// outcome of one call, in the breaker window.
type outcome struct {
	at     time.Time
	failed bool
}

// target is one provider+model, shared by every route that lists it: its
// breaker, 429 cooldown, latency and spend.
type target struct {
	key      string // provider/model
	provider switchboard.Provider
	pname    string
	model    string
	price    Price
	cfg      BreakerConfig

	mTTFT       prometheus.Observer
	mState      prometheus.Gauge
	mPrompt     prometheus.Counter
	mCompletion prometheus.Counter
	mCost       prometheus.Counter
	mErrors     *prometheus.CounterVec // by class, curried

	mu            sync.Mutex
	state         int
	openUntil     time.Time
	probing       bool
	window        []outcome // ring of cfg.Window
	next          int
	cooldownUntil time.Time
	ttfts         [ttftRing]time.Duration
	nTTFT         int
	ewma          float64 // ms
	requests      int64
	failures      int64
	spend         float64
	tokens        int64
}

// admit reports whether a new attempt may go to t now. force lets an
// attempt through an open breaker or a cooldown (nothing else is left). A
// half-open breaker admits exactly one probe: probe is true for it and
// the caller must report its outcome (done).
func (t *target) admit(now time.Time, force bool) (ok, probe bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !force && now.Before(t.cooldownUntil) {
		return false, false
	}
	if t.state == breakerOpen && !now.Before(t.openUntil) {
		t.setState(breakerHalfOpen)
		t.probing = false
	}
	switch t.state {
	case breakerOpen:
		if !force {
			return false, false
		}
		return true, true
	case breakerHalfOpen:
		if t.probing && !force {
			return false, false
		}
		t.probing = true
		return true, true
	}
	return true, false
}

// started counts an attempt.
func (t *target) started() {
	t.mu.Lock()
	t.requests++
	t.mu.Unlock()
}

// blocked reports why t is not admitted now: cooling (with the time left)
// or an open breaker.
func (t *target) blocked(now time.Time) (cooling time.Duration, open bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.cooldownUntil) {
		cooling = t.cooldownUntil.Sub(now)
	}
	open = t.state == breakerOpen && now.Before(t.openUntil) || t.state == breakerHalfOpen && t.probing
	return cooling, open
}

// done reports the end of an attempt: failed is a health failure, class
// its class ("" on success), neutral an outcome that says nothing about
// health (cancelled, context length, content filter): it only releases
// a probe.
func (t *target) done(now time.Time, probe bool, class string) {
	neutral := !healthFailure(class) && class != ""
	if class != "" && class != switchboard.FailCanceled {
		t.mErrors.WithLabelValues(class).Inc()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if class != "" && !neutral {
		t.failures++
	}
	if probe {
		t.probing = false
		switch {
		case neutral:
			// Say nothing; the next request probes again.
		case class == "":
			t.setState(breakerClosed)
			clear(t.window)
			t.next = 0
		default:
			t.setState(breakerOpen)
			t.openUntil = now.Add(t.cfg.Cooldown)
		}
		return
	}
	if neutral {
		return
	}
	t.window[t.next] = outcome{at: now, failed: class != ""}
	t.next = (t.next + 1) % len(t.window)
	if t.state != breakerClosed {
		return
	}
	if calls, failed := t.windowCounts(now); calls >= t.cfg.MinCalls && float64(failed) >= t.cfg.Threshold*float64(calls) {
		t.setState(breakerOpen)
		t.openUntil = now.Add(t.cfg.Cooldown)
	}
}

// healthFailure reports whether a failure class counts against a target's
// breaker. Rate limits have their own cooldown; context length, content
// filter, rejected requests and our own cancellations are about the
// request, not the target.
func healthFailure(class string) bool {
	switch class {
	case switchboard.FailConnect, switchboard.FailServer, switchboard.FailTimeout,
		switchboard.FailMalformed, switchboard.FailCut:
		return true
	}
	return false
}

func (t *target) windowCounts(now time.Time) (calls, failed int) {
	since := now.Add(-t.cfg.WindowTime)
	for _, o := range t.window {
		if o.at.IsZero() || o.at.Before(since) {
			continue
		}
		calls++
		if o.failed {
			failed++
		}
	}
	return calls, failed
}

func (t *target) setState(s int) {
	t.state = s
	t.mState.Set(float64(s))
}

// coolDown keeps t out of rotation for d after a 429.
func (t *target) coolDown(now time.Time, d time.Duration) {
	if d <= 0 {
		d = rateLimitWait
	}
	t.mu.Lock()
	if until := now.Add(d); until.After(t.cooldownUntil) {
		t.cooldownUntil = until
	}
	t.mu.Unlock()
}

// observeTTFT records a time to first token.
func (t *target) observeTTFT(d time.Duration) {
	t.mTTFT.Observe(d.Seconds())
	t.mu.Lock()
	t.ttfts[t.nTTFT%ttftRing] = d
	t.nTTFT++
	ms := float64(d) / float64(time.Millisecond)
	if t.nTTFT == 1 {
		t.ewma = ms
	} else {
		t.ewma = ewmaAlpha*ms + (1-ewmaAlpha)*t.ewma
	}
	t.mu.Unlock()
}

// latency returns the EWMA time to first token in ms, 0 when unknown.
func (t *target) latency() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ewma
}

// percentiles returns the p50 and p95 of recent TTFTs and how many there are.
func (t *target) percentiles() (p50, p95 time.Duration, n int) {
	var buf [ttftRing]time.Duration
	t.mu.Lock()
	n = min(t.nTTFT, ttftRing)
	copy(buf[:n], t.ttfts[:n])
	t.mu.Unlock()
	if n == 0 {
		return 0, 0, 0
	}
	s := buf[:n]
	slices.Sort(s)
	return s[(n-1)/2], s[(n*95+99)/100-1], n
}

// hedgeAfter returns when a hedge should start for an attempt on t, or 0
// when there are too few samples.
func (t *target) hedgeAfter() time.Duration {
	_, p95, n := t.percentiles()
	if n < minHedgeSamples {
		return 0
	}
	return p95
}

// bill records tokens and spend.
func (t *target) bill(u switchboard.Usage, cost float64) {
	t.mPrompt.Add(float64(u.PromptTokens))
	t.mCompletion.Add(float64(u.CompletionTokens))
	t.mCost.Add(cost)
	t.mu.Lock()
	t.spend += cost
	t.tokens += int64(u.Total())
	t.mu.Unlock()
}

// status fills the health fields of a TargetStatus.
func (t *target) status(now time.Time) switchboard.TargetStatus {
	p50, p95, _ := t.percentiles()
	t.mu.Lock()
	defer t.mu.Unlock()
	state := t.state
	if state == breakerOpen && !now.Before(t.openUntil) {
		state = breakerHalfOpen
	}
	calls, failed := t.windowCounts(now)
	s := switchboard.TargetStatus{
		Provider:  t.pname,
		Model:     t.model,
		Breaker:   breakerNames[state],
		TTFTp50Ms: float64(p50) / float64(time.Millisecond),
		TTFTp95Ms: float64(p95) / float64(time.Millisecond),
		EWMAms:    t.ewma,
		Requests:  t.requests,
		Failures:  t.failures,
		Spend:     t.spend,
		Tokens:    t.tokens,
	}
	if calls > 0 {
		s.ErrorRate = float64(failed) / float64(calls)
	}
	if now.Before(t.cooldownUntil) {
		s.CooldownSec = t.cooldownUntil.Sub(now).Seconds()
	}
	return s
}
