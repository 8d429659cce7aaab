package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// maxInArgs bounds the arguments of one IN (…) list.
const maxInArgs = 500

const messageCols = `id, conversation_id, seq, client_msg_id, sender, author_id, kind, content, state, provider, model,
	usage, cost, ttft_ms, flags, sources, created_at, updated_at`

// AppendMessage stores m as the next event of its conversation (type
// "start" when m.State is streaming, else "message"), setting ID (when
// empty), Seq, Kind (text when empty), State (complete when empty) and
// timestamps. When m.ClientMsgID was already seen in the conversation
// nothing is written and the stored message is returned with existed = true.
// ENOTFOUND when the conversation is missing.
func (db *DB) AppendMessage(ctx context.Context, m *switchboard.Message) (*switchboard.Message, bool, error) {
	if m.ClientMsgID != "" {
		// Fast path for retries: no write lock needed.
		old, err := db.findMessageByClientID(ctx, db.rq, m.ConversationID, m.ClientMsgID)
		if err != nil {
			return nil, false, fmt.Errorf("append message: %w", err)
		} else if old != nil {
			return old, true, nil
		}
	}
	c := *m
	if c.ID == "" {
		c.ID = switchboard.NewID()
	}
	if c.Kind == "" {
		c.Kind = switchboard.KindText
	}
	if c.State == "" {
		c.State = switchboard.StateComplete
	}
	var old *switchboard.Message
	err := db.withTx(ctx, func(tx querier) error {
		if c.ClientMsgID != "" {
			var err error
			if old, err = db.findMessageByClientID(ctx, tx, c.ConversationID, c.ClientMsgID); err != nil || old != nil {
				return err
			}
		}
		now := db.now()
		seq, err := allocSeqs(ctx, tx, c.ConversationID, 1, now)
		if err != nil {
			return err
		}
		c.Seq, c.CreatedAt, c.UpdatedAt = seq, now, now
		if err := insertMessage(ctx, tx, &c); err != nil {
			return err
		}
		typ := switchboard.EventMessage
		if c.State == switchboard.StateStreaming {
			typ = switchboard.EventStart
		}
		return insertEvent(ctx, tx, &switchboard.Event{ConversationID: c.ConversationID, Seq: seq, Type: typ, MessageID: c.ID, CreatedAt: now})
	})
	if isUnique(err) && c.ClientMsgID != "" {
		// Another writer (another process) stored it first.
		old, err = db.findMessageByClientID(ctx, db.wq, c.ConversationID, c.ClientMsgID)
		if err == nil && old == nil {
			err = switchboard.Errorf(switchboard.ECONFLICT, "Message conflicts with a stored one.")
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("append message: %w", err)
	}
	if old != nil {
		return old, true, nil
	}
	*m = c
	out := c
	return &out, false, nil
}

func (db *DB) findMessageByClientID(ctx context.Context, q querier, conversationID, clientMsgID string) (*switchboard.Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages
		WHERE conversation_id = ? AND client_msg_id = ?`, conversationID, clientMsgID))
	if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
		return nil, nil
	}
	return m, err
}

func insertMessage(ctx context.Context, q querier, m *switchboard.Message) error {
	usage, err := toJSON(m.Usage)
	if err != nil {
		return err
	}
	flags, err := toJSON(m.Flags)
	if err != nil {
		return err
	}
	sources, err := toJSON(m.Sources)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO messages (`+messageCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.ConversationID, m.Seq, m.ClientMsgID, string(m.Sender), m.AuthorID, string(m.Kind), m.Content, string(m.State),
		m.Provider, m.Model, usage, m.Cost, m.TTFTMs, flags, sources, ms(m.CreatedAt), ms(m.UpdatedAt))
	return err
}

