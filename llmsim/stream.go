package llmsim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"
)

// serve answers one completion request of dialect d.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, d dialect, parse func([]byte) (*request, error)) {
	s.inFlight.Add(1)
	out := outCompleted
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				out = outAborted
			}
			s.record(out)
			panic(p)
		}
		s.record(out)
	}()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var req *request
	if err == nil {
		req, err = parse(body)
	}
	n := s.total.Add(1)
	if err != nil {
		s.countAttempt("", "bad-request")
		d.writeError(w, errBadRequest, "llmsim: invalid request: "+err.Error(), &reply{})
		return
	}
	s.requests.add(req)
	t := s.cfg.Load().target(req.model)
	rnd := splitmix64(uint64(t.Seed) ^ splitmix64(uint64(n)))

	mode := t.Mode
	if hm := r.Header.Get(ModeHeader); hm != "" {
		if !validMode(hm) {
			s.countAttempt(req.model, "bad-request")
			d.writeError(w, errBadRequest, "llmsim: unknown mode "+hm, &reply{})
			return
		}
		mode = hm
	} else if mode == ModeOK && t.FailRate > 0 && unitFloat(rnd) < t.FailRate {
		mode = t.FailMix[splitmix64(rnd^0x5bd1e995)%uint64(len(t.FailMix))]
	}
	attempt := s.countAttempt(req.model, mode)

	h := w.Header()
	h.Set("X-Llmsim-Mode", mode)
	h.Set("X-Llmsim-Attempt", itoa(n))

	rep := &reply{
		model:        req.model,
		created:      time.Now().Unix(),
		promptTokens: estimateTokens(req.promptChars()),
		finish:       finishStop,
		includeUsage: req.includeUsage,
		retryAfter:   t.RetryAfter,
	}
	switch d.(type) {
	case openAI:
		rep.id = "chatcmpl-llmsim-" + itoa(n)
	case anthropic:
		rep.id = "msg_llmsim_" + itoa(n)
	default:
		rep.id = "llmsim-" + itoa(n)
	}

	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("llmsim request", "path", r.URL.Path, "model", req.model, "mode", mode,
			"stream", req.stream, "attempt", n)
	}

	if _, ok := d.(anthropic); ok && req.hasPrefill() && endsInSpace(req.messages[len(req.messages)-1].text) {
		// As the real API: the model would produce that whitespace itself.
		d.writeError(w, errBadRequest, "messages: final assistant content cannot end with trailing whitespace", rep)
		return
	}

	ctx := r.Context()
	switch mode {
	case ModeHang:
		out = s.hold(ctx, w)
		return
	case ModeError500:
		d.writeError(w, errServer, "", rep)
		return
	case ModeError503:
		d.writeError(w, errUnavailable, "", rep)
		return
	case ModeFlap:
		if ((attempt-1)/int64(t.FlapEvery))%2 == 0 {
			d.writeError(w, errUnavailable, "", rep)
			return
		}
	case ModeRate429:
		d.writeError(w, errRateLimited, "", rep)
		return
	case ModeReset:
		out = outAborted
		abortConn(w, true)
		return
	case ModeContextLength:
		d.writeError(w, errContext, "", rep)
		return
	case ModeContentFilter:
		d.writeError(w, errFilter, "", rep)
		return
	case ModeRejectPrefill:
		if req.hasPrefill() {
			d.writeError(w, errPrefill, "", rep)
			return
		}
	}

	// The reply: deterministic text minus any continued prefix.
	prefix, seed := req.continuation()
	toks := t.replyToks
	if toks == nil {
		toks = generate(s.vocab, seed, t.Tokens)
	}
	toks, ok := remainder(toks, prefix)
	if !ok {
		s.log.Info("llmsim continuation prefix is not a prefix of the reply; sending the whole reply",
			"model", req.model, "prefix_bytes", len(prefix))
	}
	if req.maxTokens > 0 && len(toks) > req.maxTokens {
		toks = toks[:req.maxTokens]
		rep.finish = finishLength
	}

	ttft := t.TTFT
	if t.TTFTJitter > 0 {
		ttft += time.Duration((unitFloat(splitmix64(rnd+1))*2 - 1) * float64(t.TTFTJitter))
		ttft = max(ttft, 0)
	}
	if mode == ModeSlowFirstToken {
		ttft = slowTTFTDefault
		if t.TTFT > 0 {
			ttft = slowTTFTFactor * t.TTFT
		}
	}
	st := &streamer{s: s, ctx: ctx, w: w, d: d, rep: rep, t: t}
	defer st.stop()
	if req.stream {
		out = st.stream(toks, mode, ttft)
	} else {
		out = st.respond(toks, mode, ttft)
	}
}

// streamer writes one response.
type streamer struct {
	s     *Server
	ctx   context.Context
	w     http.ResponseWriter
	rc    *http.ResponseController
	d     dialect
	rep   *reply
	t     *target
	timer *time.Timer
	bp    *[]byte
	buf   []byte
	// deadline is when the write deadline was last moved.
	deadline time.Time
}

