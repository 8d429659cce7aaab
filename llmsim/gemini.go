package llmsim

import (
	"github.com/switchboard-chat/switchboard"

	"net/http"
	"strconv"
)

// gemini renders the Gemini generateContent format. Like the real API, its
// SSE events end in CRLF CRLF.
type gemini struct{}

var _ dialect = gemini{}

const geminiEOL = "\r\n\r\n"

func (gemini) finishReason(r *reply) string {
	if r.finish == finishLength {
		return "MAX_TOKENS"
	}
	return "STOP"
}

func (gemini) begin(b []byte, r *reply) []byte { return b }

func (g gemini) appendUsage(b []byte, r *reply) []byte {
	b = append(b, `"usageMetadata":{"promptTokenCount":`...)
	b = strconv.AppendInt(b, int64(r.promptTokens), 10)
	b = append(b, `,"candidatesTokenCount":`...)
	b = strconv.AppendInt(b, int64(r.sent), 10)
	b = append(b, `,"totalTokenCount":`...)
	b = strconv.AppendInt(b, int64(r.promptTokens+r.sent), 10)
	b = append(b, `},"modelVersion":"`...)
	b = switchboard.AppendJSONStringBody(b, r.model)
	b = append(b, `","responseId":"`...)
	b = append(b, r.id...)
	return append(b, `"}`...)
}

func (g gemini) delta(b []byte, r *reply, toks []string) []byte {
	b = append(b, `data: {"candidates":[{"content":{"parts":[{"text":`...)
	b = appendJSONTokens(b, toks)
	b = append(b, `}],"role":"model"},"index":0}],`...)
	b = g.appendUsage(b, r)
	return append(b, geminiEOL...)
}

func (gemini) garbage(b []byte) []byte {
	return append(b, `data: {"candidates":[{"content":<<not json>>`+geminiEOL...)
}

func (g gemini) finish(b []byte, r *reply) []byte {
	b = append(b, `data: {"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"`...)
	b = append(b, g.finishReason(r)...)
	b = append(b, `","index":0}],`...)
	b = g.appendUsage(b, r)
	return append(b, geminiEOL...)
}

func (gemini) done(b []byte) []byte { return b }

func (gemini) streamError(b []byte, r *reply) []byte {
	return append(b, `data: {"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`+geminiEOL...)
}

type geminiError struct {
	Error geminiErrorBody `json:"error"`
}

type geminiErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

func (gemini) writeError(w http.ResponseWriter, kind errKind, msg string, r *reply) {
	e := geminiErrorBody{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT"}
	switch kind {
	case errServer:
		e = geminiErrorBody{500, "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "INTERNAL"}
	case errUnavailable:
		e = geminiErrorBody{503, "The model is overloaded. Please try again later.", "UNAVAILABLE"}
	case errRateLimited:
		setRetryAfter(w.Header(), r.retryAfter)
		e = geminiErrorBody{429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED"}
	case errContext:
		e.Message = "The input token count (" + strconv.Itoa(tooLong(r)) + ") exceeds the maximum number of tokens allowed (1048576)."
	case errFilter:
		e.Message = "The request was blocked by the content management policy (SAFETY)."
	case errPrefill:
		e.Message = "prefill not supported"
	case errBadRequest:
		e.Message = msg
	}
	writeJSON(w, e.Code, geminiError{Error: e})
}

func (g gemini) writeResponse(w http.ResponseWriter, r *reply, text string) {
	type part struct {
		Text string `json:"text"`
	}
	type content struct {
		Parts []part `json:"parts"`
		Role  string `json:"role"`
	}
	type candidate struct {
		Content      content `json:"content"`
		FinishReason string  `json:"finishReason"`
		Index        int     `json:"index"`
	}
	type usage struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
		TotalTokenCount      int `json:"totalTokenCount"`
	}
	writeJSON(w, http.StatusOK, struct {
		Candidates    []candidate `json:"candidates"`
		UsageMetadata usage       `json:"usageMetadata"`
		ModelVersion  string      `json:"modelVersion"`
		ResponseID    string      `json:"responseId"`
	}{
		Candidates:    []candidate{{Content: content{Parts: []part{{text}}, Role: "model"}, FinishReason: g.finishReason(r)}},
		UsageMetadata: usage{r.promptTokens, r.sent, r.promptTokens + r.sent},
		ModelVersion:  r.model, ResponseID: r.id,
	})
}
