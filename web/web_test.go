package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/web"
)

func mustGet(tb testing.TB, h http.Handler, path string, hdr ...string) *http.Response {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(tb testing.TB, res *http.Response) string {
	tb.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func newHandler(key string) http.Handler {
	return web.New(web.Options{WidgetKey: func(*http.Request) string { return key }})
}

func TestPages(t *testing.T) {
	h := newHandler("wk_test")
	for _, path := range []string{"/", "/console", "/console/", "/admin", "/admin/"} {
		t.Run(path, func(t *testing.T) {
			res := mustGet(t, h, path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control %q", cc)
			}
			csp := res.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "connect-src 'self'", "default-src 'none'", "style-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows unsafe sources: %q", csp)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			checkNoInline(t, body(t, res))
		})
	}
}

// checkNoInline fails on markup the strict CSP would block.
func checkNoInline(tb testing.TB, html string) {
	tb.Helper()
	for _, m := range regexp.MustCompile(`(?is)<script\b[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(m, "src=") {
			tb.Errorf("inline script: %s", m)
		}
	}
	if regexp.MustCompile(`(?is)<style\b`).MatchString(html) {
		tb.Error("inline <style> element")
	}
	if m := regexp.MustCompile(`(?is)<[^>]+\s(style|on[a-z]+)\s*=`).FindString(html); m != "" {
		tb.Errorf("inline style or event handler attribute: %s", m)
	}
}

func TestDemoPageWidgetTag(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		res := mustGet(t, newHandler("wk_abc123"), "/")
		got := body(t, res)
		want := `<script src="/widget.js" data-widget-key="wk_abc123" async></script>`
		if strings.Count(got, want) != 1 {
			t.Fatalf("demo page does not carry %s exactly once", want)
		}
		if strings.Count(got, "<script") != 1 {
			t.Errorf("demo page has %d script tags, want 1", strings.Count(got, "<script"))
		}
	})
	t.Run("Escaped", func(t *testing.T) {
		res := mustGet(t, newHandler(`k"><script>alert(1)</script>&`), "/")
		got := body(t, res)
		want := `<script src="/widget.js" data-widget-key="k&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;" async></script>`
		if !strings.Contains(got, want) {
			t.Fatalf("widget key not escaped; page has %q", regexp.MustCompile(`<script[^\n]*`).FindString(got))
		}
		if strings.Contains(got, "<script>alert(1)") {
			t.Fatal("widget key injected markup")
		}
	})
	t.Run("NoKeyFunc", func(t *testing.T) {
		res := mustGet(t, web.New(web.Options{}), "/")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}

func TestAssets(t *testing.T) {
	h := newHandler("k")
	for _, tc := range []struct{ path, ct string }{
		{"/widget.js", "text/javascript; charset=utf-8"},
		{"/static/i18n.js", "text/javascript; charset=utf-8"},
		{"/static/markdown.js", "text/javascript; charset=utf-8"},
		{"/static/app.css", "text/css; charset=utf-8"},
		{"/static/api.js", "text/javascript; charset=utf-8"},
		{"/static/demo/demo.css", "text/css; charset=utf-8"},
		{"/static/demo/logo.svg", "image/svg+xml"},
		{"/console/console.js", "text/javascript; charset=utf-8"},
		{"/admin/admin.js", "text/javascript; charset=utf-8"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res := mustGet(t, h, tc.path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != tc.ct {
				t.Errorf("Content-Type %q, want %q", ct, tc.ct)
			}
			if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
				t.Errorf("Cache-Control %q", cc)
			}
			etag := res.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			again := mustGet(t, h, tc.path, "If-None-Match", etag)
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("conditional GET: status %d, want 304", again.StatusCode)
			}
		})
	}
}

func TestWidgetScript(t *testing.T) {
	res := mustGet(t, newHandler("k"), "/widget.js")
	js := body(t, res)
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("widget.js is not loadable cross-origin")
	}
	for _, line := range strings.Split(js, "\n") {
		if strings.HasPrefix(line, "export ") || strings.HasPrefix(line, "import ") {
			t.Fatalf("module syntax left in the classic script: %q", line)
		}
	}
	for _, want := range []string{"function renderMarkdown(", "const MESSAGES =", "class Widget", "attachShadow("} {
		if !strings.Contains(js, want) {
			t.Errorf("widget.js lacks %q", want)
		}
	}
}

// TestNoHTMLInjectionSinks keeps message text out of the HTML parser: no
// script of ours may use innerHTML and friends.
func TestNoHTMLInjectionSinks(t *testing.T) {
	h := newHandler("k")
	sinks := regexp.MustCompile(`\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(|new Function\(`)
	for _, path := range []string{"/widget.js", "/static/markdown.js", "/static/api.js", "/static/ui.js", "/console/console.js", "/admin/admin.js"} {
		js := body(t, mustGet(t, h, path))
		if m := sinks.FindString(js); m != "" {
			t.Errorf("%s uses %s", path, m)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := newHandler("k")
	for _, path := range []string{"/nope", "/static/nope.js", "/console/nope.js", "/console/index.html", "/widget", "/static/"} {
		if res := mustGet(t, h, path); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, res.StatusCode)
		}
	}
}

// TestI18nComplete checks that English and Chinese have the same keys.
func TestI18nComplete(t *testing.T) {
	js := body(t, mustGet(t, newHandler("k"), "/static/i18n.js"))
	en, zh, ok := strings.Cut(js, "'zh-CN': {")
	if !ok {
		t.Fatal("no zh-CN table")
	}
	keys := func(s string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^\s+'([\w.]+)':`).FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	ek, zk := keys(en), keys(zh)
	if len(ek) < 50 {
		t.Fatalf("only %d English keys found", len(ek))
	}
	for _, k := range ek {
		if _, found := slices.BinarySearch(zk, k); !found {
			t.Errorf("zh-CN lacks %q", k)
		}
	}
	for _, k := range zk {
		if _, found := slices.BinarySearch(ek, k); !found {
			t.Errorf("en lacks %q", k)
		}
	}
}
