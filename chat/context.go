package chat

import (
	"context"
	"strings"

	sb "github.com/switchboard-chat/switchboard"
)

// defaultSystemPrompt is used when an inbox has none.
const defaultSystemPrompt = "You are a helpful, concise customer-service assistant. Answer in the language of the customer. If you cannot help, or the customer asks for a person, offer to hand the conversation to a human agent."

// handoffTool lets the model hand the conversation to a human.
var handoffTool = sb.Tool{Name: "handoff", Description: "Hand the conversation to a human agent when you cannot help or the customer asks for a person."}

// buildRequest assembles the model context (DESIGN.md invariant 7): system
// prompt + knowledge-base passages + the messages since context_epoch
// (agents' replies included, private notes and system events excluded),
// trimmed to the last MaxTurns messages and MaxBytes. It returns nil when
// there is no visitor message to answer.
func (e *Engine) buildRequest(ctx context.Context, conv *sb.Conversation, inbox *sb.Inbox) (*sb.ChatRequest, error) {
	history, cached, err := e.history(ctx, conv)
	if err != nil {
		return nil, err
	}
	if (len(history) == 0 || history[len(history)-1].Role != sb.RoleUser) && cached {
		// Another instance may have appended to the cache out of order:
		// the store decides whether a visitor message waits for an answer.
		_ = e.opt.Cache.Invalidate(ctx, conv.ID)
		if history, _, err = e.history(ctx, conv); err != nil {
			return nil, err
		}
	}
	if len(history) == 0 || history[len(history)-1].Role != sb.RoleUser {
		return nil, nil
	}
	question := history[len(history)-1].Content
	var passages []sb.Passage
	if inbox.Settings.KnowledgeBase && e.opt.KB != nil {
		passages, err = e.opt.KB.Search(ctx, inbox.ID, question, e.opt.KBPassages)
		if err != nil {
			e.logger.Warn("knowledge base search", "inbox_id", inbox.ID, "err", err)
			passages = nil
		}
	}
	sys := inbox.Settings.SystemPrompt
	if sys == "" {
		sys = defaultSystemPrompt
	}
	if len(passages) > 0 {
		var b strings.Builder
		b.WriteString(sys)
		b.WriteString("\n\nAnswer from these passages of our documentation when they are relevant; say so when they are not enough.\n")
		for _, p := range passages {
			b.WriteString("\n--- ")
			b.WriteString(p.Title)
			if p.Heading != "" {
				b.WriteString(" › ")
				b.WriteString(p.Heading)
			}
			b.WriteString(" ---\n")
			b.WriteString(p.Text)
			b.WriteString("\n")
		}
		sys = b.String()
	}
	msgs := make([]sb.ChatMessage, 0, len(history)+1)
	msgs = append(msgs, sb.ChatMessage{Role: sb.RoleSystem, Content: sys})
	msgs = append(msgs, trimContext(history, e.opt.MaxTurns, e.opt.MaxBytes-len(sys))...)
	route := inbox.Settings.Route
	if route == "" {
		route = "default"
	}
	return &sb.ChatRequest{Model: route, Messages: msgs, Passages: passages, Tools: []sb.Tool{handoffTool}, Subject: "inbox:" + inbox.ID}, nil
}

// history returns the conversation's context messages since its epoch,
// from the context cache when there is one (cached reports a cache hit).
func (e *Engine) history(ctx context.Context, conv *sb.Conversation) (msgs []sb.ChatMessage, cached bool, err error) {
	if e.opt.Cache != nil {
		if msgs, ok, err := e.opt.Cache.Get(ctx, conv.ID, conv.ContextEpoch); err == nil && ok {
			e.opt.Metrics.cache.WithLabelValues("hit").Inc()
			return msgs, true, nil
		}
		e.opt.Metrics.cache.WithLabelValues("miss").Inc()
	}
	var out []sb.ChatMessage
	after := conv.ContextEpoch
	for {
		ms, err := e.store.FindMessages(ctx, sb.MessageFilter{ConversationID: conv.ID, AfterSeq: after, Limit: 500})
		if err != nil {
			return nil, false, err
		}
		for _, m := range ms {
			if cm, ok := contextMessage(m); ok {
				out = append(out, cm)
			}
			after = m.Seq
		}
		if len(ms) < 500 {
			break
		}
	}
	out = trimContext(out, e.opt.MaxTurns, e.opt.MaxBytes)
	if e.opt.Cache != nil {
		if err := e.opt.Cache.Set(ctx, conv.ID, conv.ContextEpoch, out); err != nil {
			e.logger.Warn("context cache set", "conversation_id", conv.ID, "err", err)
		}
	}
	return out, false, nil
}

// contextMessage maps a stored message to a model message; notes, events,
// system messages and empty failed answers are not part of the context.
func contextMessage(m *sb.Message) (sb.ChatMessage, bool) {
	if m.Kind != sb.KindText || m.Content == "" {
		return sb.ChatMessage{}, false
	}
	switch m.Sender {
	case sb.SenderContact:
		return sb.ChatMessage{Role: sb.RoleUser, Content: m.Content}, true
	case sb.SenderBot, sb.SenderAgent:
		if m.State == sb.StateBlocked {
			return sb.ChatMessage{}, false
		}
		return sb.ChatMessage{Role: sb.RoleAssistant, Content: m.Content}, true
	}
	return sb.ChatMessage{}, false
}

// trimContext keeps the newest messages within maxTurns and maxBytes; the
// last message is always kept (cut to maxBytes when alone too large).
func trimContext(msgs []sb.ChatMessage, maxTurns, maxBytes int) []sb.ChatMessage {
	if maxTurns > 0 && len(msgs) > maxTurns {
		msgs = msgs[len(msgs)-maxTurns:]
	}
	total := 0
	start := len(msgs)
	for i := len(msgs) - 1; i >= 0; i-- {
		n := len(msgs[i].Content)
		if total+n > maxBytes && i < len(msgs)-1 {
			break
		}
		total += n
		start = i
	}
	msgs = msgs[start:]
	if len(msgs) == 1 && maxBytes > 0 && len(msgs[0].Content) > maxBytes {
		c := msgs[0].Content
		cut := len(c) - maxBytes
		for cut < len(c) && c[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut++
		}
		msgs = []sb.ChatMessage{{Role: msgs[0].Role, Content: c[cut:]}}
	}
	// A context should not start with an orphan assistant message.
	for len(msgs) > 1 && msgs[0].Role == sb.RoleAssistant {
		msgs = msgs[1:]
	}
	return msgs
}

// cacheAppend adds a stored message to the cached context.
func (e *Engine) cacheAppend(ctx context.Context, conv *sb.Conversation, m *sb.Message) {
	if e.opt.Cache == nil {
		return
	}
	if cm, ok := contextMessage(m); ok {
		if err := e.opt.Cache.Append(ctx, conv.ID, conv.ContextEpoch, cm); err != nil {
			e.logger.Warn("context cache append", "conversation_id", conv.ID, "err", err)
			_ = e.opt.Cache.Invalidate(ctx, conv.ID)
		}
	}
}
