package kb

import (
	"bytes"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
)

// Document formats.
const (
	FormatMarkdown = "markdown"
	FormatText     = "text"
	FormatHTML     = "html"
)

// Passage sizes, in characters (runes). A section's paragraphs are packed
// into passages of up to MaxPassage characters; a passage shorter than
// MinPassage takes the next paragraph even when that passes MaxPassage, up
// to hardMaxPassage. A paragraph longer than MaxPassage is cut at sentence
// boundaries.
const (
	MinPassage     = 300
	MaxPassage     = 800
	hardMaxPassage = 1100
)

// HeadingSeparator joins the heading path of a passage.
const HeadingSeparator = " › "

// block is a heading (level 1-6) or a paragraph (level 0) of a document.
type block struct {
	level int
	text  string
	code  bool // fenced or preformatted: cut at lines, not sentences
}

// Split cuts content of the given format into passages and returns the
// document's title: title when given, else the document's own (its first
// level-1 heading, HTML <title>, or front-matter title), else "". The
// passages have Title, Heading (the heading path below the title, joined
// with HeadingSeparator), Text and Ord set.
func Split(title, format string, content []byte) (string, []switchboard.Passage) {
	content = bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
	text := strings.ToValidUTF8(string(content), "\uFFFD")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	var blocks []block
	var own string
	switch format {
	case FormatHTML:
		own, blocks = htmlBlocks(text)
	case FormatText:
		blocks = textBlocks(text)
	default:
		own, blocks = markdownBlocks(text)
	}
	title = strings.TrimSpace(title)
	if title == "" {
		title = own
	}
	if title == "" {
		for _, b := range blocks {
			if b.level == 1 {
				title = b.text
				break
			}
		}
	}
	return title, pack(title, blocks)
}

// DetectFormat guesses a document's format from its file name (or URL),
// then from its content.
func DetectFormat(filename string, content []byte) string {
	name := strings.ToLower(filename)
	if i := strings.IndexAny(name, "?#"); i >= 0 {
		name = name[:i]
	}
	switch path.Ext(name) {
	case ".md", ".markdown", ".mdx", ".mdown", ".mkd":
		return FormatMarkdown
	case ".html", ".htm", ".xhtml":
		return FormatHTML
	case ".txt", ".text":
		return FormatText
	}
	head := content
	if len(head) > 4096 {
		head = head[:4096]
	}
	lower := bytes.ToLower(bytes.TrimSpace(head))
	if bytes.HasPrefix(lower, []byte("<!doctype html")) || bytes.HasPrefix(lower, []byte("<html")) {
		return FormatHTML
	}
	tags := 0
	for _, t := range []string{"<p>", "<p ", "<div", "<h1", "<h2", "<br", "<body", "<li>", "<span", "<a href"} {
		tags += bytes.Count(lower, []byte(t))
	}
	if tags >= 2 {
		return FormatHTML
	}
	for _, line := range strings.Split(string(head), "\n") {
		line = strings.TrimLeft(line, " ")
		if strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~") || atxLevel(line) > 0 {
			return FormatMarkdown
		}
	}
	if bytes.Contains(head, []byte("](")) || bytes.Contains(head, []byte("\n- ")) || bytes.Contains(head, []byte("**")) {
		return FormatMarkdown
	}
	return FormatText
}

// ValidFormat reports whether f is a format Split understands.
func ValidFormat(f string) bool {
	return f == FormatMarkdown || f == FormatText || f == FormatHTML
}

// textBlocks splits plain text into paragraphs at blank lines.
func textBlocks(s string) []block {
	var blocks []block
	for _, p := range strings.Split(s, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			blocks = append(blocks, block{text: p})
		}
	}
	return blocks
}

// markdownBlocks parses the block structure of CommonMark that matters for
// retrieval: ATX and setext headings, fenced code, paragraphs, YAML front
// matter. Inline markup is kept in the text (it is rendered as markdown).
func markdownBlocks(s string) (title string, blocks []block) {
	lines := strings.Split(s, "\n")
	// Front matter.
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "---" {
		for i := 1; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			if l == "---" || l == "..." {
				lines = lines[i+1:]
				break
			}
			if v, ok := strings.CutPrefix(l, "title:"); ok && title == "" {
				title = strings.Trim(strings.TrimSpace(v), `"'`)
			}
		}
	}
	var para []string
	flush := func() {
		if t := strings.TrimSpace(strings.Join(para, "\n")); t != "" {
			blocks = append(blocks, block{text: t})
		}
		para = para[:0]
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if indent <= 3 && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			flush()
			fence := trimmed[:3]
			n := len(trimmed) - len(strings.TrimLeft(trimmed, fence[:1]))
			code := []string{line}
			for i++; i < len(lines); i++ {
				l := strings.TrimRight(lines[i], " \t")
				code = append(code, l)
				if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, strings.Repeat(fence[:1], n)) && strings.Trim(t, fence[:1]) == "" {
					break
				}
			}
			blocks = append(blocks, block{text: strings.Join(code, "\n"), code: true})
			continue
		}
		if indent <= 3 {
			if lv := atxLevel(trimmed); lv > 0 {
				flush()
				h := strings.TrimSpace(trimmed[lv:])
				h = strings.TrimSpace(strings.TrimRight(h, "#"))
				blocks = append(blocks, block{level: lv, text: inlineText(h)})
				continue
			}
			if len(para) == 1 && isUnderline(trimmed, '=') {
				blocks = append(blocks, block{level: 1, text: inlineText(strings.TrimSpace(para[0]))})
				para = para[:0]
				continue
			}
			if len(para) == 1 && isUnderline(trimmed, '-') {
				blocks = append(blocks, block{level: 2, text: inlineText(strings.TrimSpace(para[0]))})
				para = para[:0]
				continue
			}
			if isThematicBreak(trimmed) {
				flush()
				continue
			}
		}
		if trimmed == "" {
			flush()
			continue
		}
		para = append(para, line)
	}
	flush()
	return title, blocks
}

