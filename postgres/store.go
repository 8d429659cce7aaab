package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/switchboard-chat/switchboard"
)

// CreateAuditRecord stores r, setting ID (when empty) and CreatedAt (when zero).
func (db *DB) CreateAuditRecord(ctx context.Context, r *switchboard.AuditRecord) error {
	if r.ID == "" {
		r.ID = switchboard.NewID()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = db.now()
	}
	r.CreatedAt = r.CreatedAt.UTC().Truncate(time.Millisecond)
	_, err := db.exec(ctx, `INSERT INTO audit_records (id, kind, inbox_id, conversation_id, subject, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, r.Kind, r.InboxID, r.ConversationID, r.Subject, r.Detail, r.CreatedAt)
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "Audit record already exists.")
	} else if err != nil {
		return fmt.Errorf("create audit record: %w", err)
	}
	return nil
}

// FindAuditRecords returns the newest records first (limit <= 0: all).
func (db *DB) FindAuditRecords(ctx context.Context, limit int) ([]*switchboard.AuditRecord, error) {
	out, err := queryAll(ctx, db, func(row pgx.Row) (*switchboard.AuditRecord, error) {
		var r switchboard.AuditRecord
		if err := row.Scan(&r.ID, &r.Kind, &r.InboxID, &r.ConversationID, &r.Subject, &r.Detail, &r.CreatedAt); err != nil {
			return nil, err
		}
		r.CreatedAt = utc(r.CreatedAt)
		return &r, nil
	}, `SELECT id, kind, inbox_id, conversation_id, subject, detail, created_at
		FROM audit_records ORDER BY created_at DESC, id DESC LIMIT $1`, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("find audit records: %w", err)
	}
	return out, nil
}

// CreateUsageRecord stores r, setting ID (when empty) and CreatedAt (when zero).
func (db *DB) CreateUsageRecord(ctx context.Context, r *switchboard.UsageRecord) error {
	if r.ID == "" {
		r.ID = switchboard.NewID()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = db.now()
	}
	r.CreatedAt = r.CreatedAt.UTC().Truncate(time.Millisecond)
	_, err := db.exec(ctx, `INSERT INTO usage_records (id, subject, provider, model, prompt_tokens, completion_tokens,
		estimated, cost, outcome, ttft_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.ID, r.Subject, r.Provider, r.Model, r.Usage.PromptTokens, r.Usage.CompletionTokens, r.Usage.Estimated,
		r.Cost, r.Outcome, r.TTFTMs, r.CreatedAt)
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "Usage record already exists.")
	} else if err != nil {
		return fmt.Errorf("create usage record: %w", err)
	}
	return nil
}

// SummarizeUsage groups usage records created at or after since by subject,
// provider and model, in that order.
func (db *DB) SummarizeUsage(ctx context.Context, since time.Time) ([]switchboard.UsageSummary, error) {
	out, err := queryAll(ctx, db, func(r pgx.Row) (s switchboard.UsageSummary, err error) {
		return s, r.Scan(&s.Subject, &s.Provider, &s.Model, &s.Requests, &s.Tokens, &s.Cost)
	}, `SELECT subject, provider, model, COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0)::BIGINT,
		COALESCE(SUM(cost), 0)::DOUBLE PRECISION
		FROM usage_records WHERE created_at >= $1 GROUP BY subject, provider, model ORDER BY subject, provider, model`,
		since.UTC())
	if err != nil {
		return nil, fmt.Errorf("summarize usage: %w", err)
	}
	return out, nil
}

// GetSetting returns ENOTFOUND when the key is not set.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.queryRow(ctx, func(r pgx.Row) error { return r.Scan(&v) }, `SELECT value FROM settings WHERE key = $1`, key)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", switchboard.Errorf(switchboard.ENOTFOUND, "Setting not found.")
	} else if err != nil {
		return "", fmt.Errorf("get setting: %w", err)
	}
	return v, nil
}

// PutSetting creates or replaces a setting.
func (db *DB) PutSetting(ctx context.Context, key, value string) error {
	_, err := db.exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, db.now())
	if err != nil {
		return fmt.Errorf("put setting: %w", err)
	}
	return nil
}
