package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// OpenAI-compatible wire types (the subset clients use).
type oaiMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type oaiRequest struct {
	Model         string       `json:"model"`
	Messages      []oaiMessage `json:"messages"`
	Stream        bool         `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int      `json:"max_tokens"`
	MaxCompletionTokens int      `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
}

type oaiUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// text extracts the text of a content that is a string or an array of parts.
func (m oaiMessage) text() (string, error) {
	if len(m.Content) == 0 || string(m.Content) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(m.Content, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return "", sb.Errorf(sb.EINVALID, "message content must be a string or an array of parts.")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// openAIError writes an error in OpenAI's shape, which SDKs parse:
// {"error":{"message","type","code"}}.
func (s *Server) openAIError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := sb.ErrorCode(err), sb.ErrorMessage(err)
	status := ErrorStatus(code)
	if code == sb.EINTERNAL {
		s.logger.Error("openai request failed", "request_id", requestID(r.Context()), "err", err)
	}
	if ra := sb.ErrorRetryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
	} else if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "3")
	}
	typ := "invalid_request_error"
	switch status {
	case http.StatusUnauthorized:
		typ = "authentication_error"
	case http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusBadGateway:
		typ = "server_error"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": code}})
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if _, err := s.apiKey(r.Context(), bearer(r)); err != nil {
		s.openAIError(w, r, err)
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := []model{}
	if s.opt.Router != nil {
		for _, rt := range s.opt.Router.Routes() {
			out = append(out, model{rt.Name, "model", 0, "switchboard"})
			for _, a := range rt.Aliases {
				out = append(out, model{a, "model", 0, "switchboard"})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": out})
}

// chatCompletions is the OpenAI-compatible endpoint: same router, limits,
// budgets and moderation as the chat.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key, err := s.apiKey(ctx, bearer(r))
	if err != nil {
		s.openAIError(w, r, err)
		return
	}
	var req oaiRequest
	if err := decodeJSON(w, r, s.opt.MaxBodyBytes, &req); err != nil {
		s.openAIError(w, r, err)
		return
	}
	if s.opt.Router == nil {
		s.openAIError(w, r, sb.Errorf(sb.EUNAVAILABLE, "No router configured."))
		return
	}
	route, err := s.opt.Router.Resolve(req.Model)
	if err != nil {
		s.openAIError(w, r, err)
		return
	}
	if len(req.Messages) == 0 {
		s.openAIError(w, r, sb.Errorf(sb.EINVALID, "messages must not be empty."))
		return
	}
	rl := s.opt.MessageRate
	if key.RateLimit != nil && key.RateLimit.Requests > 0 {
		rl = *key.RateLimit
	}
	subject := "key:" + key.ID
	if err := s.rateLimit(ctx, w, s.opt.KeyLimiter, "api:"+subject, rl); err != nil {
		s.openAIError(w, r, err)
		return
	}
	if s.opt.Budgets != nil {
		var lim sb.BudgetLimits
		if key.Budget != nil {
			lim = *key.Budget
		}
		if err := s.opt.Budgets.Check(ctx, subject, lim); sb.ErrorCode(err) == sb.EBUDGET {
			s.openAIError(w, r, err)
			return
		} else if err != nil {
			// The budget store (Redis) is down: keys have a rate limit that
			// fails closed; the budget fails open and says so.
			s.logger.Warn("budget check unavailable; allowing", "subject", subject, "err", err)
		}
	}
	cr := &sb.ChatRequest{Model: route, MaxTokens: req.MaxTokens, Temperature: req.Temperature, Subject: subject}
	if req.MaxCompletionTokens > 0 {
		cr.MaxTokens = req.MaxCompletionTokens
	}
	total := 0
	for _, m := range req.Messages {
		text, err := m.text()
		if err != nil {
			s.openAIError(w, r, err)
			return
		}
		switch m.Role {
		case "system", "developer":
			m.Role = sb.RoleSystem
		case sb.RoleUser, sb.RoleAssistant:
		default:
			continue // tool messages are not forwarded
		}
		total += len(text)
		if m.Role == sb.RoleUser && s.opt.Moderator != nil {
			res := s.opt.Moderator.Check(key.InboxID, text)
			switch res.Action {
			case sb.ActionBlock:
				s.openAIError(w, r, sb.Errorf(sb.EBLOCKED, "The request contains words that are not allowed."))
				return
			case sb.ActionMask:
				text = res.Text
			}
		}
		cr.Messages = append(cr.Messages, sb.ChatMessage{Role: m.Role, Content: text})
	}
	if total > int(s.opt.MaxBodyBytes) {
		s.openAIError(w, r, sb.Errorf(sb.ETOOLARGE, "Request is too large."))
		return
	}

	start := time.Now()
	st, err := s.opt.Router.Stream(ctx, cr)
	if err != nil {
		s.openAIError(w, r, err)
		return
	}
	defer st.Close()
	// Commit point: nothing is written until the first chunk arrives, so
	// a failure before it still gets a proper status code.
	first, ferr := st.Recv()
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		s.openAIError(w, r, ferr)
		return
	}
	id := "chatcmpl-" + strings.ToLower(sb.NewID())
	res := &oaiResult{id: id, created: start.Unix(), model: req.Model}
	var filter sb.StreamFilter
	if s.opt.Moderator != nil {
		filter = s.opt.Moderator.StreamFilter(key.InboxID)
	}
	if req.Stream {
		s.streamCompletion(w, r, st, first, ferr, res, filter, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
	} else {
		s.collectCompletion(w, r, st, first, ferr, res, filter)
	}
}

type oaiResult struct {
	id, model, provider string
	created             int64
	text                strings.Builder
	finish              string
	usage               sb.Usage
	cost                float64
	err                 error
	ttft                time.Duration
}

// pump reads the stream through the moderation filter, calling emit for
// each piece of text; it fills res.
func pump(st sb.Stream, first sb.Chunk, ferr error, res *oaiResult, filter sb.StreamFilter, start time.Time, emit func(string) bool) {
	c, err := first, ferr
	for {
		if c.Provider != "" {
			res.provider, res.model = c.Provider, c.Model
		}
		if c.Text != "" {
			out := c.Text
			var mr sb.ModerationResult
			if filter != nil {
				out, mr = filter.Push(c.Text)
			}
			if out != "" {
				if res.ttft == 0 {
					res.ttft = time.Since(start)
				}
				res.text.WriteString(out)
				if !emit(out) {
					res.err = context.Canceled
					return
				}
			}
			if mr.Action == sb.ActionBlock {
				res.finish = "content_filter"
				return
			}
		}
		if c.Usage != nil {
			res.usage, res.cost = *c.Usage, c.Cost
		}
		if c.FinishReason != "" {
			res.finish = c.FinishReason
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.err = err
			return
		}
		c, err = st.Recv()
	}
	if filter != nil {
		out, mr := filter.Flush()
		if out != "" {
			res.text.WriteString(out)
			emit(out)
		}
		if mr.Action == sb.ActionBlock {
			res.finish = "content_filter"
		}
	}
	if res.finish == "" {
		res.finish = "stop"
	}
}

func (s *Server) streamCompletion(w http.ResponseWriter, r *http.Request, st sb.Stream, first sb.Chunk, ferr error, res *oaiResult, filter sb.StreamFilter, includeUsage bool) {
	out := newSSE(w)
	buf := make([]byte, 0, 256)
	chunk := func(delta string, role bool, finish string) bool {
		buf = append(buf[:0], `{"id":"`...)
		buf = append(buf, res.id...)
		buf = append(buf, `","object":"chat.completion.chunk","created":`...)
		buf = strconv.AppendInt(buf, res.created, 10)
		buf = append(buf, `,"model":`...)
		buf = sb.AppendJSONString(buf, res.model)
		buf = append(buf, `,"choices":[{"index":0,"delta":{`...)
		if role {
			buf = append(buf, `"role":"assistant",`...)
		}
		buf = append(buf, `"content":`...)
		buf = sb.AppendJSONString(buf, delta)
		buf = append(buf, `},"finish_reason":`...)
		if finish == "" {
			buf = append(buf, "null"...)
		} else {
			buf = sb.AppendJSONString(buf, finish)
		}
		buf = append(buf, `}]}`...)
		out.b = append(append(append(out.b[:0], "data: "...), buf...), '\n', '\n')
		return out.write() == nil
	}
	role := true
	pump(st, first, ferr, res, filter, time.Unix(res.created, 0), func(text string) bool {
		ok := chunk(text, role, "")
		role = false
		return ok
	})
	if res.err != nil {
		if r.Context().Err() == nil {
			b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": sb.ErrorMessage(res.err), "type": "server_error", "code": sb.ErrorCode(res.err)}})
			out.b = append(append(append(out.b[:0], "data: "...), b...), '\n', '\n')
			_ = out.write()
		}
		return // a truncated answer never ends with finish_reason stop or [DONE]
	}
	if !chunk("", role, res.finish) {
		return
	}
	if includeUsage {
		u := oaiUsage{res.usage.PromptTokens, res.usage.CompletionTokens, res.usage.Total()}
		b, _ := json.Marshal(map[string]any{"id": res.id, "object": "chat.completion.chunk", "created": res.created, "model": res.model, "choices": []any{}, "usage": u})
		out.b = append(append(append(out.b[:0], "data: "...), b...), '\n', '\n')
		if out.write() != nil {
			return
		}
	}
	out.b = append(out.b[:0], "data: [DONE]\n\n"...)
	_ = out.write()
}

func (s *Server) collectCompletion(w http.ResponseWriter, r *http.Request, st sb.Stream, first sb.Chunk, ferr error, res *oaiResult, filter sb.StreamFilter) {
	pump(st, first, ferr, res, filter, time.Unix(res.created, 0), func(string) bool { return true })
	if res.err != nil {
		s.openAIError(w, r, res.err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": res.id, "object": "chat.completion", "created": res.created, "model": res.model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": res.text.String()}, "finish_reason": res.finish}},
		"usage":   oaiUsage{res.usage.PromptTokens, res.usage.CompletionTokens, res.usage.Total()},
	})
}
