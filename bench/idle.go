package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// IdleResult is the outcome of idle-connections.
type IdleResult struct {
	Requested     int              `json:"requested"`
	Workers       int              `json:"workers"`
	Sessions      int              `json:"sessions"`
	Open          int              `json:"open"`
	Failed        int              `json:"failed"`
	Dropped       int              `json:"dropped"` // closed by the server while held
	Errors        map[string]int64 `json:"errors"`
	OpenSeconds   float64          `json:"open_seconds"`
	HoldSeconds   float64          `json:"hold_seconds"`
	ServerSockets int              `json:"server_sockets"` // switchboard_ws_connections at the end of the hold
	RSSBefore     int64            `json:"rss_before_bytes"`
	RSSAfter      int64            `json:"rss_after_bytes"`
	PerConnKiB    float64          `json:"rss_per_connection_kib"`
	Server        *ProcStats       `json:"server,omitempty"`
}

// workerEvent is a line a worker prints.
type workerEvent struct {
	Event   string           `json:"event"` // sessions | opened | closed
	OK      int              `json:"ok"`
	Failed  int              `json:"failed"`
	Dropped int              `json:"dropped"`
	Errors  map[string]int64 `json:"errors,omitempty"`
}

// worker is a child process of the bench holding idle sockets.
type worker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	n   int
}

func (w *worker) next() (workerEvent, error) {
	var ev workerEvent
	if !w.out.Scan() {
		return ev, fmt.Errorf("bench worker ended: %v", w.out.Err())
	}
	return ev, json.Unmarshal(w.out.Bytes(), &ev)
}

// runIdle spreads the sockets over worker processes (each under the
// open-file limit) so one server can be loaded with more sockets than
// one client process may open, then holds them for the duration.
func runIdle(ctx context.Context, cfg *Config, opt userOptions, server probe) (*IdleResult, error) {
	res := &IdleResult{Requested: cfg.Connections, Errors: map[string]int64{}}
	nw := (cfg.Connections + cfg.ConnsPerWorker - 1) / cfg.ConnsPerWorker
	res.Workers = nw
	cfg.logf("idle-connections: %d sockets over %d worker processes against %s", cfg.Connections, nw, opt.Base)
	var workers []*worker
	defer func() {
		for _, w := range workers {
			_ = w.in.Close()
			done := make(chan struct{})
			go func() { _ = w.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = w.cmd.Process.Kill()
				<-done
			}
		}
	}()
	for i := range nw {
		n := cfg.Connections / nw
		if i < cfg.Connections%nw {
			n++
		}
		args := []string{"bench", "--worker", "--target", opt.Base, "--widget-key", opt.WidgetKey,
			"--connections", strconv.Itoa(n), "--ramp-up", (cfg.RampUp / time.Duration(1)).String()}
		if cfg.Remote {
			args = append(args, "--remote")
		}
		cmd := exec.Command(cfg.Binary, args...)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start bench worker: %w", err)
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		workers = append(workers, &worker{cmd: cmd, in: in, out: sc, n: n})
	}
	merge := func(ev workerEvent) {
		for k, v := range ev.Errors {
			res.Errors[k] += v
		}
	}
	// 1. Every worker creates its visitor sessions.
	for _, w := range workers {
		ev, err := w.next()
		if err != nil {
			return nil, err
		}
		res.Sessions += ev.OK
		merge(ev)
	}
	cfg.logf("idle-connections: %d visitor sessions created", res.Sessions)
	time.Sleep(2 * time.Second) // let the server settle before the baseline RSS
	if server != nil {
		if rss, _, err := server.sample(ctx); err == nil {
			res.RSSBefore = rss
		}
	}
	ss := startSampler(ctx, server)
	// 2. Open the sockets.
	t0 := time.Now()
	for _, w := range workers {
		if _, err := io.WriteString(w.in, "open\n"); err != nil {
			return nil, err
		}
	}
	for _, w := range workers {
		ev, err := w.next()
		if err != nil {
			return nil, err
		}
		res.Open += ev.OK
		res.Failed += ev.Failed
		merge(ev)
	}
	res.OpenSeconds = time.Since(t0).Seconds()
	cfg.logf("idle-connections: %d open, %d failed in %.1fs; holding for %s", res.Open, res.Failed, res.OpenSeconds, cfg.Duration)
	// 3. Hold.
	t1 := time.Now()
	hold := time.NewTimer(cfg.Duration)
	tick := time.NewTicker(progressEvery)
	func() {
		defer hold.Stop()
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hold.C:
				return
			case <-tick.C:
				cfg.logf("idle-connections: holding %d sockets, %.0fs left", res.Open, (cfg.Duration - time.Since(t1)).Seconds())
			}
		}
	}()
	res.HoldSeconds = time.Since(t1).Seconds()
	res.ServerSockets = serverSockets(ctx, opt.Base)
	if server != nil {
		if rss, _, err := server.sample(ctx); err == nil {
			res.RSSAfter = rss
		}
	}
	res.Server = ss.stop(ctx)
	if res.Open > 0 && res.RSSAfter > 0 {
		res.PerConnKiB = float64(res.RSSAfter-res.RSSBefore) / 1024 / float64(res.Open)
	}
	// 4. Close.
	for _, w := range workers {
		_, _ = io.WriteString(w.in, "close\n")
	}
	for _, w := range workers {
		if ev, err := w.next(); err == nil {
			res.Dropped += ev.Dropped
			merge(ev)
		}
	}
	return res, nil
}

