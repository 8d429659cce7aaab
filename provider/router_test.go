package provider_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/llmsim"
	"github.com/switchboard-chat/switchboard/provider"
	"github.com/switchboard-chat/switchboard/provider/anthropic"
	"github.com/switchboard-chat/switchboard/provider/gemini"
	"github.com/switchboard-chat/switchboard/provider/openai"
)

// reply is what every simulated model answers, so that a spliced answer can
// be compared with it.
const reply = "Thanks for waiting, here are the details you need: your order ships today and arrives " +
	"within three days. Please check the tracking link in your email. We can also help with returns, " +
	"refunds and billing questions at any time."

// sim is a simulated upstream on a real HTTP server.
type sim struct {
	*llmsim.Server
	URL string
}

func mustSim(tb testing.TB, cfg llmsim.Config) *sim {
	tb.Helper()
	if cfg.Reply == "" {
		cfg.Reply = reply
	}
	s := llmsim.New(cfg, nil)
	ts := httptest.NewServer(s)
	tb.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return &sim{Server: s, URL: ts.URL}
}

// target of a test route: a provider on a sim.
type target struct {
	name, model string
	p           switchboard.Provider
}

func openaiTarget(name, model string, s *sim, prefill string) target {
	return target{name, model, openai.New(openai.Options{Name: name, BaseURL: s.URL + "/v1", APIKey: "k",
		PrefillMode: prefill, Transport: provider.NewTransport(8)})}
}

type routerOpts struct {
	route   provider.RouteConfig
	breaker provider.BreakerConfig
	reg     *prometheus.Registry
	onUsage func(switchboard.UsageRecord)
}

