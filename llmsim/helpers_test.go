package llmsim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/llmsim"
)

// MustRunServer starts a simulator behind a real HTTP server.
func MustRunServer(tb testing.TB, cfg llmsim.Config) (*llmsim.Server, *httptest.Server) {
	tb.Helper()
	sim := llmsim.New(cfg, nil)
	ts := httptest.NewServer(sim)
	tb.Cleanup(ts.Close)
	tb.Cleanup(func() { sim.Close() }) // runs first: releases held requests
	return sim, ts
}

// testContext is bounded so a broken test fails instead of hanging.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

type msg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func openAIBody(model string, stream bool, msgs ...msg) string {
	m := map[string]any{"model": model, "messages": msgs, "stream": stream}
	if stream {
		m["stream_options"] = map[string]bool{"include_usage": true}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func anthropicBody(model string, stream bool, msgs ...msg) string {
	b, _ := json.Marshal(map[string]any{"model": model, "messages": msgs, "stream": stream, "max_tokens": 1024,
		"system": "You are helpful."})
	return string(b)
}

func user(s string) msg      { return msg{"user", s} }
func assistant(s string) msg { return msg{"assistant", s} }

// post sends a JSON POST; extra holds header pairs.
func post(tb testing.TB, ctx context.Context, url, body string, extra ...string) (*http.Response, error) {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	return http.DefaultClient.Do(req)
}

func mustPost(tb testing.TB, ctx context.Context, url, body string, extra ...string) *http.Response {
	tb.Helper()
	resp, err := post(tb, ctx, url, body, extra...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { resp.Body.Close() })
	return resp
}

type event struct {
	Name string
	Data string
}

// sseReader reads server-sent events one at a time.
type sseReader struct{ r *bufio.Reader }

func newSSE(r io.Reader) *sseReader { return &sseReader{bufio.NewReader(r)} }

// next returns the next event; io.EOF at a clean end of stream.
func (s *sseReader) next() (event, error) {
	var ev event
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && len(data) == 0 && ev.Name == "" {
				return ev, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if len(data) == 0 && ev.Name == "" {
				continue
			}
			ev.Data = strings.Join(data, "\n")
			return ev, nil
		case strings.HasPrefix(line, "event:"):
			ev.Name = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(line[len("data:"):], " "))
		}
	}
}

// readAll reads events until the end of the stream and returns the error
// that ended it (nil for a clean end).
func readAll(r io.Reader) ([]event, error) {
	s := newSSE(r)
	var evs []event
	for {
		ev, err := s.next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

type openAIChunk struct {
	Choices []struct {
		Delta struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

// openAIResult is what a client makes of an OpenAI stream.
type openAIResult struct {
	Text             string
	Deltas           []string
	Finish           string
	PromptTokens     int
	CompletionTokens int
	Done             bool
	Malformed        bool
	AfterDone        bool // events after [DONE]
}

func parseOpenAI(tb testing.TB, evs []event) openAIResult {
	tb.Helper()
	var res openAIResult
	for _, ev := range evs {
		if res.Done {
			res.AfterDone = true
		}
		if ev.Data == "[DONE]" {
			res.Done = true
			continue
		}
		var c openAIChunk
		if err := json.Unmarshal([]byte(ev.Data), &c); err != nil {
			res.Malformed = true
			continue
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != "" {
				res.Deltas = append(res.Deltas, ch.Delta.Content)
				res.Text += ch.Delta.Content
			}
			if ch.FinishReason != nil {
				res.Finish = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			if len(c.Choices) != 0 {
				tb.Errorf("usage chunk has %d choices, want none", len(c.Choices))
			}
			res.PromptTokens, res.CompletionTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
		}
	}
	return res
}

// streamOpenAI runs one OpenAI streaming request to its end.
func streamOpenAI(tb testing.TB, ts *httptest.Server, body string, extra ...string) (openAIResult, error) {
	tb.Helper()
	resp := mustPost(tb, testContext(tb), ts.URL+"/v1/chat/completions", body, extra...)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		tb.Fatalf("Content-Type %q", ct)
	}
	evs, err := readAll(resp.Body)
	return parseOpenAI(tb, evs), err
}

// completeOpenAI runs one non-streaming OpenAI request.
func completeOpenAI(tb testing.TB, ts *httptest.Server, body string) string {
	tb.Helper()
	resp := mustPost(tb, testContext(tb), ts.URL+"/v1/chat/completions", body)
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Choices) != 1 {
		tb.Fatalf("decode %s: %v", b, err)
	}
	return out.Choices[0].Message.Content
}

// errorBody decodes an error response of any dialect.
type errorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Code    any    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

func decodeError(tb testing.TB, resp *http.Response) errorBody {
	tb.Helper()
	b, _ := io.ReadAll(resp.Body)
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		tb.Fatalf("error body %s: %v", b, err)
	}
	return e
}

func mustJSON(tb testing.TB, r io.Reader, v any) {
	tb.Helper()
	b, _ := io.ReadAll(r)
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
}
