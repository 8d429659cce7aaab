package storetest

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/switchboard-chat/switchboard"
)

// Bench measures AppendMessage throughput: Sequential (one goroutine),
// Parallel (GOMAXPROCS×p goroutines, one conversation each) and
// ParallelOneConversation (all goroutines on one conversation: the seq
// allocation contends). Each reports msgs/s.
func Bench(b *testing.B, open func(tb testing.TB) (s switchboard.Store, reopen func() switchboard.Store)) {
	b.Run("Sequential", func(b *testing.B) {
		s, _ := open(b)
		conv := MustConversation(b, s)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, _, err := s.AppendMessage(ctx, text(conv.ID, "hello, benchmark")); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("Parallel", func(b *testing.B) {
		s, _ := open(b)
		in := MustInbox(b, s)
		ctx := context.Background()
		const parallelism = 4
		convs := make([]*switchboard.Conversation, parallelism*runtime.GOMAXPROCS(0))
		for i := range convs {
			convs[i] = mustConversationIn(b, s, in.ID)
		}
		var next atomic.Int64
		b.SetParallelism(parallelism)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			conv := convs[int(next.Add(1)-1)%len(convs)]
			for pb.Next() {
				if _, _, err := s.AppendMessage(ctx, text(conv.ID, "hello, benchmark")); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("ParallelOneConversation", func(b *testing.B) {
		s, _ := open(b)
		conv := MustConversation(b, s)
		ctx := context.Background()
		b.SetParallelism(4)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := s.AppendMessage(ctx, text(conv.ID, "hello, benchmark")); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