func mustRouter(tb testing.TB, o routerOpts, targets ...target) *provider.Router {
	tb.Helper()
	providers := map[string]switchboard.Provider{}
	prices := map[string]map[string]provider.Price{}
	for _, t := range targets {
		providers[t.name] = t.p
		o.route.Targets = append(o.route.Targets, provider.TargetConfig{Provider: t.name, Model: t.model})
		prices[t.name] = map[string]provider.Price{t.model: {Input: 1, Output: 2}}
	}
	if o.route.FirstTokenTimeout == 0 {
		o.route.FirstTokenTimeout = time.Second
	}
	if o.route.IdleTimeout == 0 {
		o.route.IdleTimeout = 500 * time.Millisecond
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	o.route.Aliases = append(o.route.Aliases, "gpt-4o-mini")
	r, err := provider.NewRouter(provider.RouterOptions{
		Providers:  providers,
		Routes:     map[string]provider.RouteConfig{"default": o.route},
		Prices:     prices,
		Breaker:    o.breaker,
		Registerer: o.reg,
		OnUsage:    o.onUsage,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func request(model string) *switchboard.ChatRequest {
	return &switchboard.ChatRequest{Model: model, Subject: "inbox:1", Messages: []switchboard.ChatMessage{
		{Role: switchboard.RoleSystem, Content: "You are a helpful support agent."},
		{Role: switchboard.RoleUser, Content: "Where is my order?"},
	}}
}

// answer is a whole streamed answer.
type answer struct {
	chunks []switchboard.Chunk
	text   string
	final  switchboard.Chunk
	err    error
}

// providers lists the provider/model of every chunk that names one.
func (a answer) providers() []string {
	var out []string
	for _, c := range a.chunks {
		if c.Provider != "" {
			out = append(out, c.Provider+"/"+c.Model)
		}
	}
	return out
}

// ask streams one answer from r within a 10 s test deadline.
func ask(tb testing.TB, r switchboard.Provider, req *switchboard.ChatRequest) answer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := r.Stream(ctx, req)
	if err != nil {
		return answer{err: err}
	}
	defer st.Close()
	var a answer
	var b strings.Builder
	for {
		c, err := st.Recv()
		if err == io.EOF {
			break
		} else if err != nil {
			a.err = err
			break
		}
		a.chunks = append(a.chunks, c)
		b.WriteString(c.Text)
		if c.FinishReason != "" {
			a.final = c
		}
	}
	a.text = b.String()
	if ctx.Err() != nil {
		tb.Fatal("answer took longer than the test deadline")
	}
	return a
}

// mustAnswer asks and checks the answer is the whole reply, complete.
func mustAnswer(tb testing.TB, r switchboard.Provider, req *switchboard.ChatRequest) answer {
	tb.Helper()
	a := ask(tb, r, req)
	if a.err != nil {
		tb.Fatalf("answer failed: %v (text %q)", a.err, a.text)
	}
	if a.text != reply {
		tb.Fatalf("answer text\n got %q\nwant %q", a.text, reply)
	}
	if a.final.FinishReason != "stop" || a.final.Usage == nil || a.final.Usage.CompletionTokens == 0 {
		tb.Fatalf("final chunk = %+v", a.final)
	}
	return a
}

func wantAttempts(tb testing.TB, s *sim, model string, n int64) {
	tb.Helper()
	if got := s.Attempts(model); got != n {
		tb.Fatalf("%s attempts = %d, want %d", model, got, n)
	}
}

func wantCode(tb testing.TB, err error, code string) *switchboard.Error {
	tb.Helper()
	var e *switchboard.Error
	if !errors.As(err, &e) || e.Code != code {
		tb.Fatalf("err = %v, want code %s", err, code)
	}
	return e
}

// checkFor polls fn every `every` until it returns nil or wait passes.
func checkFor(tb testing.TB, wait, every time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal(err)
		}
		time.Sleep(every)
	}
}

func status(r *provider.Router, prov string) switchboard.TargetStatus {
	for _, s := range r.Status() {
		if s.Provider == prov {
			return s
		}
	}
	return switchboard.TargetStatus{}
}

// twoTargets is a route over primary (model m1 on simA) and fallback (m2
// on simB).
func twoTargets(tb testing.TB, a, b llmsim.Config, o routerOpts) (*provider.Router, *sim, *sim) {
	tb.Helper()
	sa, sb := mustSim(tb, a), mustSim(tb, b)
	r := mustRouter(tb, o, openaiTarget("primary", "m1", sa, ""), openaiTarget("fallback", "m2", sb, ""))
	return r, sa, sb
}

func TestRouter_OK(t *testing.T) {
	var mu sync.Mutex
	var records []switchboard.UsageRecord
	r, sa, sb := twoTargets(t, llmsim.Config{ChunkSize: 2}, llmsim.Config{}, routerOpts{onUsage: func(u switchboard.UsageRecord) {
		mu.Lock()
		records = append(records, u)
		mu.Unlock()
	}})
	a := mustAnswer(t, r, request("default"))
	wantAttempts(t, sa, "m1", 1)
	wantAttempts(t, sb, "m2", 0)
	if p := a.providers(); len(p) != 2 || p[0] != "primary/m1" || p[1] != "primary/m1" {
		t.Fatalf("providers named = %v, want the first and the final chunk", p)
	}
	u := a.final.Usage
	if u.Estimated || u.PromptTokens == 0 {
		t.Fatalf("usage = %+v", u)
	}
	if want := (float64(u.PromptTokens)*1 + float64(u.CompletionTokens)*2) / 1e6; a.final.Cost != want {
		t.Fatalf("cost = %v, want %v", a.final.Cost, want)
	}
	if len(records) != 1 || records[0].Outcome != "ok" || records[0].Usage != *u || records[0].Subject != "inbox:1" {
		t.Fatalf("usage records = %+v", records)
	}
	if s := status(r, "primary"); s.Requests != 1 || s.Spend != a.final.Cost || s.Breaker != "closed" {
		t.Fatalf("status = %+v", s)
	}

	t.Run("Alias", func(t *testing.T) {
		mustAnswer(t, r, request("gpt-4o-mini"))
		if name, err := r.Resolve("gpt-4o-mini"); err != nil || name != "default" {
			t.Fatalf("Resolve = %q, %v", name, err)
		}
	})
	t.Run("ModelNotFound", func(t *testing.T) {
		wantCode(t, ask(t, r, request("nope")).err, switchboard.EMODELNOTFOUND)
	})
}

// Before the commit point every failure of the primary moves the request
// to the fallback, which answers in full.
func TestRouter_Failover(t *testing.T) {
	for _, tt := range []struct {
		mode    string
		primary int64 // attempts the primary sees
	}{
		{llmsim.ModeError500, 2}, // one retry after a backoff
		{llmsim.ModeError503, 2}, // same
		{llmsim.ModeReset, 2},    // one retry at once
		{llmsim.ModeHang, 1},     // first-token timeout: never retried
		{llmsim.ModeSlowFirstToken, 1},
		{llmsim.ModeContextLength, 1},
		{llmsim.ModeRate429, 1},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			start := time.Now()
			r, sa, sb := twoTargets(t, llmsim.Config{Mode: tt.mode, TTFT: 200 * time.Millisecond}, llmsim.Config{}, routerOpts{})
			a := mustAnswer(t, r, request("default"))
			wantAttempts(t, sa, "m1", tt.primary)
			wantAttempts(t, sb, "m2", 1)
			if p := a.providers(); p[0] != "fallback/m2" {
				t.Fatalf("answered by %v", p)
			}
			// Generous: the alternative is waiting out the 10 s test deadline.
			if el := time.Since(start); el > 8*time.Second {
				t.Fatalf("failover took %v", el)
			}
		})
	}
}

