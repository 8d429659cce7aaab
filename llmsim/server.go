// Package llmsim is the simulated model upstream of every test and
// benchmark: it speaks the OpenAI chat completions, Anthropic Messages and
// Gemini generateContent wire formats with deterministic text and can be
// told to fail in the ways real providers fail (see the Mode constants).
//
// The reply is Config.Reply split into tokens, or Config.Tokens words
// chosen by a hash of the last user message, so every target answers the
// same question with the same text. A request whose last message is an
// assistant message P (prefill), or whose last user message holds
// PartialMarker+P+EndMarker, gets only the part of the reply after P; the
// reply is then derived from the last user message that holds no marker.
//
// Config.Models overrides the config per model and the X-Llmsim-Mode
// header overrides the mode per request, so one server can play every
// target of a route. Counters (attempts per model and mode, in flight,
// completed, cancelled, aborted) are read with Stats or awaited with Wait.
package llmsim

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	maxBodyBytes = 16 << 20
	bufSize      = 4 << 10
	writeTimeout = 30 * time.Second
	// ModeHeader overrides the mode of one request.
	ModeHeader = "X-Llmsim-Mode"
)

// Server is the simulator; it is an http.Handler. Close releases requests
// it holds open (hang, stall, no-done).
type Server struct {
	log      *slog.Logger
	mux      *http.ServeMux
	requests requestLog // recent requests, for GET /llmsim/requests
	cfg      atomic.Pointer[compiled]

	closeOnce sync.Once
	closed    chan struct{}
	bufs      sync.Pool // *[]byte SSE buffers
	vocab     []string  // read-only after New

	total     atomic.Int64
	inFlight  atomic.Int64
	completed atomic.Int64
	cancelled atomic.Int64
	aborted   atomic.Int64

	mu      sync.Mutex
	byModel map[string]int64
	byMode  map[string]int64
	changed chan struct{} // closed on the next counter change; nil when nobody waits
}

// compiled is a Config ready to serve: defaults applied, Reply tokenized.
type compiled struct {
	raw    Config
	base   *target
	models map[string]*target
}

// target is the effective config of one model.
type target struct {
	Config
	replyToks []string // nil when Reply is empty
}

func compile(c Config) *compiled {
	c = c.clone()
	mk := func(cfg Config) *target {
		cfg = cfg.withDefaults()
		t := &target{Config: cfg}
		if cfg.Reply != "" {
			t.replyToks = tokenize(cfg.Reply)
		}
		return t
	}
	cc := &compiled{raw: c, base: mk(c)}
	if len(c.Models) > 0 {
		cc.models = make(map[string]*target, len(c.Models))
		for name, o := range c.Models {
			cc.models[name] = mk(c.override(o))
		}
	}
	return cc
}

func (c *compiled) target(model string) *target {
	if t, ok := c.models[model]; ok {
		return t
	}
	return c.base
}

