package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/chat"
)

func (s *Server) me(w http.ResponseWriter, r *http.Request, u *sb.User) {
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

type userPublic struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Email    string      `json:"email"`
	Role     sb.Role     `json:"role"`
	Presence sb.Presence `json:"presence"`
}

func (s *Server) agentUsers(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	us, err := s.store.FindUsers(r.Context(), sb.UserFilter{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]userPublic, 0, len(us))
	for _, u := range us {
		out = append(out, userPublic{u.ID, u.Name, u.Email, u.Role, u.Presence})
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (s *Server) setPresence(w http.ResponseWriter, r *http.Request, u *sb.User) {
	var req struct {
		Presence sb.Presence `json:"presence"`
	}
	if err := decodeJSON(w, r, 4096, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch req.Presence {
	case sb.PresenceOnline, sb.PresenceAway, sb.PresenceOffline:
	default:
		s.writeError(w, r, sb.Errorf(sb.EINVALID, "presence must be online, away or offline."))
		return
	}
	if err := s.engine.SetPresence(r.Context(), u.ID, req.Presence); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"presence": req.Presence})
}

// canned lists canned responses of every inbox.
func (s *Server) canned(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	ins, err := s.store.FindInboxes(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []sb.Canned{}
	for _, in := range ins {
		out = append(out, in.Settings.Canned...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"canned": out})
}

func (s *Server) agentConversations(w http.ResponseWriter, r *http.Request, u *sb.User) {
	ctx := r.Context()
	q := r.URL.Query()
	f := sb.ConversationFilter{InboxID: q.Get("inbox_id"), Limit: 100}
	if st := q.Get("status"); st != "" {
		for _, x := range strings.Split(st, ",") {
			f.Status = append(f.Status, sb.Status(x))
		}
	}
	if q.Get("assignee") == "me" {
		f.AssigneeID = u.ID
	}
	cs, err := s.store.FindConversations(ctx, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	counts, err := s.store.CountConversations(ctx, sb.ConversationFilter{InboxID: f.InboxID})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	views := make([]chat.ConversationView, 0, len(cs))
	for _, c := range cs {
		views = append(views, s.engine.View(ctx, c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": views, "counts": counts})
}

func (s *Server) agentConversation(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	ctx := r.Context()
	c, err := s.store.FindConversationByID(ctx, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.store.FindMessages(ctx, sb.MessageFilter{ConversationID: c.ID, Limit: 500})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := s.engine.View(ctx, c)
	writeJSON(w, http.StatusOK, map[string]any{"conversation": c, "contact": v.Contact, "messages": ms})
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request, u *sb.User) {
	var req struct {
		UserID string `json:"user_id"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, 4096, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	target, transfer := u.ID, false
	if req.UserID != "" && req.UserID != u.ID {
		target, transfer = req.UserID, true
	}
	c, err := s.engine.Assign(r.Context(), r.PathValue("id"), target, transfer)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversation": c})
}

func (s *Server) agentMessage(w http.ResponseWriter, r *http.Request, u *sb.User) {
	var req struct {
		Content string `json:"content"`
		Private bool   `json:"private"`
	}
	if err := decodeJSON(w, r, int64(s.opt.MaxMessageBytes)*2+4096, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Content) > s.opt.MaxMessageBytes {
		s.writeError(w, r, sb.Errorf(sb.ETOOLARGE, "Message is larger than %d bytes.", s.opt.MaxMessageBytes))
		return
	}
	if err := s.rateLimit(r.Context(), w, s.opt.Limiter, "msg:user:"+u.ID, sb.RateLimit{Requests: s.opt.MessageRate.Requests * 4, Window: s.opt.MessageRate.Window}); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.engine.PostAgentMessage(r.Context(), r.PathValue("id"), u, req.Content, req.Private)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": m})
}

func (s *Server) handback(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	c, err := s.engine.Handback(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversation": c})
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	c, err := s.engine.Resolve(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversation": c})
}

// draft streams a suggested reply for the agent (copilot). It is never
// stored or sent: the agent edits it and presses Send.
func (s *Server) draft(w http.ResponseWriter, r *http.Request, u *sb.User) {
	var req struct {
		ConversationID string `json:"conversation_id"`
	}
	if err := decodeJSON(w, r, 4096, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.rateLimit(r.Context(), w, s.opt.Limiter, "draft:user:"+u.ID, s.opt.MessageRate); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.engine.Draft(r.Context(), req.ConversationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer st.Close()
	out := newSSE(w)
	type ev struct {
		Type     string `json:"type"`
		Payload  string `json:"payload,omitempty"`
		Code     string `json:"code,omitempty"`
		Message  string `json:"message,omitempty"`
		Provider string `json:"provider,omitempty"`
		Model    string `json:"model,omitempty"`
	}
	send := func(e ev) error {
		b, _ := json.Marshal(e)
		return out.frame(chat.Outbound{JSON: b})
	}
	for {
		c, err := st.Recv()
		if c.Text != "" {
			if send(ev{Type: "delta", Payload: c.Text}) != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				_ = send(ev{Type: "done", Provider: c.Provider, Model: c.Model})
			} else if r.Context().Err() == nil {
				_ = send(ev{Type: "error", Code: sb.ErrorCode(err), Message: sb.ErrorMessage(err)})
			}
			return
		}
	}
}
