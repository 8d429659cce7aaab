package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/switchboard-chat/switchboard"
)

const inboxCols = `id, name, widget_key, allowed_origins, identity_secret, settings, created_at, updated_at`

// CreateInbox stores in, setting ID, WidgetKey and IdentitySecret when
// empty, and timestamps. ECONFLICT when the widget key is taken.
func (db *DB) CreateInbox(ctx context.Context, in *switchboard.Inbox) error {
	if in.ID == "" {
		in.ID = switchboard.NewID()
	}
	if in.WidgetKey == "" {
		in.WidgetKey = "wk_" + randomHex(16)
	}
	if in.IdentitySecret == "" {
		in.IdentitySecret = randomHex(32)
	}
	in.CreatedAt = db.now()
	in.UpdatedAt = in.CreatedAt
	origins, err := toJSON(in.AllowedOrigins)
	if err != nil {
		return fmt.Errorf("create inbox: %w", err)
	}
	settings, err := toJSON(in.Settings)
	if err != nil {
		return fmt.Errorf("create inbox: %w", err)
	}
	_, err = db.exec(ctx, `INSERT INTO inboxes (`+inboxCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		in.ID, in.Name, in.WidgetKey, origins, in.IdentitySecret, settings, in.CreatedAt, in.UpdatedAt)
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "An inbox with this ID or widget key already exists.")
	} else if err != nil {
		return fmt.Errorf("create inbox: %w", err)
	}
	return nil
}

// FindInboxByID returns ENOTFOUND when missing.
func (db *DB) FindInboxByID(ctx context.Context, id string) (*switchboard.Inbox, error) {
	var in *switchboard.Inbox
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { in, err = scanInbox(r); return err },
		`SELECT `+inboxCols+` FROM inboxes WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("find inbox: %w", err)
	}
	return in, nil
}

// FindInboxByWidgetKey returns ENOTFOUND when missing.
func (db *DB) FindInboxByWidgetKey(ctx context.Context, key string) (*switchboard.Inbox, error) {
	var in *switchboard.Inbox
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { in, err = scanInbox(r); return err },
		`SELECT `+inboxCols+` FROM inboxes WHERE widget_key = $1`, key)
	if err != nil {
		return nil, fmt.Errorf("find inbox by widget key: %w", err)
	}
	return in, nil
}

// FindInboxes returns all inboxes, oldest first.
func (db *DB) FindInboxes(ctx context.Context) ([]*switchboard.Inbox, error) {
	out, err := queryAll(ctx, db, scanInbox, `SELECT `+inboxCols+` FROM inboxes ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("find inboxes: %w", err)
	}
	return out, nil
}

// UpdateInbox returns ENOTFOUND when missing.
func (db *DB) UpdateInbox(ctx context.Context, id string, upd switchboard.InboxUpdate) (*switchboard.Inbox, error) {
	var set setList
	if upd.Name != nil {
		set.add("name", *upd.Name)
	}
	if upd.AllowedOrigins != nil {
		v, err := toJSON(*upd.AllowedOrigins)
		if err != nil {
			return nil, fmt.Errorf("update inbox: %w", err)
		}
		set.add("allowed_origins", v)
	}
	if upd.Settings != nil {
		v, err := toJSON(*upd.Settings)
		if err != nil {
			return nil, fmt.Errorf("update inbox: %w", err)
		}
		set.add("settings", v)
	}
	set.add("updated_at", db.now())
	where := set.args.add(id)
	var in *switchboard.Inbox
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { in, err = scanInbox(r); return err },
		`UPDATE inboxes SET `+set.String()+` WHERE id = `+where+` RETURNING `+inboxCols, set.args...)
	if err != nil {
		return nil, fmt.Errorf("update inbox: %w", err)
	}
	return in, nil
}

func scanInbox(s pgx.Row) (*switchboard.Inbox, error) {
	var in switchboard.Inbox
	var origins, settings []byte
	err := s.Scan(&in.ID, &in.Name, &in.WidgetKey, &origins, &in.IdentitySecret, &settings, &in.CreatedAt, &in.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Inbox not found.")
	} else if err != nil {
		return nil, err
	}
	if err := fromJSON(origins, &in.AllowedOrigins); err != nil {
		return nil, err
	}
	if err := fromJSON(settings, &in.Settings); err != nil {
		return nil, err
	}
	in.CreatedAt, in.UpdatedAt = utc(in.CreatedAt), utc(in.UpdatedAt)
	return &in, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
