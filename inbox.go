package switchboard

import (
	"context"
	"time"
)

// Inbox is one website or channel.
type Inbox struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	WidgetKey      string        `json:"widget_key"`
	AllowedOrigins []string      `json:"allowed_origins"` // "*" allows any
	IdentitySecret string        `json:"-"`               // signs identified visitors; generated
	Settings       InboxSettings `json:"settings"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
}

// InboxSettings are the assistant and service settings of an inbox. They are
// stored as one JSON document so new settings need no migration.
type InboxSettings struct {
	Route          string        `json:"route,omitempty"` // route name; "" = "default"
	SystemPrompt   string        `json:"system_prompt,omitempty"`
	Greeting       string        `json:"greeting,omitempty"`
	OfflineMessage string        `json:"offline_message,omitempty"`
	KnowledgeBase  bool          `json:"knowledge_base"`
	HandoffPhrases []string      `json:"handoff_phrases,omitempty"`
	KBMissHandoff  int           `json:"kb_miss_handoff,omitempty"` // hand off after N consecutive misses; 0 = never
	BusinessHours  *Hours        `json:"business_hours,omitempty"`
	Words          []WordList    `json:"words,omitempty"`
	RateLimit      *RateLimit    `json:"rate_limit,omitempty"`
	Budget         *BudgetLimits `json:"budget,omitempty"`
	Canned         []Canned      `json:"canned,omitempty"`
}

// Hours is a weekly schedule, e.g. Mon-Fri 09:00-18:00 in a time zone.
type Hours struct {
	TimeZone string   `json:"time_zone"` // IANA name
	Days     []int    `json:"days"`      // 0 = Sunday
	Open     string   `json:"open"`      // "09:00"
	Close    string   `json:"close"`     // "18:00"
	Holidays []string `json:"holidays,omitempty"`
}

// Canned is a canned response an agent inserts with /shortcut.
type Canned struct {
	Shortcut string `json:"shortcut"`
	Content  string `json:"content"`
}

// InboxUpdate holds the fields to change; nil fields are kept.
type InboxUpdate struct {
	Name           *string
	AllowedOrigins *[]string
	Settings       *InboxSettings
}

// InboxStore stores inboxes.
type InboxStore interface {
	// CreateInbox sets ID, WidgetKey and IdentitySecret when empty, and timestamps.
	CreateInbox(ctx context.Context, in *Inbox) error
	FindInboxByID(ctx context.Context, id string) (*Inbox, error)
	FindInboxByWidgetKey(ctx context.Context, key string) (*Inbox, error)
	FindInboxes(ctx context.Context) ([]*Inbox, error)
	UpdateInbox(ctx context.Context, id string, upd InboxUpdate) (*Inbox, error)
}
