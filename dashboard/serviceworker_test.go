package dashboard_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"crowdflow/dashboard"
	"crowdflow/token"
)

// TestScanPageReloadsOffline: the scanner page opened online installs its
// service worker; with the link to the gateway cut, a reload still opens
// the page (from the worker's cache, with the event from the cached
// /api/v1/event), a ticket is decided offline, and once the link is back
// the scan is counted once.
func TestScanPageReloadsOffline(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	p.lang("fr")
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	p.waitResult("ok")
	p.waitUntil("the service worker in control", `navigator.serviceWorker.controller !== null`)
	// The worker fetched them on install, before it took control.
	if !eval[bool](p, `caches.open('cf-scan-api').then(async (c) =>
		Boolean(await c.match('/api/v1/event')) && Boolean(await c.match('/api/v1/revoked')))`, chromedp.EvalAwaitPromise) {
		t.Error("the event and the revocation list are not in the worker's cache")
	}

	p.cutLink()
	// The page's own copy of the event goes: after the reload it can come
	// only from the worker.
	eval[bool](p, `(localStorage.removeItem('cf.event'), true)`)
	p.do(chromedp.Reload())
	p.waitUntil("the page after a reload offline", `document.readyState === 'complete' &&
		document.getElementById('net')?.dataset.state === 'offline' && !document.getElementById('setup').hidden`)
	if got := eval[string](p, `document.getElementById('where-gate').textContent + ' | ' + document.getElementById('notice').hidden`); got != "Entrée principale | true" {
		t.Errorf("the page reloaded offline: gate and notice hidden %q, want %q", got, "Entrée principale | true")
	}
	p.screenshot("scan-reloaded-offline-fr")

	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	r := p.waitResult("warn")
	if r.Outcome != "offline" || len(r.Details) == 0 || r.Details[0] != "Signature du billet valide." {
		t.Errorf("a scan after the reload offline: got %+v, want saved offline with the signature checked", r)
	}
	p.waitUntil("one queued scan", `document.getElementById('queued-n').textContent === '1'`)
	if got := f.counters(t, "site"); got.Entries != 1 {
		t.Fatalf("store while offline: site entries %d, want 1", got.Entries)
	}

	f.Link.Mend()
	p.waitUntil("the upload", `document.getElementById('net').dataset.state === 'online' &&
		document.getElementById('queued-n').textContent === '0'`)
	if got := f.counters(t, "site"); got.Entries != 2 || got.Occupancy != 2 {
		t.Errorf("store after the upload: site entries %d, occupancy %d; want 2 and 2", got.Entries, got.Occupancy)
	}
	// Once: a reconnection uploads nothing again.
	p.reconnect()
	if got := f.counters(t, "site"); got.Entries != 2 || got.Occupancy != 2 {
		t.Errorf("store after a second reconnection: site entries %d, occupancy %d; want 2 and 2", got.Entries, got.Occupancy)
	}

	// A logout deletes the worker's copies of the API's answers.
	eval[bool](p, `(document.getElementById('logout').click(), true)`)
	p.waitUntil("the login page", `location.pathname === '/login'`)
	p.waitUntil("the API's copies gone", `(caches.has('cf-scan-api').then((h) => { window.__apiGone = !h; }), window.__apiGone === true)`)
}

// TestServiceWorkerScript: the worker comes with the scope of the scanner
// page, its version and the files it keeps, every one of which the handler
// serves (one missing would fail the worker's install).
func TestServiceWorkerScript(t *testing.T) {
	srv := httptest.NewServer(dashboard.Handler())
	defer srv.Close()
	c := client(t)
	get := func(p string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}
	resp, body := get("/static/js/sw.js")
	for header, want := range map[string]string{"Service-Worker-Allowed": "/scan", "Cache-Control": "no-cache",
		"Content-Type": "text/javascript; charset=utf-8"} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s: got %q, want %q", header, got, want)
		}
	}
	m := regexp.MustCompile(`^const VERSION = '([A-Za-z0-9_-]{16})';\nconst PRECACHE = (\[.*\]);\n`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the worker does not start with VERSION and PRECACHE: %.200q", body)
	}
	var keep []string
	if err := json.Unmarshal([]byte(m[2]), &keep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/scan", "/static/js/scan.js", "/static/js/camera.js", "/static/css/scan.css",
		"/static/vendor/barcode-detector-3.2.2/zxing_reader.wasm", "/static/vendor/barcode-detector-3.2.2/ponyfill.js"} {
		if !slices.Contains(keep, want) {
			t.Errorf("PRECACHE lacks %s: %q", want, keep)
		}
	}
	for _, p := range keep {
		if strings.HasSuffix(p, "/sw.js") || strings.Contains(p, "LICENSE") || strings.HasPrefix(p, "/api/") {
			t.Errorf("PRECACHE holds %s", p)
		}
		if resp, _ := get(p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
	}
}
