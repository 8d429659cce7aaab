package ws_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/coder/websocket"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/sbtest"
	"github.com/switchboard-chat/switchboard/llmsim"
)

// BenchmarkDeltaThroughput streams a 2,000-token answer (llmsim, no
// delay, one token per chunk, so one published delta per token) to one
// WebSocket subscriber per iteration. It reports deltas per second through
// the socket, frames written per delta (below 1 when the writer falls
// behind and consecutive deltas merge) and heap allocations per delta.
// Allocations count the whole process: llmsim, the provider client, the
// engine, the socket writer and the benchmark's client.
func BenchmarkDeltaThroughput(b *testing.B) {
	benchmarkDeltas(b, llmsim.Config{Tokens: 2000})
}

func benchmarkDeltas(b *testing.B, cfg llmsim.Config) {
	srv := sbtest.MustRunServer(b, sbtest.Options{Sim: cfg})
	var deltas, frames, mallocs uint64
	var elapsed time.Duration
	var ms runtime.MemStats
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tok, _ := srv.VisitorSession(b)
		c := srv.DialWS(b, tok, sbtest.AllowedOrigin)
		c.Hello(b, 0)
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		start := time.Now()
		b.StartTimer()

		c.Send(map[string]any{"type": "message", "client_msg_id": "q", "content": "Tell me a long story"})
		n := 0
		for {
			ctx, cancel := context.WithTimeout(context.Background(), sbtest.Timeout)
			_, data, err := c.Conn.Read(ctx)
			cancel()
			if err != nil {
				b.Fatalf("read: %v (after %d deltas)", err, n)
			}
			if bytes.HasPrefix(data, []byte(`{"type":"delta"`)) {
				n++
				continue
			}
			if bytes.HasPrefix(data, []byte(`{"type":"done"`)) {
				break
			}
			if bytes.HasPrefix(data, []byte(`{"type":"error"`)) {
				b.Fatalf("error frame: %s", data)
			}
		}

		b.StopTimer()
		elapsed += time.Since(start)
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - before
		deltas += uint64(cfg.Tokens)
		frames += uint64(n)
		if n == 0 {
			b.Fatal("no delta frame")
		}
		c.Conn.Close(websocket.StatusNormalClosure, "")
		b.StartTimer()
	}
	b.ReportMetric(float64(deltas)/elapsed.Seconds(), "deltas/s")
	b.ReportMetric(float64(mallocs)/float64(deltas), "allocs/delta")
	b.ReportMetric(float64(frames)/float64(deltas), "frames/delta")
}

// BenchmarkFrameEncode encodes a delta into a reused buffer: the hot path
// must not allocate.
func BenchmarkFrameEncode(b *testing.B) {
	f := sb.Frame{Type: sb.FrameDelta, Seq: 1234, MessageID: "01J9Z8X7W6V5T4S3R2Q1P0N9M8", Offset: 4096, Payload: ` the "quick" answer <is> 你好 `}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.AppendJSON(buf[:0])
	}
	if testing.AllocsPerRun(100, func() { buf = f.AppendJSON(buf[:0]) }) != 0 {
		b.Fatal("AppendJSON of a delta allocates")
	}
}
