// Package openai is a streaming client of the OpenAI chat completions API
// and the servers compatible with it (DeepSeek, Qwen, Ollama, vLLM…).
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider/internal/upstream"
)

// Prefill modes: how a ChatRequest.Prefill is sent.
const (
	// PrefillContinue asks for the rest in a final user message carrying
	// the partial answer (works with every server).
	PrefillContinue = "continue"
	// PrefillAssistant sends the partial answer as a last assistant
	// message, which servers that support prefill continue.
	PrefillAssistant = "assistant"
)

// DefaultUsageGrace is how long a stream that delivered its finish_reason
// waits for the usage chunk before it is finalised without one.
const DefaultUsageGrace = 2 * time.Second

// Options configure a Client.
type Options struct {
	Name        string // provider name in chunks, errors and metrics
	BaseURL     string // e.g. https://api.openai.com/v1
	APIKey      string // sent as a bearer token when not empty
	PrefillMode string // PrefillContinue (default) or PrefillAssistant
	Transport   http.RoundTripper
	Logger      *slog.Logger
	Now         func() time.Time // for Retry-After dates; default time.Now
	// UsageGrace overrides DefaultUsageGrace.
	UsageGrace time.Duration
}

// Client streams chat completions.
type Client struct {
	name        string
	url         string
	auth        string
	prefillMode string
	hc          *http.Client
	logger      *slog.Logger
	now         func() time.Time
	usageGrace  time.Duration
}

var _ switchboard.Provider = (*Client)(nil)

// New returns a client of the server at opts.BaseURL.
func New(opts Options) *Client {
	c := &Client{
		name:        opts.Name,
		url:         strings.TrimRight(opts.BaseURL, "/") + "/chat/completions",
		prefillMode: opts.PrefillMode,
		logger:      opts.Logger,
		now:         opts.Now,
		usageGrace:  opts.UsageGrace,
	}
	if c.usageGrace <= 0 {
		c.usageGrace = DefaultUsageGrace
	}
	if c.name == "" {
		c.name = "openai"
	}
	if opts.APIKey != "" {
		c.auth = "Bearer " + opts.APIKey
	}
	if c.prefillMode == "" {
		c.prefillMode = PrefillContinue
	}
	c.hc, c.logger, c.now = upstream.Defaults(opts.Transport, c.logger, c.now)
	return c
}

// Name of the provider.
func (c *Client) Name() string { return c.name }

// Stream starts a streamed completion. It returns once the response headers
// are in: a non-2xx status is a *switchboard.ProviderError classified by
// status and body (rate_limited with RetryAfter, context_length,
// content_filter with the provider's reason, server, rejected), a failure
// to connect is FailConnect and our own cancellation FailCanceled.
func (c *Client) Stream(ctx context.Context, req *switchboard.ChatRequest) (switchboard.Stream, error) {
	body, err := json.Marshal(c.request(req))
	if err != nil {
		return nil, fmt.Errorf("openai: encode request: %w", err)
	}
	header := http.Header{}
	if c.auth != "" {
		header.Set("Authorization", c.auth)
	}
	ctx, cancel, resp, err := upstream.Open(ctx, c.hc, c.url, body, header, c.name, req.Model, c.now)
	if err != nil {
		return nil, err
	}
	return &stream{
		name:   c.name,
		model:  req.Model,
		grace:  c.usageGrace,
		ctx:    ctx,
		cancel: cancel,
		body:   resp.Body,
		sse:    upstream.NewSSEReader(resp.Body),
		dec:    upstream.NewJSONDecoder(),
	}, nil
}

// wire types of the request.
type (
	chatRequest struct {
		Model         string         `json:"model"`
		Messages      []chatMessage  `json:"messages"`
		Stream        bool           `json:"stream"`
		StreamOptions *streamOptions `json:"stream_options,omitempty"`
		MaxTokens     int            `json:"max_tokens,omitempty"`
		Temperature   *float64       `json:"temperature,omitempty"`
		Tools         []tool         `json:"tools,omitempty"`
	}
	chatMessage struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	streamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	}
	tool struct {
		Type     string       `json:"type"`
		Function toolFunction `json:"function"`
	}
	toolFunction struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters"`
	}
)

var emptyParameters = json.RawMessage(`{"type":"object","properties":{}}`)

func (c *Client) request(req *switchboard.ChatRequest) *chatRequest {
	r := &chatRequest{
		Model:         req.Model,
		Messages:      make([]chatMessage, 0, len(req.Messages)+1),
		Stream:        true,
		StreamOptions: &streamOptions{IncludeUsage: true},
		MaxTokens:     req.MaxTokens,
		Temperature:   req.Temperature,
	}
	for _, m := range req.Messages {
		r.Messages = append(r.Messages, chatMessage{Role: m.Role, Content: m.Content})
	}
	if req.Prefill != "" {
		if c.prefillMode == PrefillAssistant {
			r.Messages = append(r.Messages, chatMessage{Role: switchboard.RoleAssistant, Content: req.Prefill})
		} else {
			r.Messages = append(r.Messages, chatMessage{Role: switchboard.RoleUser, Content: upstream.ContinuationPrompt(req.Prefill)})
		}
	}
	for _, t := range req.Tools {
		r.Tools = append(r.Tools, tool{Type: "function", Function: toolFunction{
			Name: t.Name, Description: t.Description, Parameters: emptyParameters,
		}})
	}
	return r
}

