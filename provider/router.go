package provider

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-chat/switchboard"
)

// RouterOptions configure a Router.
type RouterOptions struct {
	Providers map[string]switchboard.Provider
	Routes    map[string]RouteConfig
	// Prices by provider, then model (see PricesFromConfig).
	Prices     map[string]map[string]Price
	Breaker    BreakerConfig
	Registerer prometheus.Registerer // nil: metrics are kept but not exported
	Logger     *slog.Logger
	Now        func() time.Time // default time.Now
	// OnUsage receives one record per provider call: billed segments of
	// answers (Outcome "ok", or the failure class of a segment that was cut
	// after producing text), cancelled hedges (estimated prompt tokens) and
	// failed attempts (Outcome = class, no usage, no cost). It is called
	// from the caller's goroutine and must not block.
	OnUsage func(switchboard.UsageRecord)
}

// Router is a switchboard.Router over the configured routes.
type Router struct {
	routes  map[string]*route
	aliases map[string]string
	names   []string
	targets map[string]*target // by provider/model
	m       *metrics
	est     estimator
	logger  *slog.Logger
	now     func() time.Time
	onUsage func(switchboard.UsageRecord)
}

var _ switchboard.Router = (*Router)(nil)

type route struct {
	name      string
	cfg       RouteConfig
	targets   []*target
	weights   []int
	failovers prometheus.Counter
	hedges    prometheus.Counter
	conts     prometheus.Counter
}

// NewRouter validates the routes against the providers and returns the
// router. A route needs at least one target; every target must name a
// configured provider; names and aliases must be unique.
func NewRouter(opts RouterOptions) (*Router, error) {
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("provider: register metrics: %w", err)
	}
	setBPELoader()
	r := &Router{
		routes:  make(map[string]*route, len(opts.Routes)),
		aliases: make(map[string]string),
		targets: make(map[string]*target),
		m:       m,
		logger:  opts.Logger,
		now:     opts.Now,
		onUsage: opts.OnUsage,
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	bcfg := opts.Breaker.withDefaults()
	for name, rc := range opts.Routes {
		rc = rc.withDefaults()
		switch rc.Strategy {
		case StrategyPriority, StrategyWeighted, StrategyLatency:
		default:
			return nil, fmt.Errorf("route %q: unknown strategy %q", name, rc.Strategy)
		}
		if len(rc.Targets) == 0 {
			return nil, fmt.Errorf("route %q: no targets", name)
		}
		rt := &route{name: name, cfg: rc,
			failovers: m.failovers.WithLabelValues(name),
			hedges:    m.hedges.WithLabelValues(name),
			conts:     m.continuations.WithLabelValues(name),
		}
		for _, tc := range rc.Targets {
			p, ok := opts.Providers[tc.Provider]
			if !ok {
				return nil, fmt.Errorf("route %q: unknown provider %q", name, tc.Provider)
			}
			if tc.Model == "" {
				return nil, fmt.Errorf("route %q: target of provider %q has no model", name, tc.Provider)
			}
			key := tc.Provider + "/" + tc.Model
			t := r.targets[key]
			if t == nil {
				t = &target{key: key, provider: p, pname: tc.Provider, model: tc.Model,
					price: opts.Prices[tc.Provider][tc.Model], cfg: bcfg,
					window:      make([]outcome, bcfg.Window),
					mTTFT:       m.ttft.WithLabelValues(tc.Provider, tc.Model),
					mState:      m.breaker.WithLabelValues(tc.Provider, tc.Model),
					mPrompt:     m.tokens.WithLabelValues(tc.Provider, tc.Model, "prompt"),
					mCompletion: m.tokens.WithLabelValues(tc.Provider, tc.Model, "completion"),
					mCost:       m.cost.WithLabelValues(tc.Provider, tc.Model),
					mErrors:     m.errors.MustCurryWith(prometheus.Labels{"provider": tc.Provider, "model": tc.Model}),
				}
				t.mState.Set(breakerClosed)
				r.targets[key] = t
			}
			if slices.Contains(rt.targets, t) {
				return nil, fmt.Errorf("route %q: target %s listed twice", name, key)
			}
			w := tc.Weight
			if w <= 0 {
				w = 1
			}
			rt.targets = append(rt.targets, t)
			rt.weights = append(rt.weights, w)
		}
		r.routes[name] = rt
		r.names = append(r.names, name)
	}
	sort.Strings(r.names)
	for _, name := range r.names {
		for _, a := range r.routes[name].cfg.Aliases {
			if _, ok := r.routes[a]; ok {
				return nil, fmt.Errorf("route %q: alias %q is a route name", name, a)
			}
			if other, ok := r.aliases[a]; ok {
				return nil, fmt.Errorf("route %q: alias %q already names route %q", name, a, other)
			}
			r.aliases[a] = name
		}
	}
	return r, nil
}

