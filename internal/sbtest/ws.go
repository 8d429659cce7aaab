package sbtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Timeout bounds every wait for a frame or an event.
const Timeout = 10 * time.Second

// Frame is a decoded server frame.
type Frame map[string]any

// Type is the frame's type.
func (f Frame) Type() string { return f.Str("type") }

// Seq is the frame's seq, 0 when it has none.
func (f Frame) Seq() int64 { return f.Int("seq") }

// Str returns a string field.
func (f Frame) Str(key string) string { s, _ := f[key].(string); return s }

// Int returns a number field.
func (f Frame) Int(key string) int64 { n, _ := f[key].(float64); return int64(n) }

// Has reports whether the field is present.
func (f Frame) Has(key string) bool { _, ok := f[key]; return ok }

// WSClient is a WebSocket client of /v1/ws.
type WSClient struct {
	Conn *websocket.Conn
	tb   testing.TB
}

// WSURL is the WebSocket endpoint with a token in the query.
func (s *Server) WSURL(token string) string {
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/v1/ws"
	if token != "" {
		u += "?token=" + token
	}
	return u
}

// Dial opens a WebSocket without failing the test (for tests of refused
// upgrades); origin "" sends none. The response is the upgrade's.
func (s *Server) Dial(ctx context.Context, token, origin string, client *http.Client) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if client == nil {
		client = s.Client
	}
	return websocket.Dial(ctx, s.WSURL(token), &websocket.DialOptions{HTTPHeader: h, HTTPClient: client})
}

// DialWS opens a WebSocket, closed (without a handshake) by tb.Cleanup.
func (s *Server) DialWS(tb testing.TB, token, origin string) *WSClient {
	tb.Helper()
	return s.DialWSWith(tb, token, origin, nil)
}

// DialWSWith is DialWS through a given HTTP client (e.g. with small socket
// buffers).
func (s *Server) DialWSWith(tb testing.TB, token, origin string, client *http.Client) *WSClient {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, resp, err := s.Dial(ctx, token, origin, client)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		tb.Fatalf("sbtest: dial WebSocket: %v %s", err, status)
	}
	c.SetReadLimit(1 << 20)
	tb.Cleanup(func() { c.CloseNow() })
	return &WSClient{Conn: c, tb: tb}
}

// Send writes a frame: a string or []byte as is, anything else as JSON.
func (c *WSClient) Send(frame any) {
	c.tb.Helper()
	var b []byte
	switch v := frame.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.tb.Fatalf("sbtest: encode frame: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.tb.Fatalf("sbtest: send frame: %v", err)
	}
}

// Read returns the next frame or the read error (a close, a timeout).
func (c *WSClient) Read(timeout time.Duration) (Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, b, err := c.Conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, errors.New("sbtest: frame is not JSON: " + string(b))
	}
	return f, nil
}

// Next returns the next frame, failing the test after Timeout.
func (c *WSClient) Next(tb testing.TB) Frame {
	tb.Helper()
	f, err := c.Read(Timeout)
	if err != nil {
		tb.Fatalf("sbtest: next frame: %v", err)
	}
	return f
}

// Until reads frames until pred holds for one and returns it with every
// frame read before it.
func (c *WSClient) Until(tb testing.TB, pred func(Frame) bool) (Frame, []Frame) {
	tb.Helper()
	var seen []Frame
	for {
		f := c.Next(tb)
		if pred(f) {
			return f, seen
		}
		seen = append(seen, f)
	}
}

// Hello subscribes to the visitor's conversation after lastSeq and
// returns the ready frame.
func (c *WSClient) Hello(tb testing.TB, lastSeq int64) Frame {
	tb.Helper()
	c.Send(map[string]any{"type": "hello", "last_seq": lastSeq})
	f := c.Next(tb)
	if f.Type() != "ready" {
		tb.Fatalf("sbtest: hello answered with %v, want ready", f)
	}
	return f
}

// Closed reads (discarding frames) until the server closes the socket and
// returns the close status and reason; -1 when the connection ended
// without a close frame.
func (c *WSClient) Closed(tb testing.TB) (websocket.StatusCode, string) {
	tb.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		_, err := c.Read(time.Until(deadline))
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sbtest: socket not closed after %v", Timeout)
		}
		return -1, err.Error()
	}
}

// Type matches frames of one type.
func Type(t string) func(Frame) bool { return func(f Frame) bool { return f.Type() == t } }

// SSEClient reads a Server-Sent Events stream.
type SSEClient struct {
	Resp *http.Response
	r    *bufio.Reader
}

// SSE opens GET path with the token and, when lastEventID >= 0, a
// Last-Event-ID header.
func (s *Server) SSE(tb testing.TB, path, token string, lastEventID int64) *SSEClient {
	tb.Helper()
	h := []string{"Accept", "text/event-stream"}
	if lastEventID >= 0 {
		h = append(h, "Last-Event-ID", strconv.FormatInt(lastEventID, 10))
	}
	resp := s.Do(tb, "GET", path, token, nil, h...)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("sbtest: SSE %s: %s", path, resp.Status)
	}
	return NewSSEClient(resp)
}

// NewSSEClient reads events from a response.
func NewSSEClient(resp *http.Response) *SSEClient {
	return &SSEClient{Resp: resp, r: bufio.NewReader(resp.Body)}
}

// Next returns the next event's id (-1 when it has none) and frame;
// comments are skipped. It fails the test after Timeout.
func (c *SSEClient) Next(tb testing.TB) (int64, Frame) {
	tb.Helper()
	type event struct {
		id  int64
		f   Frame
		err error
	}
	ch := make(chan event, 1)
	go func() {
		id, data := int64(-1), ""
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				ch <- event{err: err}
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case line == "":
				if data == "" {
					continue
				}
				var f Frame
				err := json.Unmarshal([]byte(data), &f)
				ch <- event{id, f, err}
				return
			case strings.HasPrefix(line, "id: "):
				id, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "data: "):
				data += line[6:]
			}
		}
	}()
	select {
	case e := <-ch:
		if e.err != nil {
			tb.Fatalf("sbtest: SSE next: %v", e.err)
		}
		return e.id, e.f
	case <-time.After(Timeout):
		c.Close()
		<-ch
		tb.Fatalf("sbtest: no SSE event after %v", Timeout)
		return 0, nil
	}
}

// Close ends the stream.
func (c *SSEClient) Close() { c.Resp.Body.Close() }

// Reassembler rebuilds bot messages from delta frames by offset, as a
// client does: only bytes beyond what it has are appended; a delta that
// starts beyond them is a gap, and re-sent bytes must match.
type Reassembler struct {
	text map[string]string
}

// Add applies a delta frame (other frames are ignored).
func (r *Reassembler) Add(f Frame) error {
	if f.Type() != "delta" {
		return nil
	}
	if r.text == nil {
		r.text = map[string]string{}
	}
	id, off, p := f.Str("message_id"), int(f.Int("offset")), f.Str("payload")
	have := r.text[id]
	switch {
	case off > len(have):
		return errors.New("gap: delta at offset " + strconv.Itoa(off) + " after " + strconv.Itoa(len(have)) + " bytes")
	case off+len(p) <= len(have):
		if have[off:off+len(p)] != p {
			return errors.New("re-sent bytes differ at offset " + strconv.Itoa(off))
		}
	default:
		if have[off:] != p[:len(have)-off] {
			return errors.New("re-sent bytes differ at offset " + strconv.Itoa(off))
		}
		r.text[id] = have + p[len(have)-off:]
	}
	return nil
}

// Text returns a message's text so far.
func (r *Reassembler) Text(messageID string) string { return r.text[messageID] }
