package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	_, err := db.wq.ExecContext(ctx, `INSERT INTO audit_records (id, kind, inbox_id, conversation_id, subject, detail, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Kind, r.InboxID, r.ConversationID, r.Subject, r.Detail, ms(r.CreatedAt))
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "Audit record already exists.")
	} else if err != nil {
		return fmt.Errorf("create audit record: %w", err)
	}
	return nil
}

// FindAuditRecords returns the newest records first (limit <= 0: all).
func (db *DB) FindAuditRecords(ctx context.Context, limit int) ([]*switchboard.AuditRecord, error) {
	rows, err := db.rq.QueryContext(ctx, `SELECT id, kind, inbox_id, conversation_id, subject, detail, created_at
		FROM audit_records ORDER BY created_at DESC, id DESC LIMIT ?`, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("find audit records: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.AuditRecord
	for rows.Next() {
		var r switchboard.AuditRecord
		var created int64
		if err := rows.Scan(&r.ID, &r.Kind, &r.InboxID, &r.ConversationID, &r.Subject, &r.Detail, &created); err != nil {
			return nil, fmt.Errorf("find audit records: %w", err)
		}
		r.CreatedAt = fromMS(created)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
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
	_, err := db.wq.ExecContext(ctx, `INSERT INTO usage_records (id, subject, provider, model, prompt_tokens, completion_tokens,
		estimated, cost, outcome, ttft_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Subject, r.Provider, r.Model, r.Usage.PromptTokens, r.Usage.CompletionTokens, r.Usage.Estimated,
		r.Cost, r.Outcome, r.TTFTMs, ms(r.CreatedAt))
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
	rows, err := db.rq.QueryContext(ctx, `SELECT subject, provider, model, COUNT(*),
		COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(cost), 0)
		FROM usage_records WHERE created_at >= ? GROUP BY subject, provider, model ORDER BY subject, provider, model`, ms(since))
	if err != nil {
		return nil, fmt.Errorf("summarize usage: %w", err)
	}
	defer rows.Close()
	var out []switchboard.UsageSummary
	for rows.Next() {
		var s switchboard.UsageSummary
		if err := rows.Scan(&s.Subject, &s.Provider, &s.Model, &s.Requests, &s.Tokens, &s.Cost); err != nil {
			return nil, fmt.Errorf("summarize usage: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("summarize usage: %w", err)
	}
	return out, nil
}

// GetSetting returns ENOTFOUND when the key is not set.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.rq.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", switchboard.Errorf(switchboard.ENOTFOUND, "Setting not found.")
	} else if err != nil {
		return "", fmt.Errorf("get setting: %w", err)
	}
	return v, nil
}

// PutSetting creates or replaces a setting.
func (db *DB) PutSetting(ctx context.Context, key, value string) error {
	_, err := db.wq.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, ms(db.now()))
	if err != nil {
		return fmt.Errorf("put setting: %w", err)
	}
	return nil
}
