package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/switchboard-chat/switchboard"
)

const contactCols = `id, inbox_id, external_id, name, email, created_at`

// CreateContact stores c, setting ID (when empty) and CreatedAt. ENOTFOUND
// when the inbox is missing, ECONFLICT when the external id is taken.
func (db *DB) CreateContact(ctx context.Context, c *switchboard.Contact) error {
	if c.ID == "" {
		c.ID = switchboard.NewID()
	}
	c.CreatedAt = db.now()
	_, err := db.wq.ExecContext(ctx, `INSERT INTO contacts (`+contactCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.InboxID, c.ExternalID, c.Name, c.Email, ms(c.CreatedAt))
	switch {
	case isForeignKey(err):
		return switchboard.Errorf(switchboard.ENOTFOUND, "Inbox not found.")
	case isUnique(err):
		return switchboard.Errorf(switchboard.ECONFLICT, "Contact already exists.")
	case err != nil:
		return fmt.Errorf("create contact: %w", err)
	}
	return nil
}

// FindContactByID returns ENOTFOUND when missing.
func (db *DB) FindContactByID(ctx context.Context, id string) (*switchboard.Contact, error) {
	c, err := scanContact(db.rq.QueryRowContext(ctx, `SELECT `+contactCols+` FROM contacts WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("find contact: %w", err)
	}
	return c, nil
}

// FindContactByExternalID returns ENOTFOUND when no contact of the inbox has that uid.
func (db *DB) FindContactByExternalID(ctx context.Context, inboxID, externalID string) (*switchboard.Contact, error) {
	if externalID == "" {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Contact not found.")
	}
	c, err := scanContact(db.rq.QueryRowContext(ctx, `SELECT `+contactCols+` FROM contacts
		WHERE inbox_id = ? AND external_id = ?`, inboxID, externalID))
	if err != nil {
		return nil, fmt.Errorf("find contact by external id: %w", err)
	}
	return c, nil
}

// UpdateContact changes name and email; ENOTFOUND when missing.
func (db *DB) UpdateContact(ctx context.Context, id, name, email string) (*switchboard.Contact, error) {
	c, err := scanContact(db.wq.QueryRowContext(ctx, `UPDATE contacts SET name = ?, email = ? WHERE id = ? RETURNING `+contactCols,
		name, email, id))
	if err != nil {
		return nil, fmt.Errorf("update contact: %w", err)
	}
	return c, nil
}

func scanContact(s scanner) (*switchboard.Contact, error) {
	var c switchboard.Contact
	var created int64
	err := s.Scan(&c.ID, &c.InboxID, &c.ExternalID, &c.Name, &c.Email, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Contact not found.")
	} else if err != nil {
		return nil, err
	}
	c.CreatedAt = fromMS(created)
	return &c, nil
}
