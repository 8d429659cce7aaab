package switchboard

import (
	"context"
	"time"
)

// APIKey authenticates the OpenAI-compatible API. Only its hash is stored;
// the secret ("sk-…") is shown once at creation.
type APIKey struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Prefix    string        `json:"prefix"` // first characters, to recognise it
	Hash      string        `json:"-"`
	InboxID   string        `json:"inbox_id,omitempty"` // moderation scope
	RateLimit *RateLimit    `json:"rate_limit,omitempty"`
	Budget    *BudgetLimits `json:"budget,omitempty"`
	RevokedAt *time.Time    `json:"revoked_at,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
}

// APIKeyStore stores API keys.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// FindAPIKeyByHash returns ENOTFOUND when missing (revoked keys are returned; check RevokedAt).
	FindAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	FindAPIKeys(ctx context.Context) ([]*APIKey, error)
	// RevokeAPIKey returns ENOTFOUND when missing.
	RevokeAPIKey(ctx context.Context, id string) error
}
