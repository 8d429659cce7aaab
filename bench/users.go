package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// user is one virtual user: it plays turns until the run ends.
type user interface {
	turn(ctx context.Context, n int) *stream
	close()
}

// session is a visitor session of the widget.
type session struct {
	Token        string `json:"token"`
	Conversation struct {
		ID      string `json:"id"`
		LastSeq int64  `json:"last_seq"`
	} `json:"conversation"`
}

// newSession starts a visitor session: POST /v1/widget/session.
func newSession(ctx context.Context, hc *http.Client, base, widgetKey string) (*session, string) {
	body, _ := json.Marshal(map[string]string{"widget_key": widgetKey})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/widget/session", bytes.NewReader(body))
	if err != nil {
		return nil, "request"
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "session_" + errClass(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "session_" + httpClass(resp)
	}
	var s session
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.Token == "" {
		return nil, "session_malformed"
	}
	return &s, ""
}

// userOptions are what every kind of user needs.
type userOptions struct {
	Base        string // Switchboard base URL, or llmsim's for the direct baseline
	WidgetKey   string
	APIKey      string
	Model       string
	MessageSize int
	Turns       int // turns per visitor session before a new visitor
}

// wsUser chats over the WebSocket like the widget.
type wsUser struct {
	opt    userOptions
	cnt    counter
	hc     *http.Client
	sess   *session
	conn   *websocket.Conn
	frames chan wsRead
	turns  int
	last   int64
}

type wsRead struct {
	f   *frame
	err error
}

func newWSUser(opt userOptions) *wsUser {
	u := &wsUser{opt: opt}
	u.hc = newClient(&u.cnt)
	return u
}

func wsURL(base, token string) string {
	u := strings.Replace(base, "http://", "ws://", 1)
	u = strings.Replace(u, "https://", "wss://", 1)
	return u + "/v1/ws?token=" + url.QueryEscape(token)
}

// connect starts a session when needed, dials and says hello.
func (u *wsUser) connect(ctx context.Context) string {
	if u.sess == nil || (u.opt.Turns > 0 && u.turns >= u.opt.Turns) {
		u.drop()
		s, class := newSession(ctx, u.hc, u.opt.Base, u.opt.WidgetKey)
		if s == nil {
			return class
		}
		u.sess, u.turns, u.last = s, 0, s.Conversation.LastSeq
	}
	if u.conn != nil {
		return ""
	}
	c, resp, err := websocket.Dial(ctx, wsURL(u.opt.Base, u.sess.Token), &websocket.DialOptions{HTTPClient: u.hc})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return fmt.Sprintf("ws_dial_http_%d", resp.StatusCode)
		}
		return "ws_dial_" + errClass(ctx, err)
	}
	c.SetReadLimit(1 << 20)
	hello, _ := json.Marshal(map[string]any{"type": "hello", "conversation_id": u.sess.Conversation.ID, "last_seq": u.last})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		c.CloseNow()
		return "ws_" + errClass(ctx, err)
	}
	u.conn = c
	u.frames = make(chan wsRead, 256)
	go u.readLoop(c, u.frames)
	for {
		select {
		case <-ctx.Done():
			u.drop()
			return "timeout"
		case r, ok := <-u.frames:
			if !ok || r.err != nil {
				u.drop()
				return "ws_closed"
			}
			if r.f.Type == "ready" {
				if r.f.LastSeq > u.last {
					u.last = r.f.LastSeq
				}
				return ""
			}
			if r.f.Type == "error" {
				u.drop()
				return "error_frame:" + r.f.Code
			}
		}
	}
}

// readLoop is the socket's only reader; it ends when the socket closes.
func (u *wsUser) readLoop(c *websocket.Conn, out chan<- wsRead) {
	defer close(out)
	for {
		_, data, err := c.Read(context.Background())
		if err != nil {
			out <- wsRead{err: err}
			return
		}
		f := new(frame)
		if err := json.Unmarshal(data, f); err != nil {
			out <- wsRead{err: fmt.Errorf("malformed frame: %w", err)}
			return
		}
		out <- wsRead{f: f}
	}
}

func (u *wsUser) drop() {
	if u.conn != nil {
		u.conn.CloseNow()
		for range u.frames { // wait for the reader
		}
		u.conn, u.frames = nil, nil
	}
}

func (u *wsUser) turn(ctx context.Context, n int) *stream {
	s := &stream{}
	if class := u.connect(ctx); class != "" {
		s.start = time.Now()
		return s.fail(class)
	}
	t := &replyTracker{clientMsgID: newID(), lastSeq: u.last}
	msg, _ := json.Marshal(map[string]string{"type": "message", "client_msg_id": t.clientMsgID, "content": message(u.opt.MessageSize, n)})
	rx0, tx0 := u.cnt.snapshot()
	s.start = time.Now()
	defer func() {
		rx, tx := u.cnt.snapshot()
		s.rx, s.tx = rx-rx0, tx-tx0
		u.last = t.lastSeq
		u.turns++
		if !s.ok() {
			u.drop() // resume cleanly on the next turn
		}
	}()
	if err := u.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return s.fail("ws_" + errClass(ctx, err))
	}
	for {
		select {
		case <-ctx.Done():
			return s.fail("timeout")
		case r, ok := <-u.frames:
			if !ok || r.err != nil {
				if ok && strings.Contains(r.err.Error(), "malformed") {
					return s.fail("malformed")
				}
				if code := websocket.CloseStatus(r.err); code != -1 {
					return s.fail(fmt.Sprintf("ws_closed_%d", code))
				}
				return s.fail("ws_closed")
			}
			if t.on(r.f, s) {
				if s.end.IsZero() {
					s.end = time.Now()
				}
				if s.tokens == 0 {
					s.tokens = len(s.chunks)
				}
				return s
			}
		}
	}
}

