package ws_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/chat"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
	"github.com/switchboard-chat/switchboard/llmsim"
	"github.com/switchboard-chat/switchboard/ws"
)

func visitor(t *testing.T, srv *sbtest.Server) (*sbtest.WSClient, string) {
	t.Helper()
	tok, convID := srv.VisitorSession(t)
	c := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	c.Hello(t, 0)
	return c, convID
}

func ask(c *sbtest.WSClient, id, content string) {
	c.Send(map[string]any{"type": "message", "client_msg_id": id, "content": content})
}

func TestDuplicateClientMsgID(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Reply: "One answer."}})
	c, convID := visitor(t, srv)
	ask(c, "dup-1", "Hello?")
	done, _ := c.Until(t, sbtest.Type("done"))
	ask(c, "dup-1", "Hello?")
	// The duplicate is answered with the stored message, not a new one.
	echo := c.Next(t)
	msg, _ := echo["message"].(map[string]any)
	if echo.Type() != "message" || msg["client_msg_id"] != "dup-1" || echo.Seq() >= done.Seq() {
		t.Fatalf("duplicate answered with %v, want the original message", echo)
	}
	// A ping round trip after the duplicate: nothing else was started.
	c.Send(map[string]any{"type": "ping"})
	if _, extra := c.Until(t, sbtest.Type("pong")); len(extra) != 0 {
		t.Fatalf("frames after a duplicate: %v", extra)
	}
	ms := srv.Messages(t, convID)
	if len(ms) != 2 || ms[0].Sender != sb.SenderContact || ms[1].Sender != sb.SenderBot {
		t.Fatalf("stored %d messages, want the question and one answer", len(ms))
	}
	if n := srv.Sim.Attempts(sbtest.Model); n != 1 {
		t.Fatalf("upstream saw %d requests, want 1", n)
	}
}

func TestDuplicateClientMsgIDConcurrent(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Reply: "One answer."}})
	tok, convID := srv.VisitorSession(t)
	a := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	b := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	a.Hello(t, 0)
	b.Hello(t, 0)
	ask(a, "same", "Hi")
	ask(b, "same", "Hi")
	a.Until(t, sbtest.Type("done"))
	sbtest.CheckFor(t, sbtest.Timeout, 5*time.Millisecond, func() error {
		if srv.Engine.Running(convID) {
			return errors.New("answer running")
		}
		return nil
	})
	if ms := srv.Messages(t, convID); len(ms) != 2 {
		t.Fatalf("stored %d messages, want 2", len(ms))
	}
	if n := srv.Sim.Attempts(sbtest.Model); n != 1 {
		t.Fatalf("upstream saw %d requests, want 1", n)
	}
}

func TestStop(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Mode: llmsim.ModeStall, Reply: "This answer stalls half way through its text.", StallAfter: 3}})
	c, convID := visitor(t, srv)
	ask(c, "s1", "Go on")
	var seen sbtest.Reassembler
	// Three tokens arrive (in one or more deltas), then the upstream stalls.
	for {
		f := c.Next(t)
		if err := seen.Add(f); err != nil {
			t.Fatal(err)
		}
		if f.Type() == "delta" && seen.Text(f.Str("message_id")) == "This answer stalls" {
			break
		}
	}
	c.Send(map[string]any{"type": "stop"})
	done, _ := c.Until(t, sbtest.Type("done"))
	if done.Str("finish_reason") != "cancelled" {
		t.Fatalf("done = %v, want finish_reason cancelled", done)
	}
	// Persist, then publish: the store already has the final state.
	m, err := srv.Store.FindMessageByID(context.Background(), done.Str("message_id"))
	if err != nil {
		t.Fatal(err)
	}
	if m.State != sb.StateCancelled || m.Content != seen.Text(m.ID) || m.Content != "This answer stalls" {
		t.Fatalf("stored %q %q, want cancelled with the partial text %q", m.State, m.Content, seen.Text(m.ID))
	}
	ctx, cancel := context.WithTimeout(context.Background(), sbtest.Timeout)
	defer cancel()
	if err := srv.Sim.WaitCancelled(ctx, 1); err != nil {
		t.Fatalf("upstream request not cancelled: %v", err)
	}
	sbtest.CheckFor(t, sbtest.Timeout, 5*time.Millisecond, func() error {
		if srv.Engine.Running(convID) {
			return errors.New("answer still running after stop")
		}
		return nil
	})
}

