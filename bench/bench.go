// Package bench is the load generator behind `switchboard bench`: virtual
// users chat over the WebSocket, SSE or the OpenAI-compatible API (or
// hold idle sockets) against a Switchboard server, optionally the same
// load straight at the llmsim upstream as a baseline, and the results
// come out as HDR latency percentiles, rates, errors by class and the
// server's RSS and CPU.
package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Scenarios.
const (
	ScenarioWS     = "ws-chat"
	ScenarioSSE    = "sse-chat"
	ScenarioOpenAI = "openai-stream"
	ScenarioIdle   = "idle-connections"
	ScenarioMixed  = "mixed"
)

// Scenarios lists every scenario.
func Scenarios() []string {
	return []string{ScenarioWS, ScenarioSSE, ScenarioOpenAI, ScenarioIdle, ScenarioMixed}
}

// Config is one bench run.
type Config struct {
	Scenario    string
	Concurrency int           // virtual users (streaming scenarios)
	Duration    time.Duration // how long users start new turns (or idle sockets are held)
	Requests    int           // or: stop after this many turns in all (0 = by duration)
	RampUp      time.Duration // users start evenly over this time
	ThinkTime   time.Duration // mean pause between a user's turns (uniform ±50 %)
	MessageSize int           // bytes of each visitor message
	Turns       int           // turns per visitor session before a new visitor
	Timeout     time.Duration // per turn
	Connections int           // idle-connections: sockets to hold

	// Target is the Switchboard base URL; "" starts a local server and
	// llmsim as children of Binary. Remote must be set to allow a target
	// that is not loopback.
	Target    string
	Remote    bool
	WidgetKey string // for a target: the inbox's widget key
	APIKey    string // for a target: an API key (openai-stream)
	Model     string // openai-stream model (route name), default "default"

	Baseline  string // "" or "direct": the same load straight at llmsim
	DirectURL string // for a target: llmsim's base URL for the baseline

	Sim       SimProfile // llmsim profile of a local run
	Secondary bool       // a second, healthy llmsim as the route's second target

	Binary         string // this program, for children and workers
	ConnsPerWorker int    // idle-connections: sockets per worker process

	Log      io.Writer // progress and notes (stderr)
	Terminal bool      // Log is a terminal: draw a progress bar
}

// Report is the outcome of a run.
type Report struct {
	Time     time.Time   `json:"time"`
	Command  string      `json:"command"`
	Scenario string      `json:"scenario"`
	Machine  Machine     `json:"machine"`
	Settings Settings    `json:"settings"`
	Notes    []string    `json:"notes,omitempty"`
	Phases   []*Phase    `json:"phases,omitempty"`
	Overhead *Overhead   `json:"overhead,omitempty"`
	Idle     *IdleResult `json:"idle,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	Host      string `json:"host"`
	OS        string `json:"os"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	OpenFiles uint64 `json:"open_files_limit"`
	Go        string `json:"go"`
}

// Settings are the knobs of the run, as reported.
type Settings struct {
	Concurrency int         `json:"concurrency"`
	Duration    string      `json:"duration,omitempty"`
	Requests    int         `json:"requests,omitempty"`
	RampUp      string      `json:"ramp_up"`
	ThinkTime   string      `json:"think_time"`
	MessageSize int         `json:"message_size"`
	Turns       int         `json:"turns_per_session"`
	Connections int         `json:"connections,omitempty"`
	Target      string      `json:"target"`
	Baseline    string      `json:"baseline,omitempty"`
	Sim         *SimProfile `json:"llmsim,omitempty"`
	Secondary   bool        `json:"secondary,omitempty"`
}

func (c *Config) defaults() {
	if c.Scenario == "" {
		c.Scenario = ScenarioWS
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 10
	}
	if c.Duration <= 0 && c.Requests <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.MessageSize <= 0 {
		c.MessageSize = 64
	}
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	if c.Model == "" {
		c.Model = "default"
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.ConnsPerWorker <= 0 {
		c.ConnsPerWorker = 5000
	}
}

// Validate checks a config before anything starts.
func (c *Config) Validate() error {
	c.defaults()
	ok := false
	for _, s := range Scenarios() {
		ok = ok || s == c.Scenario
	}
	if !ok {
		return fmt.Errorf("unknown scenario %q: one of %s", c.Scenario, strings.Join(Scenarios(), ", "))
	}
	if c.Duration <= 0 && (c.Requests <= 0 || c.Scenario == ScenarioIdle) {
		return fmt.Errorf("a run needs --duration (or --requests for streaming scenarios): every run stops by itself")
	}
	if c.Baseline != "" && c.Baseline != "direct" {
		return fmt.Errorf("--baseline must be direct, not %q", c.Baseline)
	}
	if c.Baseline == "direct" && c.Scenario == ScenarioIdle {
		return fmt.Errorf("--baseline direct needs a streaming scenario")
	}
	for _, u := range append(strings.Split(c.Target, ","), c.DirectURL) {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if err := checkTarget(u, c.Remote); err != nil {
			return err
		}
	}
	if c.Target != "" && c.Baseline == "direct" && c.DirectURL == "" {
		return fmt.Errorf("--baseline direct with --target needs --direct-url (the llmsim base URL)")
	}
	if c.Target != "" && c.Scenario != ScenarioOpenAI && c.WidgetKey == "" {
		return fmt.Errorf("--target needs --widget-key for %s", c.Scenario)
	}
	if c.Target != "" && (c.Scenario == ScenarioOpenAI || c.Scenario == ScenarioMixed) && c.APIKey == "" {
		return fmt.Errorf("--target needs --api-key (or SWITCHBOARD_BENCH_API_KEY) for %s", c.Scenario)
	}
	if c.Target == "" && c.Binary == "" {
		return fmt.Errorf("no binary to start the local server with")
	}
	// Sockets: every user holds up to two connections; keep a margin.
	if c.Scenario != ScenarioIdle {
		if limit := openFileLimit(); limit > 0 && uint64(2*c.Concurrency+256) > limit {
			return fmt.Errorf("--concurrency %d needs about %d sockets, more than the open-file limit %d allows", c.Concurrency, 2*c.Concurrency+256, limit)
		}
	}
	if c.Scenario == ScenarioIdle {
		if c.Connections <= 0 {
			return fmt.Errorf("idle-connections needs --connections")
		}
		if limit := openFileLimit(); limit > 0 && uint64(c.ConnsPerWorker+256) > limit {
			return fmt.Errorf("--conns-per-worker %d is above the open-file limit %d less a margin", c.ConnsPerWorker, limit)
		}
	}
	return nil
}

// checkTarget refuses a non-loopback URL unless remote is set.
func checkTarget(raw string, remote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("target %q is not an http(s) URL", raw)
	}
	if remote {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("target %s is not loopback: pass it with --target to load a remote server on purpose", raw)
}

// openFileLimit raises the soft RLIMIT_NOFILE to the hard one and returns it.
func openFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur
}

