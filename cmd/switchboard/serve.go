package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/chat"
	sbhttp "github.com/switchboard-chat/switchboard/http"
	"github.com/switchboard-chat/switchboard/kb"
	"github.com/switchboard-chat/switchboard/limit"
	"github.com/switchboard-chat/switchboard/moderation"
	"github.com/switchboard-chat/switchboard/postgres"
	"github.com/switchboard-chat/switchboard/provider"
	"github.com/switchboard-chat/switchboard/provider/offline"
	"github.com/switchboard-chat/switchboard/redis"
	"github.com/switchboard-chat/switchboard/sqlite"
	"github.com/switchboard-chat/switchboard/web"
)

func newServeCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the chat server (the default command)",
		Long: `Run the Switchboard server: the demo site at /, the widget at /widget.js,
the agent console at /console, the admin page at /admin, the chat API,
WebSocket and SSE streams, the OpenAI-compatible API, /healthz, /readyz
and /metrics.

On first start with an empty data directory it creates the directory, a
default inbox with a small knowledge base, and an admin account whose
one-time password it prints. Without a model provider configured it
answers from the knowledge base (offline provider).`,
		Example: `  switchboard serve
  switchboard serve --addr 127.0.0.1:9000 --data-dir /var/lib/switchboard
  switchboard serve --database-url postgres://sb@db/sb --redis-url redis://cache:6379/0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			m := NewMain(cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err := m.Open(cmd.Context()); err != nil {
				m.Close()
				return err
			}
			err = m.Run(cmd.Context())
			if cerr := m.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&g.addr, "addr", "", "listen address (default :8080)")
	return cmd
}

// Main wires the server's parts together.
type Main struct {
	Config   Config
	Logger   *slog.Logger
	Out      io.Writer // user-facing lines: admin password, listening address
	Registry *prometheus.Registry

	Store     sb.Store
	Redis     *redis.Client
	KB        *kb.KB
	Moderator *moderation.Filter
	Hook      *moderation.Hook
	Router    *provider.Router
	Bus       *redis.Bus
	Engine    *chat.Engine
	HTTP      *sbhttp.Server

	listener net.Listener
	server   *http.Server
	usage    chan sb.UsageRecord
	bg       sync.WaitGroup
	cancel   context.CancelFunc
	budgets  sb.Budgets
}

// NewMain returns an unopened Main.
func NewMain(cfg Config, out, logw io.Writer) *Main {
	cfg.withOffline()
	return &Main{Config: cfg, Out: out, Logger: newLogger(logw, cfg.LogFormat, cfg.LogLevel), Registry: prometheus.NewRegistry()}
}

// openStore opens the configured durable store (migrating it).
func openStore(ctx context.Context, cfg Config) (sb.Store, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return db, nil
	}
	if err := ensureDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "switchboard.db"))
	if err != nil {
		return nil, fmt.Errorf("open SQLite in %s: %w", cfg.DataDir, err)
	}
	return db, nil
}

// ensureDataDir creates the data directory and checks it is writable.
func ensureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// jwtSecret comes from SWITCHBOARD_JWT_SECRET, or a file generated once in
// the data directory (mode 0600).
func jwtSecret(cfg Config) ([]byte, error) {
	if s := os.Getenv("SWITCHBOARD_JWT_SECRET"); s != "" {
		if len(s) < auth.MinSecretSize {
			return nil, fmt.Errorf("SWITCHBOARD_JWT_SECRET must be at least %d bytes", auth.MinSecretSize)
		}
		return []byte(s), nil
	}
	path := os.Getenv("SWITCHBOARD_JWT_SECRET_FILE")
	if path == "" {
		if err := ensureDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
		path = filepath.Join(cfg.DataDir, "jwt.secret")
	}
	return auth.LoadOrCreateSecret(path)
}

// Open opens the stores, bootstraps an empty installation, builds the
// engine and the HTTP server, and starts listening.
func (m *Main) Open(ctx context.Context) (err error) {
	cfg := m.Config
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if m.Store, err = openStore(ctx, cfg); err != nil {
		return err
	}
	secret, err := jwtSecret(cfg)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" && os.Getenv("SWITCHBOARD_JWT_SECRET") == "" && os.Getenv("SWITCHBOARD_JWT_SECRET_FILE") == "" {
		m.Logger.Warn("scale-out store without a shared JWT secret: tokens from this instance will not work on others; set SWITCHBOARD_JWT_SECRET on every instance")
	}
	issuer := auth.NewIssuer(secret, auth.IssuerOptions{})

	var (
		limiter, keyLimiter sb.Limiter
		counter             auth.Counter
		cache               sb.ContextCache
	)
	mem := limit.NewMemory(time.Now)
	limiter, keyLimiter, counter = mem, mem, mem
	m.budgets = limit.NewMemoryBudgets(time.Now)
	if cfg.RedisURL != "" {
		if m.Redis, err = redis.Open(ctx, cfg.RedisURL); err != nil {
			return fmt.Errorf("open Redis: %w", err)
		}
		rl := m.Redis.Limiter()
		visitors := limit.WithFallback(rl, limit.FailPolicy(cfg.Limits.RedisFailVisitors), m.Logger)
		limiter, counter = visitors, visitors
		keyLimiter = limit.WithFallback(rl, limit.FailPolicy(cfg.Limits.RedisFailKeys), m.Logger)
		m.budgets = m.Redis.Budgets()
		cache = m.Redis.ContextCache(redis.CacheOptions{MaxTurns: cfg.Context.MaxTurns, MaxBytes: cfg.Context.MaxBytes, TTL: cfg.Context.CacheTTL})
	}

	// Providers are checked before bootstrap prints the one-time password.
	providers, err := provider.Build(cfg.Providers, provider.BuildOptions{Logger: m.Logger,
		Offline: func(name string) sb.Provider { return offline.New(name) }})
	if err != nil {
		return err
	}
	m.KB = kb.New(m.Store, m.Logger)
	if err := m.KB.Load(ctx); err != nil {
		return fmt.Errorf("load knowledge base: %w", err)
	}
	if err := m.bootstrap(ctx); err != nil {
		return err
	}

	m.Moderator = moderation.New(moderation.Options{Logger: m.Logger, Registerer: m.Registry})
	global, err := m.globalWords()
	if err != nil {
		return err
	}
	if err := m.Moderator.SetLists("", global); err != nil {
		return fmt.Errorf("moderation word lists: %w", err)
	}
	if err := m.loadInboxWords(ctx); err != nil {
		return err
	}
	var onFlag func(chat.FlagEvent)
	if cfg.Moderation.ReviewWebhook != "" {
		secret := os.Getenv(cfg.Moderation.ReviewSecretEnv)
		if cfg.Moderation.ReviewSecretEnv == "" || secret == "" {
			return fmt.Errorf("config: moderation.review_webhook needs review_secret_env naming a set environment variable")
		}
		m.Hook = moderation.NewHook(moderation.HookOptions{URL: cfg.Moderation.ReviewWebhook, Secret: secret, Logger: m.Logger, Registerer: m.Registry})
		if err := m.Hook.Open(); err != nil {
			return err
		}
		onFlag = func(f chat.FlagEvent) {
			action := sb.ActionReview
			for _, h := range f.Hits {
				if h.Action.Severity() > action.Severity() {
					action = h.Action
				}
			}
			m.Hook.Enqueue(moderation.HookEvent{ConversationID: f.ConversationID, MessageID: f.MessageID, InboxID: f.InboxID,
				Direction: moderation.Direction(f.Direction), Action: action, Text: f.Text, Hits: f.Hits, Time: time.Now()})
		}
	}

	m.usage = make(chan sb.UsageRecord, 4096)
	m.Router, err = provider.NewRouter(provider.RouterOptions{Providers: providers, Routes: cfg.Routes,
		Prices: provider.PricesFromConfig(cfg.Providers), Registerer: m.Registry, Logger: m.Logger,
		OnUsage: func(r sb.UsageRecord) {
			select {
			case m.usage <- r:
			default:
				m.Logger.Warn("usage queue full: record dropped", "provider", r.Provider, "model", r.Model)
			}
		}})
	if err != nil {
		return err
	}

	var bus sb.Bus
	if m.Redis != nil {
		// The bus calls into the engine, which is created next.
		m.Bus = m.Redis.NewBus(redis.BusOptions{Logger: m.Logger,
			OnFrame:   func(f sb.BusFrame) { m.Engine.Deliver(f) },
			OnCommand: func(c sb.BusCommand) { m.Engine.HandleCommand(c) }})
		bus = m.Bus
	}
	host, _ := os.Hostname()
	m.Engine = chat.New(chat.Options{Store: m.Store, Router: m.Router, KB: m.KB, Moderator: m.Moderator, Cache: cache,
		Budgets: m.budgets, Logger: m.Logger, Metrics: chat.NewMetrics(m.Registry), Bus: bus, InstanceID: host + "-" + sb.NewID()[16:],
		MaxTurns: cfg.Context.MaxTurns, MaxBytes: cfg.Context.MaxBytes, LeaseTTL: cfg.LeaseTTL, OnFlag: onFlag})
	if m.Bus != nil {
		if err := m.Bus.Open(ctx); err != nil {
			return err
		}
	}
	if err := m.Engine.Open(ctx); err != nil {
		return fmt.Errorf("open chat engine: %w", err)
	}

	m.HTTP = sbhttp.New(sbhttp.Options{
		Engine: m.Engine, Store: m.Store, Issuer: issuer,
		Throttle: auth.NewThrottle(counter, auth.ThrottleOptions{}),
		Limiter:  limiter, KeyLimiter: keyLimiter, Budgets: m.budgets, Moderator: m.Moderator, Words: m.Moderator,
		Router: m.Router, KB: m.KB, Registry: m.Registry, Logger: m.Logger,
		Web:   web.New(web.Options{WidgetKey: m.defaultWidgetKey, Logger: m.Logger}),
		Ready: m.ready, Version: version,
		MessageRate:     sb.RateLimit{Requests: cfg.Limits.Messages, Window: cfg.Limits.Window},
		MaxMessageBytes: cfg.Limits.MaxMessageBytes, TrustProxy: cfg.TrustProxy,
		MaxWSPerIP: cfg.Limits.WSPerIP, WSIdleTimeout: cfg.Limits.WSIdleTimeout,
	})
	m.server = &http.Server{Handler: m.HTTP, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
	if m.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return nil
}

// bootstrap creates the default inbox (with the built-in knowledge base)
// and the admin account on an empty installation.
func (m *Main) bootstrap(ctx context.Context) error {
	ins, err := m.Store.FindInboxes(ctx)
	if err != nil {
		return err
	}
	if len(ins) == 0 {
		in := &sb.Inbox{Name: "Demo", Settings: sb.InboxSettings{
			Greeting:      "Hi! I'm the Switchboard assistant. Ask me anything about Switchboard. 你好！有什么可以帮您？",
			KnowledgeBase: true, KBMissHandoff: 3,
			HandoffPhrases: []string{"talk to a human", "转人工", "人工客服"},
			Canned: []sb.Canned{{Shortcut: "hello", Content: "Hi, this is a human agent. How can I help?"},
				{Shortcut: "thanks", Content: "Thank you for contacting us! Is there anything else I can help with?"}},
		}}
		if err := m.Store.CreateInbox(ctx, in); err != nil {
			return fmt.Errorf("create default inbox: %w", err)
		}
		if err := m.KB.AddDefaults(ctx, in.ID); err != nil {
			return fmt.Errorf("load default knowledge base: %w", err)
		}
		m.Logger.Info("created default inbox", "inbox_id", in.ID, "widget_key", in.WidgetKey)
	}
	users, err := m.Store.FindUsers(ctx, sb.UserFilter{Limit: 1})
	if err != nil {
		return err
	}
	if len(users) == 0 {
		password := auth.GeneratePassword()
		hash, err := auth.HashPassword(password)
		if err != nil {
			return err
		}
		u := &sb.User{Email: m.Config.AdminEmail, Name: "Admin", Role: sb.RoleAdmin, PasswordHash: hash, Presence: sb.PresenceOffline}
		if err := m.Store.CreateUser(ctx, u); err != nil {
			if sb.ErrorCode(err) == sb.ECONFLICT { // another instance won the race
				return nil
			}
			return fmt.Errorf("create admin: %w", err)
		}
		fmt.Fprintf(m.Out, "admin email: %s password: %s\n", u.Email, password)
		fmt.Fprintln(m.Out, "(shown once: change it with `switchboard user passwd`)")
	}
	return nil
}

// loadInboxWords applies every inbox's word lists.
func (m *Main) loadInboxWords(ctx context.Context) error {
	ins, err := m.Store.FindInboxes(ctx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		if err := m.Moderator.SetLists(in.ID, in.Settings.Words); err != nil {
			return fmt.Errorf("inbox %s word lists: %w", in.ID, err)
		}
	}
	return nil
}

func (m *Main) defaultWidgetKey(r *http.Request) string {
	ins, err := m.Store.FindInboxes(r.Context())
	if err != nil || len(ins) == 0 {
		return ""
	}
	return ins[0].WidgetKey
}

func (m *Main) ready(ctx context.Context) map[string]error {
	out := map[string]error{"store": m.Store.Ping(ctx)}
	if m.Redis != nil {
		out["redis"] = m.Redis.Ping(ctx)
	}
	return out
}

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Run serves until ctx is cancelled, then shuts down gracefully: stop
// accepting, let running answers finish (bounded), close sockets with
// "server restarting", and wait for requests to end.
func (m *Main) Run(ctx context.Context) error {
	bg, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.bg.Add(2)
	go func() { defer m.bg.Done(); m.recordUsage(bg) }()
	go func() { defer m.bg.Done(); m.reloadWords(bg) }()

	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	fmt.Fprintf(m.Out, "switchboard listening on http://%s\n", displayAddr(m.listener.Addr()))
	m.Logger.Info("listening", "addr", m.listener.Addr().String(), "store", storeKind(m.Config), "redis", m.Config.RedisURL != "", "version", version)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	m.Logger.Info("shutting down", "timeout", m.Config.ShutdownTimeout.String())
	sctx, scancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer scancel()
	shut := make(chan error, 1)
	go func() { shut <- m.server.Shutdown(sctx) }() // stop accepting at once
	dctx, dcancel := context.WithTimeout(sctx, m.Config.ShutdownTimeout/2)
	m.Engine.Drain(dctx)
	dcancel()
	m.HTTP.Shutdown(sctx)
	err := <-shut
	if errors.Is(err, context.DeadlineExceeded) {
		m.Logger.Warn("shutdown deadline passed; closing remaining connections")
		_ = m.server.Close()
		err = nil
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	m.Logger.Info("stopped")
	return err
}

// recordUsage persists usage records off the request path.
func (m *Main) recordUsage(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case r := <-m.usage:
					m.storeUsage(r)
				default:
					return
				}
			}
		case r := <-m.usage:
			m.storeUsage(r)
		}
	}
}

func (m *Main) storeUsage(r sb.UsageRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Store.CreateUsageRecord(ctx, &r); err != nil {
		m.Logger.Warn("store usage record", "err", err)
	}
	if r.Subject != "" && (r.Usage.Total() > 0 || r.Cost > 0) {
		if err := m.budgets.Add(ctx, r.Subject, int64(r.Usage.Total()), r.Cost); err != nil {
			m.Logger.Warn("budget add", "subject", r.Subject, "err", err)
		}
	}
}

// globalWords are the configured words plus those of the word files.
func (m *Main) globalWords() ([]sb.WordList, error) {
	lists := m.Config.Moderation.wordLists()
	for _, path := range m.Config.Moderation.Files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("moderation word file: %w", err)
		}
		fl, err := moderation.ParseWordFile(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("moderation word file %s: %w", path, err)
		}
		lists = append(lists, fl...)
	}
	return lists, nil
}

// reloadWords applies word-list changes without a restart: edited word
// files, and inbox lists changed through another instance. The automaton
// is swapped atomically; streams in flight finish on the old one.
func (m *Main) reloadWords(ctx context.Context) {
	t := time.NewTicker(m.Config.Moderation.ReloadInterval)
	defer t.Stop()
	seen := map[string]string{}
	if g, err := m.globalWords(); err == nil {
		seen[""] = fmt.Sprint(g)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if g, err := m.globalWords(); err != nil {
				m.Logger.Warn("reload word files", "err", err) // keep the old lists
			} else if key := fmt.Sprint(g); key != seen[""] {
				if err := m.Moderator.SetLists("", g); err != nil {
					m.Logger.Warn("reload word files", "err", err)
				} else {
					seen[""] = key
					m.Logger.Info("word files reloaded", "lists", len(g))
				}
			}
			ins, err := m.Store.FindInboxes(ctx)
			if err != nil {
				continue
			}
			for _, in := range ins {
				key := fmt.Sprint(in.Settings.Words)
				if prev, ok := seen[in.ID]; ok && prev == key {
					continue
				}
				seen[in.ID] = key
				if err := m.Moderator.SetLists(in.ID, in.Settings.Words); err != nil {
					m.Logger.Warn("reload word lists", "inbox_id", in.ID, "err", err)
				}
			}
		}
	}
}

// Close releases everything Open acquired; safe after a failed Open.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	m.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m.Engine != nil {
		_ = m.Engine.Close(ctx)
	}
	if m.Bus != nil {
		_ = m.Bus.Close()
	}
	if m.Hook != nil {
		_ = m.Hook.Close()
	}
	if m.listener != nil {
		_ = m.listener.Close()
	}
	var err error
	if m.Redis != nil {
		err = m.Redis.Close()
	}
	if m.Store != nil {
		if cerr := m.Store.Close(); cerr != nil {
			err = cerr
		}
	}
	return err
}

func storeKind(cfg Config) string {
	if cfg.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite"
}

func displayAddr(a net.Addr) string {
	s := a.String()
	if strings.HasPrefix(s, "[::]:") || strings.HasPrefix(s, "0.0.0.0:") {
		return "localhost" + s[strings.LastIndex(s, ":"):]
	}
	return s
}
