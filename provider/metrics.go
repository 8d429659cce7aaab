package provider

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the router and its targets.
type metrics struct {
	ttft          *prometheus.HistogramVec
	tokens        *prometheus.CounterVec
	cost          *prometheus.CounterVec
	errors        *prometheus.CounterVec
	breaker       *prometheus.GaugeVec
	failovers     *prometheus.CounterVec
	hedges        *prometheus.CounterVec
	continuations *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_provider_ttft_seconds",
			Help:    "Time from request to the first token, by provider and model.",
			Buckets: []float64{.05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 8, 13, 20},
		}, []string{"provider", "model"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_provider_tokens_total",
			Help: "Tokens billed, by provider, model and kind (prompt, completion).",
		}, []string{"provider", "model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_provider_cost_usd_total",
			Help: "Spend in USD, by provider and model.",
		}, []string{"provider", "model"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_provider_errors_total",
			Help: "Failed provider calls, by provider, model and failure class.",
		}, []string{"provider", "model", "class"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_provider_breaker_state",
			Help: "Circuit breaker state per target: 0 closed, 1 half-open, 2 open.",
		}, []string{"provider", "model"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_router_failovers_total",
			Help: "Requests moved to another target before the first token, by route.",
		}, []string{"route"}),
		hedges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_router_hedges_total",
			Help: "Hedge requests started, by route.",
		}, []string{"route"}),
		continuations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_router_continuations_total",
			Help: "Cut or stalled streams continued on another target, by route.",
		}, []string{"route"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.ttft = register(reg, m.ttft, &err)
	m.tokens = register(reg, m.tokens, &err)
	m.cost = register(reg, m.cost, &err)
	m.errors = register(reg, m.errors, &err)
	m.breaker = register(reg, m.breaker, &err)
	m.failovers = register(reg, m.failovers, &err)
	m.hedges = register(reg, m.hedges, &err)
	m.continuations = register(reg, m.continuations, &err)
	return m, err
}

// register registers c on reg, or returns the collector already registered
// under its name (a second router on the same registry shares it).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		if *errp == nil {
			*errp = err
		}
	}
	return c
}
