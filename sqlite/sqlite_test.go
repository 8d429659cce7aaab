package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
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

// TestPragmas checks the file is in WAL mode and foreign keys are enforced.
func TestPragmas(t *testing.T) {
	db := MustOpenDB(t)
	raw, err := sql.Open("sqlite", db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var mode string
	if err := raw.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
	// A contact of a missing inbox violates a foreign key.
	err = db.CreateContact(t.Context(), &switchboard.Contact{InboxID: "missing"})
	if switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
		t.Fatalf("contact of a missing inbox: %v", err)
	}
}

// TestTwoHandles writes through two handles on one file at once (the server
// and a CLI command): BEGIN IMMEDIATE and busy_timeout serialise them and
// seqs stay gap-free.
func TestTwoHandles(t *testing.T) {
	a := MustOpenDB(t)
	b := mustOpenPath(t, a.Path())
	conv := storetest.MustConversation(t, a)
	const per = 25
	var wg sync.WaitGroup
	for _, db := range []*sqlite.DB{a, b} {
		for range per {
			wg.Go(func() {
				m := &switchboard.Message{ConversationID: conv.ID, Sender: switchboard.SenderContact, Kind: switchboard.KindText, Content: "x"}
				if _, _, err := db.AppendMessage(t.Context(), m); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	events, err := b.FindEvents(t.Context(), conv.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2*per {
		t.Fatalf("%d events, want %d", len(events), 2*per)
	}
	for i, ev := range events {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
}

func TestOpenCreatesDir(t *testing.T) {
	db := mustOpenPath(t, filepath.Join(t.TempDir(), "data", "nested", "switchboard.db"))
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}
