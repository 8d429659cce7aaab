package limit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// FailPolicy says what a Failover does while its primary limiter fails.
type FailPolicy string

const (
	// FailOpen allows every request: availability over enforcement.
	FailOpen FailPolicy = "open"
	// FailClosed denies every request with ERATELIMITED.
	FailClosed FailPolicy = "closed"
)

// FailClosedRetryAfter is the retry hint of requests denied by FailClosed.
const FailClosedRetryAfter = 3 * time.Second

// ProbeEvery is how often a failing primary is tried again. In between,
// decisions follow the policy at once instead of each waiting for the
// primary to time out.
const ProbeEvery = time.Second

var _ switchboard.Limiter = (*Failover)(nil)

// Failover wraps a shared limiter (Redis) that can fail. While it fails,
// decisions follow the policy and only one request per ProbeEvery asks the
// primary again; every transition (failing, recovered) is logged once, and
// Healthy reports the current state for /readyz.
type Failover struct {
	primary switchboard.Limiter
	policy  FailPolicy
	logger  *slog.Logger
	now     func() time.Time

	mu        sync.Mutex
	lastErr   error // nil while healthy
	since     time.Time
	nextProbe time.Time // while failing: when the primary may be asked again
}

// WithFallback returns primary wrapped with policy (FailOpen unless
// FailClosed). logger may be nil.
func WithFallback(primary switchboard.Limiter, policy FailPolicy, logger *slog.Logger) *Failover {
	if policy != FailClosed {
		policy = FailOpen
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Failover{primary: primary, policy: policy, logger: logger, now: time.Now}
}

// Allow asks the primary. When it fails (other than by ctx ending), Allow
// returns an allowing decision and no error under FailOpen, and under
// FailClosed a denying decision together with an ERATELIMITED error, so
// callers deny whether they look at the error or the decision. Errors of
// ctx are returned as they are.
func (f *Failover) Allow(ctx context.Context, key string, limit switchboard.RateLimit) (switchboard.Decision, error) {
	if err := ctx.Err(); err != nil {
		return switchboard.Decision{}, err
	}
	if err := f.skip(); err != nil {
		return f.fallback(limit)
	}
	d, err := f.primary.Allow(ctx, key, limit)
	return f.decide(ctx, d, err, limit)
}

// skip returns the primary's last error while it is failing and not due
// for a probe; the caller that gets nil asks the primary.
func (f *Failover) skip() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastErr == nil {
		return nil
	}
	now := f.now()
	if now.Before(f.nextProbe) {
		return f.lastErr
	}
	f.nextProbe = now.Add(ProbeEvery) // this caller probes; the others don't
	return nil
}

// Peek is Allow without recording, for a primary that can peek (see
// auth.Counter); for one that cannot it returns an error.
func (f *Failover) Peek(ctx context.Context, key string, limit switchboard.RateLimit) (switchboard.Decision, error) {
	p, ok := f.primary.(interface {
		Peek(context.Context, string, switchboard.RateLimit) (switchboard.Decision, error)
	})
	if !ok {
		return switchboard.Decision{}, fmt.Errorf("limit: %T cannot peek", f.primary)
	}
	if err := ctx.Err(); err != nil {
		return switchboard.Decision{}, err
	}
	if err := f.skip(); err != nil {
		return f.fallback(limit)
	}
	d, err := p.Peek(ctx, key, limit)
	return f.decide(ctx, d, err, limit)
}

func (f *Failover) decide(ctx context.Context, d switchboard.Decision, err error, limit switchboard.RateLimit) (switchboard.Decision, error) {
	if err == nil {
		f.setHealth(nil)
		return d, nil
	}
	if ctx.Err() != nil {
		return d, err // the caller gave up; says nothing about the primary
	}
	f.setHealth(err)
	return f.fallback(limit)
}

// fallback is the decision of the policy.
func (f *Failover) fallback(limit switchboard.RateLimit) (switchboard.Decision, error) {
	if f.policy == FailOpen {
		return switchboard.Decision{Allowed: true, Limit: limit.Requests, Remaining: limit.Requests}, nil
	}
	return switchboard.Decision{Limit: limit.Requests, RetryAfter: FailClosedRetryAfter, Reset: FailClosedRetryAfter},
		&switchboard.Error{
			Code:       switchboard.ERATELIMITED,
			Message:    "Rate limiting is temporarily unavailable. Try again shortly.",
			RetryAfter: FailClosedRetryAfter,
		}
}

func (f *Failover) setHealth(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err == nil && f.lastErr != nil:
		f.logger.Info("rate limiter recovered", "down_for", f.now().Sub(f.since).Round(time.Millisecond))
		f.lastErr = nil
	case err != nil && f.lastErr == nil:
		f.since = f.now()
		f.nextProbe = f.since.Add(ProbeEvery)
		f.logger.Error("rate limiter unavailable", "policy", string(f.policy), "err", err)
		f.lastErr = err
	case err != nil:
		f.lastErr = err // keep the latest cause, log nothing new
	}
}

// Healthy returns nil while the primary answers, else why it does not, since
// when, and which policy applies.
func (f *Failover) Healthy() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastErr == nil {
		return nil
	}
	return fmt.Errorf("rate limiter failing %s since %s: %w",
		f.policy, f.since.UTC().Format(time.RFC3339), f.lastErr)
}
