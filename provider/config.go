package provider

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider/anthropic"
	"github.com/switchboard-chat/switchboard/provider/gemini"
	"github.com/switchboard-chat/switchboard/provider/openai"
)

// Provider types of ProviderConfig.Type.
const (
	TypeOpenAI    = "openai"
	TypeAnthropic = "anthropic"
	TypeGemini    = "gemini"
	TypeOffline   = "offline"
)

// ProviderConfig is one configured upstream (the `providers:` list).
type ProviderConfig struct {
	Name        string           `yaml:"name"`
	Type        string           `yaml:"type"` // openai | anthropic | gemini | offline
	BaseURL     string           `yaml:"base_url"`
	APIKeyEnv   string           `yaml:"api_key_env"`
	APIKeyFile  string           `yaml:"api_key_file"`
	MaxConns    int              `yaml:"max_conns"`
	PrefillMode string           `yaml:"prefill"` // openai: continue (default) | assistant
	Prices      map[string]Price `yaml:"prices"`  // by model
}

// Price of a model.
type Price struct {
	Input  float64 `yaml:"input"`  // USD per 1M prompt tokens
	Output float64 `yaml:"output"` // USD per 1M completion tokens
}

// Cost of u at p.
func (p Price) Cost(u switchboard.Usage) float64 {
	return (float64(u.PromptTokens)*p.Input + float64(u.CompletionTokens)*p.Output) / 1e6
}

// Route strategies.
const (
	StrategyPriority = "priority" // config order
	StrategyWeighted = "weighted" // first pick random by weight, then config order
	StrategyLatency  = "latency"  // lowest EWMA time to first token first
)

// Route defaults.
const (
	DefaultFirstTokenTimeout = 15 * time.Second
	DefaultIdleTimeout       = 10 * time.Second
	DefaultMaxRetryWait      = 3 * time.Second
	DefaultBudget            = 45 * time.Second
)

// RouteConfig is one route (the `routes:` map).
type RouteConfig struct {
	Strategy          string         `yaml:"strategy"`            // priority | weighted | latency
	FirstTokenTimeout time.Duration  `yaml:"first_token_timeout"` // default 15s
	IdleTimeout       time.Duration  `yaml:"idle_timeout"`        // default 10s
	MaxRetryWait      time.Duration  `yaml:"max_retry_wait"`      // default 3s
	Budget            time.Duration  `yaml:"budget"`              // wall clock before commit, default 45s
	Hedge             bool           `yaml:"hedge"`
	Aliases           []string       `yaml:"aliases"`
	Targets           []TargetConfig `yaml:"targets"`
}

// TargetConfig is one target of a route.
type TargetConfig struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	Weight   int    `yaml:"weight"` // weighted strategy; default 1
}

