package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard"
)

const apiKeyCols = `id, name, prefix, hash, inbox_id, rate_limit, budget, revoked_at, created_at`

// CreateAPIKey stores k, setting ID (when empty) and CreatedAt. ECONFLICT
// when the hash is taken.
func (db *DB) CreateAPIKey(ctx context.Context, k *switchboard.APIKey) error {
	if k.ID == "" {
		k.ID = switchboard.NewID()
	}
	k.CreatedAt = db.now()
	rl, err := toJSON(k.RateLimit)
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	budget, err := toJSON(k.Budget)
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	var revoked any
	if k.RevokedAt != nil {
		t := k.RevokedAt.UTC().Truncate(time.Millisecond)
		k.RevokedAt = &t
		revoked = ms(t)
	}
	_, err = db.wq.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Prefix, k.Hash, k.InboxID, rl, budget, revoked, ms(k.CreatedAt))
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "API key already exists.")
	} else if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

// FindAPIKeyByHash returns ENOTFOUND when missing; revoked keys are returned.
func (db *DB) FindAPIKeyByHash(ctx context.Context, hash string) (*switchboard.APIKey, error) {
	k, err := scanAPIKey(db.rq.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ?`, hash))
	if err != nil {
		return nil, fmt.Errorf("find api key: %w", err)
	}
	return k, nil
}

// FindAPIKeys returns all keys, oldest first.
func (db *DB) FindAPIKeys(ctx context.Context) ([]*switchboard.APIKey, error) {
	rows, err := db.rq.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("find api keys: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("find api keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey sets RevokedAt (keeping an earlier revocation). ENOTFOUND
// when missing.
func (db *DB) RevokeAPIKey(ctx context.Context, id string) error {
	res, err := db.wq.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ms(db.now()), id)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	} else if n == 0 {
		return switchboard.Errorf(switchboard.ENOTFOUND, "API key not found.")
	}
	return nil
}

func scanAPIKey(s scanner) (*switchboard.APIKey, error) {
	var k switchboard.APIKey
	var rl, budget string
	var revoked sql.NullInt64
	var created int64
	err := s.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.InboxID, &rl, &budget, &revoked, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "API key not found.")
	} else if err != nil {
		return nil, err
	}
	if err := fromJSON(rl, &k.RateLimit); err != nil {
		return nil, err
	}
	if err := fromJSON(budget, &k.Budget); err != nil {
		return nil, err
	}
	if revoked.Valid {
		t := fromMS(revoked.Int64)
		k.RevokedAt = &t
	}
	k.CreatedAt = fromMS(created)
	return &k, nil
}