// Name of the router as a provider.
func (r *Router) Name() string { return "router" }

// Routes lists the routes, sorted by name.
func (r *Router) Routes() []switchboard.RouteInfo {
	out := make([]switchboard.RouteInfo, 0, len(r.names))
	for _, name := range r.names {
		rt := r.routes[name]
		info := switchboard.RouteInfo{Name: name, Aliases: slices.Clone(rt.cfg.Aliases)}
		for _, t := range rt.targets {
			info.Targets = append(info.Targets, t.key)
		}
		out = append(out, info)
	}
	return out
}

// Resolve maps a route name or alias to the route name; EMODELNOTFOUND.
func (r *Router) Resolve(name string) (string, error) {
	if _, ok := r.routes[name]; ok {
		return name, nil
	}
	if n, ok := r.aliases[name]; ok {
		return n, nil
	}
	return "", switchboard.Errorf(switchboard.EMODELNOTFOUND, "The model %q does not exist.", name)
}

// Status reports the health of every target of every route.
func (r *Router) Status() []switchboard.TargetStatus {
	now := r.now()
	var out []switchboard.TargetStatus
	for _, name := range r.names {
		for _, t := range r.routes[name].targets {
			s := t.status(now)
			s.Route = name
			out = append(out, s)
		}
	}
	return out
}

// order returns the targets of rt in the order the strategy tries them.
func (r *Router) order(rt *route) []*target {
	ts := slices.Clone(rt.targets)
	switch rt.cfg.Strategy {
	case StrategyWeighted:
		total := 0
		for _, w := range rt.weights {
			total += w
		}
		n := rand.IntN(total)
		for i, w := range rt.weights {
			if n < w {
				first := ts[i]
				copy(ts[1:i+1], ts[:i])
				ts[0] = first
				break
			}
			n -= w
		}
	case StrategyLatency:
		lat := make(map[*target]float64, len(ts))
		for _, t := range ts {
			lat[t] = t.latency()
		}
		slices.SortStableFunc(ts, func(a, b *target) int {
			switch la, lb := lat[a], lat[b]; {
			case la < lb:
				return -1
			case la > lb:
				return 1
			}
			return 0
		})
	}
	return ts
}

// Stream resolves req.Model to a route and streams the answer of the first
// target that produces a token (see DESIGN.md, "Providers and routing").
// It returns once the answer is committed (its first text or tool call is
// in) or with the error that ends the request before that:
// EMODELNOTFOUND for an unknown route, ECONTENTFILTER with the provider's
// reason, EUNAVAILABLE (RetryAfter 3 s) when no target could answer
// within the route's budget, or a FailCanceled *ProviderError when ctx
// ends. The stream's Recv returns EINTERRUPTED when a cut answer could not
// be continued anywhere.
func (r *Router) Stream(ctx context.Context, req *switchboard.ChatRequest) (switchboard.Stream, error) {
	name, err := r.Resolve(req.Model)
	if err != nil {
		return nil, err
	}
	s := newStream(ctx, r, r.routes[name], req)
	if err := s.open(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
