package kb_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/switchboard-chat/switchboard/kb"
	"github.com/switchboard-chat/switchboard/sqlite"
)

// MustOpenSQLite opens a SQLite store in a temporary directory, closed when
// the test ends.
func MustOpenSQLite(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestKBSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.db")
	db := MustOpenSQLite(t, path)
	testKB(t, db, func() *kb.KB {
		// A new process: its own connection to the same file.
		return kb.New(MustOpenSQLite(t, path), nil)
	})
}
