package chat_test

import (
	"context"
	"testing"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
)

// TestQueue: with the only online agent at capacity, visitors asking for
// a human wait in the queue and see their position and an estimate; the
// oldest is assigned as soon as the agent resolves a conversation, the
// next when another agent comes online.
func TestQueue(t *testing.T) {
	ctx := context.Background()
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	ana, _ := srv.User(t, sb.RoleAgent, sb.PresenceOnline)
	one := 1
	if _, err := srv.Store.UpdateUser(ctx, ana.ID, sb.UserUpdate{Capacity: &one}); err != nil {
		t.Fatal(err)
	}
	askHuman := func(c *sbtest.WSClient) sbtest.Frame {
		t.Helper()
		c.Send(map[string]any{"type": "handoff"})
		f, _ := c.Until(t, sbtest.Type("status"))
		return f
	}

	a, convA := visitor(t, srv)
	if f := askHuman(a); f.Str("status") != "assigned" {
		t.Fatalf("first visitor: %v", f)
	}
	b, convB := visitor(t, srv)
	fb := askHuman(b)
	if fb.Str("status") != "queued" || fb.Int("queue_position") != 1 || fb.Int("queue_wait_seconds") <= 0 {
		t.Fatalf("second visitor: %v", fb)
	}
	c, convC := visitor(t, srv)
	if fc := askHuman(c); fc.Str("status") != "queued" || fc.Int("queue_position") != 2 {
		t.Fatalf("third visitor: %v", fc)
	}

	// Ana resolves the first conversation: the oldest waiting one is hers.
	if _, err := srv.Engine.Resolve(ctx, convA); err != nil {
		t.Fatal(err)
	}
	f, _ := b.Until(t, sbtest.Type("status"))
	if f.Str("status") != "assigned" || f.Str("owner") != "human" {
		t.Fatalf("second visitor after the resolve: %v", f)
	}
	if conv, _ := srv.Store.FindConversationByID(ctx, convB); conv.AssigneeID != ana.ID {
		t.Fatalf("assigned to %q, want %q", conv.AssigneeID, ana.ID)
	}
	if conv, _ := srv.Store.FindConversationByID(ctx, convC); conv.Status != sb.StatusQueued {
		t.Fatalf("third conversation is %s while Ana is full", conv.Status)
	}

	// Ben comes online: the third visitor is his.
	ben, _ := srv.User(t, sb.RoleAgent, sb.PresenceAway)
	if err := srv.Engine.SetPresence(ctx, ben.ID, sb.PresenceOnline); err != nil {
		t.Fatal(err)
	}
	f, _ = c.Until(t, sbtest.Type("status"))
	if f.Str("status") != "assigned" {
		t.Fatalf("third visitor after an agent came online: %v", f)
	}
	if conv, _ := srv.Store.FindConversationByID(ctx, convC); conv.AssigneeID != ben.ID {
		t.Fatalf("assigned to %q, want %q", conv.AssigneeID, ben.ID)
	}
}
