package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/web"
)

// mustBrowser starts headless Chromium and returns a tab context.
func mustBrowser(tb testing.TB) context.Context {
	tb.Helper()
	path := testenv.Chromium(tb)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	tb.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// The markdown cases run in the browser against the real module. The page
// that imports it is served only by this test.
const markdownHarness = `
import { renderMarkdown } from '/static/markdown.js';
const cases = JSON.parse(document.getElementById('cases').textContent);
const out = {};
for (const [name, src] of Object.entries(cases)) {
  const div = document.createElement('div');
  div.appendChild(renderMarkdown(src));
  out[name] = div.innerHTML;
}
window.mdResults = out;
`

func TestMarkdownInBrowser(t *testing.T) {
	cases := map[string]struct{ src, want string }{
		"Paragraphs":     {"a\nb\n\nc", "<p>a<br>b</p><p>c</p>"},
		"Emphasis":       {"**b** *i* `c` ~~d~~", "<p><strong>b</strong> <em>i</em> <code>c</code> <del>d</del></p>"},
		"SnakeCase":      {"snake_case_name", "<p>snake_case_name</p>"},
		"Link":           {"[Docs](https://example.com/a?b=1)", `<p><a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer nofollow">Docs</a></p>`},
		"Mailto":         {"[mail](mailto:a@b.c)", `<p><a href="mailto:a@b.c" target="_blank" rel="noopener noreferrer nofollow">mail</a></p>`},
		"AutoLink":       {"see https://example.com/x.", `<p>see <a href="https://example.com/x" target="_blank" rel="noopener noreferrer nofollow">https://example.com/x</a>.</p>`},
		"JavascriptLink": {"[x](javascript:alert(1))", "<p>x</p>"},
		"DataLink":       {"[x](data:text/html,hi)", "<p>x</p>"},
		"RelativeLink":   {"[x](/admin)", "<p>x</p>"},
		"RawHTML":        {`<img src=x onerror="alert(1)"><script>alert(2)</script>`, `<p>&lt;img src=x onerror="alert(1)"&gt;&lt;script&gt;alert(2)&lt;/script&gt;</p>`},
		"Fence":          {"```js\nlet a = '<b>';\n```", `<pre><code data-lang="js">let a = '&lt;b&gt;';</code></pre>`},
		"UnclosedFence":  {"```\npartial", "<pre><code>partial</code></pre>"},
		"Bullets":        {"- one\n- **two**", "<ul><li>one</li><li><strong>two</strong></li></ul>"},
		"Numbered":       {"1. one\n2. two", "<ol><li>one</li><li>two</li></ol>"},
		"Nested":         {"- a\n  - b", "<ul><li><p>a</p><ul><li>b</li></ul></li></ul>"},
		"Heading":        {"## Title", "<h4>Title</h4>"},
		"Chinese":        {"你好，**世界**！", "<p>你好，<strong>世界</strong>！</p>"},
		"Table":          {"|a|b|\n|-|-|\n|1|2|", `<div class="md-table"><table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table></div>`},
	}
	srcs := map[string]string{}
	for name, c := range cases {
		srcs[name] = c.src
	}
	casesJSON, _ := json.Marshal(srcs)

	mux := http.NewServeMux()
	mux.Handle("/", web.New(web.Options{}))
	mux.HandleFunc("GET /test/md.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "script-src 'self'")
		// JSON in a non-executable script element is data, not script.
		w.Write([]byte(`<!doctype html><meta charset="utf-8"><script type="application/json" id="cases">` +
			string(casesJSON) + `</script><script type="module" src="/test/md.js"></script>`))
	})
	mux.HandleFunc("GET /test/md.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte(markdownHarness))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()

	ctx := mustBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/test/md.html")); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`window.mdResults || null`))
		if err == nil && string(raw) != "null" {
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("markdown harness did not finish: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got[name] != c.want {
				t.Errorf("renderMarkdown(%q)\n got %s\nwant %s", c.src, got[name], c.want)
			}
		})
	}
}

// TestWidgetMounts loads the demo page under its strict CSP and checks that
// the widget script runs and builds its launcher inside a shadow root.
func TestWidgetMounts(t *testing.T) {
	ts := httptest.NewServer(web.New(web.Options{WidgetKey: func(*http.Request) string { return "wk_test" }}))
	defer ts.Close()
	ctx := mustBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		label, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`(() => { const h = document.querySelector('switchboard-widget'); const b = h && h.shadowRoot && h.shadowRoot.querySelector('button.launcher'); return b ? b.getAttribute('aria-label') : ''; })()`))
		if err == nil && label != "" {
			if label != "Open chat" {
				t.Errorf("launcher label %q", label)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("widget did not mount: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Styles are adopted, not inline: the launcher is positioned.
	pos, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('switchboard-widget').shadowRoot.querySelector('button.launcher')).position`))
	if err != nil || pos != "fixed" {
		t.Errorf("launcher position %q (%v): widget styles not applied under CSP", pos, err)
	}
}
