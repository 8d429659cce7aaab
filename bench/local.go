package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Limits written into the config of a server the bench starts itself, so
// it measures throughput rather than the per-visitor rate limit (30
// messages / 60 s by default) or the per-IP WebSocket cap.
const (
	LocalMessageLimit = 1000000
	LocalWSPerIP      = 1000000
	simKeyEnv         = "SWITCHBOARD_BENCH_LLMSIM_KEY"
)

// SimProfile shapes the llmsim upstream the bench starts.
type SimProfile struct {
	TTFT         time.Duration `json:"ttft"`
	TTFTJitter   time.Duration `json:"ttft_jitter"`
	TokensPerSec float64       `json:"tokens_per_sec"`
	Tokens       int           `json:"tokens"`
	Reply        string        `json:"reply,omitempty"`
	ChunkSize    int           `json:"chunk_size"`
	Mode         string        `json:"mode,omitempty"`
	FailRate     float64       `json:"fail_rate,omitempty"`
	FailMix      string        `json:"fail_mix,omitempty"`
}

func (p SimProfile) args() []string {
	a := []string{"--ttft", p.TTFT.String(), "--ttft-jitter", p.TTFTJitter.String(),
		"--tokens-per-sec", strconv.FormatFloat(p.TokensPerSec, 'f', -1, 64), "--log-level", "warn"}
	if p.Tokens > 0 {
		a = append(a, "--tokens", strconv.Itoa(p.Tokens))
	}
	if p.ChunkSize > 0 {
		a = append(a, "--chunk-size", strconv.Itoa(p.ChunkSize))
	}
	if p.Reply != "" {
		a = append(a, "--reply", p.Reply)
	}
	if p.Mode != "" {
		a = append(a, "--mode", p.Mode)
	}
	if p.FailRate > 0 {
		a = append(a, "--fail-rate", strconv.FormatFloat(p.FailRate, 'f', -1, 64))
	}
	if p.FailMix != "" {
		a = append(a, "--fail-mix", p.FailMix)
	}
	return a
}

// proc is a child process whose stdout is read line by line.
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	log   *os.File
}

// startProc runs binary args with stderr to logPath; stdout lines go to
// the lines channel (dropped when nobody reads them).
func startProc(name, binary string, args []string, env []string, logPath string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 64), done: make(chan struct{}), log: lf}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		_ = cmd.Wait()
	}()
	return p, nil
}

// waitLine returns the first line with prefix, or an error when the
// process ends or the timeout passes.
func (p *proc) waitLine(prefix string, timeout time.Duration, seen func(string)) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l := <-p.lines:
			if seen != nil {
				seen(l)
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-p.done:
			return "", fmt.Errorf("%s exited before printing %q; see %s", p.name, prefix, p.log.Name())
		case <-t.C:
			return "", fmt.Errorf("%s did not print %q within %s; see %s", p.name, prefix, timeout, p.log.Name())
		}
	}
}

// stop sends SIGTERM and waits (SIGKILL after 20 s).
func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.log.Close()
}

// Local is a Switchboard server and one or two llmsim upstreams started
// by the bench as child processes of its own binary, on loopback.
type Local struct {
	Dir           string
	ServerURL     string
	SimURLs       []string
	AdminEmail    string
	AdminPassword string
	WidgetKey     string
	APIKey        string
	Notes         []string

	binary string
	config string
	server *proc
	sims   []*proc
}

// LocalOptions configure StartLocal.
type LocalOptions struct {
	Binary    string       // this program (os.Executable())
	Sims      []SimProfile // one llmsim each; the route's targets in this order
	KeepDir   bool
	ServerEnv []string
}

