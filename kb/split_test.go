package kb_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard/kb"
)

func TestSplit(t *testing.T) {
	t.Run("MarkdownHeadingPath", func(t *testing.T) {
		md := "# Guide\n\nIntro.\n\n## Setup\n\nStep one.\n\n```yaml\n# not a heading\nkey: v\n\n```\n\n### Deep [link](https://x)\n\nDeep text.\n\nSetext\n------\n\nUnder setext.\n\n# Other\n\nOther text."
		title, ps := kb.Split("", kb.FormatMarkdown, []byte(md))
		if title != "Guide" {
			t.Fatalf("title = %q", title)
		}
		want := []struct{ heading, text string }{
			{"", "Intro."},
			{"Setup", "Step one.\n\n```yaml\n# not a heading\nkey: v\n\n```"},
			{"Setup › Deep link", "Deep text."},
			{"Setext", "Under setext."},
			{"Other", "Other text."},
		}
		if len(ps) != len(want) {
			t.Fatalf("got %d passages: %+v", len(ps), ps)
		}
		for i, w := range want {
			if ps[i].Heading != w.heading || ps[i].Text != w.text || ps[i].Ord != i || ps[i].Title != "Guide" {
				t.Errorf("passage %d = %+v, want heading %q text %q", i, ps[i], w.heading, w.text)
			}
		}
	})
	t.Run("MarkdownOtherTitle", func(t *testing.T) {
		title, ps := kb.Split("Handbook", kb.FormatMarkdown, []byte("# Guide\n\n## Setup\n\nStep one."))
		if title != "Handbook" || len(ps) != 1 || ps[0].Heading != "Guide › Setup" {
			t.Fatalf("title %q passages %+v", title, ps)
		}
	})
	t.Run("FrontMatter", func(t *testing.T) {
		title, ps := kb.Split("", kb.FormatMarkdown, []byte("---\ntitle: \"Front\"\n---\nBody."))
		if title != "Front" || len(ps) != 1 || ps[0].Text != "Body." {
			t.Fatalf("title %q passages %+v", title, ps)
		}
	})
	t.Run("HTML", func(t *testing.T) {
		h := `<!DOCTYPE html><html><head><title>Help &amp; Support</title><style>p{color:red}</style>
<script>var x = "<p>not text</p>";</script></head><body><nav><a href="/">Home</a></nav>
<h1>Help</h1><p>Hello <b>world</b>, this is a <a href="x" title='a>b'>link</a>.</p><!-- <p>hidden</p> -->
<h2>Lists</h2><ul><li>One</li><li>Two <i>items</i></li></ul><pre>code
  indented</pre><p>1 &lt; 2</p></body></html>`
		title, ps := kb.Split("", kb.FormatHTML, []byte(h))
		if title != "Help & Support" {
			t.Fatalf("title = %q", title)
		}
		if len(ps) != 2 {
			t.Fatalf("got %d passages: %+v", len(ps), ps)
		}
		if ps[0].Heading != "Help" || ps[0].Text != "Hello world, this is a link." {
			t.Errorf("passage 0 = %+v", ps[0])
		}
		if ps[1].Heading != "Help › Lists" || ps[1].Text != "- One\n- Two items\n\n```\ncode\n  indented\n```\n\n1 < 2" {
			t.Errorf("passage 1 = %q", ps[1].Text)
		}
		for _, p := range ps {
			if strings.Contains(p.Text, "not text") || strings.Contains(p.Text, "hidden") || strings.Contains(p.Text, "Home") || strings.Contains(p.Text, "color") {
				t.Errorf("passage has dropped content: %q", p.Text)
			}
		}
	})
	t.Run("Text", func(t *testing.T) {
		_, ps := kb.Split("T", kb.FormatText, []byte("First paragraph.\r\n\r\nSecond paragraph.\n"))
		if len(ps) != 1 || ps[0].Text != "First paragraph.\n\nSecond paragraph." || ps[0].Heading != "" {
			t.Fatalf("passages %+v", ps)
		}
	})
	t.Run("Sizes", func(t *testing.T) {
		var b strings.Builder
		for i := range 60 {
			b.WriteString(strings.Repeat("Word ", 10+i%30))
			b.WriteString("end.\n\n")
			if i%20 == 19 {
				b.WriteString("## Section\n\n")
			}
		}
		b.WriteString(strings.Repeat("这是一个很长的中文句子，没有换行。", 100)) // 1,700 characters in one paragraph
		_, ps := kb.Split("T", kb.FormatMarkdown, []byte(b.String()))
		for i, p := range ps {
			n := utf8.RuneCountInString(p.Text)
			if n > 1100 {
				t.Errorf("passage %d has %d characters", i, n)
			}
			if n < 150 {
				t.Errorf("passage %d has only %d characters: %q", i, n, p.Text)
			}
			if p.Ord != i {
				t.Errorf("passage %d has Ord %d", i, p.Ord)
			}
		}
		if len(ps) < 5 {
			t.Fatalf("only %d passages", len(ps))
		}
	})
}

func TestDetectFormat(t *testing.T) {
	for _, tt := range []struct {
		name, file, content, want string
	}{
		{"MarkdownExt", "a.md", "hello", kb.FormatMarkdown},
		{"HTMLExt", "https://x/a.html?x=1", "hello", kb.FormatHTML},
		{"TextExt", "a.txt", "# not markdown", kb.FormatText},
		{"SniffHTML", "", "<!DOCTYPE html><p>x</p>", kb.FormatHTML},
		{"SniffHTMLTags", "", "<div>a</div><p>b</p>", kb.FormatHTML},
		{"SniffMarkdown", "", "intro\n\n## Section\n\nbody", kb.FormatMarkdown},
		{"SniffText", "", "just some words.\n\nmore words.", kb.FormatText},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := kb.DetectFormat(tt.file, []byte(tt.content)); got != tt.want {
				t.Fatalf("DetectFormat(%q) = %q, want %q", tt.file, got, tt.want)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("# T\n\n## A\n\ntext\n\n```\ncode", kb.FormatMarkdown)
	f.Add("<p>a<b>b</b></p><h2>x</h2><pre>y", kb.FormatHTML)
	f.Add("<script>never closed", kb.FormatHTML)
	f.Add("a\n\nb", kb.FormatText)
	f.Fuzz(func(t *testing.T, s, format string) {
		_, ps := kb.Split("", format, []byte(s))
		for _, p := range ps {
			if strings.TrimSpace(p.Text) == "" {
				t.Fatalf("empty passage from %q", s)
			}
			if !utf8.ValidString(p.Text) {
				t.Fatalf("invalid UTF-8 passage from %q", s)
			}
		}
	})
}
