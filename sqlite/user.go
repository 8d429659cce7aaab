package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	_, err := db.wq.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, string(u.Role), u.PasswordHash, string(u.Presence), u.Capacity, ms(u.CreatedAt), ms(u.UpdatedAt))
	if isUnique(err) {
		return switchboard.Errorf(switchboard.ECONFLICT, "A user with this email already exists.")
	} else if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// FindUserByID returns ENOTFOUND when missing.
func (db *DB) FindUserByID(ctx context.Context, id string) (*switchboard.User, error) {
	u, err := scanUser(db.rq.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}

// FindUserByEmail matches case-insensitively; ENOTFOUND when missing.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*switchboard.User, error) {
	u, err := scanUser(db.rq.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = ? COLLATE NOCASE`, email))
	if err != nil {
		return nil, fmt.Errorf("find user by email: %w", err)
	}
	return u, nil
}

// FindUsers returns users matching f, oldest first.
func (db *DB) FindUsers(ctx context.Context, f switchboard.UserFilter) ([]*switchboard.User, error) {
	rows, err := db.rq.QueryContext(ctx, `SELECT `+userCols+` FROM users
		WHERE (? = '' OR role = ?) AND (? = '' OR presence = ?)
		ORDER BY created_at, id LIMIT ?`,
		string(f.Role), string(f.Role), string(f.Presence), string(f.Presence), limitArg(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	defer rows.Close()
	var users []*switchboard.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("find users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
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
	set.add("updated_at", ms(db.now()))
	u, err := scanUser(db.wq.QueryRowContext(ctx, `UPDATE users SET `+set.String()+` WHERE id = ? RETURNING `+userCols,
		append(set.args, id)...))
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	return u, nil
}

func scanUser(s scanner) (*switchboard.User, error) {
	var u switchboard.User
	var created, updated int64
	err := s.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.Presence, &u.Capacity, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "User not found.")
	} else if err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	return &u, nil
}

// CreateAuthSession stores s, setting ID (when empty) and CreatedAt.
func (db *DB) CreateAuthSession(ctx context.Context, s *switchboard.AuthSession) error {
	if s.ID == "" {
		s.ID = switchboard.NewID()
	}
	s.CreatedAt = db.now()
	s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Millisecond)
	_, err := db.wq.ExecContext(ctx, `INSERT INTO auth_sessions (id, user_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`,
		s.ID, s.UserID, s.TokenHash, ms(s.ExpiresAt), ms(s.CreatedAt))
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
	var expires, created int64
	err := db.rq.QueryRowContext(ctx, `SELECT id, user_id, token_hash, expires_at, created_at
		FROM auth_sessions WHERE token_hash = ? AND expires_at > ?`, tokenHash, ms(db.now())).
		Scan(&s.ID, &s.UserID, &s.TokenHash, &expires, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Session not found.")
	} else if err != nil {
		return nil, fmt.Errorf("find auth session: %w", err)
	}
	s.ExpiresAt, s.CreatedAt = fromMS(expires), fromMS(created)
	return &s, nil
}

// DeleteAuthSession deletes a session; deleting a missing one is not an error.
func (db *DB) DeleteAuthSession(ctx context.Context, id string) error {
	if _, err := db.wq.ExecContext(ctx, `DELETE FROM auth_sessions WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete auth session: %w", err)
	}
	return nil
}
