package ws_test

import (
	"fmt"
	"testing"
	"time"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
	"github.com/switchboard-chat/switchboard/llmsim"
)

// reply has multi-byte runes and characters JSON escapes, so offsets are
// bytes, not runes, and payloads are not copied as is.
const reply = `Resuming works at every cut: 你好世界, "quoted" <b>bold</b> & ünïcödé — done.`

// transcript is what one visitor has seen across connections.
type transcript struct {
	text    sbtest.Reassembler
	lastSeq int64          // highest seq seen
	durable map[int64]bool // seqs of non-delta frames seen
	botID   string
	done    int // done frames of the bot message
}

func (tr *transcript) add(t *testing.T, f sbtest.Frame) {
	t.Helper()
	if err := tr.text.Add(f); err != nil {
		t.Fatalf("%v (frame %v)", err, f)
	}
	switch f.Type() {
	case "start", "delta":
		tr.botID = f.Str("message_id")
	case "done":
		tr.botID = f.Str("message_id")
		tr.done++
		if got := tr.text.Text(tr.botID); got != reply {
			t.Fatalf("done before the whole text: have %q", got)
		}
	case "error":
		t.Fatalf("error frame: %v", f)
	}
	if f.Type() != "delta" && f.Seq() != 0 {
		if tr.durable[f.Seq()] {
			t.Fatalf("frame with seq %d received twice: %v", f.Seq(), f)
		}
		tr.durable[f.Seq()] = true
	}
	tr.lastSeq = max(tr.lastSeq, f.Seq())
}

// TestResumeEveryCut cuts the connection after each frame of a streamed
// reply, resumes with hello{last_seq} and checks that the text arrives
// exactly once, in order, with no gap, and that done arrives once.
func TestResumeEveryCut(t *testing.T) {
	for _, mode := range []struct {
		name string
		tps  float64
		// settled: reconnect only once the answer is stored and the old
		// socket is gone, so the resume is rebuilt from the store.
		settled bool
	}{
		{"ZeroDelayStoreReplay", 0, true},
		{"ZeroDelayImmediate", 0, false},
		{"Live", 400, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := sbtest.MustRunServer(t, sbtest.Options{Sim: llmsim.Config{Reply: reply, ChunkSize: 1, TokensPerSec: mode.tps}})
			// A reference run counts the frames of one answer: echo, start,
			// deltas, done. (A reader that falls behind gets consecutive
			// deltas merged, so zero-delay answers have fewer frames.)
			n := len(converse(t, srv, -1, mode.settled)) - 1
			if n < 3 || (mode.tps > 0 && n < 10) {
				t.Fatalf("only %d frames in an answer", n+1)
			}
			for k := 0; k <= n; k++ {
				t.Run(fmt.Sprintf("Cut%02d", k), func(t *testing.T) {
					if !mode.settled {
						t.Parallel()
					}
					converse(t, srv, k, mode.settled)
				})
			}
		})
	}
}

// converse asks one question on a new session, disconnects after k frames
// (k < 0: never), resumes, and returns every frame of the answer.
func converse(t *testing.T, srv *sbtest.Server, k int, settled bool) []sbtest.Frame {
	t.Helper()
	tok, convID := srv.VisitorSession(t)
	tr := &transcript{durable: map[int64]bool{}}
	var frames []sbtest.Frame

	c := srv.DialWS(t, tok, sbtest.AllowedOrigin)
	c.Hello(t, 0)
	c.Send(map[string]any{"type": "message", "client_msg_id": "q1", "content": "Tell me something."})
	for i := 0; k < 0 || i < k; i++ {
		f := c.Next(t)
		tr.add(t, f)
		frames = append(frames, f)
		if f.Type() == "done" {
			break
		}
	}
	if k < 0 {
		c.Conn.CloseNow()
		return frames
	}
	c.Conn.CloseNow() // the tab is gone, no close handshake
	if settled {
		sbtest.CheckFor(t, sbtest.Timeout, 5*time.Millisecond, func() error {
			if srv.HTTP.Sockets() != 0 {
				return fmt.Errorf("%d sockets open", srv.HTTP.Sockets())
			}
			if srv.Engine.Running(convID) {
				return fmt.Errorf("answer still running")
			}
			return nil
		})
	}

	c = srv.DialWS(t, tok, sbtest.AllowedOrigin)
	resumedAfter := tr.lastSeq
	ready := c.Hello(t, resumedAfter)
	if ready.Str("conversation_id") != convID {
		t.Fatalf("ready for %q, want %q", ready.Str("conversation_id"), convID)
	}
	if tr.done == 0 {
		for tr.done == 0 {
			f := c.Next(t)
			if f.Type() != "delta" && f.Seq() != 0 && f.Seq() <= resumedAfter {
				t.Fatalf("frame with seq %d <= last_seq %d replayed: %v", f.Seq(), resumedAfter, f)
			}
			tr.add(t, f)
			frames = append(frames, f)
		}
	} else {
		// Everything was seen: whatever comes before pong must add nothing.
		c.Send(map[string]any{"type": "ping"})
		_, extra := c.Until(t, sbtest.Type("pong"))
		for _, f := range extra {
			tr.add(t, f)
		}
	}
	if got := tr.text.Text(tr.botID); got != reply {
		t.Fatalf("text = %q, want %q", got, reply)
	}
	if tr.done != 1 {
		t.Fatalf("%d done frames, want 1", tr.done)
	}
	if !tr.durable[1] {
		t.Fatalf("the echo of the visitor's message (seq 1) never arrived")
	}
	bots := srv.BotMessages(t, convID)
	if len(bots) != 1 || bots[0].Content != reply || bots[0].State != sb.StateComplete {
		t.Fatalf("stored bot messages = %+v, want one complete with the reply", bots)
	}
	return frames
}
