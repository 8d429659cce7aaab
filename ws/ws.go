// Package ws serves the chat WebSocket (/v1/ws): one reader and one writer
// goroutine per socket, a bounded send queue, and resume by last_seq.
package ws

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/chat"
)

// Limits and timings of a socket.
const (
	ReadLimit       = 32 << 10 // bytes per client frame; larger → close 1009
	ControlQueue    = 16       // frames addressed to this socket alone (ready, pong, errors)
	DefaultIdle     = 300 * time.Second
	DefaultPing     = 30 * time.Second
	DefaultWrite    = 10 * time.Second
	DefaultMaxPerIP = 256
)

// Close codes beyond RFC 6455's.
const (
	CloseIdle         websocket.StatusCode = 4000 // no client frame for the idle timeout
	CloseSlowConsumer websocket.StatusCode = 4008 // could not keep up with its send queue
	CloseRestarting                        = websocket.StatusServiceRestart
)

// Peer is who is on the other end of a socket, as authenticated by the
// HTTP layer.
type Peer struct {
	Visitor        bool
	User           *sb.User // agents and admins
	ContactID      string
	InboxID        string
	ConversationID string // the visitor's conversation
	IP             string
}

// Options configure a Handler. Engine and Authenticate are required.
type Options struct {
	Engine *chat.Engine
	// Authenticate checks the token and Origin of an upgrade request and
	// returns the peer, or an *sb.Error (401, 403) to answer with.
	Authenticate func(r *http.Request) (*Peer, error)
	// Limit is called before a visitor message is accepted; it returns an
	// *sb.Error (rate_limited, budget_exceeded) to refuse it.
	Limit func(ctx context.Context, p *Peer) error
	// WriteError writes an HTTP error response before the upgrade.
	WriteError func(w http.ResponseWriter, r *http.Request, err error)

	MaxMessageBytes int // visitor message text, default 16 KiB
	MaxPerIP        int
	IdleTimeout     time.Duration
	PingInterval    time.Duration
	WriteTimeout    time.Duration
	Logger          *slog.Logger
	Registerer      prometheus.Registerer
}

// Handler serves WebSocket upgrades.
type Handler struct {
	opt    Options
	mu     sync.Mutex
	perIP  map[string]int
	socks  map[*socket]struct{}
	closed bool
	wg     sync.WaitGroup

	open   prometheus.Gauge
	closes *prometheus.CounterVec
}

// New returns a Handler.
func New(opt Options) *Handler {
	if opt.MaxMessageBytes <= 0 {
		opt.MaxMessageBytes = 16 << 10
	}
	if opt.MaxPerIP <= 0 {
		opt.MaxPerIP = DefaultMaxPerIP
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = DefaultIdle
	}
	if opt.PingInterval <= 0 {
		opt.PingInterval = DefaultPing
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWrite
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{opt: opt, perIP: map[string]int{}, socks: map[*socket]struct{}{},
		open:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_ws_connections", Help: "Open WebSocket connections."}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_ws_closes_total", Help: "WebSocket closes by reason."}, []string{"reason"}),
	}
	if opt.Registerer != nil {
		opt.Registerer.MustRegister(h.open, h.closes)
	}
	return h
}

// ServeHTTP authenticates, checks the per-IP cap and upgrades.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	peer, err := h.opt.Authenticate(r)
	if err != nil {
		h.opt.WriteError(w, r, err)
		return
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.opt.WriteError(w, r, &sb.Error{Code: sb.EUNAVAILABLE, Message: "The server is restarting.", RetryAfter: 3 * time.Second})
		return
	}
	if h.perIP[peer.IP] >= h.opt.MaxPerIP {
		h.mu.Unlock()
		h.opt.WriteError(w, r, &sb.Error{Code: sb.ERATELIMITED, Message: "Too many open connections from your address.", RetryAfter: 5 * time.Second})
		return
	}
	h.perIP[peer.IP]++
	h.mu.Unlock()
	releaseIP := func() {
		h.mu.Lock()
		if h.perIP[peer.IP]--; h.perIP[peer.IP] <= 0 {
			delete(h.perIP, peer.IP)
		}
		h.mu.Unlock()
	}

	// Origin was checked by Authenticate against the inbox's allow list.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		releaseIP()
		return // Accept wrote the response
	}
	conn.SetReadLimit(ReadLimit)
	s := newSocket(h, conn, peer)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		releaseIP()
		conn.Close(CloseRestarting, "server restarting")
		return
	}
	h.socks[s] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	h.open.Inc()
	// The socket's reader runs on a goroutine of its own, owned by the
	// handler (Shutdown waits for it): net/http's connection goroutine has
	// grown its stack serving the upgrade and would keep it for the
	// socket's lifetime; returning frees it (about 40% of an idle
	// socket's memory).
	ctx := context.WithoutCancel(r.Context())
	go func() {
		defer func() {
			h.open.Dec()
			h.mu.Lock()
			delete(h.socks, s)
			h.mu.Unlock()
			releaseIP()
			h.wg.Done()
		}()
		s.run(ctx)
	}()
}

// Shutdown closes every socket with "server restarting" (1012) so clients
// resume elsewhere, and waits for them until ctx is done.
func (h *Handler) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closed = true
	for s := range h.socks {
		s.closeWith(CloseRestarting, "server restarting")
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Open returns the number of open sockets.
func (h *Handler) Open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.socks)
}

// clientFrame is any client → server frame.
type clientFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	LastSeq        int64  `json:"last_seq"`
	ClientMsgID    string `json:"client_msg_id"`
	Content        string `json:"content"`
}

func errorFrame(err error) *sb.Frame {
	f := &sb.Frame{Type: sb.FrameError, Code: sb.ErrorCode(err), Text: sb.ErrorMessage(err)}
	if ra := sb.ErrorRetryAfter(err); ra > 0 {
		f.RetryAfter = int((ra + time.Second - 1) / time.Second)
	}
	return f
}

var errBye = errors.New("bye")

func decode(data []byte) (clientFrame, error) {
	var f clientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return f, sb.Errorf(sb.EINVALID, "Malformed JSON frame.")
	}
	return f, nil
}
