package switchboard

import (
	"context"
	"time"
)

// Document of an inbox's knowledge base.
type Document struct {
	ID        string    `json:"id"`
	InboxID   string    `json:"inbox_id"`
	Title     string    `json:"title"`
	Source    string    `json:"source,omitempty"` // file name or URL
	Format    string    `json:"format"`           // markdown, text, html
	Content   string    `json:"-"`
	Passages  int       `json:"passages"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DocumentStore stores knowledge-base documents and their passages.
type DocumentStore interface {
	// PutDocument creates or replaces a document (matched by ID, or by
	// inbox + Source when ID is empty) with its passages, in one transaction.
	PutDocument(ctx context.Context, d *Document, passages []Passage) error
	FindDocumentByID(ctx context.Context, id string) (*Document, error)
	FindDocuments(ctx context.Context, inboxID string) ([]*Document, error)
	// DeleteDocument removes the document and its passages; ENOTFOUND.
	DeleteDocument(ctx context.Context, id string) error
	// FindPassages returns all passages of an inbox ("" = all inboxes).
	FindPassages(ctx context.Context, inboxID string) ([]Passage, error)
}

// KnowledgeBase answers questions with passages.
type KnowledgeBase interface {
	Search(ctx context.Context, inboxID, query string, k int) ([]Passage, error)
}
