package switchboard

import (
	"context"
	"time"
)

// Contact is a visitor of an inbox: anonymous, or identified by the host
// site's signed uid (ExternalID).
type Contact struct {
	ID         string    `json:"id"`
	InboxID    string    `json:"inbox_id"`
	ExternalID string    `json:"external_id,omitempty"`
	Name       string    `json:"name,omitempty"`
	Email      string    `json:"email,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// ContactStore stores contacts.
type ContactStore interface {
	CreateContact(ctx context.Context, c *Contact) error
	FindContactByID(ctx context.Context, id string) (*Contact, error)
	// FindContactByExternalID returns ENOTFOUND when no contact of the inbox has that uid.
	FindContactByExternalID(ctx context.Context, inboxID, externalID string) (*Contact, error)
	// UpdateContact changes name and email.
	UpdateContact(ctx context.Context, id, name, email string) (*Contact, error)
}
