// Package e2e runs the real switchboard binary, with llmsim as its model
// upstream, and drives the widget, the console and the admin in headless
// Chromium.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/switchboard-chat/switchboard/internal/testenv"
)

// binary is the switchboard binary under test: $SWITCHBOARD_TEST_BINARY,
// or built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	binary = os.Getenv("SWITCHBOARD_TEST_BINARY")
	if binary == "" {
		dir, err := os.MkdirTemp("", "switchboard-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "switchboard")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/switchboard")
		cmd.Dir = ".."
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: build switchboard:", err)
			return 1
		}
	}
	return m.Run()
}

// Proc is a running child process whose stdout lines we wait on.
type Proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	added chan struct{}
	done  chan struct{}
}

// mustStart starts binary with args and env and stops it when the test ends.
func mustStart(tb testing.TB, env []string, args ...string) *Proc {
	tb.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(tb.TempDir(), args[0]+".log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", args[0], err)
	}
	p := &Proc{cmd: cmd, added: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.added <- struct{}{}:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if tb.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				tail := string(b)
				if len(tail) > 4000 {
					tail = tail[len(tail)-4000:]
				}
				tb.Logf("%s stderr (tail):\n%s", args[0], tail)
			}
		}
	})
	return p
}

// waitLine waits for a stdout line matching re and returns its submatches.
func (p *Proc) waitLine(tb testing.TB, re *regexp.Regexp) []string {
	tb.Helper()
	deadline := time.After(60 * time.Second)
	seen := 0
	for {
		p.mu.Lock()
		lines := p.lines[seen:]
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		select {
		case <-p.added:
		case <-p.done:
			tb.Fatalf("process exited before printing %q", re)
		case <-deadline:
			tb.Fatalf("timed out waiting for %q", re)
		}
	}
}

var (
	reLLMSim    = regexp.MustCompile(`llmsim listening on (http://\S+)`)
	reAdmin     = regexp.MustCompile(`admin email: (\S+) password: (\S+)`)
	reListening = regexp.MustCompile(`switchboard listening on (http://\S+)`)
)

// Server is a running switchboard with its llmsim upstream.
type Server struct {
	URL           string
	SimURL        string
	AdminEmail    string
	AdminPassword string
}

// MustRunServer starts llmsim (with llmsimArgs) and a switchboard that
// answers through it, with its data in a temporary directory.
func MustRunServer(tb testing.TB, llmsimArgs ...string) *Server {
	tb.Helper()
	return MustRunServerEnv(tb, nil, llmsimArgs...)
}

// MustRunServerEnv is MustRunServer with extra environment (SWITCHBOARD_*
// settings) for the server.
func MustRunServerEnv(tb testing.TB, env []string, llmsimArgs ...string) *Server {
	tb.Helper()
	sim := mustStart(tb, nil, append([]string{"llmsim", "--addr", "127.0.0.1:0"}, llmsimArgs...)...)
	simURL := sim.waitLine(tb, reLLMSim)[1]
	env = append([]string{
		"SWITCHBOARD_E2E_SIM_KEY=test",
		fmt.Sprintf(`SWITCHBOARD_PROVIDERS=[{name: sim, type: openai, base_url: "%s/v1", api_key_env: SWITCHBOARD_E2E_SIM_KEY}]`, simURL),
		`SWITCHBOARD_ROUTES={default: {targets: [{provider: sim, model: sim-1}]}}`,
	}, env...)
	p := mustStart(tb, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", tb.TempDir())
	s := &Server{SimURL: simURL}
	m := p.waitLine(tb, reAdmin)
	s.AdminEmail, s.AdminPassword = m[1], m[2]
	s.URL = p.waitLine(tb, reListening)[1]
	return s
}

// MustBrowser returns a tab in a fresh headless Chromium.
func MustBrowser(tb testing.TB) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.Chromium(tb)), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 860), chromedp.Flag("lang", "en-US"))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	tb.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(1280, 860)); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs browser actions or fails the test.
func do(tb testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatal(err)
	}
}

// eval evaluates a JavaScript expression (awaiting promises) into T.
func eval[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("eval %q: %v", firstLine(expr), err)
	}
	return v
}

// waitJS polls a boolean JavaScript expression until it is true.
func waitJS(tb testing.TB, ctx context.Context, what string, timeout time.Duration, expr string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves a PNG of the viewport into $SWITCHBOARD_TEST_SCREENSHOTS
// (docs/screenshots when you want to refresh them) or the test's temp dir.
func screenshot(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("SWITCHBOARD_TEST_SCREENSHOTS")
	if dir == "" {
		dir = tb.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i] + "…"
	}
	return s
}
