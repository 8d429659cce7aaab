// Package http serves Switchboard's REST API, SSE streams, the
// OpenAI-compatible API, health and metrics, and mounts the WebSocket
// handler and the web UI.
package http

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/chat"
	"github.com/switchboard-chat/switchboard/limit"
	"github.com/switchboard-chat/switchboard/ws"
)

// KnowledgeAdmin manages knowledge-base documents (kb.KB).
type KnowledgeAdmin interface {
	sb.KnowledgeBase
	Add(ctx context.Context, inboxID, title, source, format string, content []byte) (*sb.Document, error)
	Delete(ctx context.Context, docID string) error
	Documents(ctx context.Context, inboxID string) ([]*sb.Document, error)
}

// WordLists applies an inbox's moderation lists at once (hot reload).
type WordLists interface {
	SetLists(scope string, lists []sb.WordList) error
}

// Options configure a Server. Engine, Store and Issuer are required.
type Options struct {
	Engine     *chat.Engine
	Store      sb.Store
	Issuer     *auth.Issuer
	Throttle   *auth.Throttle
	Limiter    sb.Limiter // visitors, users, IPs (fail open when shared store is down)
	KeyLimiter sb.Limiter // API keys (fail closed)
	Budgets    sb.Budgets
	Moderator  sb.Moderator
	Words      WordLists
	Router     sb.Router
	KB         KnowledgeAdmin
	Web        http.Handler
	Registry   *prometheus.Registry
	Logger     *slog.Logger
	// Ready reports whether the stores are reachable (for /readyz).
	Ready func(ctx context.Context) map[string]error

	MessageRate     sb.RateLimit // per visitor/user/key/IP; default 30 / 60 s
	MaxMessageBytes int          // default 16 KiB
	MaxBodyBytes    int64        // default 1 MiB (documents: 8 MiB)
	RefreshTTL      time.Duration
	TrustProxy      bool
	MaxWSPerIP      int
	WSIdleTimeout   time.Duration
	SSEPing         time.Duration // default 15 s
	Version         string
}

// Server is the HTTP front of Switchboard.
type Server struct {
	opt     Options
	store   sb.Store
	engine  *chat.Engine
	logger  *slog.Logger
	metrics *httpMetrics
	ws      *ws.Handler
	handler http.Handler
	streams streamTracker
}

// New builds the server and its routes.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.MessageRate.Requests <= 0 {
		opt.MessageRate = sb.RateLimit{Requests: 30, Window: time.Minute}
	}
	if opt.MaxMessageBytes <= 0 {
		opt.MaxMessageBytes = 16 << 10
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 1 << 20
	}
	if opt.RefreshTTL <= 0 {
		opt.RefreshTTL = 30 * 24 * time.Hour
	}
	if opt.SSEPing <= 0 {
		opt.SSEPing = 15 * time.Second
	}
	if opt.KeyLimiter == nil {
		opt.KeyLimiter = opt.Limiter
	}
	var reg prometheus.Registerer
	if opt.Registry != nil {
		reg = opt.Registry
	}
	s := &Server{opt: opt, store: opt.Store, engine: opt.Engine, logger: opt.Logger, metrics: newHTTPMetrics(reg)}
	s.ws = ws.New(ws.Options{
		Engine: opt.Engine, Authenticate: s.authenticateSocket, Limit: s.limitSocket, WriteError: s.writeError,
		MaxMessageBytes: opt.MaxMessageBytes, MaxPerIP: opt.MaxWSPerIP, IdleTimeout: opt.WSIdleTimeout,
		Logger: opt.Logger, Registerer: reg,
	})
	s.handler = s.observe(cors(s.routes()))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Shutdown closes WebSockets with "server restarting" and ends SSE streams.
func (s *Server) Shutdown(ctx context.Context) {
	s.streams.closeAll()
	s.ws.Shutdown(ctx)
}