func TestClosingTabKeepsGenerating(t *testing.T) {
	const text = "An answer that takes a while to stream, long after the tab has gone away."
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Reply: text, TokensPerSec: 100}})
	c, convID := visitor(t, srv)
	ask(c, "t1", "Hi")
	c.Until(t, sbtest.Type("delta"))
	c.Conn.CloseNow()
	var m *sb.Message
	sbtest.CheckFor(t, sbtest.Timeout, 10*time.Millisecond, func() error {
		bots := srv.BotMessages(t, convID)
		if len(bots) != 1 || !bots[0].State.Final() {
			return errors.New("answer not finished")
		}
		m = bots[0]
		return nil
	})
	if m.State != sb.StateComplete || m.Content != text {
		t.Fatalf("stored %q %q, want complete %q", m.State, m.Content, text)
	}
	if n := srv.Sim.Cancelled(); n != 0 {
		t.Fatalf("upstream saw %d cancelled requests", n)
	}
}

func TestBadFramesKeepSocketOpen(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	c, convID := visitor(t, srv)
	for _, tc := range []struct{ name, frame string }{
		{"MalformedJSON", `{"type":"message",`},
		{"NotAnObject", `[1,2,3]`},
		{"UnknownType", `{"type":"launch_missiles"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Send(tc.frame)
			f := c.Next(t)
			if f.Type() != "error" || f.Str("code") != sb.EINVALID || f.Str("message") == "" || f.Has("seq") {
				t.Fatalf("answer = %v, want an invalid error without seq", f)
			}
			c.Send(map[string]any{"type": "ping"})
			if f := c.Next(t); f.Type() != "pong" {
				t.Fatalf("after the error: %v, want pong", f)
			}
		})
	}
	if ms := srv.Messages(t, convID); len(ms) != 0 {
		t.Fatalf("bad frames stored %d messages", len(ms))
	}
}

func TestOversizedFrame(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	c, convID := visitor(t, srv)
	big := `{"type":"message","client_msg_id":"x","content":"` + strings.Repeat("a", ws.ReadLimit) + `"}`
	c.Send(big)
	if code, _ := c.Closed(t); code != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %d, want 1009", code)
	}
	if ms := srv.Messages(t, convID); len(ms) != 0 {
		t.Fatalf("stored %d messages", len(ms))
	}
}

func TestMessageTooLarge(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	c, convID := visitor(t, srv)
	ask(c, "big", strings.Repeat("a", 16<<10+1)) // over 16 KiB of text, under the 32 KiB frame
	f := c.Next(t)
	if f.Type() != "error" || f.Str("code") != sb.ETOOLARGE || f.Has("seq") {
		t.Fatalf("answer = %v, want too_large without seq", f)
	}
	ask(c, "fits", strings.Repeat("a", 16<<10))
	if f := c.Next(t); f.Type() != "message" {
		t.Fatalf("a 16 KiB message: %v, want its echo", f)
	}
	ms := srv.Messages(t, convID)
	if len(ms) == 0 || ms[0].ClientMsgID != "fits" {
		t.Fatalf("stored %v, want only the message that fits", ms)
	}
}

func TestUpgradeRefused(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	tok, _ := srv.VisitorSession(t)
	other := srv.DialWS(t, srv.AdminToken(t), "") // a console token is not a visitor token
	other.Conn.CloseNow()
	for _, tc := range []struct {
		name, token, origin string
		status              int
	}{
		{"WrongOrigin", tok, "http://evil.example", http.StatusForbidden},
		{"NoToken", "", sbtest.AllowedOrigin, http.StatusUnauthorized},
		{"BadToken", tok[:len(tok)-4] + "AAAA", sbtest.AllowedOrigin, http.StatusUnauthorized},
		{"Garbage", "not-a-jwt", sbtest.AllowedOrigin, http.StatusUnauthorized},
		{"AlgNone", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwidHlwIjoidmlzaXRvciJ9.", sbtest.AllowedOrigin, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), sbtest.Timeout)
			defer cancel()
			c, resp, err := srv.Dial(ctx, tc.token, tc.origin, nil)
			if err == nil {
				c.CloseNow()
				t.Fatal("upgrade accepted")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("response %v, want %d", resp, tc.status)
			}
		})
	}
}

// TestHelloAgain re-subscribes many times on one socket: replacing a
// subscription must not look like a slow consumer.
func TestHelloAgain(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	c, _ := visitor(t, srv)
	for range 50 {
		c.Hello(t, 0)
	}
	c.Send(map[string]any{"type": "ping"})
	if f := c.Next(t); f.Type() != "pong" {
		t.Fatalf("after hellos: %v, want pong", f)
	}
}

func TestBye(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{})
	c, _ := visitor(t, srv)
	c.Send(map[string]any{"type": "bye"})
	if code, reason := c.Closed(t); code != websocket.StatusNormalClosure {
		t.Fatalf("closed with %d %s, want 1000", code, reason)
	}
	sbtest.CheckFor(t, sbtest.Timeout, 5*time.Millisecond, func() error {
		if n := srv.HTTP.Sockets(); n != 0 {
			return errors.New("socket still open on the server")
		}
		return nil
	})
}

// TestPersistThenPublish checks on receipt of every durable frame that the
// store already holds the state it announces.
func TestPersistThenPublish(t *testing.T) {
	const text = "Stored before you see it."
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Reply: text}})
	c, convID := visitor(t, srv)
	for i := range 3 {
		ask(c, string(rune('a'+i)), "Question")
		for {
			f := c.Next(t)
			ctx := context.Background()
			switch f.Type() {
			case "message", "start":
				id := f.Str("message_id")
				if m, ok := f["message"].(map[string]any); ok {
					id, _ = m["id"].(string)
				}
				if _, err := srv.Store.FindMessageByID(ctx, id); err != nil {
					t.Fatalf("%s frame for a message the store does not have: %v", f.Type(), err)
				}
			case "done":
				m, err := srv.Store.FindMessageByID(ctx, f.Str("message_id"))
				if err != nil || m.State != sb.StateComplete || m.Content != text {
					t.Fatalf("done received, store has %+v %v", m, err)
				}
				conv, err := srv.Store.FindConversationByID(ctx, convID)
				if err != nil || conv.LastSeq < f.Seq() {
					t.Fatalf("done seq %d, store last_seq %d", f.Seq(), conv.LastSeq)
				}
			}
			if f.Type() == "done" {
				break
			}
		}
	}
}

// TestSlowConsumer has two sockets on one conversation: one reads, the
// other stops reading with a small receive buffer against a small server
// send buffer, so the server's writer blocks and its queue fills.
func TestSlowConsumer(t *testing.T) {
	const tokens = 2000
	// Queues merge consecutive deltas, so a reader that stops holds only
	// the answer's text: a small bound makes it overflow within one answer.
	srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Tokens: tokens, TokensPerSec: 1000}, ConnWriteBuffer: 4096,
		Engine: func(o *chat.Options) { o.MaxPendingBytes = 2048 }})
	tok, _ := srv.VisitorSession(t)
	smallRead := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}}
	slow := srv.DialWSWith(t, tok, sbtest.AllowedOrigin, smallRead)
	slow.Hello(t, 0)
	fast := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	fast.Hello(t, 0)

	start := time.Now()
	ask(fast, "q", "Tell me a long story")
	var text sbtest.Reassembler
	var deltas int
	done, _ := fast.Until(t, func(f sbtest.Frame) bool {
		if err := text.Add(f); err != nil {
			t.Fatal(err)
		}
		if f.Type() == "delta" {
			deltas++
		}
		return f.Type() == "done" || f.Type() == "error"
	})
	if done.Type() != "done" || deltas == 0 {
		t.Fatalf("fast reader got %d deltas and %v", deltas, done)
	}
	m, err := srv.Store.FindMessageByID(context.Background(), done.Str("message_id"))
	if err != nil || m.Content != text.Text(m.ID) {
		t.Fatalf("fast reader's text differs from the stored answer (%v)", err)
	}
	t.Logf("fast done after %v", time.Since(start))
	// Now the slow one reads: what was buffered, then the close.
	code, reason := slow.Closed(t)
	if code != ws.CloseSlowConsumer || reason != "slow consumer" {
		t.Fatalf("slow reader closed with %d %q, want 4008 slow consumer", code, reason)
	}
	t.Logf("slow closed after %v", time.Since(start))
}
