// Package gemini is a streaming client of the Gemini generateContent API
// (streamGenerateContent with alt=sse).
package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider/internal/upstream"
)

// Options configure a Client.
type Options struct {
	Name      string // provider name in chunks, errors and metrics
	BaseURL   string // e.g. https://generativelanguage.googleapis.com (or …/v1beta)
	APIKey    string // sent as x-goog-api-key
	Transport http.RoundTripper
	Logger    *slog.Logger
	Now       func() time.Time // for Retry-After dates; default time.Now
}

// Client streams generated content.
type Client struct {
	name   string
	base   string // …/v1beta
	apiKey string
	hc     *http.Client
	logger *slog.Logger
	now    func() time.Time
}

var _ switchboard.Provider = (*Client)(nil)

// New returns a client of the API at opts.BaseURL.
func New(opts Options) *Client {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = "https://generativelanguage.googleapis.com"
	}
	if !strings.HasSuffix(base, "/v1beta") && !strings.HasSuffix(base, "/v1") {
		base += "/v1beta"
	}
	c := &Client{name: opts.Name, base: base, apiKey: opts.APIKey, logger: opts.Logger, now: opts.Now}
	if c.name == "" {
		c.name = "gemini"
	}
	c.hc, c.logger, c.now = upstream.Defaults(opts.Transport, c.logger, c.now)
	return c
}

// Name of the provider.
func (c *Client) Name() string { return c.name }

// Stream starts a streamed generation. Errors are *switchboard.ProviderError
// classified by status and body like the other clients (429
// RESOURCE_EXHAUSTED rate_limited, 5xx server, token-count errors
// context_length, other 4xx rejected). A prompt blocked by safety settings
// (promptFeedback.blockReason) is FailContentFilter. Gemini has no
// assistant prefill: a Prefill becomes an explicit continuation request.
func (c *Client) Stream(ctx context.Context, req *switchboard.ChatRequest) (switchboard.Stream, error) {
	body, err := json.Marshal(request(req))
	if err != nil {
		return nil, fmt.Errorf("gemini: encode request: %w", err)
	}
	header := http.Header{}
	if c.apiKey != "" {
		header.Set("X-Goog-Api-Key", c.apiKey)
	}
	ctx, cancel, resp, err := upstream.Open(ctx, c.hc, c.base+"/models/"+url.PathEscape(req.Model)+":streamGenerateContent?alt=sse", body, header, c.name, req.Model, c.now)
	if err != nil {
		return nil, err
	}
	return &stream{
		name:   c.name,
		model:  req.Model,
		ctx:    ctx,
		cancel: cancel,
		body:   resp.Body,
		sse:    upstream.NewSSEReader(resp.Body),
		dec:    upstream.NewJSONDecoder(),
	}, nil
}

// wire types of the request.
type (
	generateRequest struct {
		Contents          []content         `json:"contents"`
		SystemInstruction *content          `json:"systemInstruction,omitempty"`
		GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
		Tools             []tools           `json:"tools,omitempty"`
	}
	content struct {
		Role  string `json:"role,omitempty"`
		Parts []part `json:"parts"`
	}
	part struct {
		Text string `json:"text"`
	}
	generationConfig struct {
		MaxOutputTokens int      `json:"maxOutputTokens,omitempty"`
		Temperature     *float64 `json:"temperature,omitempty"`
	}
	tools struct {
		FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
	}
	functionDeclaration struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
	}
)

func request(req *switchboard.ChatRequest) *generateRequest {
	r := &generateRequest{Contents: make([]content, 0, len(req.Messages)+1)}
	var system []part
	for _, m := range req.Messages {
		switch m.Role {
		case switchboard.RoleSystem:
			system = append(system, part{Text: m.Content})
		case switchboard.RoleAssistant:
			r.Contents = append(r.Contents, content{Role: "model", Parts: []part{{Text: m.Content}}})
		default:
			r.Contents = append(r.Contents, content{Role: "user", Parts: []part{{Text: m.Content}}})
		}
	}
	if len(system) > 0 {
		r.SystemInstruction = &content{Parts: system}
	}
	if req.Prefill != "" {
		r.Contents = append(r.Contents, content{Role: "user", Parts: []part{{Text: upstream.ContinuationPrompt(req.Prefill)}}})
	}
	if req.MaxTokens > 0 || req.Temperature != nil {
		r.GenerationConfig = &generationConfig{MaxOutputTokens: req.MaxTokens, Temperature: req.Temperature}
	}
	if len(req.Tools) > 0 {
		t := tools{}
		for _, tl := range req.Tools {
			t.FunctionDeclarations = append(t.FunctionDeclarations, functionDeclaration{Name: tl.Name, Description: tl.Description})
		}
		r.Tools = []tools{t}
	}
	return r
}

