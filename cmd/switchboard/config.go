package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/provider"
)

// Config is switchboard.yaml. Precedence: flags > SWITCHBOARD_* env >
// file > defaults. Every key is also an environment variable: nested keys
// joined by "_" (limits.window → SWITCHBOARD_LIMITS_WINDOW); lists and
// maps take YAML (SWITCHBOARD_PROVIDERS='[{name: a, type: openai, …}]').
// Secrets are never configured here: providers name the environment
// variable or file holding their key.
type Config struct {
	Addr             string        `yaml:"addr"`
	DataDir          string        `yaml:"data_dir"`
	DatabaseURL      string        `yaml:"database_url"`
	DatabaseMaxConns int           `yaml:"database_max_conns"`
	RedisURL         string        `yaml:"redis_url"`
	LogFormat        string        `yaml:"log_format"` // auto | text | json
	LogLevel         string        `yaml:"log_level"`  // debug | info | warn | error
	ShutdownTimeout  time.Duration `yaml:"shutdown_timeout"`
	TrustProxy       bool          `yaml:"trust_proxy"` // honour X-Forwarded-For
	AdminEmail       string        `yaml:"admin_email"` // first-start admin account
	// LeaseTTL bounds how long an answer whose instance died stays
	// streaming before another instance marks it interrupted (scale-out).
	LeaseTTL time.Duration `yaml:"lease_ttl"`

	Providers  []provider.ProviderConfig       `yaml:"providers"`
	Routes     map[string]provider.RouteConfig `yaml:"routes"`
	Limits     LimitsConfig                    `yaml:"limits"`
	Context    ContextConfig                   `yaml:"context"`
	Moderation ModerationConfig                `yaml:"moderation"`
}

// LimitsConfig are request limits.
type LimitsConfig struct {
	Messages          int           `yaml:"messages"` // per visitor/user/key per window
	Window            time.Duration `yaml:"window"`
	MaxMessageBytes   int           `yaml:"max_message_bytes"`
	WSPerIP           int           `yaml:"ws_per_ip"`
	WSIdleTimeout     time.Duration `yaml:"ws_idle_timeout"`
	RedisFailVisitors string        `yaml:"redis_fail_visitors"` // open | closed
	RedisFailKeys     string        `yaml:"redis_fail_keys"`     // open | closed
}

// ContextConfig bounds the model context.
type ContextConfig struct {
	MaxTurns int           `yaml:"max_turns"`
	MaxBytes int           `yaml:"max_bytes"`
	CacheTTL time.Duration `yaml:"cache_ttl"`
}

// ModerationConfig holds the global word lists and the review webhook.
type ModerationConfig struct {
	Words           []string      `yaml:"words"`
	Action          string        `yaml:"action"` // for words; default block
	Lists           []WordList    `yaml:"lists"`
	Files           []string      `yaml:"files"`
	ReviewWebhook   string        `yaml:"review_webhook"`
	ReviewSecretEnv string        `yaml:"review_secret_env"`
	ReloadInterval  time.Duration `yaml:"reload_interval"`
}

// WordList in YAML.
type WordList struct {
	Name   string   `yaml:"name"`
	Action string   `yaml:"action"`
	Words  []string `yaml:"words"`
}

// DefaultConfig is the zero-configuration setup.
func DefaultConfig() Config {
	return Config{
		Addr: ":8080", DataDir: "./data", DatabaseMaxConns: 20, LogFormat: "auto", LogLevel: "info",
		ShutdownTimeout: 20 * time.Second, AdminEmail: "admin@localhost", LeaseTTL: 15 * time.Second,
		Limits: LimitsConfig{Messages: 30, Window: time.Minute, MaxMessageBytes: 16 << 10, WSPerIP: 256,
			WSIdleTimeout: 300 * time.Second, RedisFailVisitors: "open", RedisFailKeys: "closed"},
		Context:    ContextConfig{MaxTurns: 50, MaxBytes: 128 << 10, CacheTTL: 30 * time.Minute},
		Moderation: ModerationConfig{Action: "block", ReloadInterval: 5 * time.Second},
	}
}

// LoadConfig reads the file (if any) and the environment over defaults.
// path "" means switchboard.yaml in the working directory when it exists.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	explicit := path != ""
	if !explicit {
		path = getenv("SWITCHBOARD_CONFIG")
		explicit = path != ""
	}
	if !explicit {
		path = "switchboard.yaml"
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config file %s: %s", path, explainYAML(data, err))
		}
	case explicit || !errors.Is(err, os.ErrNotExist):
		return cfg, fmt.Errorf("config file %s: %w", path, err)
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "SWITCHBOARD", getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// applyEnv sets fields from SWITCHBOARD_<KEY> variables by yaml tag.
func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		f := v.Field(i)
		if f.Kind() == reflect.Struct && f.Type() != reflect.TypeOf(time.Duration(0)) {
			if err := applyEnv(f, name, getenv); err != nil {
				return err
			}
			continue
		}
		val := getenv(name)
		if val == "" {
			continue
		}
		if err := setValue(f, val); err != nil {
			return fmt.Errorf("environment %s: %v", name, err)
		}
	}
	return nil
}

func setValue(f reflect.Value, val string) error {
	if f.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("invalid duration %q", val)
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(val)
	case reflect.Int:
		n, err := strconv.Atoi(val)
		if err != nil {
			return fmt.Errorf("invalid integer %q", val)
		}
		f.SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("invalid boolean %q", val)
		}
		f.SetBool(b)
	default: // lists and maps: YAML
		p := reflect.New(f.Type())
		dec := yaml.NewDecoder(strings.NewReader(val))
		dec.KnownFields(true)
		if err := dec.Decode(p.Interface()); err != nil {
			return fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		f.Set(p.Elem())
	}
	return nil
}