// atxLevel returns the level of an ATX heading line ("## Title"), or 0.
func atxLevel(line string) int {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || (n < len(line) && line[n] != ' ' && line[n] != '\t') {
		return 0
	}
	return n
}

func isUnderline(line string, c byte) bool {
	return line != "" && strings.Trim(line, string(c)) == ""
}

func isThematicBreak(line string) bool {
	s := strings.ReplaceAll(strings.ReplaceAll(line, " ", ""), "\t", "")
	if len(s) < 3 {
		return false
	}
	return strings.Trim(s, "-") == "" || strings.Trim(s, "*") == "" || strings.Trim(s, "_") == ""
}

// inlineText removes inline markdown from a heading: emphasis, code spans,
// links (keeping their text) and images.
func inlineText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '*', '_', '`':
			continue
		case '!':
			if i+1 < len(s) && s[i+1] == '[' {
				continue
			}
		case '[':
			if j := strings.Index(s[i:], "]("); j > 0 {
				if k := strings.IndexByte(s[i+j:], ')'); k > 0 {
					b.WriteString(s[i+1 : i+j])
					i += j + k
					continue
				}
			}
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
				continue
			}
		}
		b.WriteByte(c)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// pack groups blocks into passages by section.
func pack(title string, blocks []block) []switchboard.Passage {
	type heading struct {
		level int
		text  string
	}
	var (
		stack    []heading
		out      []switchboard.Passage
		cur      []string
		curLen   int
		secStart int // index in out of the current section's first passage
	)
	headingPath := func() string {
		var parts []string
		for i, h := range stack {
			if i == 0 && strings.EqualFold(h.text, title) {
				continue
			}
			if h.text != "" {
				parts = append(parts, h.text)
			}
		}
		return strings.Join(parts, HeadingSeparator)
	}
	hp := ""
	emit := func() {
		if curLen == 0 {
			return
		}
		text := strings.Join(cur, "\n\n")
		cur, curLen = cur[:0], 0
		// A short tail joins the previous passage of its section.
		tn := utf8.RuneCountInString(text)
		if n := len(out); n > secStart && tn < MinPassage/2 &&
			utf8.RuneCountInString(out[n-1].Text)+2+tn <= hardMaxPassage {
			out[n-1].Text += "\n\n" + text
			return
		}
		out = append(out, switchboard.Passage{Title: title, Heading: hp, Text: text, Ord: len(out)})
	}
	add := func(p string) {
		n := utf8.RuneCountInString(p)
		if curLen > 0 && curLen+2+n > MaxPassage && (curLen >= MinPassage || curLen+2+n > hardMaxPassage) {
			emit()
		}
		if curLen > 0 {
			curLen += 2
		}
		cur = append(cur, p)
		curLen += n
	}
	for _, b := range blocks {
		if b.level > 0 {
			emit()
			for len(stack) > 0 && stack[len(stack)-1].level >= b.level {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, heading{b.level, b.text})
			hp = headingPath()
			secStart = len(out)
			continue
		}
		if utf8.RuneCountInString(b.text) <= MaxPassage {
			add(b.text)
			continue
		}
		for _, piece := range cutLong(b.text, b.code) {
			add(piece)
		}
	}
	emit()
	return out
}

// cutLong cuts a paragraph longer than MaxPassage into pieces of at most
// MaxPassage characters, at line ends for code and at sentence ends for
// prose, falling back to spaces and then to any character.
func cutLong(s string, code bool) []string {
	var units []string
	if code {
		units = strings.SplitAfter(s, "\n")
	} else {
		units = Sentences(s)
	}
	var out []string
	var b strings.Builder
	n := 0
	for _, u := range units {
		un := utf8.RuneCountInString(u)
		if n > 0 && n+un > MaxPassage {
			out = append(out, strings.TrimSpace(b.String()))
			b.Reset()
			n = 0
		}
		for un > MaxPassage { // one unit longer than a passage
			cut := cutAt(u, MaxPassage)
			out = append(out, strings.TrimSpace(u[:cut]))
			u = u[cut:]
			un = utf8.RuneCountInString(u)
		}
		b.WriteString(u)
		n += un
	}
	if t := strings.TrimSpace(b.String()); t != "" {
		out = append(out, t)
	}
	return out
}

// cutAt returns a byte offset of s at most max runes in, at the last space
// of the second half of that prefix when there is one.
func cutAt(s string, max int) int {
	end, i := 0, 0
	for end = range s {
		if i == max {
			break
		}
		i++
	}
	if i < max {
		return len(s)
	}
	if sp := strings.LastIndexFunc(s[:end], unicode.IsSpace); sp > end/2 {
		return sp + 1
	}
	return end
}

// Sentences splits prose after sentence-ending punctuation (. ! ? followed
// by a space, and 。！？ anywhere) and at line ends. The pieces keep their
// punctuation and following space, so joining them gives s back.
func Sentences(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		end := -1
		switch r {
		case '。', '！', '？', '；', '\n':
			end = i + utf8.RuneLen(r)
		case '.', '!', '?':
			j := i + 1
			for j < len(s) && (s[j] == '"' || s[j] == '\'' || s[j] == ')') {
				j++
			}
			if j == len(s) || s[j] == ' ' || s[j] == '\n' {
				end = j
			}
		}
		if end > start {
			for end < len(s) && s[end] == ' ' {
				end++
			}
			out = append(out, s[start:end])
			start = end
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
