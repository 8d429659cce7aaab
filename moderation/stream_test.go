package moderation_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	switchboard "github.com/switchboard-chat/switchboard"
)

func TestCheck_Overlapping(t *testing.T) {
	f := MustFilter(t, mask("abc", "bcd", "cde", "法轮", "轮功", "he", "she", "hers"))
	for _, tt := range []struct{ in, want string }{
		{"abcd", "abcd"}, // both glued to a letter
		{"x abc bcd", "x *** ***"},
		{"ab c de", "*******"}, // "abc" and "cde" share the c
		{"法轮功", "***"},
		{"ushers", "ushers"}, // Latin words need boundaries
		{"hers", "****"},
		{"she hers", "*** ****"},
	} {
		if got := f.Check("", tt.in).Text; got != tt.want {
			t.Errorf("Check(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheck_HitOffsets(t *testing.T) {
	f := MustFilter(t, mask("bad"), list(switchboard.ActionReview, "法轮功"))
	text := "é b\u200bad 法 轮功"
	res := f.Check("", text)
	if res.Action != switchboard.ActionMask {
		t.Fatalf("action %q", res.Action)
	}
	want := []switchboard.ModerationHit{
		{Word: "bad", Action: switchboard.ActionMask, Start: 3, End: 9},
		{Word: "法轮功", Action: switchboard.ActionReview, Start: 10, End: 20},
	}
	if len(res.Hits) != len(want) {
		t.Fatalf("hits %+v", res.Hits)
	}
	for i := range want {
		if res.Hits[i] != want[i] {
			t.Fatalf("hit %d = %+v, want %+v", i, res.Hits[i], want[i])
		}
	}
	if got := text[res.Hits[1].Start:res.Hits[1].End]; got != "法 轮功" {
		t.Fatalf("hit text %q", got)
	}
	// Review words are flagged, not masked.
	if res.Text != "é **** 法 轮功" {
		t.Fatalf("text %q", res.Text)
	}
}

func TestCheck_StrongestActionWins(t *testing.T) {
	f := MustFilter(t,
		list(switchboard.ActionReview, "alpha", "both"),
		list(switchboard.ActionMask, "beta", "both"),
		list(switchboard.ActionHandoff, "gamma"),
		list(switchboard.ActionBlock, "delta"),
	)
	for _, tt := range []struct {
		in   string
		want switchboard.ModerationAction
	}{
		{"nothing here", switchboard.ActionAllow},
		{"alpha", switchboard.ActionReview},
		{"alpha beta", switchboard.ActionMask},
		{"gamma beta alpha", switchboard.ActionHandoff},
		{"alpha delta gamma", switchboard.ActionBlock},
		{"both", switchboard.ActionMask},
	} {
		if got := f.Check("", tt.in).Action; got != tt.want {
			t.Errorf("Check(%q).Action = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := f.Check("", "both").Text; got != "****" {
		t.Errorf("word in a mask and a review list: %q", got)
	}
}

func TestStream_SplitAtEveryPosition(t *testing.T) {
	f := MustFilter(t, mask("bad", "法轮功", "ass"), list(switchboard.ActionReview, "hmm"))
	for _, text := range []string{
		"this is b a d, and 法 轮-功 too",
		"ＢＡＤ b\u200bad class ass hmm",
		"a\U0001F600b 法\u200d轮\u00a0功 bad",
		"bad",
		"ba",
	} {
		want := f.Check("", text)
		// Two chunks split at every byte.
		for i := 0; i <= len(text); i++ {
			sf := f.StreamFilter("")
			o1, _ := sf.Push(text[:i])
			o2, _ := sf.Push(text[i:])
			o3, _ := sf.Flush()
			if got := o1 + o2 + o3; got != want.Text {
				t.Fatalf("split %q at %d: %q, want %q", text, i, got, want.Text)
			}
		}
		// One byte at a time, and one rune at a time.
		sf := f.StreamFilter("")
		got, results := streamAll(sf, text, 1)
		if got != want.Text {
			t.Fatalf("bytewise %q: %q, want %q", text, got, want.Text)
		}
		if hits := collectHits(results); !equalHits(hits, want.Hits) {
			t.Fatalf("bytewise %q hits %+v, want %+v", text, hits, want.Hits)
		}
		var b strings.Builder
		sf = f.StreamFilter("")
		for _, r := range text {
			o, _ := sf.Push(string(r))
			if !utf8.ValidString(o) {
				t.Fatalf("invalid UTF-8 released: %q", o)
			}
			b.WriteString(o)
		}
		o, _ := sf.Flush()
		if b.WriteString(o); b.String() != want.Text {
			t.Fatalf("runewise %q: %q, want %q", text, b.String(), want.Text)
		}
	}
}

func TestStream_HoldsBackAtMostLongestWord(t *testing.T) {
	f := MustFilter(t, mask("bad", "abcdef"))
	sf := f.StreamFilter("")
	var held int
	text := "xx abcde abcdx ba"
	for i := 0; i < len(text); i++ {
		out, _ := sf.Push(text[i : i+1])
		held += 1 - len(out)
		if held > len("abcdef") {
			t.Fatalf("holding %d bytes after %q", held, text[:i+1])
		}
	}
	if held != 2 { // "ba" may still become "bad"
		t.Fatalf("held %d at the end, want 2", held)
	}
	if out, _ := sf.Flush(); out != "ba" {
		t.Fatalf("flush %q", out)
	}
	// Ordinary text is not held at all.
	sf = f.StreamFilter("")
	if out, _ := sf.Push("hello world. "); out != "hello world. " {
		t.Fatalf("held back ordinary text: %q", out)
	}
}

func TestStream_Block(t *testing.T) {
	f := MustFilter(t, mask("darn"), list(switchboard.ActionBlock, "secret", "机密"))
	sf := f.StreamFilter("")
	out, results := streamAll(sf, "darn, the sec ret is 42", 3)
	last := results[len(results)-1]
	if last.Action != switchboard.ActionBlock {
		t.Fatalf("not blocked: %+v", results)
	}
	if out != "****, the " {
		t.Fatalf("out %q", out)
	}
	if o, res := sf.Push("more"); o != "" || res.Action != switchboard.ActionBlock {
		t.Fatalf("after block: %q %+v", o, res)
	}
	if o, res := sf.Flush(); o != "" || res.Action != switchboard.ActionBlock {
		t.Fatalf("flush after block: %q %+v", o, res)
	}
	sf = f.StreamFilter("")
	out, results = streamAll(sf, "这是机\u200b密文件", 1)
	if out != "这是" || results[len(results)-1].Action != switchboard.ActionBlock {
		t.Fatalf("out %q %+v", out, results)
	}
}

func TestStream_KeepsListsItStartedWith(t *testing.T) {
	f := MustFilter(t, mask("old"))
	sf := f.StreamFilter("")
	if err := f.SetLists("", []switchboard.WordList{mask("new")}); err != nil {
		t.Fatal(err)
	}
	out, _ := streamAll(sf, "old new", 2)
	if out != "*** new" {
		t.Fatalf("out %q", out)
	}
	if got := f.Check("", "old new").Text; got != "old ***" {
		t.Fatalf("check %q", got)
	}
}

func collectHits(results []switchboard.ModerationResult) []switchboard.ModerationHit {
	var hits []switchboard.ModerationHit
	for _, r := range results {
		hits = append(hits, r.Hits...)
	}
	return hits
}

func equalHits(a, b []switchboard.ModerationHit) bool {
	if len(a) != len(b) {
		return false
	}
	count := make(map[switchboard.ModerationHit]int)
	for _, h := range a {
		count[h]++
	}
	for _, h := range b {
		count[h]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}
