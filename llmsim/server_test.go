package llmsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/llmsim"
)

func TestOpenAI(t *testing.T) {
	t.Run("Stream", func(t *testing.T) {
		sim, ts := MustRunServer(t, llmsim.Config{})
		res, err := streamOpenAI(t, ts, openAIBody("gpt-x", true, user("Where is my order?")))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Deltas) != llmsim.DefaultTokens || !res.Done || res.AfterDone || res.Malformed {
			t.Fatalf("deltas %d done %v after %v malformed %v", len(res.Deltas), res.Done, res.AfterDone, res.Malformed)
		}
		if res.Finish != "stop" || res.CompletionTokens != llmsim.DefaultTokens || res.PromptTokens != 5 {
			t.Fatalf("finish %q usage %d/%d", res.Finish, res.PromptTokens, res.CompletionTokens)
		}
		if got := completeOpenAI(t, ts, openAIBody("gpt-x", false, user("Where is my order?"))); got != res.Text {
			t.Fatalf("non-stream %q != stream %q", got, res.Text)
		}
		if sim.Attempts("gpt-x") != 2 || sim.TotalAttempts() != 2 {
			t.Fatalf("attempts %d/%d", sim.Attempts("gpt-x"), sim.TotalAttempts())
		}
	})
	t.Run("NoUsageWithoutIncludeUsage", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{Tokens: 3})
		resp := mustPost(t, testContext(t), ts.URL+"/v1/chat/completions",
			`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		evs, err := readAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if strings.Contains(ev.Data, `"usage"`) {
				t.Fatalf("usage without include_usage: %s", ev.Data)
			}
		}
		if res := parseOpenAI(t, evs); res.Text == "" || !res.Done {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("ChunkSize", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{Tokens: 10, ChunkSize: 4})
		res, err := streamOpenAI(t, ts, openAIBody("m", true, user("hi")))
		if err != nil || len(res.Deltas) != 3 || res.CompletionTokens != 10 {
			t.Fatalf("deltas %d tokens %d err %v", len(res.Deltas), res.CompletionTokens, err)
		}
	})
	t.Run("MaxTokens", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{})
		res, err := streamOpenAI(t, ts, `{"model":"m","stream":true,"max_tokens":7,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
		if err != nil || res.Finish != "length" || res.CompletionTokens != 7 || len(res.Deltas) != 7 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("ContentParts", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{})
		a := completeOpenAI(t, ts, `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}`)
		b := completeOpenAI(t, ts, openAIBody("m", false, user("hello")))
		if a != b {
			t.Fatalf("%q != %q", a, b)
		}
	})
	t.Run("BadRequest", func(t *testing.T) {
		sim, ts := MustRunServer(t, llmsim.Config{})
		resp := mustPost(t, testContext(t), ts.URL+"/v1/chat/completions", `{"model":`)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if e := decodeError(t, resp); e.Error.Type != "invalid_request_error" {
			t.Fatalf("%+v", e)
		}
		if st := sim.Stats(); st.AttemptsByMode["bad-request"] != 1 {
			t.Fatalf("%+v", st)
		}
	})
}

func TestDeterministic(t *testing.T) {
	_, ts1 := MustRunServer(t, llmsim.Config{})
	_, ts2 := MustRunServer(t, llmsim.Config{ChunkSize: 3})
	body := openAIBody("a", true, msg{"system", "be brief"}, user("one"), assistant("x"), user("Refund please"))
	r1, err1 := streamOpenAI(t, ts1, body)
	r2, err2 := streamOpenAI(t, ts2, strings.Replace(body, `"a"`, `"b"`, 1))
	if err1 != nil || err2 != nil || r1.Text != r2.Text {
		t.Fatalf("%q != %q (%v %v)", r1.Text, r2.Text, err1, err2)
	}
	r3, _ := streamOpenAI(t, ts1, openAIBody("a", true, user("Something else")))
	if r3.Text == r1.Text {
		t.Fatal("different questions gave the same reply")
	}
	// Anthropic and Gemini targets give the same text for the same question.
	if got := anthropicText(t, ts1, anthropicBody("c", true, user("Refund please"))); got != r1.Text {
		t.Fatalf("anthropic %q != %q", got, r1.Text)
	}
	if got := geminiText(t, ts1, "g", geminiBody("Refund please", ""), true); got != r1.Text {
		t.Fatalf("gemini %q != %q", got, r1.Text)
	}
}

