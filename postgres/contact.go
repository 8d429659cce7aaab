package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
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
	_, err := db.exec(ctx, `INSERT INTO contacts (`+contactCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.InboxID, c.ExternalID, c.Name, c.Email, c.CreatedAt)
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
	var c *switchboard.Contact
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { c, err = scanContact(r); return err },
		`SELECT `+contactCols+` FROM contacts WHERE id = $1`, id)
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
	var c *switchboard.Contact
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { c, err = scanContact(r); return err },
		`SELECT `+contactCols+` FROM contacts WHERE inbox_id = $1 AND external_id = $2`, inboxID, externalID)
	if err != nil {
		return nil, fmt.Errorf("find contact by external id: %w", err)
	}
	return c, nil
}

// UpdateContact changes name and email; ENOTFOUND when missing.
func (db *DB) UpdateContact(ctx context.Context, id, name, email string) (*switchboard.Contact, error) {
	var c *switchboard.Contact
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { c, err = scanContact(r); return err },
		`UPDATE contacts SET name = $1, email = $2 WHERE id = $3 RETURNING `+contactCols, name, email, id)
	if err != nil {
		return nil, fmt.Errorf("update contact: %w", err)
	}
	return c, nil
}

func scanContact(s pgx.Row) (*switchboard.Contact, error) {
	var c switchboard.Contact
	err := s.Scan(&c.ID, &c.InboxID, &c.ExternalID, &c.Name, &c.Email, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Contact not found.")
	} else if err != nil {
		return nil, err
	}
	c.CreatedAt = utc(c.CreatedAt)
	return &c, nil
}
