package offline_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/kb"
	"github.com/switchboard-chat/switchboard/provider/offline"
)

// defaultIndex indexes the built-in documents into inbox "in".
func defaultIndex(tb testing.TB) *kb.Index {
	tb.Helper()
	ix := kb.NewIndex()
	for _, d := range kb.DefaultDocuments() {
		_, ps := kb.Split(d.Title, d.Format, d.Content)
		for i := range ps {
			ps[i].DocumentID, ps[i].InboxID = d.Source, "in"
		}
		ix.Add(ps)
	}
	return ix
}

func request(ix *kb.Index, question string) *switchboard.ChatRequest {
	return &switchboard.ChatRequest{
		Model: "kb",
		Messages: []switchboard.ChatMessage{
			{Role: switchboard.RoleSystem, Content: "You are a helpful assistant."},
			{Role: switchboard.RoleUser, Content: question},
		},
		Passages: ix.Search("in", question, 3),
	}
}

// readAll reads a stream to io.EOF and checks the chunk contract.
func readAll(tb testing.TB, s switchboard.Stream) string {
	tb.Helper()
	defer s.Close()
	var b strings.Builder
	var chunks []switchboard.Chunk
	for {
		c, err := s.Recv()
		if err == io.EOF {
			break
		} else if err != nil {
			tb.Fatalf("Recv: %v", err)
		}
		chunks = append(chunks, c)
		b.WriteString(c.Text)
	}
	if len(chunks) < 3 {
		tb.Fatalf("only %d chunks", len(chunks))
	}
	if chunks[0].Provider != "local" || chunks[0].Model != "offline" {
		tb.Fatalf("first chunk names %q/%q", chunks[0].Provider, chunks[0].Model)
	}
	for _, c := range chunks[:len(chunks)-1] {
		if c.FinishReason != "" || c.Usage != nil {
			tb.Fatalf("chunk before the last has %q %v", c.FinishReason, c.Usage)
		}
		if len(c.Text) > 24 || !utf8.ValidString(c.Text) {
			tb.Fatalf("chunk %q is not a small valid piece", c.Text)
		}
	}
	last := chunks[len(chunks)-1]
	if last.FinishReason != "stop" || last.Usage == nil || !last.Usage.Estimated ||
		last.Usage.CompletionTokens <= 0 || last.Usage.PromptTokens <= 0 {
		tb.Fatalf("last chunk = %+v usage %+v", last, last.Usage)
	}
	if _, err := s.Recv(); err != io.EOF {
		tb.Fatalf("Recv after the end = %v, want io.EOF", err)
	}
	return b.String()
}

func answer(tb testing.TB, req *switchboard.ChatRequest) string {
	tb.Helper()
	s, err := offline.New("local").Stream(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	return readAll(tb, s)
}

func mustContain(tb testing.TB, s string, subs ...string) {
	tb.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			tb.Fatalf("answer does not contain %q:\n%s", sub, s)
		}
	}
}

