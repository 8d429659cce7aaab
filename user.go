package switchboard

import (
	"context"
	"time"
)

// Role of a user of the console.
type Role string

const (
	RoleAgent Role = "agent"
	RoleAdmin Role = "admin"
)

// Presence of an agent.
type Presence string

const (
	PresenceOnline  Presence = "online"
	PresenceAway    Presence = "away"
	PresenceOffline Presence = "offline"
)

// User is an agent or an admin.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"-"`
	Presence     Presence  `json:"presence"`
	Capacity     int       `json:"capacity"` // max open conversations; 0 = default
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// UserUpdate holds the fields to change; nil fields are kept.
type UserUpdate struct {
	Name         *string
	Role         *Role
	PasswordHash *string
	Presence     *Presence
	Capacity     *int
}

// UserFilter selects users. Zero fields match everything.
type UserFilter struct {
	Role     Role
	Presence Presence
	Limit    int
}

// AuthSession is a refresh token (stored hashed) of a logged-in user.
type AuthSession struct {
	ID        string
	UserID    string
	TokenHash string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// UserStore stores users and their refresh sessions.
type UserStore interface {
	// CreateUser sets ID and timestamps. ECONFLICT when the email is taken.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID returns ENOTFOUND when missing.
	FindUserByID(ctx context.Context, id string) (*User, error)
	// FindUserByEmail matches case-insensitively; ENOTFOUND when missing.
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	FindUsers(ctx context.Context, f UserFilter) ([]*User, error)
	// UpdateUser returns ENOTFOUND when missing.
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)

	CreateAuthSession(ctx context.Context, s *AuthSession) error
	// FindAuthSessionByHash returns ENOTFOUND when missing or expired.
	FindAuthSessionByHash(ctx context.Context, tokenHash string) (*AuthSession, error)
	DeleteAuthSession(ctx context.Context, id string) error
}
