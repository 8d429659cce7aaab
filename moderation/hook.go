package moderation

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	switchboard "github.com/switchboard-chat/switchboard"
)

// Hook defaults.
const (
	DefaultHookQueueSize  = 1024
	DefaultHookMaxRetries = 5
	DefaultHookBackoff    = 500 * time.Millisecond // first retry; doubles up to DefaultHookMaxBackoff
	DefaultHookMaxBackoff = 30 * time.Second
	hookTimeout           = 10 * time.Second // per attempt, when Client has none
)

// Hook headers.
const (
	HeaderSignature = "X-Switchboard-Signature" // "sha256=" + hex HMAC-SHA256 of the body with the secret
	HeaderTimestamp = "X-Switchboard-Timestamp" // Unix seconds when the attempt was sent
)

// HookEvent is what the review hook receives, as a JSON body.
type HookEvent struct {
	ConversationID string                       `json:"conversation_id"`
	MessageID      string                       `json:"message_id,omitempty"`
	InboxID        string                       `json:"inbox_id"`
	Direction      Direction                    `json:"direction"`
	Action         switchboard.ModerationAction `json:"action"`
	Text           string                       `json:"text"`
	Hits           []switchboard.ModerationHit  `json:"hits"`
	Time           time.Time                    `json:"time"`
}

// HookOptions configure a Hook.
type HookOptions struct {
	URL        string
	Secret     string
	QueueSize  int // default DefaultHookQueueSize
	MaxRetries int // retries after the first attempt; default DefaultHookMaxRetries, <0 for none
	Client     *http.Client
	Logger     *slog.Logger
	// Registerer, when set, gets switchboard_moderation_hook_{sent,dropped,failed}_total.
	Registerer prometheus.Registerer

	// Backoff is the delay before the first retry (default
	// DefaultHookBackoff); it doubles per retry up to MaxBackoff, with
	// random jitter of up to half the delay on top.
	Backoff, MaxBackoff time.Duration
}

// Hook delivers events to a review webhook from a bounded queue, with one
// worker goroutine owned by Open and Close. Enqueue never blocks: when the
// queue is full the event is dropped and counted.
type Hook struct {
	opts   HookOptions
	logger *slog.Logger
	client *http.Client
	queue  chan HookEvent

	sent, dropped, failed prometheus.Counter

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	closed atomic.Bool
}

// NewHook returns a Hook; call Open to start delivering.
func NewHook(opts HookOptions) *Hook {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultHookQueueSize
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultHookMaxRetries
	} else if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultHookBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultHookMaxBackoff
	}
	h := &Hook{
		opts:   opts,
		logger: opts.Logger,
		client: opts.Client,
		queue:  make(chan HookEvent, opts.QueueSize),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_moderation_hook_sent_total",
			Help: "Moderation events delivered to the review hook.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_moderation_hook_dropped_total",
			Help: "Moderation events dropped because the review hook queue was full or closed.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_moderation_hook_failed_total",
			Help: "Moderation events given up on after all retries or a 4xx answer.",
		}),
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: hookTimeout}
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(h.sent, h.dropped, h.failed)
	}
	return h
}

// Open starts the worker.
func (h *Hook) Open() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		return fmt.Errorf("moderation hook: already open")
	}
	if h.opts.URL == "" {
		return switchboard.Errorf(switchboard.EINVALID, "Review hook URL is required.")
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		h.run(ctx)
	}()
	return nil
}

// Close stops the worker and waits for it. An attempt in flight is
// cancelled; queued events are dropped (and counted as such).
func (h *Hook) Close() error {
	h.closed.Store(true)
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	for {
		select {
		case <-h.queue:
			h.dropped.Inc()
		default:
			return nil
		}
	}
}

// Enqueue queues ev for delivery without blocking. It reports false, and
// counts the event as dropped, when the queue is full or the hook closed.
func (h *Hook) Enqueue(ev HookEvent) bool {
	if h.closed.Load() {
		h.dropped.Inc()
		return false
	}
	select {
	case h.queue <- ev:
		return true
	default:
		h.dropped.Inc()
		h.logger.Warn("moderation hook: queue full, event dropped", "conversation_id", ev.ConversationID, "message_id", ev.MessageID)
		return false
	}
}

func (h *Hook) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-h.queue:
			h.deliver(ctx, ev)
		}
	}
}

// deliver posts ev, retrying network errors and 5xx answers.
func (h *Hook) deliver(ctx context.Context, ev HookEvent) {
	body, err := json.Marshal(ev)
	if err != nil {
		h.failed.Inc()
		h.logger.Error("moderation hook: encode event", "err", err)
		return
	}
	sig := Sign(h.opts.Secret, body)
	for attempt := 0; ; attempt++ {
		retry, err := h.post(ctx, body, sig)
		if err == nil {
			h.sent.Inc()
			return
		}
		if ctx.Err() != nil {
			h.dropped.Inc()
			return
		}
		if !retry || attempt >= h.opts.MaxRetries {
			h.failed.Inc()
			h.logger.Error("moderation hook: giving up", "conversation_id", ev.ConversationID,
				"message_id", ev.MessageID, "attempts", attempt+1, "err", err)
			return
		}
		t := time.NewTimer(h.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			h.dropped.Inc()
			return
		case <-t.C:
		}
	}
}

// backoff returns the delay before retry number attempt+1.
func (h *Hook) backoff(attempt int) time.Duration {
	d := h.opts.Backoff
	for i := 0; i < attempt && d < h.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, h.opts.MaxBackoff)
	return d + rand.N(d/2+1)
}

// post makes one attempt and reports whether a failure is worth retrying.
func (h *Hook) post(ctx context.Context, body []byte, sig string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.opts.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("moderation hook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	resp, err := h.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("moderation hook post: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("moderation hook: status %d", resp.StatusCode)
	}
	return false, fmt.Errorf("moderation hook: status %d", resp.StatusCode)
}

// Sign returns the signature header value for body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is the signature of body with secret, in
// constant time. Receivers should also reject stale timestamps.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(Sign(secret, body)))
}