func TestRouter_RateLimitCooldown(t *testing.T) {
	r, sa, sb := twoTargets(t, llmsim.Config{Mode: llmsim.ModeRate429, RetryAfter: 5 * time.Second}, llmsim.Config{}, routerOpts{})
	for range 3 {
		mustAnswer(t, r, request("default"))
	}
	// Cooled down for Retry-After: not asked again, not hammered.
	wantAttempts(t, sa, "m1", 1)
	wantAttempts(t, sb, "m2", 3)
	if s := status(r, "primary"); s.CooldownSec < 3 || s.Breaker != "closed" {
		t.Fatalf("primary status = %+v", s)
	}

	t.Run("WaitsWhenAlone", func(t *testing.T) {
		// A single target cooling for less than max_retry_wait is waited for.
		s := mustSim(t, llmsim.Config{Models: map[string]llmsim.Config{"m1": {Mode: llmsim.ModeRate429, RetryAfter: 300 * time.Millisecond}}})
		r := mustRouter(t, routerOpts{route: provider.RouteConfig{MaxRetryWait: time.Second}}, openaiTarget("only", "m1", s, ""))
		start := time.Now()
		wantCode(t, ask(t, r, request("default")).err, switchboard.EUNAVAILABLE)
		wantAttempts(t, s, "m1", 3)
		if el := time.Since(start); el < 600*time.Millisecond {
			t.Fatalf("3 attempts in %v: Retry-After not honoured", el)
		}
	})
	t.Run("NoWaitBeyondMaxRetryWait", func(t *testing.T) {
		s := mustSim(t, llmsim.Config{Mode: llmsim.ModeRate429, RetryAfter: 10 * time.Second})
		r := mustRouter(t, routerOpts{}, openaiTarget("only", "m1", s, ""))
		start := time.Now()
		e := wantCode(t, ask(t, r, request("default")).err, switchboard.EUNAVAILABLE)
		// Bound below the 10 s Retry-After it must not wait for.
		if e.RetryAfter != 3*time.Second || time.Since(start) > 8*time.Second {
			t.Fatalf("err = %+v after %v", e, time.Since(start))
		}
		wantAttempts(t, s, "m1", 1)
	})
}

