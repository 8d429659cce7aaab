// Package redis implements Switchboard's shared state for the scale-out
// shape on Redis: rate limits and budgets (Lua scripts, exact across
// instances because they read Redis's clock) and the conversation context
// cache.
//
// Every key starts with Options.Prefix (default "sb:") and carries its
// subject in a hash tag ("sb:ctx:{conversation}"), so one operation touches
// one cluster slot, and every key has a TTL, so an allkeys-lru Redis can
// evict any of them. Requires Redis 6.2 or later (GETEX).
package redis

import (
	"context"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultPrefix of every key.
const DefaultPrefix = "sb:"

// Options configure a Client.
type Options struct {
	// Prefix of every key; default "sb:". Tests use a unique one.
	Prefix string
}

// Client is a connection pool to one Redis server, safe for concurrent use.
type Client struct {
	rdb    *goredis.Client
	prefix string
}

// Open connects to the Redis at url (redis://[user:pass@]host:port/db,
// rediss:// for TLS; go-redis query options such as dial_timeout or
// max_retries apply) and pings it.
func Open(ctx context.Context, url string) (*Client, error) {
	return OpenWithOptions(ctx, url, Options{})
}

// OpenWithOptions is Open with options.
func OpenWithOptions(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	o, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url %s: %w", redact(rawURL), err)
	}
	// Fail fast rather than stall requests when Redis is away: the callers
	// (limiter, cache) have fallbacks. Query options in the URL win.
	if o.DialTimeout == 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = time.Second
	}
	if o.MaxRetries == 0 {
		// One retry covers a pooled connection that died with a restarted
		// server. A retried limiter script can at worst record a request
		// twice: limits err on the strict side, never the lax one.
		o.MaxRetries = 1
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 1 // go-redis would try 5 dials, 100 ms apart
	}
	if o.MaintNotificationsConfig == nil {
		// Cluster maintenance push notifications are a Redis Enterprise/Cloud
		// feature; don't probe for them on every connection.
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
	c := NewClient(goredis.NewClient(o), opts)
	if err := c.Ping(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// NewClient wraps an existing go-redis client; Close closes it.
func NewClient(rdb *goredis.Client, opts Options) *Client {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &Client{rdb: rdb, prefix: opts.Prefix}
}

// Ping checks that Redis answers (for /readyz).
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (c *Client) Close() error { return c.rdb.Close() }

// Redis returns the underlying go-redis client, for other packages of the
// scale-out shape (event fan-out, presence) to share one pool.
func (c *Client) Redis() *goredis.Client { return c.rdb }

// key returns prefix + kind + ":{" + id + "}": the id is the hash tag.
func (c *Client) key(kind, id string) string {
	return c.prefix + kind + ":{" + id + "}"
}

// redact hides the password of a Redis URL in error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
