package chat_test

import (
	"context"
	"sync"
	"testing"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
	"github.com/switchboard-chat/switchboard/llmsim"
)

func visitor(t *testing.T, srv *sbtest.Server) (*sbtest.WSClient, string) {
	t.Helper()
	tok, convID := srv.VisitorSession(t)
	c := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	c.Hello(t, 0)
	return c, convID
}

func TestHandoffPhrase(t *testing.T) {
	for _, tc := range []struct {
		name   string
		agents func(t *testing.T, srv *sbtest.Server)
		status sb.Status
		owner  sb.Owner
	}{
		{"NoAgentOnline", func(t *testing.T, srv *sbtest.Server) {
			srv.User(t, sb.RoleAgent, sb.PresenceOffline)
		}, sb.StatusPending, sb.OwnerNone},
		{"AgentsBusy", func(t *testing.T, srv *sbtest.Server) {
			a, _ := srv.User(t, sb.RoleAgent, sb.PresenceOnline)
			cap1 := 1
			if _, err := srv.Store.UpdateUser(context.Background(), a.ID, sb.UserUpdate{Capacity: &cap1}); err != nil {
				t.Fatal(err)
			}
			_, other := srv.VisitorSession(t)
			if _, err := srv.Engine.Assign(context.Background(), other, a.ID, false); err != nil {
				t.Fatal(err)
			}
		}, sb.StatusQueued, sb.OwnerNone},
		{"AgentFree", func(t *testing.T, srv *sbtest.Server) {
			srv.User(t, sb.RoleAgent, sb.PresenceOnline)
		}, sb.StatusAssigned, sb.OwnerHuman},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sbtest.MustRunServer(t, sbtest.Options{})
			tc.agents(t, srv)
			c, convID := visitor(t, srv)
			c.Send(map[string]any{"type": "message", "client_msg_id": "h", "content": "Please, I want to TALK TO A HUMAN."})
			st, before := c.Until(t, sbtest.Type("status"))
			if sb.Status(st.Str("status")) != tc.status || sb.Owner(st.Str("owner")) != tc.owner || st.Seq() == 0 {
				t.Fatalf("status frame %v, want %s/%s", st, tc.status, tc.owner)
			}
			for _, f := range before {
				if f.Type() == "start" || f.Type() == "delta" {
					t.Fatalf("the bot answered a handoff request: %v", f)
				}
			}
			conv, err := srv.Store.FindConversationByID(context.Background(), convID)
			if err != nil || conv.Status != tc.status || conv.Owner != tc.owner {
				t.Fatalf("stored conversation %+v %v", conv, err)
			}
			if n := srv.Sim.TotalAttempts(); n != 0 {
				t.Fatalf("upstream called %d times", n)
			}
		})
	}
}

// TestTakeoverDuringStream assigns the conversation to an agent while the
// bot streams: the answer ends cancelled with the text the visitor saw,
// the upstream request is cancelled, and no delta follows the status
// frame that announces the human owner.
func TestTakeoverDuringStream(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Tokens: 2000, TokensPerSec: 200}})
	agent, _ := srv.User(t, sb.RoleAgent, sb.PresenceOnline)
	c, convID := visitor(t, srv)
	c.Send(map[string]any{"type": "message", "client_msg_id": "q", "content": "Tell me everything"})
	var text sbtest.Reassembler
	first, _ := c.Until(t, sbtest.Type("delta"))
	if err := text.Add(first); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	conv, err := srv.Engine.Assign(ctx, convID, agent.ID, false)
	if err != nil || conv.Owner != sb.OwnerHuman || conv.AssigneeID != agent.ID {
		t.Fatalf("assign: %+v %v", conv, err)
	}
	if _, err := srv.Engine.PostAgentMessage(ctx, convID, agent, "Hi, a human here.", false); err != nil {
		t.Fatal(err)
	}

	var done sbtest.Frame
	human := false
	c.Until(t, func(f sbtest.Frame) bool {
		if err := text.Add(f); err != nil {
			t.Fatal(err)
		}
		switch f.Type() {
		case "delta":
			if human {
				t.Fatalf("delta after the takeover's status frame: %v", f)
			}
		case "done":
			done = f
		case "status":
			human = human || f.Str("owner") == string(sb.OwnerHuman)
		}
		m, _ := f["message"].(map[string]any)
		return f.Type() == "message" && m["sender"] == string(sb.SenderAgent)
	})
	if !human {
		t.Fatal("no status frame with owner human")
	}
	if done == nil || done.Str("finish_reason") != "cancelled" {
		t.Fatalf("done = %v, want finish_reason cancelled", done)
	}
	m, err := srv.Store.FindMessageByID(ctx, done.Str("message_id"))
	if err != nil || m.State != sb.StateCancelled || m.Content == "" || m.Content != text.Text(m.ID) {
		t.Fatalf("stored %+v (%v); visitor saw %q", m, err, text.Text(done.Str("message_id")))
	}
	wctx, cancel := context.WithTimeout(ctx, sbtest.Timeout)
	defer cancel()
	if err := srv.Sim.WaitCancelled(wctx, 1); err != nil {
		t.Fatalf("upstream request not cancelled: %v", err)
	}
	if srv.Engine.Running(convID) {
		t.Fatal("a generation runs for a human-owned conversation")
	}
}

// TestConcurrentAssign: two agents take one conversation at once; exactly
// one wins, the other gets ECONFLICT.
func TestConcurrentAssign(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	a, _ := srv.User(t, sb.RoleAgent, sb.PresenceOffline)
	b, _ := srv.User(t, sb.RoleAgent, sb.PresenceOffline)
	ctx := context.Background()
	for range 20 {
		_, convID := srv.VisitorSession(t)
		if _, err := srv.Engine.Handoff(ctx, convID, "visitor"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, u := range []*sb.User{a, b} {
			wg.Go(func() { _, errs[i] = srv.Engine.Assign(ctx, convID, u.ID, false) })
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if won >= 0 {
					t.Fatal("both agents got the conversation")
				}
				won = i
			case sb.ErrorCode(err) != sb.ECONFLICT:
				t.Fatalf("assign: %v, want nil or ECONFLICT", err)
			}
		}
		if won < 0 {
			t.Fatalf("nobody got the conversation: %v", errs)
		}
		conv, err := srv.Store.FindConversationByID(ctx, convID)
		if err != nil || conv.AssigneeID != []*sb.User{a, b}[won].ID || conv.Status != sb.StatusAssigned {
			t.Fatalf("stored %+v %v, want assigned to the winner", conv, err)
		}
	}
}