func TestRouter_ContextLength(t *testing.T) {
	// Both targets of the primary's model are skipped; the other model answers.
	sa, sb := mustSim(t, llmsim.Config{Mode: llmsim.ModeContextLength}), mustSim(t, llmsim.Config{})
	r := mustRouter(t, routerOpts{},
		openaiTarget("primary", "small", sa, ""),
		target{"mirror", "small", openai.New(openai.Options{Name: "mirror", BaseURL: sb.URL + "/v1"})},
		openaiTarget("fallback", "large", sb, ""))
	a := mustAnswer(t, r, request("default"))
	wantAttempts(t, sa, "small", 1)
	wantAttempts(t, sb, "small", 0)
	wantAttempts(t, sb, "large", 1)
	if p := a.providers(); p[0] != "fallback/large" {
		t.Fatalf("answered by %v", p)
	}
}

func TestRouter_ContentFilter(t *testing.T) {
	r, sa, sb := twoTargets(t, llmsim.Config{Mode: llmsim.ModeContentFilter}, llmsim.Config{}, routerOpts{})
	e := wantCode(t, ask(t, r, request("default")).err, switchboard.ECONTENTFILTER)
	if !strings.Contains(e.Message, "content management policy") {
		t.Fatalf("message = %q, want the provider's reason", e.Message)
	}
	wantAttempts(t, sa, "m1", 1)
	wantAttempts(t, sb, "m2", 0) // not routed around
}

