package bench

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// grace is how long turns in flight when the duration ends may finish.
const grace = 30 * time.Second

// newUser returns the i-th virtual user of a scenario; mixed spreads
// users over WebSocket (half), SSE and the OpenAI API (a quarter each).
func newUser(scenario string, i int, opt userOptions) user {
	if scenario == ScenarioMixed {
		scenario = []string{ScenarioWS, ScenarioWS, ScenarioSSE, ScenarioOpenAI}[i%4]
	}
	switch scenario {
	case ScenarioSSE:
		return newSSEUser(opt)
	case ScenarioOpenAI:
		return newOpenAIUser(opt)
	}
	return newWSUser(opt)
}

// runPhase runs the virtual users of one phase until the duration or the
// request count is reached, and summarises it.
func runPhase(ctx context.Context, cfg *Config, name, scenario string, opt userOptions, server, upstream probe) (*Phase, error) {
	cfg.logf("%s: %s, %d users against %s", name, scenario, cfg.Concurrency, opt.Base)
	ss, us := startSampler(ctx, server), startSampler(ctx, upstream)
	start := time.Now()
	rec := newRecorder(start)
	var stopAt time.Time
	if cfg.Duration > 0 {
		stopAt = start.Add(cfg.Duration)
	}
	// Turns already running may finish within the grace period.
	hard := context.Background()
	if !stopAt.IsZero() {
		var cancel context.CancelFunc
		hard, cancel = context.WithDeadline(hard, stopAt.Add(grace))
		defer cancel()
	}
	runCtx, cancelRun := context.WithCancel(hard)
	defer cancelRun()
	go func() { // an interrupt stops at once
		select {
		case <-ctx.Done():
			cancelRun()
		case <-runCtx.Done():
		}
	}()

	var tickets atomic.Int64
	var active atomic.Int64
	prog := newProgress(cfg, name, start, stopAt, rec, &active)
	var wg sync.WaitGroup
	for i := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var delay time.Duration
			if cfg.RampUp > 0 && cfg.Concurrency > 1 {
				delay = cfg.RampUp * time.Duration(i) / time.Duration(cfg.Concurrency)
			}
			if !sleep(runCtx, delay) {
				return
			}
			uo := opt
			uo.Base = pickBase(opt.Base, i)
			u := newUser(scenario, i, uo)
			defer u.close()
			active.Add(1)
			defer active.Add(-1)
			rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for n := 0; ; n++ {
				if runCtx.Err() != nil || (!stopAt.IsZero() && time.Now().After(stopAt)) {
					return
				}
				if cfg.Requests > 0 && tickets.Add(1) > int64(cfg.Requests) {
					return
				}
				rec.started.Add(1)
				tctx, cancel := context.WithTimeout(runCtx, cfg.Timeout)
				s := u.turn(tctx, n)
				cancel()
				if s.class == "cancelled" && ctx.Err() != nil {
					return // interrupted: not an error of the server
				}
				rec.add(s)
				if cfg.ThinkTime > 0 {
					think := cfg.ThinkTime/2 + time.Duration(rng.Int64N(int64(cfg.ThinkTime)+1))
					if !sleep(runCtx, think) {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	prog.finish()
	p := rec.phase(name, scenario, opt.Base, cfg.Concurrency, elapsed)
	p.Server, p.Upstream = ss.stop(context.Background()), us.stop(context.Background())
	cfg.logf("%s: %d ok, %d failed in %.1fs", name, p.Succeeded, p.Failed, p.Elapsed)
	return p, nil
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pickBase spreads virtual users round robin over comma-separated base
// URLs (several instances of a scale-out deployment).
func pickBase(bases string, i int) string {
	if !strings.Contains(bases, ",") {
		return bases
	}
	list := strings.Split(bases, ",")
	return strings.TrimRight(strings.TrimSpace(list[i%len(list)]), "/")
}
