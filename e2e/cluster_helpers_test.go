package e2e

// Helpers of the scale-out tests (cluster_test.go): three `switchboard
// serve` processes sharing one PostgreSQL database and one Redis, with an
// llmsim upstream. Every identifier here starts with "cluster" so that it
// cannot collide with the browser tests' harness in the same package.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard/internal/testenv"
)

// clusterLeaseTTL is the generation lease of the test clusters: short, so
// a killed instance's answer is recovered within seconds.
const clusterLeaseTTL = 3 * time.Second

// clusterJWTSecret is shared by the instances of a cluster, as in production.
const clusterJWTSecret = "cluster-e2e-secret-0123456789abcdef0123456789abcdef"

var (
	clusterBinaryOnce sync.Once
	clusterBinaryPath string
	clusterBinaryErr  error

	clusterRedisDBs atomic.Int32 // allocates a Redis database per cluster

	clusterHTTP = &http.Client{Timeout: 60 * time.Second}

	clusterReLLMSim    = regexp.MustCompile(`llmsim listening on (http://\S+)`)
	clusterReAdmin     = regexp.MustCompile(`admin email: (\S+) password: (\S+)`)
	clusterReListening = regexp.MustCompile(`switchboard listening on (http://\S+)`)
)

// clusterBinary returns the switchboard binary: $SWITCHBOARD_TEST_BINARY
// (scripts/test builds it), else one built once for this test process.
func clusterBinary(tb testing.TB) string {
	tb.Helper()
	clusterBinaryOnce.Do(func() {
		if p := os.Getenv("SWITCHBOARD_TEST_BINARY"); p != "" {
			clusterBinaryPath = p
			return
		}
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("switchboard-cluster-e2e-%d", os.Getuid()))
		if clusterBinaryErr = os.MkdirAll(dir, 0o755); clusterBinaryErr != nil {
			return
		}
		clusterBinaryPath = filepath.Join(dir, "switchboard")
		cmd := exec.Command("go", "build", "-o", clusterBinaryPath, "./cmd/switchboard")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			clusterBinaryErr = fmt.Errorf("go build ./cmd/switchboard: %v\n%s", err, out)
		}
	})
	if clusterBinaryErr != nil {
		tb.Fatal(clusterBinaryErr)
	}
	return clusterBinaryPath
}

// clusterProc is a child process: its stdout lines are kept to wait on,
// its stderr goes to a file shown in the test log when the test fails.
type clusterProc struct {
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	added  chan struct{}
	exited chan struct{} // closed when the process has been waited for
}

// clusterStartProc starts the binary with args and stops it when the test ends.
func clusterStartProc(tb testing.TB, name string, env []string, args ...string) *clusterProc {
	tb.Helper()
	logPath := filepath.Join(tb.TempDir(), name+".stderr")
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(clusterBinary(tb), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	p := &clusterProc{name: name, cmd: cmd, added: make(chan struct{}, 1), exited: make(chan struct{})}
	go func() {
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
		_ = cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-p.exited
			}
		}
		logf.Close()
		b, _ := os.ReadFile(logPath)
		// A binary built with -race reports races on stderr and keeps going.
		if i := bytes.Index(b, []byte("WARNING: DATA RACE")); i >= 0 {
			tb.Errorf("%s: data race:\n%s", name, b[i:min(len(b), i+12000)])
		}
		if tb.Failed() {
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			tb.Logf("%s stderr (tail):\n%s", name, b)
		}
	})
	return p
}

// kill sends SIGKILL and waits until the process is gone.
func (p *clusterProc) kill(tb testing.TB) {
	tb.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		tb.Fatalf("kill %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		tb.Fatalf("%s did not exit after SIGKILL", p.name)
	}
}

// waitLine waits for a stdout line matching re and returns its submatches.
func (p *clusterProc) waitLine(tb testing.TB, re *regexp.Regexp) []string {
	tb.Helper()
	deadline := time.After(60 * time.Second)
	seen := 0
	for {
		select {
		case <-p.exited:
			// Every line is in: one last look, then give up.
			p.mu.Lock()
			lines := p.lines[seen:]
			p.mu.Unlock()
			for _, l := range lines {
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			}
			tb.Fatalf("%s exited before printing %q", p.name, re)
		default:
		}
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
		case <-p.exited:
		case <-deadline:
			tb.Fatalf("timed out waiting for %s to print %q", p.name, re)
		}
	}
}

// clusterNode is one switchboard instance of a cluster.
type clusterNode struct {
	Name string
	URL  string
	proc *clusterProc
}

// clusterEnv is a running cluster: three instances, one llmsim.
type clusterEnv struct {
	SimURL     string
	Nodes      []*clusterNode
	AdminToken string
	WidgetKey  string
}

