package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the binary with args on a data dir and returns stdout; wantOK
// says whether it must succeed.
func run(t *testing.T, dataDir string, wantOK bool, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), append(args, "--data-dir", dataDir)...)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_CONFIG=")
	out, err := cmd.Output()
	if wantOK && err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("switchboard %v: %v\n%s%s", args, err, out, stderr)
	}
	if !wantOK && err == nil {
		t.Fatalf("switchboard %v succeeded, want an error", args)
	}
	return string(out)
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func TestAdminCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")

	t.Run("User", func(t *testing.T) {
		added := decode[struct {
			User     struct{ ID, Email, Role string }
			Password string
		}](t, run(t, dir, true, "user", "add", "--email", "ana@shop.example", "--role", "agent", "--json"))
		if added.User.Email != "ana@shop.example" || added.User.Role != "agent" || len(added.Password) < 16 {
			t.Fatalf("added %+v", added)
		}
		run(t, dir, false, "user", "add", "--email", "ana@shop.example") // taken
		run(t, dir, false, "user", "add", "--role", "agent")             // no email
		list := decode[[]struct{ Email string }](t, run(t, dir, true, "user", "list", "--json"))
		if len(list) != 1 || list[0].Email != "ana@shop.example" {
			t.Fatalf("list %+v", list)
		}
		pw := decode[struct{ Password string }](t, run(t, dir, true, "user", "passwd", "ana@shop.example", "--json"))
		if pw.Password == "" || pw.Password == added.Password {
			t.Fatalf("new password %q", pw.Password)
		}
	})

	t.Run("Inbox", func(t *testing.T) {
		created := decode[struct {
			Inbox struct {
				ID        string
				WidgetKey string `json:"widget_key"`
			}
			Snippet string
		}](t, run(t, dir, true, "inbox", "create", "--name", "Shop", "--origin", "https://shop.example", "--json"))
		if !strings.Contains(created.Snippet, created.Inbox.WidgetKey) || created.Inbox.WidgetKey == "" {
			t.Fatalf("created %+v", created)
		}
		if !strings.Contains(run(t, dir, true, "inbox", "list"), "https://shop.example") {
			t.Fatal("inbox list lacks the allowed origin")
		}
	})

	t.Run("APIKey", func(t *testing.T) {
		k := decode[struct {
			Key    struct{ ID, Prefix string }
			Secret string
		}](t, run(t, dir, true, "apikey", "create", "--name", "backend", "--rpm", "60", "--json"))
		if !strings.HasPrefix(k.Secret, "sk-sb-") || !strings.HasPrefix(k.Secret, k.Key.Prefix) {
			t.Fatalf("key %+v", k)
		}
		listed := run(t, dir, true, "apikey", "list", "--json")
		if strings.Contains(listed, k.Secret) {
			t.Fatal("apikey list shows the secret")
		}
		run(t, dir, true, "apikey", "revoke", k.Key.ID)
		keys := decode[[]struct {
			RevokedAt *string `json:"revoked_at"`
		}](t, run(t, dir, true, "apikey", "list", "--json"))
		if len(keys) != 1 || keys[0].RevokedAt == nil {
			t.Fatalf("after revoke: %+v", keys)
		}
		run(t, dir, false, "apikey", "revoke", "no-such-key")
	})

	t.Run("KnowledgeBase", func(t *testing.T) {
		doc := filepath.Join(t.TempDir(), "returns.md")
		os.WriteFile(doc, []byte("# Returns\n\n## Refund policy\n\nYou can return any unopened bag within 30 days for a full refund.\n"), 0o600)
		run(t, dir, true, "kb", "add", doc)
		if !strings.Contains(run(t, dir, true, "kb", "list"), "returns.md") {
			t.Fatal("kb list lacks the document")
		}
		hits := decode[[]struct{ Heading, Text string }](t, run(t, dir, true, "kb", "search", "how do I get a refund", "--json"))
		if len(hits) == 0 || !strings.Contains(hits[0].Text, "30 days") {
			t.Fatalf("search: %+v", hits)
		}
		if out := run(t, dir, true, "kb", "search", "what is the capital of Peru"); !strings.Contains(out, "no relevant passage") {
			t.Fatalf("unrelated question: %q", out)
		}
	})

	t.Run("Migrate", func(t *testing.T) {
		if out := run(t, dir, true, "migrate"); !strings.Contains(out, "up to date") {
			t.Fatalf("migrate: %q", out)
		}
	})
}
