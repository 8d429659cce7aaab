package ws_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	sbhttp "github.com/switchboard-chat/switchboard/http"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
	"github.com/switchboard-chat/switchboard/ws"
)

// TestPerIPCap: sockets beyond the per-IP cap are refused with 429 before
// the upgrade; closing one makes room.
func TestPerIPCap(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{HTTP: func(o *sbhttp.Options) { o.MaxWSPerIP = 2 }})
	tok, _ := srv.VisitorSession(t)
	a := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	a.Hello(t, 0)
	b := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	b.Hello(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), sbtest.Timeout)
	defer cancel()
	_, resp, err := srv.Dial(ctx, tok, sbtest.AllowedOrigin, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third socket: %v %v", resp, err)
	}
	a.Conn.Close(websocket.StatusNormalClosure, "")
	sbtest.CheckFor(t, sbtest.Timeout, 20*time.Millisecond, func() error {
		c, _, err := srv.Dial(ctx, tok, sbtest.AllowedOrigin, nil)
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
		}
		return err
	})
}

// TestIdleClose: a socket that sends nothing for the idle timeout is
// closed with 4000 "idle timeout".
func TestIdleClose(t *testing.T) {
	srv := sbtest.MustRunServer(t, sbtest.Options{HTTP: func(o *sbhttp.Options) { o.WSIdleTimeout = 300 * time.Millisecond }})
	tok, _ := srv.VisitorSession(t)
	c := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	c.Hello(t, 0)
	code, reason := c.Closed(t)
	if code != ws.CloseIdle || reason != "idle timeout" {
		t.Fatalf("closed with %d %q, want %d idle timeout", code, reason, ws.CloseIdle)
	}
}
