package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard"
)

var _ switchboard.Limiter = (*Limiter)(nil)

// limiterScript is one sliding-window-log decision, atomic in Redis.
//
// KEYS[1]  the ZSET of the key: members "<sec><usec>-<random>", scores µs
// ARGV[1]  limit (requests)
// ARGV[2]  window in µs
// ARGV[3]  random member suffix (unique per call)
// ARGV[4]  "1" to peek: decide without recording
//
// The time is Redis's (TIME), so every instance sharing the Redis agrees on
// the window. Returns {allowed 0|1, count in window, retry_after µs,
// reset µs}.
var limiterScript = goredis.NewScript(`
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  allowed = 1
  if ARGV[4] ~= '1' then
    redis.call('ZADD', key, now, t[1] .. string.format('%06d', tonumber(t[2])) .. '-' .. ARGV[3])
    redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1)
    count = count + 1
  end
end

local retry = 0
if allowed == 0 then
  -- A slot frees when the (count-limit+1)th oldest entry leaves the window.
  local e = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  if e[2] then retry = tonumber(e[2]) + window - now end
end
local reset = 0
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if newest[2] then reset = tonumber(newest[2]) + window - now end
return {allowed, count, retry, reset}
`)

// Limiter is the Redis switchboard.Limiter: a sliding-window log in a ZSET
// per key ("sb:rl:{key}"), one Lua script per decision. Decisions are exact
// under concurrency and across every instance sharing the Redis.
//
// A zero RateLimit (Requests or Window <= 0) means no limit. Errors are
// Redis errors (wrap it in limit.WithFallback to choose a policy for them).
type Limiter struct {
	c *Client
}

// Limiter returns the Redis rate limiter.
func (c *Client) Limiter() *Limiter { return &Limiter{c: c} }

// Allow records one request for key when fewer than limit.Requests were
// allowed within the last limit.Window.
func (l *Limiter) Allow(ctx context.Context, key string, limit switchboard.RateLimit) (switchboard.Decision, error) {
	return l.decide(ctx, key, limit, false)
}

// Peek returns the decision Allow would make now, recording nothing.
func (l *Limiter) Peek(ctx context.Context, key string, limit switchboard.RateLimit) (switchboard.Decision, error) {
	return l.decide(ctx, key, limit, true)
}

func (l *Limiter) decide(ctx context.Context, key string, limit switchboard.RateLimit, peek bool) (switchboard.Decision, error) {
	if limit.Requests <= 0 || limit.Window <= 0 {
		return switchboard.Decision{Allowed: true}, nil
	}
	window := max(limit.Window.Microseconds(), 1)
	peekArg := "0"
	if peek {
		peekArg = "1"
	}
	res, err := limiterScript.Run(ctx, l.c.rdb, []string{l.c.key("rl", key)},
		limit.Requests, window, strconv.FormatUint(rand.Uint64(), 36), peekArg).Int64Slice()
	if err != nil {
		return switchboard.Decision{}, fmt.Errorf("redis limiter: %w", err)
	}
	if len(res) != 4 {
		return switchboard.Decision{}, fmt.Errorf("redis limiter: unexpected reply %v", res)
	}
	return switchboard.Decision{
		Allowed:    res[0] == 1,
		Limit:      limit.Requests,
		Remaining:  max(0, limit.Requests-int(res[1])),
		RetryAfter: time.Duration(res[2]) * time.Microsecond,
		Reset:      time.Duration(res[3]) * time.Microsecond,
	}, nil
}
