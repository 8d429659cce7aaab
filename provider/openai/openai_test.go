package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider/openai"
)

// A stream as api.openai.com sends it with stream_options.include_usage.
const recordedOK = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":" wörld \"quoted\"\n"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}

data: [DONE]

`

const recordedToolCall = `data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"handoff","arguments":""}}]},"finish_reason":null}],"usage":null}

data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"reason\":"}}]},"finish_reason":null}],"usage":null}

data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"human\"}"}}]},"finish_reason":null}],"usage":null}

data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"c","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":7,"total_tokens":27}}

data: [DONE]

`

// server replays body (after status and headers) and records the request.
type server struct {
	*httptest.Server
	req     chan map[string]any
	headers chan http.Header
}

func newServer(t testing.TB, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{req: make(chan map[string]any, 10), headers: make(chan http.Header, 10)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		s.req <- m
		s.headers <- r.Header.Clone()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func replay(status int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		if status == 200 {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func newClient(s *server, opts ...func(*openai.Options)) *openai.Client {
	o := openai.Options{Name: "primary", BaseURL: s.URL + "/v1", APIKey: "sk-test"}
	for _, f := range opts {
		f(&o)
	}
	return openai.New(o)
}

func request() *switchboard.ChatRequest {
	return &switchboard.ChatRequest{Model: "gpt-4o-mini", Messages: []switchboard.ChatMessage{
		{Role: switchboard.RoleSystem, Content: "Be brief."},
		{Role: switchboard.RoleUser, Content: "Hi"},
	}}
}

// collect reads s to the end.
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

func providerError(t testing.TB, err error) *switchboard.ProviderError {
	t.Helper()
	var pe *switchboard.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *ProviderError", err, err)
	}
	return pe
}

func TestStream(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := newServer(t, replay(200, recordedOK))
		st, err := newClient(s).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := text(chunks), "Hello wörld \"quoted\"\n"; got != want {
			t.Fatalf("text = %q, want %q", got, want)
		}
		if len(chunks) != 3 {
			t.Fatalf("%d chunks, want 3 (two deltas and the final): %+v", len(chunks), chunks)
		}
		if c := chunks[0]; c.Provider != "primary" || c.Model != "gpt-4o-mini" {
			t.Fatalf("first chunk names %q/%q", c.Provider, c.Model)
		}
		if c := chunks[1]; c.Provider != "" {
			t.Fatalf("second chunk names a provider: %+v", c)
		}
		f := chunks[2]
		if f.FinishReason != "stop" || f.Usage == nil || *f.Usage != (switchboard.Usage{PromptTokens: 9, CompletionTokens: 4}) {
			t.Fatalf("final chunk = %+v usage %+v", f, f.Usage)
		}
		body := <-s.req
		if body["stream"] != true || body["model"] != "gpt-4o-mini" {
			t.Fatalf("request = %v", body)
		}
		if so, _ := body["stream_options"].(map[string]any); so["include_usage"] != true {
			t.Fatalf("stream_options = %v", body["stream_options"])
		}
		if h := <-s.headers; h.Get("Authorization") != "Bearer sk-test" || h.Get("Accept") != "text/event-stream" {
			t.Fatalf("headers = %v", h)
		}
	})

	t.Run("ToolCall", func(t *testing.T) {
		s := newServer(t, replay(200, recordedToolCall))
		req := request()
		req.Tools = []switchboard.Tool{{Name: "handoff", Description: "Hand the conversation to a human."}}
		st, err := newClient(s).Stream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(chunks) != 2 || chunks[0].ToolCall == nil {
			t.Fatalf("chunks = %+v", chunks)
		}
		if tc := chunks[0].ToolCall; tc.Name != "handoff" || tc.Arguments != `{"reason":"human"}` {
			t.Fatalf("tool call = %+v", tc)
		}
		if f := chunks[1]; f.FinishReason != "tool_calls" || f.Usage.CompletionTokens != 7 {
			t.Fatalf("final = %+v", f)
		}
		body := <-s.req
		tools, _ := body["tools"].([]any)
		if len(tools) != 1 {
			t.Fatalf("tools = %v", body["tools"])
		}
		fn := tools[0].(map[string]any)["function"].(map[string]any)
		if fn["name"] != "handoff" || fn["parameters"] == nil {
			t.Fatalf("tool = %v", tools[0])
		}
	})

	// finish_reason and usage arrive but the server holds the stream open
	// without [DONE]: the stream is final at once.
	t.Run("NoDone", func(t *testing.T) {
		released := make(chan struct{})
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			body := strings.TrimSuffix(recordedOK, "data: [DONE]\n\n")
			_, _ = io.WriteString(w, body)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			close(released)
		})
		st, err := newClient(s).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var chunks []switchboard.Chunk
		go func() {
			defer close(done)
			chunks, err = collect(t, st)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("stream without [DONE] not finalised")
		}
		if err != nil || chunks[len(chunks)-1].Usage == nil {
			t.Fatalf("chunks %+v err %v", chunks, err)
		}
		select {
		case <-released:
		case <-time.After(5 * time.Second):
			t.Fatal("upstream request not released")
		}
	})

	// finish_reason but no usage and no [DONE]: finalised after the grace.
	t.Run("NoUsage", func(t *testing.T) {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, strings.Split(recordedOK, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp\",\"choices\":[],")[0])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		st, err := newClient(s, func(o *openai.Options) { o.UsageGrace = 50 * time.Millisecond }).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if err != nil {
			t.Fatal(err)
		}
		if f := chunks[len(chunks)-1]; f.FinishReason != "stop" || f.Usage != nil {
			t.Fatalf("final = %+v", f)
		}
	})

	t.Run("Cut", func(t *testing.T) {
		s := newServer(t, replay(200, strings.Join(strings.SplitAfter(recordedOK, "\n\n")[:3], "")))
		st, err := newClient(s).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if pe := providerError(t, err); pe.Class != switchboard.FailCut || !pe.Retryable {
			t.Fatalf("err = %v", pe)
		}
		if text(chunks) != "Hello wörld \"quoted\"\n" {
			t.Fatalf("partial text %q", text(chunks))
		}
		for _, c := range chunks {
			if c.FinishReason != "" {
				t.Fatalf("cut stream reported finish %q", c.FinishReason)
			}
		}
	})

	t.Run("CutMidLine", func(t *testing.T) {
		s := newServer(t, replay(200, recordedOK[:300]))
		st, err := newClient(s).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		_, err = collect(t, st)
		if pe := providerError(t, err); pe.Class != switchboard.FailCut {
			t.Fatalf("err = %v", pe)
		}
	})

	t.Run("Malformed", func(t *testing.T) {
		s := newServer(t, replay(200, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {not json\n\n"))
		st, err := newClient(s).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		_, err = collect(t, st)
		if pe := providerError(t, err); pe.Class != switchboard.FailMalformed {
			t.Fatalf("err = %v", pe)
		}
	})

	t.Run("StreamErrorObject", func(t *testing.T) {
		s := newServer(t, replay(200, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n"))
		st, err := newClient(s).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		_, err = collect(t, st)
		if pe := providerError(t, err); pe.Class != switchboard.FailServer || pe.Message != "The server had an error" {
			t.Fatalf("err = %v", pe)
		}
	})

	t.Run("CloseCancelsUpstream", func(t *testing.T) {
		gone := make(chan struct{})
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			close(gone)
		})
		st, err := newClient(s).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
		st.Close()
		st.Close()
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			t.Fatal("upstream not cancelled by Close")
		}
		if _, err := st.Recv(); providerError(t, err).Class != switchboard.FailCanceled {
			t.Fatalf("Recv after Close = %v", err)
		}
	})
}

func TestStreamErrors(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		name       string
		status     int
		body       string
		hdr        []string
		class      string
		retryable  bool
		retryAfter time.Duration
		message    string
	}{
		{name: "RateLimitedRetryAfter", status: 429, hdr: []string{"Retry-After", "7"},
			body:  `{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			class: switchboard.FailRateLimited, retryable: true, retryAfter: 7 * time.Second, message: "Rate limit reached for requests"},
		{name: "RateLimitedDate", status: 429, hdr: []string{"Retry-After", now.Add(3 * time.Second).Format(http.TimeFormat)},
			body: `{}`, class: switchboard.FailRateLimited, retryable: true, retryAfter: 3 * time.Second},
		{name: "RateLimitedResetHeaders", status: 429,
			hdr:  []string{"X-Ratelimit-Remaining-Requests", "5", "X-Ratelimit-Reset-Requests", "1s", "X-Ratelimit-Remaining-Tokens", "0", "X-Ratelimit-Reset-Tokens", "6m0s"},
			body: `{"error":{"message":"Rate limit reached for tokens","type":"tokens","code":"rate_limit_exceeded"}}`, class: switchboard.FailRateLimited, retryable: true, retryAfter: 6 * time.Minute,
			message: "Rate limit reached for tokens"},
		{name: "RetryAfterMs", status: 429, hdr: []string{"Retry-After-Ms", "250", "Retry-After", "1"},
			body: `{}`, class: switchboard.FailRateLimited, retryable: true, retryAfter: 250 * time.Millisecond},
		{name: "ContextLength", status: 400,
			body:  `{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			class: switchboard.FailContextLength},
		{name: "ContextLengthByMessage", status: 400,
			body:  `{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","code":400}`,
			class: switchboard.FailContextLength},
		{name: "ContentFilterAzure", status: 400,
			body:    `{"error":{"code":"content_filter","message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"medium"}}}}}`,
			class:   switchboard.FailContentFilter,
			message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."},
		{name: "Server500", status: 500, body: `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`,
			class: switchboard.FailServer, retryable: true},
		{name: "Server503Plain", status: 503, body: `upstream connect error`, class: switchboard.FailServer, retryable: true, message: "upstream connect error"},
		{name: "BadKey", status: 401, body: `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`,
			class: switchboard.FailRejected},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, replay(tt.status, tt.body, tt.hdr...))
			_, err := newClient(s, func(o *openai.Options) { o.Now = func() time.Time { return now } }).Stream(context.Background(), request())
			pe := providerError(t, err)
			if pe.Class != tt.class || pe.Retryable != tt.retryable || pe.RetryAfter != tt.retryAfter || pe.Status != tt.status {
				t.Fatalf("err = %+v", pe)
			}
			if tt.message != "" && pe.Message != tt.message {
				t.Fatalf("message = %q, want %q", pe.Message, tt.message)
			}
			if pe.Provider != "primary" || pe.Model != "gpt-4o-mini" {
				t.Fatalf("err names %q/%q", pe.Provider, pe.Model)
			}
		})
	}

	t.Run("Connect", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := openai.New(openai.Options{Name: "p", BaseURL: "http://" + addr})
		_, err = c.Stream(context.Background(), request())
		if pe := providerError(t, err); pe.Class != switchboard.FailConnect || !pe.Retryable {
			t.Fatalf("err = %v", pe)
		}
	})

	t.Run("Reset", func(t *testing.T) {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
		})
		_, err := newClient(s).Stream(context.Background(), request())
		if pe := providerError(t, err); pe.Class != switchboard.FailConnect {
			t.Fatalf("err = %v", pe)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := newClient(s).Stream(ctx, request())
		if pe := providerError(t, err); pe.Class != switchboard.FailCanceled {
			t.Fatalf("err = %v", pe)
		}
	})
}

func TestPrefill(t *testing.T) {
	for _, tt := range []struct {
		mode, role, content string
	}{
		{"", "user", "Continue exactly where you stopped, without repeating anything. Your answer so far:\n<<<PARTIAL>>>The answer is<<<END>>>"},
		{openai.PrefillAssistant, "assistant", "The answer is"},
	} {
		t.Run("Mode="+tt.mode, func(t *testing.T) {
			s := newServer(t, replay(200, recordedOK))
			req := request()
			req.Prefill = "The answer is"
			st, err := newClient(s, func(o *openai.Options) { o.PrefillMode = tt.mode }).Stream(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			msgs := (<-s.req)["messages"].([]any)
			if len(msgs) != 3 {
				t.Fatalf("messages = %v", msgs)
			}
			last := msgs[2].(map[string]any)
			if last["role"] != tt.role || last["content"] != tt.content {
				t.Fatalf("last message = %v", last)
			}
		})
	}
}
