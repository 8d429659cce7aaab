package http

import (
	"net/http"
	"strings"
	"time"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type tokenResponse struct {
	Token        string   `json:"token"`
	RefreshToken string   `json:"refresh_token"`
	ExpiresIn    int      `json:"expires_in"`
	User         *sb.User `json:"user"`
}

// login verifies email and password (throttled after repeated failures)
// and returns an access token and a refresh token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req loginRequest
	if err := decodeJSON(w, r, 16<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Email = strings.TrimSpace(req.Email)
	ip := s.clientIP(r)
	if s.opt.Throttle != nil {
		if err := s.opt.Throttle.Check(ctx, req.Email, ip); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	u, err := s.store.FindUserByEmail(ctx, req.Email)
	if err != nil && sb.ErrorCode(err) != sb.ENOTFOUND {
		s.writeError(w, r, err)
		return
	}
	if u == nil || !auth.CheckPassword(u.PasswordHash, req.Password) {
		if s.opt.Throttle != nil {
			_ = s.opt.Throttle.Fail(ctx, req.Email, ip)
		}
		s.writeError(w, r, sb.Errorf(sb.EUNAUTHORIZED, "Wrong email or password."))
		return
	}
	s.issueTokens(w, r, u)
}

func (s *Server) issueTokens(w http.ResponseWriter, r *http.Request, u *sb.User) {
	access, err := s.opt.Issuer.IssueAccess(u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	refresh, hash := auth.NewRefreshToken()
	sess := &sb.AuthSession{UserID: u.ID, TokenHash: hash, ExpiresAt: time.Now().Add(s.opt.RefreshTTL)}
	if err := s.store.CreateAuthSession(r.Context(), sess); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{Token: access, RefreshToken: refresh, ExpiresIn: int(auth.DefaultAccessTTL.Seconds()), User: u})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh rotates a refresh token: the old one stops working.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := decodeJSON(w, r, 16<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, err := s.store.FindAuthSessionByHash(r.Context(), auth.HashRefreshToken(req.RefreshToken))
	if err != nil {
		if sb.ErrorCode(err) == sb.ENOTFOUND {
			err = sb.Errorf(sb.EUNAUTHORIZED, "Invalid or expired refresh token.")
		}
		s.writeError(w, r, err)
		return
	}
	if err := s.store.DeleteAuthSession(r.Context(), sess.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.store.FindUserByID(r.Context(), sess.UserID)
	if err != nil {
		s.writeError(w, r, sb.Errorf(sb.EUNAUTHORIZED, "Unknown user."))
		return
	}
	s.issueTokens(w, r, u)
}

// logout revokes the refresh token.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := decodeJSON(w, r, 16<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if sess, err := s.store.FindAuthSessionByHash(r.Context(), auth.HashRefreshToken(req.RefreshToken)); err == nil {
		if err := s.store.DeleteAuthSession(r.Context(), sess.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
