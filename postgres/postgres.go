// Package postgres is the scale-out durable store: PostgreSQL through pgx.
//
// Seqs are allocated with UPDATE conversations SET last_seq = last_seq + n
// … RETURNING last_seq inside the transaction that writes the message or
// event: the row lock orders concurrent writers across any number of
// processes, and a rollback returns the seq, so seqs stay gap-free.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/switchboard-chat/switchboard"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ switchboard.Store = (*DB)(nil)

// migrationLock is the advisory lock key held while migrating, so instances
// starting together apply each migration once.
const migrationLock = 0x5b_0a_4d_16

// PostgreSQL error codes we map to domain errors.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// DB is the PostgreSQL store.
type DB struct {
	pool    *pool
	applied []string

	// Now returns the current time; tests may replace it before use.
	Now func() time.Time
}

// Open connects to the database at url with at most maxConns connections
// (0: a default from GOMAXPROCS) and applies pending migrations.
func Open(ctx context.Context, url string, maxConns int) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres open: %w", err)
	}
	if maxConns <= 0 {
		maxConns = max(8, 4*runtime.GOMAXPROCS(0))
	}
	db := &DB{pool: newPool(cfg, maxConns), Now: time.Now}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres open: %w", err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.applied = applied
	return db, nil
}

// Applied returns the names of the migrations Open applied.
func (db *DB) Applied() []string { return db.applied }

// Migrate applies pending migrations in name order, each recorded in
// schema_migrations, under an advisory lock; it returns the names it applied.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres migrate: %w", err)
	}
	sort.Strings(names)
	var applied []string
	err = db.withTx(ctx, func(tx pgx.Tx) error {
		applied = nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name FROM schema_migrations`)
		if err != nil {
			return err
		}
		done, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, path := range names {
			name := strings.TrimPrefix(path, "migrations/")
			if contains(done, name) {
				continue
			}
			body, err := migrations.ReadFile(path)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`, name, db.now()); err != nil {
				return err
			}
			applied = append(applied, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres migrate: %w", err)
	}
	return applied, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	err := db.withConn(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) })
	if err != nil {
		return fmt.Errorf("postgres ping: %w", err)
	}
	return nil
}

// Close closes the connections. It may be called more than once.
func (db *DB) Close() error {
	db.pool.close()
	return nil
}

// now is the current time in UTC at the stored (millisecond) precision.
func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Millisecond) }

func (db *DB) withConn(ctx context.Context, fn func(c *pgx.Conn) error) error {
	c, err := db.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer db.pool.release(c)
	return fn(c)
}

// withTx runs fn in a read-committed transaction and commits it when fn
// returns nil.
func (db *DB) withTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{}, fn)
	})
}

// querier is a connection or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queryRow runs a one-row query on a pooled connection and scans it.
func (db *DB) queryRow(ctx context.Context, scan func(pgx.Row) error, sql string, args ...any) error {
	return db.withConn(ctx, func(c *pgx.Conn) error { return scan(c.QueryRow(ctx, sql, args...)) })
}

// exec runs one statement on a pooled connection.
func (db *DB) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := db.withConn(ctx, func(c *pgx.Conn) error {
		var err error
		tag, err = c.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// queryAll runs a query on a pooled connection and scans every row.
func queryAll[T any](ctx context.Context, db *DB, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	var out []T
	err := db.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, err
}

func utc(t time.Time) time.Time { return t.UTC() }

func toJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return b, nil
}

func fromJSON(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode json: %w", err)
	}
	return nil
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUnique(err error) bool { return pgCode(err) == pgUniqueViolation }

func isForeignKey(err error) bool { return pgCode(err) == pgForeignKeyViolation }

// constraint returns the constraint a PostgreSQL error names, or "".
func constraint(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.ConstraintName
	}
	return ""
}

// limitArg turns a limit of 0 or less into NULL, PostgreSQL's "no limit".
func limitArg(n int) any {
	if n <= 0 {
		return nil
	}
	return int64(n)
}

// args collects bound parameters and names them $1, $2, ….
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// setList builds the SET clause of a partial update. Column names are
// constants of this package; values are always bound parameters.
type setList struct {
	cols []string
	args args
}

func (s *setList) add(col string, v any) { s.cols = append(s.cols, col+" = "+s.args.add(v)) }

func (s *setList) String() string { return strings.Join(s.cols, ", ") }