func TestReply(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		want  []string
	}{
		{"Words", "Hello world, how are you?", []string{"Hello", " world,", " how", " are", " you?"}},
		{"Whitespace", "  a\n\nb ", []string{"  a", "\n\nb", " "}},
		{"CJK", "你好，世界 ok", []string{"你", "好", "，", "世", "界", " ok"}},
		{"Escapes", "say \"hi\"\tnow\\", []string{"say", " \"hi\"", "\tnow\\"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := MustRunServer(t, llmsim.Config{Reply: tt.reply})
			res, err := streamOpenAI(t, ts, openAIBody("m", true, user("anything")))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(res.Deltas, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("tokens %q, want %q", res.Deltas, tt.want)
			}
			if res.Text != tt.reply || res.CompletionTokens != len(tt.want) {
				t.Fatalf("text %q tokens %d", res.Text, res.CompletionTokens)
			}
		})
	}
}

func TestContinuation(t *testing.T) {
	const reply = "The quick brown fox jumps over the lazy dog."
	for _, cut := range []int{0, 3, 4, 9, 15, len(reply) - 1, len(reply)} {
		prefix := reply[:cut]
		_, ts := MustRunServer(t, llmsim.Config{Reply: reply})
		t.Run("Prefill", func(t *testing.T) {
			res, err := streamOpenAI(t, ts, openAIBody("m", true, user("q"), assistant(prefix)))
			if err != nil || prefix+res.Text != reply || res.CompletionTokens != len(res.Deltas) {
				t.Fatalf("cut %d: %q + %q (%v)", cut, prefix, res.Text, err)
			}
			// Anthropic refuses a prefill ending in whitespace; clients trim it.
			ap := strings.TrimRight(prefix, " ")
			if got := anthropicText(t, ts, anthropicBody("c", true, user("q"), assistant(ap))); ap+got != reply {
				t.Fatalf("anthropic cut %d: %q", cut, got)
			}
			if got := geminiText(t, ts, "g", geminiBody("q", prefix), true); prefix+got != reply {
				t.Fatalf("gemini cut %d: %q", cut, got)
			}
		})
		t.Run("Marker", func(t *testing.T) {
			m := "Continue exactly after this partial answer: " + llmsim.PartialMarker + prefix + llmsim.EndMarker
			res, err := streamOpenAI(t, ts, openAIBody("m", true, user("q"), user(m)))
			if err != nil || prefix+res.Text != reply {
				t.Fatalf("cut %d: %q + %q (%v)", cut, prefix, res.Text, err)
			}
		})
	}
	t.Run("GeneratedReply", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{})
		full, _ := streamOpenAI(t, ts, openAIBody("m", true, user("Where is my parcel?")))
		prefix := full.Text[:len(full.Text)/3+1]
		// The continuation request keeps the original question before the marker message.
		marker := llmsim.PartialMarker + prefix + llmsim.EndMarker
		res, err := streamOpenAI(t, ts, openAIBody("m", true, user("Where is my parcel?"), user("continue "+marker)))
		if err != nil || prefix+res.Text != full.Text {
			t.Fatalf("%q + %q != %q (%v)", prefix, res.Text, full.Text, err)
		}
		res, err = streamOpenAI(t, ts, openAIBody("m", true, user("Where is my parcel?"), assistant(prefix)))
		if err != nil || prefix+res.Text != full.Text {
			t.Fatalf("prefill: %q + %q != %q (%v)", prefix, res.Text, full.Text, err)
		}
	})
	t.Run("NotAPrefix", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{Reply: reply})
		res, err := streamOpenAI(t, ts, openAIBody("m", true, user("q"), assistant("Something else")))
		if err != nil || res.Text != reply {
			t.Fatalf("%q (%v)", res.Text, err)
		}
	})
}