func (c RouteConfig) withDefaults() RouteConfig {
	if c.Strategy == "" {
		c.Strategy = StrategyPriority
	}
	if c.FirstTokenTimeout <= 0 {
		c.FirstTokenTimeout = DefaultFirstTokenTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxRetryWait <= 0 {
		c.MaxRetryWait = DefaultMaxRetryWait
	}
	if c.Budget <= 0 {
		c.Budget = DefaultBudget
	}
	return c
}

// BuildOptions are what Build needs besides the configs.
type BuildOptions struct {
	// Getenv reads API key variables; default os.Getenv.
	Getenv func(string) string
	// ReadFile reads API key files; default os.ReadFile.
	ReadFile func(string) ([]byte, error)
	Logger   *slog.Logger
	// Offline constructs the built-in offline provider (offline.New); the
	// caller wires it so that this package does not import it. Required
	// when a config has type offline.
	Offline func(name string) switchboard.Provider
}

// Build constructs the providers of cfgs, each HTTP one with its own
// transport (NewTransport(MaxConns)). API keys come from the environment
// variable APIKeyEnv or the file APIKeyFile only; a non-offline provider
// whose key is missing is an error naming the variable or file. An
// openai-type provider with neither configured runs without a key (Ollama,
// vLLM). Names must be unique.
func Build(cfgs []ProviderConfig, opts BuildOptions) (map[string]switchboard.Provider, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	out := make(map[string]switchboard.Provider, len(cfgs))
	for _, c := range cfgs {
		if c.Name == "" {
			return nil, fmt.Errorf("provider: a provider has no name")
		}
		if _, dup := out[c.Name]; dup {
			return nil, fmt.Errorf("provider %q: configured twice", c.Name)
		}
		if c.Type == TypeOffline {
			if opts.Offline == nil {
				return nil, fmt.Errorf("provider %q: type offline is not available", c.Name)
			}
			out[c.Name] = opts.Offline(c.Name)
			continue
		}
		switch c.Type {
		case TypeOpenAI, TypeAnthropic, TypeGemini, "":
		default:
			return nil, fmt.Errorf("provider %q: unknown type %q (openai, anthropic, gemini, offline)", c.Name, c.Type)
		}
		key, err := apiKey(c, opts)
		if err != nil {
			return nil, err
		}
		logger := opts.Logger.With("provider", c.Name)
		tr := NewTransport(c.MaxConns)
		switch c.Type {
		case TypeOpenAI, "":
			if c.BaseURL == "" {
				c.BaseURL = "https://api.openai.com/v1"
			}
			if c.PrefillMode != "" && c.PrefillMode != openai.PrefillContinue && c.PrefillMode != openai.PrefillAssistant {
				return nil, fmt.Errorf("provider %q: prefill %q is not continue or assistant", c.Name, c.PrefillMode)
			}
			out[c.Name] = openai.New(openai.Options{Name: c.Name, BaseURL: c.BaseURL, APIKey: key,
				PrefillMode: c.PrefillMode, Transport: tr, Logger: logger})
		case TypeAnthropic:
			out[c.Name] = anthropic.New(anthropic.Options{Name: c.Name, BaseURL: c.BaseURL, APIKey: key,
				Transport: tr, Logger: logger})
		case TypeGemini:
			out[c.Name] = gemini.New(gemini.Options{Name: c.Name, BaseURL: c.BaseURL, APIKey: key,
				Transport: tr, Logger: logger})
		default:
			return nil, fmt.Errorf("provider %q: unknown type %q (openai, anthropic, gemini, offline)", c.Name, c.Type)
		}
	}
	return out, nil
}

func apiKey(c ProviderConfig, opts BuildOptions) (string, error) {
	switch {
	case c.APIKeyEnv != "":
		if k := strings.TrimSpace(opts.Getenv(c.APIKeyEnv)); k != "" {
			return k, nil
		}
		if c.APIKeyFile == "" {
			return "", fmt.Errorf("provider %q: API key variable %s is not set", c.Name, c.APIKeyEnv)
		}
		fallthrough
	case c.APIKeyFile != "":
		b, err := opts.ReadFile(c.APIKeyFile)
		if err != nil {
			return "", fmt.Errorf("provider %q: API key file: %w", c.Name, err)
		}
		if k := strings.TrimSpace(string(b)); k != "" {
			return k, nil
		}
		return "", fmt.Errorf("provider %q: API key file %s is empty", c.Name, c.APIKeyFile)
	case c.Type == TypeOpenAI || c.Type == "":
		return "", nil // local OpenAI-compatible servers need no key
	default:
		return "", fmt.Errorf("provider %q: no api_key_env or api_key_file configured", c.Name)
	}
}

// PricesFromConfig collects the prices of cfgs for RouterOptions.Prices.
func PricesFromConfig(cfgs []ProviderConfig) map[string]map[string]Price {
	out := make(map[string]map[string]Price, len(cfgs))
	for _, c := range cfgs {
		if len(c.Prices) > 0 {
			out[c.Name] = c.Prices
		}
	}
	return out
}