func TestRouter_AllDown(t *testing.T) {
	r, sa, sb := twoTargets(t, llmsim.Config{Mode: llmsim.ModeError500}, llmsim.Config{Mode: llmsim.ModeError503}, routerOpts{})
	e := wantCode(t, ask(t, r, request("default")).err, switchboard.EUNAVAILABLE)
	if e.RetryAfter != 3*time.Second {
		t.Fatalf("RetryAfter = %v", e.RetryAfter)
	}
	wantAttempts(t, sa, "m1", 2)
	wantAttempts(t, sb, "m2", 2)

	t.Run("Hung", func(t *testing.T) {
		r, sa, sb := twoTargets(t, llmsim.Config{Mode: llmsim.ModeHang}, llmsim.Config{Mode: llmsim.ModeHang},
			routerOpts{route: provider.RouteConfig{FirstTokenTimeout: 300 * time.Millisecond}})
		wantCode(t, ask(t, r, request("default")).err, switchboard.EUNAVAILABLE)
		wantAttempts(t, sa, "m1", 1)
		wantAttempts(t, sb, "m2", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sa.WaitCancelled(ctx, 1); err != nil {
			t.Fatal("hung request not cancelled:", err)
		}
	})
	t.Run("Budget", func(t *testing.T) {
		r, _, _ := twoTargets(t, llmsim.Config{Mode: llmsim.ModeHang}, llmsim.Config{Mode: llmsim.ModeHang},
			routerOpts{route: provider.RouteConfig{FirstTokenTimeout: 5 * time.Second, Budget: 300 * time.Millisecond}})
		start := time.Now()
		wantCode(t, ask(t, r, request("default")).err, switchboard.EUNAVAILABLE)
		// Bound below the 5 s first-token timeout the budget must cut short.
		if el := time.Since(start); el > 4*time.Second {
			t.Fatalf("budget of 300ms ended after %v", el)
		}
	})
}

// After the commit point a broken stream is continued on the fallback and
// spliced: one answer, nothing repeated or missing.
func TestRouter_Continuation(t *testing.T) {
	for _, tt := range []struct {
		name     string
		mode     string
		prefill  string // of the fallback's client
		fallback string // fallback sim mode
		attempts int64  // the fallback sees
	}{
		{"Cut/ContinueRequest", llmsim.ModeCut, openai.PrefillContinue, "", 1},
		{"Cut/AssistantPrefill", llmsim.ModeCut, openai.PrefillAssistant, "", 1},
		{"Cut/PrefillRejected", llmsim.ModeCut, openai.PrefillAssistant, llmsim.ModeRejectPrefill, 2},
		{"Stall", llmsim.ModeStall, openai.PrefillAssistant, "", 1},
		{"Malformed", llmsim.ModeMalformed, openai.PrefillContinue, "", 1},
		{"StreamError", llmsim.ModeStreamError, openai.PrefillContinue, "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sa := mustSim(t, llmsim.Config{Mode: tt.mode, StallAfter: 7, ChunkSize: 2})
			sb := mustSim(t, llmsim.Config{Mode: tt.fallback})
			var mu sync.Mutex
			var records []switchboard.UsageRecord
			reg := prometheus.NewRegistry()
			r := mustRouter(t, routerOpts{reg: reg, route: provider.RouteConfig{IdleTimeout: 300 * time.Millisecond},
				onUsage: func(u switchboard.UsageRecord) {
					mu.Lock()
					records = append(records, u)
					mu.Unlock()
				}},
				openaiTarget("primary", "m1", sa, ""), openaiTarget("fallback", "m2", sb, tt.prefill))
			a := mustAnswer(t, r, request("default"))
			wantAttempts(t, sa, "m1", 1)
			wantAttempts(t, sb, "m2", tt.attempts)
			if p := a.providers(); len(p) != 3 || p[0] != "primary/m1" || p[1] != "fallback/m2" || p[2] != "fallback/m2" {
				t.Fatalf("providers named = %v", p)
			}
			if !a.final.Usage.Estimated {
				t.Fatalf("usage of a spliced answer with a cut segment = %+v, want estimated", a.final.Usage)
			}
			mu.Lock()
			defer mu.Unlock()
			var billed int
			for _, rec := range records {
				if rec.Usage.Total() > 0 {
					billed += rec.Usage.CompletionTokens
				}
			}
			if billed != a.final.Usage.CompletionTokens {
				t.Fatalf("records %+v do not add up to %+v", records, a.final.Usage)
			}
			if got := counter(t, reg, "switchboard_router_continuations_total"); got != 1 {
				t.Fatalf("continuations = %v", got)
			}
			noPumps(t)
		})
	}

	t.Run("NothingCanContinue", func(t *testing.T) {
		sa := mustSim(t, llmsim.Config{Mode: llmsim.ModeCut, StallAfter: 7})
		sb := mustSim(t, llmsim.Config{Mode: llmsim.ModeError500})
		r := mustRouter(t, routerOpts{}, openaiTarget("primary", "m1", sa, ""), openaiTarget("fallback", "m2", sb, ""))
		a := ask(t, r, request("default"))
		wantCode(t, a.err, switchboard.EINTERRUPTED)
		if !strings.HasPrefix(reply, a.text) || a.text == "" {
			t.Fatalf("partial text %q is not a prefix of the reply", a.text)
		}
		for _, c := range a.chunks {
			if c.FinishReason != "" {
				t.Fatalf("truncated answer reported finish %q", c.FinishReason)
			}
		}
	})

	// Native assistant prefill (Anthropic) and a continuation request
	// (Gemini) across wire formats.
	t.Run("AcrossProviders", func(t *testing.T) {
		sa := mustSim(t, llmsim.Config{Mode: llmsim.ModeCut, StallAfter: 5})
		sb := mustSim(t, llmsim.Config{Models: map[string]llmsim.Config{"claude": {Mode: llmsim.ModeCut, StallAfter: 11}}})
		r := mustRouter(t, routerOpts{},
			openaiTarget("primary", "m1", sa, ""),
			target{"claude", "claude", anthropic.New(anthropic.Options{Name: "claude", BaseURL: sb.URL, APIKey: "k"})},
			target{"gemini", "gem", gemini.New(gemini.Options{Name: "gemini", BaseURL: sb.URL, APIKey: "k"})})
		a := mustAnswer(t, r, request("default"))
		if p := a.providers(); len(p) != 4 || p[1] != "claude/claude" || p[2] != "gemini/gem" {
			t.Fatalf("providers named = %v", p)
		}
		wantAttempts(t, sb, "claude", 1)
		wantAttempts(t, sb, "gem", 1)
	})
}