// response is the fields of a stream chunk we use, reused for each chunk.
type response struct {
	Candidates []candidate `json:"candidates"`
	Usage      *struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
		ThoughtsTokenCount   int `json:"thoughtsTokenCount"`
	} `json:"usageMetadata"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	Error json.RawMessage `json:"error"`
}

type candidate struct {
	Content struct {
		Parts []struct {
			Text         string `json:"text"`
			Thought      bool   `json:"thought"`
			FunctionCall *struct {
				Name string          `json:"name"`
				Args json.RawMessage `json:"args"`
			} `json:"functionCall"`
		} `json:"parts"`
	} `json:"content"`
	FinishReason string `json:"finishReason"`
}

type stream struct {
	name, model string
	ctx         context.Context
	cancel      context.CancelFunc
	body        io.ReadCloser
	sse         *upstream.SSEReader
	dec         *upstream.JSONDecoder

	resp      response
	sentFirst bool
	usage     *switchboard.Usage
	toolCall  bool
	pending   []switchboard.Chunk
	done      bool
	finished  bool // complete: the body is drained by upstream.Finish
	err       error
}

// Recv returns the next chunk: one per text part, one per functionCall,
// then the final chunk (at the first finishReason, which carries the
// usageMetadata) and io.EOF. A body that ends before a finishReason is
// FailCut; an error object in the stream is classified by its status.
func (s *stream) Recv() (switchboard.Chunk, error) {
	if len(s.pending) > 0 {
		c := s.pending[0]
		s.pending = s.pending[1:]
		return c, nil
	}
	if s.done {
		return switchboard.Chunk{}, s.err
	}
	for {
		data, err := s.sse.NextData(s.ctx, s.name, s.model)
		if err != nil {
			return s.fail(err)
		}
		clear(s.resp.Candidates[:cap(s.resp.Candidates)])
		s.resp = response{Candidates: s.resp.Candidates[:0]}
		if err := s.dec.Decode(data, &s.resp); err != nil {
			return s.fail(upstream.Malformed(s.name, s.model, err))
		}
		r := &s.resp
		if len(r.Error) > 0 && string(r.Error) != "null" {
			return s.fail(upstream.StreamError(s.name, s.model, upstream.ParseErrorBody(data)))
		}
		if u := r.Usage; u != nil {
			s.usage = &switchboard.Usage{PromptTokens: u.PromptTokenCount, CompletionTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount}
		}
		if len(r.Candidates) == 0 {
			if pf := r.PromptFeedback; pf != nil && pf.BlockReason != "" {
				return s.fail(&switchboard.ProviderError{Provider: s.name, Model: s.model,
					Class: switchboard.FailContentFilter, Status: http.StatusOK,
					Message: "The prompt was blocked (" + pf.BlockReason + ")."})
			}
			continue
		}
		cand := &r.Candidates[0]
		var text string
		for _, p := range cand.Content.Parts {
			if !p.Thought {
				text += p.Text
			}
		}
		if text != "" {
			s.pending = append(s.pending, s.chunk(text))
		}
		for _, p := range cand.Content.Parts {
			if fc := p.FunctionCall; fc != nil {
				args := string(fc.Args)
				if args == "null" {
					args = ""
				}
				c := s.chunk("")
				c.ToolCall = &switchboard.ToolCall{Name: fc.Name, Arguments: args}
				s.pending = append(s.pending, c)
				s.toolCall = true
			}
		}
		if cand.FinishReason != "" {
			s.queueFinal(finishReason(cand.FinishReason, s.toolCall))
		}
		if len(s.pending) > 0 {
			c := s.pending[0]
			s.pending = s.pending[1:]
			return c, nil
		}
	}
}

// finishReason maps Gemini's finishReason to Chunk.FinishReason.
func finishReason(r string, toolCall bool) string {
	switch r {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY":
		return "content_filter"
	}
	if toolCall {
		return "tool_calls"
	}
	return "stop"
}

func (s *stream) chunk(text string) switchboard.Chunk {
	c := switchboard.Chunk{Text: text}
	if !s.sentFirst {
		s.sentFirst = true
		c.Provider, c.Model = s.name, s.model
	}
	return c
}

func (s *stream) queueFinal(reason string) {
	s.sentFirst = true
	s.pending = append(s.pending, switchboard.Chunk{Provider: s.name, Model: s.model, FinishReason: reason, Usage: s.usage})
	s.done, s.err = true, io.EOF
	s.finished = true
	upstream.Finish(s.body, s.cancel)
}

func (s *stream) fail(err error) (switchboard.Chunk, error) {
	s.done, s.err = true, err
	s.release()
	return switchboard.Chunk{}, err
}

func (s *stream) release() {
	s.cancel()
	s.body.Close()
}

// Close cancels the request; safe to call more than once. A stream that
// finished is already being released (upstream.Finish).
func (s *stream) Close() error {
	if s.finished {
		return nil
	}
	if !s.done {
		s.done, s.err = true, &switchboard.ProviderError{Provider: s.name, Model: s.model,
			Class: switchboard.FailCanceled, Err: context.Canceled}
	}
	s.release()
	return nil
}