// clusterLLMSimDefault shapes the upstream: 60 tokens at 20 per second (3 s).
var clusterLLMSimDefault = []string{"--tokens", "60", "--tokens-per-sec", "20"}

// clusterRedisURL returns a private Redis database for one cluster, emptied
// (the bus keys carry the fixed prefix "sb:").
func clusterRedisURL(tb testing.TB) string {
	tb.Helper()
	u, err := url.Parse(testenv.RedisURL(tb))
	if err != nil {
		tb.Fatalf("bad Redis URL: %v", err)
	}
	u.Path = "/" + strconv.Itoa(1+int(clusterRedisDBs.Add(1)-1)%15)
	opt, err := goredis.ParseURL(u.String())
	if err != nil {
		tb.Fatalf("parse Redis URL: %v", err)
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		tb.Fatalf("flush Redis database %s: %v", u.Path, err)
	}
	return u.String()
}

// clusterStart runs llmsim (with llmsimArgs, or the default shape) and
// three instances on one fresh PostgreSQL database and Redis database. The
// first instance bootstraps the installation; its admin logs in.
func clusterStart(tb testing.TB, llmsimArgs ...string) *clusterEnv {
	tb.Helper()
	dbURL := testenv.PostgresURL(tb)
	redisURL := clusterRedisURL(tb)
	if len(llmsimArgs) == 0 {
		llmsimArgs = clusterLLMSimDefault
	}
	sim := clusterStartProc(tb, "llmsim", nil, append([]string{"llmsim", "--addr", "127.0.0.1:0"}, llmsimArgs...)...)
	env := &clusterEnv{SimURL: sim.waitLine(tb, clusterReLLMSim)[1]}

	config := fmt.Sprintf(`database_max_conns: 10
lease_ttl: %s
shutdown_timeout: 4s
log_format: text
providers:
  - name: sim
    type: openai
    base_url: "%s/v1"
    api_key_env: SWITCHBOARD_CLUSTER_SIM_KEY
routes:
  default:
    targets: [{provider: sim, model: sim-1}]
limits: {messages: 100000, window: 60s}
`, clusterLeaseTTL, env.SimURL)
	cfgPath := filepath.Join(tb.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	childEnv := []string{"SWITCHBOARD_JWT_SECRET=" + clusterJWTSecret, "SWITCHBOARD_CLUSTER_SIM_KEY=test"}
	start := func(name string) *clusterNode {
		p := clusterStartProc(tb, name, childEnv, "serve", "--config", cfgPath, "--addr", "127.0.0.1:0",
			"--data-dir", filepath.Join(tb.TempDir(), "data"), "--database-url", dbURL, "--redis-url", redisURL)
		return &clusterNode{Name: name, proc: p}
	}

	// The first instance bootstraps (admin, default inbox) alone.
	first := start("A")
	admin := first.proc.waitLine(tb, clusterReAdmin)
	first.URL = first.proc.waitLine(tb, clusterReListening)[1]
	env.Nodes = []*clusterNode{first, start("B"), start("C")}
	for _, n := range env.Nodes[1:] {
		n.URL = n.proc.waitLine(tb, clusterReListening)[1]
	}

	var login struct {
		Token string `json:"token"`
	}
	clusterMustJSON(tb, http.MethodPost, first.URL+"/v1/auth/login", "", map[string]string{"email": admin[1], "password": admin[2]}, http.StatusOK, &login)
	env.AdminToken = login.Token
	var inboxes struct {
		Inboxes []struct {
			WidgetKey string `json:"widget_key"`
		} `json:"inboxes"`
	}
	clusterMustJSON(tb, http.MethodGet, env.Nodes[1].URL+"/v1/admin/inboxes", env.AdminToken, nil, http.StatusOK, &inboxes)
	if len(inboxes.Inboxes) != 1 {
		tb.Fatalf("want the one default inbox, got %d", len(inboxes.Inboxes))
	}
	env.WidgetKey = inboxes.Inboxes[0].WidgetKey
	return env
}

// clusterVisitor is a visitor with their conversation.
type clusterVisitor struct {
	Token          string
	ConversationID string
}

// visitor starts a new visitor session (and conversation) on node n.
func (c *clusterEnv) visitor(tb testing.TB, n *clusterNode) clusterVisitor {
	tb.Helper()
	var resp struct {
		Token        string `json:"token"`
		Conversation struct {
			ID string `json:"id"`
		} `json:"conversation"`
	}
	clusterMustJSON(tb, http.MethodPost, n.URL+"/v1/widget/session", "", map[string]string{"widget_key": c.WidgetKey}, http.StatusOK, &resp)
	if resp.Token == "" || resp.Conversation.ID == "" {
		tb.Fatalf("widget session without token or conversation: %+v", resp)
	}
	return clusterVisitor{Token: resp.Token, ConversationID: resp.Conversation.ID}
}

// clusterMessage is a stored message as the API returns it.
type clusterMessage struct {
	ID          string `json:"id"`
	Seq         int64  `json:"seq"`
	ClientMsgID string `json:"client_msg_id"`
	Sender      string `json:"sender"`
	Kind        string `json:"kind"`
	Content     string `json:"content"`
	State       string `json:"state"`
}

// messages returns every stored message of a conversation (read on node n).
func (c *clusterEnv) messages(tb testing.TB, n *clusterNode, convID string) []clusterMessage {
	tb.Helper()
	var all []clusterMessage
	after := int64(0)
	for {
		var page struct {
			Messages []clusterMessage `json:"messages"`
		}
		clusterMustJSON(tb, http.MethodGet, fmt.Sprintf("%s/v1/conversations/%s/messages?after_seq=%d&limit=500", n.URL, convID, after), c.AdminToken, nil, http.StatusOK, &page)
		if len(page.Messages) == 0 {
			return all
		}
		all = append(all, page.Messages...)
		after = page.Messages[len(page.Messages)-1].Seq
	}
}

// message returns the stored message id, failing when there is none.
func (c *clusterEnv) message(tb testing.TB, n *clusterNode, convID, id string) clusterMessage {
	tb.Helper()
	for _, m := range c.messages(tb, n, convID) {
		if m.ID == id {
			return m
		}
	}
	tb.Fatalf("message %s not stored in conversation %s", id, convID)
	return clusterMessage{}
}

// clusterLLMSimStats is llmsim's GET /llmsim/stats.
type clusterLLMSimStats struct {
	Attempts  int64 `json:"attempts"`
	InFlight  int64 `json:"in_flight"`
	Completed int64 `json:"completed"`
	Cancelled int64 `json:"cancelled"`
	Aborted   int64 `json:"aborted"`
}

func (c *clusterEnv) simStats(tb testing.TB) clusterLLMSimStats {
	tb.Helper()
	var st clusterLLMSimStats
	clusterMustJSON(tb, http.MethodGet, c.SimURL+"/llmsim/stats", "", nil, http.StatusOK, &st)
	return st
}

// clusterRequest sends a JSON request; safe from any goroutine.
func clusterRequest(method, u, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := clusterHTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// clusterMustJSON sends a request, checks the status and decodes the body into out.
func clusterMustJSON(tb testing.TB, method, u, token string, body any, want int, out any) {
	tb.Helper()
	status, b, err := clusterRequest(method, u, token, body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, u, err)
	}
	if status != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", method, u, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: decode %s: %v", method, u, b, err)
		}
	}
}