// serverSockets reads switchboard_ws_connections from /metrics (-1 when
// it cannot).
func serverSockets(ctx context.Context, base string) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := newClient(&counter{}).Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if name, v, ok := parseMetric(sc.Text()); ok && name == "switchboard_ws_connections" {
			return int(v)
		}
	}
	return -1
}

// WorkerConfig configures a worker process (`switchboard bench --worker`).
type WorkerConfig struct {
	Target      string
	Remote      bool
	WidgetKey   string
	Connections int
	RampUp      time.Duration
}

// RunWorker holds idle sockets for the parent bench: it creates the
// visitor sessions, opens the sockets on "open" from in, and closes them
// on "close" or end of input, reporting each step as a JSON line on out.
func RunWorker(ctx context.Context, cfg WorkerConfig, in io.Reader, out io.Writer) error {
	if err := checkTarget(cfg.Target, cfg.Remote); err != nil {
		return err
	}
	if limit := openFileLimit(); limit > 0 && uint64(cfg.Connections+128) > limit {
		return fmt.Errorf("worker: %d sockets exceed the open-file limit %d", cfg.Connections, limit)
	}
	enc := json.NewEncoder(out)
	lines := bufio.NewScanner(in)
	var errMu sync.Mutex
	errs := map[string]int64{}
	fail := func(class string) {
		errMu.Lock()
		errs[class]++
		errMu.Unlock()
	}
	takeErrs := func() map[string]int64 {
		errMu.Lock()
		defer errMu.Unlock()
		e := errs
		errs = map[string]int64{}
		return e
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 5 * time.Second}}
	defer hc.CloseIdleConnections()

	sessions := make([]*session, cfg.Connections)
	parallel(ctx, cfg.Connections, 16, 0, func(i int) {
		s, class := newSession(ctx, hc, cfg.Target, cfg.WidgetKey)
		if s == nil {
			fail(class)
			return
		}
		sessions[i] = s
	})
	hc.CloseIdleConnections()
	okSessions := 0
	for _, s := range sessions {
		if s != nil {
			okSessions++
		}
	}
	if err := enc.Encode(workerEvent{Event: "sessions", OK: okSessions, Errors: takeErrs()}); err != nil {
		return err
	}
	if !lines.Scan() || lines.Text() != "open" {
		return nil
	}

	var open, dropped atomic.Int64
	var closing atomic.Bool
	conns := make([]*websocket.Conn, cfg.Connections)
	var readers sync.WaitGroup
	var interval time.Duration
	if cfg.RampUp > 0 && cfg.Connections > 0 {
		interval = cfg.RampUp / time.Duration(cfg.Connections)
	}
	parallel(ctx, cfg.Connections, 64, interval, func(i int) {
		s := sessions[i]
		if s == nil {
			return
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(dctx, wsURL(cfg.Target, s.Token), &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			if resp != nil {
				fail(fmt.Sprintf("ws_dial_http_%d", resp.StatusCode))
			} else {
				fail("ws_dial_" + errClass(dctx, err))
			}
			return
		}
		hello, _ := json.Marshal(map[string]any{"type": "hello", "conversation_id": s.Conversation.ID, "last_seq": s.Conversation.LastSeq})
		if err := c.Write(dctx, websocket.MessageText, hello); err != nil {
			fail("ws_" + errClass(dctx, err))
			c.CloseNow()
			return
		}
		for { // wait for ready
			_, data, err := c.Read(dctx)
			if err != nil {
				fail("ws_hello_" + errClass(dctx, err))
				c.CloseNow()
				return
			}
			var f frame
			if json.Unmarshal(data, &f) == nil && f.Type == "ready" {
				break
			}
		}
		conns[i] = c
		open.Add(1)
		readers.Add(1)
		go func() { // the socket's reader: answers pings, notices closes
			defer readers.Done()
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					if !closing.Load() {
						dropped.Add(1)
					}
					return
				}
			}
		}()
	})
	n := int(open.Load())
	if err := enc.Encode(workerEvent{Event: "opened", OK: n, Failed: cfg.Connections - n, Errors: takeErrs()}); err != nil {
		return err
	}
	for lines.Scan() && lines.Text() != "close" {
	}
	closing.Store(true)
	d := int(dropped.Load())
	parallel(context.Background(), len(conns), 256, 0, func(i int) {
		if c := conns[i]; c != nil {
			_ = c.CloseNow()
		}
	})
	readers.Wait()
	return enc.Encode(workerEvent{Event: "closed", Dropped: d})
}

// parallel calls fn(0..n-1) from at most width goroutines, starting one
// call per interval when interval > 0.
func parallel(ctx context.Context, n, width int, interval time.Duration, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(width, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if interval > 0 {
			if !sleep(ctx, time.Until(start.Add(interval*time.Duration(i)))) {
				break
			}
		}
		next <- i
	}
	close(next)
	wg.Wait()
}
