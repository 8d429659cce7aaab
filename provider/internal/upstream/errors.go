package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// ReadErrorBody reads (a bounded prefix of) an error response body and
// closes it.
func ReadErrorBody(resp *http.Response) []byte {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return b
}

// ErrorInfo is what an error body says, in any of the shapes providers use.
type ErrorInfo struct {
	Message string
	Type    string
	Code    string
}

// ParseErrorBody extracts message, type and code from an error body:
// {"error":{"message","type","code"}} (OpenAI, Gemini with "status"),
// {"type":"error","error":{"type","message"}} (Anthropic), {"error":"…"},
// {"message":"…"} or {"detail":"…"} (OpenAI-compatible servers). An
// unparsable body becomes the message, trimmed.
func ParseErrorBody(body []byte) ErrorInfo {
	var outer struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		return ErrorInfo{Message: truncate(strings.TrimSpace(string(body)), 500)}
	}
	info := ErrorInfo{Message: outer.Message, Type: outer.Type, Code: rawString(outer.Code)}
	if len(outer.Error) > 0 {
		var inner struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
			Status  json.RawMessage `json:"status"`
		}
		if json.Unmarshal(outer.Error, &inner) == nil {
			info.Message, info.Type, info.Code = inner.Message, inner.Type, rawString(inner.Code)
			if info.Type == "" {
				info.Type = rawString(inner.Status)
			}
		} else if s := rawString(outer.Error); s != "" {
			info.Message = s
		}
	}
	if info.Message == "" && len(outer.Detail) > 0 {
		info.Message = truncate(rawString(outer.Detail), 500)
	}
	return info
}

