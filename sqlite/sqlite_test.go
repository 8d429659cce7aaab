package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/sqlite"
	"github.com/switchboard-chat/switchboard/storetest"
)

// MustOpenDB opens a new database file in tb.TempDir, closed when tb ends.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "switchboard.db"))
}

func mustOpenPath(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func openStore(tb testing.TB) (switchboard.Store, func() switchboard.Store) {
	db := MustOpenDB(tb)
	return db, func() switchboard.Store {
		if err := db.Close(); err != nil {
			tb.Fatal(err)
		}
		return mustOpenPath(tb, db.Path())
	}
}

func TestStore(t *testing.T) { storetest.Run(t, openStore) }

func BenchmarkAppendMessage(b *testing.B) { storetest.Bench(b, openStore) }

func TestMigrate(t *testing.T) {
	db := MustOpenDB(t)
	if len(db.Applied()) == 0 {
		t.Fatal("Open applied no migrations to a new database")
	}
	names, err := db.Migrate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Fatalf("second Migrate applied %v", names)
	}
	// Reopening an existing file applies nothing.
	path := db.Path()
	db.Close()
	db = mustOpenPath(t, path)
	if len(db.Applied()) != 0 {
		t.Fatalf("reopen applied %v", db.Applied())
	}
}
