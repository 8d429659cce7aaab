package chat

import (
	"context"
	"sync"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// inboxTTL is how long an inbox read from the store is reused: every
// message needs its inbox (limits, prompt, route), which changes rarely.
const inboxTTL = 2 * time.Second

type cachedInbox struct {
	in *sb.Inbox
	at time.Time
}

type inboxCache struct {
	mu sync.Mutex
	m  map[string]cachedInbox
}

// Inbox returns an inbox, at most inboxTTL old (ENOTFOUND).
func (e *Engine) Inbox(ctx context.Context, id string) (*sb.Inbox, error) {
	now := time.Now()
	e.inboxes.mu.Lock()
	c, ok := e.inboxes.m[id]
	e.inboxes.mu.Unlock()
	if ok && now.Sub(c.at) < inboxTTL {
		return c.in, nil
	}
	in, err := e.store.FindInboxByID(ctx, id)
	if err != nil {
		return nil, err
	}
	e.inboxes.mu.Lock()
	if e.inboxes.m == nil || len(e.inboxes.m) > 10000 {
		e.inboxes.m = map[string]cachedInbox{}
	}
	e.inboxes.m[id] = cachedInbox{in: in, at: now}
	e.inboxes.mu.Unlock()
	return in, nil
}
