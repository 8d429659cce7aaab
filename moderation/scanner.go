package moderation

import "unicode/utf8"

// hit is a match found by the scanner, in byte offsets of the scanned
// text (or stream).
type hit struct {
	pat        int32
	start, end int
}

// sigPos is what the scanner remembers of a recent significant rune.
type sigPos struct {
	start    int  // byte offset of the rune
	glueLeft bool // glued to the previous significant rune (same word)
}

// smallRing is the ring size kept inline; longer words use a heap ring.
const smallRing = 32

// scanner feeds runes into an automaton and reports matches that satisfy
// the word-boundary rules. It is the one matching loop used by Check and
// by the stream filter, which is what makes their results identical.
type scanner struct {
	a        *automaton
	state    int32
	n        int  // significant runes seen
	lastGlue bool // the last significant rune is a glue rune with no separator since
	end      int  // offset after the last rune fed
	small    [smallRing]sigPos
	big      []sigPos // when a.maxLen > smallRing
	pending  []hit    // matches ending at the last significant rune that need a boundary after it
}

func (s *scanner) reset(a *automaton) {
	s.a = a
	if a.maxLen > smallRing {
		s.big = make([]sigPos, a.maxLen)
	}
}

func (s *scanner) pos(i int) *sigPos {
	if s.big != nil {
		return &s.big[i%len(s.big)]
	}
	return &s.small[i%smallRing]
}

// scan feeds the complete runes of text, which starts at offset base, and
// appends the matches decided on the way to out. With final set the text
// ends the input: trailing partial runes are fed as invalid bytes and
// pending matches are decided. It returns how many bytes were consumed.
func (s *scanner) scan(text []byte, base int, final bool, out []hit) ([]hit, int) {
	a := s.a
	i := 0
	for i < len(text) {
		var ri runeInfo
		size := 1
		if b := text[i]; b < utf8.RuneSelf {
			ri = asciiInfo[b]
		} else {
			if !final && !utf8.FullRune(text[i:]) {
				break
			}
			var r rune
			r, size = utf8.DecodeRune(text[i:])
			ri = classifySlow(r)
		}
		start := base + i
		i += size
		switch ri.kind {
		case kindIgnorable:
			continue
		case kindSeparator:
			s.lastGlue = false
			continue
		}
		glueLeft := s.lastGlue && ri.glue
		if len(s.pending) > 0 {
			if !glueLeft {
				out = append(out, s.pending...)
			}
			s.pending = s.pending[:0]
		}
		s.lastGlue = ri.glue
		p := s.pos(s.n)
		p.start, p.glueLeft = start, glueLeft
		s.n++
		s.state = a.step(s.state, a.class(ri.r))
		for pi := a.outHead[s.state]; pi >= 0; pi = a.patNext[pi] {
			pat := &a.pats[pi]
			first := s.pos(s.n - pat.length)
			if pat.needLeft && first.glueLeft {
				continue
			}
			h := hit{pat: pi, start: first.start, end: base + i}
			if pat.needRight {
				s.pending = append(s.pending, h)
			} else {
				out = append(out, h)
			}
		}
	}
	s.end = base + i
	if final {
		out = append(out, s.pending...)
		s.pending = s.pending[:0]
	}
	return out, i
}

// hold returns the offset from which text must be held back: no future
// match can start before it. Only the current automaton state (the longest
// suffix that may still grow into a word) is held, never more than the
// longest word.
func (s *scanner) hold() int {
	d := int(s.a.depth[s.state])
	if d == 0 {
		return s.end
	}
	return s.pos(s.n - d).start
}
