package storetest

import (
	"context"
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
		b.SetParallelism(4)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			conv := mustConversationIn(b, s, in.ID)
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
