package kb

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Tokenization.
//
// Passages and questions go through the same tokenizer, so the only thing
// that matters is that equal meanings produce equal tokens often enough:
//
//   - Text is first folded with golang.org/x/text/width (full-width ASCII
//     "ＡＰＩ" becomes "API", half-width katakana becomes full-width, then
//     NFC composes "ｼﾞ" into "ジ") and lowercased.
//   - Latin (and any other non-CJK) letters and digits form words; everything
//     else separates them, so "api_key_env" is "api", "key", "env" and
//     "widget.js" is "widget", "js". English stopwords and one-letter words
//     are dropped, and a light suffix stripper maps plurals, -ing, -ed and
//     -ation forms onto one stem ("embedding", "embedded", "embeds" → "embed";
//     "configure", "configuring", "configuration" → "configur"). It is not
//     Porter: it only needs to be consistent, not linguistic.
//   - CJK (Han, Hiragana, Katakana, Hangul) has no spaces, and a dictionary
//     segmenter is heavy and wrong on product names, so each run of CJK
//     characters yields its character bigrams (which carry most of the
//     meaning of Chinese words, nearly all of which are two characters) plus
//     its unigrams (which keep recall for one-character words and for words
//     split differently in question and answer). A script change ends a run,
//     so "GPT模型" is "gpt", "模型", "模", "型".
//   - Function characters (的 了 吗 呢 么 怎 什 …, Japanese particles) are
//     dropped as unigrams and no bigram containing one is formed; a few
//     common question bigrams (可以, 需要, 一下 …) are dropped too.
//
// Tokens are plain strings; a unigram of one CJK character counts half as
// much as other tokens in a query (see queryWeight), so a question matches a
// passage by its words, not by scattered characters.

// Tokenize splits s into index terms, in order, with repeats.
func Tokenize(s string) []string {
	return appendTokens(nil, s)
}

func appendTokens(dst []string, s string) []string {
	if !isASCII(s) {
		s = norm.NFC.String(width.Fold.String(s))
	}
	var word []rune
	var cjk []rune
	flushWord := func() {
		if len(word) == 0 {
			return
		}
		w := string(word)
		word = word[:0]
		if t, ok := latinTerm(w); ok {
			dst = append(dst, t)
		}
	}
	flushCJK := func() {
		if len(cjk) == 0 {
			return
		}
		dst = appendCJK(dst, cjk)
		cjk = cjk[:0]
	}
	for _, r := range s {
		switch {
		case isCJK(r):
			flushWord()
			cjk = append(cjk, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			flushCJK()
			word = append(word, unicode.ToLower(r))
		default:
			flushWord()
			flushCJK()
		}
	}
	flushWord()
	flushCJK()
	return dst
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isCJK reports whether r is written without spaces between words.
func isCJK(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		r == 'ー' // katakana prolonged sound mark is Common script
}

// isCJKUnigram reports whether t is one CJK character.
func isCJKUnigram(t string) bool {
	r, n := utf8.DecodeRuneInString(t)
	return n == len(t) && isCJK(r)
}

func appendCJK(dst []string, run []rune) []string {
	for i, r := range run {
		if cjkStopChars[r] {
			continue
		}
		dst = append(dst, string(r))
		if i+1 < len(run) && !cjkStopChars[run[i+1]] {
			bi := string(run[i : i+2])
			if !cjkStopBigrams[bi] {
				dst = append(dst, bi)
			}
		}
	}
	return dst
}

// latinTerm normalises one lowercased word; ok is false for stopwords.
func latinTerm(w string) (string, bool) {
	if englishStopwords[w] {
		return "", false
	}
	if len(w) == 1 && (w[0] < '0' || w[0] > '9') {
		return "", false
	}
	return stem(w), true
}

// stem strips common English suffixes. Words with digits or non-ASCII
// letters are kept as they are.
func stem(w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return w
		}
	}
	if len(w) <= 3 {
		return w
	}
	switch {
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
	case strings.HasSuffix(w, "s"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ation") && len(w) >= 8:
		w = w[:len(w)-5]
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ing") && len(w) >= 6:
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "ed") && len(w) >= 6 && !strings.HasSuffix(w, "eed"):
		w = undouble(w[:len(w)-2])
	}
	if len(w) > 3 && w[len(w)-1] == 'e' {
		w = w[:len(w)-1]
	}
	return w
}

// undouble turns "embedd" into "embed" and "runn" into "run", but keeps
// "install" and "access".
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] {
		switch w[n-1] {
		case 'l', 's', 'z', 'a', 'e', 'i', 'o', 'u':
			return w
		}
		return w[:n-1]
	}
	return w
}

var englishStopwords = setOf(`a about above after again against all am an and any are as at be because
been before being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out over own
please same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves s t d ll m re ve don doesn didn isn aren wasn weren won
let lets get got also may might must shall cannot can't i'm hi hello hey thanks thank ok okay much many tell know want need like give show explain
someone something anything`)

var cjkStopChars = runeSetOf(`的了吗呢吧啊呀嘛么哦哈嗯呃怎什哪何您你我他她它们这那是也就都把被与或及` +
	`のはをにがでとへやかもね`)

var cjkStopBigrams = setOf(`可以 需要 一个 一下 没有 还是 但是 因为 所以 如果 或者 以及 为什 时候
所有 应该 能够 请问 如何 知道 告诉 一些 现在 已经 自己 进行 使用 问题`)

func setOf(words string) map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

func runeSetOf(chars string) map[rune]bool {
	m := make(map[rune]bool)
	for _, r := range chars {
		m[r] = true
	}
	return m
}
