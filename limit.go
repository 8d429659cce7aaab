package switchboard

import (
	"context"
	"time"
)

// RateLimit is a sliding-window request limit.
type RateLimit struct {
	Requests int           `json:"requests"`
	Window   time.Duration `json:"window"`
}

// Decision of a limiter.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	RetryAfter time.Duration // when not allowed: until a slot frees
	Reset      time.Duration // until the window is empty again
}

// Limiter is a sliding-window rate limiter, exact under concurrency (and,
// for shared implementations, across instances).
type Limiter interface {
	// Allow records one request for key when it fits in the limit.
	Allow(ctx context.Context, key string, limit RateLimit) (Decision, error)
}

// BudgetLimits cap spend: tokens per minute and cost per day. Zero = no cap.
type BudgetLimits struct {
	TokensPerMinute int64   `json:"tokens_per_minute,omitempty"`
	CostPerDay      float64 `json:"cost_per_day,omitempty"`
}

// Spend of a subject in the current windows.
type Spend struct {
	TokensThisMinute int64   `json:"tokens_this_minute"`
	CostToday        float64 `json:"cost_today"`
}

// Budgets is the cost circuit breaker.
type Budgets interface {
	// Check returns EBUDGET (with RetryAfter until the window resets) when
	// the subject is over one of its limits.
	Check(ctx context.Context, subject string, limits BudgetLimits) error
	// Add records spend.
	Add(ctx context.Context, subject string, tokens int64, cost float64) error
	Spent(ctx context.Context, subject string) (Spend, error)
}

// ContextCache keeps a conversation's model context hot (Redis in
// scale-out; nil in the embedded mode, where the store is local).
type ContextCache interface {
	// Get returns the cached context since epoch; ok is false on a miss.
	Get(ctx context.Context, conversationID string, epoch int64) (msgs []ChatMessage, ok bool, err error)
	// Set replaces the cached context.
	Set(ctx context.Context, conversationID string, epoch int64, msgs []ChatMessage) error
	// Append adds messages atomically, trimming to the configured bounds.
	Append(ctx context.Context, conversationID string, epoch int64, msgs ...ChatMessage) error
	Invalidate(ctx context.Context, conversationID string) error
}
