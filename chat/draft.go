package chat

import (
	"context"

	sb "github.com/switchboard-chat/switchboard"
)

// draftInstruction turns the context into a request for a suggested reply.
const draftInstruction = "You are helping a human customer-service agent. Write the next reply the agent could send to the customer, in the customer's language, friendly and concise. Output only the reply text."

// Draft streams a suggested agent reply (copilot) from the conversation's
// context and knowledge base. Nothing is stored or published.
func (e *Engine) Draft(ctx context.Context, convID string) (sb.Stream, error) {
	conv, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return nil, err
	}
	inbox, err := e.Inbox(ctx, conv.InboxID)
	if err != nil {
		return nil, err
	}
	history, _, err := e.history(ctx, conv)
	if err != nil {
		return nil, err
	}
	var question string
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role == sb.RoleUser {
			question = history[i].Content
			break
		}
	}
	var passages []sb.Passage
	if e.opt.KB != nil && question != "" {
		passages, _ = e.opt.KB.Search(ctx, inbox.ID, question, e.opt.KBPassages)
	}
	sys := draftInstruction
	if inbox.Settings.SystemPrompt != "" {
		sys = inbox.Settings.SystemPrompt + "\n\n" + draftInstruction
	}
	for _, p := range passages {
		sys += "\n\n--- " + p.Title + " › " + p.Heading + " ---\n" + p.Text
	}
	msgs := append([]sb.ChatMessage{{Role: sb.RoleSystem, Content: sys}}, trimContext(history, e.opt.MaxTurns, e.opt.MaxBytes-len(sys))...)
	if len(msgs) == 1 || msgs[len(msgs)-1].Role != sb.RoleUser {
		msgs = append(msgs, sb.ChatMessage{Role: sb.RoleUser, Content: "(Suggest the agent's next message.)"})
	}
	route := inbox.Settings.Route
	if route == "" {
		route = "default"
	}
	return e.opt.Router.Stream(ctx, &sb.ChatRequest{Model: route, Messages: msgs, Passages: passages, Subject: "inbox:" + inbox.ID})
}
