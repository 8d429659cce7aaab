package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/switchboard-chat/switchboard"
)

const messageCols = `id, conversation_id, seq, client_msg_id, sender, author_id, kind, content, state, provider, model,
	usage, cost, ttft_ms, flags, sources, created_at, updated_at`

// clientMsgIDIndex is the unique index that makes client_msg_id idempotent.
const clientMsgIDIndex = "messages_client_msg_id"

// AppendMessage stores m as the next event of its conversation (type
// "start" when m.State is streaming, else "message"), setting ID (when
// empty), Seq, Kind (text when empty), State (complete when empty) and
// timestamps. When m.ClientMsgID was already seen in the conversation
// nothing is written and the stored message is returned with existed = true.
// ENOTFOUND when the conversation is missing.
func (db *DB) AppendMessage(ctx context.Context, m *switchboard.Message) (*switchboard.Message, bool, error) {
	if m.ClientMsgID != "" {
		// Fast path for retries: no row lock needed.
		var old *switchboard.Message
		err := db.withConn(ctx, func(c *pgx.Conn) (err error) {
			old, err = findMessageByClientID(ctx, c, m.ConversationID, m.ClientMsgID)
			return err
		})
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
	usage, err := toJSON(c.Usage)
	if err != nil {
		return nil, false, fmt.Errorf("append message: %w", err)
	}
	flags, err := toJSON(c.Flags)
	if err != nil {
		return nil, false, fmt.Errorf("append message: %w", err)
	}
	sources, err := toJSON(c.Sources)
	if err != nil {
		return nil, false, fmt.Errorf("append message: %w", err)
	}
	typ := switchboard.EventMessage
	if c.State == switchboard.StateStreaming {
		typ = switchboard.EventStart
	}
	now := db.now()
	c.CreatedAt, c.UpdatedAt = now, now
	// One statement, so one transaction and one round trip: the UPDATE
	// locks the conversation row (ordering concurrent appenders and
	// holding the lock only for the statement) and allocates the seq; the
	// message and its event are inserted with it, or nothing is.
	err = db.queryRow(ctx, func(r pgx.Row) error { return r.Scan(&c.Seq) }, `WITH c AS (
			UPDATE conversations SET last_seq = last_seq + 1, updated_at = GREATEST(updated_at, $16::timestamptz)
			WHERE id = $2::text RETURNING last_seq
		), m AS (
			INSERT INTO messages (`+messageCols+`)
			SELECT $1::text, $2::text, c.last_seq, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text,
				$11::jsonb, $12::float8, $13::bigint, $14::jsonb, $15::jsonb, $16::timestamptz, $16::timestamptz FROM c
			RETURNING seq
		)
		INSERT INTO events (conversation_id, seq, type, message_id, data, created_at)
		SELECT $2::text, m.seq, $17::text, $1::text, NULL, $16::timestamptz FROM m
		RETURNING seq`,
		c.ID, c.ConversationID, c.ClientMsgID, string(c.Sender), c.AuthorID, string(c.Kind), c.Content, string(c.State),
		c.Provider, c.Model, usage, c.Cost, c.TTFTMs, flags, sources, now, string(typ))
	if errors.Is(err, pgx.ErrNoRows) {
		err = switchboard.Errorf(switchboard.ENOTFOUND, "Conversation not found.")
	}
	var old *switchboard.Message
	if isUnique(err) && constraint(err) == clientMsgIDIndex {
		// A concurrent append with this client_msg_id committed first (we
		// waited for its row lock): the statement rolled back whole.
		err = db.withConn(ctx, func(conn *pgx.Conn) (err error) {
			old, err = findMessageByClientID(ctx, conn, c.ConversationID, c.ClientMsgID)
			if err == nil && old == nil {
				err = switchboard.Errorf(switchboard.ECONFLICT, "Message conflicts with a stored one.")
			}
			return err
		})
		if err == nil {
			return old, true, nil
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("append message: %w", err)
	}
	*m = c
	out := c
	return &out, false, nil
}

func findMessageByClientID(ctx context.Context, q querier, conversationID, clientMsgID string) (*switchboard.Message, error) {
	m, err := scanMessage(q.QueryRow(ctx, `SELECT `+messageCols+` FROM messages
		WHERE conversation_id = $1 AND client_msg_id = $2`, conversationID, clientMsgID))
	if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
		return nil, nil
	}
	return m, err
}

func insertEvent(ctx context.Context, q querier, ev *switchboard.Event) error {
	var data any
	if ev.Data != nil {
		data = []byte(ev.Data)
	}
	_, err := q.Exec(ctx, `INSERT INTO events (conversation_id, seq, type, message_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		ev.ConversationID, ev.Seq, string(ev.Type), ev.MessageID, data, ev.CreatedAt)
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
	set.add("updated_at", db.now())
	return &set, nil
}

// UpdateMessage changes a message without an event. ENOTFOUND when missing.
func (db *DB) UpdateMessage(ctx context.Context, id string, upd switchboard.MessageUpdate) (*switchboard.Message, error) {
	set, err := db.messageSet(upd)
	if err != nil {
		return nil, fmt.Errorf("update message: %w", err)
	}
	where := set.args.add(id)
	var m *switchboard.Message
	err = db.queryRow(ctx, func(r pgx.Row) (err error) { m, err = scanMessage(r); return err },
		`UPDATE messages SET `+set.String()+` WHERE id = `+where+` RETURNING `+messageCols, set.args...)
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
	where := set.args.add(id)
	var ev *switchboard.Event
	err = db.withTx(ctx, func(tx pgx.Tx) error {
		m, err := scanMessage(tx.QueryRow(ctx, `UPDATE messages SET `+set.String()+` WHERE id = `+where+` RETURNING `+messageCols,
			set.args...))
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
	var m *switchboard.Message
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { m, err = scanMessage(r); return err },
		`SELECT `+messageCols+` FROM messages WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("find message: %w", err)
	}
	return m, nil
}

// FindMessages returns messages of a conversation after f.AfterSeq in seq order.
func (db *DB) FindMessages(ctx context.Context, f switchboard.MessageFilter) ([]*switchboard.Message, error) {
	msgs, err := queryAll(ctx, db, scanMessage, `SELECT `+messageCols+` FROM messages WHERE conversation_id = $1 AND seq > $2
		ORDER BY seq LIMIT $3`, f.ConversationID, f.AfterSeq, limitArg(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("find messages: %w", err)
	}
	return msgs, nil
}

// FindStreamingMessages returns messages still streaming, oldest first.
func (db *DB) FindStreamingMessages(ctx context.Context) ([]*switchboard.Message, error) {
	msgs, err := queryAll(ctx, db, scanMessage, `SELECT `+messageCols+` FROM messages WHERE state = $1 ORDER BY created_at, id`,
		string(switchboard.StateStreaming))
	if err != nil {
		return nil, fmt.Errorf("find streaming messages: %w", err)
	}
	return msgs, nil
}

// ReserveSeqs advances the conversation's LastSeq by n and returns the first
// reserved seq. ENOTFOUND when missing, EINVALID when n < 1.
func (db *DB) ReserveSeqs(ctx context.Context, conversationID string, n int) (int64, error) {
	if n < 1 {
		return 0, switchboard.Errorf(switchboard.EINVALID, "Reserve at least one seq.")
	}
	var last int64
	err := db.withConn(ctx, func(c *pgx.Conn) (err error) {
		last, err = allocSeqs(ctx, c, conversationID, n, time.Time{})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reserve seqs: %w", err)
	}
	return last - int64(n) + 1, nil
}

// AppendEvent appends an event that is not a message write. ENOTFOUND when
// the conversation is missing.
func (db *DB) AppendEvent(ctx context.Context, conversationID string, typ switchboard.EventType, messageID string, data []byte) (*switchboard.Event, error) {
	now := db.now()
	ev := &switchboard.Event{ConversationID: conversationID, Type: typ, MessageID: messageID, Data: data, CreatedAt: now}
	var raw any
	if data != nil {
		raw = []byte(data)
	}
	// One statement: the seq allocation and the event commit together.
	err := db.queryRow(ctx, func(r pgx.Row) error { return r.Scan(&ev.Seq) }, `WITH c AS (
			UPDATE conversations SET last_seq = last_seq + 1, updated_at = GREATEST(updated_at, $5::timestamptz)
			WHERE id = $1::text RETURNING last_seq
		)
		INSERT INTO events (conversation_id, seq, type, message_id, data, created_at)
		SELECT $1::text, c.last_seq, $2::text, $3::text, $4::jsonb, $5::timestamptz FROM c
		RETURNING seq`, conversationID, string(typ), messageID, raw, now)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Conversation not found.")
	} else if err != nil {
		return nil, fmt.Errorf("append event: %w", err)
	}
	return ev, nil
}

// FindEvents returns events with seq > afterSeq in order, each with the
// current state of its message (when it has one).
func (db *DB) FindEvents(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]*switchboard.Event, error) {
	events, err := queryAll(ctx, db, func(r pgx.Row) (*switchboard.Event, error) {
		var ev switchboard.Event
		var data []byte
		if err := r.Scan(&ev.ConversationID, &ev.Seq, &ev.Type, &ev.MessageID, &data, &ev.CreatedAt); err != nil {
			return nil, err
		}
		if data != nil {
			ev.Data = data
		}
		ev.CreatedAt = utc(ev.CreatedAt)
		return &ev, nil
	}, `SELECT conversation_id, seq, type, message_id, data, created_at FROM events
		WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, conversationID, afterSeq, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	var ids []string
	seen := map[string]bool{}
	for _, ev := range events {
		if ev.MessageID != "" && !seen[ev.MessageID] {
			seen[ev.MessageID] = true
			ids = append(ids, ev.MessageID)
		}
	}
	if len(ids) == 0 {
		return events, nil
	}
	msgs, err := queryAll(ctx, db, scanMessage, `SELECT `+messageCols+` FROM messages WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	byID := make(map[string]*switchboard.Message, len(msgs))
	for _, m := range msgs {
		byID[m.ID] = m
	}
	for _, ev := range events {
		if ev.MessageID != "" {
			ev.Message = byID[ev.MessageID]
		}
	}
	return events, nil
}

func scanMessage(s pgx.Row) (*switchboard.Message, error) {
	var m switchboard.Message
	var usage, flags, sources []byte
	err := s.Scan(&m.ID, &m.ConversationID, &m.Seq, &m.ClientMsgID, &m.Sender, &m.AuthorID, &m.Kind, &m.Content, &m.State,
		&m.Provider, &m.Model, &usage, &m.Cost, &m.TTFTMs, &flags, &sources, &m.CreatedAt, &m.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
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
	m.CreatedAt, m.UpdatedAt = utc(m.CreatedAt), utc(m.UpdatedAt)
	return &m, nil
}
