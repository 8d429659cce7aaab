package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		cfg, err := LoadConfig(filepath.Join(t.TempDir(), "absent.yaml"), env(nil))
		if err == nil {
			t.Fatal("an explicit missing file must fail")
		}
		t.Chdir(t.TempDir()) // no switchboard.yaml here: defaults
		cfg, err = LoadConfig("", env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != ":8080" || cfg.DataDir != "./data" || cfg.Limits.Messages != 30 || cfg.Limits.Window != time.Minute || cfg.Context.MaxTurns != 50 {
			t.Fatalf("defaults = %+v", cfg)
		}
	})
	t.Run("EnvOverridesFile", func(t *testing.T) {
		p := writeConfig(t, "addr: \":9000\"\nlimits:\n  window: 30s\n  messages: 10\n")
		cfg, err := LoadConfig(p, env(map[string]string{"SWITCHBOARD_ADDR": ":9001", "SWITCHBOARD_LIMITS_MESSAGES": "7"}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != ":9001" || cfg.Limits.Messages != 7 || cfg.Limits.Window != 30*time.Second {
			t.Fatalf("cfg = %+v / %+v", cfg.Addr, cfg.Limits)
		}
	})
	t.Run("EnvYAMLForLists", func(t *testing.T) {
		cfg, err := LoadConfig(writeConfig(t, ""), env(map[string]string{
			"SWITCHBOARD_PROVIDERS": "[{name: sim, type: openai, base_url: 'http://127.0.0.1:1/v1'}]",
			"SWITCHBOARD_ROUTES":    "{default: {targets: [{provider: sim, model: m}]}}",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Providers) != 1 || cfg.Providers[0].Name != "sim" || cfg.Routes["default"].Targets[0].Model != "m" {
			t.Fatalf("providers = %+v routes = %+v", cfg.Providers, cfg.Routes)
		}
	})
	t.Run("ConfigEnvNamesFile", func(t *testing.T) {
		p := writeConfig(t, "addr: \":7000\"\n")
		cfg, err := LoadConfig("", env(map[string]string{"SWITCHBOARD_CONFIG": p}))
		if err != nil || cfg.Addr != ":7000" {
			t.Fatalf("cfg.Addr = %q, err = %v", cfg.Addr, err)
		}
	})
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		want       []string // substrings of the error
	}{
		{"UnknownKey", "addr: \":1\"\nbogus: 1\n", nil, []string{"unknown key bogus", "line 2"}},
		{"UnknownNestedKey", "limits:\n  windw: 1s\n", nil, []string{"unknown key limits.windw"}},
		{"BadDuration", "shutdown_timeout: abc\n", nil, []string{"shutdown_timeout", "abc", "duration"}},
		{"BadNestedDuration", "routes:\n  default:\n    first_token_timeout: 1y\n    targets: []\n", nil, []string{"routes.default.first_token_timeout"}},
		{"BadInt", "limits:\n  messages: many\n", nil, []string{"limits.messages", "whole number"}},
		{"BadEnvDuration", "", map[string]string{"SWITCHBOARD_LIMITS_WINDOW": "zz"}, []string{"SWITCHBOARD_LIMITS_WINDOW", "invalid duration"}},
		{"BadEnvBool", "", map[string]string{"SWITCHBOARD_TRUST_PROXY": "maybe"}, []string{"SWITCHBOARD_TRUST_PROXY"}},
		{"BadPolicy", "limits:\n  redis_fail_keys: sometimes\n", nil, []string{"limits.redis_fail_keys"}},
		{"ProvidersWithoutRoutes", "providers: [{name: a, type: openai}]\n", nil, []string{"routes"}},
		{"NoDefaultRoute", "providers: [{name: a, type: openai}]\nroutes: {other: {targets: [{provider: a, model: m}]}}\n", nil, []string{"default"}},
		{"BadModerationAction", "moderation:\n  words: [x]\n  action: shout\n", nil, []string{"moderation.action"}},
		{"NotPostgres", "database_url: mysql://x\n", nil, []string{"database_url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.file)
			_, err := LoadConfig(p, env(tc.env))
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
			if tc.env == nil && !strings.Contains(err.Error(), "config") {
				t.Fatalf("error %q does not name the configuration", err)
			}
		})
	}
	t.Run("UnreadableFile", func(t *testing.T) {
		dir := t.TempDir() // a directory cannot be read as a file
		_, err := LoadConfig(dir, env(nil))
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("err = %v", err)
		}
	})
}
