package http

import (
	"net/http"
	"strings"
	"time"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
)

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	us, err := s.store.FindUsers(r.Context(), sb.UserFilter{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
}

type userRequest struct {
	Email    *string  `json:"email"`
	Name     *string  `json:"name"`
	Role     *sb.Role `json:"role"`
	Capacity *int     `json:"capacity"`
}

func validRole(r sb.Role) bool { return r == sb.RoleAgent || r == sb.RoleAdmin }

// adminCreateUser invites an agent: the generated password is returned once.
func (s *Server) adminCreateUser(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	var req userRequest
	if err := decodeJSON(w, r, 16<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Email == nil || !strings.Contains(*req.Email, "@") {
		s.writeError(w, r, sb.Errorf(sb.EINVALID, "A valid email is required."))
		return
	}
	u := &sb.User{Email: strings.TrimSpace(*req.Email), Role: sb.RoleAgent, Presence: sb.PresenceOffline}
	if req.Name != nil {
		u.Name = strings.TrimSpace(*req.Name)
	}
	if u.Name == "" {
		u.Name = strings.SplitN(u.Email, "@", 2)[0]
	}
	if req.Role != nil {
		if !validRole(*req.Role) {
			s.writeError(w, r, sb.Errorf(sb.EINVALID, "role must be agent or admin."))
			return
		}
		u.Role = *req.Role
	}
	if req.Capacity != nil {
		u.Capacity = *req.Capacity
	}
	password := auth.GeneratePassword()
	hash, err := auth.HashPassword(password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u.PasswordHash = hash
	if err := s.store.CreateUser(r.Context(), u); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": u, "password": password})
}

func (s *Server) adminUpdateUser(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	var req userRequest
	if err := decodeJSON(w, r, 16<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Role != nil && !validRole(*req.Role) {
		s.writeError(w, r, sb.Errorf(sb.EINVALID, "role must be agent or admin."))
		return
	}
	if req.Capacity != nil && (*req.Capacity < 0 || *req.Capacity > 1000) {
		s.writeError(w, r, sb.Errorf(sb.EINVALID, "capacity must be between 0 and 1000."))
		return
	}
	u, err := s.store.UpdateUser(r.Context(), r.PathValue("id"), sb.UserUpdate{Name: req.Name, Role: req.Role, Capacity: req.Capacity})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

// inboxAdmin is the admin's view of an inbox: with the widget snippet.
type inboxAdmin struct {
	*sb.Inbox
	IdentitySecret string `json:"identity_secret"`
	Snippet        string `json:"snippet"`
}

func (s *Server) inboxView(r *http.Request, in *sb.Inbox) inboxAdmin {
	return inboxAdmin{Inbox: in, IdentitySecret: in.IdentitySecret,
		Snippet: `<script src="` + origin(r, s.opt.TrustProxy) + `/widget.js" data-widget-key="` + in.WidgetKey + `" async></script>`}
}

func (s *Server) adminInboxes(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	ins, err := s.store.FindInboxes(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]inboxAdmin, 0, len(ins))
	for _, in := range ins {
		out = append(out, s.inboxView(r, in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"inboxes": out})
}

type inboxRequest struct {
	Name           *string           `json:"name"`
	AllowedOrigins *[]string         `json:"allowed_origins"`
	Settings       *sb.InboxSettings `json:"settings"`
}

func (s *Server) adminCreateInbox(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	var req inboxRequest
	if err := decodeJSON(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		s.writeError(w, r, sb.Errorf(sb.EINVALID, "name is required."))
		return
	}
	in := &sb.Inbox{Name: strings.TrimSpace(*req.Name)}
	if req.AllowedOrigins != nil {
		in.AllowedOrigins = *req.AllowedOrigins
	}
	if req.Settings != nil {
		in.Settings = *req.Settings
	}
	if err := s.store.CreateInbox(r.Context(), in); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"inbox": s.inboxView(r, in)})
}

func (s *Server) adminUpdateInbox(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	var req inboxRequest
	if err := decodeJSON(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if req.Settings != nil {
		// Word lists have their own endpoint; keep them.
		cur, err := s.store.FindInboxByID(ctx, r.PathValue("id"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req.Settings.Words = cur.Settings.Words
	}
	in, err := s.store.UpdateInbox(ctx, r.PathValue("id"), sb.InboxUpdate{Name: req.Name, AllowedOrigins: req.AllowedOrigins, Settings: req.Settings})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"inbox": s.inboxView(r, in)})
}

func (s *Server) adminWords(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	in, err := s.store.FindInboxByID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lists := in.Settings.Words
	if lists == nil {
		lists = []sb.WordList{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": lists})
}

// adminPutWords replaces an inbox's word lists; they apply at once.
func (s *Server) adminPutWords(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	var req struct {
		Lists []sb.WordList `json:"lists"`
	}
	if err := decodeJSON(w, r, 8<<20, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, l := range req.Lists {
		switch l.Action {
		case sb.ActionBlock, sb.ActionMask, sb.ActionReview, sb.ActionHandoff:
		default:
			s.writeError(w, r, sb.Errorf(sb.EINVALID, "action must be block, mask, review or handoff."))
			return
		}
	}
	ctx := r.Context()
	in, err := s.store.FindInboxByID(ctx, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.opt.Words != nil {
		// Compile first: a list that cannot compile changes nothing.
		if err := s.opt.Words.SetLists(in.ID, req.Lists); err != nil {
			s.writeError(w, r, sb.Errorf(sb.EINVALID, "Word lists rejected: %v", err))
			return
		}
	}
	st := in.Settings
	st.Words = req.Lists
	if _, err := s.store.UpdateInbox(ctx, in.ID, sb.InboxUpdate{Settings: &st}); err != nil {
		if s.opt.Words != nil {
			_ = s.opt.Words.SetLists(in.ID, in.Settings.Words)
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": req.Lists})
}

func (s *Server) adminAPIKeys(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	ks, err := s.store.FindAPIKeys(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": ks})
}

// adminCreateAPIKey returns the secret exactly once; only its hash is kept.
func (s *Server) adminCreateAPIKey(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	var req struct {
		Name      string           `json:"name"`
		InboxID   string           `json:"inbox_id"`
		RateLimit *sb.RateLimit    `json:"rate_limit"`
		Budget    *sb.BudgetLimits `json:"budget"`
	}
	if err := decodeJSON(w, r, 16<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, secret, err := CreateAPIKey(r.Context(), s.store, req.Name, req.InboxID, req.RateLimit, req.Budget)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": k, "secret": secret})
}

func (s *Server) adminRevokeAPIKey(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	if err := s.store.RevokeAPIKey(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminDocuments(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	if s.opt.KB == nil {
		s.writeError(w, r, sb.Errorf(sb.ENOTFOUND, "No knowledge base."))
		return
	}
	ds, err := s.opt.KB.Documents(r.Context(), r.URL.Query().Get("inbox_id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"documents": ds})
}

func (s *Server) adminAddDocument(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	if s.opt.KB == nil {
		s.writeError(w, r, sb.Errorf(sb.ENOTFOUND, "No knowledge base."))
		return
	}
	var req struct {
		InboxID string `json:"inbox_id"`
		Title   string `json:"title"`
		Source  string `json:"source"`
		Format  string `json:"format"`
		Content string `json:"content"`
	}
	if err := decodeJSON(w, r, 8<<20, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.InboxID == "" || strings.TrimSpace(req.Content) == "" {
		s.writeError(w, r, sb.Errorf(sb.EINVALID, "inbox_id and content are required."))
		return
	}
	if _, err := s.store.FindInboxByID(r.Context(), req.InboxID); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Source == "" {
		req.Source = req.Title
	}
	d, err := s.opt.KB.Add(r.Context(), req.InboxID, req.Title, req.Source, req.Format, []byte(req.Content))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"document": d})
}

func (s *Server) adminDeleteDocument(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	if s.opt.KB == nil {
		s.writeError(w, r, sb.Errorf(sb.ENOTFOUND, "No knowledge base."))
		return
	}
	if err := s.opt.KB.Delete(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminProviders reports route targets (breakers, latency) and spend.
func (s *Server) adminProviders(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	var targets []sb.TargetStatus
	if s.opt.Router != nil {
		targets = s.opt.Router.Status()
	}
	since := time.Now().Add(-30 * 24 * time.Hour)
	usage, err := s.store.SummarizeUsage(r.Context(), since)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"targets": targets, "usage": usage, "since": since})
}

func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request, _ *sb.User) {
	rs, err := s.store.FindAuditRecords(r.Context(), 200)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": rs})
}
