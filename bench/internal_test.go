package bench

import (
	"strings"
	"testing"
	"time"
)

func TestHistogramSummary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []time.Duration
		want   Summary // compared within HDR precision (0.1 %)
	}{
		{"Empty", nil, Summary{}},
		{"One", []time.Duration{5 * time.Millisecond}, Summary{Count: 1, Mean: 5, P50: 5, P90: 5, P99: 5, P999: 5, Max: 5}},
		{"Hundred", ramp(100, time.Millisecond), Summary{Count: 100, Mean: 50.5, P50: 50, P90: 90, P99: 99, P999: 100, Max: 100}},
		{"ClampsBelow", []time.Duration{0, time.Nanosecond}, Summary{Count: 2, Mean: 0.001, P50: 0.001, P90: 0.001, P99: 0.001, P999: 0.001, Max: 0.001}},
		{"ClampsAbove", []time.Duration{time.Hour}, Summary{Count: 1, Mean: 600000, P50: 600000, P90: 600000, P99: 600000, P999: 600000, Max: 600000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistogram()
			for _, v := range tc.values {
				h.Record(v)
			}
			got := h.Summary()
			if got.Count != tc.want.Count {
				t.Fatalf("count %d, want %d", got.Count, tc.want.Count)
			}
			for _, f := range []struct {
				name      string
				got, want float64
			}{{"mean", got.Mean, tc.want.Mean}, {"p50", got.P50, tc.want.P50}, {"p90", got.P90, tc.want.P90},
				{"p99", got.P99, tc.want.P99}, {"p99.9", got.P999, tc.want.P999}, {"max", got.Max, tc.want.Max}} {
				if !near(f.got, f.want) {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
		})
	}
}

func ramp(n int, unit time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * unit
	}
	return out
}

func near(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 0.002*max(b, -b)+1e-9
}

func TestHistogramMerge(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	for _, v := range ramp(50, time.Millisecond) {
		a.Record(v)
		b.Record(v + 50*time.Millisecond)
	}
	a.Merge(b)
	if s := a.Summary(); s.Count != 100 || !near(s.Max, 100) || !near(s.P50, 50) {
		t.Fatalf("merged summary %+v", s)
	}
}

func TestBuckets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []time.Duration
		n      int
	}{
		{"Spread", ramp(1000, 100*time.Microsecond), 20},
		{"Single", []time.Duration{3 * time.Millisecond, 3 * time.Millisecond}, 10},
		{"Wide", []time.Duration{time.Millisecond, time.Second, time.Minute}, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistogram()
			for _, v := range tc.values {
				h.Record(v)
			}
			bs := h.Buckets(tc.n)
			if len(bs) != tc.n {
				t.Fatalf("%d buckets, want %d", len(bs), tc.n)
			}
			var sum int64
			for i, b := range bs {
				sum += b.Count
				if b.To <= b.From || (i > 0 && b.From != bs[i-1].To) {
					t.Fatalf("bucket %d [%v, %v) not contiguous", i, b.From, b.To)
				}
			}
			if sum != int64(len(tc.values)) {
				t.Fatalf("buckets hold %d values, want %d", sum, len(tc.values))
			}
		})
	}
	if NewHistogram().Buckets(10) != nil {
		t.Fatal("empty histogram has buckets")
	}
}

func TestRecorderPhase(t *testing.T) {
	start := time.Now()
	rec := newRecorder(start)
	ms := func(n int) time.Time { return start.Add(time.Duration(n) * time.Millisecond) }
	rec.add(&stream{start: ms(0), chunks: []time.Time{ms(10), ms(12), ms(15)}, end: ms(20), tokens: 3, rx: 300, tx: 100})
	rec.add(&stream{start: ms(1000), chunks: []time.Time{ms(1030)}, end: ms(1040), rx: 100, tx: 100, tokens: 1})
	rec.add(&stream{start: ms(1100), end: ms(1200), class: "http_503"})
	rec.add(&stream{start: ms(1100), end: ms(1300), class: "http_503"})
	rec.add(&stream{start: ms(1100), end: ms(1300), class: "timeout"})
	rec.started.Store(5)
	p := rec.phase("switchboard", ScenarioWS, "http://x", 2, 2*time.Second)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"succeeded", float64(p.Succeeded), 2}, {"failed", float64(p.Failed), 3}, {"success rate", p.SuccessRate, 0.4},
		{"streams/s", p.StreamsPerSec, 1}, {"tokens/s", p.TokensPerSec, 2}, {"rx/reply", p.RxPerReply, 200},
		{"tx/reply", p.TxPerReply, 100}, {"ttft count", float64(p.TTFT.Count), 2}, {"ttft max", p.TTFT.Max, 30},
		{"gap count", float64(p.Gap.Count), 2}, {"gap max", p.Gap.Max, 3}, {"total max", p.Total.Max, 40},
		{"timeline seconds", float64(len(p.Timeline)), 2}, {"t0 streams", float64(p.Timeline[0].Streams), 1},
		{"t1 streams", float64(p.Timeline[1].Streams), 1}, {"t1 errors", float64(p.Timeline[1].Errors), 3},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := strings.Join(p.ErrorClasses(), ","); got != "http_503,timeout" {
		t.Errorf("error classes %q", got)
	}
}

