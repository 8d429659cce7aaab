// Package sqlite is the embedded durable store: one SQLite file in WAL mode
// (modernc.org/sqlite, no cgo).
//
// Writes go through a pool of exactly one connection and every write
// transaction starts with BEGIN IMMEDIATE, so writers queue in Go instead of
// failing with SQLITE_BUSY on a read-to-write lock upgrade; reads use a
// separate pool of read-only connections and never wait for writers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ switchboard.Store = (*DB)(nil)

// Extended SQLite result codes we map to domain errors.
const (
	sqliteConstraintForeignKey = 787
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// DB is the SQLite store.
type DB struct {
	path    string
	w       *sql.DB // one connection: all writes
	r       *sql.DB // read-only connections
	wc, rc  *stmtCache
	wq, rq  cached // w and r through the statement cache
	applied []string

	// Now returns the current time; tests may replace it before use.
	Now func() time.Time
}

// Open opens (creating it and its directory when missing) the database file
// at path and applies pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite open: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite open: %w", err)
		}
	}
	db := &DB{path: path, Now: time.Now}

	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db.w = w
	// Open the writer first so the file exists and is in WAL mode before
	// any reader connects.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite open: %w", err)
	}

	q = url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.r = r
	db.wc, db.rc = newStmtCache(w), newStmtCache(r)
	db.wq, db.rq = cached{c: db.wc}, cached{c: db.rc}

	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.applied = applied
	return db, nil
}

// Path returns the database file path.
func (db *DB) Path() string { return db.path }

// Applied returns the names of the migrations Open applied.
func (db *DB) Applied() []string { return db.applied }

// Migrate applies pending migrations in name order, each recorded in
// schema_migrations, and returns the names it applied.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlite migrate: %w", err)
	}
	sort.Strings(names)
	var applied []string
	err = db.withTx(ctx, func(tx querier) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
			return err
		}
		done := map[string]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT name FROM schema_migrations`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				return err
			}
			done[name] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, path := range names {
			name := strings.TrimPrefix(path, "migrations/")
			if done[name] {
				continue
			}
			body, err := migrations.ReadFile(path)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
				name, db.now().UnixMilli()); err != nil {
				return err
			}
			applied = append(applied, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite migrate: %w", err)
	}
	return applied, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite ping: %w", err)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.wc != nil {
		db.wc.close()
		db.rc.close()
	}
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	return errors.Join(errs...)
}

// now is the current time in UTC at the stored (millisecond) precision.
func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Millisecond) }

// withTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it
// when fn returns nil.
func (db *DB) withTx(ctx context.Context, fn func(tx querier) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(cached{c: db.wc, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	db.wc.preparePending(context.WithoutCancel(ctx))
	return nil
}

type scanner interface {
	Scan(dest ...any) error
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}

func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode json: %w", err)
	}
	return nil
}

// sqliteCode returns the extended result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqliteConstraintUnique || c == sqliteConstraintPrimaryKey
}

func isForeignKey(err error) bool { return sqliteCode(err) == sqliteConstraintForeignKey }

// limitArg turns a limit of 0 or less into SQLite's "no limit".
func limitArg(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// placeholders returns "?, ?, ?" for n arguments.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// setList builds the SET clause of a partial update. Column names are
// constants of this package; values are always bound parameters.
type setList struct {
	cols []string
	args []any
}

func (s *setList) add(col string, v any) {
	s.cols = append(s.cols, col+" = ?")
	s.args = append(s.args, v)
}

func (s *setList) String() string { return strings.Join(s.cols, ", ") }
