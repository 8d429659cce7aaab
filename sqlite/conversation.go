package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
)

const conversationCols = `id, inbox_id, contact_id, status, owner, assignee_id, context_epoch, last_seq, version, kb_misses, created_at, updated_at`

// CreateConversation stores c, setting ID (when empty), Version 1, LastSeq 0,
// Status and Owner (bot when empty) and timestamps. ENOTFOUND when the inbox
// or contact is missing.
func (db *DB) CreateConversation(ctx context.Context, c *switchboard.Conversation) error {
	if c.ID == "" {
		c.ID = switchboard.NewID()
	}
	if c.Status == "" {
		c.Status = switchboard.StatusBot
	}
	if c.Owner == "" {
		c.Owner = switchboard.OwnerBot
	}
	c.Version, c.LastSeq = 1, 0
	c.CreatedAt = db.now()
	c.UpdatedAt = c.CreatedAt
	_, err := db.wq.ExecContext(ctx, `INSERT INTO conversations (`+conversationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.InboxID, c.ContactID, string(c.Status), string(c.Owner), c.AssigneeID, c.ContextEpoch, c.LastSeq,
		c.Version, c.KBMisses, ms(c.CreatedAt), ms(c.UpdatedAt))
	switch {
	case isForeignKey(err):
		return switchboard.Errorf(switchboard.ENOTFOUND, "Inbox or contact not found.")
	case isUnique(err):
		return switchboard.Errorf(switchboard.ECONFLICT, "Conversation already exists.")
	case err != nil:
		return fmt.Errorf("create conversation: %w", err)
	}
	return nil
}

// FindConversationByID returns ENOTFOUND when missing.
func (db *DB) FindConversationByID(ctx context.Context, id string) (*switchboard.Conversation, error) {
	c, err := scanConversation(db.rq.QueryRowContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("find conversation: %w", err)
	}
	return c, nil
}

// conversationWhere builds the WHERE clause of a filter.
func conversationWhere(f switchboard.ConversationFilter, withStatus bool) (string, []any) {
	where := []string{"1 = 1"}
	var args []any
	if f.InboxID != "" {
		where, args = append(where, "inbox_id = ?"), append(args, f.InboxID)
	}
	if f.ContactID != "" {
		where, args = append(where, "contact_id = ?"), append(args, f.ContactID)
	}
	if f.AssigneeID != "" {
		where, args = append(where, "assignee_id = ?"), append(args, f.AssigneeID)
	}
	if withStatus && len(f.Status) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Status))+")")
		for _, s := range f.Status {
			args = append(args, string(s))
		}
	}
	return strings.Join(where, " AND "), args
}

