package switchboard

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Frame types sent by the server (DESIGN.md "Streaming protocol").
const (
	FrameReady   = "ready"
	FrameMessage = "message"
	FrameStart   = "start"
	FrameDelta   = "delta"
	FrameDone    = "done"
	FrameError   = "error"
	FrameStatus  = "status"
	FrameTyping  = "typing"
	FramePong    = "pong"
)

// Assignee is the public view of the agent a conversation is assigned to.
type Assignee struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Frame is one server-to-client frame. Frames that change conversation state
// carry its Seq; frames about nothing stored (typing, pong, a rejected
// client frame) have Seq 0.
type Frame struct {
	Type           string    `json:"type"`
	Seq            int64     `json:"seq,omitempty"`
	ConversationID string    `json:"conversation_id,omitempty"`
	LastSeq        *int64    `json:"last_seq,omitempty"` // ready
	MessageID      string    `json:"message_id,omitempty"`
	Message        *Message  `json:"message,omitempty"`
	Offset         int       `json:"offset"`            // delta
	Payload        string    `json:"payload,omitempty"` // delta
	FinishReason   string    `json:"finish_reason,omitempty"`
	Usage          *Usage    `json:"usage,omitempty"`
	Code           string    `json:"code,omitempty"`
	Text           string    `json:"message_text,omitempty"` // error message; encoded as "message"
	RetryAfter     int       `json:"retry_after,omitempty"`
	Status         Status    `json:"status,omitempty"`
	Owner          Owner     `json:"owner,omitempty"`
	Assignee       *Assignee `json:"assignee,omitempty"`
	From           string    `json:"from,omitempty"` // typing
	QueuePosition  int       `json:"queue_position,omitempty"`
	QueueWaitSec   int       `json:"queue_wait_seconds,omitempty"`
	Sources        []Source  `json:"sources,omitempty"` // done
}

// AppendJSON appends the frame's JSON encoding to b. Deltas, the hot path,
// are encoded by hand without allocating; other frames go through
// encoding/json. The error frame's text is encoded under "message" as
// DESIGN.md shows, which a struct tag cannot express next to Message.
func (f *Frame) AppendJSON(b []byte) []byte {
	switch f.Type {
	case FrameDelta:
		b = append(b, `{"type":"delta","seq":`...)
		b = strconv.AppendInt(b, f.Seq, 10)
		if f.ConversationID != "" {
			b = append(b, `,"conversation_id":`...)
			b = AppendJSONString(b, f.ConversationID)
		}
		b = append(b, `,"message_id":`...)
		b = AppendJSONString(b, f.MessageID)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, int64(f.Offset), 10)
		b = append(b, `,"payload":`...)
		b = AppendJSONString(b, f.Payload)
		return append(b, '}')
	case FramePong:
		return append(b, `{"type":"pong"}`...)
	}
	type wire struct {
		Type           string    `json:"type"`
		Seq            int64     `json:"seq,omitempty"`
		ConversationID string    `json:"conversation_id,omitempty"`
		LastSeq        *int64    `json:"last_seq,omitempty"`
		MessageID      string    `json:"message_id,omitempty"`
		Message        any       `json:"message,omitempty"`
		FinishReason   string    `json:"finish_reason,omitempty"`
		Usage          *Usage    `json:"usage,omitempty"`
		Code           string    `json:"code,omitempty"`
		RetryAfter     int       `json:"retry_after,omitempty"`
		Status         Status    `json:"status,omitempty"`
		Owner          Owner     `json:"owner,omitempty"`
		Assignee       *Assignee `json:"assignee,omitempty"`
		From           string    `json:"from,omitempty"`
		QueuePosition  int       `json:"queue_position,omitempty"`
		QueueWaitSec   int       `json:"queue_wait_seconds,omitempty"`
		Sources        []Source  `json:"sources,omitempty"`
	}
	w := wire{Type: f.Type, Seq: f.Seq, ConversationID: f.ConversationID, LastSeq: f.LastSeq,
		MessageID: f.MessageID, FinishReason: f.FinishReason, Usage: f.Usage, Code: f.Code,
		RetryAfter: f.RetryAfter, Status: f.Status, Owner: f.Owner, Assignee: f.Assignee, From: f.From,
		QueuePosition: f.QueuePosition, QueueWaitSec: f.QueueWaitSec, Sources: f.Sources}
	if f.Message != nil {
		w.Message = f.Message
	} else if f.Text != "" {
		w.Message = f.Text
	}
	out, err := json.Marshal(w)
	if err != nil { // cannot happen for these field types
		return append(b, `{"type":"error","code":"internal"}`...)
	}
	return append(b, out...)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (f *Frame) MarshalJSON() ([]byte, error) { return f.AppendJSON(nil), nil }

// AppendJSONString appends s as a JSON string literal, escaping what JSON
// requires plus <, > and & (like encoding/json) so frames are safe to embed.
// Invalid UTF-8 becomes U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendJSONStringBody(b, s)
	return append(b, '"')
}

// AppendJSONStringBody appends s escaped as the inside of a JSON string
// literal, without the quotes (to write several pieces as one literal).
func AppendJSONStringBody(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
