// Package web serves the browser side of Switchboard from files embedded in
// the binary: the demo site at /, the chat widget at /widget.js, the agent
// console at /console, the admin at /admin and shared assets under /static/.
//
// There is no build step. Console and admin are plain ES modules that import
// the shared modules under /static/. The widget is one classic script (it is
// embedded on other sites with a plain <script async> tag), assembled once at
// start-up from the shared i18n and markdown modules and widget/widget.js.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

//go:embed static widget console admin demo
var files embed.FS

// Options configure the web handler.
type Options struct {
	// WidgetKey returns the widget key of the default inbox, which the demo
	// page embeds. Nil or "" renders the demo page without a widget key.
	WidgetKey func(r *http.Request) string
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Content-Security-Policy of the pages we serve: scripts and connections
// only to this origin, no inline script or style.
const (
	pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; " +
		"frame-ancestors 'none'"
	assetCacheControl = "public, max-age=300"
)

// asset is one file ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

func newAsset(name string, body []byte) *asset {
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) { // do not depend on the host's mime tables
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".json":
		ct = "application/json"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(body)
	return &asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

type handler struct {
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	assets map[string]*asset // by URL path
	demo   *template.Template
}

// New returns the handler for /, /widget.js, /console, /admin and /static/.
// Other paths get 404.
func New(opts Options) http.Handler {
	h := &handler{opts: opts, log: opts.Logger, assets: map[string]*asset{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	// Assets under these embedded directories are served at /<dir>/<file>.
	for _, dir := range []string{"static", "console", "admin"} {
		err := fs.WalkDir(files, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			body, err := files.ReadFile(p)
			if err != nil {
				return err
			}
			h.assets["/"+p] = newAsset(p, body)
			return nil
		})
		if err != nil { // the embedded tree is fixed at build time
			panic(fmt.Sprintf("web: read embedded %s: %v", dir, err))
		}
	}
	widget, err := buildWidget()
	if err != nil {
		panic(fmt.Sprintf("web: build widget: %v", err))
	}
	h.assets["/widget.js"] = newAsset("widget.js", widget)
	h.demo = template.Must(template.ParseFS(files, "demo/index.html"))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.serveDemo)
	mux.HandleFunc("GET /widget.js", h.serveWidget)
	mux.HandleFunc("GET /console", h.page("/console/index.html"))
	mux.HandleFunc("GET /console/{$}", h.page("/console/index.html"))
	mux.HandleFunc("GET /admin", h.page("/admin/index.html"))
	mux.HandleFunc("GET /admin/{$}", h.page("/admin/index.html"))
	mux.HandleFunc("GET /console/{file...}", h.serveAsset)
	mux.HandleFunc("GET /admin/{file...}", h.serveAsset)
	mux.HandleFunc("GET /static/{file...}", h.serveAsset)
	h.mux = mux
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// consoleString matches a line of the i18n table that only the console
// and the admin use ('ui.…', 'c.…' and 'a.…' keys).
var consoleString = regexp.MustCompile(`^\s+'(?:ui|c|a)\.[\w.]+': `)

// buildWidget wraps the shared ES modules and the widget in one function
// scope so the widget is a single classic script that leaks no globals.
// The shared modules may use `export` only at the start of a line, on
// declarations; the keyword is dropped here. Each i18n entry must sit on
// one line.
func buildWidget() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("/*! Switchboard chat widget. */\n(function () {\n'use strict';\n")
	for _, name := range []string{"static/i18n.js", "static/markdown.js", "static/stream.js", "widget/widget.js"} {
		src, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "\n// ---- %s ----\n", name)
		for line := range strings.SplitAfterSeq(string(src), "\n") {
			if strings.HasPrefix(line, "import ") {
				return nil, fmt.Errorf("%s: widget sources must not import", name)
			}
			if consoleString.MatchString(line) {
				continue // console and admin strings are not the widget's
			}
			b.WriteString(strings.TrimPrefix(line, "export "))
		}
	}
	b.WriteString("\n})();\n")
	return b.Bytes(), nil
}

func setPageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

func (h *handler) serveDemo(w http.ResponseWriter, r *http.Request) {
	var key string
	if h.opts.WidgetKey != nil {
		key = h.opts.WidgetKey(r)
	}
	var b bytes.Buffer
	if err := h.demo.Execute(&b, struct{ WidgetKey string }{key}); err != nil {
		h.log.Error("render demo page", "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b.Bytes()))
}

func (h *handler) page(name string) http.HandlerFunc {
	a := h.assets[name]
	return func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		w.Header().Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	}
}

func (h *handler) serveWidget(w http.ResponseWriter, r *http.Request) {
	// Loaded by other sites: allow cross-origin use of the script.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.serve(w, r, h.assets["/widget.js"])
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	if !ok || strings.HasSuffix(r.URL.Path, ".html") {
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, a)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", assetCacheControl)
	hd.Set("ETag", a.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
