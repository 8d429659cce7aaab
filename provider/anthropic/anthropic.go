// Package anthropic is a streaming client of the Anthropic Messages API.
package anthropic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider/internal/upstream"
)

// Version is the anthropic-version header sent with every request.
const Version = "2023-06-01"

// DefaultMaxTokens is sent when a request does not set MaxTokens (the API
// requires max_tokens).
const DefaultMaxTokens = 4096

// Options configure a Client.
type Options struct {
	Name      string // provider name in chunks, errors and metrics
	BaseURL   string // e.g. https://api.anthropic.com (or …/v1)
	APIKey    string // sent as x-api-key
	Transport http.RoundTripper
	Logger    *slog.Logger
	Now       func() time.Time // for rate-limit reset times; default time.Now
}

// Client streams messages.
type Client struct {
	name   string
	url    string
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
		base = "https://api.anthropic.com"
	}
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	c := &Client{name: opts.Name, url: base + "/messages", apiKey: opts.APIKey, logger: opts.Logger, now: opts.Now}
	if c.name == "" {
		c.name = "anthropic"
	}
	c.hc, c.logger, c.now = upstream.Defaults(opts.Transport, c.logger, c.now)
	return c
}

// Name of the provider.
func (c *Client) Name() string { return c.name }

// Stream starts a streamed message. Errors are *switchboard.ProviderError:
// 429 rate_limited (RetryAfter from retry-after or the
// anthropic-ratelimit-*-reset headers), 5xx and 529 overloaded server
// (retryable), "prompt is too long" context_length, other 4xx rejected; a
// failure to connect is FailConnect, our own cancellation FailCanceled.
// Prefill is sent natively as a last assistant message.
func (c *Client) Stream(ctx context.Context, req *switchboard.ChatRequest) (switchboard.Stream, error) {
	wr, strip := request(req)
	body, err := json.Marshal(wr)
	if err != nil {
		return nil, fmt.Errorf("anthropic: encode request: %w", err)
	}
	header := http.Header{"Anthropic-Version": {Version}}
	if c.apiKey != "" {
		header.Set("X-Api-Key", c.apiKey)
	}
	ctx, cancel, resp, err := upstream.Open(ctx, c.hc, c.url, body, header, c.name, req.Model, c.now)
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
		strip:  strip,
	}, nil
}

// wire types of the request.
type (
	messagesRequest struct {
		Model       string    `json:"model"`
		System      string    `json:"system,omitempty"`
		Messages    []message `json:"messages"`
		MaxTokens   int       `json:"max_tokens"`
		Temperature *float64  `json:"temperature,omitempty"`
		Stream      bool      `json:"stream"`
		Tools       []tool    `json:"tools,omitempty"`
	}
	message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	tool struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
)

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// request builds the wire request. The API refuses an assistant prefill
// that ends in whitespace, so the whitespace is cut from the prefill and
// returned: the stream drops it from the start of the continuation, where
// the model repeats it.
func request(req *switchboard.ChatRequest) (r *messagesRequest, strip string) {
	r = &messagesRequest{
		Model:       req.Model,
		Messages:    make([]message, 0, len(req.Messages)+1),
		MaxTokens:   req.MaxTokens,
		Temperature: req.Temperature,
		Stream:      true,
	}
	if r.MaxTokens <= 0 {
		r.MaxTokens = DefaultMaxTokens
	}
	var system []string
	for _, m := range req.Messages {
		if m.Role == switchboard.RoleSystem {
			system = append(system, m.Content)
			continue
		}
		r.Messages = append(r.Messages, message{Role: m.Role, Content: m.Content})
	}
	r.System = strings.Join(system, "\n\n")
	if p := strings.TrimRightFunc(req.Prefill, unicode.IsSpace); p != "" {
		r.Messages = append(r.Messages, message{Role: switchboard.RoleAssistant, Content: p})
		strip = req.Prefill[len(p):]
	}
	for _, t := range req.Tools {
		r.Tools = append(r.Tools, tool{Name: t.Name, Description: t.Description, InputSchema: emptySchema})
	}
	return r, strip
}