func TestRouter_NoDone(t *testing.T) {
	// finish_reason and usage but the stream is held open: complete at once.
	r, sa, _ := twoTargets(t, llmsim.Config{Mode: llmsim.ModeNoDone}, llmsim.Config{}, routerOpts{})
	start := time.Now()
	a := mustAnswer(t, r, request("default"))
	// Bound below the 10 s idle timeout a held-open stream would run into.
	if el := time.Since(start); el > 8*time.Second {
		t.Fatalf("answer took %v", el)
	}
	if a.final.Usage.Estimated {
		t.Fatalf("usage = %+v", a.final.Usage)
	}
	wantAttempts(t, sa, "m1", 1)
}

func TestRouter_Breaker(t *testing.T) {
	r, sa, sb := twoTargets(t, llmsim.Config{Mode: llmsim.ModeFlap, FlapEvery: 5}, llmsim.Config{},
		routerOpts{breaker: provider.BreakerConfig{Cooldown: 300 * time.Millisecond}})
	// Attempts 1-5 fail: two per request (with the retry) until the breaker opens.
	for range 3 {
		a := mustAnswer(t, r, request("default"))
		if p := a.providers(); p[0] != "fallback/m2" {
			t.Fatalf("answered by %v", p)
		}
	}
	wantAttempts(t, sa, "m1", 5)
	if s := status(r, "primary"); s.Breaker != "open" {
		t.Fatalf("breaker = %+v", s)
	}
	// Open: straight to the fallback, the primary is not asked.
	mustAnswer(t, r, request("default"))
	wantAttempts(t, sa, "m1", 5)
	wantAttempts(t, sb, "m2", 4)

	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if s := status(r, "primary"); s.Breaker != "half-open" {
			return errors.New("breaker is " + s.Breaker + ", want half-open")
		}
		return nil
	})
	// One probe (attempt 6 succeeds) closes it.
	a := mustAnswer(t, r, request("default"))
	if p := a.providers(); p[0] != "primary/m1" {
		t.Fatalf("probe answered by %v", p)
	}
	wantAttempts(t, sa, "m1", 6)
	if s := status(r, "primary"); s.Breaker != "closed" {
		t.Fatalf("breaker after a good probe = %+v", s)
	}
	mustAnswer(t, r, request("default"))
	wantAttempts(t, sa, "m1", 7)
	wantAttempts(t, sb, "m2", 4)
}

