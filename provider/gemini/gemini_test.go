package gemini_test

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
	"github.com/switchboard-chat/switchboard/provider/gemini"
)

// A stream as generativelanguage.googleapis.com sends it (CRLF events).
const recordedOK = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hello\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 1,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n" +
	"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" world\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 2,\"totalTokenCount\": 10},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n" +
	"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"!\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 3,\"totalTokenCount\": 11},\"modelVersion\": \"gemini-2.0-flash\"}\r\n\r\n"

type server struct {
	*httptest.Server
	req     chan map[string]any
	headers chan http.Header
	path    chan string
}

func newServer(t testing.TB, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{req: make(chan map[string]any, 10), headers: make(chan http.Header, 10), path: make(chan string, 10)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		s.req <- m
		s.headers <- r.Header.Clone()
		s.path <- r.URL.RequestURI()
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
	return &switchboard.ChatRequest{Model: "gemini-2.0-flash", Messages: []switchboard.ChatMessage{
		{Role: switchboard.RoleSystem, Content: "Be brief."},
		{Role: switchboard.RoleUser, Content: "Hi"},
		{Role: switchboard.RoleAssistant, Content: "Hello."},
		{Role: switchboard.RoleUser, Content: "Again"},
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
		st, err := gemini.New(gemini.Options{Name: "g", BaseURL: s.URL, APIKey: "k"}).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if err != nil {
			t.Fatal(err)
		}
		if text(chunks) != "Hello world!" || chunks[0].Provider != "g" {
			t.Fatalf("chunks = %+v", chunks)
		}
		f := chunks[len(chunks)-1]
		if f.FinishReason != "stop" || *f.Usage != (switchboard.Usage{PromptTokens: 8, CompletionTokens: 3}) {
			t.Fatalf("final = %+v", f)
		}
		if p := <-s.path; p != "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse" {
			t.Fatalf("path = %s", p)
		}
		if h := <-s.headers; h.Get("X-Goog-Api-Key") != "k" {
			t.Fatalf("headers = %v", h)
		}
		body := <-s.req
		si := body["systemInstruction"].(map[string]any)["parts"].([]any)[0].(map[string]any)
		contents := body["contents"].([]any)
		if si["text"] != "Be brief." || len(contents) != 3 || contents[1].(map[string]any)["role"] != "model" {
			t.Fatalf("body = %v", body)
		}
	})

	t.Run("Cut", func(t *testing.T) {
		s := newServer(t, replay(200, strings.SplitAfter(recordedOK, "\r\n\r\n")[0]))
		st, err := gemini.New(gemini.Options{BaseURL: s.URL}).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		var pe *switchboard.ProviderError
		if !errors.As(err, &pe) || pe.Class != switchboard.FailCut || text(chunks) != "Hello" {
			t.Fatalf("err = %v chunks %+v", err, chunks)
		}
	})

	t.Run("PromptBlocked", func(t *testing.T) {
		s := newServer(t, replay(200, "data: {\"promptFeedback\": {\"blockReason\": \"SAFETY\"},\"usageMetadata\": {\"promptTokenCount\": 8}}\r\n\r\n"))
		st, err := gemini.New(gemini.Options{BaseURL: s.URL}).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		_, err = collect(t, st)
		var pe *switchboard.ProviderError
		if !errors.As(err, &pe) || pe.Class != switchboard.FailContentFilter || !strings.Contains(pe.Message, "SAFETY") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("FunctionCall", func(t *testing.T) {
		s := newServer(t, replay(200, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"handoff\",\"args\": {\"reason\": \"human\"}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}]}\r\n\r\n"))
		st, err := gemini.New(gemini.Options{BaseURL: s.URL}).Stream(context.Background(), request())
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, st)
		if err != nil || len(chunks) != 2 || chunks[0].ToolCall == nil || chunks[0].ToolCall.Name != "handoff" || chunks[1].FinishReason != "tool_calls" {
			t.Fatalf("chunks %+v err %v", chunks, err)
		}
	})

	t.Run("Prefill", func(t *testing.T) {
		s := newServer(t, replay(200, recordedOK))
		req := request()
		req.Prefill = "Hel"
		st, err := gemini.New(gemini.Options{BaseURL: s.URL}).Stream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		contents := (<-s.req)["contents"].([]any)
		last := contents[len(contents)-1].(map[string]any)
		txt := last["parts"].([]any)[0].(map[string]any)["text"].(string)
		if last["role"] != "user" || !strings.Contains(txt, "<<<PARTIAL>>>Hel<<<END>>>") {
			t.Fatalf("last content = %v", last)
		}
	})
}

func TestStreamErrors(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		status     int
		class      string
	}{
		{"ResourceExhausted", `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`, 429, switchboard.FailRateLimited},
		{"Unavailable", `{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`, 503, switchboard.FailServer},
		{"TooManyTokens", `{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}`, 400, switchboard.FailContextLength},
		{"BadKey", `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`, 400, switchboard.FailRejected},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, replay(tt.status, tt.body))
			_, err := gemini.New(gemini.Options{BaseURL: s.URL}).Stream(context.Background(), request())
			var pe *switchboard.ProviderError
			if !errors.As(err, &pe) || pe.Class != tt.class || pe.Status != tt.status {
				t.Fatalf("err = %+v", err)
			}
		})
	}
}
