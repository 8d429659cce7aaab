package switchboard

import (
	"context"
	"fmt"
	"time"
)

// Chat roles of a model context.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// ChatMessage is one message of a model context.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Tool offered to the model. The only one we use is "handoff".
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ToolCall the model made.
type ToolCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments,omitempty"`
}

// Passage is a knowledge-base passage retrieved for a question.
type Passage struct {
	ID         string  `json:"id"`
	DocumentID string  `json:"document_id"`
	InboxID    string  `json:"inbox_id"`
	Title      string  `json:"title"`   // document title
	Heading    string  `json:"heading"` // heading path within the document
	Text       string  `json:"text"`
	Ord        int     `json:"ord"` // position within the document
	Score      float64 `json:"score,omitempty"`
}

// ChatRequest asks a provider (or the router) for a streamed completion.
type ChatRequest struct {
	// Model is the provider's model name; for the router it names a route
	// (or an alias of one).
	Model       string
	Messages    []ChatMessage
	MaxTokens   int
	Temperature *float64
	Tools       []Tool
	// Prefill continues an assistant answer: the provider must produce only
	// the text that follows it (assistant prefill where supported, else an
	// explicit continuation request).
	Prefill string
	// Passages retrieved for the last user message; the offline provider
	// answers from them, others see them in the system message.
	Passages []Passage
	// Subject identifies who is billed (inbox or API key), for accounting.
	Subject string
}

// Chunk is one piece of a streamed completion.
type Chunk struct {
	Text string
	// Provider and Model name the target that produced this chunk; set on
	// the first chunk and whenever the router moves to another target.
	Provider string
	Model    string
	// Set on the last chunk only.
	FinishReason string // stop, length, tool_calls, content_filter
	Usage        *Usage
	Cost         float64 // of the whole completion, with Usage
	ToolCall     *ToolCall
}

// Stream of chunks. Recv returns io.EOF after the last chunk. Close cancels
// the upstream request; it is safe to call more than once.
type Stream interface {
	Recv() (Chunk, error)
	Close() error
}

// Provider streams completions. Errors before or during the stream are
// *ProviderError (or *Error with EUNAVAILABLE / ECONTENTFILTER /
// EMODELNOTFOUND from the router).
type Provider interface {
	Name() string
	Stream(ctx context.Context, req *ChatRequest) (Stream, error)
}

// Failure classes of a provider call; the router decides on these.
const (
	FailConnect       = "connect"        // dial error, reset before headers
	FailServer        = "server"         // 5xx
	FailRateLimited   = "rate_limited"   // 429
	FailTimeout       = "timeout"        // first-token or idle timeout
	FailContextLength = "context_length" // prompt too long for the model
	FailContentFilter = "content_filter" // refused on policy grounds
	FailMalformed     = "malformed"      // stream could not be parsed
	FailCut           = "cut"            // stream ended or broke before finishing
	FailRejected      = "rejected"       // other 4xx (bad key, bad request, prefill refused)
	FailCanceled      = "canceled"       // our own context was cancelled
)

// ProviderError is an upstream failure.
type ProviderError struct {
	Provider   string
	Model      string
	Class      string // one of the Fail* constants
	Status     int    // HTTP status, 0 when none
	Retryable  bool
	RetryAfter time.Duration
	Message    string // provider's reason, safe to show (content filter)
	Err        error
}

func (e *ProviderError) Error() string {
	s := fmt.Sprintf("provider %s model %s: %s", e.Provider, e.Model, e.Class)
	if e.Status != 0 {
		s += fmt.Sprintf(" (status %d)", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProviderError) Unwrap() error { return e.Err }

// RouteInfo describes a route for /v1/models and the admin API.
type RouteInfo struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	Targets []string `json:"targets"` // provider/model
}

// TargetStatus is the health of one route target, for /v1/admin/providers.
type TargetStatus struct {
	Route       string  `json:"route"`
	Provider    string  `json:"provider"`
	Model       string  `json:"model"`
	Breaker     string  `json:"breaker"` // closed, open, half-open
	ErrorRate   float64 `json:"error_rate"`
	TTFTp50Ms   float64 `json:"ttft_p50_ms"`
	TTFTp95Ms   float64 `json:"ttft_p95_ms"`
	EWMAms      float64 `json:"ewma_ms"`
	Requests    int64   `json:"requests"`
	Failures    int64   `json:"failures"`
	CooldownSec float64 `json:"cooldown_seconds,omitempty"`
	Spend       float64 `json:"spend"`
	Tokens      int64   `json:"tokens"`
}

// Router is a Provider whose ChatRequest.Model names a route.
type Router interface {
	Provider
	Routes() []RouteInfo
	// Resolve maps a route name or alias to the route name; EMODELNOTFOUND.
	Resolve(name string) (string, error)
	Status() []TargetStatus
}