// Sockets returns the number of open WebSockets.
func (s *Server) Sockets() int { return s.ws.Open() }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.opt.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.opt.Registry, promhttp.HandlerOpts{}))
	}

	// Visitors (widget) and anyone with a token for the conversation.
	mux.HandleFunc("POST /v1/widget/session", s.widgetSession)
	mux.Handle("GET /v1/ws", s.ws)
	mux.HandleFunc("GET /v1/conversations/{id}/messages", s.withConversation(s.listMessages))
	mux.HandleFunc("POST /v1/conversations/{id}/messages", s.withConversation(s.postMessage))
	mux.HandleFunc("GET /v1/conversations/{id}/events", s.withConversation(s.events))
	mux.HandleFunc("POST /v1/conversations/{id}/stop", s.withConversation(s.stop))
	mux.HandleFunc("POST /v1/conversations/{id}/handoff", s.withConversation(s.handoff))
	mux.HandleFunc("POST /v1/conversations/{id}/offline_message", s.withConversation(s.offlineMessage))

	// Console users.
	mux.HandleFunc("POST /v1/auth/login", s.login)
	mux.HandleFunc("POST /v1/auth/refresh", s.refresh)
	mux.HandleFunc("POST /v1/auth/logout", s.logout)
	agent := func(h func(http.ResponseWriter, *http.Request, *sb.User)) http.HandlerFunc {
		return s.withUser(sb.RoleAgent, h)
	}
	admin := func(h func(http.ResponseWriter, *http.Request, *sb.User)) http.HandlerFunc {
		return s.withUser(sb.RoleAdmin, h)
	}
	mux.HandleFunc("GET /v1/agent/me", agent(s.me))
	mux.HandleFunc("GET /v1/agent/users", agent(s.agentUsers))
	mux.HandleFunc("PUT /v1/agent/presence", agent(s.setPresence))
	mux.HandleFunc("GET /v1/agent/canned", agent(s.canned))
	mux.HandleFunc("GET /v1/agent/conversations", agent(s.agentConversations))
	mux.HandleFunc("GET /v1/agent/conversations/{id}", agent(s.agentConversation))
	mux.HandleFunc("POST /v1/agent/conversations/{id}/assign", agent(s.assign))
	mux.HandleFunc("POST /v1/agent/conversations/{id}/messages", agent(s.agentMessage))
	mux.HandleFunc("POST /v1/agent/conversations/{id}/handback", agent(s.handback))
	mux.HandleFunc("POST /v1/agent/conversations/{id}/resolve", agent(s.resolve))
	mux.HandleFunc("POST /v1/agent/drafts", agent(s.draft))

	mux.HandleFunc("GET /v1/admin/users", admin(s.adminUsers))
	mux.HandleFunc("POST /v1/admin/users", admin(s.adminCreateUser))
	mux.HandleFunc("PATCH /v1/admin/users/{id}", admin(s.adminUpdateUser))
	mux.HandleFunc("GET /v1/admin/inboxes", admin(s.adminInboxes))
	mux.HandleFunc("POST /v1/admin/inboxes", admin(s.adminCreateInbox))
	mux.HandleFunc("PATCH /v1/admin/inboxes/{id}", admin(s.adminUpdateInbox))
	mux.HandleFunc("GET /v1/admin/inboxes/{id}/words", admin(s.adminWords))
	mux.HandleFunc("PUT /v1/admin/inboxes/{id}/words", admin(s.adminPutWords))
	mux.HandleFunc("GET /v1/admin/api-keys", admin(s.adminAPIKeys))
	mux.HandleFunc("POST /v1/admin/api-keys", admin(s.adminCreateAPIKey))
	mux.HandleFunc("DELETE /v1/admin/api-keys/{id}", admin(s.adminRevokeAPIKey))
	mux.HandleFunc("GET /v1/admin/kb/documents", admin(s.adminDocuments))
	mux.HandleFunc("POST /v1/admin/kb/documents", admin(s.adminAddDocument))
	mux.HandleFunc("DELETE /v1/admin/kb/documents/{id}", admin(s.adminDeleteDocument))
	mux.HandleFunc("GET /v1/admin/providers", admin(s.adminProviders))
	mux.HandleFunc("GET /v1/admin/audit", admin(s.adminAudit))

	// OpenAI-compatible API.
	mux.HandleFunc("POST /v1/chat/completions", s.chatCompletions)
	mux.HandleFunc("GET /v1/models", s.models)

	if s.opt.Web != nil {
		mux.Handle("/", s.opt.Web)
	}
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.opt.Version})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	if s.opt.Ready != nil {
		for name, err := range s.opt.Ready(ctx) {
			if err != nil {
				ok = false
				checks[name] = err.Error()
			} else {
				checks[name] = "ok"
			}
		}
	}
	status := http.StatusOK
	body := map[string]any{"status": "ok", "checks": checks}
	if !ok {
		status = http.StatusServiceUnavailable
		body["status"] = "unavailable"
		w.Header().Set("Retry-After", "3")
	}
	writeJSON(w, status, body)
}

// bearer returns the token of a request: Authorization: Bearer, or the
// token query parameter (WebSocket and EventSource cannot set headers).
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return r.URL.Query().Get("token")
}

// withUser authenticates a console user with at least the given role.
func (s *Server) withUser(role sb.Role, h func(http.ResponseWriter, *http.Request, *sb.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.user(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if role == sb.RoleAdmin && u.Role != sb.RoleAdmin {
			s.writeError(w, r, sb.Errorf(sb.EFORBIDDEN, "Admins only."))
			return
		}
		h(w, r, u)
	}
}

func (s *Server) user(r *http.Request) (*sb.User, error) {
	tok := bearer(r)
	if tok == "" {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "Missing token.")
	}
	c, err := s.opt.Issuer.Verify(tok)
	if err != nil {
		return nil, err
	}
	if c.Type != auth.TypeAccess {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "Not a console token.")
	}
	u, err := s.store.FindUserByID(r.Context(), c.Subject)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "Unknown user.")
	}
	return u, err
}

// rateLimit applies a sliding-window limit and sets the RateLimit headers.
func (s *Server) rateLimit(ctx context.Context, w http.ResponseWriter, l sb.Limiter, key string, rl sb.RateLimit) error {
	if l == nil {
		return nil
	}
	d, err := l.Allow(ctx, key, rl)
	if err != nil {
		return err
	}
	if w != nil {
		limit.SetHeaders(w.Header(), d)
	}
	if !d.Allowed {
		return &sb.Error{Code: sb.ERATELIMITED, Message: "Too many requests. Slow down.", RetryAfter: d.RetryAfter}
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
