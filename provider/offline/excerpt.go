package offline

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard/kb"
)

// unit is a piece of a passage an excerpt is made of: a sentence, a list
// item or line, or a whole fenced code block.
type unit struct {
	text  string
	line  bool // starts a line
	para  bool // starts a paragraph
	code  bool
	score float64
}

// units cuts a passage into sentences, lines and code blocks.
func units(text string) []unit {
	var us []unit
	for pi, para := range splitParagraphs(text) {
		if strings.HasPrefix(para, "```") || strings.HasPrefix(para, "~~~") {
			us = append(us, unit{text: para, line: true, para: pi > 0, code: true})
			continue
		}
		for li, line := range strings.Split(para, "\n") {
			for si, s := range kb.Sentences(line) {
				if strings.TrimSpace(s) == "" {
					continue
				}
				us = append(us, unit{text: s, line: si == 0, para: si == 0 && li == 0 && pi > 0})
			}
		}
	}
	return us
}

// splitParagraphs splits at blank lines, keeping fenced code blocks whole.
func splitParagraphs(text string) []string {
	var out []string
	var cur []string
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			if !inFence && len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
				cur = nil
			}
			inFence = !inFence
			cur = append(cur, line)
			if !inFence {
				out = append(out, strings.Join(cur, "\n"))
				cur = nil
			}
			continue
		}
		if t == "" && !inFence {
			if len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

// Excerpt picks the sentences of text that best match question, up to
// about budget characters, in their order, marking gaps with "…". A
// sentence that ends with a colon brings the one after it (the list or code
// it introduces). With no match it returns the start of text.
func Excerpt(text, question string, budget int) string {
	us := units(text)
	if len(us) == 0 {
		return strings.TrimSpace(text)
	}
	q := map[string]float64{}
	for _, t := range kb.Tokenize(question) {
		w := 1.0
		if utf8.RuneCountInString(t) == 1 && t[0] >= utf8.RuneSelf {
			w = 0.3
		}
		q[t] = w
	}
	any := false
	for i := range us {
		seen := map[string]bool{}
		for _, t := range kb.Tokenize(us[i].text) {
			if w, ok := q[t]; ok && !seen[t] {
				seen[t] = true
				us[i].score += w
			}
		}
		if us[i].score > 0 {
			any = true
		}
	}
	order := make([]int, len(us))
	for i := range order {
		order[i] = i
	}
	if any {
		slices.SortStableFunc(order, func(a, b int) int {
			// Best first; a long unit is not better for its length alone.
			sa, sb := us[a].score, us[b].score
			switch {
			case sa > sb:
				return -1
			case sa < sb:
				return 1
			}
			return 0
		})
	}
	chosen := make([]bool, len(us))
	used := 0
	take := func(i int, limit int) bool {
		n := utf8.RuneCountInString(us[i].text)
		if chosen[i] || (used > 0 && used+n > limit) {
			return false
		}
		chosen[i] = true
		used += n
		return true
	}
	for _, i := range order {
		if any && us[i].score == 0 {
			break
		}
		if !take(i, budget) {
			if used >= budget {
				break
			}
			continue
		}
		if t := strings.TrimSpace(us[i].text); (strings.HasSuffix(t, ":") || strings.HasSuffix(t, "：")) && i+1 < len(us) {
			take(i+1, budget*3/2)
		}
	}

	var b strings.Builder
	last := -2
	for i, u := range us {
		if !chosen[i] {
			continue
		}
		switch {
		case last < 0:
		case last != i-1:
			b.WriteString("\n…\n")
		case u.para:
			b.WriteString("\n\n")
		case u.line:
			b.WriteString("\n")
		}
		b.WriteString(u.text) // sentences keep the space that followed them
		last = i
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	out := strings.TrimSpace(strings.Join(lines, "\n"))
	// A single unit longer than the budget is cut at a word.
	if utf8.RuneCountInString(out) > budget*2 && !strings.Contains(out, "```") {
		r := []rune(out)[:budget*2]
		cut := string(r)
		if sp := strings.LastIndex(cut, " "); sp > len(cut)/2 {
			cut = cut[:sp]
		}
		out = cut + "…"
	}
	return out
}