func TestProvider(t *testing.T) {
	ix := defaultIndex(t)
	var _ switchboard.Provider = offline.New("local")

	t.Run("English", func(t *testing.T) {
		a := answer(t, request(ix, "How do I embed the widget on my website?"))
		mustContain(t, a, "No AI model is available", "\n> ", "widget.js", "data-widget-key",
			"Source: Embedding the chat widget › Embed the widget on your site: add the script tag", "Talk to a human")
		if strings.Contains(a, "来源") {
			t.Fatalf("English question answered in Chinese:\n%s", a)
		}
		if n := utf8.RuneCountInString(a); n > 1000 {
			t.Fatalf("answer is a wall of text (%d characters):\n%s", n, a)
		}
	})
	t.Run("Chinese", func(t *testing.T) {
		a := answer(t, request(ix, "怎么转人工？"))
		mustContain(t, a, "当前没有可用的 AI 模型", "\n> ", "转人工", "来源：转人工客服 › 怎么转人工", "点击“转人工”")
		if strings.Contains(a, "Source:") {
			t.Fatalf("Chinese question answered in English:\n%s", a)
		}
	})
	t.Run("NotFoundEnglish", func(t *testing.T) {
		req := request(ix, "What is the capital of Peru?")
		if len(req.Passages) != 0 {
			t.Fatalf("passages for an unrelated question: %v", req.Passages)
		}
		a := answer(t, req)
		if a != "I couldn't find that in our documentation. Would you like to talk to a human? Press “Talk to a human”." {
			t.Fatalf("answer = %q", a)
		}
	})
	t.Run("NotFoundChinese", func(t *testing.T) {
		a := answer(t, request(ix, "秘鲁的首都是哪里？"))
		mustContain(t, a, "没有找到相关内容", "转人工")
	})
	t.Run("Greeting", func(t *testing.T) {
		mustContain(t, answer(t, request(ix, "Hello!")), "Hello!", "Talk to a human")
		mustContain(t, answer(t, request(ix, "你好")), "您好", "转人工")
	})
	t.Run("Prefill", func(t *testing.T) {
		req := request(ix, "how do I embed the widget")
		full := answer(t, req)
		req.Prefill = full[:40]
		if rest := answer(t, req); req.Prefill+rest != full {
			t.Fatalf("continuation %q does not follow %q", rest, req.Prefill)
		}
		req.Prefill = "Something another model wrote"
		_, err := offline.New("local").Stream(context.Background(), req)
		var pe *switchboard.ProviderError
		if !errors.As(err, &pe) || pe.Class != switchboard.FailRejected {
			t.Fatalf("foreign prefill: err = %v", err)
		}
	})
	t.Run("MaxTokens", func(t *testing.T) {
		req := request(ix, "how do I embed the widget")
		req.MaxTokens = 10
		s, err := offline.New("local").Stream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var last switchboard.Chunk
		for {
			c, err := s.Recv()
			if err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			last = c
		}
		if last.FinishReason != "length" || last.Usage.CompletionTokens > 10 {
			t.Fatalf("last chunk = %+v %+v", last, last.Usage)
		}
	})
}

func TestProviderCancel(t *testing.T) {
	ix := defaultIndex(t)
	isCanceled := func(err error) bool {
		var pe *switchboard.ProviderError
		return errors.As(err, &pe) && pe.Class == switchboard.FailCanceled
	}
	t.Run("Context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := offline.New("local")
		p.ChunkDelay = 1e9 // a second: cancellation must not wait for it
		s, err := p.Stream(ctx, request(ix, "how do I embed the widget"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := s.Recv(); !isCanceled(err) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Recv after cancel = %v", err)
		}
	})
	t.Run("Close", func(t *testing.T) {
		p := offline.New("local")
		p.ChunkDelay = 1e9
		s, err := p.Stream(context.Background(), request(ix, "how do I embed the widget"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := s.Recv(); done <- err }() // blocked in the delay
		s.Close()
		if err := <-done; !isCanceled(err) {
			t.Fatalf("Recv during Close = %v", err)
		}
		s.Close()
	})
	t.Run("Before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := offline.New("local").Stream(ctx, request(ix, "widget")); !isCanceled(err) {
			t.Fatalf("Stream with a canceled context = %v", err)
		}
	})
}

func TestPieces(t *testing.T) {
	for _, s := range []string{
		"No AI model is available right now, so here is:\n\n> quote\n",
		"当前没有可用的 AI 模型，以下是文档中最相关的内容：",
		"averyveryveryverylongwordthatgoesonandon and more",
		"",
	} {
		ps := offline.Pieces(s)
		if strings.Join(ps, "") != s {
			t.Fatalf("Pieces(%q) = %q do not join back", s, ps)
		}
		for _, p := range ps {
			if p == "" || len(p) > 24 || !utf8.ValidString(p) {
				t.Fatalf("Pieces(%q) has piece %q", s, p)
			}
		}
	}
}

func TestChinese(t *testing.T) {
	for q, want := range map[string]bool{
		"怎么转人工": true, "how do I 配置 the model": true, "ウィジェットの設定": false, "hello": false, "": false,
	} {
		if got := offline.Chinese(q); got != want {
			t.Errorf("Chinese(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	text := "Intro sentence about nothing. The widget is embedded with a script tag. Unrelated filler here.\n\nAdd this tag:\n\n```html\n<script src=\"/widget.js\"></script>\n```\n\nMore filler text that is not relevant."
	got := offline.Excerpt(text, "how do I embed the widget script", 200)
	for _, want := range []string{"The widget is embedded with a script tag.", "```html", "/widget.js"} {
		if !strings.Contains(got, want) {
			t.Fatalf("excerpt lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "More filler") {
		t.Fatalf("excerpt has unrelated text:\n%s", got)
	}
}
