package kb_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/kb"
)

// corpus generates n passages, half English and half Chinese, of 300-800
// characters, with Zipf-distributed words, 20 passages per document, in 4
// inboxes.
type corpus struct {
	passages []switchboard.Passage
	queries  []string
}

func newCorpus(n int) *corpus {
	r := rand.New(rand.NewPCG(1, 2))
	syll := []string{"ka", "to", "ri", "men", "sel", "dor", "an", "ve", "lo", "tis", "pra", "gun", "ex", "ul", "fa", "bri", "chon", "de", "st", "op"}
	en := make([]string, 8000)
	for i := range en {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteString(syll[r.IntN(len(syll))])
		}
		en[i] = b.String()
	}
	// Chinese words of two characters, the characters Zipf-distributed
	// over 3,500 common ones, as in real text.
	zipfChar := rand.NewZipf(r, 1.05, 8, 3499)
	zh := make([]string, 8000)
	for i := range zh {
		zh[i] = string([]rune{rune(0x4E00 + zipfChar.Uint64()), rune(0x4E00 + zipfChar.Uint64())})
	}
	zipfEN := rand.NewZipf(r, 1.1, 2, uint64(len(en)-1))
	zipfZH := rand.NewZipf(r, 1.1, 2, uint64(len(zh)-1))
	c := &corpus{}
	for i := range n {
		var b strings.Builder
		target := 300 + r.IntN(500)
		chinese := i%2 == 1
		for b.Len() < target*map[bool]int{false: 1, true: 3}[chinese] {
			if chinese {
				b.WriteString(zh[zipfZH.Uint64()])
				if r.IntN(12) == 0 {
					b.WriteString("，")
				}
			} else {
				b.WriteString(en[zipfEN.Uint64()])
				b.WriteByte(' ')
			}
		}
		doc := i / 20
		c.passages = append(c.passages, switchboard.Passage{
			ID:         fmt.Sprintf("p%d", i),
			DocumentID: fmt.Sprintf("d%d", doc),
			InboxID:    fmt.Sprintf("inbox%d", doc%4),
			Title:      fmt.Sprintf("Document %d", doc),
			Heading:    fmt.Sprintf("Section %d", i%20),
			Text:       b.String(),
			Ord:        i % 20,
		})
	}
	for i := range 200 {
		if i%2 == 0 {
			c.queries = append(c.queries, fmt.Sprintf("how do I %s the %s %s", en[zipfEN.Uint64()+20], en[zipfEN.Uint64()+50], en[r.IntN(len(en))]))
		} else {
			c.queries = append(c.queries, "怎么"+zh[zipfZH.Uint64()+20]+zh[zipfZH.Uint64()+50]+zh[r.IntN(len(zh))])
		}
	}
	return c
}

func buildIndex(c *corpus) *kb.Index {
	ix := kb.NewIndex()
	for i := 0; i < len(c.passages); i += 20 {
		ix.Add(c.passages[i:min(i+20, len(c.passages))])
	}
	return ix
}

// BenchmarkIndex10kPassages measures building an index of 10,000 passages.
func BenchmarkIndex10kPassages(b *testing.B) {
	c := newCorpus(10000)
	for b.Loop() {
		buildIndex(c)
	}
}

// BenchmarkSearch measures one search among 10,000 passages (2,500 per inbox).
func BenchmarkSearch(b *testing.B) {
	c := newCorpus(10000)
	ix := buildIndex(c)
	i := 0
	for b.Loop() {
		q := c.queries[i%len(c.queries)]
		ix.Search(fmt.Sprintf("inbox%d", i%4), q, 4)
		i++
	}
}

// BenchmarkIndexFootprint reports the heap an index of 10,000 passages
// holds (passage text included) and the p50/p99 latency of searches.
func BenchmarkIndexFootprint(b *testing.B) {
	c := newCorpus(10000)
	var textBytes int
	for _, p := range c.passages {
		textBytes += len(p.Text)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := buildIndex(c)
	runtime.GC()
	runtime.ReadMemStats(&after)
	var lat []time.Duration
	hits := 0
	for b.Loop() {
		q := c.queries[len(lat)%len(c.queries)]
		start := time.Now()
		hits += len(ix.Search(fmt.Sprintf("inbox%d", len(lat)%4), q, 4))
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/(1<<20), "heap-MB")
	b.ReportMetric(float64(textBytes)/(1<<20), "text-MB")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(hits)/float64(len(lat)), "hits/query")
	b.ReportMetric(float64(ix.Len("")), "passages")
}
