package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// mustOpenMain opens a zero-configuration Main on dataDir.
func mustOpenMain(t *testing.T, dataDir string) (*Main, *bytes.Buffer) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dataDir
	out := &bytes.Buffer{}
	m := NewMain(cfg, out, io.Discard)
	if err := m.Open(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	return m, out
}

var adminLine = regexp.MustCompile(`admin email: (\S+) password: (\S+)`)

func TestFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	m, out := mustOpenMain(t, dir)
	match := adminLine.FindStringSubmatch(out.String())
	if match == nil {
		t.Fatalf("no admin line in %q", out.String())
	}
	ins, err := m.Store.FindInboxes(context.Background())
	if err != nil || len(ins) != 1 {
		t.Fatalf("inboxes = %v, %v", ins, err)
	}
	docs, err := m.Store.FindDocuments(context.Background(), ins[0].ID)
	if err != nil || len(docs) == 0 {
		t.Fatalf("default knowledge base: %d documents, %v", len(docs), err)
	}
	st, err := os.Stat(filepath.Join(dir, "jwt.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("jwt.secret mode = %v", st.Mode().Perm())
	}
	secret, _ := os.ReadFile(filepath.Join(dir, "jwt.secret"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("RestartReuses", func(t *testing.T) {
		m2, out2 := mustOpenMain(t, dir)
		defer m2.Close()
		if strings.Contains(out2.String(), "password") {
			t.Fatalf("second start printed a password: %q", out2.String())
		}
		again, _ := os.ReadFile(filepath.Join(dir, "jwt.secret"))
		if !bytes.Equal(secret, again) {
			t.Fatal("JWT secret changed on restart")
		}
		ins2, _ := m2.Store.FindInboxes(context.Background())
		if len(ins2) != 1 || ins2[0].WidgetKey != ins[0].WidgetKey {
			t.Fatalf("inboxes after restart = %+v", ins2)
		}
		u, err := m2.Store.FindUserByEmail(context.Background(), match[1])
		if err != nil || u.Role != "admin" {
			t.Fatalf("admin = %+v, %v", u, err)
		}
	})
}

func TestDataDirNotWritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", filepath.Join(file, "data")
	m := NewMain(cfg, io.Discard, io.Discard)
	err := m.Open(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "data directory") || !strings.Contains(err.Error(), cfg.DataDir) {
		t.Fatalf("err = %v", err)
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// binary returns the switchboard binary: SWITCHBOARD_TEST_BINARY (built by
// scripts/test) or one built once for this test run.
func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SWITCHBOARD_TEST_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "switchboard")
		out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Log(string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// TestGracefulShutdown: SIGTERM stops accepting, closes WebSockets with
// 1012 "server restarting" and exits 0.
func TestGracefulShutdown(t *testing.T) {
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "switchboard listening on "); ok {
			base = u
			break
		}
	}
	if base == "" {
		t.Fatalf("server did not start: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)

	// A visitor with an open socket.
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	key := regexp.MustCompile(`data-widget-key="([^"]+)"`).FindSubmatch(page)
	if key == nil {
		t.Fatal("no widget key on the demo page")
	}
	res, err = http.Post(base+"/v1/widget/session", "application/json", strings.NewReader(`{"widget_key":"`+string(key[1])+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		Token string `json:"token"`
	}
	json.NewDecoder(res.Body).Decode(&sess)
	res.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/v1/ws?token="+sess.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), "pong") {
		t.Fatalf("ping: %s %v", msg, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusServiceRestart {
		t.Fatalf("socket closed with %v, want 1012", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("server still accepting after shutdown")
	}
}
