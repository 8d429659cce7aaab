package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// Counter is a sliding-window limiter that can also be read without
// recording: what Throttle needs to count failures only. limit.Memory,
// limit.Failover and redis.Limiter implement it.
type Counter interface {
	switchboard.Limiter
	// Peek returns the decision Allow would make for key now, without
	// recording anything.
	Peek(ctx context.Context, key string, limit switchboard.RateLimit) (switchboard.Decision, error)
}

// ThrottleOptions configure a Throttle; zero fields take defaults.
type ThrottleOptions struct {
	Failures int           // failed attempts allowed per window; default 5
	Window   time.Duration // default 15 min
	Prefix   string        // key prefix in the Counter; default "login:"
}

// Throttle limits failed logins per email and per IP address: after
// Failures failed attempts within Window, Check refuses further attempts
// with ERATELIMITED until the oldest failure leaves the window. Successful
// logins are not counted.
//
// Use: Check before verifying the password, Fail when it was wrong.
type Throttle struct {
	counter switchboard.Limiter
	peek    func(context.Context, string, switchboard.RateLimit) (switchboard.Decision, error)
	limit   switchboard.RateLimit
	prefix  string
}

// NewThrottle returns a Throttle counting failures in c.
func NewThrottle(c Counter, opts ThrottleOptions) *Throttle {
	if opts.Failures <= 0 {
		opts.Failures = 5
	}
	if opts.Window <= 0 {
		opts.Window = 15 * time.Minute
	}
	if opts.Prefix == "" {
		opts.Prefix = "login:"
	}
	return &Throttle{
		counter: c,
		peek:    c.Peek,
		limit:   switchboard.RateLimit{Requests: opts.Failures, Window: opts.Window},
		prefix:  opts.Prefix,
	}
}

// Check returns ERATELIMITED (with RetryAfter) when email or ip has used up
// its failed attempts. An empty email or ip is not checked. Counter errors
// are returned as they are.
func (t *Throttle) Check(ctx context.Context, email, ip string) error {
	denied, retry := false, time.Duration(0)
	for _, key := range t.keys(email, ip) {
		d, err := t.peek(ctx, key, t.limit)
		if err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
		if !d.Allowed {
			denied, retry = true, max(retry, d.RetryAfter)
		}
	}
	if denied {
		return &switchboard.Error{
			Code:       switchboard.ERATELIMITED,
			Message:    "Too many failed login attempts. Try again later.",
			RetryAfter: retry,
		}
	}
	return nil
}

// Fail records a failed attempt for email and ip.
func (t *Throttle) Fail(ctx context.Context, email, ip string) error {
	for _, key := range t.keys(email, ip) {
		// Past the limit the failure is not recorded, which is fine: the key
		// is already locked until its oldest failure expires.
		if _, err := t.counter.Allow(ctx, key, t.limit); err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
	}
	return nil
}

func (t *Throttle) keys(email, ip string) []string {
	keys := make([]string, 0, 2)
	if e := strings.ToLower(strings.TrimSpace(email)); e != "" {
		keys = append(keys, t.prefix+"email:"+e)
	}
	if ip != "" {
		keys = append(keys, t.prefix+"ip:"+ip)
	}
	return keys
}
