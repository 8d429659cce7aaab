package moderation_test

import (
	"strings"
	"testing"

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