func (u *wsUser) close() {
	if u.conn != nil {
		_ = u.conn.Close(websocket.StatusNormalClosure, "bench done")
		u.drop()
	}
	u.hc.CloseIdleConnections()
}

// sseUser posts messages with Accept: text/event-stream.
type sseUser struct {
	opt   userOptions
	cnt   counter
	hc    *http.Client
	sess  *session
	turns int
}

func newSSEUser(opt userOptions) *sseUser {
	u := &sseUser{opt: opt}
	u.hc = newClient(&u.cnt)
	return u
}

func (u *sseUser) turn(ctx context.Context, n int) *stream {
	s := &stream{}
	if u.sess == nil || (u.opt.Turns > 0 && u.turns >= u.opt.Turns) {
		sess, class := newSession(ctx, u.hc, u.opt.Base, u.opt.WidgetKey)
		if sess == nil {
			s.start = time.Now()
			return s.fail(class)
		}
		u.sess, u.turns = sess, 0
	}
	u.turns++
	t := &replyTracker{clientMsgID: newID()}
	body, _ := json.Marshal(map[string]string{"client_msg_id": t.clientMsgID, "content": message(u.opt.MessageSize, n)})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.opt.Base+"/v1/conversations/"+u.sess.Conversation.ID+"/messages", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+u.sess.Token)
	return u.do(ctx, req, s, func(data []byte) bool {
		f := new(frame)
		if json.Unmarshal(data, f) != nil {
			s.fail("malformed")
			return true
		}
		return t.on(f, s)
	})
}

// do sends req and feeds the SSE events of a 200 response to fn.
func (u *sseUser) do(ctx context.Context, req *http.Request, s *stream, fn func([]byte) bool) *stream {
	return doSSE(ctx, u.hc, &u.cnt, req, s, fn)
}

func doSSE(ctx context.Context, hc *http.Client, cnt *counter, req *http.Request, s *stream, fn func([]byte) bool) *stream {
	rx0, tx0 := cnt.snapshot()
	s.start = time.Now()
	defer func() {
		rx, tx := cnt.snapshot()
		s.rx, s.tx = rx-rx0, tx-tx0
	}()
	resp, err := hc.Do(req)
	if err != nil {
		return s.fail(errClass(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s.fail(httpClass(resp))
	}
	finished := false
	err = sseLines(resp.Body, func(data []byte) bool {
		finished = fn(data)
		return finished
	})
	if !finished && s.class == "" {
		if err == nil {
			return s.fail("cut")
		}
		return s.fail(errClass(ctx, err))
	}
	if s.end.IsZero() {
		s.end = time.Now()
	}
	if s.tokens == 0 {
		s.tokens = len(s.chunks)
	}
	return s
}

func (u *sseUser) close() { u.hc.CloseIdleConnections() }

// openAIUser streams chat completions (Switchboard's API, or llmsim's
// directly for the baseline).
type openAIUser struct {
	opt userOptions
	cnt counter
	hc  *http.Client
}

func newOpenAIUser(opt userOptions) *openAIUser {
	u := &openAIUser{opt: opt}
	u.hc = newClient(&u.cnt)
	return u
}

type oaiChunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (u *openAIUser) turn(ctx context.Context, n int) *stream {
	s := &stream{}
	body, _ := json.Marshal(map[string]any{
		"model": u.opt.Model, "stream": true, "stream_options": map[string]bool{"include_usage": true},
		"messages": []map[string]string{{"role": "user", "content": message(u.opt.MessageSize, n)}},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.opt.Base+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if u.opt.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+u.opt.APIKey)
	}
	finish := ""
	return doSSE(ctx, u.hc, &u.cnt, req, s, func(data []byte) bool {
		if bytes.Equal(data, []byte("[DONE]")) {
			s.end = time.Now()
			if finish != "" && finish != "stop" && finish != "length" {
				s.fail("finish_" + finish)
			}
			return true
		}
		var c oaiChunk
		if json.Unmarshal(data, &c) != nil {
			s.fail("malformed")
			return true
		}
		if len(c.Error) > 0 && string(c.Error) != "null" {
			s.fail("stream_error")
			return true
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != "" {
				s.chunks = append(s.chunks, time.Now())
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				finish = *ch.FinishReason
			}
		}
		if c.Usage != nil && c.Usage.CompletionTokens > 0 {
			s.tokens = c.Usage.CompletionTokens
		}
		return false
	})
}

func (u *openAIUser) close() { u.hc.CloseIdleConnections() }