func insertEvent(ctx context.Context, q querier, ev *switchboard.Event) error {
	var data any
	if ev.Data != nil {
		data = string(ev.Data)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO events (conversation_id, seq, type, message_id, data, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ev.ConversationID, ev.Seq, string(ev.Type), ev.MessageID, data, ms(ev.CreatedAt))
	return err
}

// messageSet builds the SET clause of a message update.
func (db *DB) messageSet(upd switchboard.MessageUpdate) (*setList, error) {
	var set setList
	if upd.Content != nil {
		set.add("content", *upd.Content)
	}
	if upd.State != nil {
		set.add("state", string(*upd.State))
	}
	if upd.Provider != nil {
		set.add("provider", *upd.Provider)
	}
	if upd.Model != nil {
		set.add("model", *upd.Model)
	}
	if upd.Usage != nil {
		v, err := toJSON(*upd.Usage)
		if err != nil {
			return nil, err
		}
		set.add("usage", v)
	}
	if upd.Cost != nil {
		set.add("cost", *upd.Cost)
	}
	if upd.TTFTMs != nil {
		set.add("ttft_ms", *upd.TTFTMs)
	}
	if upd.Flags != nil {
		v, err := toJSON(*upd.Flags)
		if err != nil {
			return nil, err
		}
		set.add("flags", v)
	}
	if upd.Sources != nil {
		v, err := toJSON(*upd.Sources)
		if err != nil {
			return nil, err
		}
		set.add("sources", v)
	}
	set.add("updated_at", ms(db.now()))
	return &set, nil
}

// UpdateMessage changes a message without an event. ENOTFOUND when missing.
func (db *DB) UpdateMessage(ctx context.Context, id string, upd switchboard.MessageUpdate) (*switchboard.Message, error) {
	set, err := db.messageSet(upd)
	if err != nil {
		return nil, fmt.Errorf("update message: %w", err)
	}
	m, err := scanMessage(db.wq.QueryRowContext(ctx, `UPDATE messages SET `+set.String()+` WHERE id = ? RETURNING `+messageCols,
		append(set.args, id)...))
	if err != nil {
		return nil, fmt.Errorf("update message: %w", err)
	}
	return m, nil
}

// FinishMessage applies upd and appends an event of type typ with data, in
// one transaction. The returned event carries the updated message.
// ENOTFOUND when the message is missing.
func (db *DB) FinishMessage(ctx context.Context, id string, upd switchboard.MessageUpdate, typ switchboard.EventType, data []byte) (*switchboard.Event, error) {
	set, err := db.messageSet(upd)
	if err != nil {
		return nil, fmt.Errorf("finish message: %w", err)
	}
	var ev *switchboard.Event
	err = db.withTx(ctx, func(tx querier) error {
		m, err := scanMessage(tx.QueryRowContext(ctx, `UPDATE messages SET `+set.String()+` WHERE id = ? RETURNING `+messageCols,
			append(set.args, id)...))
		if err != nil {
			return err
		}
		seq, err := allocSeqs(ctx, tx, m.ConversationID, 1, m.UpdatedAt)
		if err != nil {
			return err
		}
		ev = &switchboard.Event{ConversationID: m.ConversationID, Seq: seq, Type: typ, MessageID: m.ID, Message: m, Data: data, CreatedAt: m.UpdatedAt}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return nil, fmt.Errorf("finish message: %w", err)
	}
	return ev, nil
}

// FindMessageByID returns ENOTFOUND when missing.
func (db *DB) FindMessageByID(ctx context.Context, id string) (*switchboard.Message, error) {
	m, err := scanMessage(db.rq.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("find message: %w", err)
	}
	return m, nil
}

// FindMessages returns messages of a conversation after f.AfterSeq in seq order.
func (db *DB) FindMessages(ctx context.Context, f switchboard.MessageFilter) ([]*switchboard.Message, error) {
	msgs, err := db.queryMessages(ctx, `SELECT `+messageCols+` FROM messages WHERE conversation_id = ? AND seq > ?
		ORDER BY seq LIMIT ?`, f.ConversationID, f.AfterSeq, limitArg(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("find messages: %w", err)
	}
	return msgs, nil
}

// FindStreamingMessages returns messages still streaming, oldest first.
func (db *DB) FindStreamingMessages(ctx context.Context) ([]*switchboard.Message, error) {
	msgs, err := db.queryMessages(ctx, `SELECT `+messageCols+` FROM messages WHERE state = ? ORDER BY created_at, id`,
		string(switchboard.StateStreaming))
	if err != nil {
		return nil, fmt.Errorf("find streaming messages: %w", err)
	}
	return msgs, nil
}

func (db *DB) queryMessages(ctx context.Context, query string, args ...any) ([]*switchboard.Message, error) {
	rows, err := db.rq.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*switchboard.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ReserveSeqs advances the conversation's LastSeq by n and returns the first
// reserved seq. ENOTFOUND when missing, EINVALID when n < 1.
func (db *DB) ReserveSeqs(ctx context.Context, conversationID string, n int) (int64, error) {
	if n < 1 {
		return 0, switchboard.Errorf(switchboard.EINVALID, "Reserve at least one seq.")
	}
	last, err := allocSeqs(ctx, db.wq, conversationID, n, time.Time{})
	if err != nil {
		return 0, fmt.Errorf("reserve seqs: %w", err)
	}
	return last - int64(n) + 1, nil
}

// AppendEvent appends an event that is not a message write. ENOTFOUND when
// the conversation is missing.
func (db *DB) AppendEvent(ctx context.Context, conversationID string, typ switchboard.EventType, messageID string, data []byte) (*switchboard.Event, error) {
	var ev *switchboard.Event
	err := db.withTx(ctx, func(tx querier) error {
		now := db.now()
		seq, err := allocSeqs(ctx, tx, conversationID, 1, now)
		if err != nil {
			return err
		}
		ev = &switchboard.Event{ConversationID: conversationID, Seq: seq, Type: typ, MessageID: messageID, Data: data, CreatedAt: now}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return nil, fmt.Errorf("append event: %w", err)
	}
	return ev, nil
}

// FindEvents returns events with seq > afterSeq in order, each with the
// current state of its message (when it has one).
func (db *DB) FindEvents(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]*switchboard.Event, error) {
	rows, err := db.rq.QueryContext(ctx, `SELECT conversation_id, seq, type, message_id, data, created_at FROM events
		WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`, conversationID, afterSeq, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	defer rows.Close()
	var events []*switchboard.Event
	var ids []any
	seen := map[string]bool{}
	for rows.Next() {
		var ev switchboard.Event
		var data sql.NullString
		var created int64
		if err := rows.Scan(&ev.ConversationID, &ev.Seq, &ev.Type, &ev.MessageID, &data, &created); err != nil {
			return nil, fmt.Errorf("find events: %w", err)
		}
		if data.Valid {
			ev.Data = []byte(data.String)
		}
		ev.CreatedAt = fromMS(created)
		events = append(events, &ev)
		if ev.MessageID != "" && !seen[ev.MessageID] {
			seen[ev.MessageID] = true
			ids = append(ids, ev.MessageID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	rows.Close()
	if len(ids) == 0 {
		return events, nil
	}
	byID := make(map[string]*switchboard.Message, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxInArgs)]
		ids = ids[len(chunk):]
		msgs, err := db.queryMessages(ctx, `SELECT `+messageCols+` FROM messages WHERE id IN (`+placeholders(len(chunk))+`)`, chunk...)
		if err != nil {
			return nil, fmt.Errorf("find events: %w", err)
		}
		for _, m := range msgs {
			byID[m.ID] = m
		}
	}
	for _, ev := range events {
		if ev.MessageID != "" {
			ev.Message = byID[ev.MessageID]
		}
	}
	return events, nil
}

func scanMessage(s scanner) (*switchboard.Message, error) {
	var m switchboard.Message
	var usage, flags, sources string
	var created, updated int64
	err := s.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.ClientMsgID, &m.Sender, &m.AuthorID, &m.Kind, &m.Content, &m.State,
		&m.Provider, &m.Model, &usage, &m.Cost, &m.TTFTMs, &flags, &sources, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Message not found.")
	} else if err != nil {
		return nil, err
	}
	if err := fromJSON(usage, &m.Usage); err != nil {
		return nil, err
	}
	if err := fromJSON(flags, &m.Flags); err != nil {
		return nil, err
	}
	if err := fromJSON(sources, &m.Sources); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = fromMS(created), fromMS(updated)
	return &m, nil
}
