package llmsim_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/llmsim"
)

// BenchmarkStream measures whole 50-token zero-delay streams through a real
// HTTP server; streams/s is the figure benchmarks of the rest of the
// system can count on.
func BenchmarkStream(b *testing.B) {
	for _, bc := range []struct {
		name, path, body string
	}{
		{"OpenAI", "/v1/chat/completions", openAIBody("m", true, user("Where is my order?"))},
		{"Anthropic", "/v1/messages", anthropicBody("c", true, user("Where is my order?"))},
		{"Gemini", "/v1beta/models/g:streamGenerateContent?alt=sse", geminiBody("Where is my order?", "")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, ts := MustRunServer(b, llmsim.Config{})
			tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}
			b.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr}
			url := ts.URL + bc.path
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(bc.body))
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					n, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || n < 1000 {
						b.Errorf("status %d, %d bytes, %v", resp.StatusCode, n, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "streams/s")
		})
	}
}
