package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/switchboard-chat/switchboard"
)

const userCols = `id, email, name, role, password_hash, presence, capacity, created_at, updated_at`

// CreateUser stores u, setting ID (when empty), Presence (offline when
// empty) and timestamps. ECONFLICT when the email is taken.
func (db *DB) CreateUser(ctx context.Context, u *switchboard.User) error {
	if u.ID == "" {
		u.ID = switchboard.NewID()
	}
	if u.Presence == "" {
		u.Presence = switchboard.PresenceOffline
	}
	u.CreatedAt = db.now()
	u.UpdatedAt = u.CreatedAt
	_, err := db.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, u.Email, u.Name, string(u.Role), u.PasswordHash, string(u.Presence), u.Capacity, u.CreatedAt, u.UpdatedAt)
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "A user with this email already exists.")
	} else if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// FindUserByID returns ENOTFOUND when missing.
func (db *DB) FindUserByID(ctx context.Context, id string) (*switchboard.User, error) {
	var u *switchboard.User
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { u, err = scanUser(r); return err },
		`SELECT `+userCols+` FROM users WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}

// FindUserByEmail matches case-insensitively; ENOTFOUND when missing.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*switchboard.User, error) {
	var u *switchboard.User
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { u, err = scanUser(r); return err },
		`SELECT `+userCols+` FROM users WHERE lower(email) = lower($1)`, email)
	if err != nil {
		return nil, fmt.Errorf("find user by email: %w", err)
	}
	return u, nil
}

// FindUsers returns users matching f, oldest first.
func (db *DB) FindUsers(ctx context.Context, f switchboard.UserFilter) ([]*switchboard.User, error) {
	users, err := queryAll(ctx, db, scanUser, `SELECT `+userCols+` FROM users
		WHERE ($1 = '' OR role = $1) AND ($2 = '' OR presence = $2)
		ORDER BY created_at, id LIMIT $3`, string(f.Role), string(f.Presence), limitArg(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	return users, nil
}

// UpdateUser returns ENOTFOUND when missing.
func (db *DB) UpdateUser(ctx context.Context, id string, upd switchboard.UserUpdate) (*switchboard.User, error) {
	var set setList
	if upd.Name != nil {
		set.add("name", *upd.Name)
	}
	if upd.Role != nil {
		set.add("role", string(*upd.Role))
	}
	if upd.PasswordHash != nil {
		set.add("password_hash", *upd.PasswordHash)
	}
	if upd.Presence != nil {
		set.add("presence", string(*upd.Presence))
	}
	if upd.Capacity != nil {
		set.add("capacity", *upd.Capacity)
	}
	set.add("updated_at", db.now())
	where := set.args.add(id)
	var u *switchboard.User
	err := db.queryRow(ctx, func(r pgx.Row) (err error) { u, err = scanUser(r); return err },
		`UPDATE users SET `+set.String()+` WHERE id = `+where+` RETURNING `+userCols, set.args...)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	return u, nil
}

func scanUser(s pgx.Row) (*switchboard.User, error) {
	var u switchboard.User
	err := s.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Presence, &u.Capacity, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "User not found.")
	} else if err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return &u, nil
}

// CreateAuthSession stores s, setting ID (when empty) and CreatedAt.
func (db *DB) CreateAuthSession(ctx context.Context, s *switchboard.AuthSession) error {
	if s.ID == "" {
		s.ID = switchboard.NewID()
	}
	s.CreatedAt = db.now()
	s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Millisecond)
	_, err := db.exec(ctx, `INSERT INTO auth_sessions (id, user_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		s.ID, s.UserID, s.TokenHash, s.ExpiresAt, s.CreatedAt)
	switch {
	case isForeignKey(err):
		return switchboard.Errorf(switchboard.ENOTFOUND, "User not found.")
	case isUnique(err):
		return switchboard.Errorf(switchboard.ECONFLICT, "Session already exists.")
	case err != nil:
		return fmt.Errorf("create auth session: %w", err)
	}
	return nil
}

// FindAuthSessionByHash returns ENOTFOUND when missing or expired.
func (db *DB) FindAuthSessionByHash(ctx context.Context, tokenHash string) (*switchboard.AuthSession, error) {
	var s switchboard.AuthSession
	err := db.queryRow(ctx, func(r pgx.Row) error {
		return r.Scan(&s.ID, &s.UserID, &s.TokenHash, &s.ExpiresAt, &s.CreatedAt)
	}, `SELECT id, user_id, token_hash, expires_at, created_at FROM auth_sessions WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, db.now())
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Session not found.")
	} else if err != nil {
		return nil, fmt.Errorf("find auth session: %w", err)
	}
	s.ExpiresAt, s.CreatedAt = utc(s.ExpiresAt), utc(s.CreatedAt)
	return &s, nil
}

// DeleteAuthSession deletes a session; deleting a missing one is not an error.
func (db *DB) DeleteAuthSession(ctx context.Context, id string) error {
	if _, err := db.exec(ctx, `DELETE FROM auth_sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete auth session: %w", err)
	}
	return nil
}
