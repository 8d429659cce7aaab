package llmsim

import (
	"github.com/switchboard-chat/switchboard"

	"strings"
	"unicode"
	"unicode/utf8"
)

// vocabularyText holds the words of generated replies, one space apart.
const vocabularyText = "the quick answer is that your order ships today and arrives within three days " +
	"please check the tracking link in email we can also help with returns refunds billing questions " +
	"our team is available around the clock so feel free to ask anything else about account settings " +
	"or delivery options thanks for waiting here are details you need now simply click save then continue "

// newVocabulary returns the tokens of generated replies: each a word and
// the space after it, sliced from vocabularyText.
func newVocabulary() []string {
	var toks []string
	start := 0
	for i := 0; i < len(vocabularyText); i++ {
		if vocabularyText[i] == ' ' {
			toks = append(toks, vocabularyText[start:i+1])
			start = i + 1
		}
	}
	return toks
}

// hashString is FNV-1a, 64 bit.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// splitmix64 is a stateless mixer: splitmix64(seed+i) is a deterministic
// pseudo-random sequence.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unitFloat maps x to [0, 1).
func unitFloat(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// generate returns n tokens of vocab chosen by a hash of seedText.
func generate(vocab []string, seedText string, n int) []string {
	h := hashString(seedText)
	toks := make([]string, n)
	for i := range toks {
		toks[i] = vocab[splitmix64(h+uint64(i))%uint64(len(vocab))]
	}
	return toks
}

// tokenize splits s into tokens that keep their leading whitespace
// ("Hello", " world,"); CJK characters are one token each.
func tokenize(s string) []string {
	var toks []string
	start := 0      // start of the current token
	inWord := false // the current token has a non-space rune
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case isCJK(r):
			if inWord {
				toks = append(toks, s[start:i])
				start = i
			}
			toks = append(toks, s[start:i+size])
			start = i + size
			inWord = false
		case unicode.IsSpace(r):
			if inWord {
				toks = append(toks, s[start:i])
				start = i
				inWord = false
			}
		default:
			inWord = true
		}
		i += size
	}
	if start < len(s) {
		toks = append(toks, s[start:])
	}
	return toks
}

func isCJK(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		(r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}

// remainder returns the tokens of reply that follow prefix, splitting the
// token prefix ends in. ok is false when prefix is not a prefix of the reply.
func remainder(toks []string, prefix string) (rest []string, ok bool) {
	if prefix == "" {
		return toks, true
	}
	off := 0
	for i, t := range toks {
		end := off + len(t)
		switch {
		case end <= len(prefix):
			if t != prefix[off:end] {
				return toks, false
			}
		default:
			// prefix ends inside (or at the start of) token i.
			head := prefix[off:]
			if !strings.HasPrefix(t, head) {
				return toks, false
			}
			if head == "" {
				return toks[i:], true
			}
			rest = make([]string, 0, len(toks)-i)
			rest = append(rest, t[len(head):])
			return append(rest, toks[i+1:]...), true
		}
		off = end
	}
	if off == len(prefix) {
		return nil, true
	}
	return toks, false
}

// joinTokens concatenates toks.
func joinTokens(toks []string) string {
	n := 0
	for _, t := range toks {
		n += len(t)
	}
	var b strings.Builder
	b.Grow(n)
	for _, t := range toks {
		b.WriteString(t)
	}
	return b.String()
}

// appendJSONTokens appends the tokens as one quoted JSON string.
func appendJSONTokens(b []byte, toks []string) []byte {
	b = append(b, '"')
	for _, t := range toks {
		b = switchboard.AppendJSONStringBody(b, t)
	}
	return append(b, '"')
}

// estimateTokens is the prompt-token estimate: about four bytes a token.
func estimateTokens(chars int) int {
	if chars <= 0 {
		return 0
	}
	return (chars + 3) / 4
}