func TestRejectPrefill(t *testing.T) {
	const reply = "one two three"
	_, ts := MustRunServer(t, llmsim.Config{Reply: reply, Mode: llmsim.ModeRejectPrefill})
	ctx := testContext(t)
	resp := mustPost(t, ctx, ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q"), assistant("one")))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if e := decodeError(t, resp); e.Error.Type != "invalid_request_error" || e.Error.Message != "prefill not supported" {
		t.Fatalf("%+v", e)
	}
	resp = mustPost(t, ctx, ts.URL+"/v1/messages", anthropicBody("c", true, user("q"), assistant("one")))
	if e := decodeError(t, resp); resp.StatusCode != http.StatusBadRequest || e.Type != "error" || e.Error.Message != "prefill not supported" {
		t.Fatalf("anthropic %d %+v", resp.StatusCode, e)
	}
	// The explicit continuation request is accepted.
	res, err := streamOpenAI(t, ts, openAIBody("m", true, user("q"), user(llmsim.PartialMarker+"one"+llmsim.EndMarker)))
	if err != nil || res.Text != " two three" {
		t.Fatalf("%q %v", res.Text, err)
	}
}

func TestErrorModes(t *testing.T) {
	tests := []struct {
		mode                 string
		openAI, anthropic, g int
		code                 string // OpenAI error code
		anthropicType        string
	}{
		{llmsim.ModeError500, 500, 500, 500, "", "api_error"},
		{llmsim.ModeError503, 503, 529, 503, "", "overloaded_error"},
		{llmsim.ModeRate429, 429, 429, 429, "rate_limit_exceeded", "rate_limit_error"},
		{llmsim.ModeContextLength, 400, 400, 400, "context_length_exceeded", "invalid_request_error"},
		{llmsim.ModeContentFilter, 400, 400, 400, "content_filter", "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			sim, ts := MustRunServer(t, llmsim.Config{Mode: tt.mode, RetryAfter: 1500 * time.Millisecond})
			ctx := testContext(t)
			resp := mustPost(t, ctx, ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q")))
			e := decodeError(t, resp)
			if resp.StatusCode != tt.openAI || (tt.code != "" && e.Error.Code != tt.code) || e.Error.Message == "" {
				t.Fatalf("openai %d %+v", resp.StatusCode, e)
			}
			if tt.mode == llmsim.ModeRate429 && (resp.Header.Get("Retry-After") != "2" || resp.Header.Get("Retry-After-Ms") != "1500") {
				t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if tt.mode == llmsim.ModeContentFilter && !strings.Contains(e.Error.Message, "content management policy") {
				t.Fatalf("message %q", e.Error.Message)
			}
			resp = mustPost(t, ctx, ts.URL+"/v1/messages", anthropicBody("c", true, user("q")))
			e = decodeError(t, resp)
			if resp.StatusCode != tt.anthropic || e.Type != "error" || e.Error.Type != tt.anthropicType {
				t.Fatalf("anthropic %d %+v", resp.StatusCode, e)
			}
			if tt.mode == llmsim.ModeContextLength && !strings.Contains(e.Error.Message, "prompt is too long") {
				t.Fatalf("anthropic message %q", e.Error.Message)
			}
			resp = mustPost(t, ctx, ts.URL+"/v1beta/models/g:streamGenerateContent?alt=sse", geminiBody("q", ""))
			if e = decodeError(t, resp); resp.StatusCode != tt.g || e.Error.Status == "" {
				t.Fatalf("gemini %d %+v", resp.StatusCode, e)
			}
			if err := sim.Wait(ctx, func(st llmsim.Stats) bool { return st.Completed == 3 }); err != nil {
				t.Fatal(err)
			}
			if st := sim.Stats(); st.AttemptsByMode[tt.mode] != 3 {
				t.Fatalf("%+v", st)
			}
		})
	}
	t.Run("NoRetryAfter", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeRate429})
		resp := mustPost(t, testContext(t), ts.URL+"/v1/chat/completions", openAIBody("m", false, user("q")))
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})
}

