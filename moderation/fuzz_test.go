package moderation_test

import (
	"testing"
	"unicode/utf8"

	switchboard "github.com/switchboard-chat/switchboard"
)

func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"this is b a d", "ＢＡＤ", "法 轮-功", "b\u200bad", "class ass", "ab c de",
		"secret", "\xff\xfe", "hers she", "** b*a*d", "a\u0301ss", "ΚΑΚΌΣ",
	} {
		f.Add(s, uint8(3))
	}
	flt := MustFilter(f,
		mask("bad", "ass", "法轮功", "abc", "cde", "he", "she", "hers", "κακός", "ß"),
		list(switchboard.ActionReview, "hmm", "轮"),
		list(switchboard.ActionHandoff, "human"),
	)
	blocking := MustFilter(f, mask("bad", "法轮"), list(switchboard.ActionBlock, "secret", "轮功"))
	f.Fuzz(func(t *testing.T, text string, chunk uint8) {
		res := flt.Check("", text)
		if res.Action == switchboard.ActionBlock {
			t.Fatal("no block list")
		}
		for _, h := range res.Hits {
			if h.Start < 0 || h.End > len(text) || h.Start >= h.End {
				t.Fatalf("hit %+v out of range", h)
			}
		}
		if utf8.RuneCountInString(res.Text) != utf8.RuneCountInString(text) {
			t.Fatalf("masking changed the rune count: %q → %q", text, res.Text)
		}
		// Masked output is clean.
		for _, h := range flt.Check("", res.Text).Hits {
			if h.Action == switchboard.ActionMask {
				t.Fatalf("masked %q → %q still hits %+v", text, res.Text, h)
			}
		}
		// The stream shows what Check stores, whatever the chunking.
		out, results := streamAll(flt.StreamFilter(""), text, int(chunk%16)+1, 1, 7)
		if out != res.Text {
			t.Fatalf("stream %q, check %q (text %q)", out, res.Text, text)
		}
		if hits := collectHits(results); !equalHits(hits, res.Hits) {
			t.Fatalf("stream hits %+v, check hits %+v", hits, res.Hits)
		}
		// A blocked stream releases only a prefix of Check's text, ending
		// before the first blocked word.
		bres := blocking.Check("", text)
		out, results = streamAll(blocking.StreamFilter(""), text, int(chunk%5)+1)
		last := results[len(results)-1]
		if (last.Action == switchboard.ActionBlock) != (bres.Action == switchboard.ActionBlock) {
			t.Fatalf("stream action %q, check action %q", last.Action, bres.Action)
		}
		if bres.Action == switchboard.ActionBlock {
			first := len(text)
			for _, h := range bres.Hits {
				if h.Action == switchboard.ActionBlock {
					first = min(first, h.Start)
				}
			}
			if len(out) > first {
				t.Fatalf("released %q past the blocked word at %d in %q", out, first, text)
			}
			for _, h := range blocking.Check("", out).Hits {
				if h.Action == switchboard.ActionBlock || h.Action == switchboard.ActionMask {
					t.Fatalf("released %q contains %+v", out, h)
				}
			}
		} else if out != bres.Text {
			t.Fatalf("stream %q, check %q", out, bres.Text)
		}
	})
}
