package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	_, err := db.exec(ctx, `INSERT INTO conversations (`+conversationCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ID, c.InboxID, c.ContactID, string(c.Status), string(c.Owner), c.AssigneeID, c.ContextEpoch, c.LastSeq,
		c.Version, c.KBMisses, c.CreatedAt, c.UpdatedAt)
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
	var c *switchboard.Conversation
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { c, err = scanConversation(r); return err },
		`SELECT `+conversationCols+` FROM conversations WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("find conversation: %w", err)
	}
	return c, nil
}

// conversationWhere builds the WHERE clause of a filter.
func conversationWhere(f switchboard.ConversationFilter, withStatus bool, a *args) string {
	where := []string{"TRUE"}
	if f.InboxID != "" {
		where = append(where, "inbox_id = "+a.add(f.InboxID))
	}
	if f.ContactID != "" {
		where = append(where, "contact_id = "+a.add(f.ContactID))
	}
	if f.AssigneeID != "" {
		where = append(where, "assignee_id = "+a.add(f.AssigneeID))
	}
	if withStatus && len(f.Status) > 0 {
		st := make([]string, len(f.Status))
		for i, s := range f.Status {
			st[i] = string(s)
		}
		where = append(where, "status = ANY("+a.add(st)+")")
	}
	return strings.Join(where, " AND ")
}

// FindConversations returns conversations matching f, newest activity first.
func (db *DB) FindConversations(ctx context.Context, f switchboard.ConversationFilter) ([]*switchboard.Conversation, error) {
	var a args
	where := conversationWhere(f, true, &a)
	limit := a.add(limitArg(f.Limit))
	out, err := queryAll(ctx, db, scanConversation, `SELECT `+conversationCols+` FROM conversations WHERE `+where+`
		ORDER BY updated_at DESC, id DESC LIMIT `+limit, a...)
	if err != nil {
		return nil, fmt.Errorf("find conversations: %w", err)
	}
	return out, nil
}

// CountConversations counts conversations matching f by status (f.Status
// and f.Limit are ignored).
func (db *DB) CountConversations(ctx context.Context, f switchboard.ConversationFilter) (map[switchboard.Status]int, error) {
	var a args
	where := conversationWhere(f, false, &a)
	type count struct {
		status switchboard.Status
		n      int
	}
	rows, err := queryAll(ctx, db, func(r pgx.Row) (c count, err error) { return c, r.Scan(&c.status, &c.n) },
		`SELECT status, COUNT(*) FROM conversations WHERE `+where+` GROUP BY status`, a...)
	if err != nil {
		return nil, fmt.Errorf("count conversations: %w", err)
	}
	out := map[switchboard.Status]int{}
	for _, c := range rows {
		out[c.status] = c.n
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
	err := db.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		ev = nil
		c, err = scanConversation(tx.QueryRow(ctx, `SELECT `+conversationCols+` FROM conversations WHERE id = $1 FOR UPDATE`, id))
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
			ev = &switchboard.Event{ConversationID: id, Seq: c.LastSeq, Type: switchboard.EventStatus, Data: data, CreatedAt: now}
			if err := insertEvent(ctx, tx, ev); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE conversations SET status = $1, owner = $2, assignee_id = $3, context_epoch = $4,
			kb_misses = $5, last_seq = $6, version = $7, updated_at = $8 WHERE id = $9`,
			string(c.Status), string(c.Owner), c.AssigneeID, c.ContextEpoch, c.KBMisses, c.LastSeq, c.Version, now, id)
		return err
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

func scanConversation(s pgx.Row) (*switchboard.Conversation, error) {
	var c switchboard.Conversation
	err := s.Scan(&c.ID, &c.InboxID, &c.ContactID, &c.Status, &c.Owner, &c.AssigneeID, &c.ContextEpoch,
		&c.LastSeq, &c.Version, &c.KBMisses, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Conversation not found.")
	} else if err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return &c, nil
}

// allocSeqs advances the conversation's last_seq by n and returns the new
// last seq. The row stays locked until q's transaction ends, which orders
// concurrent writers. touch (when not zero) also moves updated_at.
func allocSeqs(ctx context.Context, q querier, conversationID string, n int, touch time.Time) (int64, error) {
	var row pgx.Row
	if touch.IsZero() {
		row = q.QueryRow(ctx, `UPDATE conversations SET last_seq = last_seq + $1 WHERE id = $2 RETURNING last_seq`, n, conversationID)
	} else {
		row = q.QueryRow(ctx, `UPDATE conversations SET last_seq = last_seq + $1, updated_at = GREATEST(updated_at, $2) WHERE id = $3 RETURNING last_seq`,
			n, touch, conversationID)
	}
	var last int64
	if err := row.Scan(&last); errors.Is(err, pgx.ErrNoRows) {
		return 0, switchboard.Errorf(switchboard.ENOTFOUND, "Conversation not found.")
	} else if err != nil {
		return 0, err
	}
	return last, nil
}
