// Package offline is the provider that needs no model and no network: it
// answers from the knowledge-base passages the chat engine retrieved for the
// question (ChatRequest.Passages), quoting their most relevant sentences
// and naming the source, and offers a human when there are none. It is what
// a server with no API key answers with, and the last target of a route.
package offline

import (
	"context"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/kb"
)

// Model is the model name of every chunk.
const Model = "offline"

// Excerpt budgets, in characters: the quote is the best sentences of the
// best passage, not the whole passage.
const (
	excerptBudget    = 420
	excerptBudgetCJK = 220
	maxPieceBytes    = 24 // size of a streamed chunk, about a word or two
)

// Provider answers without a model. Its zero value is not usable; call New.
type Provider struct {
	name string
	// ChunkDelay paces the chunks, for a typing effect; 0 sends them as
	// fast as they are read. Set it before use.
	ChunkDelay time.Duration
}

var _ switchboard.Provider = (*Provider)(nil)

// New returns an offline provider with the given name.
func New(name string) *Provider { return &Provider{name: name} }

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Stream composes the answer at once and streams it in small chunks. A
// request with a Prefill that is not the start of this answer is refused
// (FailRejected): the offline provider can only continue its own answer.
func (p *Provider) Stream(ctx context.Context, req *switchboard.ChatRequest) (switchboard.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, p.canceled(err)
	}
	answer := Answer(lastUserMessage(req.Messages), req.Passages)
	if req.Prefill != "" {
		rest, ok := strings.CutPrefix(answer, req.Prefill)
		if !ok {
			return nil, &switchboard.ProviderError{Provider: p.name, Model: Model, Class: switchboard.FailRejected,
				Message: "the offline provider cannot continue another model's answer"}
		}
		answer = rest
	}
	pieces := Pieces(answer)
	finish := "stop"
	if req.MaxTokens > 0 {
		n := 0
		for i, pc := range pieces {
			if n += EstimateTokens(pc); n > req.MaxTokens {
				pieces, finish = pieces[:i], "length"
				break
			}
		}
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += EstimateTokens(m.Content) + 4
	}
	for _, ps := range req.Passages {
		prompt += EstimateTokens(ps.Text)
	}
	return &stream{
		p:      p,
		ctx:    ctx,
		pieces: pieces,
		delay:  p.ChunkDelay,
		done:   make(chan struct{}),
		final: switchboard.Chunk{
			FinishReason: finish,
			Usage: &switchboard.Usage{
				PromptTokens:     prompt,
				CompletionTokens: EstimateTokens(strings.Join(pieces, "")),
				Estimated:        true,
			},
		},
	}, nil
}

func (p *Provider) canceled(err error) error {
	return &switchboard.ProviderError{Provider: p.name, Model: Model, Class: switchboard.FailCanceled, Err: err}
}

type stream struct {
	p      *Provider
	ctx    context.Context
	pieces []string
	next   int  // index of the next piece
	ended  bool // the final chunk was sent
	final  switchboard.Chunk
	delay  time.Duration

	closeOnce sync.Once
	done      chan struct{} // closed by Close
}

// Recv returns the next chunk, then io.EOF. After Close or when the
// context ends it returns a *ProviderError of class FailCanceled.
func (s *stream) Recv() (switchboard.Chunk, error) {
	select {
	case <-s.done:
		return switchboard.Chunk{}, s.p.canceled(context.Canceled)
	case <-s.ctx.Done():
		return switchboard.Chunk{}, s.p.canceled(s.ctx.Err())
	default:
	}
	if s.ended {
		return switchboard.Chunk{}, io.EOF
	}
	if s.delay > 0 && s.next > 0 {
		t := time.NewTimer(s.delay)
		select {
		case <-s.done:
			t.Stop()
			return switchboard.Chunk{}, s.p.canceled(context.Canceled)
		case <-s.ctx.Done():
			t.Stop()
			return switchboard.Chunk{}, s.p.canceled(s.ctx.Err())
		case <-t.C:
		}
	}
	var c switchboard.Chunk
	if s.next < len(s.pieces) {
		c.Text = s.pieces[s.next]
	} else {
		c, s.ended = s.final, true
	}
	if s.next == 0 {
		c.Provider, c.Model = s.p.name, Model
	}
	s.next++
	return c, nil
}

// Close stops the stream; it is safe to call more than once.
func (s *stream) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

func lastUserMessage(ms []switchboard.ChatMessage) string {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Role == switchboard.RoleUser {
			return ms[i].Content
		}
	}
	return ""
}