func (st *streamer) stop() {
	if !st.deadline.IsZero() {
		// Without a server WriteTimeout nothing resets the deadline
		// before the next request on this connection.
		st.rc.SetWriteDeadline(time.Time{})
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	if st.bp != nil {
		*st.bp = st.buf[:0]
		st.s.putBuf(st.bp)
	}
}

// sleep waits d; ok is false with the outcome when the client left or the
// server closed first (which drops the connection).
func (st *streamer) sleep(d time.Duration) (outcome, bool) {
	if d <= 0 {
		if st.ctx.Err() != nil {
			return outCancelled, false
		}
		return outCompleted, true
	}
	if st.timer == nil {
		st.timer = time.NewTimer(d)
	} else {
		st.timer.Reset(d)
	}
	select {
	case <-st.timer.C:
		return outCompleted, true
	case <-st.ctx.Done():
		return outCancelled, false
	case <-st.s.closed:
		abortConn(st.w, false)
		return outAborted, false
	}
}

// hold keeps the request open until the client leaves or the server
// closes; then it drops the connection, so a released request never looks
// like a finished response.
func (s *Server) hold(ctx context.Context, w http.ResponseWriter) outcome {
	select {
	case <-ctx.Done():
		return outCancelled
	case <-s.closed:
		abortConn(w, false)
		return outAborted
	}
}

// flush writes the buffer and flushes it to the client.
func (st *streamer) flush() bool {
	if now := time.Now(); now.Sub(st.deadline) > time.Second {
		st.rc.SetWriteDeadline(now.Add(writeTimeout))
		st.deadline = now
	}
	if _, err := st.w.Write(st.buf); err != nil {
		return false
	}
	st.buf = st.buf[:0]
	return st.rc.Flush() == nil && st.ctx.Err() == nil
}

// tokenDelay is the time tokens take at the configured rate.
func (st *streamer) tokenDelay(tokens int) time.Duration {
	if st.t.TokensPerSec <= 0 {
		return 0
	}
	return time.Duration(float64(tokens) / st.t.TokensPerSec * float64(time.Second))
}

// send streams toks in chunks; the first chunk goes out at once (the
// caller waited the TTFT), later ones at the token rate.
func (st *streamer) send(toks []string, first bool) (outcome, bool) {
	size := st.t.ChunkSize
	for i := 0; i < len(toks); {
		end := min(i+size, len(toks))
		if !first {
			if o, ok := st.sleep(st.tokenDelay(end - i)); !ok {
				return o, false
			}
		}
		first = false
		st.rep.sent += end - i
		st.buf = st.d.delta(st.buf, st.rep, toks[i:end])
		if !st.flush() {
			return outCancelled, false
		}
		i = end
	}
	return outCompleted, true
}

// breakPoint is where cut, stall, malformed and stream-error act.
func (st *streamer) breakPoint(n int) int {
	switch k := st.t.StallAfter; {
	case k < 0:
		return 0
	case k == 0:
		return n / 2
	default:
		return min(k, n)
	}
}

func (st *streamer) stream(toks []string, mode string, ttft time.Duration) outcome {
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	st.w.WriteHeader(http.StatusOK)
	st.rc = http.NewResponseController(st.w)
	st.bp = st.s.getBuf()
	st.buf = (*st.bp)[:0]
	if !st.flush() {
		return outCancelled
	}
	if o, ok := st.sleep(ttft); !ok {
		return o
	}
	st.buf = st.d.begin(st.buf, st.rep)

	k := len(toks)
	switch mode {
	case ModeCut, ModeStall, ModeMalformed, ModeStreamError:
		k = st.breakPoint(len(toks))
	}
	if o, ok := st.send(toks[:k], true); !ok {
		return o
	}
	switch mode {
	case ModeCut:
		if !st.flush() {
			return outCancelled
		}
		abortConn(st.w, false)
		return outAborted
	case ModeStall:
		if !st.flush() {
			return outCancelled
		}
		return st.s.hold(st.ctx, st.w)
	case ModeStreamError:
		st.buf = st.d.streamError(st.buf, st.rep)
		if !st.flush() {
			return outCancelled
		}
		return outCompleted
	case ModeMalformed:
		st.buf = st.d.garbage(st.buf)
		if o, ok := st.send(toks[k:], k == 0); !ok {
			return o
		}
	}
	if o, ok := st.sleep(0); !ok {
		return o
	}
	st.buf = st.d.finish(st.buf, st.rep)
	if mode == ModeNoDone {
		if !st.flush() {
			return outCancelled
		}
		return st.s.hold(st.ctx, st.w)
	}
	st.buf = st.d.done(st.buf)
	if !st.flush() {
		return outCancelled
	}
	return outCompleted
}

// respond answers a non-streaming request after the time the stream would
// have taken.
func (st *streamer) respond(toks []string, mode string, ttft time.Duration) outcome {
	if o, ok := st.sleep(ttft + st.tokenDelay(len(toks))); !ok {
		return o
	}
	switch mode {
	case ModeCut:
		abortConn(st.w, false)
		return outAborted
	case ModeStall:
		return st.s.hold(st.ctx, st.w)
	case ModeStreamError:
		st.d.writeError(st.w, errServer, "", st.rep)
		return outCompleted
	case ModeMalformed:
		st.w.Header().Set("Content-Type", "application/json")
		st.w.WriteHeader(http.StatusOK)
		io.WriteString(st.w, `{"id":"`+st.rep.id+`","choices":[{"message":<<not json>>`)
		return outCompleted
	}
	st.rep.sent = len(toks)
	st.d.writeResponse(st.w, st.rep, joinTokens(toks))
	return outCompleted
}

// abortConn drops the connection: with rst, by a TCP reset. Without a
// hijackable connection (HTTP/2) the handler aborts the stream instead.
func abortConn(w http.ResponseWriter, rst bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		tc.SetLinger(0)
	}
	conn.Close()
}

func endsInSpace(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && unicode.IsSpace(r)
}
