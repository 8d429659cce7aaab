package bench_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/bench"
)

// binary is the switchboard binary the smoke test starts servers from:
// SWITCHBOARD_TEST_BINARY, or one built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	binary = os.Getenv("SWITCHBOARD_TEST_BINARY")
	if binary == "" && !testing.Short() {
		dir, err := os.MkdirTemp("", "bench-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "switchboard")
		cmd := exec.Command("go", "build", "-o", binary, "../cmd/switchboard")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build switchboard:", err)
			return 1
		}
	}
	return m.Run()
}

// TestSmoke runs a tiny ws-chat bench against a server and llmsim it
// starts itself. No timing assertions: only that every turn succeeded.
func TestSmoke(t *testing.T) {
	if binary == "" {
		t.Skip("-short: no switchboard binary (set SWITCHBOARD_TEST_BINARY)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{Scenario: bench.ScenarioWS, Concurrency: 5, Duration: 3 * time.Second,
		Turns: 3, Binary: binary, Sim: bench.SimProfile{Tokens: 20}, Baseline: "direct", Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) != 2 || rep.Overhead == nil {
		t.Fatalf("phases %d, overhead %v", len(rep.Phases), rep.Overhead)
	}
	for _, p := range rep.Phases {
		if p.Succeeded == 0 || p.Failed != 0 || p.SuccessRate != 1 {
			t.Errorf("%s: %d ok, %d failed (%v), rate %v", p.Name, p.Succeeded, p.Failed, p.Errors, p.SuccessRate)
		}
		if p.TTFT.Count == 0 || p.Tokens == 0 || p.RxPerReply == 0 {
			t.Errorf("%s: no TTFT (%d), tokens (%d) or bytes (%v)", p.Name, p.TTFT.Count, p.Tokens, p.RxPerReply)
		}
	}
	if s := rep.Phases[0].Server; s == nil || s.RSSEnd == 0 {
		t.Errorf("no server process stats: %+v", s)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
