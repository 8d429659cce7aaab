package llmsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// errKind is a failure the simulator answers with; each dialect renders it
// in its provider's shape and status.
type errKind int

const (
	errServer      errKind = iota // 500
	errUnavailable                // 503 (Anthropic 529)
	errRateLimited                // 429
	errContext                    // 400 context length
	errFilter                     // 400 content filter
	errPrefill                    // 400 prefill not supported
	errBadRequest                 // 400 malformed request
)

// finish reasons, dialect-neutral.
const (
	finishStop   = "stop"
	finishLength = "length"
)

// reply is the state of one response shared by the dialect encoders.
type reply struct {
	id           string
	model        string
	created      int64
	promptTokens int
	sent         int    // completion tokens sent so far
	finish       string // finishStop or finishLength
	includeUsage bool
	retryAfter   time.Duration
	head         []byte // dialect's per-response JSON prefix, built once
}

// dialect renders one provider's wire format. The append methods add whole
// SSE events to b without allocating.
type dialect interface {
	// begin is written with the first token (role chunk, message_start…).
	begin(b []byte, r *reply) []byte
	delta(b []byte, r *reply, toks []string) []byte
	garbage(b []byte) []byte
	// finish carries the finish reason and usage.
	finish(b []byte, r *reply) []byte
	// done is the end-of-stream marker, if the dialect has one.
	done(b []byte) []byte
	// streamError is an error event after the stream has begun.
	streamError(b []byte, r *reply) []byte
	writeError(w http.ResponseWriter, kind errKind, msg string, r *reply)
	writeResponse(w http.ResponseWriter, r *reply, text string)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// setRetryAfter sets Retry-After in whole seconds (rounded up) and
// Retry-After-Ms, as OpenAI does.
func setRetryAfter(h http.Header, d time.Duration) {
	if d <= 0 {
		return
	}
	secs := int64((d + time.Second - 1) / time.Second)
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("Retry-After-Ms", strconv.FormatInt(d.Milliseconds(), 10))
}

// tooLong is the prompt size the context-length errors report.
func tooLong(r *reply) int { return r.promptTokens + 200000 }
