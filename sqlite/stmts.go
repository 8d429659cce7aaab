package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statement cache (dynamic UPDATE … SET and IN
// lists make a few variants of some queries).
const maxCachedStmts = 512

// stmtCache prepares each query once per pool. database/sql then keeps
// the prepared statement per connection and Tx.StmtContext reuses it on
// the transaction's connection. Without it modernc's driver parses the SQL
// on every call, which profiling of the chat path showed at about 17% of
// the server's CPU.
//
// Inside a transaction a query is never prepared on the pool: the write
// pool has one connection, which the transaction holds. It is noted and
// prepared after the commit (preparePending), so it is cached from its
// second use on.
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]struct{}
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, pending: map[string]struct{}{}}
}

// lookup returns the cached statement for q, noting q for preparation
// when it is not cached yet.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.RLock()
	st := c.m[q]
	c.mu.RUnlock()
	if st == nil {
		c.mu.Lock()
		if c.m[q] == nil && len(c.m)+len(c.pending) < maxCachedStmts {
			c.pending[q] = struct{}{}
		}
		c.mu.Unlock()
	}
	return st
}

// preparePending prepares the queries noted during transactions.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.RLock()
	n := len(c.pending)
	c.mu.RUnlock()
	if n == 0 {
		return
	}
	c.mu.Lock()
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range qs {
		c.get(ctx, q)
	}
}

// get returns the prepared statement for q, preparing it, or nil when it
// cannot be cached (the caller then runs the query directly). Never call
// it while holding a transaction of the same pool.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	c.mu.RLock()
	st, full := c.m[q], len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if st != nil || full {
		return st
	}
	// Prepare without holding mu: it may wait for the pool's connection,
	// which a transaction holds while it looks statements up.
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil // the direct call reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[q]; prev != nil {
		st.Close() // prepared concurrently
		return prev
	}
	c.m[q] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// cached is a querier running queries through the cache, in tx when set.
type cached struct {
	c  *stmtCache
	tx *sql.Tx
}

func (q cached) direct() querier {
	if q.tx != nil {
		return q.tx
	}
	return q.c.db
}

func (q cached) stmt(ctx context.Context, query string) *sql.Stmt {
	if q.tx == nil {
		return q.c.get(ctx, query)
	}
	if st := q.c.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st) // reuses the connection's prepared statement
	}
	return nil
}

func (q cached) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.direct().ExecContext(ctx, query, args...)
}

func (q cached) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.direct().QueryContext(ctx, query, args...)
}

func (q cached) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.direct().QueryRowContext(ctx, query, args...)
}