// clusterFrame is a server frame as a client sees it.
type clusterFrame struct {
	Type         string          `json:"type"`
	Seq          int64           `json:"seq"`
	LastSeq      *int64          `json:"last_seq"`
	MessageID    string          `json:"message_id"`
	Offset       int             `json:"offset"`
	Payload      string          `json:"payload"`
	FinishReason string          `json:"finish_reason"`
	Code         string          `json:"code"`
	Message      json.RawMessage `json:"message"` // a message object, or an error's text
}

// clusterStream collects the frames of one SSE stream or WebSocket.
type clusterStream struct {
	name   string
	mu     sync.Mutex
	frames []clusterFrame
	err    error // why the stream ended
	wake   chan struct{}
	ended  chan struct{}
	conn   *websocket.Conn // WebSocket streams
	cancel context.CancelFunc
}

func newClusterStream(name string, cancel context.CancelFunc) *clusterStream {
	return &clusterStream{name: name, wake: make(chan struct{}, 1), ended: make(chan struct{}), cancel: cancel}
}

func (s *clusterStream) add(raw []byte) error {
	var f clusterFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("%s: bad frame %q: %v", s.name, raw, err)
	}
	s.mu.Lock()
	s.frames = append(s.frames, f)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

func (s *clusterStream) end(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.ended)
}

// snapshot returns the frames received so far.
func (s *clusterStream) snapshot() []clusterFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]clusterFrame(nil), s.frames...)
}

// await waits until cond holds for the frames received so far.
func (s *clusterStream) await(tb testing.TB, what string, timeout time.Duration, cond func([]clusterFrame) bool) []clusterFrame {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		fs := s.snapshot()
		if cond(fs) {
			return fs
		}
		select {
		case <-s.wake:
		case <-s.ended:
			if fs := s.snapshot(); cond(fs) {
				return fs
			}
			s.mu.Lock()
			err := s.err
			s.mu.Unlock()
			tb.Fatalf("%s ended (%v) before %s; frames: %s", s.name, err, what, clusterDescribe(s.snapshot()))
		case <-deadline.C:
			tb.Fatalf("%s: timed out after %s waiting for %s; frames: %s", s.name, timeout, what, clusterDescribe(s.snapshot()))
		}
	}
}

