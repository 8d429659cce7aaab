package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider/anthropic"
)

// A stream as api.anthropic.com sends it.
const recordedOK = `event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"handoff","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"reason\": \"hu"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"man\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}

`

type server struct {
	*httptest.Server
	req     chan map[string]any
	headers chan http.Header
}

func newServer(t testing.TB, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{req: make(chan map[string]any, 10), headers: make(chan http.Header, 10)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" {
			http.NotFound(w, r)
			return
		}
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		s.req <- m
		s.headers <- r.Header.Clone()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func replay(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func request() *switchboard.ChatRequest {
	return &switchboard.ChatRequest{Model: "claude-sonnet-4-5", Messages: []switchboard.ChatMessage{
		{Role: switchboard.RoleSystem, Content: "Be brief."},
		{Role: switchboard.RoleUser, Content: "Hi"},
	}}
}

func collect(t testing.TB, s switchboard.Stream) (chunks []switchboard.Chunk, err error) {
	t.Helper()
	defer s.Close()
	for {
		c, err := s.Recv()
		if err == io.EOF {
			return chunks, nil
		} else if err != nil {
			return chunks, err
		}
		chunks = append(chunks, c)
	}
}

func text(chunks []switchboard.Chunk) string {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString(c.Text)
	}
	return b.String()
}

func TestStream(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := newServer(t, replay(200, recordedOK))
		c := anthropic.New(anthropic.Options{Name: "claude", BaseURL: s.URL, APIKey: "k"})
		req := request()
		req.Tools = []switchboard.Tool{{Name: "handoff", Description: "to a human"}}
		st, err := c.Stream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if err != nil {
			t.Fatal(err)
		}
		if text(chunks) != "Hello there!" || chunks[0].Provider != "claude" || chunks[0].Model != "claude-sonnet-4-5" {
			t.Fatalf("chunks = %+v", chunks)
		}
		if tc := chunks[2].ToolCall; tc == nil || tc.Name != "handoff" || tc.Arguments != `{"reason": "human"}` {
			t.Fatalf("tool call chunk = %+v", chunks[2])
		}
		f := chunks[len(chunks)-1]
		if f.FinishReason != "tool_calls" || *f.Usage != (switchboard.Usage{PromptTokens: 30, CompletionTokens: 15}) {
			t.Fatalf("final = %+v %+v", f, f.Usage)
		}
		body, h := <-s.req, <-s.headers
		if h.Get("X-Api-Key") != "k" || h.Get("Anthropic-Version") != "2023-06-01" {
			t.Fatalf("headers = %v", h)
		}
		if body["system"] != "Be brief." || body["stream"] != true || body["max_tokens"] == nil {
			t.Fatalf("body = %v", body)
		}
		if msgs := body["messages"].([]any); len(msgs) != 1 {
			t.Fatalf("messages = %v (system must be top level)", msgs)
		}
	})

	// The final chunk comes at message_delta: a stream held open without
	// message_stop is complete.
	t.Run("NoMessageStop", func(t *testing.T) {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, strings.Split(recordedOK, "event: message_stop")[0])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		st, err := anthropic.New(anthropic.Options{BaseURL: s.URL + "/v1"}).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if err != nil || chunks[len(chunks)-1].FinishReason == "" {
			t.Fatalf("chunks %+v err %v", chunks, err)
		}
	})

	t.Run("ErrorEvent", func(t *testing.T) {
		body := strings.Split(recordedOK, "event: content_block_stop")[0] +
			"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
		s := newServer(t, replay(200, body))
		st, err := anthropic.New(anthropic.Options{BaseURL: s.URL}).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		var pe *switchboard.ProviderError
		if !errors.As(err, &pe) || pe.Class != switchboard.FailServer || !pe.Retryable || text(chunks) != "Hello there!" {
			t.Fatalf("err = %v, chunks %+v", err, chunks)
		}
	})

	t.Run("Cut", func(t *testing.T) {
		s := newServer(t, replay(200, strings.Split(recordedOK, "event: content_block_stop")[0]))
		st, err := anthropic.New(anthropic.Options{BaseURL: s.URL}).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		_, err = collect(t, st)
		var pe *switchboard.ProviderError
		if !errors.As(err, &pe) || pe.Class != switchboard.FailCut {
			t.Fatalf("err = %v", err)
		}
	})

	// The API refuses a prefill ending in whitespace: it is trimmed and the
	// whitespace the model repeats is dropped.
	t.Run("Prefill", func(t *testing.T) {
		s := newServer(t, replay(200, strings.Replace(recordedOK, `"text":"Hello"`, `"text":" Hello"`, 1)))
		req := request()
		req.Prefill = "Well, "
		st, err := anthropic.New(anthropic.Options{BaseURL: s.URL}).Stream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(chunks); got != "Hello there!" {
			t.Fatalf("text = %q", got)
		}
		msgs := (<-s.req)["messages"].([]any)
		last := msgs[len(msgs)-1].(map[string]any)
		if last["role"] != "assistant" || last["content"] != "Well," {
			t.Fatalf("last message = %v", last)
		}
	})
}

func TestStreamErrors(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		status     int
		class      string
		retryable  bool
	}{
		{"Overloaded529", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, 529, switchboard.FailServer, true},
		{"RateLimited", `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`, 429, switchboard.FailRateLimited, true},
		{"PromptTooLong", `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`, 400, switchboard.FailContextLength, false},
		{"BadKey", `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, 401, switchboard.FailRejected, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, replay(tt.status, tt.body))
			_, err := anthropic.New(anthropic.Options{BaseURL: s.URL}).Stream(context.Background(), request())
			var pe *switchboard.ProviderError
			if !errors.As(err, &pe) || pe.Class != tt.class || pe.Retryable != tt.retryable || pe.Status != tt.status {
				t.Fatalf("err = %+v", err)
			}
		})
	}
}
