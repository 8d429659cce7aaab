package limit

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard"
)

var _ switchboard.Budgets = (*MemoryBudgets)(nil)

// TokenWindow is the sliding window of BudgetLimits.TokensPerMinute.
const TokenWindow = time.Minute

// MemoryBudgets is the in-process switchboard.Budgets: tokens in a sliding
// 60 s window (exact: every Add is kept until it leaves the window) and cost
// per UTC day, reset at midnight UTC. Idle subjects are dropped lazily, as
// in Memory; it owns no goroutine.
type MemoryBudgets struct {
	now      func() time.Time
	subjects *shardedMap[*spend]
}

// NewMemoryBudgets returns budgets reading time from now (time.Now when nil).
func NewMemoryBudgets(now func() time.Time) *MemoryBudgets {
	if now == nil {
		now = time.Now
	}
	return &MemoryBudgets{
		now: now,
		subjects: newShardedMap(now(), func(s *spend, t time.Time) bool {
			s.prune(t)
			return len(s.tokens) == 0 && (s.cost == 0 || s.day != utcDay(t))
		}),
	}
}

type tokenEvent struct {
	at     time.Time
	tokens int64
}

type spend struct {
	tokens []tokenEvent // oldest first, within TokenWindow
	sum    int64
	day    int64 // UTC day number of cost
	cost   float64
}

// prune drops token events that left the window and cost of a past day.
func (s *spend) prune(now time.Time) {
	i := 0
	for i < len(s.tokens) && !s.tokens[i].at.After(now.Add(-TokenWindow)) {
		s.sum -= s.tokens[i].tokens
		i++
	}
	if i > 0 {
		s.tokens = append(s.tokens[:0], s.tokens[i:]...)
	}
	if d := utcDay(now); d != s.day {
		s.day, s.cost = d, 0
	}
}

// Check returns EBUDGET with RetryAfter when subject has used its tokens of
// the last minute (until enough of them leave the window) or its cost of
// the day (until midnight UTC). Zero limits are not checked.
func (b *MemoryBudgets) Check(_ context.Context, subject string, limits switchboard.BudgetLimits) error {
	now := b.now()
	sh := b.subjects.lock(subject, now)
	defer sh.mu.Unlock()
	s := sh.m[subject]
	if s == nil {
		return nil
	}
	s.prune(now)
	if limits.TokensPerMinute > 0 && s.sum >= limits.TokensPerMinute {
		// Under the limit again once the oldest events carrying the excess leave.
		sum, retry := s.sum, time.Duration(0)
		for _, e := range s.tokens {
			sum -= e.tokens
			if sum < limits.TokensPerMinute {
				retry = e.at.Add(TokenWindow).Sub(now)
				break
			}
		}
		return TokenBudgetError(s.sum, limits.TokensPerMinute, retry)
	}
	if limits.CostPerDay > 0 && s.cost >= limits.CostPerDay {
		return CostBudgetError(s.cost, limits.CostPerDay, untilUTCMidnight(now))
	}
	return nil
}

// Add records spend. Negative values are ignored.
func (b *MemoryBudgets) Add(_ context.Context, subject string, tokens int64, cost float64) error {
	if tokens <= 0 && cost <= 0 {
		return nil
	}
	now := b.now()
	sh := b.subjects.lock(subject, now)
	defer sh.mu.Unlock()
	s := sh.m[subject]
	if s == nil {
		s = &spend{day: utcDay(now)}
		sh.m[subject] = s
	}
	s.prune(now)
	if tokens > 0 {
		s.tokens = append(s.tokens, tokenEvent{at: now, tokens: tokens})
		s.sum += tokens
	}
	if cost > 0 {
		s.cost += cost
	}
	return nil
}

// Spent returns subject's tokens in the last minute and cost today.
func (b *MemoryBudgets) Spent(_ context.Context, subject string) (switchboard.Spend, error) {
	now := b.now()
	sh := b.subjects.lock(subject, now)
	defer sh.mu.Unlock()
	s := sh.m[subject]
	if s == nil {
		return switchboard.Spend{}, nil
	}
	s.prune(now)
	return switchboard.Spend{TokensThisMinute: s.sum, CostToday: s.cost}, nil
}

// Len returns the number of subjects held (idle ones included until swept).
func (b *MemoryBudgets) Len() int { return b.subjects.len() }

func utcDay(t time.Time) int64 {
	return t.Unix() / 86400 // Unix time has no leap seconds: days are 86400 s
}

func untilUTCMidnight(t time.Time) time.Duration {
	t = t.UTC()
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(t)
}

// TokenBudgetError is the EBUDGET error of a subject over its tokens per
// minute, shared by every Budgets implementation so clients see one wording.
func TokenBudgetError(used, limit int64, retry time.Duration) error {
	return &switchboard.Error{
		Code:       switchboard.EBUDGET,
		Message:    fmt.Sprintf("Token budget exceeded: %d of %d tokens per minute used.", used, limit),
		RetryAfter: retry,
	}
}

// CostBudgetError is the EBUDGET error of a subject over its cost per day.
func CostBudgetError(used, limit float64, retry time.Duration) error {
	return &switchboard.Error{
		Code:       switchboard.EBUDGET,
		Message:    fmt.Sprintf("Daily cost budget exceeded: %.4f of %.4f used today (resets at 00:00 UTC).", used, limit),
		RetryAfter: retry,
	}
}