func TestReset(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeReset})
	for _, stream := range []bool{true, false} {
		resp, err := post(t, testContext(t), ts.URL+"/v1/chat/completions", openAIBody("m", stream, user("q")))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("stream %v: got status %d, want a connection error", stream, resp.StatusCode)
		}
	}
	if err := sim.Wait(testContext(t), func(st llmsim.Stats) bool { return st.Aborted == 2 && st.InFlight == 0 }); err != nil {
		t.Fatal(err, sim.Stats())
	}
}

func TestCut(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeCut, Tokens: 20, StallAfter: 7})
	res, err := streamOpenAI(t, ts, openAIBody("m", true, user("q")))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v, want unexpected EOF", err)
	}
	if len(res.Deltas) != 7 || res.Done || res.Finish != "" {
		t.Fatalf("%+v", res)
	}
	// Default: half the reply.
	sim.SetConfig(llmsim.Config{Mode: llmsim.ModeCut, Tokens: 20})
	res, err = streamOpenAI(t, ts, openAIBody("m", true, user("q")))
	if err == nil || len(res.Deltas) != 10 {
		t.Fatalf("%d deltas, err %v", len(res.Deltas), err)
	}
	// Anthropic: no message_stop.
	resp := mustPost(t, testContext(t), ts.URL+"/v1/messages", anthropicBody("c", true, user("q")))
	evs, err := readAll(resp.Body)
	if err == nil || evs[len(evs)-1].Name != "content_block_delta" {
		t.Fatalf("anthropic cut: last %+v err %v", evs[len(evs)-1], err)
	}
	if err := sim.Wait(testContext(t), func(st llmsim.Stats) bool { return st.Aborted == 3 && st.InFlight == 0 }); err != nil {
		t.Fatal(err, sim.Stats())
	}
}

// openHeld starts a stream and returns its reader and a cancel that makes
// the client go away.
func openHeld(t *testing.T, url, body string, extra ...string) (*sseReader, *http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	t.Cleanup(cancel)
	resp, err := post(t, ctx, url, body, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return newSSE(resp.Body), resp, cancel
}

func TestStall(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeStall, Tokens: 10, StallAfter: 4})
	sse, _, cancel := openHeld(t, ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q")))
	var evs []event
	for range 5 { // role chunk + 4 tokens
		ev, err := sse.next()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if res := parseOpenAI(t, evs); len(res.Deltas) != 4 {
		t.Fatalf("%+v", res)
	}
	if n := sim.InFlight(); n != 1 {
		t.Fatalf("in flight %d", n)
	}
	cancel()
	if err := sim.WaitCancelled(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
}

func TestHang(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeHang})
	ctx, cancel := context.WithCancel(testContext(t))
	errc := make(chan error, 1)
	go func() {
		resp, err := post(t, ctx, ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q")))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	if err := sim.WaitAttempts(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client err %v, want canceled before any response", err)
	}
	if err := sim.WaitCancelled(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
}

func TestCloseReleasesHeld(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeNoDone})
	sse, _, _ := openHeld(t, ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q")))
	if _, err := sse.next(); err != nil {
		t.Fatal(err)
	}
	sim.Close()
	if err := sim.Wait(testContext(t), func(st llmsim.Stats) bool { return st.Aborted == 1 && st.InFlight == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestMalformed(t *testing.T) {
	_, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeMalformed, Tokens: 6, StallAfter: 2})
	resp := mustPost(t, testContext(t), ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q")))
	evs, err := readAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// role, 2 tokens, garbage, ...
	if json.Valid([]byte(evs[3].Data)) || !json.Valid([]byte(evs[2].Data)) {
		t.Fatalf("event 3 %q", evs[3].Data)
	}
	if res := parseOpenAI(t, evs); !res.Malformed || len(res.Deltas) != 6 {
		t.Fatalf("%+v", res)
	}
}

func TestNoDone(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeNoDone, Tokens: 5})
	sse, _, cancel := openHeld(t, ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q")))
	var evs []event
	for {
		ev, err := sse.next()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
		if strings.Contains(ev.Data, `"choices":[]`) { // the usage chunk is the last one
			break
		}
	}
	res := parseOpenAI(t, evs)
	if res.Finish != "stop" || res.CompletionTokens != 5 || res.Done {
		t.Fatalf("%+v", res)
	}
	cancel()
	if err := sim.WaitCancelled(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
}

func TestSlowFirstToken(t *testing.T) {
	// Headers come at once; the first token would take 10 h.
	sim, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeSlowFirstToken, TTFT: time.Hour})
	_, resp, cancel := openHeld(t, ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q")))
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatal(resp.Header)
	}
	cancel()
	if err := sim.WaitCancelled(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
}

func TestStreamError(t *testing.T) {
	_, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeStreamError, Tokens: 4, StallAfter: 1})
	resp := mustPost(t, testContext(t), ts.URL+"/v1/messages", anthropicBody("c", true, user("q")))
	evs, err := readAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Name != "error" || !strings.Contains(last.Data, "overloaded_error") {
		t.Fatalf("%+v", last)
	}
}

