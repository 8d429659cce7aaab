package http

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/ws"
)

type sessionRequest struct {
	WidgetKey string          `json:"widget_key"`
	Identity  json.RawMessage `json:"identity,omitempty"`
}

type sessionResponse struct {
	Token        string           `json:"token"`
	Contact      *sb.Contact      `json:"contact"`
	Conversation *sb.Conversation `json:"conversation"`
	Inbox        inboxPublic      `json:"inbox"`
}

type inboxPublic struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Greeting string `json:"greeting,omitempty"`
}

// widgetSession starts or resumes a visitor session: a signed visitor
// token and the visitor's conversation. The Origin must be allowed for
// the inbox; an identity must be signed with the inbox's identity secret.
func (s *Server) widgetSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req sessionRequest
	if err := decodeJSON(w, r, 64<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.WidgetKey == "" {
		s.writeError(w, r, sb.Errorf(sb.EINVALID, "widget_key is required."))
		return
	}
	inbox, err := s.store.FindInboxByWidgetKey(ctx, req.WidgetKey)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !originAllowed(r.Header.Get("Origin"), inbox.AllowedOrigins, origin(r, s.opt.TrustProxy)) {
		s.writeError(w, r, sb.Errorf(sb.EFORBIDDEN, "This site is not allowed to use this widget."))
		return
	}
	if err := s.rateLimit(ctx, w, s.opt.Limiter, "session:ip:"+s.clientIP(r), s.opt.MessageRate); err != nil {
		s.writeError(w, r, err)
		return
	}

	var contact *sb.Contact
	if len(req.Identity) > 0 && string(req.Identity) != "null" {
		id, err := auth.VerifyIdentity(inbox.IdentitySecret, req.Identity)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		contact, err = s.store.FindContactByExternalID(ctx, inbox.ID, id.UID)
		switch {
		case sb.ErrorCode(err) == sb.ENOTFOUND:
			contact = &sb.Contact{InboxID: inbox.ID, ExternalID: id.UID, Name: id.Name, Email: id.Email}
			err = s.store.CreateContact(ctx, contact)
		case err == nil && (contact.Name != id.Name || contact.Email != id.Email):
			contact, err = s.store.UpdateContact(ctx, contact.ID, id.Name, id.Email)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	} else if tok := bearer(r); tok != "" {
		// A returning anonymous visitor keeps their contact and history.
		if c, err := s.opt.Issuer.Verify(tok); err == nil && c.Type == auth.TypeVisitor && c.InboxID == inbox.ID {
			if ct, err := s.store.FindContactByID(ctx, c.Subject); err == nil && ct.ExternalID == "" {
				contact = ct
			}
		}
	}
	if contact == nil {
		contact = &sb.Contact{InboxID: inbox.ID}
		if err := s.store.CreateContact(ctx, contact); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	conv, err := s.latestConversation(ctx, inbox, contact)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	token, err := s.opt.Issuer.IssueVisitor(contact.ID, inbox.ID, conv.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionResponse{Token: token, Contact: contact, Conversation: conv,
		Inbox: inboxPublic{ID: inbox.ID, Name: inbox.Name, Greeting: inbox.Settings.Greeting}})
}

func (s *Server) latestConversation(ctx context.Context, inbox *sb.Inbox, contact *sb.Contact) (*sb.Conversation, error) {
	cs, err := s.store.FindConversations(ctx, sb.ConversationFilter{InboxID: inbox.ID, ContactID: contact.ID, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(cs) > 0 {
		return cs[0], nil
	}
	conv := &sb.Conversation{InboxID: inbox.ID, ContactID: contact.ID, Status: sb.StatusBot, Owner: sb.OwnerBot}
	return conv, s.store.CreateConversation(ctx, conv)
}

// access is who calls a conversation endpoint.
type access struct {
	visitor bool
	user    *sb.User
	claims  *auth.Claims
}

// withConversation authorises a visitor (their own conversation) or a
// console user (any conversation).
func (s *Server) withConversation(h func(http.ResponseWriter, *http.Request, *sb.Conversation, access)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			s.writeError(w, r, sb.Errorf(sb.EUNAUTHORIZED, "Missing token."))
			return
		}
		c, err := s.opt.Issuer.Verify(tok)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		conv, err := s.store.FindConversationByID(r.Context(), r.PathValue("id"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		a := access{claims: c}
		switch c.Type {
		case auth.TypeVisitor:
			if conv.ContactID != c.Subject {
				s.writeError(w, r, sb.Errorf(sb.EFORBIDDEN, "Not your conversation."))
				return
			}
			a.visitor = true
		case auth.TypeAccess:
			if a.user, err = s.store.FindUserByID(r.Context(), c.Subject); err != nil {
				s.writeError(w, r, sb.Errorf(sb.EUNAUTHORIZED, "Unknown user."))
				return
			}
		default:
			s.writeError(w, r, sb.Errorf(sb.EUNAUTHORIZED, "Wrong token type."))
			return
		}
		h(w, r, conv, a)
	}
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, conv *sb.Conversation, a access) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after_seq"), 10, 64)
	lim, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if lim <= 0 || lim > 500 {
		lim = 200
	}
	ms, err := s.store.FindMessages(r.Context(), sb.MessageFilter{ConversationID: conv.ID, AfterSeq: after, Limit: lim})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]*sb.Message, 0, len(ms))
	for _, m := range ms {
		if a.visitor && m.Kind == sb.KindNote {
			continue
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out, "last_seq": conv.LastSeq})
}

type postMessageRequest struct {
	ClientMsgID string `json:"client_msg_id"`
	Content     string `json:"content"`
}

// postMessage stores a visitor message; with Accept: text/event-stream the
// reply is streamed as SSE events until it finishes.
func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, conv *sb.Conversation, a access) {
	ctx := r.Context()
	if !a.visitor {
		s.writeError(w, r, sb.Errorf(sb.EFORBIDDEN, "Agents reply through /v1/agent/conversations/{id}/messages."))
		return
	}
	var req postMessageRequest
	if err := decodeJSON(w, r, int64(s.opt.MaxMessageBytes)*2+4096, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Content) > s.opt.MaxMessageBytes {
		s.writeError(w, r, sb.Errorf(sb.ETOOLARGE, "Message is larger than %d bytes.", s.opt.MaxMessageBytes))
		return
	}
	if err := s.limitVisitor(ctx, w, conv.InboxID, a.claims.Subject, s.clientIP(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, existed, err := s.engine.PostContactMessage(ctx, conv.ID, req.ClientMsgID, req.Content)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		s.streamReply(w, r, conv.ID, m, existed)
		return
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"message": m, "duplicate": existed})
}

