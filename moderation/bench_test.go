package moderation_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	switchboard "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/moderation"
)

// genWords returns n distinct words: two thirds Latin (4–10 letters), one
// third Chinese (2–4 characters), deterministic.
func genWords(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := make(map[string]bool)
	words := make([]string, 0, n)
	for len(words) < n {
		var b strings.Builder
		if len(words)%3 == 2 {
			for range 2 + rng.IntN(3) {
				b.WriteRune(rune(0x4E00 + rng.IntN(3000)))
			}
		} else {
			for range 4 + rng.IntN(7) {
				b.WriteByte(byte('a' + rng.IntN(26)))
			}
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
}

// message1KiB is a 1 KiB chat message, English with some Chinese, with
// two listed words in it.
func message1KiB(words []string) string {
	base := "Hello, I ordered a pair of shoes last week (order #48213) and they still have not arrived. " +
		"The tracking page says 已发货 but nothing has changed for five days. Could you check with the courier? " +
		"我想知道什么时候能到，谢谢。Also, my account email is wrong; please update it. "
	var b strings.Builder
	for b.Len() < 1024 {
		b.WriteString(base)
		if b.Len() > 300 && b.Len() < 600 {
			b.WriteString(" " + words[0] + " and " + words[2] + " ")
		}
	}
	return b.String()[:1024-3] + "end"
}

func largeFilter(tb testing.TB) (*moderation.Filter, []string) {
	tb.Helper()
	words := genWords(10000)
	f := MustFilter(tb,
		switchboard.WordList{Name: "block", Action: switchboard.ActionBlock, Words: words[:1000]},
		switchboard.WordList{Name: "mask", Action: switchboard.ActionMask, Words: words[1000:9000]},
		switchboard.WordList{Name: "review", Action: switchboard.ActionReview, Words: words[9000:]},
	)
	return f, words
}

func TestLargeList(t *testing.T) {
	f, words := largeFilter(t)
	for i, w := range words {
		if i%97 != 0 {
			continue
		}
		res := f.Check("", "x "+w+" y")
		if len(res.Hits) != 1 || res.Hits[0].Start != 2 || res.Hits[0].End != 2+len(w) {
			t.Fatalf("word %d %q: %+v", i, w, res)
		}
	}
	msg := message1KiB(words[1000:])
	res := f.Check("", msg)
	if res.Action != switchboard.ActionMask || len(res.Hits) < 2 {
		t.Fatalf("%q: %+v", msg, res.Hits)
	}
	out, _ := streamAll(f.StreamFilter(""), msg, 7, 13, 1)
	if out != res.Text {
		t.Fatalf("stream %q\ncheck %q", out, res.Text)
	}
}

func BenchmarkCheck1KiB10kWords(b *testing.B) {
	f, words := largeFilter(b)
	msg := message1KiB(words[1000:])
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		f.Check("", msg)
	}
}

func BenchmarkCheck1KiB10kWordsClean(b *testing.B) {
	f, words := largeFilter(b)
	msg := message1KiB([]string{"none", "x", "none"})
	_ = words
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		f.Check("", msg)
	}
}

func BenchmarkCheck1KiB1kWords(b *testing.B) {
	words := genWords(1000)
	f := MustFilter(b, switchboard.WordList{Action: switchboard.ActionMask, Words: words})
	msg := message1KiB(words)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		f.Check("", msg)
	}
}

// BenchmarkStream filters a 1 KiB message arriving in 16-byte chunks, as
// model output does, with 10,000 words.
func BenchmarkStream(b *testing.B) {
	f, words := largeFilter(b)
	msg := message1KiB(words[1000:])
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		sf := f.StreamFilter("")
		for i := 0; i < len(msg); i += 16 {
			sf.Push(msg[i:min(i+16, len(msg))])
		}
		sf.Flush()
	}
}

func BenchmarkCompile10kWords(b *testing.B) {
	words := genWords(10000)
	f := moderation.New(moderation.Options{})
	lists := []switchboard.WordList{{Action: switchboard.ActionMask, Words: words}}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.SetLists("", lists); err != nil {
			b.Fatal(err)
		}
	}
}
