package chat

import (
	"context"
	"path/filepath"
	"testing"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/redis"
	"github.com/switchboard-chat/switchboard/sqlite"
)

// TestStaleCacheDoesNotSilenceTheBot: a context cache whose last message is
// the bot's answer (appended after the visitor's next message, as can
// happen across instances) must not make the engine think nothing waits
// for an answer: the store decides.
func TestStaleCacheDoesNotSilenceTheBot(t *testing.T) {
	ctx := context.Background()
	rc, err := redis.OpenWithOptions(ctx, testenv.RedisURL(t), redis.Options{Prefix: "test:" + sb.NewID() + ":"})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cache := rc.ContextCache(redis.CacheOptions{})
	e := New(Options{Store: store, Cache: cache})

	inbox := &sb.Inbox{Name: "t"}
	if err := store.CreateInbox(ctx, inbox); err != nil {
		t.Fatal(err)
	}
	contact := &sb.Contact{InboxID: inbox.ID}
	if err := store.CreateContact(ctx, contact); err != nil {
		t.Fatal(err)
	}
	conv := &sb.Conversation{InboxID: inbox.ID, ContactID: contact.ID, Status: sb.StatusBot, Owner: sb.OwnerBot}
	if err := store.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*sb.Message{
		{ConversationID: conv.ID, Sender: sb.SenderContact, Kind: sb.KindText, Content: "first question", State: sb.StateComplete},
		{ConversationID: conv.ID, Sender: sb.SenderBot, Kind: sb.KindText, Content: "first answer", State: sb.StateComplete},
		{ConversationID: conv.ID, Sender: sb.SenderContact, Kind: sb.KindText, Content: "second question", State: sb.StateComplete},
	} {
		if _, _, err := store.AppendMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The cache got the second question before the first answer.
	stale := []sb.ChatMessage{{Role: sb.RoleUser, Content: "first question"}, {Role: sb.RoleUser, Content: "second question"}, {Role: sb.RoleAssistant, Content: "first answer"}}
	if err := cache.Set(ctx, conv.ID, conv.ContextEpoch, stale); err != nil {
		t.Fatal(err)
	}
	conv, _ = store.FindConversationByID(ctx, conv.ID)
	req, err := e.buildRequest(ctx, conv, inbox)
	if err != nil {
		t.Fatal(err)
	}
	if req == nil {
		t.Fatal("the stale cache silenced the bot: no request for the waiting question")
	}
	msgs := req.Messages
	if got := msgs[len(msgs)-1]; got.Role != sb.RoleUser || got.Content != "second question" {
		t.Fatalf("last context message %+v", got)
	}
	if len(msgs) != 4 || msgs[2].Content != "first answer" {
		t.Fatalf("context not rebuilt from the store in seq order: %+v", msgs)
	}
}
