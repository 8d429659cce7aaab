package chat

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the engine, registered on the server's registry.
type Metrics struct {
	jobs        prometheus.Gauge
	deltas      prometheus.Counter
	ttft        prometheus.Histogram
	generations *prometheus.CounterVec
	transitions *prometheus.CounterVec
	blocked     prometheus.Counter
	cache       *prometheus.CounterVec
	busErrors   prometheus.Counter
}

// NewMetrics creates the engine's collectors and registers them on reg
// (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_generations_running", Help: "Generation jobs running."}),
		deltas:      prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_deltas_total", Help: "Delta frames published."}),
		ttft:        prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchboard_chat_ttft_seconds", Help: "Time from visitor message to first delta.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		generations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_generations_total", Help: "Finished generations by final state."}, []string{"state"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_conversation_transitions_total", Help: "Conversation status changes."}, []string{"status"}),
		blocked:     prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_blocked_messages_total", Help: "Visitor messages blocked by moderation."}),
		cache:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_context_cache_total", Help: "Context cache lookups."}, []string{"result"}),
		busErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_bus_errors_total", Help: "Failed operations on the cross-instance bus."}),
	}
	if reg != nil {
		reg.MustRegister(m.jobs, m.deltas, m.ttft, m.generations, m.transitions, m.blocked, m.cache, m.busErrors)
	}
	return m
}
