package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// sseReply posts a visitor message with Accept: text/event-stream and
// returns the frames of the reply.
func sseReply(t *testing.T, s *Server, tok, conv, id, content string) []map[string]any {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"client_msg_id": id, "content": content})
	req, _ := http.NewRequest("POST", s.URL+"/v1/conversations/"+conv+"/messages", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	var frames []map[string]any
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var f map[string]any
			if json.Unmarshal([]byte(d), &f) == nil {
				frames = append(frames, f)
			}
		}
	}
	return frames
}

// shown reassembles the text clients were shown, by offset.
func shown(t *testing.T, frames []map[string]any) (text string, deltas int) {
	t.Helper()
	var b []byte
	for _, f := range frames {
		if f["type"] != "delta" {
			continue
		}
		deltas++
		off, p := int(f["offset"].(float64)), f["payload"].(string)
		if off > len(b) {
			t.Fatalf("gap: delta at %d, have %d", off, len(b))
		}
		if end := off + len(p); end > len(b) {
			b = append(b, p[len(b)-off:]...)
		}
	}
	return string(b), deltas
}

func lastBotMessage(t *testing.T, s *Server, tok, conv string) map[string]any {
	t.Helper()
	_, b := call(t, "GET", s.URL+"/v1/conversations/"+conv+"/messages", tok, nil)
	var r struct {
		Messages []map[string]any `json:"messages"`
	}
	json.Unmarshal(b, &r)
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i]["sender"] == "bot" {
			return r.Messages[i]
		}
	}
	t.Fatal("no bot message")
	return nil
}

func TestModeration(t *testing.T) {
	s := MustRunServerEnv(t, []string{
		`SWITCHBOARD_MODERATION_LISTS=[{action: block, words: [badword]}, {action: mask, words: ["敏感词"]}]`,
		`SWITCHBOARD_MODERATION_RELOAD_INTERVAL=100ms`,
	}, "--reply", "这是敏感词测试，请注意。", "--chunk-size", "1", "--tokens-per-sec", "100")
	tok, conv := visitor(t, s)
	_, login := call(t, "POST", s.URL+"/v1/auth/login", "", map[string]string{"email": s.AdminEmail, "password": s.AdminPassword})
	var l struct {
		Token string `json:"token"`
	}
	json.Unmarshal(login, &l)

	t.Run("InputBlockedDespiteSpacing", func(t *testing.T) {
		res, b := call(t, "POST", s.URL+"/v1/conversations/"+conv+"/messages", tok, map[string]string{"client_msg_id": "x1", "content": "you are a Ｂ a d-w o r d!"})
		if res.StatusCode != 422 || !strings.Contains(string(b), `"blocked"`) {
			t.Fatalf("got %d %s", res.StatusCode, b)
		}
		if n := countContactMessages(t, s, tok, conv); n != 0 {
			t.Fatalf("a blocked message was stored (%d)", n)
		}
		_, audit := call(t, "GET", s.URL+"/v1/admin/audit", l.Token, nil)
		if !bytes.Contains(audit, []byte("blocked_input")) {
			t.Fatalf("no audit record: %s", audit)
		}
	})

	t.Run("OutputMaskedAcrossChunks", func(t *testing.T) {
		frames := sseReply(t, s, tok, conv, "m1", "hello")
		text, deltas := shown(t, frames)
		if text != "这是***测试，请注意。" {
			t.Fatalf("shown %q", text)
		}
		if deltas < 3 {
			t.Fatalf("only %d deltas: the word was not split across chunks", deltas)
		}
		stored := lastBotMessage(t, s, tok, conv)
		if stored["content"] != text || stored["state"] != "complete" {
			t.Fatalf("stored %q (%v), shown %q", stored["content"], stored["state"], text)
		}
	})

	t.Run("OutputBlockedAfterListChange", func(t *testing.T) {
		_, ib := call(t, "GET", s.URL+"/v1/admin/inboxes", l.Token, nil)
		var inboxes struct {
			Inboxes []struct {
				ID string `json:"id"`
			} `json:"inboxes"`
		}
		json.Unmarshal(ib, &inboxes)
		res, b := call(t, "PUT", s.URL+"/v1/admin/inboxes/"+inboxes.Inboxes[0].ID+"/words", l.Token,
			map[string]any{"lists": []map[string]any{{"action": "block", "words": []string{"测试"}}}})
		if res.StatusCode != 200 {
			t.Fatalf("put words: %d %s", res.StatusCode, b)
		}
		frames := sseReply(t, s, tok, conv, "m2", "again")
		text, _ := shown(t, frames)
		var errFrame map[string]any
		for _, f := range frames {
			if f["type"] == "error" {
				errFrame = f
			}
		}
		if errFrame == nil || errFrame["code"] != "blocked" {
			t.Fatalf("no blocked error frame: %v", frames)
		}
		if strings.Contains(text, "测") || !strings.HasPrefix("这是***", text) {
			t.Fatalf("shown %q", text)
		}
		stored := lastBotMessage(t, s, tok, conv)
		if stored["state"] != "blocked" || stored["content"] != text {
			t.Fatalf("stored %q (%v), shown %q", stored["content"], stored["state"], text)
		}
	})
}
