package switchboard

import (
	"context"
	"time"
)

// Sender of a message.
type Sender string

const (
	SenderContact Sender = "contact"
	SenderBot     Sender = "bot"
	SenderAgent   Sender = "agent"
	SenderSystem  Sender = "system"
)

// Kind of a message.
type Kind string

const (
	KindText  Kind = "text"
	KindNote  Kind = "note"  // private to agents, never in the model context
	KindEvent Kind = "event" // system event, never in the model context
)

// MessageState is the lifecycle state of a message.
type MessageState string

const (
	StateStreaming   MessageState = "streaming"
	StateComplete    MessageState = "complete"
	StateInterrupted MessageState = "interrupted"
	StateCancelled   MessageState = "cancelled"
	StateError       MessageState = "error"
	StateBlocked     MessageState = "blocked"
)

// Final reports whether no further change to the message will happen.
func (s MessageState) Final() bool { return s != StateStreaming }

// Usage counts tokens of one completion.
type Usage struct {
	PromptTokens     int  `json:"prompt_tokens"`
	CompletionTokens int  `json:"completion_tokens"`
	Estimated        bool `json:"estimated,omitempty"` // counted by our tokenizer, not reported
}

// Total tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Source is a knowledge-base document an answer drew on.
type Source struct {
	DocumentID string `json:"document_id"`
	Title      string `json:"title"`
	Heading    string `json:"heading,omitempty"`
}

// Message is one stored message of a conversation.
type Message struct {
	ID             string       `json:"id"`
	ConversationID string       `json:"conversation_id"`
	Seq            int64        `json:"seq"`
	ClientMsgID    string       `json:"client_msg_id,omitempty"`
	Sender         Sender       `json:"sender"`
	AuthorID       string       `json:"author_id,omitempty"` // agent user id
	Kind           Kind         `json:"kind"`
	Content        string       `json:"content"`
	State          MessageState `json:"state"`
	Provider       string       `json:"provider,omitempty"`
	Model          string       `json:"model,omitempty"`
	Usage          Usage        `json:"usage"`
	Cost           float64      `json:"cost"`
	TTFTMs         int64        `json:"ttft_ms,omitempty"`
	Flags          []string     `json:"flags,omitempty"`
	Sources        []Source     `json:"sources,omitempty"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
}

// MessageUpdate holds the fields to change; nil fields are kept.
type MessageUpdate struct {
	Content  *string
	State    *MessageState
	Provider *string
	Model    *string
	Usage    *Usage
	Cost     *float64
	TTFTMs   *int64
	Flags    *[]string
	Sources  *[]Source
}

// MessageFilter selects messages of a conversation in seq order.
type MessageFilter struct {
	ConversationID string
	AfterSeq       int64
	Limit          int
}

// MessageStore stores messages and the conversation's event log. Seqs of a
// conversation are allocated from Conversation.LastSeq in the same
// transaction as the write: strictly increasing, never reused.
type MessageStore interface {
	// AppendMessage stores m as the next event of its conversation (event
	// type "start" when m.State is streaming, else "message"). It sets ID
	// (when empty), Seq and timestamps. When m.ClientMsgID was already seen
	// in the conversation nothing is written and the stored message is
	// returned with existed = true. ENOTFOUND when the conversation is missing.
	AppendMessage(ctx context.Context, m *Message) (stored *Message, existed bool, err error)
	// UpdateMessage changes a message without an event (partial text while
	// streaming). ENOTFOUND when missing.
	UpdateMessage(ctx context.Context, id string, upd MessageUpdate) (*Message, error)
	// FinishMessage applies upd and appends an event of type typ ("done",
	// "error") with data, in one transaction.
	FinishMessage(ctx context.Context, id string, upd MessageUpdate, typ EventType, data []byte) (*Event, error)
	FindMessageByID(ctx context.Context, id string) (*Message, error)
	FindMessages(ctx context.Context, f MessageFilter) ([]*Message, error)
	// FindStreamingMessages returns messages still in state streaming,
	// oldest first (crash recovery marks them interrupted).
	FindStreamingMessages(ctx context.Context) ([]*Message, error)

	// ReserveSeqs advances the conversation's LastSeq by n and returns the
	// first reserved seq; live deltas are numbered from such blocks.
	ReserveSeqs(ctx context.Context, conversationID string, n int) (int64, error)
	// AppendEvent appends an event that is not a message write.
	AppendEvent(ctx context.Context, conversationID string, typ EventType, messageID string, data []byte) (*Event, error)
	// FindEvents returns events with seq > afterSeq in order, each with the
	// current state of its message (when it has one).
	FindEvents(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]*Event, error)
}
