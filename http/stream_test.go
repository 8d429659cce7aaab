package http_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
	"github.com/switchboard-chat/switchboard/llmsim"
)

const reply = `SSE resumes too: 你好, "quoted" <b>bold</b> & ünïcödé.`

func post(t *testing.T, srv *sbtest.Server, tok, convID, id, content string, headers ...string) *http.Response {
	t.Helper()
	return srv.Do(t, "POST", "/v1/conversations/"+convID+"/messages", tok,
		map[string]string{"client_msg_id": id, "content": content}, append([]string{"Origin", sbtest.AllowedOrigin}, headers...)...)
}

// TestSSEResumeEveryCut reads the events stream, drops it after k events,
// and resumes with Last-Event-ID: the text arrives exactly once.
func TestSSEResumeEveryCut(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Reply: reply, TokensPerSec: 300}})
	run := func(t *testing.T, k int) int {
		tok, convID := srv.VisitorSession(t)
		path := "/v1/conversations/" + convID + "/events"
		es := srv.SSE(t, path, tok, 0)
		if got := es.Resp.Header.Get("X-Accel-Buffering"); got != "no" {
			t.Errorf("X-Accel-Buffering = %q", got)
		}
		if resp := post(t, srv, tok, convID, "q", "Hello"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("post: %s", resp.Status)
		}
		var text sbtest.Reassembler
		var last int64
		seen := map[int64]bool{}
		n, done := 0, 0
		add := func(id int64, f sbtest.Frame) {
			if err := text.Add(f); err != nil {
				t.Fatalf("%v: %v", err, f)
			}
			if f.Seq() != 0 && id != f.Seq() {
				t.Fatalf("id: %d for a frame with seq %d", id, f.Seq())
			}
			if f.Type() != "delta" && f.Seq() != 0 {
				if seen[f.Seq()] {
					t.Fatalf("seq %d twice: %v", f.Seq(), f)
				}
				seen[f.Seq()] = true
			}
			if f.Type() == "done" {
				done++
				if got := text.Text(f.Str("message_id")); got != reply {
					t.Fatalf("done with text %q", got)
				}
			}
			last = max(last, id)
		}
		for ; (k < 0 || n < k) && done == 0; n++ {
			add(es.Next(t))
		}
		es.Close()
		if k < 0 {
			return n
		}
		if done == 0 {
			es = srv.SSE(t, path, tok, last)
			for done == 0 {
				add(es.Next(t))
			}
			es.Close()
		}
		bots := srv.BotMessages(t, convID)
		if len(bots) != 1 || text.Text(bots[0].ID) != reply {
			t.Fatalf("text %q, want %q", text.Text(bots[0].ID), reply)
		}
		return n
	}
	n := run(t, -1)
	for k := 0; k < n; k++ {
		t.Run(fmt.Sprintf("Cut%02d", k), func(t *testing.T) {
			t.Parallel()
			run(t, k)
		})
	}
}

// TestPostMessageStreamsReply posts with Accept: text/event-stream and
// reads the answer to its end.
func TestPostMessageStreamsReply(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Reply: reply}})
	tok, convID := srv.VisitorSession(t)
	resp := post(t, srv, tok, convID, "q", "Hello", "Accept", "text/event-stream")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("post: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	es := sbtest.NewSSEClient(resp)
	var text sbtest.Reassembler
	for {
		_, f := es.Next(t)
		if err := text.Add(f); err != nil {
			t.Fatal(err)
		}
		if f.Type() == "done" {
			if got := text.Text(f.Str("message_id")); got != reply {
				t.Fatalf("text %q", got)
			}
			m, err := srv.Store.FindMessageByID(context.Background(), f.Str("message_id"))
			if err != nil || m.State != sb.StateComplete || m.Content != reply {
				t.Fatalf("on done the store has %+v %v", m, err)
			}
			return
		}
	}
}

func TestWidgetSessionOrigin(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	for _, tc := range []struct {
		origin string
		status int
	}{
		{sbtest.AllowedOrigin, http.StatusOK},
		{"http://evil.example", http.StatusForbidden},
		{"http://allowed.example.evil.example", http.StatusForbidden},
	} {
		resp := srv.Do(t, "POST", "/v1/widget/session", "", map[string]string{"widget_key": srv.Inbox.WidgetKey}, "Origin", tc.origin)
		if resp.StatusCode != tc.status {
			t.Errorf("Origin %s: %s, want %d", tc.origin, resp.Status, tc.status)
		}
	}
}

func TestConversationAuth(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	tok, convID := srv.VisitorSession(t)
	otherTok, _ := srv.VisitorSession(t)
	path := "/v1/conversations/" + convID + "/messages"
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"OK", tok, http.StatusOK},
		{"NoToken", "", http.StatusUnauthorized},
		{"BadToken", tok + "x", http.StatusUnauthorized},
		{"OtherVisitor", otherTok, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp := srv.Do(t, "GET", path, tc.token, nil); resp.StatusCode != tc.status {
				t.Fatalf("%s, want %d", resp.Status, tc.status)
			}
		})
	}
}

func TestPostMessageTooLarge(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	tok, convID := srv.VisitorSession(t)
	for _, size := range []int{16<<10 + 1, 40 << 10, 2 << 20} {
		resp := post(t, srv, tok, convID, "big", strings.Repeat("a", size))
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%d bytes: %s, want 413", size, resp.Status)
		}
	}
	if ms := srv.Messages(t, convID); len(ms) != 0 {
		t.Fatalf("stored %d messages", len(ms))
	}
	if n := srv.Sim.TotalAttempts(); n != 0 {
		t.Fatalf("upstream called %d times", n)
	}
}

// TestAssignConflict: two agents take one conversation at once over HTTP:
// one 200, one 409.
func TestAssignConflict(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	_, tokA := srv.User(t, sb.RoleAgent, sb.PresenceOffline)
	_, tokB := srv.User(t, sb.RoleAgent, sb.PresenceOffline)
	for range 10 {
		_, convID := srv.VisitorSession(t)
		path := "/v1/agent/conversations/" + convID + "/assign"
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, tok := range []string{tokA, tokB} {
			wg.Go(func() { codes[i] = srv.Do(t, "POST", path, tok, map[string]any{}).StatusCode })
		}
		wg.Wait()
		if !(codes[0] == http.StatusOK && codes[1] == http.StatusConflict) && !(codes[0] == http.StatusConflict && codes[1] == http.StatusOK) {
			t.Fatalf("statuses %v, want one 200 and one 409", codes)
		}
	}
}
