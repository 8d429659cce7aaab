package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/limit"
)

var _ switchboard.Budgets = (*Budgets)(nil)

// budgetScript adds spend (ARGV[1] = "add") and/or reads it, in one HASH
// per subject ("sb:budget:{subject}"):
//
//	t:<unix second>  tokens added in that second (HINCRBY)
//	c:<UTC day>      cost added that day (HINCRBYFLOAT)
//
// Token buckets older than 60 s and cost of past days are deleted as they
// are met. The time is Redis's, so all instances agree on the minute and
// the day.
//
// ARGV[2] tokens to add, ARGV[3] cost to add, ARGV[4] token limit (0: none).
// Returns {tokens in the window, cost today (string), µs until the tokens
// are under the limit, µs until midnight UTC}.
var budgetScript = goredis.NewScript(`
local key = KEYS[1]
local t = redis.call('TIME')
local sec = tonumber(t[1])
local now = sec * 1000000 + tonumber(t[2])
local day = math.floor(sec / 86400)

if ARGV[1] == 'add' then
  local tokens = tonumber(ARGV[2])
  if tokens > 0 then redis.call('HINCRBY', key, 't:' .. sec, tokens) end
  if tonumber(ARGV[3]) > 0 then redis.call('HINCRBYFLOAT', key, 'c:' .. day, ARGV[3]) end
  -- Lives to the end of the day (cost) and at least a minute (tokens).
  redis.call('EXPIRE', key, 86400 - sec % 86400 + 61)
end

local all = redis.call('HGETALL', key)
local buckets = {}
local sum = 0
local cost = '0'
for i = 1, #all, 2 do
  local f = all[i]
  local kind, n = string.sub(f, 1, 1), tonumber(string.sub(f, 3))
  if kind == 't' then
    if n > sec - 60 then
      local v = tonumber(all[i + 1])
      sum = sum + v
      buckets[#buckets + 1] = {n, v}
    else
      redis.call('HDEL', key, f)
    end
  elseif kind == 'c' then
    if n == day then cost = all[i + 1] elseif n < day then redis.call('HDEL', key, f) end
  end
end

local retry = 0
local lim = tonumber(ARGV[4])
if lim > 0 and sum >= lim then
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  local s = sum
  for _, b in ipairs(buckets) do
    s = s - b[2]
    if s < lim then
      retry = (b[1] + 60) * 1000000 - now
      break
    end
  end
end
return {sum, cost, retry, (day + 1) * 86400 * 1000000 - now}
`)

// Budgets is the Redis switchboard.Budgets: tokens per minute over a
// sliding 60 s window of 1-second buckets, cost per UTC day (reset at
// midnight UTC), shared by every instance.
//
// Check and Add are separate calls (usage is known only once a completion
// ends), so a subject can overshoot a limit by the spend of the requests
// that passed Check while none of them had been added yet: at most
// (requests in flight for the subject) × (largest spend of one request).
// Callers keep that small with the rate limiter; the next Check after the
// overshoot refuses.
type Budgets struct {
	c *Client
}

// Budgets returns the Redis budgets.
func (c *Client) Budgets() *Budgets { return &Budgets{c: c} }

type budgetState struct {
	tokens        int64
	cost          float64
	tokenRetry    time.Duration
	untilMidnight time.Duration
}

func (b *Budgets) run(ctx context.Context, subject, mode string, tokens int64, cost float64, tokenLimit int64) (budgetState, error) {
	res, err := budgetScript.Run(ctx, b.c.rdb, []string{b.c.key("budget", subject)},
		mode, tokens, strconv.FormatFloat(cost, 'f', -1, 64), tokenLimit).Slice()
	if err != nil {
		return budgetState{}, fmt.Errorf("redis budgets: %w", err)
	}
	if len(res) != 4 {
		return budgetState{}, fmt.Errorf("redis budgets: unexpected reply %v", res)
	}
	tokens, ok0 := res[0].(int64)
	costStr, ok1 := res[1].(string)
	retry, ok2 := res[2].(int64)
	midnight, ok3 := res[3].(int64)
	if !ok0 || !ok1 || !ok2 || !ok3 {
		return budgetState{}, fmt.Errorf("redis budgets: unexpected reply %v", res)
	}
	st := budgetState{
		tokens:        tokens,
		tokenRetry:    time.Duration(retry) * time.Microsecond,
		untilMidnight: time.Duration(midnight) * time.Microsecond,
	}
	if st.cost, err = strconv.ParseFloat(costStr, 64); err != nil {
		return budgetState{}, fmt.Errorf("redis budgets: cost %q: %w", costStr, err)
	}
	return st, nil
}

// Check returns EBUDGET with RetryAfter when subject has used its tokens of
// the last minute (until enough of them leave the window) or its cost of
// the day (until midnight UTC). Zero limits are not checked.
func (b *Budgets) Check(ctx context.Context, subject string, limits switchboard.BudgetLimits) error {
	if limits.TokensPerMinute <= 0 && limits.CostPerDay <= 0 {
		return nil
	}
	st, err := b.run(ctx, subject, "read", 0, 0, max(0, limits.TokensPerMinute))
	if err != nil {
		return err
	}
	if limits.TokensPerMinute > 0 && st.tokens >= limits.TokensPerMinute {
		return limit.TokenBudgetError(st.tokens, limits.TokensPerMinute, st.tokenRetry)
	}
	if limits.CostPerDay > 0 && st.cost >= limits.CostPerDay {
		return limit.CostBudgetError(st.cost, limits.CostPerDay, st.untilMidnight)
	}
	return nil
}

// Add records spend. Negative values are ignored.
func (b *Budgets) Add(ctx context.Context, subject string, tokens int64, cost float64) error {
	if tokens <= 0 && cost <= 0 {
		return nil
	}
	_, err := b.run(ctx, subject, "add", max(0, tokens), max(0, cost), 0)
	return err
}

// Spent returns subject's tokens in the last minute and cost today.
func (b *Budgets) Spent(ctx context.Context, subject string) (switchboard.Spend, error) {
	st, err := b.run(ctx, subject, "read", 0, 0, 0)
	if err != nil {
		return switchboard.Spend{}, err
	}
	return switchboard.Spend{TokensThisMinute: st.tokens, CostToday: st.cost}, nil
}
