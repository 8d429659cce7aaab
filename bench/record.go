package bench

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// recorder collects the streams of one phase.
type recorder struct {
	start time.Time
	ttft  *Histogram
	gap   *Histogram
	total *Histogram

	started, ok, failed, tokens, rx, tx atomic.Int64

	mu       sync.Mutex
	errors   map[string]int64
	timeline []Tick
}

// Tick is one second of a phase: streams finished, errors and tokens.
type Tick struct {
	Second  int   `json:"t"`
	Streams int64 `json:"streams"`
	Errors  int64 `json:"errors"`
	Tokens  int64 `json:"tokens"`
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, ttft: NewHistogram(), gap: NewHistogram(), total: NewHistogram(), errors: map[string]int64{}}
}

// add records one finished stream.
func (r *recorder) add(s *stream) {
	if s.end.IsZero() {
		s.end = time.Now()
	}
	sec := int(s.end.Sub(r.start) / time.Second)
	if sec < 0 {
		sec = 0
	}
	r.mu.Lock()
	for len(r.timeline) <= sec {
		r.timeline = append(r.timeline, Tick{Second: len(r.timeline)})
	}
	tk := &r.timeline[sec]
	if s.ok() {
		tk.Streams++
		tk.Tokens += int64(s.tokens)
	} else {
		tk.Errors++
		r.errors[s.class]++
	}
	r.mu.Unlock()
	if !s.ok() {
		r.failed.Add(1)
		return
	}
	r.ok.Add(1)
	r.tokens.Add(int64(s.tokens))
	r.rx.Add(s.rx)
	r.tx.Add(s.tx)
	r.total.Record(s.end.Sub(s.start))
	if len(s.chunks) > 0 {
		r.ttft.Record(s.chunks[0].Sub(s.start))
		for i := 1; i < len(s.chunks); i++ {
			r.gap.Record(s.chunks[i].Sub(s.chunks[i-1]))
		}
	}
}

// Phase is the result of one load phase against one target.
type Phase struct {
	Name          string              `json:"name"`     // "switchboard" or "direct"
	Scenario      string              `json:"scenario"` // ws-chat, sse-chat, openai-stream, mixed
	Target        string              `json:"target"`
	Concurrency   int                 `json:"concurrency"`
	Elapsed       float64             `json:"elapsed_s"`
	Started       int64               `json:"started"`
	Succeeded     int64               `json:"succeeded"`
	Failed        int64               `json:"failed"`
	SuccessRate   float64             `json:"success_rate"`
	Errors        map[string]int64    `json:"errors"`
	StreamsPerSec float64             `json:"streams_per_sec"`
	TokensPerSec  float64             `json:"tokens_per_sec"`
	Tokens        int64               `json:"tokens"`
	TTFT          Summary             `json:"ttft"`
	Gap           Summary             `json:"inter_token_gap"`
	Total         Summary             `json:"total"`
	RxPerReply    float64             `json:"rx_bytes_per_reply"`
	TxPerReply    float64             `json:"tx_bytes_per_reply"`
	Server        *ProcStats          `json:"server,omitempty"`
	Upstream      *ProcStats          `json:"upstream,omitempty"`
	Timeline      []Tick              `json:"timeline"`
	Histograms    map[string][]Bucket `json:"histograms,omitempty"`
}

// phase summarises the recorder after elapsed.
func (r *recorder) phase(name, scenario, target string, conc int, elapsed time.Duration) *Phase {
	p := &Phase{Name: name, Scenario: scenario, Target: target, Concurrency: conc, Elapsed: elapsed.Seconds(),
		Started: r.started.Load(), Succeeded: r.ok.Load(), Failed: r.failed.Load(), Tokens: r.tokens.Load(),
		TTFT: r.ttft.Summary(), Gap: r.gap.Summary(), Total: r.total.Summary(), Errors: map[string]int64{}}
	r.mu.Lock()
	for k, v := range r.errors {
		p.Errors[k] = v
	}
	p.Timeline = append([]Tick(nil), r.timeline...)
	r.mu.Unlock()
	if n := p.Succeeded + p.Failed; n > 0 {
		p.SuccessRate = float64(p.Succeeded) / float64(n)
	}
	if p.Elapsed > 0 {
		p.StreamsPerSec = float64(p.Succeeded) / p.Elapsed
		p.TokensPerSec = float64(p.Tokens) / p.Elapsed
	}
	if p.Succeeded > 0 {
		p.RxPerReply = float64(r.rx.Load()) / float64(p.Succeeded)
		p.TxPerReply = float64(r.tx.Load()) / float64(p.Succeeded)
	}
	p.Histograms = map[string][]Bucket{"ttft": r.ttft.Buckets(40), "total": r.total.Buckets(40), "gap": r.gap.Buckets(40)}
	return p
}

// ErrorClasses returns the error classes by count, most first.
func (p *Phase) ErrorClasses() []string {
	ks := make([]string, 0, len(p.Errors))
	for k := range p.Errors {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if p.Errors[ks[i]] != p.Errors[ks[j]] {
			return p.Errors[ks[i]] > p.Errors[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}

// Overhead compares Switchboard with the direct baseline.
type Overhead struct {
	TTFTP50Ratio    float64 `json:"ttft_p50_ratio"`
	TTFTP99Ratio    float64 `json:"ttft_p99_ratio"`
	TotalP50Ratio   float64 `json:"total_p50_ratio"`
	TotalP99Ratio   float64 `json:"total_p99_ratio"`
	TTFTP50AddedMs  float64 `json:"ttft_p50_added_ms"`
	TTFTP99AddedMs  float64 `json:"ttft_p99_added_ms"`
	TotalP50AddedMs float64 `json:"total_p50_added_ms"`
	TotalP99AddedMs float64 `json:"total_p99_added_ms"`
	RateRatio       float64 `json:"streams_per_sec_ratio"` // switchboard / direct
}

// overhead of s over the direct phase d.
func overhead(s, d *Phase) *Overhead {
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	return &Overhead{
		TTFTP50Ratio: ratio(s.TTFT.P50, d.TTFT.P50), TTFTP99Ratio: ratio(s.TTFT.P99, d.TTFT.P99),
		TotalP50Ratio: ratio(s.Total.P50, d.Total.P50), TotalP99Ratio: ratio(s.Total.P99, d.Total.P99),
		TTFTP50AddedMs: s.TTFT.P50 - d.TTFT.P50, TTFTP99AddedMs: s.TTFT.P99 - d.TTFT.P99,
		TotalP50AddedMs: s.Total.P50 - d.Total.P50, TotalP99AddedMs: s.Total.P99 - d.Total.P99,
		RateRatio: ratio(s.StreamsPerSec, d.StreamsPerSec),
	}
}