func TestFlap(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{Mode: llmsim.ModeFlap, FlapEvery: 2})
	var got []int
	for range 7 {
		resp := mustPost(t, testContext(t), ts.URL+"/v1/chat/completions", openAIBody("m", false, user("q")))
		io.Copy(io.Discard, resp.Body)
		got = append(got, resp.StatusCode)
	}
	want := []int{503, 503, 200, 200, 503, 503, 200}
	if !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	sim.Reset()
	resp := mustPost(t, testContext(t), ts.URL+"/v1/chat/completions", openAIBody("m", false, user("q")))
	if resp.StatusCode != 503 {
		t.Fatalf("after reset: %d", resp.StatusCode)
	}
}

func TestFailRate(t *testing.T) {
	cfg := llmsim.Config{FailRate: 0.5, FailMix: []string{llmsim.ModeError500, llmsim.ModeRate429}, Seed: 42}
	run := func() []int {
		_, ts := MustRunServer(t, cfg)
		var got []int
		for range 40 {
			resp := mustPost(t, testContext(t), ts.URL+"/v1/chat/completions", openAIBody("m", false, user("q")))
			io.Copy(io.Discard, resp.Body)
			got = append(got, resp.StatusCode)
		}
		return got
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Fatalf("not deterministic:\n%v\n%v", a, b)
	}
	seen := map[int]int{}
	for _, s := range a {
		seen[s]++
	}
	if seen[200] == 0 || seen[500] == 0 || seen[429] == 0 || len(seen) != 3 {
		t.Fatalf("statuses %v", seen)
	}
}

func TestModelsAndHeader(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{
		Reply:  "base reply",
		Models: map[string]llmsim.Config{"broken": {Mode: llmsim.ModeError500}, "other": {Reply: "other reply"}},
	})
	ctx := testContext(t)
	status := func(model string, extra ...string) int {
		resp := mustPost(t, ctx, ts.URL+"/v1/chat/completions", openAIBody(model, false, user("q")), extra...)
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if s := status("broken"); s != 500 {
		t.Fatalf("broken: %d", s)
	}
	if s := status("broken"); s != 500 {
		t.Fatalf("broken: %d", s)
	}
	if got := completeOpenAI(t, ts, openAIBody("other", false, user("q"))); got != "other reply" {
		t.Fatalf("other: %q", got)
	}
	if got := completeOpenAI(t, ts, openAIBody("plain", false, user("q"))); got != "base reply" {
		t.Fatalf("plain: %q", got)
	}
	if s := status("broken", llmsim.ModeHeader, "ok"); s != 200 {
		t.Fatalf("header ok: %d", s)
	}
	if s := status("plain", llmsim.ModeHeader, "rate429"); s != 429 {
		t.Fatalf("header rate429: %d", s)
	}
	if s := status("plain", llmsim.ModeHeader, "nonsense"); s != 400 {
		t.Fatalf("header nonsense: %d", s)
	}
	if sim.Attempts("broken") != 3 || sim.Attempts("plain") != 3 || sim.Attempts("other") != 1 || sim.TotalAttempts() != 7 {
		t.Fatalf("%+v", sim.Stats())
	}
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	mustJSON(t, resp.Body, &list)
	if len(list.Data) != 3 || list.Data[1].ID != "broken" {
		t.Fatalf("%+v", list)
	}
}

