package upstream

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// NewTransport is provider.NewTransport; the wire clients use it when they
// are given no transport.
func NewTransport(maxConns int) *http.Transport {
	if maxConns <= 0 {
		maxConns = 64
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConns * 2,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Transparent gzip would hold back stream chunks.
		DisableCompression: true,
		// No ResponseHeaderTimeout: the router's first-token timeout
		// covers a server that never answers.
	}
}

// Defaults fills what a wire client was not given: a client over a tuned
// transport (never http.DefaultClient), a logger and a clock.
func Defaults(rt http.RoundTripper, logger *slog.Logger, now func() time.Time) (*http.Client, *slog.Logger, func() time.Time) {
	if rt == nil {
		rt = NewTransport(0)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &http.Client{Transport: rt}, logger, now
}

// Bounds of the read that ends a complete stream.
const (
	drainBytes = 4 << 10
	drainTime  = 100 * time.Millisecond
)

// Finish ends a stream whose answer is complete. It reads what is left of
// the body (OpenAI's "data: [DONE]", Anthropic's message_stop), at most
// drainBytes and drainTime, so the connection goes back to the keep-alive
// pool: a body closed unread makes the next request pay a new TCP and TLS
// handshake. It reads on a goroutine of its own so the final chunk is not
// held up; that goroutine ends within drainTime (cancel aborts the read).
func Finish(body io.ReadCloser, cancel context.CancelFunc) {
	go func() {
		t := time.AfterFunc(drainTime, cancel)
		_, _ = io.CopyN(io.Discard, body, drainBytes)
		t.Stop()
		body.Close()
		cancel()
	}()
}
