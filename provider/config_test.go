package provider_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider"
	"github.com/switchboard-chat/switchboard/provider/offline"
)

func TestBuild(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("sk-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OPENAI_API_KEY": "sk-env"}
	opts := provider.BuildOptions{
		Getenv:  func(k string) string { return env[k] },
		Offline: func(name string) switchboard.Provider { return offline.New(name) },
	}

	t.Run("OK", func(t *testing.T) {
		ps, err := provider.Build([]provider.ProviderConfig{
			{Name: "primary", Type: "openai", BaseURL: "https://api.example.com/v1", APIKeyEnv: "OPENAI_API_KEY", PrefillMode: "assistant"},
			{Name: "claude", Type: "anthropic", APIKeyFile: keyFile},
			{Name: "gem", Type: "gemini", APIKeyEnv: "MISSING", APIKeyFile: keyFile},
			{Name: "ollama", Type: "openai", BaseURL: "http://127.0.0.1:11434/v1"},
			{Name: "local", Type: "offline"},
		}, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"primary", "claude", "gem", "ollama", "local"} {
			if p := ps[name]; p == nil || p.Name() != name {
				t.Fatalf("provider %s = %v", name, p)
			}
		}
	})

	for _, tt := range []struct {
		name string
		cfg  provider.ProviderConfig
		want string
	}{
		{"MissingEnvKey", provider.ProviderConfig{Name: "p", Type: "openai", APIKeyEnv: "NOPE_KEY"}, "NOPE_KEY"},
		{"NoKeyConfigured", provider.ProviderConfig{Name: "p", Type: "anthropic"}, "api_key_env"},
		{"MissingKeyFile", provider.ProviderConfig{Name: "p", Type: "gemini", APIKeyFile: "/nonexistent/key"}, "API key file"},
		{"UnknownType", provider.ProviderConfig{Name: "p", Type: "bard"}, "unknown type"},
		{"BadPrefill", provider.ProviderConfig{Name: "p", Type: "openai", PrefillMode: "magic"}, "prefill"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := provider.Build([]provider.ProviderConfig{tt.cfg}, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
	t.Run("OfflineNotWired", func(t *testing.T) {
		if _, err := provider.Build([]provider.ProviderConfig{{Name: "local", Type: "offline"}}, provider.BuildOptions{}); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestPricesFromConfig(t *testing.T) {
	p := provider.PricesFromConfig([]provider.ProviderConfig{{Name: "a", Prices: map[string]provider.Price{"m": {Input: 0.15, Output: 0.6}}}, {Name: "b"}})
	if p["a"]["m"].Output != 0.6 || len(p) != 1 {
		t.Fatalf("prices = %v", p)
	}
	if c := p["a"]["m"].Cost(switchboard.Usage{PromptTokens: 1_000_000, CompletionTokens: 500_000}); c != 0.45 {
		t.Fatalf("cost = %v", c)
	}
}
