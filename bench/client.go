package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// stream is the record of one request-reply: when it started, when each
// content-carrying chunk arrived, and how it ended.
type stream struct {
	start  time.Time
	chunks []time.Time // arrival of each non-empty chunk
	end    time.Time
	tokens int   // completion tokens (usage), or chunks when not reported
	rx, tx int64 // bytes received and sent on the wire for this reply
	class  string
}

func (s *stream) ok() bool { return s.class == "" }

// fail ends s with an error class (first one wins).
func (s *stream) fail(class string) *stream {
	if s.class == "" {
		s.class = class
	}
	s.end = time.Now()
	return s
}

// counter counts bytes on the wire of every connection dialled through it.
type counter struct{ rx, tx atomic.Int64 }

func (c *counter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countConn{Conn: conn, c: c}, nil
}

func (c *counter) snapshot() (rx, tx int64) { return c.rx.Load(), c.tx.Load() }

type countConn struct {
	net.Conn
	c *counter
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.c.rx.Add(int64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.c.tx.Add(int64(n))
	return n, err
}

// newClient returns an HTTP client of one virtual user: its own
// connection pool, counted, never the default client.
func newClient(c *counter) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:           c.dial,
		MaxIdleConns:          4,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 0, // the turn's context bounds it
		ForceAttemptHTTP2:     false,
	}}
}

// errClass names the class of a transport error.
func errClass(ctx context.Context, err error) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &oe) && oe.Op == "dial":
		return "connect"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "cut"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "network"
}

// httpClass names the class of an HTTP error status, with the API's code.
func httpClass(resp *http.Response) string {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Error struct {
			Code any `json:"code"`
		} `json:"error"`
	}
	class := fmt.Sprintf("http_%d", resp.StatusCode)
	if json.Unmarshal(body, &e) == nil && e.Error.Code != nil {
		class += ":" + fmt.Sprint(e.Error.Code)
	}
	return class
}

// message returns a visitor message of about n bytes.
func message(n int, turn int) string {
	const words = "could you tell me how the order tracking works and when my parcel will arrive at the office "
	var b strings.Builder
	fmt.Fprintf(&b, "question %d: ", turn)
	for b.Len() < n {
		b.WriteString(words)
	}
	s := b.String()
	if len(s) > n && n > 0 {
		s = strings.TrimSpace(s[:n])
	}
	return s
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}

// frame is the subset of a server frame the bench reads (WebSocket and SSE).
type frame struct {
	Type         string          `json:"type"`
	Seq          int64           `json:"seq"`
	LastSeq      int64           `json:"last_seq"`
	MessageID    string          `json:"message_id"`
	Payload      string          `json:"payload"`
	FinishReason string          `json:"finish_reason"`
	Code         string          `json:"code"`
	Owner        string          `json:"owner"`
	Message      json.RawMessage `json:"message"`
	Usage        *struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// replyTracker follows the frames of one turn: the echo of our message,
// then the start, deltas and done of the answer to it.
type replyTracker struct {
	clientMsgID string
	mySeq       int64
	messageID   string
	lastSeq     int64
}

// on handles one frame; done reports the turn is over.
func (t *replyTracker) on(f *frame, s *stream) (done bool) {
	if f.Seq > t.lastSeq {
		t.lastSeq = f.Seq
	}
	switch f.Type {
	case "message":
		if t.mySeq == 0 && len(f.Message) > 0 && f.Message[0] == '{' {
			var m struct {
				ClientMsgID string `json:"client_msg_id"`
			}
			if json.Unmarshal(f.Message, &m) == nil && m.ClientMsgID == t.clientMsgID {
				t.mySeq = f.Seq
			}
		}
	case "start":
		if t.messageID == "" && t.mySeq > 0 && f.Seq > t.mySeq {
			t.messageID = f.MessageID
		}
	case "delta":
		if f.MessageID == t.messageID && t.messageID != "" && f.Payload != "" {
			s.chunks = append(s.chunks, time.Now())
		}
	case "done":
		if f.MessageID == t.messageID && t.messageID != "" {
			s.end = time.Now()
			if f.Usage != nil && f.Usage.CompletionTokens > 0 {
				s.tokens = f.Usage.CompletionTokens
			}
			if f.FinishReason != "" && f.FinishReason != "stop" && f.FinishReason != "length" {
				s.fail("finish_" + f.FinishReason)
			}
			return true
		}
	case "error":
		if f.MessageID == "" || f.MessageID == t.messageID {
			code := f.Code
			if code == "" {
				code = "unknown"
			}
			s.fail("error_frame:" + code)
			return true
		}
	case "status":
		if f.Seq > t.mySeq && t.mySeq > 0 && f.Owner == "human" {
			s.fail("handoff")
			return true
		}
	}
	return false
}

// sseLines calls fn with the data of each SSE event until fn returns
// true, the body ends, or an error.
func sseLines(r io.Reader, fn func(data []byte) bool) error {
	br := bufio.NewReaderSize(r, 16<<10)
	var data, partial []byte
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			partial = append(partial, line...)
			continue
		}
		if err != nil {
			return err
		}
		if len(partial) > 0 {
			line = append(partial, line...)
			partial = nil
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				if fn(data) {
					return nil
				}
				data = data[:0]
			}
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
}
