package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestOpenAINodeSDK drives the OpenAI-compatible API with the official
// `openai` npm package (test/node, installed by scripts/test).
func TestOpenAINodeSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	dir, _ := filepath.Abs("../test/node")
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil || serr != nil {
		if os.Getenv("SWITCHBOARD_TEST_REQUIRE") == "1" {
			t.Fatalf("node and test/node/node_modules are required (scripts/test installs them): node=%v modules=%v", err, serr)
		}
		t.Skip("node or the openai package is missing: run ./scripts/test, or npm install in test/node")
	}
	s := MustRunServer(t, "--tokens", "30")
	secret := oaiAPIKey(t, s)
	cmd := exec.Command(node, "--test", "openai.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SB_URL="+s.URL, "SB_KEY="+secret)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	if err != nil {
		t.Fatalf("node tests failed: %v", err)
	}
	if !bytes.Contains(out, []byte("# pass 5")) {
		t.Fatal("expected 5 passing node tests")
	}
}

// oaiAPIKey logs in as the admin and creates an API key.
func oaiAPIKey(t *testing.T, s *Server) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": s.AdminEmail, "password": s.AdminPassword})
	res, err := http.Post(s.URL+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token string `json:"token"`
	}
	json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	if res.StatusCode != 200 || login.Token == "" {
		t.Fatalf("login: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("POST", s.URL+"/v1/admin/api-keys", bytes.NewReader([]byte(`{"name":"node-sdk"}`)))
	req.Header.Set("Authorization", "Bearer "+login.Token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var key struct {
		Secret string `json:"secret"`
	}
	json.NewDecoder(res.Body).Decode(&key)
	if res.StatusCode != 201 || key.Secret == "" {
		t.Fatalf("create API key: %d", res.StatusCode)
	}
	return key.Secret
}
