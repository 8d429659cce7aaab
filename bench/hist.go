package bench

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram ranges: latencies are recorded in microseconds from 1 µs to
// 10 minutes with three significant digits.
const (
	histMin    = 1
	histMax    = int64(10 * time.Minute / time.Microsecond)
	histDigits = 3
)

// Histogram is a concurrency-safe HDR histogram of durations.
type Histogram struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(histMin, histMax, histDigits)}
}

// Record adds one duration; values outside the range are clamped.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	h.mu.Lock()
	_ = h.h.RecordValue(us)
	h.mu.Unlock()
}

// Merge adds every value of o.
func (h *Histogram) Merge(o *Histogram) {
	o.mu.Lock()
	c := o.h.Export()
	o.mu.Unlock()
	h.mu.Lock()
	h.h.Merge(hdrhistogram.Import(c))
	h.mu.Unlock()
}

// Summary returns the percentiles of the recorded values.
func (h *Histogram) Summary() Summary {
	h.mu.Lock()
	defer h.mu.Unlock()
	return summarize(h.h)
}

// Buckets returns the distribution in at most n bars of equal width in
// log scale, for the HTML report.
func (h *Histogram) Buckets(n int) []Bucket {
	h.mu.Lock()
	defer h.mu.Unlock()
	return logBuckets(h.h, n)
}

// Summary is the distribution of one latency, in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

func summarize(h *hdrhistogram.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Summary{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// Bucket is one bar of a latency histogram: values in [From, To) ms.
type Bucket struct {
	From  float64 `json:"from_ms"`
	To    float64 `json:"to_ms"`
	Count int64   `json:"count"`
}

// logBuckets folds the HDR distribution into n log-spaced bars between
// the minimum and the maximum recorded value.
func logBuckets(h *hdrhistogram.Histogram, n int) []Bucket {
	if h.TotalCount() == 0 || n <= 0 {
		return nil
	}
	lo, hi := float64(h.Min()), float64(h.Max())
	if lo < 1 {
		lo = 1
	}
	if hi <= lo {
		hi = lo + 1
	}
	edges := make([]float64, n+1)
	for i := range edges {
		edges[i] = lo * math.Pow(hi/lo, float64(i)/float64(n))
	}
	edges[n] = hi + 1
	out := make([]Bucket, n)
	for i := range out {
		out[i] = Bucket{From: edges[i] / 1000, To: edges[i+1] / 1000}
	}
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		v := float64(bar.From+bar.To) / 2
		if v > hi {
			v = hi
		}
		i := 0
		for i < n-1 && v >= edges[i+1] {
			i++
		}
		out[i].Count += bar.Count
	}
	return out
}