// New returns a simulator serving cfg. A nil logger discards.
func New(cfg Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log:     logger,
		closed:  make(chan struct{}),
		vocab:   newVocabulary(),
		byModel: make(map[string]int64),
		byMode:  make(map[string]int64),
	}
	s.bufs.New = func() any { b := make([]byte, 0, bufSize); return &b }
	s.cfg.Store(compile(cfg))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, openAI{}, func(b []byte) (*request, error) { return parseOpenAI(b) })
	})
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, anthropic{}, func(b []byte) (*request, error) { return parseAnthropic(b) })
	})
	mux.HandleFunc("POST /v1beta/models/{call}", s.serveGemini)
	mux.HandleFunc("POST /v1/models/{call}", s.serveGemini)
	mux.HandleFunc("GET /v1/models", s.serveModels)
	mux.HandleFunc("GET /llmsim/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET /llmsim/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Requests())
	})
	mux.HandleFunc("GET /llmsim/config", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Config())
	})
	mux.HandleFunc("PUT /llmsim/config", s.servePutConfig)
	mux.HandleFunc("POST /llmsim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close releases every request held open and makes later ones that would
// hold return at once. It does not close listeners.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

// SetConfig replaces the configuration; requests already running keep the
// one they started with. An invalid mode is served as ok (see Validate).
func (s *Server) SetConfig(cfg Config) {
	s.cfg.Store(compile(cfg))
	s.log.Info("llmsim config replaced", "mode", cfg.Mode, "models", len(cfg.Models))
}

// Config returns a copy of the current configuration.
func (s *Server) Config() Config { return s.cfg.Load().raw.clone() }

// Stats is a snapshot of the counters.
type Stats struct {
	Attempts        int64            `json:"attempts"`
	AttemptsByModel map[string]int64 `json:"attempts_by_model"`
	AttemptsByMode  map[string]int64 `json:"attempts_by_mode"`
	InFlight        int64            `json:"in_flight"`
	Completed       int64            `json:"completed"` // responses the simulator finished
	Cancelled       int64            `json:"cancelled"` // client went away before the response finished
	Aborted         int64            `json:"aborted"`   // connection dropped on purpose (cut, reset) or by Close
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Server) statsLocked() Stats {
	return Stats{
		Attempts:        s.total.Load(),
		AttemptsByModel: maps.Clone(s.byModel),
		AttemptsByMode:  maps.Clone(s.byMode),
		InFlight:        s.inFlight.Load(),
		Completed:       s.completed.Load(),
		Cancelled:       s.cancelled.Load(),
		Aborted:         s.aborted.Load(),
	}
}

// Attempts returns the requests seen for model.
func (s *Server) Attempts(model string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byModel[model]
}

// TotalAttempts returns the requests seen for every model.
func (s *Server) TotalAttempts() int64 { return s.total.Load() }

// Cancelled returns the requests whose client went away before the
// response finished.
func (s *Server) Cancelled() int64 { return s.cancelled.Load() }

// InFlight returns the requests being served.
func (s *Server) InFlight() int64 { return s.inFlight.Load() }

// Reset zeroes the counters (in-flight excepted) and restarts the attempt
// sequence that drives fail-rate draws, jitter and flap.
func (s *Server) Reset() {
	s.mu.Lock()
	s.total.Store(0)
	s.completed.Store(0)
	s.cancelled.Store(0)
	s.aborted.Store(0)
	clear(s.byModel)
	clear(s.byMode)
	s.notifyLocked()
	s.mu.Unlock()
}

// Wait blocks until cond holds for the counters or ctx is done.
func (s *Server) Wait(ctx context.Context, cond func(Stats) bool) error {
	for {
		s.mu.Lock()
		st := s.statsLocked()
		if cond(st) {
			s.mu.Unlock()
			return nil
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// WaitCancelled blocks until at least n requests were cancelled by their
// client, or ctx is done.
func (s *Server) WaitCancelled(ctx context.Context, n int64) error {
	return s.Wait(ctx, func(st Stats) bool { return st.Cancelled >= n })
}

// WaitAttempts blocks until at least n requests were seen, or ctx is done.
func (s *Server) WaitAttempts(ctx context.Context, n int64) error {
	return s.Wait(ctx, func(st Stats) bool { return st.Attempts >= n })
}

func (s *Server) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// countAttempt records an attempt and returns the model's attempt number.
func (s *Server) countAttempt(model, mode string) int64 {
	s.mu.Lock()
	s.byModel[model]++
	n := s.byModel[model]
	s.byMode[mode]++
	s.notifyLocked()
	s.mu.Unlock()
	return n
}

// outcome of one request.
type outcome int

const (
	outCompleted outcome = iota
	outCancelled
	outAborted
)

func (s *Server) record(o outcome) {
	s.mu.Lock()
	switch o {
	case outCompleted:
		s.completed.Add(1)
	case outCancelled:
		s.cancelled.Add(1)
	case outAborted:
		s.aborted.Add(1)
	}
	s.inFlight.Add(-1)
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Server) serveGemini(w http.ResponseWriter, r *http.Request) {
	call := r.PathValue("call")
	i := strings.LastIndexByte(call, ':')
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	model, method := call[:i], call[i+1:]
	var stream bool
	switch method {
	case "generateContent":
	case "streamGenerateContent":
		if r.URL.Query().Get("alt") != "sse" {
			gemini{}.writeError(w, errBadRequest, "llmsim serves streamGenerateContent with alt=sse only", &reply{})
			return
		}
		stream = true
	default:
		http.NotFound(w, r)
		return
	}
	s.serve(w, r, gemini{}, func(b []byte) (*request, error) { return parseGemini(b, model, stream) })
}

func (s *Server) serveModels(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	names := append([]string{"llmsim"}, slices.Sorted(maps.Keys(s.cfg.Load().models))...)
	data := make([]model, len(names))
	for i, n := range names {
		data[i] = model{ID: n, Object: "model", OwnedBy: "llmsim"}
	}
	writeJSON(w, http.StatusOK, struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", data})
}

func (s *Server) servePutConfig(w http.ResponseWriter, r *http.Request) {
	var cfg Config
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		err = json.Unmarshal(body, &cfg)
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"message": err.Error()}})
		return
	}
	s.SetConfig(cfg)
	writeJSON(w, http.StatusOK, s.Config())
}

func (s *Server) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

func (s *Server) putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	s.bufs.Put(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
