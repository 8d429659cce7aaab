package switchboard

import (
	"encoding/json"
	"time"
)

// EventType of a stored conversation event.
type EventType string

const (
	EventMessage EventType = "message" // a stored message (contact, agent, system, note)
	EventStart   EventType = "start"   // a bot message started streaming
	EventDone    EventType = "done"    // a bot message finished
	EventError   EventType = "error"   // a bot message failed or was interrupted
	EventStatus  EventType = "status"  // status / owner / assignee changed
)

// Event is a stored change to a conversation, numbered by its seq. Clients
// replay events after their last seen seq.
type Event struct {
	ConversationID string          `json:"conversation_id"`
	Seq            int64           `json:"seq"`
	Type           EventType       `json:"type"`
	MessageID      string          `json:"message_id,omitempty"`
	Message        *Message        `json:"message,omitempty"` // current state, filled by FindEvents
	Data           json.RawMessage `json:"data,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
}

// StatusData is the Data of a status event.
type StatusData struct {
	Status     Status `json:"status"`
	Owner      Owner  `json:"owner"`
	AssigneeID string `json:"assignee_id,omitempty"`
}

// DoneData is the Data of a done event.
type DoneData struct {
	FinishReason string `json:"finish_reason"`
}

// ErrorData is the Data of an error event.
type ErrorData struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter int    `json:"retry_after,omitempty"`
}
