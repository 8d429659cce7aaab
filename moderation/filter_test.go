package moderation_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	switchboard "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/moderation"
)

// MustFilter returns a Filter with the given global lists.
func MustFilter(tb testing.TB, lists ...switchboard.WordList) *moderation.Filter {
	tb.Helper()
	f := moderation.New(moderation.Options{})
	if err := f.SetLists("", lists); err != nil {
		tb.Fatal(err)
	}
	return f
}

func mask(words ...string) switchboard.WordList {
	return switchboard.WordList{Name: "mask", Action: switchboard.ActionMask, Words: words}
}

func list(a switchboard.ModerationAction, words ...string) switchboard.WordList {
	return switchboard.WordList{Name: string(a), Action: a, Words: words}
}

// streamAll pushes text in chunks of the given byte sizes (cycled) and
// returns the concatenated output and results.
func streamAll(sf switchboard.StreamFilter, text string, sizes ...int) (string, []switchboard.ModerationResult) {
	var b strings.Builder
	var results []switchboard.ModerationResult
	for i := 0; len(text) > 0; i++ {
		n := min(len(text), max(1, sizes[i%len(sizes)]))
		out, res := sf.Push(text[:n])
		text = text[n:]
		b.WriteString(out)
		results = append(results, res)
		if res.Action == switchboard.ActionBlock {
			return b.String(), results
		}
	}
	out, res := sf.Flush()
	b.WriteString(out)
	return b.String(), append(results, res)
}

func TestNormalisation(t *testing.T) {
	f := MustFilter(t,
		mask("bad", "法轮功", "ass", "Straße", "κακός", "плохо", "ng", "ａｂｃｄ", "c3po"),
	)
	for _, tt := range []struct {
		name, in, want string
	}{
		{"Plain", "this is bad.", "this is ***."},
		{"Case", "BAD Bad bAd", "*** *** ***"},
		{"FullWidthLatin", "ＢＡＤ day", "*** day"},
		{"FullWidthListedWord", "abcd ABCD", "**** ****"},
		{"FullWidthDigitsAndPunct", "Ｃ３ＰＯ！", "****！"},
		{"ZeroWidthSpace", "b\u200bad", "****"},
		{"ZeroWidthJoiners", "b\u200da\u200cd\u2060", "*****\u2060"},
		{"SoftHyphenAndBOM", "b\u00ada\ufeffd", "*****"},
		{"SpacesBetweenLetters", "so b a d!", "so *****!"},
		{"PunctuationBetweenLetters", "b.a-d b_a_d b/a\\d", "***** ***** *****"},
		{"ChineseWithSpacesAndPunct", "他说法 轮-功好", "他说*****好"},
		{"ChineseFullWidthPunct", "法，轮。功", "*****"},
		{"ChineseGluedToText", "学法轮功的人", "学***的人"},
		{"ChineseZeroWidth", "法\u200b轮\u200d功", "*****"},
		{"MixedScripts", "这个 bad 词 and 法轮功 ok", "这个 *** 词 and *** ok"},
		{"LatinNextToChinese", "这是bad词", "这是***词"},
		{"Cyrillic", "ПЛОХО, ok", "*****, ok"},
		{"Greek", "ΚΑΚΌΣ κακός", "***** *****"},
		{"GermanSharpS", "STRASSE Straße", "STRASSE ******"},
		{"NoMatchInsideWord", "class assistant bass badge", "class assistant bass badge"},
		{"NoMatchSpanningWordsGlued", "ba dge", "ba dge"},
		{"Boundaries", "ass, (ass) ass!", "***, (***) ***!"},
		{"DigitsGlue", "bad1 1bad bad", "bad1 1bad ***"},
		{"UnderscoreSeparates", "_bad_", "_***_"},
		{"MaskCharIsBreak", "b*a*d", "b*a*d"},
		{"EmptyText", "", ""},
		{"InvalidUTF8", "b\xffad \xff", "**** \xff"},
		{"MultiByteInside", "b\u3000a\u00a0d", "*****"},
		{"KelvinSign", "c3po \u212a", "**** \u212a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := f.Check("", tt.in)
			if res.Text != tt.want {
				t.Fatalf("Check(%q).Text = %q, want %q (hits %+v)", tt.in, res.Text, tt.want, res.Hits)
			}
			if (tt.in != tt.want) != (res.Action == switchboard.ActionMask) {
				t.Fatalf("Action = %q", res.Action)
			}
		})
	}
}

func TestHitMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := moderation.New(moderation.Options{Registerer: reg})
	if err := f.SetLists("", []switchboard.WordList{mask("bad"), list(switchboard.ActionBlock, "worse")}); err != nil {
		t.Fatal(err)
	}
	f.Check("", "bad bad worse")
	streamAll(f.StreamFilter(""), "so bad", 2)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]float64)
	for _, mf := range mfs {
		if mf.GetName() != "switchboard_moderation_hits_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := make(map[string]string)
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["action"]+"/"+labels["direction"]] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"block/input": 1, "mask/input": 2, "mask/output": 1, "block/output": 0, "review/input": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("hits{%s} = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestConcurrentSetListsAndCheck(t *testing.T) {
	f := MustFilter(t, mask("bad"))
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				if i == 0 {
					if err := f.SetLists(fmt.Sprint("inbox", j%3), []switchboard.WordList{mask(fmt.Sprint("w", j))}); err != nil {
						t.Error(err)
					}
					continue
				}
				if got := f.Check(fmt.Sprint("inbox", j%3), "bad").Text; got != "***" {
					t.Errorf("got %q", got)
				}
				sf := f.StreamFilter("")
				if out, _ := streamAll(sf, "a bad day", 3); out != "a *** day" {
					t.Errorf("stream %q", out)
				}
			}
		})
	}
	wg.Wait()
}
