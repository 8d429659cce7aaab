package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
	"github.com/switchboard-chat/switchboard/llmsim"
)

// answered waits until the conversation's last bot message is final.
func answered(t *testing.T, srv *sbtest.Server, convID string) *sb.Message {
	t.Helper()
	var last *sb.Message
	sbtest.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		bots := srv.BotMessages(t, convID)
		if len(bots) == 0 || !bots[len(bots)-1].State.Final() {
			return context.DeadlineExceeded
		}
		last = bots[len(bots)-1]
		return nil
	})
	return last
}

// TestAgentDraft: the copilot streams a suggestion built from the
// conversation; nothing is stored or sent to the visitor.
func TestAgentDraft(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Reply: "Sure, I can help with your refund."}})
	_, agentTok := srv.User(t, sb.RoleAgent, sb.PresenceOnline)
	tok, convID := srv.VisitorSession(t)
	if resp := post(t, srv, tok, convID, "q1", "I want a refund for order 42"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("post: %s", resp.Status)
	}
	answered(t, srv, convID)
	before := len(srv.Messages(t, convID))

	resp := srv.Do(t, "POST", "/v1/agent/drafts", agentTok, map[string]string{"conversation_id": convID}, "Accept", "text/event-stream")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("draft: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var text strings.Builder
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev struct{ Type, Payload, Code string }
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("bad event %q", data)
		}
		switch ev.Type {
		case "delta":
			text.WriteString(ev.Payload)
		case "done":
			done = true
		case "error":
			t.Fatalf("draft error %s", ev.Code)
		}
	}
	if !done || text.String() != "Sure, I can help with your refund." {
		t.Fatalf("draft %q (done %v)", text.String(), done)
	}
	if n := len(srv.Messages(t, convID)); n != before {
		t.Fatalf("the draft stored something: %d messages, was %d", n, before)
	}
	seen := srv.Sim.Requests()
	last := seen[len(seen)-1].Messages
	if !strings.Contains(last[0].Text, "helping a human customer-service agent") || !slices.ContainsFunc(last, func(m llmsim.SeenMessage) bool { return m.Text == "I want a refund for order 42" }) {
		t.Fatalf("draft context: %+v", last)
	}
	// Visitors may not ask for drafts.
	if resp := srv.Do(t, "POST", "/v1/agent/drafts", tok, map[string]string{"conversation_id": convID}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("visitor draft: %s", resp.Status)
	}
}

// TestLeaveMessage: with no agent online a handoff is pending and the
// visitor leaves a message with an email; bad input stores nothing.
func TestLeaveMessage(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	tok, convID := srv.VisitorSession(t)
	resp := srv.Do(t, "POST", "/v1/conversations/"+convID+"/handoff", tok, map[string]string{})
	var h struct{ Conversation sb.Conversation }
	sbtest.DecodeJSON(t, resp, &h)
	if h.Conversation.Status != sb.StatusPending {
		t.Fatalf("handoff with no agent online: %s", h.Conversation.Status)
	}
	for _, bad := range []map[string]string{{"email": "not-an-email", "content": "hi"}, {"email": "a@b.example", "content": "  "}} {
		if resp := srv.Do(t, "POST", "/v1/conversations/"+convID+"/offline_message", tok, bad); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%v: %s", bad, resp.Status)
		}
	}
	if n := len(srv.Messages(t, convID)); n != 0 {
		t.Fatalf("bad offline messages stored %d messages", n)
	}
	resp = srv.Do(t, "POST", "/v1/conversations/"+convID+"/offline_message", tok, map[string]string{"email": "ana@shop.example", "content": "Please call me back about order 42."})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("offline message: %s", resp.Status)
	}
	ms := srv.Messages(t, convID)
	if len(ms) != 1 || ms[0].Content != "Please call me back about order 42." || !slices.Contains(ms[0].Flags, "offline_message") {
		t.Fatalf("stored %+v", ms)
	}
	conv, _ := srv.Store.FindConversationByID(context.Background(), convID)
	contact, _ := srv.Store.FindContactByID(context.Background(), conv.ContactID)
	if conv.Status != sb.StatusPending || contact.Email != "ana@shop.example" {
		t.Fatalf("conversation %s, contact email %q", conv.Status, contact.Email)
	}
	if len(srv.BotMessages(t, convID)) != 0 {
		t.Fatal("the bot answered a message left for the agents")
	}
}

// TestHandoffOutsideBusinessHours: even with an agent online, a handoff
// outside the inbox's hours is pending (the widget offers to leave a message).
func TestHandoffOutsideBusinessHours(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	srv.User(t, sb.RoleAgent, sb.PresenceOnline)
	today := int(time.Now().UTC().Weekday())
	var days []int
	for d := 0; d < 7; d++ {
		if d != today {
			days = append(days, d)
		}
	}
	st := srv.Inbox.Settings
	st.BusinessHours = &sb.Hours{TimeZone: "UTC", Days: days, Open: "00:00", Close: "23:59"}
	if _, err := srv.Store.UpdateInbox(context.Background(), srv.Inbox.ID, sb.InboxUpdate{Settings: &st}); err != nil {
		t.Fatal(err)
	}
	tok, convID := srv.VisitorSession(t)
	var h struct{ Conversation sb.Conversation }
	sbtest.DecodeJSON(t, srv.Do(t, "POST", "/v1/conversations/"+convID+"/handoff", tok, map[string]string{}), &h)
	if h.Conversation.Status != sb.StatusPending || h.Conversation.AssigneeID != "" {
		t.Fatalf("handoff outside hours: %s assigned to %q", h.Conversation.Status, h.Conversation.AssigneeID)
	}
}