func TestCancelledMidStream(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{TokensPerSec: 20, Tokens: 1000})
	sse, _, cancel := openHeld(t, ts.URL+"/v1/chat/completions", openAIBody("m", true, user("q")))
	for range 3 {
		if _, err := sse.next(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := sim.WaitCancelled(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
	if st := sim.Stats(); st.Completed != 0 || st.InFlight != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestRuntimeConfig(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{})
	sim.SetConfig(llmsim.Config{Mode: llmsim.ModeError503})
	if got := sim.Config().Mode; got != llmsim.ModeError503 {
		t.Fatalf("mode %q", got)
	}
	resp := mustPost(t, testContext(t), ts.URL+"/v1/chat/completions", openAIBody("m", false, user("q")))
	if resp.StatusCode != 503 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	put := func(body string) *http.Response {
		req, _ := http.NewRequestWithContext(testContext(t), http.MethodPut, ts.URL+"/llmsim/config", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := put(`{"mode":"bogus"}`); resp.StatusCode != 400 {
		t.Fatalf("bogus mode accepted: %d", resp.StatusCode)
	}
	resp = put(`{"reply":"hi there","ttft":"1ms","retry_after":"2s","models":{"x":{"mode":"rate429"}}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("put: %d", resp.StatusCode)
	}
	cfg := sim.Config()
	if cfg.Reply != "hi there" || cfg.TTFT != time.Millisecond || cfg.RetryAfter != 2*time.Second || cfg.Models["x"].Mode != llmsim.ModeRate429 {
		t.Fatalf("%+v", cfg)
	}
	if got := completeOpenAI(t, ts, openAIBody("m", false, user("q"))); got != "hi there" {
		t.Fatalf("reply %q", got)
	}
	resp = mustPost(t, testContext(t), ts.URL+"/v1/chat/completions", openAIBody("x", false, user("q")))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("x: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	stats, err := http.Get(ts.URL + "/llmsim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer stats.Body.Close()
	var st llmsim.Stats
	mustJSON(t, stats.Body, &st)
	if st.Attempts != 3 || st.AttemptsByModel["x"] != 1 || st.AttemptsByMode["error503"] != 1 {
		t.Fatalf("%+v", st)
	}
	reset := mustPost(t, testContext(t), ts.URL+"/llmsim/reset", "")
	if reset.StatusCode != http.StatusNoContent || sim.TotalAttempts() != 0 || sim.Attempts("x") != 0 {
		t.Fatalf("reset: %d %+v", reset.StatusCode, sim.Stats())
	}
}

func TestCloseDuringTTFT(t *testing.T) {
	sim, ts := MustRunServer(t, llmsim.Config{TTFT: time.Hour})
	ctx := testContext(t)
	errc := make(chan error, 1)
	go func() {
		resp, err := post(t, ctx, ts.URL+"/v1/chat/completions", openAIBody("m", false, user("q")))
		if err == nil {
			resp.Body.Close()
			err = errors.New("got a response")
		}
		errc <- err
	}()
	if err := sim.WaitAttempts(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
	sim.Close()
	if err := <-errc; err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("client err %v, want a dropped connection", err)
	}
}
