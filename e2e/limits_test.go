package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/internal/testenv"
)

// call does an HTTP request with a JSON body and bearer token.
func call(tb testing.TB, method, url, token string, body any) (*http.Response, []byte) {
	tb.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// visitor opens a widget session on the demo inbox.
func visitor(tb testing.TB, s *Server) (token, conv string) {
	tb.Helper()
	_, page := call(tb, "GET", s.URL+"/", "", nil)
	key := regexp.MustCompile(`data-widget-key="([^"]+)"`).FindSubmatch(page)
	if key == nil {
		tb.Fatal("no widget key")
	}
	res, b := call(tb, "POST", s.URL+"/v1/widget/session", "", map[string]string{"widget_key": string(key[1])})
	var sess struct {
		Token        string `json:"token"`
		Conversation struct {
			ID string `json:"id"`
		} `json:"conversation"`
	}
	if res.StatusCode != 200 || json.Unmarshal(b, &sess) != nil {
		tb.Fatalf("session: %d %s", res.StatusCode, b)
	}
	return sess.Token, sess.Conversation.ID
}

func countContactMessages(tb testing.TB, s *Server, token, conv string) int {
	tb.Helper()
	_, b := call(tb, "GET", s.URL+"/v1/conversations/"+conv+"/messages", token, nil)
	var r struct {
		Messages []struct {
			Sender string `json:"sender"`
		} `json:"messages"`
	}
	json.Unmarshal(b, &r)
	n := 0
	for _, m := range r.Messages {
		if m.Sender == "contact" {
			n++
		}
	}
	return n
}

func TestRateLimitHTTP(t *testing.T) {
	s := MustRunServerEnv(t, []string{"SWITCHBOARD_LIMITS_MESSAGES=3"}, "--tokens", "3")
	tok, conv := visitor(t, s)
	for i := 0; i < 3; i++ {
		res, b := call(t, "POST", s.URL+"/v1/conversations/"+conv+"/messages", tok, map[string]string{"client_msg_id": fmt.Sprint("m", i), "content": "hi"})
		if res.StatusCode != 201 {
			t.Fatalf("message %d: %d %s", i, res.StatusCode, b)
		}
		if res.Header.Get("RateLimit-Remaining") != fmt.Sprint(2-i) {
			t.Fatalf("RateLimit-Remaining = %q after %d", res.Header.Get("RateLimit-Remaining"), i+1)
		}
	}
	res, b := call(t, "POST", s.URL+"/v1/conversations/"+conv+"/messages", tok, map[string]string{"client_msg_id": "m3", "content": "hi"})
	if res.StatusCode != 429 || !strings.Contains(string(b), `"rate_limited"`) {
		t.Fatalf("4th message: %d %s", res.StatusCode, b)
	}
	if res.Header.Get("Retry-After") == "" || res.Header.Get("RateLimit-Limit") != "3" || res.Header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("headers = %v", res.Header)
	}
	if n := countContactMessages(t, s, tok, conv); n != 3 {
		t.Fatalf("stored %d visitor messages, want 3 (nothing from a limited request)", n)
	}
}

func TestBudgetExceeded(t *testing.T) {
	s := MustRunServerEnv(t, nil, "--tokens", "20")
	_, login := call(t, "POST", s.URL+"/v1/auth/login", "", map[string]string{"email": s.AdminEmail, "password": s.AdminPassword})
	var l struct {
		Token string `json:"token"`
	}
	json.Unmarshal(login, &l)
	res, b := call(t, "POST", s.URL+"/v1/admin/api-keys", l.Token, map[string]any{"name": "tight", "budget": map[string]any{"tokens_per_minute": 30}})
	var key struct {
		Secret string `json:"secret"`
	}
	if res.StatusCode != 201 || json.Unmarshal(b, &key) != nil {
		t.Fatalf("create key: %d %s", res.StatusCode, b)
	}
	req := map[string]any{"model": "default", "messages": []map[string]string{{"role": "user", "content": "hello"}}}
	// Spend is recorded after each answer; the budget trips once it is over.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		res, b := call(t, "POST", s.URL+"/v1/chat/completions", key.Secret, req)
		if res.StatusCode == 429 {
			if !strings.Contains(string(b), "budget_exceeded") || res.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without budget_exceeded/Retry-After: %s %v", b, res.Header)
			}
			if i == 0 {
				t.Fatal("the first request was refused")
			}
			break
		}
		if res.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, b)
		}
		if time.Now().After(deadline) {
			t.Fatal("budget never tripped")
		}
	}
	// The admin sees the spend.
	_, prov := call(t, "GET", s.URL+"/v1/admin/providers", l.Token, nil)
	if !bytes.Contains(prov, []byte(`"tokens"`)) || !bytes.Contains(prov, []byte(`"subject":"key:`)) {
		t.Fatalf("admin providers: %s", prov)
	}
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRedisDown: with Redis gone the server stays up, /readyz says why,
// and chat keeps working from the durable store (visitors fail open).
func TestRedisDown(t *testing.T) {
	testenv.RedisURL(t) // Redis is part of the test environment
	bin := os.Getenv("SWITCHBOARD_TEST_REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			t.Fatal("redis-server not found")
		}
	}
	port := freePort(t)
	redis := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := redis.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redis.Process.Kill(); redis.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	checkFor(t, 10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	s := MustRunServerEnv(t, []string{"SWITCHBOARD_REDIS_URL=" + url}, "--tokens", "5")
	tok, conv := visitor(t, s)
	if res, b := call(t, "GET", s.URL+"/readyz", "", nil); res.StatusCode != 200 {
		t.Fatalf("readyz with Redis: %d %s", res.StatusCode, b)
	}

	redis.Process.Kill()
	redis.Wait()
	checkFor(t, 15*time.Second, func() bool {
		res, b := call(t, "GET", s.URL+"/readyz", "", nil)
		return res.StatusCode == 503 && bytes.Contains(b, []byte(`"redis"`)) && !bytes.Contains(b, []byte(`"redis":"ok"`))
	})
	if res, _ := call(t, "GET", s.URL+"/healthz", "", nil); res.StatusCode != 200 {
		t.Fatal("healthz failed while Redis is down")
	}
	res, b := call(t, "POST", s.URL+"/v1/conversations/"+conv+"/messages", tok, map[string]string{"client_msg_id": "r1", "content": "still there?"})
	if res.StatusCode != 201 {
		t.Fatalf("message while Redis is down: %d %s", res.StatusCode, b)
	}
	checkFor(t, 15*time.Second, func() bool {
		_, b := call(t, "GET", s.URL+"/v1/conversations/"+conv+"/messages", tok, nil)
		return bytes.Contains(b, []byte(`"sender":"bot"`)) && bytes.Contains(b, []byte(`"state":"complete"`))
	})
}

// checkFor polls fn until it is true or the timeout passes.
func checkFor(tb testing.TB, timeout time.Duration, fn func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !fn() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
