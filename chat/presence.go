package chat

import (
	"context"
	"sync"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// Presence timing: a console socket heartbeats; an agent whose sockets are
// all gone (or silent) for awayAfter becomes away.
const (
	awayAfter     = 30 * time.Second
	presenceCheck = 5 * time.Second
)

type presence struct {
	e     *Engine
	mu    sync.Mutex
	conns map[string]map[int64]time.Time // user -> socket id -> last beat
	gone  map[string]time.Time           // user -> when the last socket left
	next  int64
}

func newPresence(e *Engine) *presence {
	return &presence{e: e, conns: map[string]map[int64]time.Time{}, gone: map[string]time.Time{}}
}

// AgentConnected registers an agent console socket and marks the agent
// online. It returns the heartbeat and disconnect functions.
func (e *Engine) AgentConnected(ctx context.Context, userID string) (beat func(), leave func()) {
	p := e.presence
	p.mu.Lock()
	p.next++
	id := p.next
	if p.conns[userID] == nil {
		p.conns[userID] = map[int64]time.Time{}
	}
	first := len(p.conns[userID]) == 0
	p.conns[userID][id] = time.Now()
	delete(p.gone, userID)
	p.mu.Unlock()
	if first {
		if u, err := e.store.FindUserByID(ctx, userID); err == nil && u.Presence == sb.PresenceOffline {
			e.SetPresence(ctx, userID, sb.PresenceOnline)
		}
	}
	beat = func() {
		p.mu.Lock()
		if m := p.conns[userID]; m != nil {
			if _, ok := m[id]; ok {
				m[id] = time.Now()
			}
		}
		p.mu.Unlock()
	}
	leave = func() {
		p.mu.Lock()
		if m := p.conns[userID]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(p.conns, userID)
				p.gone[userID] = time.Now()
			}
		}
		p.mu.Unlock()
	}
	return beat, leave
}

// SetPresence stores an agent's presence; an agent coming online takes
// conversations waiting in the queue.
func (e *Engine) SetPresence(ctx context.Context, userID string, pr sb.Presence) error {
	if _, err := e.store.UpdateUser(ctx, userID, sb.UserUpdate{Presence: &pr}); err != nil {
		return err
	}
	e.logger.Info("presence", "user_id", userID, "presence", pr)
	if pr == sb.PresenceOnline {
		e.AssignQueued(ctx)
	}
	return nil
}

func (p *presence) run(ctx context.Context) {
	t := time.NewTicker(presenceCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var away []string
			p.mu.Lock()
			for u, m := range p.conns {
				for id, beat := range m {
					if now.Sub(beat) > 2*awayAfter {
						delete(m, id)
					}
				}
				if len(m) == 0 {
					delete(p.conns, u)
					p.gone[u] = now
				}
			}
			for u, at := range p.gone {
				if now.Sub(at) >= awayAfter {
					away = append(away, u)
					delete(p.gone, u)
				}
			}
			p.mu.Unlock()
			for _, u := range away {
				if usr, err := p.e.store.FindUserByID(ctx, u); err == nil && usr.Presence == sb.PresenceOnline {
					_ = p.e.SetPresence(ctx, u, sb.PresenceAway)
				}
			}
		}
	}
}
