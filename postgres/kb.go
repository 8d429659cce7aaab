package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/switchboard-chat/switchboard"
)

const documentCols = `id, inbox_id, title, source, format, content, passages, created_at, updated_at`

// PutDocument creates or replaces a document with its passages in one
// transaction. A document is matched by ID, or by inbox + Source when ID is
// empty; another document of the inbox with the same Source is replaced too.
// It sets d.ID (when new), d.Passages, timestamps, and each passage's ID
// (when empty), DocumentID, InboxID and Title (the document's, when empty).
func (db *DB) PutDocument(ctx context.Context, d *switchboard.Document, passages []switchboard.Passage) error {
	c := *d
	err := db.withTx(ctx, func(tx pgx.Tx) error {
		c = *d
		now := db.now()
		c.CreatedAt = now
		var old *switchboard.Document
		var err error
		if c.ID != "" {
			old, err = scanDocument(tx.QueryRow(ctx, `SELECT `+documentCols+` FROM documents WHERE id = $1 FOR UPDATE`, c.ID))
		} else if c.Source != "" {
			old, err = scanDocument(tx.QueryRow(ctx, `SELECT `+documentCols+` FROM documents
				WHERE inbox_id = $1 AND source = $2 FOR UPDATE`, c.InboxID, c.Source))
		}
		if err != nil && switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
			return err
		}
		if old != nil {
			c.ID, c.CreatedAt = old.ID, old.CreatedAt
		}
		if c.ID == "" {
			c.ID = switchboard.NewID()
		}
		c.UpdatedAt = now
		c.Passages = len(passages)
		if c.Source != "" {
			// Same source, other ID: the new version replaces it.
			if _, err := tx.Exec(ctx, `DELETE FROM documents WHERE inbox_id = $1 AND source = $2 AND id <> $3`,
				c.InboxID, c.Source, c.ID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO documents (`+documentCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET inbox_id = excluded.inbox_id, title = excluded.title, source = excluded.source,
				format = excluded.format, content = excluded.content, passages = excluded.passages, updated_at = excluded.updated_at`,
			c.ID, c.InboxID, c.Title, c.Source, c.Format, c.Content, c.Passages, c.CreatedAt, c.UpdatedAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM passages WHERE document_id = $1`, c.ID); err != nil {
			return err
		}
		if len(passages) == 0 {
			return nil
		}
		rows := make([][]any, len(passages))
		for i := range passages {
			p := &passages[i]
			if p.ID == "" {
				p.ID = switchboard.NewID()
			}
			p.DocumentID, p.InboxID = c.ID, c.InboxID
			if p.Title == "" {
				p.Title = c.Title
			}
			rows[i] = []any{p.ID, p.DocumentID, p.InboxID, p.Title, p.Heading, p.Text, p.Ord}
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"passages"},
			[]string{"id", "document_id", "inbox_id", "title", "heading", "text", "ord"}, pgx.CopyFromRows(rows))
		return err
	})
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "Document or passage ID already exists.")
	} else if err != nil {
		return fmt.Errorf("put document: %w", err)
	}
	*d = c
	return nil
}

// FindDocumentByID returns ENOTFOUND when missing.
func (db *DB) FindDocumentByID(ctx context.Context, id string) (*switchboard.Document, error) {
	var d *switchboard.Document
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { d, err = scanDocument(r); return err },
		`SELECT `+documentCols+` FROM documents WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("find document: %w", err)
	}
	return d, nil
}

// FindDocuments returns the documents of an inbox ("" = all), oldest first.
func (db *DB) FindDocuments(ctx context.Context, inboxID string) ([]*switchboard.Document, error) {
	out, err := queryAll(ctx, db, scanDocument, `SELECT `+documentCols+` FROM documents WHERE ($1 = '' OR inbox_id = $1)
		ORDER BY created_at, id`, inboxID)
	if err != nil {
		return nil, fmt.Errorf("find documents: %w", err)
	}
	return out, nil
}

// DeleteDocument removes the document and its passages; ENOTFOUND when missing.
func (db *DB) DeleteDocument(ctx context.Context, id string) error {
	tag, err := db.exec(ctx, `DELETE FROM documents WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete document: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.Errorf(switchboard.ENOTFOUND, "Document not found.")
	}
	return nil
}

// FindPassages returns all passages of an inbox ("" = all inboxes), by
// document and position.
func (db *DB) FindPassages(ctx context.Context, inboxID string) ([]switchboard.Passage, error) {
	out, err := queryAll(ctx, db, func(r pgx.Row) (p switchboard.Passage, err error) {
		return p, r.Scan(&p.ID, &p.DocumentID, &p.InboxID, &p.Title, &p.Heading, &p.Text, &p.Ord)
	}, `SELECT id, document_id, inbox_id, title, heading, text, ord FROM passages
		WHERE ($1 = '' OR inbox_id = $1) ORDER BY document_id, ord, id`, inboxID)
	if err != nil {
		return nil, fmt.Errorf("find passages: %w", err)
	}
	return out, nil
}

func scanDocument(s pgx.Row) (*switchboard.Document, error) {
	var d switchboard.Document
	err := s.Scan(&d.ID, &d.InboxID, &d.Title, &d.Source, &d.Format, &d.Content, &d.Passages, &d.CreatedAt, &d.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Document not found.")
	} else if err != nil {
		return nil, err
	}
	d.CreatedAt, d.UpdatedAt = utc(d.CreatedAt), utc(d.UpdatedAt)
	return &d, nil
}
