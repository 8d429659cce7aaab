package switchboard

import (
	"context"
	"time"
)

// AuditRecord notes something refused or flagged (blocked input, review hits).
type AuditRecord struct {
	ID             string    `json:"id"`
	Kind           string    `json:"kind"` // blocked_input, blocked_output, review
	InboxID        string    `json:"inbox_id,omitempty"`
	ConversationID string    `json:"conversation_id,omitempty"`
	Subject        string    `json:"subject,omitempty"`
	Detail         string    `json:"detail"` // JSON
	CreatedAt      time.Time `json:"created_at"`
}

// UsageRecord is one billed (or failed) provider call.
type UsageRecord struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"` // inbox:<id> or key:<id>
	Provider  string    `json:"provider"`
	Model     string    `json:"model"`
	Usage     Usage     `json:"usage"`
	Cost      float64   `json:"cost"`
	Outcome   string    `json:"outcome"` // ok, error class
	TTFTMs    int64     `json:"ttft_ms"`
	CreatedAt time.Time `json:"created_at"`
}

// UsageSummary aggregates usage records.
type UsageSummary struct {
	Subject  string  `json:"subject"`
	Provider string  `json:"provider"`
	Model    string  `json:"model"`
	Requests int64   `json:"requests"`
	Tokens   int64   `json:"tokens"`
	Cost     float64 `json:"cost"`
}

// Store is the durable store: SQLite embedded, PostgreSQL in scale-out.
// Both pass the same contract suite.
type Store interface {
	UserStore
	InboxStore
	ContactStore
	ConversationStore
	MessageStore
	APIKeyStore
	DocumentStore

	CreateAuditRecord(ctx context.Context, r *AuditRecord) error
	FindAuditRecords(ctx context.Context, limit int) ([]*AuditRecord, error)
	CreateUsageRecord(ctx context.Context, r *UsageRecord) error
	// SummarizeUsage groups usage since a time by subject, provider and model.
	SummarizeUsage(ctx context.Context, since time.Time) ([]UsageSummary, error)

	// GetSetting / PutSetting keep small server-wide values (secrets live in files, not here).
	GetSetting(ctx context.Context, key string) (string, error) // ENOTFOUND
	PutSetting(ctx context.Context, key, value string) error

	Ping(ctx context.Context) error
	Close() error
}
