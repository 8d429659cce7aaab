package kb

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// golang.org/x/net/html is not a dependency of the module, so HTML is read
// by the small tokenizer below. It is not a validating parser: it knows
// tags, attributes (quoted values may hold '>'), comments, doctype, CDATA
// and raw-text elements, which is all text extraction needs, and it never
// fails: anything it does not recognise is text.

// htmlSkip are elements whose content is never document text.
var htmlSkip = setOf(`script style noscript template svg math iframe object canvas nav select`)

// htmlBlock are elements that end a paragraph.
var htmlBlock = setOf(`p div section article main header footer aside blockquote ul ol dl table thead
tbody tfoot form figure figcaption hr address details summary fieldset body html center`)

// htmlLine are elements that end a line within a paragraph.
var htmlLine = setOf(`br li dt dd tr`)

type htmlBuilder struct {
	blocks    []block
	para      strings.Builder // current paragraph
	space     bool            // a space is pending before the next text
	lineStart bool            // nothing written since the last newline
	heading   int             // level of the heading being read, 0 = none
	pre       int             // depth of <pre>
}

func (b *htmlBuilder) text(s string) {
	if s == "" {
		return
	}
	if b.pre > 0 {
		b.para.WriteString(s)
		b.lineStart = false
		return
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	fields := strings.Fields(s)
	if len(fields) == 0 {
		b.space = true
		return
	}
	for i, f := range fields {
		if (i > 0 || b.space || unicode.IsSpace(first)) && b.para.Len() > 0 && !b.lineStart {
			b.para.WriteByte(' ')
		}
		b.para.WriteString(f)
		b.lineStart = false
	}
	b.space = unicode.IsSpace(last)
}

func (b *htmlBuilder) newline(prefix string) {
	if b.para.Len() > 0 {
		b.para.WriteByte('\n')
	}
	b.para.WriteString(prefix)
	b.space = false
	b.lineStart = true
}

func (b *htmlBuilder) flush() {
	t := strings.TrimSpace(b.para.String())
	b.para.Reset()
	b.space = false
	if b.heading > 0 {
		if t != "" {
			b.blocks = append(b.blocks, block{level: b.heading, text: strings.Join(strings.Fields(t), " ")})
		}
		b.heading = 0
		return
	}
	if t == "" || t == "-" {
		return
	}
	// Drop the empty lines a list or table leaves.
	lines := strings.Split(t, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimRight(l, " "); strings.TrimSpace(strings.TrimPrefix(l, "- ")) != "" && l != "-" {
			kept = append(kept, l)
		}
	}
	if len(kept) > 0 {
		b.blocks = append(b.blocks, block{text: strings.Join(kept, "\n")})
	}
}

// htmlBlocks extracts headings and paragraphs from an HTML document and
// returns its <title>.
func htmlBlocks(s string) (title string, blocks []block) {
	var b htmlBuilder
	i := 0
	for i < len(s) {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			b.text(html.UnescapeString(s[i:]))
			break
		}
		if lt > 0 {
			b.text(html.UnescapeString(s[i : i+lt]))
		}
		i += lt
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				i = len(s)
			} else {
				i += 4 + end + 3
			}
			continue
		case strings.HasPrefix(rest, "<![CDATA["):
			end := strings.Index(rest, "]]>")
			if end < 0 {
				end = len(rest)
			}
			b.text(rest[9:end])
			i += min(end+3, len(rest))
			continue
		case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				i = len(s)
			} else {
				i += end + 1
			}
			continue
		}
		name, closing, n := readTag(rest)
		if n == 0 { // a lone '<'
			b.text("<")
			i++
			continue
		}
		i += n
		switch {
		case htmlSkip[name] && !closing, name == "title" && !closing:
			end := indexFold(s[i:], "</"+name)
			raw := s[i:]
			if end >= 0 {
				raw = s[i : i+end]
				_, _, m := readTag(s[i+end:])
				i += end + max(m, 2)
			} else {
				i = len(s)
			}
			if name == "title" && title == "" {
				title = strings.Join(strings.Fields(html.UnescapeString(raw)), " ")
			}
		case len(name) == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6':
			b.flush()
			if !closing {
				b.heading = int(name[1] - '0')
			}
		case name == "pre":
			if closing && b.pre == 1 {
				if t := strings.Trim(b.para.String(), "\n"); strings.TrimSpace(t) != "" {
					b.blocks = append(b.blocks, block{text: "```\n" + t + "\n```", code: true})
				}
				b.para.Reset()
				b.pre = 0
			} else if closing {
				b.pre = max(b.pre-1, 0)
			} else {
				if b.pre == 0 {
					b.flush()
				}
				b.pre++
			}
		case htmlBlock[name]:
			b.flush()
		case htmlLine[name]:
			if name == "li" && !closing {
				b.newline("- ")
			} else if !closing || name != "li" {
				b.newline("")
			}
		case name == "td" || name == "th":
			b.space = true
		}
	}
	b.flush()
	return title, b.blocks
}

// readTag reads a start or end tag at the start of s ("<a href='x'>"),
// returning its lowercased name, whether it is an end tag, and its length
// in bytes; n is 0 when s does not start with a tag.
func readTag(s string) (name string, closing bool, n int) {
	i := 1
	if i < len(s) && s[i] == '/' {
		closing = true
		i++
	}
	start := i
	for i < len(s) && (isASCIILetter(s[i]) || (i > start && (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')))) {
		i++
	}
	if i == start {
		return "", false, 0
	}
	name = strings.ToLower(s[start:i])
	var quote byte
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return name, closing, i + 1
		}
	}
	return name, closing, len(s)
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// indexFold is strings.Index ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
