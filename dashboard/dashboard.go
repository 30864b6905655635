package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// files holds the pages and the static files. The vendor directory is
// named with its version, so its files may be cached for good.
//
//go:embed pages static
var files embed.FS

// contentSecurityPolicy allows the pages what they use and nothing more:
// their own scripts, styles and images; the gateway's API and websocket
// ('self' covers ws:// and wss:// of the same host); the camera's media
// stream; and WebAssembly compilation for the QR decoder, without eval.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
	"style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Cache policies: pages and the app's own files are revalidated on every
// load (an ETag makes that a 304), so a new binary's page never meets an old
// script; the versioned vendor files never change.
const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

// asset is one file, ready to serve.
type asset struct {
	name  string // for the content type and ServeContent
	body  []byte
	etag  string
	cache string
	scope string // for the service worker: its Service-Worker-Allowed
}

// worker is the scanner page's service worker. It is served from
// /static/js/ with a Service-Worker-Allowed header so that its scope may be
// /scan, which no other page shares: the board and the login page are not
// controlled by it.
const (
	worker      = "static/js/sw.js"
	workerScope = "/scan"
)

// Handler serves the web UI: GET / (the live board; ?kiosk=1 for a wall
// screen, ?view=evacuation for the headcount), /scan, /login and
// /static/... . It answers other paths with 404,
// and sets the security headers every page needs. The handler holds no
// state besides the embedded files; it is safe for concurrent use.
func Handler() http.Handler {
	assets := map[string]*asset{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := &asset{name: path.Base(p), body: body, cache: cacheRevalidate,
			etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		if strings.HasPrefix(p, "static/vendor/") {
			a.cache = cacheImmutable
		}
		assets[p] = a
		return nil
	})
	if err != nil {
		// The files are compiled in: failing to read them is a broken build.
		panic("dashboard: read embedded files: " + err.Error())
	}
	assets[worker] = serviceWorker(assets)

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", serve(assets["pages/board.html"]))
	mux.Handle("GET /scan", serve(assets["pages/scan.html"]))
	mux.Handle("GET /login", serve(assets["pages/login.html"]))
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		a := assets[strings.TrimPrefix(r.URL.Path, "/")]
		if a == nil || !strings.HasPrefix(r.URL.Path, "/static/") {
			http.NotFound(w, r)
			return
		}
		serve(a).ServeHTTP(w, r)
	})
	return secure(mux)
}

// serviceWorker is the worker's asset: its source with VERSION and PRECACHE
// in front. PRECACHE is the page and every script, style sheet and
// WebAssembly file under static/ (the board's too: a few kilobytes, and a
// module the page comes to import is never missing); VERSION hashes their
// ETags and the worker's source, so that any change makes a new worker and
// a new cache.
func serviceWorker(assets map[string]*asset) *asset {
	src := assets[worker]
	var keep []string
	for p := range assets {
		switch path.Ext(p) {
		case ".js", ".css", ".wasm":
			if strings.HasPrefix(p, "static/") && p != worker {
				keep = append(keep, p)
			}
		}
	}
	slices.Sort(keep)
	page := assets["pages/scan.html"]
	h := sha256.New()
	h.Write([]byte(src.etag + page.etag + "\n"))
	urls := []string{workerScope}
	for _, p := range keep {
		h.Write([]byte(p + " " + assets[p].etag + "\n"))
		urls = append(urls, "/"+p)
	}
	list, _ := json.Marshal(urls) // strings only: cannot fail
	version := base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
	body := append([]byte("const VERSION = '"+version+"';\nconst PRECACHE = "+string(list)+";\n"), src.body...)
	sum := sha256.Sum256(body)
	return &asset{name: src.name, body: body, cache: cacheRevalidate, scope: workerScope,
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}

// serve answers with one asset, honouring If-None-Match.
func serve(a *asset) http.Handler {
	ctype := mime.TypeByExtension(path.Ext(a.name))
	switch {
	case path.Ext(a.name) == ".html":
		ctype = "text/html; charset=utf-8"
	case ctype == "":
		ctype = "text/plain; charset=utf-8" // VERSIONS, LICENSE.*
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", a.cache)
		if a.scope != "" {
			h.Set("Service-Worker-Allowed", a.scope)
		}
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}

// secure adds the headers of every answer: the content security policy,
// no sniffing, no framing, no referrer, and the camera for this origin only.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
		next.ServeHTTP(w, r)
	})
}