// Chinese reports whether an answer to question should be in Chinese: it
// has Han characters and no Japanese kana (a Japanese question gets the
// English answer rather than a Chinese one).
func Chinese(question string) bool {
	han := false
	for _, r := range question {
		switch {
		case unicode.Is(unicode.Hiragana, r), unicode.Is(unicode.Katakana, r):
			return false
		case unicode.Is(unicode.Han, r):
			han = true
		}
	}
	return han
}

// EstimateTokens is a rough token count: one per CJK character, one per
// four other bytes that are not spaces.
func EstimateTokens(s string) int {
	cjk, other := 0, 0
	for _, r := range s {
		switch {
		case r >= 0x2E80 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul):
			cjk++
		case unicode.IsSpace(r):
		default:
			other += utf8.RuneLen(r)
		}
	}
	return cjk + (other+3)/4
}

// Pieces cuts s into streaming chunks of about a word: a word with the
// spaces after it, at most two CJK characters, never more than
// maxPieceBytes and never inside a UTF-8 sequence. Joined, they are s.
func Pieces(s string) []string {
	var out []string
	start, cjk := 0, 0
	prevSpace := false
	for i, r := range s {
		space := unicode.IsSpace(r)
		isCJK := r >= 0x2E80 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
		cut := i > start && ((prevSpace && !space) || cjk >= 2 || i-start+utf8.RuneLen(r) > maxPieceBytes)
		if cut {
			out = append(out, s[start:i])
			start, cjk = i, 0
		}
		if isCJK {
			cjk++
		}
		prevSpace = space
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

var greetings = map[string]bool{
	"hi": true, "hello": true, "hey": true, "hi there": true, "hello there": true, "good morning": true,
	"good afternoon": true, "good evening": true, "你好": true, "您好": true, "嗨": true, "哈喽": true, "在吗": true, "在吗?": true,
}

func isGreeting(q string) bool {
	q = strings.ToLower(strings.TrimFunc(q, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }))
	return greetings[q]
}

// Answer composes the offline answer to question from passages (best
// first, or with Score set), in the language of the question.
func Answer(question string, passages []switchboard.Passage) string {
	zh := Chinese(question)
	if isGreeting(question) {
		if zh {
			return "您好！当前没有可用的 AI 模型，但我可以帮您查找文档中的内容。请问有什么可以帮您？您也可以随时点击“转人工”联系人工客服。"
		}
		return "Hello! No AI model is available right now, but I can look things up in our documentation. What would you like to know? You can also press “Talk to a human” at any time."
	}
	if len(passages) == 0 {
		switch {
		case zh:
			return "抱歉，我在文档中没有找到相关内容。需要转人工客服吗？请点击“转人工”，或直接发送“转人工”。"
		default:
			return "I couldn't find that in our documentation. Would you like to talk to a human? Press “Talk to a human”."
		}
	}
	best := 0
	for i, p := range passages {
		if p.Score > passages[best].Score {
			best = i
		}
	}
	top := passages[best]
	budget := excerptBudget
	if zh {
		budget = excerptBudgetCJK
	}
	excerpt := Excerpt(top.Text, question, budget)

	var b strings.Builder
	if zh {
		b.WriteString("当前没有可用的 AI 模型，以下是文档中最相关的内容：\n\n")
	} else {
		b.WriteString("No AI model is available right now, so here is the most relevant part of our documentation:\n\n")
	}
	for _, line := range strings.Split(excerpt, "\n") {
		if strings.TrimSpace(line) == "" {
			b.WriteString(">\n")
		} else {
			b.WriteString("> " + line + "\n")
		}
	}
	if zh {
		b.WriteString("\n来源：" + sourceName(top))
	} else {
		b.WriteString("\nSource: " + sourceName(top))
	}
	var also []string
	seen := map[string]bool{sourceName(top): true}
	for i, p := range passages {
		if n := sourceName(p); i != best && !seen[n] && len(also) < 2 {
			seen[n] = true
			also = append(also, n)
		}
	}
	if len(also) > 0 {
		if zh {
			b.WriteString("\n另见：" + strings.Join(also, "；"))
		} else {
			b.WriteString("\nSee also: " + strings.Join(also, "; "))
		}
	}
	if zh {
		b.WriteString("\n\n没有解决您的问题？请点击“转人工”联系人工客服。")
	} else {
		b.WriteString("\n\nNot what you were looking for? Press “Talk to a human”.")
	}
	return b.String()
}

// sourceName is "Title › Heading", or the one of them there is.
func sourceName(p switchboard.Passage) string {
	switch {
	case p.Title == "":
		return p.Heading
	case p.Heading == "":
		return p.Title
	}
	return p.Title + kb.HeadingSeparator + p.Heading
}
