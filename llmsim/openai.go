package llmsim

import (
	"github.com/switchboard-chat/switchboard"

	"net/http"
	"strconv"
)

// openAI renders the OpenAI chat completions format.
type openAI struct{}

var _ dialect = openAI{}

func (openAI) head(r *reply) []byte {
	if r.head == nil {
		b := make([]byte, 0, 128+len(r.model))
		b = append(b, `{"id":"`...)
		b = append(b, r.id...)
		b = append(b, `","object":"chat.completion.chunk","created":`...)
		b = strconv.AppendInt(b, r.created, 10)
		b = append(b, `,"model":"`...)
		b = switchboard.AppendJSONStringBody(b, r.model)
		b = append(b, `","choices":[`...)
		r.head = b
	}
	return r.head
}

func (o openAI) tail(b []byte, r *reply) []byte {
	if r.includeUsage {
		b = append(b, `,"usage":null`...)
	}
	return append(b, "}\n\n"...)
}

func (o openAI) begin(b []byte, r *reply) []byte {
	b = append(b, "data: "...)
	b = append(b, o.head(r)...)
	b = append(b, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`...)
	return o.tail(b, r)
}

func (o openAI) delta(b []byte, r *reply, toks []string) []byte {
	b = append(b, "data: "...)
	b = append(b, o.head(r)...)
	b = append(b, `{"index":0,"delta":{"content":`...)
	b = appendJSONTokens(b, toks)
	b = append(b, `},"logprobs":null,"finish_reason":null}]`...)
	return o.tail(b, r)
}

func (openAI) garbage(b []byte) []byte {
	return append(b, "data: {\"id\":\"chatcmpl-llmsim\",\"choices\":[{\"delta\":<<not json>>\n\n"...)
}

func (o openAI) finish(b []byte, r *reply) []byte {
	b = append(b, "data: "...)
	b = append(b, o.head(r)...)
	b = append(b, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
	b = append(b, r.finish...)
	b = append(b, `"}]`...)
	b = o.tail(b, r)
	if r.includeUsage {
		b = append(b, "data: "...)
		b = append(b, o.head(r)...)
		b = append(b, `],"usage":`...)
		b = o.appendUsage(b, r)
		b = append(b, "}\n\n"...)
	}
	return b
}

func (openAI) appendUsage(b []byte, r *reply) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(r.promptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(r.sent), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(r.promptTokens+r.sent), 10)
	return append(b, '}')
}

func (openAI) done(b []byte) []byte { return append(b, "data: [DONE]\n\n"...) }

func (openAI) streamError(b []byte, r *reply) []byte {
	return append(b, `data: {"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`+"\n\n"...)
}

type openAIError struct {
	Error openAIErrorBody `json:"error"`
}

type openAIErrorBody struct {
	Message string  `json:"message"`
	Type    *string `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func ptr(s string) *string { return &s }

func (openAI) writeError(w http.ResponseWriter, kind errKind, msg string, r *reply) {
	status := http.StatusBadRequest
	e := openAIErrorBody{Type: ptr("invalid_request_error")}
	switch kind {
	case errServer:
		status = http.StatusInternalServerError
		e = openAIErrorBody{Type: ptr("server_error"),
			Message: "The server had an error while processing your request. Sorry about that!"}
	case errUnavailable:
		status = http.StatusServiceUnavailable
		e = openAIErrorBody{Type: ptr("server_error"), Message: "The server is overloaded or not ready yet."}
	case errRateLimited:
		status = http.StatusTooManyRequests
		setRetryAfter(w.Header(), r.retryAfter)
		e = openAIErrorBody{Type: ptr("requests"), Code: ptr("rate_limit_exceeded"),
			Message: "Rate limit reached for requests. Please try again later."}
	case errContext:
		e.Code, e.Param = ptr("context_length_exceeded"), ptr("messages")
		e.Message = "This model's maximum context length is 128000 tokens. However, your messages resulted in " +
			strconv.Itoa(tooLong(r)) + " tokens. Please reduce the length of the messages."
	case errFilter:
		e.Code, e.Param = ptr("content_filter"), ptr("prompt")
		e.Message = "The response was filtered due to the prompt triggering the content management policy. " +
			"Please modify your prompt and retry."
	case errPrefill:
		e.Message = "prefill not supported"
	case errBadRequest:
		e.Message = msg
	}
	writeJSON(w, status, openAIError{Error: e})
}

func (openAI) writeResponse(w http.ResponseWriter, r *reply, text string) {
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type choice struct {
		Index        int     `json:"index"`
		Message      msg     `json:"message"`
		Logprobs     *string `json:"logprobs"`
		FinishReason string  `json:"finish_reason"`
	}
	type usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	writeJSON(w, http.StatusOK, struct {
		ID      string   `json:"id"`
		Object  string   `json:"object"`
		Created int64    `json:"created"`
		Model   string   `json:"model"`
		Choices []choice `json:"choices"`
		Usage   usage    `json:"usage"`
	}{
		ID: r.id, Object: "chat.completion", Created: r.created, Model: r.model,
		Choices: []choice{{Message: msg{Role: "assistant", Content: text}, FinishReason: r.finish}},
		Usage:   usage{r.promptTokens, r.sent, r.promptTokens + r.sent},
	})
}
