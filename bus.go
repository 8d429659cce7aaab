package switchboard

import (
	"context"
	"encoding/json"
	"time"
)

// BusFrame is a frame carried between the instances of a scale-out
// deployment, appended to its conversation's shared log.
type BusFrame struct {
	Origin string          `json:"o"` // instance that produced it
	ConvID string          `json:"c"`
	Frame  json.RawMessage `json:"f"`
	ID     string          `json:"-"` // position in the log
}

// BusCommand is an instruction for the instance running a job.
type BusCommand struct {
	Op     string `json:"op"` // stop, takeover, owner
	ConvID string `json:"conv"`
	Human  bool   `json:"human,omitempty"`
	Origin string `json:"origin"`
}

// Bus connects the instances of a scale-out deployment (Redis). Frames go
// to a capped per-conversation log that instances follow; commands reach
// every instance; leases name the instance generating an answer.
type Bus interface {
	// Append adds a frame to the conversation's log.
	Append(ctx context.Context, convID string, f BusFrame) error
	// Log returns the frames still in the log, oldest first, and the
	// position to follow from so that nothing after them is missed.
	Log(ctx context.Context, convID string) ([]BusFrame, string, error)
	// Follow delivers the conversation's frames after position from to the
	// bus's frame handler until stop is called.
	Follow(ctx context.Context, convID, from string) (stop func(), err error)
	// Send broadcasts a command to every instance's command handler.
	Send(ctx context.Context, c BusCommand) error

	AcquireLease(ctx context.Context, convID, owner string, ttl time.Duration) (bool, error)
	// RenewLease extends a lease owner holds; false when it was lost.
	RenewLease(ctx context.Context, convID, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, convID, owner string) error
	// LeaseHolder returns the lease's owner, "" when nobody holds it.
	LeaseHolder(ctx context.Context, convID string) (string, error)
}
