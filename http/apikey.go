package http

import (
	"context"
	"strings"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
)

// CreateAPIKey creates an API key and returns its secret, which is shown
// once: only the hash is stored. Used by the admin API and the CLI.
func CreateAPIKey(ctx context.Context, store sb.APIKeyStore, name, inboxID string, rl *sb.RateLimit, b *sb.BudgetLimits) (*sb.APIKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, "", sb.Errorf(sb.EINVALID, "name is required.")
	}
	secret, prefix, hash := auth.NewAPIKey()
	k := &sb.APIKey{Name: name, Prefix: prefix, Hash: hash, InboxID: inboxID, RateLimit: rl, Budget: b}
	if err := store.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// apiKey authenticates an OpenAI-compatible request.
func (s *Server) apiKey(ctx context.Context, token string) (*sb.APIKey, error) {
	if token == "" {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "Missing API key: send Authorization: Bearer sk-….")
	}
	k, err := s.store.FindAPIKeyByHash(ctx, auth.HashAPIKey(token))
	if sb.ErrorCode(err) == sb.ENOTFOUND || (err == nil && k.RevokedAt != nil) {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "Invalid API key.")
	}
	return k, err
}
