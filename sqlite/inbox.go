package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

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
	_, err = db.wq.ExecContext(ctx, `INSERT INTO inboxes (`+inboxCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		in.ID, in.Name, in.WidgetKey, origins, in.IdentitySecret, settings, ms(in.CreatedAt), ms(in.UpdatedAt))
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "An inbox with this ID or widget key already exists.")
	} else if err != nil {
		return fmt.Errorf("create inbox: %w", err)
	}
	return nil
}

// FindInboxByID returns ENOTFOUND when missing.
func (db *DB) FindInboxByID(ctx context.Context, id string) (*switchboard.Inbox, error) {
	in, err := scanInbox(db.rq.QueryRowContext(ctx, `SELECT `+inboxCols+` FROM inboxes WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("find inbox: %w", err)
	}
	return in, nil
}

// FindInboxByWidgetKey returns ENOTFOUND when missing.
func (db *DB) FindInboxByWidgetKey(ctx context.Context, key string) (*switchboard.Inbox, error) {
	in, err := scanInbox(db.rq.QueryRowContext(ctx, `SELECT `+inboxCols+` FROM inboxes WHERE widget_key = ?`, key))
	if err != nil {
		return nil, fmt.Errorf("find inbox by widget key: %w", err)
	}
	return in, nil
}

// FindInboxes returns all inboxes, oldest first.
func (db *DB) FindInboxes(ctx context.Context) ([]*switchboard.Inbox, error) {
	rows, err := db.rq.QueryContext(ctx, `SELECT `+inboxCols+` FROM inboxes ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("find inboxes: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Inbox
	for rows.Next() {
		in, err := scanInbox(rows)
		if err != nil {
			return nil, fmt.Errorf("find inboxes: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
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
	set.add("updated_at", ms(db.now()))
	in, err := scanInbox(db.wq.QueryRowContext(ctx, `UPDATE inboxes SET `+set.String()+` WHERE id = ? RETURNING `+inboxCols,
		append(set.args, id)...))
	if err != nil {
		return nil, fmt.Errorf("update inbox: %w", err)
	}
	return in, nil
}

func scanInbox(s scanner) (*switchboard.Inbox, error) {
	var in switchboard.Inbox
	var origins, settings string
	var created, updated int64
	err := s.Scan(&in.ID, &in.Name, &in.WidgetKey, &origins, &in.IdentitySecret, &settings, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
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
	in.CreatedAt, in.UpdatedAt = fromMS(created), fromMS(updated)
	return &in, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
