package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/postgres"
	"github.com/switchboard-chat/switchboard/storetest"
)

// MustOpenDB opens a fresh test database, closed when tb ends.
func MustOpenDB(tb testing.TB) (*postgres.DB, string) {
	tb.Helper()
	url := testenv.PostgresURL(tb)
	return mustOpenURL(tb, url), url
}

func mustOpenURL(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func openStore(tb testing.TB) (switchboard.Store, func() switchboard.Store) {
	db, url := MustOpenDB(tb)
	return db, func() switchboard.Store {
		if err := db.Close(); err != nil {
			tb.Fatal(err)
		}
		return mustOpenURL(tb, url)
	}
}

func TestStore(t *testing.T) { storetest.Run(t, openStore) }

func BenchmarkAppendMessage(b *testing.B) { storetest.Bench(b, openStore) }

// TestMigrateConcurrent starts several instances on one empty database at
// once: each migration is applied exactly once.
func TestMigrateConcurrent(t *testing.T) {
	url := testenv.PostgresURL(t)
	const n = 5
	applied := make([][]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), url, 2)
			if err != nil {
				t.Error(err)
				return
			}
			defer db.Close()
			applied[i] = db.Applied()
		})
	}
	wg.Wait()
	total := 0
	for _, a := range applied {
		total += len(a)
	}
	if total == 0 {
		t.Fatal("no instance applied the migrations")
	}
	seen := map[string]int{}
	for _, a := range applied {
		for _, name := range a {
			seen[name]++
		}
	}
	for name, k := range seen {
		if k != 1 {
			t.Fatalf("migration %s applied %d times", name, k)
		}
	}
	db := mustOpenURL(t, url)
	if names, err := db.Migrate(t.Context()); err != nil || len(names) != 0 {
		t.Fatalf("Migrate on a migrated database: %v, %v", names, err)
	}
}

// TestAppendManyProcesses appends from several independent pools (as from
// several server instances) to one conversation: seqs stay gap-free.
func TestAppendManyProcesses(t *testing.T) {
	db, url := MustOpenDB(t)
	conv := storetest.MustConversation(t, db)
	const pools, per = 4, 25
	var wg sync.WaitGroup
	for range pools {
		other := mustOpenURL(t, url)
		for range per {
			wg.Go(func() {
				m := &switchboard.Message{ConversationID: conv.ID, Sender: switchboard.SenderContact, Kind: switchboard.KindText, Content: "x"}
				if _, _, err := other.AppendMessage(t.Context(), m); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	events, err := db.FindEvents(t.Context(), conv.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != pools*per {
		t.Fatalf("%d events, want %d", len(events), pools*per)
	}
	for i, ev := range events {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
}