// StartLocal starts llmsim(s) and a server with a fresh data directory
// whose default route points at them, creates a bench inbox and an API key.
func StartLocal(ctx context.Context, opt LocalOptions) (l *Local, err error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	l = &Local{Dir: dir, binary: opt.Binary}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	for i, sp := range opt.Sims {
		args := append([]string{"llmsim", "--addr", "127.0.0.1:0"}, sp.args()...)
		p, err := startProc(fmt.Sprintf("llmsim %d", i+1), opt.Binary, args, nil, filepath.Join(dir, fmt.Sprintf("llmsim%d.log", i+1)))
		if err != nil {
			return l, err
		}
		l.sims = append(l.sims, p)
		line, err := p.waitLine("llmsim listening on ", 15*time.Second, nil)
		if err != nil {
			return l, err
		}
		l.SimURLs = append(l.SimURLs, strings.TrimPrefix(line, "llmsim listening on "))
	}

	l.config = filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(l.config, []byte(localConfig(filepath.Join(dir, "data"), l.SimURLs)), 0o600); err != nil {
		return l, err
	}
	l.Notes = append(l.Notes, fmt.Sprintf("server started by the bench with limits.messages=%d and limits.ws_per_ip=%d, so the run measures throughput rather than the per-visitor rate limit (30 messages / 60 s by default); each virtual user has its own visitor session", LocalMessageLimit, LocalWSPerIP))
	env := append([]string{simKeyEnv + "=bench"}, opt.ServerEnv...)
	l.server, err = startProc("switchboard serve", opt.Binary, []string{"serve", "--config", l.config}, env, filepath.Join(dir, "server.log"))
	if err != nil {
		return l, err
	}
	line, err := l.server.waitLine("switchboard listening on ", 60*time.Second, func(s string) {
		if rest, ok := strings.CutPrefix(s, "admin email: "); ok {
			if email, pw, ok := strings.Cut(rest, " password: "); ok {
				l.AdminEmail, l.AdminPassword = email, pw
			}
		}
	})
	if err != nil {
		return l, err
	}
	l.ServerURL = strings.TrimPrefix(line, "switchboard listening on ")

	var in struct {
		Inbox struct {
			WidgetKey string `json:"widget_key"`
		} `json:"inbox"`
	}
	if err := l.admin(ctx, &in, "inbox", "create", "--name", "bench", "--json"); err != nil {
		return l, err
	}
	l.WidgetKey = in.Inbox.WidgetKey
	var key struct {
		Secret string `json:"secret"`
	}
	if err := l.admin(ctx, &key, "apikey", "create", "--name", "bench", "--rpm", strconv.Itoa(LocalMessageLimit), "--json"); err != nil {
		return l, err
	}
	l.APIKey = key.Secret
	if l.WidgetKey == "" || l.APIKey == "" {
		return l, fmt.Errorf("bench setup: no widget key or API key from the admin commands")
	}
	return l, nil
}

// admin runs an admin command of the binary on the local data directory
// and decodes its --json output.
func (l *Local) admin(ctx context.Context, v any, args ...string) error {
	cmd := exec.CommandContext(ctx, l.binary, append(args, "--config", l.config)...)
	cmd.Env = append(os.Environ(), simKeyEnv+"=bench")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("switchboard %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("switchboard %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// ServerPID is the server's process id.
func (l *Local) ServerPID() int { return l.server.cmd.Process.Pid }

// SimPID is the process id of the i-th llmsim.
func (l *Local) SimPID(i int) int { return l.sims[i].cmd.Process.Pid }

// ServerLog is the path of the server's log.
func (l *Local) ServerLog() string { return filepath.Join(l.Dir, "server.log") }

// Close stops the server, then the upstreams, and removes the directory.
func (l *Local) Close() {
	if l.server != nil {
		l.server.stop()
	}
	for _, s := range l.sims {
		s.stop()
	}
	_ = os.RemoveAll(l.Dir)
}

// localConfig is the server config of a local run.
func localConfig(dataDir string, sims []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "addr: \"127.0.0.1:0\"\ndata_dir: %q\nlog_level: warn\nlog_format: json\n", dataDir)
	fmt.Fprintf(&b, "limits:\n  messages: %d\n  ws_per_ip: %d\n", LocalMessageLimit, LocalWSPerIP)
	b.WriteString("providers:\n")
	for i, u := range sims {
		fmt.Fprintf(&b, "  - name: sim%d\n    type: openai\n    base_url: %q\n    api_key_env: %s\n    max_conns: 4096\n", i+1, u+"/v1", simKeyEnv)
	}
	b.WriteString("routes:\n  default:\n    strategy: priority\n    targets:\n")
	for i := range sims {
		fmt.Fprintf(&b, "      - {provider: sim%d, model: sim-model}\n", i+1)
	}
	return b.String()
}