// FindConversations returns conversations matching f, newest activity first.
func (db *DB) FindConversations(ctx context.Context, f switchboard.ConversationFilter) ([]*switchboard.Conversation, error) {
	where, args := conversationWhere(f, true)
	rows, err := db.rq.QueryContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE `+where+`
		ORDER BY updated_at DESC, id DESC LIMIT ?`, append(args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("find conversations: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Conversation
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("find conversations: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find conversations: %w", err)
	}
	return out, nil
}

// CountConversations counts conversations matching f by status (f.Status
// and f.Limit are ignored).
func (db *DB) CountConversations(ctx context.Context, f switchboard.ConversationFilter) (map[switchboard.Status]int, error) {
	where, args := conversationWhere(f, false)
	rows, err := db.rq.QueryContext(ctx, `SELECT status, COUNT(*) FROM conversations WHERE `+where+` GROUP BY status`, args...)
	if err != nil {
		return nil, fmt.Errorf("count conversations: %w", err)
	}
	defer rows.Close()
	out := map[switchboard.Status]int{}
	for rows.Next() {
		var s switchboard.Status
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count conversations: %w", err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count conversations: %w", err)
	}
	return out, nil
}

// UpdateConversation applies upd when the stored version equals version.
// ECONFLICT when the version moved on, ENOTFOUND when missing. A change of
// Status, Owner or AssigneeID appends a status event in the same
// transaction and returns it.
func (db *DB) UpdateConversation(ctx context.Context, id string, version int64, upd switchboard.ConversationUpdate) (*switchboard.Conversation, *switchboard.Event, error) {
	var c *switchboard.Conversation
	var ev *switchboard.Event
	err := db.withTx(ctx, func(tx querier) error {
		var err error
		c, err = scanConversation(tx.QueryRowContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if c.Version != version {
			return switchboard.Errorf(switchboard.ECONFLICT, "Conversation was changed by someone else (version %d, not %d).", c.Version, version)
		}
		statusChanged := applyConversationUpdate(c, upd)
		now := db.now()
		c.Version++
		c.UpdatedAt = now
		if statusChanged {
			c.LastSeq++
			data, err := toJSON(switchboard.StatusData{Status: c.Status, Owner: c.Owner, AssigneeID: c.AssigneeID})
			if err != nil {
				return err
			}
			ev = &switchboard.Event{ConversationID: id, Seq: c.LastSeq, Type: switchboard.EventStatus, Data: []byte(data), CreatedAt: now}
			if err := insertEvent(ctx, tx, ev); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE conversations SET status = ?, owner = ?, assignee_id = ?, context_epoch = ?,
			kb_misses = ?, last_seq = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?`,
			string(c.Status), string(c.Owner), c.AssigneeID, c.ContextEpoch, c.KBMisses, c.LastSeq, c.Version, ms(now), id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return switchboard.Errorf(switchboard.ECONFLICT, "Conversation was changed by someone else.")
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("update conversation: %w", err)
	}
	return c, ev, nil
}

// applyConversationUpdate applies upd to c and reports whether the status,
// owner or assignee changed.
func applyConversationUpdate(c *switchboard.Conversation, upd switchboard.ConversationUpdate) bool {
	changed := false
	if upd.Status != nil && *upd.Status != c.Status {
		c.Status, changed = *upd.Status, true
	}
	if upd.Owner != nil && *upd.Owner != c.Owner {
		c.Owner, changed = *upd.Owner, true
	}
	if upd.AssigneeID != nil && *upd.AssigneeID != c.AssigneeID {
		c.AssigneeID, changed = *upd.AssigneeID, true
	}
	if upd.ContextEpoch != nil {
		c.ContextEpoch = *upd.ContextEpoch
	}
	if upd.KBMisses != nil {
		c.KBMisses = *upd.KBMisses
	}
	return changed
}

func scanConversation(s scanner) (*switchboard.Conversation, error) {
	var c switchboard.Conversation
	var created, updated int64
	err := s.Scan(&c.ID, &c.InboxID, &c.ContactID, &c.Status, &c.Owner, &c.AssigneeID, &c.ContextEpoch,
		&c.LastSeq, &c.Version, &c.KBMisses, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Conversation not found.")
	} else if err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return &c, nil
}

// allocSeqs advances the conversation's last_seq by n inside tx and returns
// the new last seq. touch also moves updated_at (conversation activity).
func allocSeqs(ctx context.Context, q querier, conversationID string, n int, touch time.Time) (int64, error) {
	var row *sql.Row
	if touch.IsZero() {
		row = q.QueryRowContext(ctx, `UPDATE conversations SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq`, n, conversationID)
	} else {
		row = q.QueryRowContext(ctx, `UPDATE conversations SET last_seq = last_seq + ?, updated_at = ? WHERE id = ? RETURNING last_seq`,
			n, ms(touch), conversationID)
	}
	var last int64
	if err := row.Scan(&last); errors.Is(err, sql.ErrNoRows) {
		return 0, switchboard.Errorf(switchboard.ENOTFOUND, "Conversation not found.")
	} else if err != nil {
		return 0, err
	}
	return last, nil
}
