package provider_test

import (
	"context"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/llmsim"
	"github.com/switchboard-chat/switchboard/provider"
)

// drain reads a stream to the end and returns its chunks and the time to
// the first one.
func drain(tb testing.TB, p switchboard.Provider, req *switchboard.ChatRequest) (chunks int, ttft time.Duration) {
	start := time.Now()
	st, err := p.Stream(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	for {
		_, err := st.Recv()
		if err == io.EOF {
			return chunks, ttft
		} else if err != nil {
			tb.Fatal(err)
		}
		if chunks == 0 {
			ttft = time.Since(start)
		}
		chunks++
	}
}

// benchTargets returns the direct client and a router over it (plus a
// fallback that is never used) on one simulator.
func benchTargets(b *testing.B, cfg llmsim.Config) (direct switchboard.Provider, router *provider.Router) {
	s := mustSim(b, cfg)
	primary := openaiTarget("primary", "m1", s, "")
	r := mustRouter(b, routerOpts{route: provider.RouteConfig{FirstTokenTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second}},
		primary, openaiTarget("fallback", "m2", s, ""))
	return primary.p, r
}

// BenchmarkRouterStream streams a 200-chunk answer directly from the
// client and through the router; allocs/chunk includes the in-process
// simulator and HTTP server, the same for both, so the difference is the
// router's.
func BenchmarkRouterStream(b *testing.B) {
	direct, router := benchTargets(b, llmsim.Config{Reply: strings.Repeat("word ", 200)})
	for _, bc := range []struct {
		name  string
		p     switchboard.Provider
		model string
	}{{"Direct", direct, "m1"}, {"Router", router, "default"}} {
		b.Run(bc.name, func(b *testing.B) {
			req := request(bc.model)
			drain(b, bc.p, req) // warm the connection pool
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.Mallocs
			chunks := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				n, _ := drain(b, bc.p, req)
				chunks += n
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.Mallocs-before)/float64(chunks), "allocs/chunk")
			b.ReportMetric(float64(chunks)/float64(b.N), "chunks/op")
		})
	}
}

// BenchmarkAddedTTFT measures the time to the first chunk directly and
// through the router (median and p99 over the iterations).
func BenchmarkAddedTTFT(b *testing.B) {
	direct, router := benchTargets(b, llmsim.Config{Reply: "a short answer"})
	for _, bc := range []struct {
		name  string
		p     switchboard.Provider
		model string
	}{{"Direct", direct, "m1"}, {"Router", router, "default"}} {
		b.Run(bc.name, func(b *testing.B) {
			req := request(bc.model)
			drain(b, bc.p, req)
			var ttfts []time.Duration
			for b.Loop() {
				_, d := drain(b, bc.p, req)
				ttfts = append(ttfts, d)
			}
			slices.Sort(ttfts)
			b.ReportMetric(float64(ttfts[len(ttfts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(ttfts[len(ttfts)*99/100].Microseconds()), "p99-µs")
		})
	}
}
