package llmsim

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "Hello world", "  a\n\nb ", "你好，世界 ok", "x\ty\"z\\", "\x00\x1f"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, cut int) {
		toks := tokenize(s)
		if joinTokens(toks) != s {
			t.Fatalf("tokens %q do not join to %q", toks, s)
		}
		for _, tok := range toks {
			if tok == "" {
				t.Fatalf("empty token in %q", toks)
			}
		}
		if cut < 0 || cut > len(s) {
			return
		}
		rest, ok := remainder(toks, s[:cut])
		if !ok || s[:cut]+joinTokens(rest) != s {
			t.Fatalf("remainder after %d of %q: %q %v", cut, s, rest, ok)
		}
		if _, ok := remainder(toks, s+"x"); ok {
			t.Fatalf("longer prefix accepted")
		}
		if utf8.ValidString(s) {
			b := appendJSONTokens(nil, toks)
			var back string
			if err := json.Unmarshal(b, &back); err != nil || back != s {
				t.Fatalf("json %s: %q %v", b, back, err)
			}
		}
	})
}

func TestGenerate(t *testing.T) {
	a, b := generate(newVocabulary(), "hello", 50), generate(newVocabulary(), "hello", 50)
	if strings.Join(a, "") != strings.Join(b, "") || len(a) != 50 {
		t.Fatal("generate is not deterministic")
	}
	if strings.Join(a, "") == strings.Join(generate(newVocabulary(), "hellp", 50), "") {
		t.Fatal("different seeds, same text")
	}
	if v := newVocabulary(); len(v) != 64 || v[0] != "the " || v[63] != "continue " {
		t.Fatalf("vocabulary %d %q", len(v), v)
	}
}

func TestContinuationSeed(t *testing.T) {
	tests := []struct {
		name         string
		msgs         []message
		prefix, seed string
	}{
		{"Plain", []message{{"system", "s"}, {"user", "q"}}, "", "q"},
		{"Prefill", []message{{"user", "q"}, {"assistant", "ab"}}, "ab", "q"},
		{"MarkerMessage", []message{{"user", "q"}, {"assistant", "ab"}, {"user", "go on " + PartialMarker + "ab" + EndMarker}}, "ab", "q"},
		{"MarkerOnly", []message{{"user", "q " + PartialMarker + "ab" + EndMarker + " "}}, "ab", "q"},
		{"UnclosedMarker", []message{{"user", "q " + PartialMarker + "ab"}}, "", "q " + PartialMarker + "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &request{messages: tt.msgs}
			if p, s := r.continuation(); p != tt.prefix || s != tt.seed {
				t.Fatalf("got %q %q, want %q %q", p, s, tt.prefix, tt.seed)
			}
		})
	}
}