// Validate checks values that parsing cannot.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return fmt.Errorf("config: addr must not be empty")
	}
	if c.DataDir == "" && c.DatabaseURL == "" {
		return fmt.Errorf("config: data_dir must not be empty")
	}
	for _, p := range []struct{ key, v string }{{"limits.redis_fail_visitors", c.Limits.RedisFailVisitors}, {"limits.redis_fail_keys", c.Limits.RedisFailKeys}} {
		if p.v != "open" && p.v != "closed" {
			return fmt.Errorf("config: %s must be open or closed, not %q", p.key, p.v)
		}
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		return fmt.Errorf("config: log_format must be auto, text or json, not %q", c.LogFormat)
	}
	if c.LeaseTTL < 300*time.Millisecond {
		return fmt.Errorf("config: lease_ttl must be at least 300ms, not %s", c.LeaseTTL)
	}
	if c.Limits.Messages <= 0 || c.Limits.Window <= 0 {
		return fmt.Errorf("config: limits.messages and limits.window must be positive")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("config: database_url must be a postgres:// URL")
	}
	for i, l := range c.Moderation.Lists {
		if _, err := parseAction(l.Action); err != nil {
			return fmt.Errorf("config: moderation.lists[%d].action: %v", i, err)
		}
	}
	if len(c.Moderation.Words) > 0 {
		if _, err := parseAction(c.Moderation.Action); err != nil {
			return fmt.Errorf("config: moderation.action: %v", err)
		}
	}
	if len(c.Providers) > 0 && len(c.Routes) == 0 {
		return fmt.Errorf("config: providers are configured but routes are not: add routes.default with its targets")
	}
	if len(c.Routes) > 0 {
		if _, ok := c.Routes["default"]; !ok {
			return fmt.Errorf("config: routes must include one named default")
		}
	}
	return nil
}

func parseAction(s string) (sb.ModerationAction, error) {
	switch a := sb.ModerationAction(s); a {
	case sb.ActionBlock, sb.ActionMask, sb.ActionReview, sb.ActionHandoff:
		return a, nil
	}
	return "", fmt.Errorf("must be block, mask, review or handoff, not %q", s)
}

// wordLists returns the global lists of the config.
func (m ModerationConfig) wordLists() []sb.WordList {
	var out []sb.WordList
	if len(m.Words) > 0 {
		out = append(out, sb.WordList{Name: "config", Action: sb.ModerationAction(m.Action), Words: m.Words})
	}
	for _, l := range m.Lists {
		out = append(out, sb.WordList{Name: l.Name, Action: sb.ModerationAction(l.Action), Words: l.Words})
	}
	return out
}

// withOffline fills in the zero-configuration provider setup: the built-in
// offline provider answering from the knowledge base.
func (c *Config) withOffline() {
	if len(c.Providers) == 0 && len(c.Routes) == 0 {
		c.Providers = []provider.ProviderConfig{{Name: "offline", Type: provider.TypeOffline}}
		c.Routes = map[string]provider.RouteConfig{"default": {Targets: []provider.TargetConfig{{Provider: "offline", Model: "kb"}}}}
	}
}

var (
	yamlLine    = regexp.MustCompile(`line (\d+): (.*)`)
	yamlUnknown = regexp.MustCompile(`field (\S+) not found in type`)
	yamlValue   = regexp.MustCompile("cannot unmarshal !!\\w+ `([^`]*)` into (\\S+)")
)

// explainYAML rewrites yaml.v3's errors ("line 3: cannot unmarshal !!str
// `5x` into time.Duration") to name the key: "limits.window (line 3):
// invalid value "5x" (want a duration such as 30s)".
func explainYAML(data []byte, err error) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimPrefix(err.Error(), "yaml: "), "\n") {
		m := yamlLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			if t := strings.TrimSpace(l); t != "" && t != "unmarshal errors:" {
				lines = append(lines, t)
			}
			continue
		}
		n, _ := strconv.Atoi(m[1])
		key := keyAtLine(data, n)
		msg := m[2]
		if u := yamlUnknown.FindStringSubmatch(msg); u != nil {
			if key == "" {
				key = u[1]
			}
			lines = append(lines, fmt.Sprintf("unknown key %s (line %d)", key, n))
			continue
		}
		if v := yamlValue.FindStringSubmatch(msg); v != nil {
			want := v[2]
			switch want {
			case "time.Duration":
				want = "a duration such as 30s"
			case "int":
				want = "a whole number"
			case "bool":
				want = "true or false"
			}
			msg = fmt.Sprintf("invalid value %q (want %s)", v[1], want)
		}
		lines = append(lines, fmt.Sprintf("%s (line %d): %s", key, n, msg))
	}
	return strings.Join(lines, "; ")
}

// keyAtLine returns the dotted path of the key defined on a line.
func keyAtLine(data []byte, line int) string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return ""
	}
	var walk func(n *yaml.Node, path string) string
	walk = func(n *yaml.Node, path string) string {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if k.Line == line && (v.Kind == yaml.ScalarNode || v.Line != line) {
					return p
				}
				if r := walk(v, p); r != "" {
					return r
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if r := walk(c, fmt.Sprintf("%s[%d]", path, i)); r != "" {
					return r
				}
			}
		case yaml.ScalarNode:
			if n.Line == line {
				return path
			}
		}
		return ""
	}
	return walk(root.Content[0], "")
}
