package llmsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/llmsim"
)

// anthropicText runs an Anthropic streaming request, checks the event
// sequence and returns the text.
func anthropicText(tb testing.TB, ts *httptest.Server, body string) string {
	tb.Helper()
	resp := mustPost(tb, testContext(tb), ts.URL+"/v1/messages", body, "x-api-key", "sk-test", "anthropic-version", "2023-06-01")
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("status %d", resp.StatusCode)
	}
	evs, err := readAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	var text strings.Builder
	var names []string
	for _, ev := range evs {
		var v struct {
			Type  string `json:"type"`
			Delta struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &v); err != nil || v.Type != ev.Name {
			tb.Fatalf("event %q data %q: %v", ev.Name, ev.Data, err)
		}
		if ev.Name == "content_block_delta" {
			if v.Delta.Type != "text_delta" {
				tb.Fatalf("delta %+v", v.Delta)
			}
			text.WriteString(v.Delta.Text)
			if len(names) > 0 && names[len(names)-1] == "content_block_delta" {
				continue
			}
		}
		names = append(names, ev.Name)
	}
	want := "message_start content_block_start ping content_block_delta content_block_stop message_delta message_stop"
	if text.Len() == 0 {
		want = strings.Replace(want, " content_block_delta", "", 1)
	}
	if got := strings.Join(names, " "); got != want {
		tb.Fatalf("events %s, want %s", got, want)
	}
	return text.String()
}

func geminiBody(question, prefill string) string {
	type part struct {
		Text string `json:"text"`
	}
	type content struct {
		Role  string `json:"role"`
		Parts []part `json:"parts"`
	}
	contents := []content{{"user", []part{{question}}}}
	if prefill != "" {
		contents = append(contents, content{"model", []part{{prefill}}})
	}
	b, _ := json.Marshal(map[string]any{
		"contents":          contents,
		"systemInstruction": map[string]any{"parts": []part{{"You are helpful."}}},
	})
	return string(b)
}

type geminiChunk struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
			Role string `json:"role"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	UsageMetadata struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
	} `json:"usageMetadata"`
}

// geminiText runs a Gemini request and returns the text.
func geminiText(tb testing.TB, ts *httptest.Server, model, body string, stream bool) string {
	tb.Helper()
	url := ts.URL + "/v1beta/models/" + model + ":generateContent"
	if stream {
		url = ts.URL + "/v1beta/models/" + model + ":streamGenerateContent?alt=sse"
	}
	resp := mustPost(tb, testContext(tb), url, body, "x-goog-api-key", "k")
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("status %d", resp.StatusCode)
	}
	var chunks []geminiChunk
	if stream {
		evs, err := readAll(resp.Body)
		if err != nil {
			tb.Fatal(err)
		}
		for _, ev := range evs {
			var c geminiChunk
			if err := json.Unmarshal([]byte(ev.Data), &c); err != nil {
				tb.Fatalf("%q: %v", ev.Data, err)
			}
			chunks = append(chunks, c)
		}
	} else {
		var c geminiChunk
		mustJSON(tb, resp.Body, &c)
		chunks = append(chunks, c)
	}
	var text strings.Builder
	for i, c := range chunks {
		if len(c.Candidates) != 1 || c.Candidates[0].Content.Role != "model" {
			tb.Fatalf("chunk %d: %+v", i, c)
		}
		for _, p := range c.Candidates[0].Content.Parts {
			text.WriteString(p.Text)
		}
		last := i == len(chunks)-1
		if (c.Candidates[0].FinishReason != "") != last {
			tb.Fatalf("chunk %d of %d finishReason %q", i, len(chunks), c.Candidates[0].FinishReason)
		}
	}
	if u := chunks[len(chunks)-1].UsageMetadata; u.PromptTokenCount == 0 || (text.Len() > 0 && u.CandidatesTokenCount == 0) {
		tb.Fatalf("usage %+v", u)
	}
	return text.String()
}

func TestAnthropic(t *testing.T) {
	t.Run("Stream", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{Reply: "Hello there, friend."})
		if got := anthropicText(t, ts, anthropicBody("claude", true, user("hi"))); got != "Hello there, friend." {
			t.Fatalf("%q", got)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{Tokens: 9})
		resp := mustPost(t, testContext(t), ts.URL+"/v1/messages", `{"model":"c","max_tokens":4,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`)
		evs, err := readAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var md struct {
			Delta struct {
				StopReason string `json:"stop_reason"`
			} `json:"delta"`
			Usage struct {
				OutputTokens int `json:"output_tokens"`
			} `json:"usage"`
		}
		for _, ev := range evs {
			if ev.Name == "message_delta" {
				json.Unmarshal([]byte(ev.Data), &md)
			}
		}
		if md.Delta.StopReason != "max_tokens" || md.Usage.OutputTokens != 4 {
			t.Fatalf("%+v", md)
		}
	})
	t.Run("PrefillTrailingSpace", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{})
		resp := mustPost(t, testContext(t), ts.URL+"/v1/messages", anthropicBody("c", true, user("q"), assistant("the ")))
		if e := decodeError(t, resp); resp.StatusCode != 400 || !strings.Contains(e.Error.Message, "trailing whitespace") {
			t.Fatalf("%d %+v", resp.StatusCode, e)
		}
	})
	t.Run("NonStream", func(t *testing.T) {
		_, ts := MustRunServer(t, llmsim.Config{Reply: "Hi."})
		resp := mustPost(t, testContext(t), ts.URL+"/v1/messages", anthropicBody("c", false, user("hi")))
		var m struct {
			Type    string `json:"type"`
			Role    string `json:"role"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
			StopReason string `json:"stop_reason"`
			Usage      struct {
				InputTokens  int `json:"input_tokens"`
				OutputTokens int `json:"output_tokens"`
			} `json:"usage"`
		}
		mustJSON(t, resp.Body, &m)
		if m.Type != "message" || m.Role != "assistant" || len(m.Content) != 1 || m.Content[0].Text != "Hi." ||
			m.StopReason != "end_turn" || m.Usage.OutputTokens != 1 || m.Usage.InputTokens == 0 {
			t.Fatalf("%+v", m)
		}
	})
}

func TestGemini(t *testing.T) {
	_, ts := MustRunServer(t, llmsim.Config{Reply: "Hola, amigo."})
	t.Run("Stream", func(t *testing.T) {
		if got := geminiText(t, ts, "gemini-x", geminiBody("hi", ""), true); got != "Hola, amigo." {
			t.Fatalf("%q", got)
		}
	})
	t.Run("NonStream", func(t *testing.T) {
		if got := geminiText(t, ts, "gemini-x", geminiBody("hi", ""), false); got != "Hola, amigo." {
			t.Fatalf("%q", got)
		}
	})
	t.Run("CRLF", func(t *testing.T) {
		resp := mustPost(t, testContext(t), ts.URL+"/v1beta/models/g:streamGenerateContent?alt=sse", geminiBody("hi", ""))
		b, _ := io.ReadAll(resp.Body)
		if !strings.HasSuffix(string(b), "}\r\n\r\n") {
			t.Fatalf("%q", b)
		}
	})
	t.Run("NoAltSSE", func(t *testing.T) {
		resp := mustPost(t, testContext(t), ts.URL+"/v1beta/models/g:streamGenerateContent", geminiBody("hi", ""))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}
