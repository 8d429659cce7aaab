package llmsim

import (
	"github.com/switchboard-chat/switchboard"

	"net/http"
	"strconv"
)

// anthropic renders the Anthropic Messages format.
type anthropic struct{}

var _ dialect = anthropic{}

func (anthropic) stopReason(r *reply) string {
	if r.finish == finishLength {
		return "max_tokens"
	}
	return "end_turn"
}

func (anthropic) begin(b []byte, r *reply) []byte {
	b = append(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\""...)
	b = append(b, r.id...)
	b = append(b, `","type":"message","role":"assistant","model":"`...)
	b = switchboard.AppendJSONStringBody(b, r.model)
	b = append(b, `","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(r.promptTokens), 10)
	b = append(b, `,"output_tokens":1}}}`+"\n\n"...)
	b = append(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"...)
	return append(b, "event: ping\ndata: {\"type\":\"ping\"}\n\n"...)
}

func (anthropic) delta(b []byte, r *reply, toks []string) []byte {
	b = append(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"...)
	b = appendJSONTokens(b, toks)
	return append(b, "}}\n\n"...)
}

func (anthropic) garbage(b []byte) []byte {
	return append(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",<<not json>>\n\n"...)
}

func (a anthropic) finish(b []byte, r *reply) []byte {
	b = append(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"...)
	b = append(b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""...)
	b = append(b, a.stopReason(r)...)
	b = append(b, `","stop_sequence":null},"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(r.promptTokens), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(r.sent), 10)
	return append(b, "}}\n\n"...)
}

func (anthropic) done(b []byte) []byte {
	return append(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

func (anthropic) streamError(b []byte, r *reply) []byte {
	return append(b, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"...)
}

type anthropicError struct {
	Type  string             `json:"type"`
	Error anthropicErrorBody `json:"error"`
}

type anthropicErrorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

func (anthropic) writeError(w http.ResponseWriter, kind errKind, msg string, r *reply) {
	status := http.StatusBadRequest
	e := anthropicErrorBody{Type: "invalid_request_error"}
	switch kind {
	case errServer:
		status, e = http.StatusInternalServerError, anthropicErrorBody{"api_error", "Internal server error"}
	case errUnavailable:
		status, e = 529, anthropicErrorBody{"overloaded_error", "Overloaded"}
	case errRateLimited:
		status = http.StatusTooManyRequests
		setRetryAfter(w.Header(), r.retryAfter)
		e = anthropicErrorBody{"rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"}
	case errContext:
		e.Message = "prompt is too long: " + strconv.Itoa(tooLong(r)) + " tokens > 200000 maximum"
	case errFilter:
		e.Message = "Output blocked by content filtering policy (content management policy)"
	case errPrefill:
		e.Message = "prefill not supported"
	case errBadRequest:
		e.Message = msg
	}
	writeJSON(w, status, anthropicError{Type: "error", Error: e})
}

func (a anthropic) writeResponse(w http.ResponseWriter, r *reply, text string) {
	type block struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type usage struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	}
	writeJSON(w, http.StatusOK, struct {
		ID           string  `json:"id"`
		Type         string  `json:"type"`
		Role         string  `json:"role"`
		Model        string  `json:"model"`
		Content      []block `json:"content"`
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
		Usage        usage   `json:"usage"`
	}{
		ID: r.id, Type: "message", Role: "assistant", Model: r.model,
		Content:    []block{{Type: "text", Text: text}},
		StopReason: a.stopReason(r), Usage: usage{r.promptTokens, r.sent},
	})
}