// rawString returns a JSON string's value, or the raw text of any other value.
func rawString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// IsContextLength reports whether an error says the prompt is too long.
func IsContextLength(info ErrorInfo) bool {
	if info.Code == "context_length_exceeded" || info.Type == "context_length_exceeded" {
		return true
	}
	m := strings.ToLower(info.Message)
	for _, s := range [...]string{
		"context_length_exceeded", "maximum context length", "context length",
		"prompt is too long", "too many tokens", "input is too long",
		"exceeds the maximum number of tokens", "context window",
	} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// IsContentFilter reports whether an error is a refusal on policy grounds.
func IsContentFilter(info ErrorInfo) bool {
	if info.Code == "content_filter" || info.Type == "content_filter" || info.Code == "content_policy_violation" {
		return true
	}
	m := strings.ToLower(info.Message)
	return strings.Contains(m, "content management policy") || strings.Contains(m, "content_filter")
}

// HTTPError maps a non-2xx response to a ProviderError (and closes its
// body). now is used for HTTP-date Retry-After values.
func HTTPError(provider, model string, resp *http.Response, now time.Time) *switchboard.ProviderError {
	body := ReadErrorBody(resp)
	info := ParseErrorBody(body)
	pe := &switchboard.ProviderError{
		Provider: provider,
		Model:    model,
		Status:   resp.StatusCode,
		Message:  info.Message,
	}
	switch st := resp.StatusCode; {
	case st == http.StatusTooManyRequests:
		pe.Class, pe.Retryable = switchboard.FailRateLimited, true
		pe.RetryAfter = RetryAfter(resp.Header, now)
	case IsContentFilter(info):
		pe.Class = switchboard.FailContentFilter
	case st >= 500 || st == http.StatusRequestTimeout || st == http.StatusConflict:
		// 529 (Anthropic overloaded) is a 5xx too.
		pe.Class, pe.Retryable = switchboard.FailServer, true
		pe.RetryAfter = RetryAfter(resp.Header, now)
	case IsContextLength(info):
		pe.Class = switchboard.FailContextLength
	default:
		pe.Class = switchboard.FailRejected
	}
	if pe.Class != switchboard.FailContentFilter {
		pe.Err = errors.New(strings.TrimSpace(info.Type + " " + info.Code))
		if pe.Err.Error() == "" {
			pe.Err = nil
		}
	}
	return pe
}

// StreamError maps an error object received inside a stream (OpenAI
// compatible "data: {"error":…}", Anthropic "event: error", Gemini error
// chunk) to a ProviderError: context length and content filter keep their
// class, rate limits are rate_limited, anything else is a server failure
// (retryable; after output the router continues elsewhere).
func StreamError(provider, model string, info ErrorInfo) *switchboard.ProviderError {
	pe := &switchboard.ProviderError{Provider: provider, Model: model, Message: info.Message}
	t := strings.ToLower(info.Type + " " + info.Code)
	switch {
	case IsContentFilter(info):
		pe.Class = switchboard.FailContentFilter
	case IsContextLength(info):
		pe.Class = switchboard.FailContextLength
	case strings.Contains(t, "rate_limit") || strings.Contains(t, "resource_exhausted"):
		pe.Class, pe.Retryable = switchboard.FailRateLimited, true
	default:
		pe.Class, pe.Retryable = switchboard.FailServer, true
	}
	return pe
}

// TransportError maps an error of http.Client.Do (no response) to a
// ProviderError: our own cancellation is FailCanceled, anything else
// (dial error, reset, EOF before headers) FailConnect.
func TransportError(ctx context.Context, provider, model string, err error) *switchboard.ProviderError {
	pe := &switchboard.ProviderError{Provider: provider, Model: model, Err: err}
	if ctx.Err() != nil {
		pe.Class = switchboard.FailCanceled
		return pe
	}
	pe.Class, pe.Retryable = switchboard.FailConnect, true
	return pe
}

// ReadError maps an error reading a stream body after the headers: our own
// cancellation is FailCanceled, anything else (reset, EOF mid-event) FailCut.
func ReadError(ctx context.Context, provider, model string, err error) *switchboard.ProviderError {
	pe := &switchboard.ProviderError{Provider: provider, Model: model, Err: err}
	if ctx.Err() != nil {
		pe.Class = switchboard.FailCanceled
		return pe
	}
	if err == ErrEventTooLarge {
		pe.Class = switchboard.FailMalformed
		return pe
	}
	pe.Class, pe.Retryable = switchboard.FailCut, true
	return pe
}

// Malformed returns a FailMalformed error for an unparsable event.
func Malformed(provider, model string, err error) *switchboard.ProviderError {
	return &switchboard.ProviderError{Provider: provider, Model: model,
		Class: switchboard.FailMalformed, Retryable: true, Err: err}
}

// Cut returns a FailCut error: the stream ended before it finished.
func Cut(provider, model string, err error) *switchboard.ProviderError {
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return &switchboard.ProviderError{Provider: provider, Model: model,
		Class: switchboard.FailCut, Retryable: true, Err: err}
}

// RetryAfter reads how long to wait from rate-limit headers, in order:
// retry-after-ms, Retry-After (seconds or HTTP date), then the OpenAI
// x-ratelimit-reset-requests / -tokens durations ("1s", "6m0s"; the one
// whose remaining count is 0, else the shorter) and the Anthropic
// anthropic-ratelimit-*-reset RFC 3339 times. 0 when none is present.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	var best time.Duration
	for _, kind := range [...]string{"requests", "tokens"} {
		v := h.Get("X-Ratelimit-Reset-" + kind)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			if s, err2 := strconv.ParseFloat(v, 64); err2 == nil {
				d = time.Duration(s * float64(time.Second))
			} else {
				continue
			}
		}
		if h.Get("X-Ratelimit-Remaining-"+kind) == "0" {
			return d
		}
		if best == 0 || d < best {
			best = d
		}
	}
	if best > 0 {
		return best
	}
	for _, kind := range [...]string{"requests", "tokens", "input-tokens", "output-tokens"} {
		if v := h.Get("Anthropic-Ratelimit-" + kind + "-Reset"); v != "" {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				if d := t.Sub(now); d > 0 && (best == 0 || d < best) {
					best = d
				}
			}
		}
	}
	return best
}

// ContinuationPrompt is the user message that asks a model to continue an
// answer it was cut off in, for providers without assistant prefill. The
// markers are what llmsim (and the tests) recognise.
func ContinuationPrompt(prefix string) string {
	return "Continue exactly where you stopped, without repeating anything. Your answer so far:\n<<<PARTIAL>>>" +
		prefix + "<<<END>>>"
}