// limitVisitor applies the message rate limit per visitor and per IP.
func (s *Server) limitVisitor(ctx context.Context, w http.ResponseWriter, inboxID, contactID, ip string) error {
	rl := s.opt.MessageRate
	if in, err := s.engine.Inbox(ctx, inboxID); err == nil && in.Settings.RateLimit != nil && in.Settings.RateLimit.Requests > 0 {
		rl = *in.Settings.RateLimit
	}
	if err := s.rateLimit(ctx, w, s.opt.Limiter, "msg:visitor:"+contactID, rl); err != nil {
		return err
	}
	// The per-IP limit is looser: many visitors may share an address.
	ipl := sb.RateLimit{Requests: rl.Requests * 4, Window: rl.Window}
	return s.rateLimit(ctx, nil, s.opt.Limiter, "msg:ip:"+ip, ipl)
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request, conv *sb.Conversation, a access) {
	stopped := s.engine.Stop(r.Context(), conv.ID)
	writeJSON(w, http.StatusOK, map[string]bool{"stopped": stopped})
}

func (s *Server) handoff(w http.ResponseWriter, r *http.Request, conv *sb.Conversation, a access) {
	c, err := s.engine.Handoff(r.Context(), conv.ID, "visitor")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversation": c})
}

type offlineMessageRequest struct {
	Email   string `json:"email"`
	Content string `json:"content"`
}

func (s *Server) offlineMessage(w http.ResponseWriter, r *http.Request, conv *sb.Conversation, a access) {
	var req offlineMessageRequest
	if err := decodeJSON(w, r, int64(s.opt.MaxMessageBytes)*2, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Email, req.Content = strings.TrimSpace(req.Email), strings.TrimSpace(req.Content)
	if !strings.Contains(req.Email, "@") || len(req.Email) > 254 || req.Content == "" {
		s.writeError(w, r, sb.Errorf(sb.EINVALID, "An email address and a message are required."))
		return
	}
	if len(req.Content) > s.opt.MaxMessageBytes {
		s.writeError(w, r, sb.Errorf(sb.ETOOLARGE, "Message is larger than %d bytes.", s.opt.MaxMessageBytes))
		return
	}
	if err := s.limitVisitor(r.Context(), w, conv.InboxID, conv.ContactID, s.clientIP(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.engine.LeaveMessage(r.Context(), conv.ID, req.Email, req.Content)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": m})
}

// authenticateSocket checks a WebSocket upgrade's token and Origin.
func (s *Server) authenticateSocket(r *http.Request) (*ws.Peer, error) {
	tok := bearer(r)
	if tok == "" {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "Missing token.")
	}
	c, err := s.opt.Issuer.Verify(tok)
	if err != nil {
		return nil, err
	}
	p := &ws.Peer{IP: s.clientIP(r)}
	switch c.Type {
	case auth.TypeVisitor:
		inbox, err := s.engine.Inbox(r.Context(), c.InboxID)
		if err != nil {
			return nil, sb.Errorf(sb.EUNAUTHORIZED, "Unknown inbox.")
		}
		if !originAllowed(r.Header.Get("Origin"), inbox.AllowedOrigins, origin(r, s.opt.TrustProxy)) {
			return nil, sb.Errorf(sb.EFORBIDDEN, "This site is not allowed to use this widget.")
		}
		p.Visitor, p.ContactID, p.InboxID, p.ConversationID = true, c.Subject, c.InboxID, c.ConversationID
	case auth.TypeAccess:
		if o := r.Header.Get("Origin"); o != "" && o != origin(r, s.opt.TrustProxy) {
			return nil, sb.Errorf(sb.EFORBIDDEN, "The console must be used from this server's origin.")
		}
		u, err := s.store.FindUserByID(r.Context(), c.Subject)
		if err != nil {
			return nil, sb.Errorf(sb.EUNAUTHORIZED, "Unknown user.")
		}
		p.User = u
	default:
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "Wrong token type.")
	}
	return p, nil
}

func (s *Server) limitSocket(ctx context.Context, p *ws.Peer) error {
	return s.limitVisitor(ctx, nil, p.InboxID, p.ContactID, p.IP)
}
