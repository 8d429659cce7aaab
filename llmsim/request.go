package llmsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// Continuation markers: a last user message holding
// "<<<PARTIAL>>>P<<<END>>>" asks for the reply that follows P.
const (
	PartialMarker = "<<<PARTIAL>>>"
	EndMarker     = "<<<END>>>"
)

// message is one message of a request in any dialect; role is system, user
// or assistant.
type message struct {
	role string
	text string
}

// request is a completion request in any dialect.
type request struct {
	model        string
	stream       bool
	includeUsage bool
	maxTokens    int
	messages     []message
}

// content is a message content: a string, null, or an array of parts of
// which the text parts count.
type content string

func (c *content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = content(s)
		return nil
	case b[0] == '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		var sb strings.Builder
		for _, p := range parts {
			if p.Type == "" || p.Type == "text" || p.Type == "input_text" {
				sb.WriteString(p.Text)
			}
		}
		*c = content(sb.String())
		return nil
	}
	return errors.New("content: want a string or an array of parts")
}

type openaiRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string  `json:"role"`
		Content content `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int `json:"max_tokens"`
	MaxCompletionTokens int `json:"max_completion_tokens"`
}

func parseOpenAI(body []byte) (*request, error) {
	var in openaiRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	if len(in.Messages) == 0 {
		return nil, errors.New("messages: must not be empty")
	}
	req := &request{model: in.Model, stream: in.Stream, maxTokens: in.MaxCompletionTokens}
	if req.maxTokens == 0 {
		req.maxTokens = in.MaxTokens
	}
	if in.StreamOptions != nil {
		req.includeUsage = in.StreamOptions.IncludeUsage
	}
	req.messages = make([]message, len(in.Messages))
	for i, m := range in.Messages {
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		req.messages[i] = message{role: role, text: string(m.Content)}
	}
	return req, nil
}

type anthropicRequest struct {
	Model    string  `json:"model"`
	System   content `json:"system"`
	Messages []struct {
		Role    string  `json:"role"`
		Content content `json:"content"`
	} `json:"messages"`
	Stream    bool `json:"stream"`
	MaxTokens int  `json:"max_tokens"`
}

func parseAnthropic(body []byte) (*request, error) {
	var in anthropicRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	if len(in.Messages) == 0 {
		return nil, errors.New("messages: must not be empty")
	}
	req := &request{model: in.Model, stream: in.Stream, maxTokens: in.MaxTokens}
	req.messages = make([]message, 0, len(in.Messages)+1)
	if in.System != "" {
		req.messages = append(req.messages, message{role: "system", text: string(in.System)})
	}
	for _, m := range in.Messages {
		req.messages = append(req.messages, message{role: m.Role, text: string(m.Content)})
	}
	return req, nil
}

type geminiContent struct {
	Role  string `json:"role"`
	Parts []struct {
		Text string `json:"text"`
	} `json:"parts"`
}

type geminiRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction"`
	GenerationConfig  struct {
		MaxOutputTokens int `json:"maxOutputTokens"`
	} `json:"generationConfig"`
}

func parseGemini(body []byte, model string, stream bool) (*request, error) {
	var in geminiRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	if len(in.Contents) == 0 {
		return nil, errors.New("contents: must not be empty")
	}
	req := &request{model: model, stream: stream, includeUsage: true, maxTokens: in.GenerationConfig.MaxOutputTokens}
	text := func(c *geminiContent) string {
		if len(c.Parts) == 1 {
			return c.Parts[0].Text
		}
		var sb strings.Builder
		for _, p := range c.Parts {
			sb.WriteString(p.Text)
		}
		return sb.String()
	}
	if in.SystemInstruction != nil {
		req.messages = append(req.messages, message{role: "system", text: text(in.SystemInstruction)})
	}
	for i := range in.Contents {
		role := in.Contents[i].Role
		if role == "model" {
			role = "assistant"
		} else if role == "" {
			role = "user"
		}
		req.messages = append(req.messages, message{role: role, text: text(&in.Contents[i])})
	}
	return req, nil
}

// promptChars counts the runes of every message.
func (r *request) promptChars() int {
	n := 0
	for _, m := range r.messages {
		n += utf8.RuneCountInString(m.text)
	}
	return n
}

// hasPrefill reports whether the last message is an assistant message.
func (r *request) hasPrefill() bool {
	return len(r.messages) > 0 && r.messages[len(r.messages)-1].role == "assistant"
}

// continuation returns the prefix the reply must continue (from an
// assistant prefill or a marker) and the text the reply is derived from:
// the last user message that is not itself a continuation request.
func (r *request) continuation() (prefix, seed string) {
	msgs := r.messages
	last := len(msgs) - 1
	if r.hasPrefill() {
		prefix = msgs[last].text
		last--
	} else if last >= 0 && msgs[last].role == "user" {
		if p, ok := markedPrefix(msgs[last].text); ok {
			prefix = p
		}
	}
	var marked string
	for i := last; i >= 0; i-- {
		if msgs[i].role != "user" {
			continue
		}
		if _, ok := markedPrefix(msgs[i].text); ok {
			if marked == "" {
				marked = stripMarked(msgs[i].text)
			}
			continue
		}
		return prefix, msgs[i].text
	}
	return prefix, marked
}

// markedPrefix returns the text between the continuation markers.
func markedPrefix(s string) (string, bool) {
	i := strings.Index(s, PartialMarker)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(PartialMarker):]
	j := strings.Index(rest, EndMarker)
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// stripMarked removes the marked block and trims the rest.
func stripMarked(s string) string {
	i := strings.Index(s, PartialMarker)
	j := strings.Index(s[i:], EndMarker)
	return strings.TrimSpace(s[:i] + s[i+j+len(EndMarker):])
}
