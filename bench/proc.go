package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcStats is what a server process used during a phase.
type ProcStats struct {
	Source     string  `json:"source"` // "/proc/<pid>" or "<url>/metrics"
	RSSStart   int64   `json:"rss_start_bytes"`
	RSSPeak    int64   `json:"rss_peak_bytes"`
	RSSEnd     int64   `json:"rss_end_bytes"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPercent float64 `json:"cpu_percent"` // of one core, averaged over the phase
}

// probe reads a process's resident set size and CPU time.
type probe interface {
	sample(ctx context.Context) (rss int64, cpu float64, err error)
	source() string
}

// procProbe reads /proc/<pid> (a local process).
type procProbe struct{ pid int }

func (p procProbe) source() string { return fmt.Sprintf("/proc/%d", p.pid) }

func (p procProbe) sample(context.Context) (int64, float64, error) {
	return readProc(p.pid)
}

// readProc returns VmRSS in bytes and utime+stime in seconds.
func readProc(pid int) (int64, float64, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(st)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14
	stt, _ := strconv.ParseFloat(f[12], 64)
	rss, err := vmRSS(pid)
	return rss, (ut + stt) / clockTicks, err
}

func vmRSS(pid int) (int64, error) {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// metricsProbe scrapes a Prometheus endpoint (a remote server).
// multiProbe sums several servers (the instances of a scale-out run).
type multiProbe []probe

func (m multiProbe) source() string {
	s := make([]string, len(m))
	for i, p := range m {
		s[i] = p.source()
	}
	return strings.Join(s, " + ")
}

func (m multiProbe) sample(ctx context.Context) (int64, float64, error) {
	var rss int64
	var cpu float64
	for _, p := range m {
		r, c, err := p.sample(ctx)
		if err != nil {
			return 0, 0, err
		}
		rss, cpu = rss+r, cpu+c
	}
	return rss, cpu, nil
}

type metricsProbe struct {
	url string
	hc  *http.Client
}

func (p metricsProbe) source() string { return p.url }

func (p metricsProbe) sample(ctx context.Context) (int64, float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %s", p.url, resp.Status)
	}
	var rss, cpu float64
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := parseMetric(sc.Text())
		switch {
		case !ok:
		case name == "process_resident_memory_bytes":
			rss, found = val, found+1
		case name == "process_cpu_seconds_total":
			cpu, found = val, found+1
		}
	}
	if found < 2 {
		return 0, 0, fmt.Errorf("%s has no process_resident_memory_bytes / process_cpu_seconds_total", p.url)
	}
	return int64(rss), cpu, sc.Err()
}

// parseMetric parses an unlabelled Prometheus text line "name value".
func parseMetric(line string) (string, float64, bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	f := strings.Fields(line)
	if len(f) < 2 || strings.ContainsRune(f[0], '{') {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(f[1], 64)
	return f[0], v, err == nil
}

// sampler watches one process during a phase, every second.
type sampler struct {
	p      probe
	start  time.Time
	cpu0   float64
	mu     sync.Mutex
	st     ProcStats
	cancel context.CancelFunc
	done   chan struct{}
}

// startSampler begins sampling; nil probe gives a nil sampler.
func startSampler(ctx context.Context, p probe) *sampler {
	if p == nil {
		return nil
	}
	s := &sampler{p: p, start: time.Now(), done: make(chan struct{})}
	s.st.Source = p.source()
	rss, cpu, err := p.sample(ctx)
	if err == nil {
		s.st.RSSStart, s.st.RSSPeak, s.cpu0 = rss, rss, cpu
	}
	ctx, s.cancel = context.WithCancel(ctx)
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if rss, _, err := p.sample(ctx); err == nil {
					s.mu.Lock()
					s.st.RSSPeak = max(s.st.RSSPeak, rss)
					s.mu.Unlock()
				}
			}
		}
	}()
	return s
}

// stop ends sampling and returns the stats.
func (s *sampler) stop(ctx context.Context) *ProcStats {
	if s == nil {
		return nil
	}
	s.cancel()
	<-s.done
	st := s.st
	if rss, cpu, err := s.p.sample(ctx); err == nil {
		st.RSSEnd = rss
		st.RSSPeak = max(st.RSSPeak, rss)
		st.CPUSeconds = cpu - s.cpu0
		if el := time.Since(s.start).Seconds(); el > 0 {
			st.CPUPercent = 100 * st.CPUSeconds / el
		}
	}
	return &st
}
