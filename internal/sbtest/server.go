// Package sbtest runs a whole Switchboard server in-process for tests:
// SQLite in a temporary directory, the chat engine, the HTTP, WebSocket
// and SSE API, and an llmsim upstream behind the real provider router.
// Only the model is simulated; every other part is the real thing.
package sbtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/chat"
	sbhttp "github.com/switchboard-chat/switchboard/http"
	"github.com/switchboard-chat/switchboard/kb"
	"github.com/switchboard-chat/switchboard/limit"
	"github.com/switchboard-chat/switchboard/llmsim"
	"github.com/switchboard-chat/switchboard/moderation"
	"github.com/switchboard-chat/switchboard/provider"
	"github.com/switchboard-chat/switchboard/sqlite"
)

// Names of the simulated upstream in the default route.
const (
	Provider = "sim"
	Model    = "sim-model"
	// AllowedOrigin is the one origin the default inbox accepts.
	AllowedOrigin = "http://allowed.example"
)

// Options shape a test server. The zero value serves llmsim's default
// reply through route "default".
type Options struct {
	Sim    llmsim.Config
	Routes map[string]provider.RouteConfig // default: "default" → sim/sim-model
	// MessageRate is the visitor rate limit; default 1,000,000 / minute so
	// tests that open many sessions from 127.0.0.1 are not limited.
	MessageRate sb.RateLimit
	// Engine and HTTP adjust the options before the parts are built.
	Engine func(*chat.Options)
	HTTP   func(*sbhttp.Options)
	// ConnWriteBuffer, when > 0, sets SO_SNDBUF of every accepted
	// connection (fixed, no autotuning) so a client that stops reading
	// blocks the server's writer after a few KiB instead of megabytes.
	ConnWriteBuffer int
	Logger          *slog.Logger // default: discard
}

// Server is a running test server.
type Server struct {
	URL    string // http://127.0.0.1:port
	Store  *sqlite.DB
	Engine *chat.Engine
	HTTP   *sbhttp.Server
	Router *provider.Router
	Issuer *auth.Issuer
	Sim    *llmsim.Server
	SimURL string
	Inbox  *sb.Inbox // the default inbox, AllowedOrigins [AllowedOrigin]
	Client *http.Client
}

// MustRunServer builds and starts a server wired as cmd/switchboard's
// Main.Open wires one. Everything is closed by tb.Cleanup: the HTTP server
// (sockets closed with "server restarting"), the engine, the store, the
// simulator.
func MustRunServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	ctx := context.Background()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MessageRate.Requests <= 0 {
		opts.MessageRate = sb.RateLimit{Requests: 1_000_000, Window: time.Minute}
	}
	reg := prometheus.NewRegistry()
	s := &Server{}

	// Cleanups run last-registered first: server, engine, store, sim.
	s.Sim = llmsim.New(opts.Sim, logger)
	simTS := httptest.NewServer(s.Sim)
	tb.Cleanup(func() { _ = s.Sim.Close(); simTS.Close() })
	s.SimURL = simTS.URL

	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "switchboard.db"))
	if err != nil {
		tb.Fatalf("sbtest: open SQLite: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	s.Store = db

	secret := make([]byte, auth.SecretSize)
	_, _ = rand.Read(secret)
	s.Issuer = auth.NewIssuer(secret, auth.IssuerOptions{})
	mem := limit.NewMemory(time.Now)
	budgets := limit.NewMemoryBudgets(time.Now)

	knowledge := kb.New(db, logger)
	if err := knowledge.Load(ctx); err != nil {
		tb.Fatalf("sbtest: load knowledge base: %v", err)
	}
	s.Inbox = &sb.Inbox{Name: "Test", AllowedOrigins: []string{AllowedOrigin}}
	if err := db.CreateInbox(ctx, s.Inbox); err != nil {
		tb.Fatalf("sbtest: create inbox: %v", err)
	}
	mod := moderation.New(moderation.Options{Logger: logger, Registerer: reg})

	routes := opts.Routes
	if routes == nil {
		routes = map[string]provider.RouteConfig{"default": {Targets: []provider.TargetConfig{{Provider: Provider, Model: Model}}}}
	}
	providers, err := provider.Build([]provider.ProviderConfig{{Name: Provider, Type: provider.TypeOpenAI, BaseURL: simTS.URL + "/v1"}},
		provider.BuildOptions{Logger: logger})
	if err != nil {
		tb.Fatalf("sbtest: build providers: %v", err)
	}
	s.Router, err = provider.NewRouter(provider.RouterOptions{Providers: providers, Routes: routes, Registerer: reg, Logger: logger})
	if err != nil {
		tb.Fatalf("sbtest: router: %v", err)
	}

	eopt := chat.Options{Store: db, Router: s.Router, KB: knowledge, Moderator: mod, Budgets: budgets,
		Logger: logger, Metrics: chat.NewMetrics(reg)}
	if opts.Engine != nil {
		opts.Engine(&eopt)
	}
	s.Engine = chat.New(eopt)
	if err := s.Engine.Open(ctx); err != nil {
		tb.Fatalf("sbtest: open engine: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Engine.Close(ctx); err != nil {
			tb.Errorf("sbtest: engine close: %v", err)
		}
	})

	hopt := sbhttp.Options{
		Engine: s.Engine, Store: db, Issuer: s.Issuer,
		Throttle: auth.NewThrottle(mem, auth.ThrottleOptions{}),
		Limiter:  mem, KeyLimiter: mem, Budgets: budgets, Moderator: mod, Words: mod,
		Router: s.Router, KB: knowledge, Registry: reg, Logger: logger,
		Ready:       func(ctx context.Context) map[string]error { return map[string]error{"store": db.Ping(ctx)} },
		MessageRate: opts.MessageRate, Version: "test",
	}
	if opts.HTTP != nil {
		opts.HTTP(&hopt)
	}
	s.HTTP = sbhttp.New(hopt)
	ts := httptest.NewUnstartedServer(s.HTTP)
	if opts.ConnWriteBuffer > 0 {
		ts.Listener = sndbufListener{ts.Listener, opts.ConnWriteBuffer}
	}
	ts.Start()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.HTTP.Shutdown(ctx)
		ts.Close()
	})
	s.URL = ts.URL
	s.Client = ts.Client()
	return s
}