func TestOverhead(t *testing.T) {
	s := &Phase{StreamsPerSec: 50, TTFT: Summary{P50: 12, P99: 30}, Total: Summary{P50: 110, P99: 300}}
	d := &Phase{StreamsPerSec: 100, TTFT: Summary{P50: 10, P99: 20}, Total: Summary{P50: 100, P99: 250}}
	o := overhead(s, d)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"rate", o.RateRatio, 0.5}, {"ttft p50 ratio", o.TTFTP50Ratio, 1.2}, {"ttft p99 ratio", o.TTFTP99Ratio, 1.5},
		{"ttft p50 added", o.TTFTP50AddedMs, 2}, {"ttft p99 added", o.TTFTP99AddedMs, 10},
		{"total p50 ratio", o.TotalP50Ratio, 1.1}, {"total p99 added", o.TotalP99AddedMs, 50},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if z := overhead(s, &Phase{}); z.RateRatio != 0 || z.TTFTP50Ratio != 0 {
		t.Errorf("ratio over zero baseline: %+v", z)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtMs(0), "0"}, {fmtMs(0.0123), "0.012"}, {fmtMs(1.234), "1.23"}, {fmtMs(12.34), "12.3"}, {fmtMs(1234.5), "1234"},
		{fmtMs(-5.5), "-5.50"}, {fmtBytes(512), "512 B"}, {fmtBytes(2048), "2.0 KiB"}, {fmtBytes(3 << 20), "3.0 MiB"},
		{fmtBytes(5 << 30), "5.00 GiB"}, {fmtPct(0.9876), "98.76 %"}, {fmtRatio(0), "–"}, {fmtRatio(1.5), "1.50×"},
		{mdCell("a|b"), `a\|b`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParseMetric(t *testing.T) {
	for _, tc := range []struct {
		line string
		name string
		v    float64
		ok   bool
	}{
		{"process_resident_memory_bytes 4.2e+07", "process_resident_memory_bytes", 4.2e7, true},
		{"process_cpu_seconds_total 12.5", "process_cpu_seconds_total", 12.5, true},
		{"# HELP process_cpu_seconds_total Total user and system CPU time.", "", 0, false},
		{`http_requests_total{code="200"} 3`, "", 0, false},
		{"", "", 0, false},
		{"broken", "", 0, false},
	} {
		name, v, ok := parseMetric(tc.line)
		if ok != tc.ok || (ok && (name != tc.name || v != tc.v)) {
			t.Errorf("parseMetric(%q) = %q %v %v", tc.line, name, v, ok)
		}
	}
}

func TestCheckTarget(t *testing.T) {
	for _, tc := range []struct {
		url    string
		remote bool
		ok     bool
	}{
		{"http://127.0.0.1:8080", false, true}, {"http://localhost:8080", false, true}, {"http://[::1]:8080", false, true},
		{"https://chat.example.com", false, false}, {"https://chat.example.com", true, true},
		{"http://10.0.0.5:8080", false, false}, {"ftp://127.0.0.1", true, false}, {"127.0.0.1:8080", false, false},
	} {
		if err := checkTarget(tc.url, tc.remote); (err == nil) != tc.ok {
			t.Errorf("checkTarget(%q, %v) = %v", tc.url, tc.remote, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"Defaults", Config{Binary: "x"}, ""},
		{"UnknownScenario", Config{Binary: "x", Scenario: "nope"}, "unknown scenario"},
		{"RemoteNeedsFlag", Config{Target: "http://10.1.2.3", WidgetKey: "k"}, "not loopback"},
		{"TargetNeedsWidgetKey", Config{Target: "http://127.0.0.1:1"}, "--widget-key"},
		{"BaselineNeedsDirect", Config{Target: "http://127.0.0.1:1", WidgetKey: "k", Baseline: "direct"}, "--direct-url"},
		{"BadBaseline", Config{Binary: "x", Baseline: "proxy"}, "--baseline"},
		{"TooManySockets", Config{Binary: "x", Concurrency: 1 << 30}, "open-file limit"},
		{"IdleNeedsConnections", Config{Binary: "x", Scenario: ScenarioIdle}, "--connections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestReplyTracker(t *testing.T) {
	tr := &replyTracker{clientMsgID: "c1"}
	s := &stream{start: time.Now()}
	frames := []frame{
		{Type: "message", Seq: 3, Message: []byte(`{"client_msg_id":"other"}`)},
		{Type: "start", Seq: 4, MessageID: "early"}, // before our echo: not ours
		{Type: "message", Seq: 5, Message: []byte(`{"client_msg_id":"c1"}`)},
		{Type: "start", Seq: 6, MessageID: "m1"},
		{Type: "delta", Seq: 7, MessageID: "m1", Payload: "Hel"},
		{Type: "delta", Seq: 8, MessageID: "early", Payload: "x"},
		{Type: "delta", Seq: 9, MessageID: "m1", Payload: "lo"},
	}
	for i := range frames {
		if tr.on(&frames[i], s) {
			t.Fatalf("done at frame %d", i)
		}
	}
	done := &frame{Type: "done", Seq: 10, MessageID: "m1", FinishReason: "stop"}
	done.Usage = &struct {
		CompletionTokens int `json:"completion_tokens"`
	}{CompletionTokens: 2}
	if !tr.on(done, s) || !s.ok() || len(s.chunks) != 2 || s.tokens != 2 || tr.lastSeq != 10 {
		t.Fatalf("after done: ok=%v chunks=%d tokens=%d last=%d", s.ok(), len(s.chunks), s.tokens, tr.lastSeq)
	}
	s2 := &stream{}
	tr2 := &replyTracker{clientMsgID: "c2"}
	if !tr2.on(&frame{Type: "error", Code: "rate_limited"}, s2) || s2.class != "error_frame:rate_limited" {
		t.Fatalf("error frame: class %q", s2.class)
	}
}

func TestSSELines(t *testing.T) {
	in := ": ping\n\ndata: {\"a\":1}\n\nid: 4\ndata: one\ndata:two\n\ndata: " + strings.Repeat("x", 40000) + "\n\ndata: [DONE]\n\n"
	var got []string
	err := sseLines(strings.NewReader(in), func(d []byte) bool {
		got = append(got, string(d))
		return string(d) == "[DONE]"
	})
	if err != nil || len(got) != 4 || got[0] != `{"a":1}` || got[1] != "onetwo" || len(got[2]) != 40000 || got[3] != "[DONE]" {
		t.Fatalf("events %d %v err %v", len(got), got[:min(2, len(got))], err)
	}
}

func TestMessage(t *testing.T) {
	for _, n := range []int{1, 64, 1000} {
		if m := message(n, 7); len(m) > n || len(m) == 0 {
			t.Errorf("message(%d) has %d bytes", n, len(m))
		}
	}
}

func sampleReport() *Report {
	rec := newRecorder(time.Now())
	now := time.Now()
	rec.add(&stream{start: now, chunks: []time.Time{now.Add(time.Millisecond), now.Add(2 * time.Millisecond)}, end: now.Add(3 * time.Millisecond), tokens: 2})
	sb := rec.phase("switchboard", ScenarioWS, "http://127.0.0.1:1", 1, time.Second)
	sb.Server = &ProcStats{RSSEnd: 40 << 20, RSSPeak: 41 << 20, CPUSeconds: 1, CPUPercent: 100}
	d := rec.phase("direct", ScenarioOpenAI, "http://127.0.0.1:2", 1, time.Second)
	return &Report{Time: now, Scenario: ScenarioWS, Command: "switchboard bench -c 1", Notes: []string{"a <note>"},
		Phases: []*Phase{sb, d}, Overhead: overhead(sb, d),
		Idle: &IdleResult{Requested: 10, Open: 10, Workers: 1, Errors: map[string]int64{"x|y": 1}, PerConnKiB: 12.5}}
}

func TestReportOutputs(t *testing.T) {
	r := sampleReport()
	for _, tc := range []struct {
		name  string
		write func(*strings.Builder) error
		want  []string
		not   []string
	}{
		{"Table", func(b *strings.Builder) error { return r.WriteTable(b) }, []string{"switchboard", "direct", "TTFT p50/p90/p99/p99.9/max ms", "overhead", "12.5 KiB"}, nil},
		{"JSON", func(b *strings.Builder) error { return r.WriteJSON(b) }, []string{`"ttft_p50_added_ms"`, `"p99_9_ms"`, `"streams_per_sec"`, `"rss_per_connection_kib": 12.5`}, nil},
		{"Markdown", func(b *strings.Builder) error { return r.WriteMarkdown(b, "Run 1") }, []string{"### Run 1", " | switchboard | direct |", "|---|---|---|", "x\\|y 1", "```\nswitchboard bench -c 1\n```"}, nil},
		{"HTML", func(b *strings.Builder) error { return r.WriteHTML(b) }, []string{"<svg", "<polyline", "<rect", "a &lt;note&gt;", "</html>"}, []string{"<script", "src=", "href="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("output has %q", w)
				}
			}
		})
	}
}

func TestPickBase(t *testing.T) {
	for _, tc := range []struct {
		bases string
		i     int
		want  string
	}{
		{"http://a", 5, "http://a"},
		{"http://a,http://b/,http://c", 0, "http://a"},
		{"http://a,http://b/,http://c", 1, "http://b"},
		{"http://a, http://b ,http://c", 4, "http://b"},
		{"http://a,http://b,http://c", 5, "http://c"},
	} {
		if got := pickBase(tc.bases, tc.i); got != tc.want {
			t.Errorf("pickBase(%q, %d) = %q, want %q", tc.bases, tc.i, got, tc.want)
		}
	}
}