// event is every stream event's fields we use, reused for each event.
type event struct {
	Type    string `json:"type"`
	Message struct {
		Usage usage `json:"usage"`
	} `json:"message"`
	ContentBlock struct {
		Type string `json:"type"`
		Name string `json:"name"`
		Text string `json:"text"`
	} `json:"content_block"`
	Delta struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *usage `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

type usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

func (u usage) prompt() int {
	return u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

type stream struct {
	name, model string
	ctx         context.Context
	cancel      context.CancelFunc
	body        io.ReadCloser
	sse         *upstream.SSEReader
	dec         *upstream.JSONDecoder
	strip       string // whitespace cut from the prefill

	ev        event
	sentFirst bool
	usage     switchboard.Usage
	gotUsage  bool
	tool      *switchboard.ToolCall // tool_use block being read
	pending   []switchboard.Chunk
	done      bool
	finished  bool // complete: the body is drained by upstream.Finish
	err       error
}

// Recv returns the next chunk: one per text delta, a chunk per complete
// tool_use block, then a final chunk with FinishReason (stop, length,
// tool_calls, content_filter) and the usage of message_start and
// message_delta. The stream is final at message_delta's stop_reason; it
// does not wait for message_stop. A body that ends before is FailCut, an
// error event a server failure (overloaded_error) or its own class.
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
		s.ev = event{}
		if err := s.dec.Decode(data, &s.ev); err != nil {
			return s.fail(upstream.Malformed(s.name, s.model, err))
		}
		ev := &s.ev
		switch ev.Type {
		case "message_start":
			u := ev.Message.Usage
			s.usage.PromptTokens, s.usage.CompletionTokens = u.prompt(), u.OutputTokens
			s.gotUsage = true
		case "content_block_start":
			if ev.ContentBlock.Type == "tool_use" {
				s.tool = &switchboard.ToolCall{Name: ev.ContentBlock.Name}
			} else if ev.ContentBlock.Type == "text" && ev.ContentBlock.Text != "" {
				if c := s.text(ev.ContentBlock.Text); c.Text != "" {
					return c, nil
				}
			}
		case "content_block_delta":
			switch ev.Delta.Type {
			case "text_delta":
				if c := s.text(ev.Delta.Text); c.Text != "" {
					return c, nil
				}
			case "input_json_delta":
				if s.tool != nil {
					s.tool.Arguments += ev.Delta.PartialJSON
				}
			}
		case "content_block_stop":
			if s.tool != nil {
				c := s.chunk("")
				c.ToolCall, s.tool = s.tool, nil
				return c, nil
			}
		case "message_delta":
			if u := ev.Usage; u != nil {
				if p := u.prompt(); p > 0 {
					s.usage.PromptTokens = p
				}
				s.usage.CompletionTokens = u.OutputTokens
				s.gotUsage = true
			}
			if ev.Delta.StopReason != "" {
				return s.final(finishReason(ev.Delta.StopReason))
			}
		case "message_stop":
			return s.final("stop")
		case "error":
			info := upstream.ErrorInfo{}
			if ev.Error != nil {
				info.Type, info.Message = ev.Error.Type, ev.Error.Message
			}
			return s.fail(upstream.StreamError(s.name, s.model, info))
		}
	}
}

// finishReason maps stop_reason to Chunk.FinishReason.
func finishReason(r string) string {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}

// text returns a chunk of t, dropping whitespace the prefill lost from the
// start of the continuation.
func (s *stream) text(t string) switchboard.Chunk {
	if s.strip != "" {
		n := 0
		for n < len(s.strip) && n < len(t) && s.strip[n] == t[n] {
			n++
		}
		if n == len(t) && n < len(s.strip) {
			s.strip = s.strip[n:]
			return switchboard.Chunk{}
		}
		t, s.strip = t[n:], ""
	}
	return s.chunk(t)
}

func (s *stream) chunk(text string) switchboard.Chunk {
	c := switchboard.Chunk{Text: text}
	if !s.sentFirst {
		s.sentFirst = true
		c.Provider, c.Model = s.name, s.model
	}
	return c
}

func (s *stream) final(reason string) (switchboard.Chunk, error) {
	c := switchboard.Chunk{Provider: s.name, Model: s.model, FinishReason: reason}
	s.sentFirst = true
	if s.gotUsage {
		u := s.usage
		c.Usage = &u
	}
	s.done, s.err = true, io.EOF
	s.finished = true
	upstream.Finish(s.body, s.cancel)
	return c, nil
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