// sndbufListener fixes the send buffer of accepted connections.
type sndbufListener struct {
	net.Listener
	size int
}

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// VisitorSession opens a new anonymous widget session on the default inbox.
func (s *Server) VisitorSession(tb testing.TB) (token, conversationID string) {
	tb.Helper()
	var out struct {
		Token        string           `json:"token"`
		Conversation *sb.Conversation `json:"conversation"`
	}
	resp := s.Do(tb, "POST", "/v1/widget/session", "", map[string]string{"widget_key": s.Inbox.WidgetKey}, "Origin", AllowedOrigin)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("sbtest: widget session: %s", resp.Status)
	}
	DecodeJSON(tb, resp, &out)
	return out.Token, out.Conversation.ID
}

// AdminToken creates an admin and returns an access token for them.
func (s *Server) AdminToken(tb testing.TB) string {
	tb.Helper()
	_, tok := s.User(tb, sb.RoleAdmin, sb.PresenceOffline)
	return tok
}

// User creates a console user with the role and presence and returns it
// with an access token.
func (s *Server) User(tb testing.TB, role sb.Role, presence sb.Presence) (*sb.User, string) {
	tb.Helper()
	u := &sb.User{Email: sb.NewID() + "@test.example", Name: string(role) + " " + sb.NewID()[:6], Role: role, Presence: presence}
	if err := s.Store.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("sbtest: create user: %v", err)
	}
	tok, err := s.Issuer.IssueAccess(u)
	if err != nil {
		tb.Fatalf("sbtest: issue token: %v", err)
	}
	return u, tok
}

// Do sends a request with an optional bearer token and JSON body; headers
// are name, value pairs. The response body is closed by tb.Cleanup.
func (s *Server) Do(tb testing.TB, method, path, token string, body any, headers ...string) *http.Response {
	tb.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatalf("sbtest: encode body: %v", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		tb.Fatalf("sbtest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		tb.Fatalf("sbtest: %s %s: %v", method, path, err)
	}
	tb.Cleanup(func() { resp.Body.Close() })
	return resp
}

// DecodeJSON decodes a response body into v.
func DecodeJSON(tb testing.TB, resp *http.Response, v any) {
	tb.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		tb.Fatalf("sbtest: decode %s response: %v", resp.Request.URL.Path, err)
	}
}

// Messages returns the stored messages of a conversation in seq order.
func (s *Server) Messages(tb testing.TB, conversationID string) []*sb.Message {
	tb.Helper()
	ms, err := s.Store.FindMessages(context.Background(), sb.MessageFilter{ConversationID: conversationID, Limit: 1000})
	if err != nil {
		tb.Fatalf("sbtest: find messages: %v", err)
	}
	return ms
}

// BotMessages returns the stored bot messages of a conversation.
func (s *Server) BotMessages(tb testing.TB, conversationID string) []*sb.Message {
	tb.Helper()
	var out []*sb.Message
	for _, m := range s.Messages(tb, conversationID) {
		if m.Sender == sb.SenderBot {
			out = append(out, m)
		}
	}
	return out
}

// CheckFor calls fn every interval until it returns nil, failing the test
// with fn's last error when timeout passes first.
func CheckFor(tb testing.TB, timeout, every time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sbtest: condition not met after %v: %v", timeout, err)
		}
		time.Sleep(every)
	}
}
