package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
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
	if k.RevokedAt != nil {
		t := k.RevokedAt.UTC().Truncate(time.Millisecond)
		k.RevokedAt = &t
	}
	_, err = db.exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.Name, k.Prefix, k.Hash, k.InboxID, rl, budget, k.RevokedAt, k.CreatedAt)
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "API key already exists.")
	} else if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

// FindAPIKeyByHash returns ENOTFOUND when missing; revoked keys are returned.
func (db *DB) FindAPIKeyByHash(ctx context.Context, hash string) (*switchboard.APIKey, error) {
	var k *switchboard.APIKey
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { k, err = scanAPIKey(r); return err },
		`SELECT `+apiKeyCols+` FROM api_keys WHERE hash = $1`, hash)
	if err != nil {
		return nil, fmt.Errorf("find api key: %w", err)
	}
	return k, nil
}

// FindAPIKeys returns all keys, oldest first.
func (db *DB) FindAPIKeys(ctx context.Context) ([]*switchboard.APIKey, error) {
	out, err := queryAll(ctx, db, scanAPIKey, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("find api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey sets RevokedAt (keeping an earlier revocation). ENOTFOUND
// when missing.
func (db *DB) RevokeAPIKey(ctx context.Context, id string) error {
	tag, err := db.exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, db.now(), id)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.Errorf(switchboard.ENOTFOUND, "API key not found.")
	}
	return nil
}

func scanAPIKey(s pgx.Row) (*switchboard.APIKey, error) {
	var k switchboard.APIKey
	var rl, budget []byte
	var revoked *time.Time
	err := s.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.InboxID, &rl, &budget, &revoked, &k.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
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
	if revoked != nil {
		t := revoked.UTC()
		k.RevokedAt = &t
	}
	k.CreatedAt = utc(k.CreatedAt)
	return &k, nil
}