// close ends the stream.
func (s *clusterStream) close() {
	if s.conn != nil {
		_ = s.conn.Close(websocket.StatusNormalClosure, "bye")
	}
	s.cancel()
	<-s.ended
}

// clusterSSE subscribes to a conversation's events on node n.
func clusterSSE(tb testing.TB, n *clusterNode, convID, token string, lastSeq int64) *clusterStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/conversations/%s/events?last_seq=%d", n.URL, convID, lastSeq), nil)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{}).Do(req) // no timeout: the stream is long-lived
	if err != nil {
		cancel()
		tb.Fatalf("SSE on %s: %v", n.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		tb.Fatalf("SSE on %s: status %d: %s", n.Name, resp.StatusCode, b)
	}
	s := newClusterStream("SSE on "+n.Name, cancel)
	go func() {
		defer resp.Body.Close()
		r := bufio.NewReaderSize(resp.Body, 64<<10)
		var data []byte
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				s.end(err)
				return
			}
			line = bytes.TrimRight(line, "\r\n")
			switch {
			case len(line) == 0:
				if len(data) > 0 {
					if err := s.add(data); err != nil {
						s.end(err)
						return
					}
					data = nil
				}
			case bytes.HasPrefix(line, []byte("data:")):
				data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
			}
		}
	}()
	tb.Cleanup(s.close)
	return s
}

// clusterWS opens a visitor WebSocket on node n and says hello with lastSeq.
func clusterWS(tb testing.TB, n *clusterNode, convID, token string, lastSeq int64) *clusterStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wsURL := "ws" + strings.TrimPrefix(n.URL, "http") + "/v1/ws"
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	conn, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		cancel()
		tb.Fatalf("WebSocket on %s: %v", n.Name, err)
	}
	conn.SetReadLimit(1 << 20)
	s := newClusterStream("WebSocket on "+n.Name, cancel)
	s.conn = conn
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				s.end(err)
				return
			}
			if err := s.add(data); err != nil {
				s.end(err)
				return
			}
		}
	}()
	tb.Cleanup(s.close)
	hello, _ := json.Marshal(map[string]any{"type": "hello", "conversation_id": convID, "last_seq": lastSeq})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := conn.Write(wctx, websocket.MessageText, hello); err != nil {
		tb.Fatalf("WebSocket on %s: hello: %v", n.Name, err)
	}
	return s
}

// clusterFind returns the first frame of type typ (for message msgID when
// not empty) and whether there is one.
func clusterFind(fs []clusterFrame, typ, msgID string) (clusterFrame, bool) {
	for _, f := range fs {
		if f.Type == typ && (msgID == "" || f.MessageID == msgID) {
			return f, true
		}
	}
	return clusterFrame{}, false
}

// clusterText reassembles a message's text from its deltas by byte
// offset: each delta must continue exactly where the text so far ends, so
// a gap, an overlap (text sent twice) or a reordering is an error.
func clusterText(fs []clusterFrame, msgID string) (string, error) {
	var b strings.Builder
	for _, f := range fs {
		if f.Type != "delta" || f.MessageID != msgID {
			continue
		}
		if f.Offset != b.Len() {
			return b.String(), fmt.Errorf("delta seq %d at offset %d, but the text so far is %d bytes (gap or repeat)", f.Seq, f.Offset, b.Len())
		}
		b.WriteString(f.Payload)
	}
	return b.String(), nil
}

// clusterDeltas counts the deltas of a message.
func clusterDeltas(fs []clusterFrame, msgID string) int {
	n := 0
	for _, f := range fs {
		if f.Type == "delta" && f.MessageID == msgID {
			n++
		}
	}
	return n
}

// clusterDescribe summarises frames for failure messages.
func clusterDescribe(fs []clusterFrame) string {
	var parts []string
	for _, f := range fs {
		s := fmt.Sprintf("%s#%d", f.Type, f.Seq)
		switch f.Type {
		case "delta":
			s += fmt.Sprintf("@%d+%d", f.Offset, len(f.Payload))
		case "done":
			s += "(" + f.FinishReason + ")"
		case "error":
			s += "(" + f.Code + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) > 80 {
		parts = append(append(parts[:40:40], "…"), parts[len(parts)-40:]...)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// clusterEventually polls cond until it returns "" (met) or the timeout
// passes, then fails with cond's last explanation.
func clusterEventually(tb testing.TB, timeout time.Duration, cond func() string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