func TestRouter_Hedge(t *testing.T) {
	sa, sb := mustSim(t, llmsim.Config{TTFT: 20 * time.Millisecond}), mustSim(t, llmsim.Config{})
	var mu sync.Mutex
	var records []switchboard.UsageRecord
	reg := prometheus.NewRegistry()
	r := mustRouter(t, routerOpts{reg: reg, route: provider.RouteConfig{Hedge: true, FirstTokenTimeout: time.Minute},
		onUsage: func(u switchboard.UsageRecord) {
			mu.Lock()
			records = append(records, u)
			mu.Unlock()
		}},
		openaiTarget("primary", "m1", sa, ""), openaiTarget("fallback", "m2", sb, ""))
	// Fewer than 20 samples: no hedge even when slow.
	for range 20 {
		mustAnswer(t, r, request("default"))
	}
	wantAttempts(t, sb, "m2", 0)
	// The primary turns very slow (far beyond any hedge delay, short of the
	// first-token timeout): only a hedge lets the fallback answer first.
	sa.SetConfig(llmsim.Config{Reply: reply, TTFT: 30 * time.Second})
	a := mustAnswer(t, r, request("default"))
	if p := a.providers(); p[0] != "fallback/m2" {
		t.Fatalf("answered by %v", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sa.WaitCancelled(ctx, 1); err != nil {
		t.Fatal("loser not cancelled:", err)
	}
	if got := counter(t, reg, "switchboard_router_hedges_total"); got != 1 {
		t.Fatalf("hedges = %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	loser := records[len(records)-2]
	if loser.Provider != "primary" || loser.Outcome != switchboard.FailCanceled || loser.Usage.PromptTokens == 0 || !loser.Usage.Estimated {
		t.Fatalf("loser's usage record = %+v", loser)
	}
}

func TestRouter_CloseCancelsUpstream(t *testing.T) {
	r, sa, _ := twoTargets(t, llmsim.Config{TokensPerSec: 20}, llmsim.Config{}, routerOpts{})
	st, err := r.Stream(context.Background(), request("default"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sa.WaitCancelled(ctx, 1); err != nil {
		t.Fatal("upstream not cancelled:", err)
	}
	if _, err := st.Recv(); err == nil || err == io.EOF {
		t.Fatalf("Recv after Close = %v", err)
	}
	noPumps(t)

	t.Run("ContextCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		st, err := r.Stream(ctx, request("default"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		for {
			if _, err := st.Recv(); err != nil {
				var pe *switchboard.ProviderError
				if !errors.As(err, &pe) || pe.Class != switchboard.FailCanceled {
					t.Fatalf("err = %v", err)
				}
				break
			}
		}
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer wcancel()
		if err := sa.WaitCancelled(wctx, 2); err != nil {
			t.Fatal("upstream not cancelled:", err)
		}
	})
}

func TestRouter_Strategies(t *testing.T) {
	t.Run("Weighted", func(t *testing.T) {
		sa, sb := mustSim(t, llmsim.Config{}), mustSim(t, llmsim.Config{})
		r, err := provider.NewRouter(provider.RouterOptions{
			Providers: map[string]switchboard.Provider{"a": openaiTarget("a", "m1", sa, "").p, "b": openaiTarget("b", "m2", sb, "").p},
			Routes: map[string]provider.RouteConfig{"w": {Strategy: provider.StrategyWeighted, Targets: []provider.TargetConfig{
				{Provider: "a", Model: "m1", Weight: 1}, {Provider: "b", Model: "m2", Weight: 9}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			mustAnswer(t, r, request("w"))
		}
		// Expected 10:90; an equal split or always the first would be 50 or 100.
		if a, b := sa.Attempts("m1"), sb.Attempts("m2"); a == 0 || a > 30 {
			t.Fatalf("attempts a=%d b=%d for weights 1:9", a, b)
		}
	})
	t.Run("Latency", func(t *testing.T) {
		sa, sb := mustSim(t, llmsim.Config{TTFT: 100 * time.Millisecond}), mustSim(t, llmsim.Config{TTFT: 5 * time.Millisecond})
		r := mustRouter(t, routerOpts{route: provider.RouteConfig{Strategy: provider.StrategyLatency}},
			openaiTarget("slow", "m1", sa, ""), openaiTarget("fast", "m2", sb, ""))
		for range 5 {
			mustAnswer(t, r, request("default"))
		}
		// Both are measured once (unknown latency goes first), then the fast one wins.
		if a := sa.Attempts("m1"); a != 1 {
			t.Fatalf("slow target attempts = %d", a)
		}
	})
}

func TestNewRouter_Errors(t *testing.T) {
	p := map[string]switchboard.Provider{"a": openai.New(openai.Options{Name: "a", BaseURL: "http://127.0.0.1:1"})}
	for name, routes := range map[string]map[string]provider.RouteConfig{
		"UnknownProvider": {"r": {Targets: []provider.TargetConfig{{Provider: "x", Model: "m"}}}},
		"NoTargets":       {"r": {}},
		"BadStrategy":     {"r": {Strategy: "random", Targets: []provider.TargetConfig{{Provider: "a", Model: "m"}}}},
		"AliasClash": {
			"r": {Aliases: []string{"s"}, Targets: []provider.TargetConfig{{Provider: "a", Model: "m"}}},
			"s": {Targets: []provider.TargetConfig{{Provider: "a", Model: "m"}}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := provider.NewRouter(provider.RouterOptions{Providers: p, Routes: routes}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// noPumps waits until no attempt pump goroutine is left.
func noPumps(tb testing.TB) {
	tb.Helper()
	checkFor(tb, 5*time.Second, 10*time.Millisecond, func() error {
		buf := make([]byte, 1<<20)
		if st := string(buf[:runtime.Stack(buf, true)]); strings.Contains(st, "provider.(*stream).pump") {
			return errors.New("a pump goroutine is still running")
		}
		return nil
	})
}

// counter sums a counter family of reg.
func counter(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
