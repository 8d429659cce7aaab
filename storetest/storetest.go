// Package storetest is the contract suite of switchboard.Store. Every
// implementation runs it from its own tests:
//
//	func TestStore(t *testing.T) { storetest.Run(t, openTestDB) }
//
// open must return a new, empty store that is closed when tb ends, and a
// reopen function that closes that store and opens the same data again
// (also closed when tb ends). Close must tolerate being called twice.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// Open opens a fresh store for one test; see the package documentation.
type Open = func(tb testing.TB) (s switchboard.Store, reopen func() switchboard.Store)

// Run runs the whole contract suite, each case as a subtest on a fresh store.
func Run(t *testing.T, open func(tb testing.TB) (s switchboard.Store, reopen func() switchboard.Store)) {
	t.Run("Ping", func(t *testing.T) {
		s, _ := open(t)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("User", func(t *testing.T) { testUsers(t, open) })
	t.Run("AuthSession", func(t *testing.T) { testAuthSessions(t, open) })
	t.Run("Inbox", func(t *testing.T) { testInboxes(t, open) })
	t.Run("Contact", func(t *testing.T) { testContacts(t, open) })
	t.Run("Conversation", func(t *testing.T) { testConversations(t, open) })
	t.Run("UpdateConversation", func(t *testing.T) { testUpdateConversation(t, open) })
	t.Run("Message", func(t *testing.T) { testMessages(t, open) })
	t.Run("Event", func(t *testing.T) { testEvents(t, open) })
	t.Run("APIKey", func(t *testing.T) { testAPIKeys(t, open) })
	t.Run("Document", func(t *testing.T) { testDocuments(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Usage", func(t *testing.T) { testUsage(t, open) })
	t.Run("Setting", func(t *testing.T) { testSettings(t, open) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
}

// --- helpers ---------------------------------------------------------------

func ptr[T any](v T) *T { return &v }

// wantCode fails unless err carries the domain error code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := switchboard.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// same fails when got and want differ in their JSON form (which compares
// times as instants at the stored precision).
func same(tb testing.TB, what string, got, want any) {
	tb.Helper()
	g, err := json.Marshal(got)
	must(tb, err)
	w, err := json.Marshal(want)
	must(tb, err)
	if string(g) != string(w) {
		tb.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// MustInbox creates an inbox.
func MustInbox(tb testing.TB, s switchboard.Store) *switchboard.Inbox {
	tb.Helper()
	in := &switchboard.Inbox{Name: "Site", AllowedOrigins: []string{"https://example.com"}}
	must(tb, s.CreateInbox(context.Background(), in))
	return in
}

// MustConversation creates an inbox, a contact and a conversation.
func MustConversation(tb testing.TB, s switchboard.Store) *switchboard.Conversation {
	tb.Helper()
	ctx := context.Background()
	in := MustInbox(tb, s)
	c := &switchboard.Contact{InboxID: in.ID, Name: "Visitor"}
	must(tb, s.CreateContact(ctx, c))
	conv := &switchboard.Conversation{InboxID: in.ID, ContactID: c.ID, Status: switchboard.StatusBot, Owner: switchboard.OwnerBot}
	must(tb, s.CreateConversation(ctx, conv))
	return conv
}

func mustConversationIn(tb testing.TB, s switchboard.Store, inboxID string) *switchboard.Conversation {
	tb.Helper()
	ctx := context.Background()
	c := &switchboard.Contact{InboxID: inboxID}
	must(tb, s.CreateContact(ctx, c))
	conv := &switchboard.Conversation{InboxID: inboxID, ContactID: c.ID, Status: switchboard.StatusBot, Owner: switchboard.OwnerBot}
	must(tb, s.CreateConversation(ctx, conv))
	return conv
}

func text(convID, content string) *switchboard.Message {
	return &switchboard.Message{ConversationID: convID, Sender: switchboard.SenderContact, Kind: switchboard.KindText,
		Content: content, State: switchboard.StateComplete}
}

// checkSeqs fails unless the conversation's events are numbered exactly 1..n.
func checkSeqs(tb testing.TB, s switchboard.Store, convID string, n int64) {
	tb.Helper()
	ctx := context.Background()
	conv, err := s.FindConversationByID(ctx, convID)
	must(tb, err)
	if conv.LastSeq != n {
		tb.Fatalf("LastSeq = %d, want %d", conv.LastSeq, n)
	}
	events, err := s.FindEvents(ctx, convID, 0, 0)
	must(tb, err)
	if int64(len(events)) != n {
		tb.Fatalf("%d events, want %d", len(events), n)
	}
	for i, ev := range events {
		if ev.Seq != int64(i+1) {
			tb.Fatalf("event %d has seq %d, want %d", i, ev.Seq, i+1)
		}
	}
}

// --- users -----------------------------------------------------------------

func testUsers(t *testing.T, open Open) {
	t.Run("OK", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		u := &switchboard.User{Email: "Ann@Example.com", Name: "Ann", Role: switchboard.RoleAdmin, PasswordHash: "h1", Capacity: 5}
		must(t, s.CreateUser(ctx, u))
		if u.ID == "" || u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() {
			t.Fatalf("ID and timestamps not set: %+v", u)
		}
		got, err := s.FindUserByID(ctx, u.ID)
		must(t, err)
		same(t, "FindUserByID", got, u)
		if got.PasswordHash != "h1" {
			t.Fatalf("PasswordHash = %q", got.PasswordHash)
		}
		got, err = s.FindUserByEmail(ctx, "ann@EXAMPLE.com")
		must(t, err)
		if got.ID != u.ID {
			t.Fatalf("FindUserByEmail found %s, want %s", got.ID, u.ID)
		}
	})
	t.Run("DuplicateEmail", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		must(t, s.CreateUser(ctx, &switchboard.User{Email: "bob@example.com", Role: switchboard.RoleAgent}))
		wantCode(t, s.CreateUser(ctx, &switchboard.User{Email: "bob@example.com", Role: switchboard.RoleAgent}), switchboard.ECONFLICT)
		wantCode(t, s.CreateUser(ctx, &switchboard.User{Email: "BOB@example.COM", Role: switchboard.RoleAgent}), switchboard.ECONFLICT)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		_, err := s.FindUserByID(ctx, "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.FindUserByEmail(ctx, "nobody@example.com")
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.UpdateUser(ctx, "nope", switchboard.UserUpdate{Name: ptr("x")})
		wantCode(t, err, switchboard.ENOTFOUND)
	})
	t.Run("Update", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		u := &switchboard.User{Email: "c@example.com", Name: "C", Role: switchboard.RoleAgent, PasswordHash: "old"}
		must(t, s.CreateUser(ctx, u))
		got, err := s.UpdateUser(ctx, u.ID, switchboard.UserUpdate{Presence: ptr(switchboard.PresenceOnline), Capacity: ptr(3)})
		must(t, err)
		if got.Presence != switchboard.PresenceOnline || got.Capacity != 3 || got.Name != "C" || got.PasswordHash != "old" {
			t.Fatalf("after update: %+v", got)
		}
		got, err = s.UpdateUser(ctx, u.ID, switchboard.UserUpdate{Name: ptr("Cee"), Role: ptr(switchboard.RoleAdmin), PasswordHash: ptr("new")})
		must(t, err)
		again, err := s.FindUserByID(ctx, u.ID)
		must(t, err)
		same(t, "after update", again, got)
		if again.Name != "Cee" || again.Role != switchboard.RoleAdmin || again.PasswordHash != "new" || again.Capacity != 3 {
			t.Fatalf("after second update: %+v", again)
		}
	})
	t.Run("Filter", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		for i, r := range []switchboard.Role{switchboard.RoleAdmin, switchboard.RoleAgent, switchboard.RoleAgent} {
			u := &switchboard.User{Email: fmt.Sprintf("u%d@example.com", i), Role: r, Presence: switchboard.PresenceOffline}
			if i == 2 {
				u.Presence = switchboard.PresenceOnline
			}
			must(t, s.CreateUser(ctx, u))
		}
		all, err := s.FindUsers(ctx, switchboard.UserFilter{})
		must(t, err)
		agents, err := s.FindUsers(ctx, switchboard.UserFilter{Role: switchboard.RoleAgent})
		must(t, err)
		online, err := s.FindUsers(ctx, switchboard.UserFilter{Role: switchboard.RoleAgent, Presence: switchboard.PresenceOnline})
		must(t, err)
		limited, err := s.FindUsers(ctx, switchboard.UserFilter{Limit: 1})
		must(t, err)
		if len(all) != 3 || len(agents) != 2 || len(online) != 1 || len(limited) != 1 {
			t.Fatalf("all=%d agents=%d online=%d limited=%d", len(all), len(agents), len(online), len(limited))
		}
		if online[0].Email != "u2@example.com" {
			t.Fatalf("online = %s", online[0].Email)
		}
	})
}

func testAuthSessions(t *testing.T, open Open) {
	t.Run("OK", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		u := &switchboard.User{Email: "a@example.com", Role: switchboard.RoleAgent}
		must(t, s.CreateUser(ctx, u))
		as := &switchboard.AuthSession{UserID: u.ID, TokenHash: "hash-1", ExpiresAt: time.Now().Add(time.Hour)}
		must(t, s.CreateAuthSession(ctx, as))
		if as.ID == "" {
			t.Fatal("ID not set")
		}
		got, err := s.FindAuthSessionByHash(ctx, "hash-1")
		must(t, err)
		if got.ID != as.ID || got.UserID != u.ID || !got.ExpiresAt.Equal(as.ExpiresAt) {
			t.Fatalf("got %+v, want %+v", got, as)
		}
		must(t, s.DeleteAuthSession(ctx, as.ID))
		_, err = s.FindAuthSessionByHash(ctx, "hash-1")
		wantCode(t, err, switchboard.ENOTFOUND)
	})
	t.Run("Expired", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		u := &switchboard.User{Email: "a@example.com", Role: switchboard.RoleAgent}
		must(t, s.CreateUser(ctx, u))
		must(t, s.CreateAuthSession(ctx, &switchboard.AuthSession{UserID: u.ID, TokenHash: "old", ExpiresAt: time.Now().Add(-time.Second)}))
		_, err := s.FindAuthSessionByHash(ctx, "old")
		wantCode(t, err, switchboard.ENOTFOUND)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		_, err := s.FindAuthSessionByHash(t.Context(), "missing")
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

// --- inboxes and contacts --------------------------------------------------

func testInboxes(t *testing.T, open Open) {
	t.Run("OK", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		in := &switchboard.Inbox{
			Name:           "Shop",
			AllowedOrigins: []string{"https://shop.example", "http://localhost:3000"},
			Settings: switchboard.InboxSettings{
				Route: "default", SystemPrompt: "Be kind.", KnowledgeBase: true, HandoffPhrases: []string{"human"},
				KBMissHandoff: 2, BusinessHours: &switchboard.Hours{TimeZone: "Europe/Paris", Days: []int{1, 2, 3}, Open: "09:00", Close: "18:00"},
				RateLimit: &switchboard.RateLimit{Requests: 30, Window: time.Minute},
				Budget:    &switchboard.BudgetLimits{TokensPerMinute: 1000, CostPerDay: 2.5},
				Canned:    []switchboard.Canned{{Shortcut: "hi", Content: "Hello!"}},
			},
		}
		must(t, s.CreateInbox(ctx, in))
		if in.ID == "" || in.WidgetKey == "" || in.IdentitySecret == "" || in.CreatedAt.IsZero() {
			t.Fatalf("defaults not set: %+v", in)
		}
		got, err := s.FindInboxByID(ctx, in.ID)
		must(t, err)
		same(t, "FindInboxByID", got, in)
		if got.IdentitySecret != in.IdentitySecret {
			t.Fatal("IdentitySecret not stored")
		}
		got, err = s.FindInboxByWidgetKey(ctx, in.WidgetKey)
		must(t, err)
		same(t, "FindInboxByWidgetKey", got, in)

		other := MustInbox(t, s)
		if other.WidgetKey == in.WidgetKey || other.IdentitySecret == in.IdentitySecret {
			t.Fatal("generated keys repeat")
		}
		all, err := s.FindInboxes(ctx)
		must(t, err)
		if len(all) != 2 {
			t.Fatalf("%d inboxes, want 2", len(all))
		}
	})
	t.Run("Update", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		in := MustInbox(t, s)
		settings := in.Settings
		settings.Greeting = "Hi there"
		settings.Words = []switchboard.WordList{{}}
		got, err := s.UpdateInbox(ctx, in.ID, switchboard.InboxUpdate{Settings: &settings})
		must(t, err)
		if got.Name != in.Name || got.Settings.Greeting != "Hi there" || !slices.Equal(got.AllowedOrigins, in.AllowedOrigins) {
			t.Fatalf("after update: %+v", got)
		}
		got, err = s.UpdateInbox(ctx, in.ID, switchboard.InboxUpdate{Name: ptr("New"), AllowedOrigins: ptr([]string{"*"})})
		must(t, err)
		again, err := s.FindInboxByID(ctx, in.ID)
		must(t, err)
		same(t, "after update", again, got)
		if again.Name != "New" || !slices.Equal(again.AllowedOrigins, []string{"*"}) || again.Settings.Greeting != "Hi there" {
			t.Fatalf("after second update: %+v", again)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		_, err := s.FindInboxByID(ctx, "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.FindInboxByWidgetKey(ctx, "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.UpdateInbox(ctx, "nope", switchboard.InboxUpdate{Name: ptr("x")})
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

func testContacts(t *testing.T, open Open) {
	t.Run("OK", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		in := MustInbox(t, s)
		c := &switchboard.Contact{InboxID: in.ID, ExternalID: "uid-42", Name: "Zoe", Email: "zoe@example.com"}
		must(t, s.CreateContact(ctx, c))
		if c.ID == "" || c.CreatedAt.IsZero() {
			t.Fatalf("defaults not set: %+v", c)
		}
		got, err := s.FindContactByID(ctx, c.ID)
		must(t, err)
		same(t, "FindContactByID", got, c)
		got, err = s.FindContactByExternalID(ctx, in.ID, "uid-42")
		must(t, err)
		same(t, "FindContactByExternalID", got, c)

		// Anonymous contacts have no external id; many may exist.
		must(t, s.CreateContact(ctx, &switchboard.Contact{InboxID: in.ID}))
		must(t, s.CreateContact(ctx, &switchboard.Contact{InboxID: in.ID}))

		got, err = s.UpdateContact(ctx, c.ID, "Zoé", "z@example.com")
		must(t, err)
		if got.Name != "Zoé" || got.Email != "z@example.com" || got.ExternalID != "uid-42" {
			t.Fatalf("after update: %+v", got)
		}
	})
	t.Run("ExternalIDPerInbox", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		a, b := MustInbox(t, s), MustInbox(t, s)
		must(t, s.CreateContact(ctx, &switchboard.Contact{InboxID: a.ID, ExternalID: "u1"}))
		_, err := s.FindContactByExternalID(ctx, b.ID, "u1")
		wantCode(t, err, switchboard.ENOTFOUND)
		must(t, s.CreateContact(ctx, &switchboard.Contact{InboxID: b.ID, ExternalID: "u1"}))
		wantCode(t, s.CreateContact(ctx, &switchboard.Contact{InboxID: a.ID, ExternalID: "u1"}), switchboard.ECONFLICT)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		in := MustInbox(t, s)
		_, err := s.FindContactByID(ctx, "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.FindContactByExternalID(ctx, in.ID, "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.UpdateContact(ctx, "nope", "a", "b")
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

// --- conversations ---------------------------------------------------------

func testConversations(t *testing.T, open Open) {
	t.Run("OK", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		if conv.ID == "" || conv.Version != 1 || conv.LastSeq != 0 || conv.CreatedAt.IsZero() {
			t.Fatalf("defaults not set: %+v", conv)
		}
		got, err := s.FindConversationByID(ctx, conv.ID)
		must(t, err)
		same(t, "FindConversationByID", got, conv)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		_, err := s.FindConversationByID(t.Context(), "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
	})
	t.Run("Filter", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		a, b := MustInbox(t, s), MustInbox(t, s)
		agent := &switchboard.User{Email: "agent@example.com", Role: switchboard.RoleAgent}
		must(t, s.CreateUser(ctx, agent))
		var convs []*switchboard.Conversation
		for range 3 {
			convs = append(convs, mustConversationIn(t, s, a.ID))
		}
		other := mustConversationIn(t, s, b.ID)
		// convs[0] queued, convs[1] assigned to agent, convs[2] bot.
		_, _, err := s.UpdateConversation(ctx, convs[0].ID, 1, switchboard.ConversationUpdate{Status: ptr(switchboard.StatusQueued), Owner: ptr(switchboard.OwnerNone)})
		must(t, err)
		_, _, err = s.UpdateConversation(ctx, convs[1].ID, 1, switchboard.ConversationUpdate{
			Status: ptr(switchboard.StatusAssigned), Owner: ptr(switchboard.OwnerHuman), AssigneeID: &agent.ID})
		must(t, err)
		// Activity moves a conversation to the front. Stores keep
		// milliseconds: let the clock move past the updates above.
		time.Sleep(5 * time.Millisecond)
		_, _, err = s.AppendMessage(ctx, text(convs[2].ID, "bump"))
		must(t, err)

		find := func(f switchboard.ConversationFilter) []string {
			t.Helper()
			got, err := s.FindConversations(ctx, f)
			must(t, err)
			var ids []string
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			return ids
		}
		if got := find(switchboard.ConversationFilter{InboxID: a.ID}); len(got) != 3 || got[0] != convs[2].ID {
			t.Fatalf("inbox a: %v (want 3, newest activity %s first)", got, convs[2].ID)
		}
		if got := find(switchboard.ConversationFilter{}); len(got) != 4 {
			t.Fatalf("all: %v", got)
		}
		if got := find(switchboard.ConversationFilter{InboxID: b.ID}); !slices.Equal(got, []string{other.ID}) {
			t.Fatalf("inbox b: %v", got)
		}
		if got := find(switchboard.ConversationFilter{Status: []switchboard.Status{switchboard.StatusQueued}}); !slices.Equal(got, []string{convs[0].ID}) {
			t.Fatalf("queued: %v", got)
		}
		if got := find(switchboard.ConversationFilter{Status: []switchboard.Status{switchboard.StatusQueued, switchboard.StatusAssigned}}); len(got) != 2 {
			t.Fatalf("queued+assigned: %v", got)
		}
		if got := find(switchboard.ConversationFilter{AssigneeID: agent.ID}); !slices.Equal(got, []string{convs[1].ID}) {
			t.Fatalf("assignee: %v", got)
		}
		if got := find(switchboard.ConversationFilter{ContactID: other.ContactID}); !slices.Equal(got, []string{other.ID}) {
			t.Fatalf("contact: %v", got)
		}
		if got := find(switchboard.ConversationFilter{InboxID: a.ID, Limit: 2}); len(got) != 2 {
			t.Fatalf("limit: %v", got)
		}

		counts, err := s.CountConversations(ctx, switchboard.ConversationFilter{InboxID: a.ID, Status: []switchboard.Status{switchboard.StatusResolved}})
		must(t, err)
		want := map[switchboard.Status]int{switchboard.StatusQueued: 1, switchboard.StatusAssigned: 1, switchboard.StatusBot: 1}
		for st, n := range want {
			if counts[st] != n {
				t.Fatalf("counts = %v, want %v", counts, want)
			}
		}
		if counts[switchboard.StatusResolved] != 0 {
			t.Fatalf("counts = %v", counts)
		}
		counts, err = s.CountConversations(ctx, switchboard.ConversationFilter{})
		must(t, err)
		if counts[switchboard.StatusBot] != 2 {
			t.Fatalf("all counts = %v", counts)
		}
	})
}

func testUpdateConversation(t *testing.T, open Open) {
	t.Run("StatusEvent", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		_, _, err := s.AppendMessage(ctx, text(conv.ID, "hello"))
		must(t, err)
		got, ev, err := s.UpdateConversation(ctx, conv.ID, 1, switchboard.ConversationUpdate{
			Status: ptr(switchboard.StatusAssigned), Owner: ptr(switchboard.OwnerHuman), AssigneeID: ptr("agent-1")})
		must(t, err)
		if got.Version != 2 || got.Status != switchboard.StatusAssigned || got.Owner != switchboard.OwnerHuman || got.AssigneeID != "agent-1" {
			t.Fatalf("after update: %+v", got)
		}
		if ev == nil || ev.Type != switchboard.EventStatus || ev.Seq != 2 || ev.ConversationID != conv.ID || got.LastSeq != 2 {
			t.Fatalf("status event %+v, conversation LastSeq %d", ev, got.LastSeq)
		}
		var data switchboard.StatusData
		must(t, json.Unmarshal(ev.Data, &data))
		if data != (switchboard.StatusData{Status: switchboard.StatusAssigned, Owner: switchboard.OwnerHuman, AssigneeID: "agent-1"}) {
			t.Fatalf("status data %+v", data)
		}
		stored, err := s.FindConversationByID(ctx, conv.ID)
		must(t, err)
		same(t, "stored conversation", stored, got)
		events, err := s.FindEvents(ctx, conv.ID, 1, 0)
		must(t, err)
		if len(events) != 1 || events[0].Type != switchboard.EventStatus || events[0].Seq != 2 {
			t.Fatalf("events after 1: %+v", events)
		}
		var stored2 switchboard.StatusData
		must(t, json.Unmarshal(events[0].Data, &stored2))
		if stored2 != data {
			t.Fatalf("stored status data %+v, want %+v", stored2, data)
		}

		// Clearing the assignee is a change too.
		got, ev, err = s.UpdateConversation(ctx, conv.ID, 2, switchboard.ConversationUpdate{
			Status: ptr(switchboard.StatusBot), Owner: ptr(switchboard.OwnerBot), AssigneeID: ptr("")})
		must(t, err)
		if ev == nil || ev.Seq != 3 || got.AssigneeID != "" || got.Version != 3 {
			t.Fatalf("after handback: %+v, event %+v", got, ev)
		}
		checkSeqs(t, s, conv.ID, 3)
	})
	t.Run("NoEventWithoutStatusChange", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		got, ev, err := s.UpdateConversation(ctx, conv.ID, 1, switchboard.ConversationUpdate{ContextEpoch: ptr(int64(7)), KBMisses: ptr(2)})
		must(t, err)
		if ev != nil {
			t.Fatalf("unexpected event %+v", ev)
		}
		if got.ContextEpoch != 7 || got.KBMisses != 2 || got.Version != 2 || got.LastSeq != 0 {
			t.Fatalf("after update: %+v", got)
		}
		// Setting the same status is not a change.
		got, ev, err = s.UpdateConversation(ctx, conv.ID, 2, switchboard.ConversationUpdate{Status: ptr(switchboard.StatusBot), Owner: ptr(switchboard.OwnerBot)})
		must(t, err)
		if ev != nil || got.Version != 3 {
			t.Fatalf("same status: event %+v, conversation %+v", ev, got)
		}
		checkSeqs(t, s, conv.ID, 0)
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		_, _, err := s.UpdateConversation(ctx, conv.ID, 1, switchboard.ConversationUpdate{KBMisses: ptr(1)})
		must(t, err)
		_, ev, err := s.UpdateConversation(ctx, conv.ID, 1, switchboard.ConversationUpdate{Status: ptr(switchboard.StatusQueued), KBMisses: ptr(5)})
		wantCode(t, err, switchboard.ECONFLICT)
		if ev != nil {
			t.Fatalf("event on conflict: %+v", ev)
		}
		got, err := s.FindConversationByID(ctx, conv.ID)
		must(t, err)
		if got.Version != 2 || got.Status != switchboard.StatusBot || got.KBMisses != 1 || got.LastSeq != 0 {
			t.Fatalf("conflicting update changed the conversation: %+v", got)
		}
		checkSeqs(t, s, conv.ID, 0)
	})
	t.Run("ConcurrentSameVersion", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for i := range n {
			wg.Go(func() {
				agent := fmt.Sprintf("agent-%d", i)
				_, _, err := s.UpdateConversation(ctx, conv.ID, 1, switchboard.ConversationUpdate{
					Status: ptr(switchboard.StatusAssigned), Owner: ptr(switchboard.OwnerHuman), AssigneeID: &agent})
				mu.Lock()
				defer mu.Unlock()
				switch switchboard.ErrorCode(err) {
				case "":
					wins++
				case switchboard.ECONFLICT:
					conflicts++
				default:
					t.Errorf("update: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || conflicts != n-1 {
			t.Fatalf("%d wins, %d conflicts; want 1 and %d", wins, conflicts, n-1)
		}
		got, err := s.FindConversationByID(ctx, conv.ID)
		must(t, err)
		if got.Version != 2 {
			t.Fatalf("Version = %d, want 2", got.Version)
		}
		checkSeqs(t, s, conv.ID, 1)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		_, _, err := s.UpdateConversation(t.Context(), "nope", 1, switchboard.ConversationUpdate{KBMisses: ptr(1)})
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

// --- messages --------------------------------------------------------------

func testMessages(t *testing.T, open Open) {
	t.Run("Append", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		m := &switchboard.Message{ConversationID: conv.ID, ClientMsgID: "c1", Sender: switchboard.SenderContact,
			Kind: switchboard.KindText, Content: "Hello 你好", State: switchboard.StateComplete, Flags: []string{"masked"}}
		stored, existed, err := s.AppendMessage(ctx, m)
		must(t, err)
		if existed || stored.ID == "" || stored.Seq != 1 || stored.CreatedAt.IsZero() {
			t.Fatalf("existed=%v stored=%+v", existed, stored)
		}
		if m.ID != stored.ID || m.Seq != 1 {
			t.Fatalf("AppendMessage did not set ID and Seq on its argument: %+v", m)
		}
		got, err := s.FindMessageByID(ctx, stored.ID)
		must(t, err)
		same(t, "FindMessageByID", got, stored)
		for i := 2; i <= 5; i++ {
			st, _, err := s.AppendMessage(ctx, text(conv.ID, fmt.Sprint(i)))
			must(t, err)
			if st.Seq != int64(i) {
				t.Fatalf("seq %d, want %d", st.Seq, i)
			}
		}
		checkSeqs(t, s, conv.ID, 5)
		// Conversations do not share seqs.
		other := MustConversation(t, s)
		st, _, err := s.AppendMessage(ctx, text(other.ID, "x"))
		must(t, err)
		if st.Seq != 1 {
			t.Fatalf("other conversation seq %d, want 1", st.Seq)
		}
	})
	t.Run("ConcurrentAppend", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		const n = 50
		seqs := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				st, _, err := s.AppendMessage(ctx, text(conv.ID, fmt.Sprint(i)))
				if err != nil {
					t.Errorf("append %d: %v", i, err)
					return
				}
				seqs[i] = st.Seq
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		slices.Sort(seqs)
		for i, seq := range seqs {
			if seq != int64(i+1) {
				t.Fatalf("seqs %v: not exactly 1..%d", seqs, n)
			}
		}
		checkSeqs(t, s, conv.ID, n)
		msgs, err := s.FindMessages(ctx, switchboard.MessageFilter{ConversationID: conv.ID})
		must(t, err)
		if len(msgs) != n {
			t.Fatalf("%d messages, want %d", len(msgs), n)
		}
	})
	t.Run("DuplicateClientMsgID", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		m := text(conv.ID, "first")
		m.ClientMsgID = "abc"
		first, existed, err := s.AppendMessage(ctx, m)
		must(t, err)
		if existed {
			t.Fatal("existed on first append")
		}
		again := text(conv.ID, "second")
		again.ClientMsgID = "abc"
		got, existed, err := s.AppendMessage(ctx, again)
		must(t, err)
		if !existed {
			t.Fatal("existed = false on duplicate")
		}
		same(t, "duplicate returns the first", got, first)
		checkSeqs(t, s, conv.ID, 1)
		// The same client id in another conversation is a different message.
		other := MustConversation(t, s)
		o := text(other.ID, "other")
		o.ClientMsgID = "abc"
		_, existed, err = s.AppendMessage(ctx, o)
		must(t, err)
		if existed {
			t.Fatal("client_msg_id leaked across conversations")
		}
		// Messages without a client id are never duplicates.
		for range 2 {
			_, existed, err := s.AppendMessage(ctx, text(conv.ID, "anon"))
			must(t, err)
			if existed {
				t.Fatal("empty client_msg_id treated as duplicate")
			}
		}
		checkSeqs(t, s, conv.ID, 3)
	})
	t.Run("ConcurrentDuplicateClientMsgID", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		const n = 10
		type result struct {
			m       *switchboard.Message
			existed bool
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m := text(conv.ID, fmt.Sprint("try ", i))
				m.ClientMsgID = "same"
				st, existed, err := s.AppendMessage(ctx, m)
				if err != nil {
					t.Errorf("append %d: %v", i, err)
					return
				}
				results[i] = result{st, existed}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		created := 0
		var first *switchboard.Message
		for _, r := range results {
			if !r.existed {
				created++
				first = r.m
			}
		}
		if created != 1 {
			t.Fatalf("%d appends created the message, want 1", created)
		}
		for _, r := range results {
			same(t, "every append returns the first message", r.m, first)
		}
		msgs, err := s.FindMessages(ctx, switchboard.MessageFilter{ConversationID: conv.ID})
		must(t, err)
		if len(msgs) != 1 {
			t.Fatalf("%d messages stored, want 1", len(msgs))
		}
		checkSeqs(t, s, conv.ID, 1)
	})
	t.Run("StartEvent", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		_, _, err := s.AppendMessage(ctx, text(conv.ID, "question"))
		must(t, err)
		bot := &switchboard.Message{ConversationID: conv.ID, Sender: switchboard.SenderBot, Kind: switchboard.KindText, State: switchboard.StateStreaming}
		st, _, err := s.AppendMessage(ctx, bot)
		must(t, err)
		events, err := s.FindEvents(ctx, conv.ID, 0, 0)
		must(t, err)
		if len(events) != 2 || events[0].Type != switchboard.EventMessage || events[1].Type != switchboard.EventStart {
			t.Fatalf("events %+v, want message then start", events)
		}
		if events[1].MessageID != st.ID || events[1].Seq != st.Seq {
			t.Fatalf("start event %+v for message %s seq %d", events[1], st.ID, st.Seq)
		}
		streaming, err := s.FindStreamingMessages(ctx)
		must(t, err)
		if len(streaming) != 1 || streaming[0].ID != st.ID {
			t.Fatalf("streaming messages %+v", streaming)
		}
	})
	t.Run("UpdateMessage", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		bot := &switchboard.Message{ConversationID: conv.ID, Sender: switchboard.SenderBot, Kind: switchboard.KindText, State: switchboard.StateStreaming}
		st, _, err := s.AppendMessage(ctx, bot)
		must(t, err)
		got, err := s.UpdateMessage(ctx, st.ID, switchboard.MessageUpdate{Content: ptr("Hel"), Provider: ptr("primary"), Model: ptr("m1")})
		must(t, err)
		if got.Content != "Hel" || got.State != switchboard.StateStreaming || got.Provider != "primary" || got.Seq != st.Seq {
			t.Fatalf("after update: %+v", got)
		}
		again, err := s.FindMessageByID(ctx, st.ID)
		must(t, err)
		same(t, "stored after update", again, got)
		checkSeqs(t, s, conv.ID, 1) // no event
	})
	t.Run("FinishMessage", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		bot := &switchboard.Message{ConversationID: conv.ID, Sender: switchboard.SenderBot, Kind: switchboard.KindText, State: switchboard.StateStreaming}
		st, _, err := s.AppendMessage(ctx, bot)
		must(t, err)
		first, err := s.ReserveSeqs(ctx, conv.ID, 3) // deltas 2..4
		must(t, err)
		if first != 2 {
			t.Fatalf("reserved from %d, want 2", first)
		}
		usage := switchboard.Usage{PromptTokens: 10, CompletionTokens: 5}
		sources := []switchboard.Source{{DocumentID: "d1", Title: "FAQ", Heading: "Returns"}}
		data, _ := json.Marshal(switchboard.DoneData{FinishReason: "stop"})
		ev, err := s.FinishMessage(ctx, st.ID, switchboard.MessageUpdate{
			Content: ptr("Hello!"), State: ptr(switchboard.StateComplete), Usage: &usage, Cost: ptr(0.0125),
			TTFTMs: ptr(int64(120)), Flags: ptr([]string{"kb"}), Sources: &sources,
		}, switchboard.EventDone, data)
		must(t, err)
		if ev.Type != switchboard.EventDone || ev.Seq != 5 || ev.MessageID != st.ID || ev.ConversationID != conv.ID {
			t.Fatalf("done event %+v", ev)
		}
		var dd switchboard.DoneData
		must(t, json.Unmarshal(ev.Data, &dd))
		if dd.FinishReason != "stop" {
			t.Fatalf("done data %s", ev.Data)
		}
		got, err := s.FindMessageByID(ctx, st.ID)
		must(t, err)
		if got.Content != "Hello!" || got.State != switchboard.StateComplete || got.Usage != usage || got.Cost != 0.0125 ||
			got.TTFTMs != 120 || !slices.Equal(got.Flags, []string{"kb"}) || !slices.Equal(got.Sources, sources) {
			t.Fatalf("finished message %+v", got)
		}
		streaming, err := s.FindStreamingMessages(ctx)
		must(t, err)
		if len(streaming) != 0 {
			t.Fatalf("still streaming: %+v", streaming)
		}

		// An error finish on another message.
		bot2 := &switchboard.Message{ConversationID: conv.ID, Sender: switchboard.SenderBot, Kind: switchboard.KindText, State: switchboard.StateStreaming}
		st2, _, err := s.AppendMessage(ctx, bot2)
		must(t, err)
		if st2.Seq != 6 {
			t.Fatalf("append after reserved block: seq %d, want 6", st2.Seq)
		}
		edata, _ := json.Marshal(switchboard.ErrorData{Code: switchboard.EINTERRUPTED, Message: "cut"})
		ev, err = s.FinishMessage(ctx, st2.ID, switchboard.MessageUpdate{Content: ptr("Par"), State: ptr(switchboard.StateInterrupted)}, switchboard.EventError, edata)
		must(t, err)
		if ev.Type != switchboard.EventError || ev.Seq != 7 {
			t.Fatalf("error event %+v", ev)
		}
		got, err = s.FindMessageByID(ctx, st2.ID)
		must(t, err)
		if got.State != switchboard.StateInterrupted || got.Content != "Par" {
			t.Fatalf("interrupted message %+v", got)
		}
		conv2, err := s.FindConversationByID(ctx, conv.ID)
		must(t, err)
		if conv2.LastSeq != 7 {
			t.Fatalf("LastSeq %d, want 7", conv2.LastSeq)
		}
	})
	t.Run("FindMessages", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		for i := 1; i <= 6; i++ {
			_, _, err := s.AppendMessage(ctx, text(conv.ID, fmt.Sprint(i)))
			must(t, err)
		}
		_, err := s.AppendEvent(ctx, conv.ID, switchboard.EventStatus, "", []byte(`{"status":"bot","owner":"bot"}`))
		must(t, err)
		_, _, err = s.AppendMessage(ctx, text(conv.ID, "8"))
		must(t, err)
		msgs, err := s.FindMessages(ctx, switchboard.MessageFilter{ConversationID: conv.ID, AfterSeq: 4})
		must(t, err)
		var got []int64
		for _, m := range msgs {
			got = append(got, m.Seq)
		}
		if !slices.Equal(got, []int64{5, 6, 8}) {
			t.Fatalf("seqs after 4: %v", got)
		}
		msgs, err = s.FindMessages(ctx, switchboard.MessageFilter{ConversationID: conv.ID, Limit: 2})
		must(t, err)
		if len(msgs) != 2 || msgs[0].Seq != 1 || msgs[1].Seq != 2 {
			t.Fatalf("first two: %+v", msgs)
		}
		msgs, err = s.FindMessages(ctx, switchboard.MessageFilter{ConversationID: "nope"})
		must(t, err)
		if len(msgs) != 0 {
			t.Fatalf("messages of a missing conversation: %+v", msgs)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		_, _, err := s.AppendMessage(ctx, text("nope", "x"))
		wantCode(t, err, switchboard.ENOTFOUND)
		m := text("nope", "x")
		m.ClientMsgID = "c1"
		_, _, err = s.AppendMessage(ctx, m)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.FindMessageByID(ctx, "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.UpdateMessage(ctx, "nope", switchboard.MessageUpdate{Content: ptr("x")})
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.FinishMessage(ctx, "nope", switchboard.MessageUpdate{State: ptr(switchboard.StateComplete)}, switchboard.EventDone, nil)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.ReserveSeqs(ctx, "nope", 5)
		wantCode(t, err, switchboard.ENOTFOUND)
		_, err = s.AppendEvent(ctx, "nope", switchboard.EventStatus, "", nil)
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

// --- events ----------------------------------------------------------------

func testEvents(t *testing.T, open Open) {
	t.Run("AfterSeq", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		q, _, err := s.AppendMessage(ctx, text(conv.ID, "question")) // 1 message
		must(t, err)
		bot := &switchboard.Message{ConversationID: conv.ID, Sender: switchboard.SenderBot, Kind: switchboard.KindText, State: switchboard.StateStreaming}
		b, _, err := s.AppendMessage(ctx, bot) // 2 start
		must(t, err)
		_, err = s.ReserveSeqs(ctx, conv.ID, 2) // 3, 4 deltas (not stored)
		must(t, err)
		_, err = s.FinishMessage(ctx, b.ID, switchboard.MessageUpdate{Content: ptr("Answer"), State: ptr(switchboard.StateComplete)},
			switchboard.EventDone, []byte(`{"finish_reason":"stop"}`)) // 5 done
		must(t, err)
		ev, err := s.AppendEvent(ctx, conv.ID, switchboard.EventStatus, "", []byte(`{"status":"queued","owner":"none"}`)) // 6
		must(t, err)
		if ev.Seq != 6 || ev.Type != switchboard.EventStatus || ev.CreatedAt.IsZero() {
			t.Fatalf("appended event %+v", ev)
		}

		events, err := s.FindEvents(ctx, conv.ID, 0, 0)
		must(t, err)
		type row struct {
			Seq  int64
			Type switchboard.EventType
			Msg  string
		}
		var got []row
		for _, e := range events {
			got = append(got, row{e.Seq, e.Type, e.MessageID})
		}
		want := []row{{1, switchboard.EventMessage, q.ID}, {2, switchboard.EventStart, b.ID}, {5, switchboard.EventDone, b.ID}, {6, switchboard.EventStatus, ""}}
		if !slices.Equal(got, want) {
			t.Fatalf("events %+v, want %+v", got, want)
		}
		// Every event of the bot message carries its current (final) state.
		for _, e := range events[1:3] {
			if e.Message == nil || e.Message.State != switchboard.StateComplete || e.Message.Content != "Answer" {
				t.Fatalf("event %d message %+v, want the finished message", e.Seq, e.Message)
			}
		}
		if events[0].Message == nil || events[0].Message.Content != "question" {
			t.Fatalf("event 1 message %+v", events[0].Message)
		}
		if events[3].Message != nil {
			t.Fatalf("status event has a message: %+v", events[3].Message)
		}
		if string(events[2].Data) != `{"finish_reason":"stop"}` && !jsonEqual(events[2].Data, []byte(`{"finish_reason":"stop"}`)) {
			t.Fatalf("done data %s", events[2].Data)
		}

		after, err := s.FindEvents(ctx, conv.ID, 2, 0)
		must(t, err)
		if len(after) != 2 || after[0].Seq != 5 || after[1].Seq != 6 {
			t.Fatalf("events after 2: %+v", after)
		}
		limited, err := s.FindEvents(ctx, conv.ID, 0, 2)
		must(t, err)
		if len(limited) != 2 || limited[1].Seq != 2 {
			t.Fatalf("first two events: %+v", limited)
		}
		none, err := s.FindEvents(ctx, conv.ID, 6, 0)
		must(t, err)
		if len(none) != 0 {
			t.Fatalf("events after the last: %+v", none)
		}
	})
	t.Run("ReserveSeqs", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		_, _, err := s.AppendMessage(ctx, text(conv.ID, "a"))
		must(t, err)
		first, err := s.ReserveSeqs(ctx, conv.ID, 10)
		must(t, err)
		if first != 2 {
			t.Fatalf("first reserved %d, want 2", first)
		}
		got, err := s.FindConversationByID(ctx, conv.ID)
		must(t, err)
		if got.LastSeq != 11 {
			t.Fatalf("LastSeq %d, want 11", got.LastSeq)
		}
		first, err = s.ReserveSeqs(ctx, conv.ID, 1)
		must(t, err)
		if first != 12 {
			t.Fatalf("second block from %d, want 12", first)
		}
		st, _, err := s.AppendMessage(ctx, text(conv.ID, "b"))
		must(t, err)
		if st.Seq != 13 {
			t.Fatalf("append after blocks: seq %d, want 13", st.Seq)
		}
		_, err = s.ReserveSeqs(ctx, conv.ID, 0)
		if err == nil {
			t.Fatal("ReserveSeqs(0) succeeded")
		}
	})
	t.Run("ConcurrentMixed", func(t *testing.T) {
		// Appends, reservations and status changes interleave without
		// reusing or skipping a stored seq.
		s, _ := open(t)
		ctx := t.Context()
		conv := MustConversation(t, s)
		var mu sync.Mutex
		taken := map[int64]bool{}
		take := func(seqs ...int64) {
			mu.Lock()
			defer mu.Unlock()
			for _, q := range seqs {
				if taken[q] {
					t.Errorf("seq %d handed out twice", q)
				}
				taken[q] = true
			}
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				switch i % 3 {
				case 0:
					st, _, err := s.AppendMessage(ctx, text(conv.ID, "m"))
					if err != nil {
						t.Errorf("append: %v", err)
						return
					}
					take(st.Seq)
				case 1:
					first, err := s.ReserveSeqs(ctx, conv.ID, 3)
					if err != nil {
						t.Errorf("reserve: %v", err)
						return
					}
					take(first, first+1, first+2)
				case 2:
					ev, err := s.AppendEvent(ctx, conv.ID, switchboard.EventStatus, "", nil)
					if err != nil {
						t.Errorf("append event: %v", err)
						return
					}
					take(ev.Seq)
				}
			})
		}
		wg.Wait()
		got, err := s.FindConversationByID(ctx, conv.ID)
		must(t, err)
		if int64(len(taken)) != got.LastSeq {
			t.Fatalf("%d seqs handed out, LastSeq %d", len(taken), got.LastSeq)
		}
		for q := int64(1); q <= got.LastSeq; q++ {
			if !taken[q] {
				t.Fatalf("seq %d skipped", q)
			}
		}
	})
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// --- API keys --------------------------------------------------------------

func testAPIKeys(t *testing.T, open Open) {
	t.Run("OK", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		k := &switchboard.APIKey{Name: "ci", Prefix: "sk-abc", Hash: "hash-abc", InboxID: "inbox-1",
			RateLimit: &switchboard.RateLimit{Requests: 60, Window: time.Minute}, Budget: &switchboard.BudgetLimits{CostPerDay: 1.5}}
		must(t, s.CreateAPIKey(ctx, k))
		if k.ID == "" || k.CreatedAt.IsZero() {
			t.Fatalf("defaults not set: %+v", k)
		}
		got, err := s.FindAPIKeyByHash(ctx, "hash-abc")
		must(t, err)
		same(t, "FindAPIKeyByHash", got, k)
		if got.Hash != "hash-abc" || got.RevokedAt != nil {
			t.Fatalf("got %+v", got)
		}
		plain := &switchboard.APIKey{Name: "plain", Prefix: "sk-def", Hash: "hash-def"}
		must(t, s.CreateAPIKey(ctx, plain))
		got, err = s.FindAPIKeyByHash(ctx, "hash-def")
		must(t, err)
		if got.RateLimit != nil || got.Budget != nil {
			t.Fatalf("nil limits came back as %+v %+v", got.RateLimit, got.Budget)
		}
		keys, err := s.FindAPIKeys(ctx)
		must(t, err)
		if len(keys) != 2 {
			t.Fatalf("%d keys, want 2", len(keys))
		}
		wantCode(t, s.CreateAPIKey(ctx, &switchboard.APIKey{Name: "dup", Hash: "hash-abc"}), switchboard.ECONFLICT)
	})
	t.Run("Revoke", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		k := &switchboard.APIKey{Name: "ci", Prefix: "sk-abc", Hash: "hash-abc"}
		must(t, s.CreateAPIKey(ctx, k))
		must(t, s.RevokeAPIKey(ctx, k.ID))
		got, err := s.FindAPIKeyByHash(ctx, "hash-abc")
		must(t, err)
		if got.RevokedAt == nil || got.RevokedAt.IsZero() {
			t.Fatalf("RevokedAt not set: %+v", got)
		}
		must(t, s.RevokeAPIKey(ctx, k.ID)) // again: still revoked, no error
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		_, err := s.FindAPIKeyByHash(ctx, "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
		wantCode(t, s.RevokeAPIKey(ctx, "nope"), switchboard.ENOTFOUND)
	})
}

// --- knowledge base --------------------------------------------------------

func testDocuments(t *testing.T, open Open) {
	passages := func(texts ...string) []switchboard.Passage {
		var ps []switchboard.Passage
		for i, s := range texts {
			ps = append(ps, switchboard.Passage{Heading: "H" + fmt.Sprint(i), Text: s, Ord: i})
		}
		return ps
	}
	texts := func(ps []switchboard.Passage) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Text)
		}
		return out
	}
	t.Run("OK", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		d := &switchboard.Document{InboxID: "in1", Title: "FAQ", Source: "faq.md", Format: "markdown", Content: "# FAQ\n..."}
		must(t, s.PutDocument(ctx, d, passages("a", "b", "c")))
		if d.ID == "" || d.Passages != 3 || d.CreatedAt.IsZero() {
			t.Fatalf("defaults not set: %+v", d)
		}
		got, err := s.FindDocumentByID(ctx, d.ID)
		must(t, err)
		same(t, "FindDocumentByID", got, d)
		if got.Content != d.Content {
			t.Fatalf("content %q", got.Content)
		}
		ps, err := s.FindPassages(ctx, "in1")
		must(t, err)
		if !slices.Equal(texts(ps), []string{"a", "b", "c"}) {
			t.Fatalf("passages %v", texts(ps))
		}
		for i, p := range ps {
			if p.ID == "" || p.DocumentID != d.ID || p.InboxID != "in1" || p.Title != "FAQ" || p.Ord != i || p.Heading != fmt.Sprint("H", i) {
				t.Fatalf("passage %d: %+v", i, p)
			}
		}
		docs, err := s.FindDocuments(ctx, "in1")
		must(t, err)
		if len(docs) != 1 || docs[0].ID != d.ID {
			t.Fatalf("documents %+v", docs)
		}
	})
	t.Run("ReplaceByID", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		d := &switchboard.Document{InboxID: "in1", Title: "Guide", Format: "text", Content: "v1"}
		must(t, s.PutDocument(ctx, d, passages("old1", "old2")))
		id := d.ID
		d2 := &switchboard.Document{ID: id, InboxID: "in1", Title: "Guide v2", Format: "text", Content: "v2"}
		must(t, s.PutDocument(ctx, d2, passages("new")))
		if d2.ID != id || d2.Passages != 1 {
			t.Fatalf("replaced %+v", d2)
		}
		got, err := s.FindDocumentByID(ctx, id)
		must(t, err)
		if got.Title != "Guide v2" || got.Content != "v2" || got.Passages != 1 || !got.CreatedAt.Equal(d.CreatedAt) {
			t.Fatalf("after replace %+v (created %v)", got, d.CreatedAt)
		}
		ps, err := s.FindPassages(ctx, "in1")
		must(t, err)
		if !slices.Equal(texts(ps), []string{"new"}) {
			t.Fatalf("passages %v", texts(ps))
		}
	})
	t.Run("ReplaceBySource", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		d := &switchboard.Document{InboxID: "in1", Title: "Prices", Source: "prices.md", Format: "markdown", Content: "v1"}
		must(t, s.PutDocument(ctx, d, passages("p1", "p2")))
		other := &switchboard.Document{InboxID: "in2", Title: "Prices", Source: "prices.md", Format: "markdown", Content: "other"}
		must(t, s.PutDocument(ctx, other, passages("q1")))
		if other.ID == d.ID {
			t.Fatal("same source in another inbox replaced the document")
		}
		d2 := &switchboard.Document{InboxID: "in1", Title: "Prices 2025", Source: "prices.md", Format: "markdown", Content: "v2"}
		must(t, s.PutDocument(ctx, d2, passages("n1", "n2", "n3")))
		if d2.ID != d.ID {
			t.Fatalf("replacement got ID %s, want %s", d2.ID, d.ID)
		}
		docs, err := s.FindDocuments(ctx, "in1")
		must(t, err)
		if len(docs) != 1 || docs[0].Title != "Prices 2025" || docs[0].Passages != 3 {
			t.Fatalf("documents %+v", docs)
		}
		ps, err := s.FindPassages(ctx, "in1")
		must(t, err)
		if !slices.Equal(texts(ps), []string{"n1", "n2", "n3"}) {
			t.Fatalf("in1 passages %v", texts(ps))
		}
		all, err := s.FindPassages(ctx, "")
		must(t, err)
		if len(all) != 4 {
			t.Fatalf("%d passages in all inboxes, want 4", len(all))
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s, _ := open(t)
		ctx := t.Context()
		d := &switchboard.Document{InboxID: "in1", Title: "Gone", Format: "text"}
		must(t, s.PutDocument(ctx, d, passages("x", "y")))
		keep := &switchboard.Document{InboxID: "in1", Title: "Kept", Format: "text"}
		must(t, s.PutDocument(ctx, keep, passages("k")))
		must(t, s.DeleteDocument(ctx, d.ID))
		_, err := s.FindDocumentByID(ctx, d.ID)
		wantCode(t, err, switchboard.ENOTFOUND)
		ps, err := s.FindPassages(ctx, "in1")
		must(t, err)
		if !slices.Equal(texts(ps), []string{"k"}) {
			t.Fatalf("passages after delete %v", texts(ps))
		}
		wantCode(t, s.DeleteDocument(ctx, d.ID), switchboard.ENOTFOUND)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := open(t)
		_, err := s.FindDocumentByID(t.Context(), "nope")
		wantCode(t, err, switchboard.ENOTFOUND)
	})
}

// --- audit, usage, settings ------------------------------------------------

func testAudit(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := t.Context()
	base := time.Now().Add(-time.Hour)
	for i := range 3 {
		r := &switchboard.AuditRecord{Kind: "blocked_input", InboxID: "in1", ConversationID: "c1", Subject: fmt.Sprint("v", i),
			Detail: `{"words":["x"]}`, CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		must(t, s.CreateAuditRecord(ctx, r))
		if r.ID == "" {
			t.Fatal("ID not set")
		}
	}
	now := &switchboard.AuditRecord{Kind: "review", Detail: "{}"}
	must(t, s.CreateAuditRecord(ctx, now))
	if now.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	recs, err := s.FindAuditRecords(ctx, 2)
	must(t, err)
	if len(recs) != 2 || recs[0].ID != now.ID || recs[1].Subject != "v2" {
		t.Fatalf("newest two: %+v", recs)
	}
	if !jsonEqual([]byte(recs[1].Detail), []byte(`{"words":["x"]}`)) || recs[1].Kind != "blocked_input" || recs[1].ConversationID != "c1" {
		t.Fatalf("record %+v", recs[1])
	}
	all, err := s.FindAuditRecords(ctx, 0)
	must(t, err)
	if len(all) != 4 {
		t.Fatalf("%d records, want 4", len(all))
	}
}

func testUsage(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := t.Context()
	now := time.Now()
	add := func(subject, model string, p, c int, cost float64, at time.Time) {
		t.Helper()
		must(t, s.CreateUsageRecord(ctx, &switchboard.UsageRecord{Subject: subject, Provider: "primary", Model: model,
			Usage: switchboard.Usage{PromptTokens: p, CompletionTokens: c}, Cost: cost, Outcome: "ok", TTFTMs: 100, CreatedAt: at}))
	}
	add("inbox:a", "m1", 10, 5, 0.5, now.Add(-48*time.Hour)) // too old
	add("inbox:a", "m1", 10, 5, 0.25, now.Add(-time.Minute))
	add("inbox:a", "m1", 20, 10, 0.25, now)
	add("inbox:a", "m2", 1, 1, 0.125, now)
	add("key:k", "m1", 100, 0, 1, now)
	sum, err := s.SummarizeUsage(ctx, now.Add(-time.Hour))
	must(t, err)
	want := []switchboard.UsageSummary{
		{Subject: "inbox:a", Provider: "primary", Model: "m1", Requests: 2, Tokens: 45, Cost: 0.5},
		{Subject: "inbox:a", Provider: "primary", Model: "m2", Requests: 1, Tokens: 2, Cost: 0.125},
		{Subject: "key:k", Provider: "primary", Model: "m1", Requests: 1, Tokens: 100, Cost: 1},
	}
	same(t, "summary", sum, want)
	sum, err = s.SummarizeUsage(ctx, now.Add(time.Hour))
	must(t, err)
	if len(sum) != 0 {
		t.Fatalf("summary of the future: %+v", sum)
	}
}

func testSettings(t *testing.T, open Open) {
	s, _ := open(t)
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "missing")
	wantCode(t, err, switchboard.ENOTFOUND)
	must(t, s.PutSetting(ctx, "k", "v1"))
	must(t, s.PutSetting(ctx, "k", "v2"))
	must(t, s.PutSetting(ctx, "empty", ""))
	if v, err := s.GetSetting(ctx, "k"); err != nil || v != "v2" {
		t.Fatalf("k = %q, %v", v, err)
	}
	if v, err := s.GetSetting(ctx, "empty"); err != nil || v != "" {
		t.Fatalf("empty = %q, %v", v, err)
	}
}

// --- durability ------------------------------------------------------------

func testReopen(t *testing.T, open Open) {
	s, reopen := open(t)
	ctx := t.Context()
	u := &switchboard.User{Email: "keep@example.com", Role: switchboard.RoleAdmin, PasswordHash: "h"}
	must(t, s.CreateUser(ctx, u))
	conv := MustConversation(t, s)
	m := text(conv.ID, "persisted")
	m.ClientMsgID = "keep-1"
	stored, _, err := s.AppendMessage(ctx, m)
	must(t, err)
	_, err = s.ReserveSeqs(ctx, conv.ID, 4)
	must(t, err)
	must(t, s.PutSetting(ctx, "jwt_kid", "k1"))
	must(t, s.PutDocument(ctx, &switchboard.Document{InboxID: conv.InboxID, Title: "D", Format: "text"}, []switchboard.Passage{{Text: "p"}}))

	s = reopen()
	got, err := s.FindUserByEmail(ctx, "keep@example.com")
	must(t, err)
	same(t, "user after reopen", got, u)
	gotMsg, err := s.FindMessageByID(ctx, stored.ID)
	must(t, err)
	same(t, "message after reopen", gotMsg, stored)
	again := text(conv.ID, "retry")
	again.ClientMsgID = "keep-1"
	_, existed, err := s.AppendMessage(ctx, again)
	must(t, err)
	if !existed {
		t.Fatal("client_msg_id forgotten after reopen")
	}
	next, _, err := s.AppendMessage(ctx, text(conv.ID, "next"))
	must(t, err)
	if next.Seq != 6 {
		t.Fatalf("seq after reopen %d, want 6", next.Seq)
	}
	if v, err := s.GetSetting(ctx, "jwt_kid"); err != nil || v != "k1" {
		t.Fatalf("setting after reopen %q, %v", v, err)
	}
	ps, err := s.FindPassages(ctx, conv.InboxID)
	must(t, err)
	if len(ps) != 1 {
		t.Fatalf("%d passages after reopen", len(ps))
	}
}
