package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	err := db.withTx(ctx, func(tx querier) error {
		now := db.now()
		c.CreatedAt = now
		var old *switchboard.Document
		var err error
		if c.ID != "" {
			old, err = scanDocument(tx.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents WHERE id = ?`, c.ID))
		} else if c.Source != "" {
			old, err = scanDocument(tx.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents
				WHERE inbox_id = ? AND source = ?`, c.InboxID, c.Source))
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
			if _, err := tx.ExecContext(ctx, `DELETE FROM documents WHERE inbox_id = ? AND source = ? AND id != ?`,
				c.InboxID, c.Source, c.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO documents (`+documentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET inbox_id = excluded.inbox_id, title = excluded.title, source = excluded.source,
				format = excluded.format, content = excluded.content, passages = excluded.passages, updated_at = excluded.updated_at`,
			c.ID, c.InboxID, c.Title, c.Source, c.Format, c.Content, c.Passages, ms(c.CreatedAt), ms(c.UpdatedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM passages WHERE document_id = ?`, c.ID); err != nil {
			return err
		}
		for i := range passages {
			p := &passages[i]
			if p.ID == "" {
				p.ID = switchboard.NewID()
			}
			p.DocumentID, p.InboxID = c.ID, c.InboxID
			if p.Title == "" {
				p.Title = c.Title
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO passages (id, document_id, inbox_id, title, heading, text, ord) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				p.ID, p.DocumentID, p.InboxID, p.Title, p.Heading, p.Text, p.Ord); err != nil {
				return err
			}
		}
		return nil
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
	d, err := scanDocument(db.rq.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("find document: %w", err)
	}
	return d, nil
}

// FindDocuments returns the documents of an inbox ("" = all), oldest first.
func (db *DB) FindDocuments(ctx context.Context, inboxID string) ([]*switchboard.Document, error) {
	rows, err := db.rq.QueryContext(ctx, `SELECT `+documentCols+` FROM documents WHERE (? = '' OR inbox_id = ?)
		ORDER BY created_at, id`, inboxID, inboxID)
	if err != nil {
		return nil, fmt.Errorf("find documents: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Document
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("find documents: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find documents: %w", err)
	}
	return out, nil
}

// DeleteDocument removes the document and its passages; ENOTFOUND when missing.
func (db *DB) DeleteDocument(ctx context.Context, id string) error {
	res, err := db.wq.ExecContext(ctx, `DELETE FROM documents WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete document: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete document: %w", err)
	} else if n == 0 {
		return switchboard.Errorf(switchboard.ENOTFOUND, "Document not found.")
	}
	return nil
}

// FindPassages returns all passages of an inbox ("" = all inboxes), by
// document and position.
func (db *DB) FindPassages(ctx context.Context, inboxID string) ([]switchboard.Passage, error) {
	rows, err := db.rq.QueryContext(ctx, `SELECT id, document_id, inbox_id, title, heading, text, ord FROM passages
		WHERE (? = '' OR inbox_id = ?) ORDER BY document_id, ord, id`, inboxID, inboxID)
	if err != nil {
		return nil, fmt.Errorf("find passages: %w", err)
	}
	defer rows.Close()
	var out []switchboard.Passage
	for rows.Next() {
		var p switchboard.Passage
		if err := rows.Scan(&p.ID, &p.DocumentID, &p.InboxID, &p.Title, &p.Heading, &p.Text, &p.Ord); err != nil {
			return nil, fmt.Errorf("find passages: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find passages: %w", err)
	}
	return out, nil
}

func scanDocument(s scanner) (*switchboard.Document, error) {
	var d switchboard.Document
	var created, updated int64
	err := s.Scan(&d.ID, &d.InboxID, &d.Title, &d.Source, &d.Format, &d.Content, &d.Passages, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Document not found.")
	} else if err != nil {
		return nil, err
	}
	d.CreatedAt, d.UpdatedAt = fromMS(created), fromMS(updated)
	return &d, nil
}
