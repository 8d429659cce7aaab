package moderation

import (
	switchboard "github.com/switchboard-chat/switchboard"
)

// stream is the StreamFilter of a Filter. It runs the same scanner as
// Check over the chunks as they come and holds back only the text a future
// match could still cover: the current automaton state's prefix (at most
// the longest word, in normalised characters, with the separators inside
// and after it) and an incomplete UTF-8 sequence. Masking is decided before
// any masked byte is released, so the concatenated output of Push and Flush
// equals Check(...).Text on the whole text.
//
// Hit offsets are byte offsets in the input stream (the concatenated
// chunks), like Check's offsets in its text. After a block every call
// returns "" and ActionBlock.
type stream struct {
	f       *Filter
	a       *automaton
	sc      scanner
	buf     []byte // input not yet released, from offset base
	base    int
	scanned int   // input offset up to which runes were fed
	masks   []hit // masking hits not yet fully released
	hits    []hit // scratch
	blocked bool
}

func newStream(f *Filter, a *automaton) *stream {
	s := &stream{f: f, a: a}
	s.sc.reset(a)
	return s
}

// Push implements switchboard.StreamFilter.
func (s *stream) Push(chunk string) (string, switchboard.ModerationResult) {
	return s.push(chunk, false)
}

// Flush implements switchboard.StreamFilter.
func (s *stream) Flush() (string, switchboard.ModerationResult) {
	return s.push("", true)
}

func (s *stream) push(chunk string, final bool) (string, switchboard.ModerationResult) {
	if s.blocked {
		return "", switchboard.ModerationResult{Action: switchboard.ActionBlock}
	}
	chunkStart := s.base + len(s.buf)
	s.buf = append(s.buf, chunk...)
	var n int
	s.hits, n = s.sc.scan(s.buf[s.scanned-s.base:], s.scanned, final, s.hits[:0])
	s.scanned += n

	var res switchboard.ModerationResult
	release := s.sc.hold()
	if final {
		release = s.base + len(s.buf)
	}
	if len(s.hits) > 0 {
		res = s.f.result(s.a, s.hits, DirectionOutput)
		for _, h := range s.hits {
			p := &s.a.pats[h.pat]
			if p.mask {
				s.masks = append(s.masks, h)
			}
			if p.action == switchboard.ActionBlock {
				if !s.blocked || h.start < release {
					release = h.start
				}
				s.blocked = true
			}
		}
		if s.blocked {
			// Stop before the blocked word. Matches still waiting for a
			// boundary after them are masked too: better hide a little too
			// much of the last safe text than show a listed word.
			s.masks = append(s.masks, s.sc.pending...)
		}
	}
	out := s.release(release, chunk, chunkStart)
	res.Text = out
	if s.blocked {
		res.Action = switchboard.ActionBlock
		s.buf, s.masks = nil, nil
	}
	return out, res
}

// release returns the input up to offset end, masked, and forgets it.
// chunk is the last chunk pushed, starting at offset chunkStart: text that
// lies within it and needs no mask is returned without copying.
func (s *stream) release(end int, chunk string, chunkStart int) string {
	if end <= s.base {
		return ""
	}
	n := end - s.base
	text := s.buf[:n]
	var out []byte
	if len(s.masks) == 0 {
		if s.base >= chunkStart {
			str := chunk[s.base-chunkStart : end-chunkStart]
			s.buf = append(s.buf[:0], s.buf[n:]...)
			s.base = end
			return str
		}
		out = text
	} else {
		out = appendMasked(make([]byte, 0, n), string(text), s.base, s.a, s.masks)
		live := s.masks[:0]
		for _, h := range s.masks {
			if h.end > end {
				live = append(live, h)
			}
		}
		s.masks = live
	}
	str := string(out)
	s.buf = append(s.buf[:0], s.buf[n:]...)
	s.base = end
	return str
}
