package chat

import (
	"context"
	"encoding/json"

	sb "github.com/switchboard-chat/switchboard"
)

// ConversationView is a conversation as the agent console lists it.
type ConversationView struct {
	*sb.Conversation
	Contact     *sb.Contact `json:"contact,omitempty"`
	LastMessage *sb.Message `json:"last_message,omitempty"`
}

// View loads a conversation with its contact and last public message.
func (e *Engine) View(ctx context.Context, c *sb.Conversation) ConversationView {
	v := ConversationView{Conversation: c}
	if ct, err := e.store.FindContactByID(ctx, c.ContactID); err == nil {
		v.Contact = ct
	}
	after := c.LastSeq - 20
	if after < 0 {
		after = 0
	}
	if ms, err := e.store.FindMessages(ctx, sb.MessageFilter{ConversationID: c.ID, AfterSeq: after, Limit: 50}); err == nil {
		for i := len(ms) - 1; i >= 0; i-- {
			if ms[i].Kind == sb.KindText && ms[i].Content != "" {
				v.LastMessage = ms[i]
				break
			}
		}
	}
	return v
}

// Watch subscribes an agent console to changes of every conversation:
// frames {"type":"conversation","conversation":{…}}.
func (e *Engine) Watch() *Subscription {
	s := newSubscription(e.watch, false, e.opt.MaxPendingBytes)
	e.watch.mu.Lock()
	e.watch.subs[s] = struct{}{}
	e.watch.mu.Unlock()
	return s
}

func (e *Engine) notifyWatchers(ctx context.Context, convID string) {
	if e.watch.subscribers() == 0 {
		return
	}
	c, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return
	}
	b, err := json.Marshal(struct {
		Type         string           `json:"type"`
		Conversation ConversationView `json:"conversation"`
	}{"conversation", e.View(ctx, c)})
	if err != nil {
		return
	}
	e.watch.publish(Outbound{Type: "conversation", JSON: b}, nil)
}

var _ = sb.FrameStatus
