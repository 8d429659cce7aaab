package switchboard

import (
	"context"
	"time"
)

// Status of a conversation.
type Status string

const (
	StatusBot      Status = "bot"      // the assistant answers
	StatusQueued   Status = "queued"   // waiting for a human
	StatusAssigned Status = "assigned" // a human owns it
	StatusPending  Status = "pending"  // waiting for the visitor / left a message
	StatusResolved Status = "resolved"
)

// Owner of a conversation: who may speak for the service.
type Owner string

const (
	OwnerBot   Owner = "bot"
	OwnerHuman Owner = "human"
	OwnerNone  Owner = "none"
)

// Conversation between a contact and an inbox.
type Conversation struct {
	ID           string    `json:"id"`
	InboxID      string    `json:"inbox_id"`
	ContactID    string    `json:"contact_id"`
	Status       Status    `json:"status"`
	Owner        Owner     `json:"owner"`
	AssigneeID   string    `json:"assignee_id,omitempty"`
	ContextEpoch int64     `json:"context_epoch"` // messages with seq > epoch form the model context
	LastSeq      int64     `json:"last_seq"`
	Version      int64     `json:"version"`
	KBMisses     int       `json:"kb_misses"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// ConversationUpdate holds the fields to change; nil fields are kept.
type ConversationUpdate struct {
	Status       *Status
	Owner        *Owner
	AssigneeID   *string // "" clears
	ContextEpoch *int64
	KBMisses     *int
}

// ConversationFilter selects conversations, newest activity first.
type ConversationFilter struct {
	InboxID    string
	ContactID  string
	Status     []Status
	AssigneeID string
	Limit      int
}

// ConversationStore stores conversations.
type ConversationStore interface {
	// CreateConversation sets ID (when empty), Version 1 and timestamps.
	CreateConversation(ctx context.Context, c *Conversation) error
	// FindConversationByID returns ENOTFOUND when missing.
	FindConversationByID(ctx context.Context, id string) (*Conversation, error)
	FindConversations(ctx context.Context, f ConversationFilter) ([]*Conversation, error)
	// CountConversations counts by status for the filter (Status ignored).
	CountConversations(ctx context.Context, f ConversationFilter) (map[Status]int, error)
	// UpdateConversation applies upd if the stored version equals version,
	// incrementing it. ECONFLICT when the version moved on, ENOTFOUND when
	// missing. When Status, Owner or AssigneeID change, a status event is
	// appended in the same transaction and returned (else the event is nil).
	UpdateConversation(ctx context.Context, id string, version int64, upd ConversationUpdate) (*Conversation, *Event, error)
}