// wire types of a stream chunk; only the fields we use, so that decoding
// skips the rest without allocating.
type (
	chunkMsg struct {
		Choices []choice        `json:"choices"`
		Usage   *usage          `json:"usage"`
		Error   json.RawMessage `json:"error"`
	}
	choice struct {
		Delta        delta  `json:"delta"`
		FinishReason string `json:"finish_reason"`
	}
	delta struct {
		Content   string          `json:"content"`
		Refusal   string          `json:"refusal"`
		ToolCalls []toolCallDelta `json:"tool_calls"`
	}
	toolCallDelta struct {
		Index    int `json:"index"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	}
)

type stream struct {
	name, model string
	ctx         context.Context
	cancel      context.CancelFunc
	body        io.ReadCloser
	sse         *upstream.SSEReader
	dec         *upstream.JSONDecoder

	msg       chunkMsg // reused for every event
	sentFirst bool
	finish    string
	usage     *switchboard.Usage
	tools     []switchboard.ToolCall
	pending   []switchboard.Chunk // queued after the one returned
	grace     time.Duration
	graceT    *time.Timer
	done      bool
	finished  bool // complete: the body is drained by upstream.Finish
	err       error
}

// Recv returns the next chunk: one per content delta, then tool calls, then
// a final chunk with FinishReason and Usage (nil when the server sent
// none), then io.EOF. A body that ends (or breaks) before finish_reason is
// FailCut; an unparsable event FailMalformed; an error object in the
// stream is classified like an error response.
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
			if s.finish != "" {
				// Finished but no usage chunk / [DONE]: complete anyway.
				return s.final()
			}
			return s.fail(err)
		}
		if bytes.Equal(data, doneMarker) {
			if s.finish == "" {
				s.finish = "stop"
			}
			return s.final()
		}
		clear(s.msg.Choices[:cap(s.msg.Choices)])
		s.msg.Choices, s.msg.Usage, s.msg.Error = s.msg.Choices[:0], nil, nil
		if err := s.dec.Decode(data, &s.msg); err != nil {
			if s.finish != "" {
				return s.final()
			}
			return s.fail(upstream.Malformed(s.name, s.model, err))
		}
		if len(s.msg.Error) > 0 && string(s.msg.Error) != "null" {
			info := upstream.ParseErrorBody(data)
			return s.fail(upstream.StreamError(s.name, s.model, info))
		}
		var text string
		for i := range s.msg.Choices {
			ch := &s.msg.Choices[i]
			// A refusal is what the model says instead of an answer.
			text += ch.Delta.Content + ch.Delta.Refusal
			for _, tc := range ch.Delta.ToolCalls {
				for len(s.tools) <= tc.Index {
					s.tools = append(s.tools, switchboard.ToolCall{})
				}
				s.tools[tc.Index].Name += tc.Function.Name
				s.tools[tc.Index].Arguments += tc.Function.Arguments
			}
			if ch.FinishReason != "" && s.finish == "" {
				s.finish = ch.FinishReason
				// Wait a little for the usage chunk, then finalise without.
				s.graceT = time.AfterFunc(s.grace, s.cancel)
			}
		}
		if u := s.msg.Usage; u != nil {
			s.usage = &switchboard.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
		}
		if s.finish != "" && s.usage != nil {
			if text == "" {
				return s.final()
			}
			s.queueFinal()
			return s.chunk(text), nil
		}
		if text != "" {
			return s.chunk(text), nil
		}
	}
}

var doneMarker = []byte("[DONE]")

func (s *stream) chunk(text string) switchboard.Chunk {
	c := switchboard.Chunk{Text: text}
	if !s.sentFirst {
		s.sentFirst = true
		c.Provider, c.Model = s.name, s.model
	}
	return c
}

// queueFinal queues the tool calls and the final chunk and ends the stream.
func (s *stream) queueFinal() {
	for _, tc := range s.tools {
		if tc.Name == "" {
			continue
		}
		c := s.chunk("")
		c.ToolCall = &switchboard.ToolCall{Name: tc.Name, Arguments: tc.Arguments}
		s.pending = append(s.pending, c)
	}
	f := s.chunk("")
	f.Provider, f.Model = s.name, s.model
	f.FinishReason = s.finish
	f.Usage = s.usage
	s.pending = append(s.pending, f)
	s.done, s.err = true, io.EOF
	if s.graceT != nil {
		s.graceT.Stop()
	}
	s.finished = true
	upstream.Finish(s.body, s.cancel)
}

func (s *stream) final() (switchboard.Chunk, error) {
	s.queueFinal()
	c := s.pending[0]
	s.pending = s.pending[1:]
	return c, nil
}

func (s *stream) fail(err error) (switchboard.Chunk, error) {
	s.done, s.err = true, err
	s.release()
	return switchboard.Chunk{}, err
}

func (s *stream) release() {
	if s.graceT != nil {
		s.graceT.Stop()
	}
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
