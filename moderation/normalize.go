package moderation

import (
	"unicode"

	"golang.org/x/text/width"
)

// Normalisation works rune by rune so that every normalised character maps
// back to exactly one original rune (and so to its byte offsets):
//
//   - format characters (Unicode Cf: zero-width space/joiners, word joiner,
//     BOM, soft hyphen, bidi controls), variation selectors and the
//     combining grapheme joiner are dropped as if absent ("ignorable");
//   - the rest is width-folded (full-width Latin → ASCII, half-width
//     katakana → full-width) and case-folded (a rune maps to the lowest
//     member of its simple case-folding orbit, ASCII letters to lower case);
//   - spaces, punctuation, symbols and control characters are separators:
//     they are skipped, so "b a d", "b.a.d" and "法 轮-功" read as one word;
//   - '*' is the mask character and the one exception: it is a hard break
//     (never part of a word, never skipped), so that masked output can
//     never glue the text around it into a new match, and a masked text
//     is always clean when checked again.
//
// Everything else (letters, marks, numbers, unassigned code points) is a
// significant character and takes part in matching.

// runeKind classifies a rune after folding.
type runeKind uint8

const (
	kindIgnorable runeKind = iota // dropped, as if absent
	kindSeparator                 // skipped between the characters of a word
	kindBreak                     // '*': significant, never in a word
	kindSig                       // significant, may be part of a word
)

// maskRune replaces every original rune of a masked word.
const maskRune = '*'

// runeInfo is what the scanner needs to know about one rune.
type runeInfo struct {
	r    rune     // folded rune
	kind runeKind //
	glue bool     // a letter/digit/mark of a script written with spaces
}

// asciiInfo is the classification of the ASCII range, computed once at
// compile time of the table below (it is never written afterwards).
var asciiInfo = func() (t [128]runeInfo) {
	for b := range t {
		t[b] = classifySlow(rune(b))
	}
	return t
}()

// classify returns the normalisation of r.
func classify(r rune) runeInfo {
	if r < 128 {
		return asciiInfo[r]
	}
	return classifySlow(r)
}

func classifySlow(r rune) runeInfo {
	if isIgnorable(r) {
		return runeInfo{r: r, kind: kindIgnorable}
	}
	r = fold(r)
	switch {
	case r == maskRune:
		return runeInfo{r: r, kind: kindBreak}
	case r == unicode.ReplacementChar, unicode.IsSpace(r), unicode.IsPunct(r), unicode.IsSymbol(r), unicode.IsControl(r):
		return runeInfo{r: r, kind: kindSeparator}
	}
	return runeInfo{r: r, kind: kindSig, glue: isGlue(r)}
}

// isIgnorable reports whether r is invisible and dropped before matching.
func isIgnorable(r rune) bool {
	switch {
	case r < 0xAD:
		return false
	case r == 0x034F, // combining grapheme joiner
		0xFE00 <= r && r <= 0xFE0F,   // variation selectors
		0xE0100 <= r && r <= 0xE01EF: // variation selectors supplement
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// fold maps r to its width- and case-folded form.
func fold(r rune) rune {
	if r < 128 {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	if f := width.LookupRune(r).Folded(); f != 0 {
		r = f
	}
	// The lowest rune of the simple folding orbit, so that K, k and the
	// Kelvin sign, or Σ, σ and ς, all become one rune.
	low := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < low {
			low = f
		}
	}
	if 'A' <= low && low <= 'Z' {
		low += 'a' - 'A'
	}
	return low
}

// continuous are the scripts written without spaces between words: a word
// of these scripts matches anywhere.
var continuous = []*unicode.RangeTable{
	unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul,
	unicode.Bopomofo, unicode.Thai, unicode.Lao, unicode.Khmer,
	unicode.Myanmar, unicode.Yi, unicode.Tibetan,
}

// isGlue reports whether r is a word character of a script written with
// spaces (Latin, Cyrillic, Greek, digits…). Two such characters with no
// separator between them belong to the same word, so a listed word starting
// (ending) with one must not be preceded (followed) by another: "class" does
// not hit "ass".
func isGlue(r rune) bool {
	if r < 128 {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r) {
		return false
	}
	if r == 0x30FC || r == 0xFF70 { // katakana prolonged sound mark (Common script)
		return false
	}
	return !unicode.IsOneOf(continuous, r)
}