func machine() Machine {
	h, _ := os.Hostname()
	m := Machine{Host: h, OS: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(), OpenFiles: openFileLimit(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func (c *Config) settings(target string) Settings {
	s := Settings{Concurrency: c.Concurrency, Requests: c.Requests, RampUp: c.RampUp.String(), ThinkTime: c.ThinkTime.String(),
		MessageSize: c.MessageSize, Turns: c.Turns, Target: target, Baseline: c.Baseline, Secondary: c.Secondary}
	if c.Duration > 0 {
		s.Duration = c.Duration.String()
	}
	if c.Scenario == ScenarioIdle {
		s.Connections = c.Connections
		s.Concurrency = 0
	}
	if c.Target == "" {
		sp := c.Sim
		s.Sim = &sp
	}
	return s
}

func (c *Config) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "bench: "+format+"\n", args...)
}

// Run runs the bench and returns its report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Time: time.Now().UTC(), Scenario: cfg.Scenario, Machine: machine()}
	base, direct := cfg.Target, cfg.DirectURL
	opt := userOptions{WidgetKey: cfg.WidgetKey, APIKey: cfg.APIKey, Model: cfg.Model, MessageSize: cfg.MessageSize, Turns: cfg.Turns}
	var server, upstream probe
	if cfg.Target == "" {
		sims := []SimProfile{cfg.Sim}
		if cfg.Secondary {
			healthy := cfg.Sim
			healthy.FailRate, healthy.FailMix, healthy.Mode = 0, "", ""
			sims = append(sims, healthy)
		}
		cfg.logf("starting llmsim and switchboard serve (children of %s)", cfg.Binary)
		l, err := StartLocal(ctx, LocalOptions{Binary: cfg.Binary, Sims: sims})
		if err != nil {
			return nil, err
		}
		defer l.Close()
		cfg.logf("server %s, llmsim %s", l.ServerURL, strings.Join(l.SimURLs, ", "))
		rep.Notes = append(rep.Notes, l.Notes...)
		base, direct = l.ServerURL, l.SimURLs[0]
		opt.WidgetKey, opt.APIKey = l.WidgetKey, l.APIKey
		server, upstream = procProbe{pid: l.ServerPID()}, procProbe{pid: l.SimPID(0)}
	} else {
		var ps multiProbe
		for _, b := range strings.Split(base, ",") {
			ps = append(ps, metricsProbe{url: strings.TrimRight(strings.TrimSpace(b), "/") + "/metrics", hc: newClient(&counter{})})
		}
		server = ps
		if len(ps) == 1 {
			server = ps[0]
		}
	}
	rep.Settings = cfg.settings(base)
	rep.Notes = append(rep.Notes, fmt.Sprintf("load generator on the same machine as the server (%d CPUs)", runtime.NumCPU()))
	opt.Base = strings.TrimRight(base, "/")

	if cfg.Scenario == ScenarioIdle {
		res, err := runIdle(ctx, &cfg, opt, server)
		if err != nil {
			return nil, err
		}
		rep.Idle = res
		return rep, nil
	}

	sb, err := runPhase(ctx, &cfg, "switchboard", cfg.Scenario, opt, server, upstream)
	if err != nil {
		return nil, err
	}
	rep.Phases = append(rep.Phases, sb)
	if cfg.Baseline == "direct" && ctx.Err() == nil {
		dopt := opt
		dopt.Base, dopt.APIKey, dopt.Model = strings.TrimRight(direct, "/"), "", "sim-model"
		var dprobe probe
		if upstream != nil {
			dprobe = upstream
		}
		d, err := runPhase(ctx, &cfg, "direct", ScenarioOpenAI, dopt, nil, dprobe)
		if err != nil {
			return nil, err
		}
		rep.Phases = append(rep.Phases, d)
		rep.Overhead = overhead(sb, d)
	}
	return rep, ctx.Err()
}
