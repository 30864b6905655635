package dashboard_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"crowdflow/checkin"
	"crowdflow/token"
)

// ---- a scanner that speaks /ws/scan from Go ----

// gateClient is a gate device on /ws/scan with a scanner token, sending
// real scans and tallies to the gateway under test.
type gateClient struct {
	tb testing.TB
	ws *websocket.Conn
	f  *fair
}

func mustGateClient(tb testing.TB, f *fair, gate string) *gateClient {
	tb.Helper()
	return mustGateClientAt(tb, f, f.Link.addr, gate)
}

// mustGateClientAt is mustGateClient through addr: f.Link.target reaches
// the gateway past the cable, cut or not.
func mustGateClientAt(tb testing.TB, f *fair, addr, gate string) *gateClient {
	tb.Helper()
	u := "ws://" + addr + "/ws/scan"
	h := http.Header{"Authorization": {"Bearer " + f.token(tb, token.Scanner)}}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(u, h)
	if err != nil {
		tb.Fatalf("dial /ws/scan: %v (%v)", err, resp)
	}
	tb.Cleanup(func() { _ = ws.Close() })
	g := &gateClient{tb: tb, ws: ws, f: f}
	g.hello(gate)
	return g
}

func (g *gateClient) hello(gate string) {
	g.tb.Helper()
	if m := g.roundTrip(map[string]any{"type": "hello", "protocol": 1, "device": "board-test", "gate": gate}); m["type"] != "welcome" {
		g.tb.Fatalf("hello %s: got %v", gate, m)
	}
}

func (g *gateClient) roundTrip(msg map[string]any) map[string]any {
	g.tb.Helper()
	_ = g.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := g.ws.WriteJSON(msg); err != nil {
		g.tb.Fatalf("send %v: %v", msg, err)
	}
	_ = g.ws.SetReadDeadline(time.Now().Add(waitFor))
	var m map[string]any
	if err := g.ws.ReadJSON(&m); err != nil {
		g.tb.Fatalf("read the answer to %v: %v", msg, err)
	}
	return m
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// scan sends one scan and wants it accepted.
func (g *gateClient) scan(payload, direction string) {
	g.tb.Helper()
	g.scanAt(payload, direction, fairTime)
}

// scanAt is scan with the device's clock at at.
func (g *gateClient) scanAt(payload, direction string, at time.Time) {
	g.tb.Helper()
	m := g.roundTrip(map[string]any{"type": "scan", "id": randomID(), "ticket": payload, "direction": direction,
		"at": at.UTC().Format(time.RFC3339Nano)})
	if m["type"] != "verdict" || m["code"] != "accepted" {
		g.tb.Fatalf("scan %s: got %v", direction, m)
	}
}

// tally counts delta people into zone and wants it applied.
func (g *gateClient) tally(zone string, delta int) {
	g.tb.Helper()
	m := g.roundTrip(map[string]any{"type": "tally", "id": randomID(), "zone": zone, "delta": delta,
		"at": fairTime.UTC().Format(time.RFC3339Nano)})
	if m["type"] != "verdict" || m["ok"] != true {
		g.tb.Fatalf("tally %s %+d: got %v", zone, delta, m)
	}
}

// ---- the board in the browser ----

// openBoard opens path (the board, maybe with parameters) without a
// session, expects the login page to be asked for with next=path, logs in
// as security and waits for the board's first figures. The screen is a
// control room's, 1600×1000.
func (t *tab) openBoard(path string) {
	t.tb.Helper()
	t.do(chromedp.EmulateViewport(1600, 1000))
	t.do(chromedp.Navigate(t.fair.URL + path))
	t.waitUntil("the login page for the board", `location.pathname === '/login'`)
	if got, want := eval[string](t, `new URLSearchParams(location.search).get('next')`), path; got != want {
		t.tb.Errorf("login next: got %q, want %q", got, want)
	}
	t.submitLogin(t.fair.token(t.tb, token.Security))
	t.waitBoardLive()
}

func (t *tab) waitBoardLive() {
	t.tb.Helper()
	t.waitUntil("the board, live", `location.pathname === '/' && document.body.dataset.conn === 'live' &&
		document.querySelectorAll('#zones .zone').length > 0`)
}

// zoneView is what the board shows of a zone.
type zoneView struct {
	Occ   string `json:"occ"`
	Cap   string `json:"cap"`
	Level string `json:"level"`
	Badge string `json:"badge"`
}

const readZones = `(() => {
  const out = {};
  for (const c of document.querySelectorAll('#zones .zone')) {
    out[c.dataset.zone] = {occ: c.querySelector('.z-occ').textContent, cap: c.querySelector('.z-cap').textContent,
      level: c.dataset.level, badge: c.querySelector('.z-badge').textContent};
  }
  const s = document.getElementById('site');
  out.site = {occ: document.getElementById('site-occ').textContent, cap: document.getElementById('site-cap').textContent,
    level: s.dataset.level, badge: document.getElementById('site-badge').textContent};
  return out;
})()`

// storeView is what the board should show: the store's counters.
func (f *fair) storeView(tb testing.TB) map[string]zoneView {
	tb.Helper()
	out := map[string]zoneView{}
	for _, z := range f.Event.Zones {
		c := f.counters(tb, z.ID)
		out[z.ID] = zoneView{Occ: fmt.Sprint(c.Occupancy), Cap: fmt.Sprint(z.Capacity),
			Level: string(checkin.LevelOf(c.Occupancy, z.Capacity))}
	}
	return out
}

// waitMatchesStore waits until every zone's number, capacity and level on
// the board are the store's.
func (t *tab) waitMatchesStore() map[string]zoneView {
	t.tb.Helper()
	want := t.fair.storeView(t.tb)
	deadline := time.Now().Add(waitFor)
	var got map[string]zoneView
	for {
		got = eval[map[string]zoneView](t, readZones)
		ok := len(got) == len(want)
		for id, w := range want {
			g := got[id]
			if g.Occ != w.Occ || g.Cap != w.Cap || g.Level != w.Level {
				ok = false
			}
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.tb.Fatalf("the board does not show the store's figures within %s:\n got  %v\n want %v", waitFor, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (t *tab) noArabicIndic() {
	t.tb.Helper()
	if text := eval[string](t, pageText); arabicIndic.MatchString(text) {
		t.tb.Errorf("Arabic-Indic digits in the page: %q", arabicIndic.FindAllString(text, -1))
	}
}

// TestBoardShowsTheStore: after real scans and tallies over /ws/scan, the
// board's numbers and levels are the store's; a zone past 90 % is
// critical, in colour, word and icon, with an alert; Arabic is right to
// left with Western digits, French left to right; the evacuation view
// counts ticket types.
func TestBoardShowsTheStore(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.openBoard("/")
	p.waitMatchesStore()

	main := mustGateClient(t, f, "MAIN-1")
	var tickets []string
	for i := range 6 {
		typ := "visitor"
		if i == 5 {
			typ = "exhibitor"
		}
		tk := mustTicket(t, f.Event, ticketSpec{Type: typ})
		tickets = append(tickets, tk)
		main.scan(tk, "in")
	}
	hall := mustGateClient(t, f, "HALL-CRAFTS")
	hall.scan(tickets[0], "in")
	hall.scan(tickets[1], "in")
	exit := mustGateClient(t, f, "EXIT-1")
	exit.scan(tickets[4], "out")
	// 92 of the workshops' 100 places: critical.
	ws := mustGateClient(t, f, "WORKSHOPS")
	ws.tally("workshops", 92)

	got := p.waitMatchesStore()
	if g := got["workshops"]; g.Level != "critical" || !strings.Contains(g.Badge, "⚠") {
		t.Errorf("workshops at 92 %%: got %+v, want critical with its icon", g)
	}
	if g := got["site"]; g.Occ != "97" || g.Level != "ok" { // 6 in, 1 out, and the 92 in the workshops
		t.Errorf("site: got %+v, want 97 inside, ok", g)
	}
	if c := f.counters(t, "hall-crafts"); c.Occupancy != 2 {
		t.Errorf("store: hall-crafts holds %d, want 2", c.Occupancy)
	}
	p.waitUntil("the workshops alert", `document.querySelector('#alert-list .alert[data-kind="zone_level"][data-level="critical"]')`)

	// Arabic: right to left, Western digits only.
	p.lang("ar")
	if got := eval[string](p, `document.documentElement.lang + ' ' + document.documentElement.dir`); got != "ar-MA rtl" {
		t.Errorf("<html lang dir> in Arabic: got %q", got)
	}
	if got := eval[string](p, `document.querySelector('#zone-workshops .z-badge').textContent`); got != "⚠ حرج" {
		t.Errorf("critical badge in Arabic: got %q", got)
	}
	if got := eval[string](p, `document.getElementById('updated').textContent`); !strings.HasPrefix(got, "آخر تحديث قبل ") {
		t.Errorf("updated in Arabic: got %q", got)
	}
	p.noArabicIndic()
	p.screenshot("board-ar")

	// French: left to right.
	p.lang("fr")
	if got := eval[string](p, `document.documentElement.lang + ' ' + document.documentElement.dir`); got != "fr-MA ltr" {
		t.Errorf("<html lang dir> in French: got %q", got)
	}
	if got := eval[string](p, `document.querySelector('#zone-workshops .z-badge').textContent`); got != "⚠ Critique" {
		t.Errorf("critical badge in French: got %q", got)
	}
	alert := eval[string](p, `document.querySelector('#alert-list .alert[data-kind="zone_level"]').textContent`)
	if !strings.Contains(alert, "Espace des ateliers de formation") || !strings.Contains(alert, "Critique") || !strings.Contains(alert, "92 %") {
		t.Errorf("workshops alert in French: got %q", alert)
	}
	gate := eval[string](p, `document.querySelector('#gates .gate[data-gate="MAIN-1"]').textContent`)
	if !strings.Contains(gate, "Entrée principale") || !strings.Contains(gate, "En ligne") {
		t.Errorf("gate MAIN-1 in French: got %q", gate)
	}
	p.screenshot("board-fr")

	// The evacuation view: who is still inside, by ticket type.
	p.do(chromedp.Click(chromedp.ID("view-evac")))
	p.waitUntil("the evacuation view", `!document.getElementById('evac').hidden && location.search.includes('view=evacuation')`)
	type evacRow struct {
		Inside string            `json:"inside"`
		Types  map[string]string `json:"types"`
		Tally  string            `json:"tally"`
	}
	rows := eval[map[string]evacRow](p, `(() => { const out = {};
	  for (const tr of document.querySelectorAll('#evac-rows tr')) {
	    const types = {};
	    for (const s of tr.querySelectorAll('.type')) types[s.dataset.type] = s.querySelector('.t-n').textContent;
	    out[tr.dataset.zone] = {inside: tr.querySelector('td.n').textContent, types, tally: tr.querySelectorAll('td.n')[1].textContent};
	  }
	  return out; })()`)
	for _, z := range f.Event.Zones {
		c := f.counters(t, z.ID)
		r := rows[z.ID]
		if r.Inside != fmt.Sprint(c.Occupancy) {
			t.Errorf("evacuation %s: inside %q, store %d", z.ID, r.Inside, c.Occupancy)
		}
		for typ, n := range c.ByType {
			if n != 0 && r.Types[typ] != fmt.Sprint(n) {
				t.Errorf("evacuation %s: %s %q, store %d", z.ID, typ, r.Types[typ], n)
			}
		}
	}
	if r := rows["site"]; r.Types["visitor"] != "4" || r.Types["exhibitor"] != "1" {
		t.Errorf("evacuation of the site: got %+v, want 4 visitors, 1 exhibitor", r)
	}
	if r := rows["workshops"]; r.Inside != "92" || r.Tally != "92" {
		t.Errorf("evacuation of the workshops: got %+v, want 92 inside, 92 counted", r)
	}
	if !eval[bool](p, `document.getElementById('evac-note').hidden`) {
		t.Error("the evacuation view says there is no breakdown by type, but the hub sends by_type")
	}
	if r := rows["site"]; r.Inside != "97" || r.Tally != "92" {
		t.Errorf("evacuation of the site: got %+v, want 97 inside, 92 of them without a ticket", r)
	}
	p.screenshot("board-evacuation-fr")
	p.noArabicIndic()
}

// TestBoardGoesStaleAndResumes: when the link to the gateway is cut, the
// board greys out under a banner; when it is back, the board reconnects by
// itself with ?since=<last seq> and shows what changed meanwhile.
func TestBoardGoesStaleAndResumes(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.openBoard("/?kiosk=1&lang=fr")
	if !eval[bool](p, `document.documentElement.classList.contains('kiosk') &&
		getComputedStyle(document.querySelector('header.chrome')).display === 'none'`) {
		t.Error("kiosk mode shows the chrome")
	}
	if got := eval[string](p, `document.documentElement.dir`); got != "ltr" {
		t.Errorf("?lang=fr: dir %q", got)
	}
	seq := eval[float64](p, `Number(document.body.dataset.seq)`)

	f.Link.Cut()
	start := time.Now()
	p.waitUntil("the stale board", `document.body.dataset.conn === 'stale' && !document.getElementById('stale').hidden &&
		getComputedStyle(document.querySelector('main')).filter.includes('grayscale')`)
	t.Logf("stale %s after the cut", time.Since(start).Round(time.Millisecond))
	banner := eval[string](p, `document.getElementById('stale').textContent`)
	if !strings.Contains(banner, "Données périmées") {
		t.Errorf("stale banner: got %q", banner)
	}
	p.screenshot("board-stale-fr")

	// Meanwhile a scan, straight to the gateway (not through the cut link).
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	u := url.URL{Scheme: "ws", Host: f.Link.target, Path: "/ws/scan"}
	ws, _, err := d.Dial(u.String(), http.Header{"Authorization": {"Bearer " + f.token(t, token.Scanner)}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	g := &gateClient{tb: t, ws: ws, f: f}
	g.hello("MAIN-1")
	g.scan(mustTicket(t, f.Event, ticketSpec{}), "in")

	f.Link.Mend()
	p.waitBoardLive()
	since := eval[string](p, `document.body.dataset.since || ''`)
	var s float64
	if err := json.Unmarshal([]byte(since), &s); err != nil || s < seq {
		t.Errorf("reconnect: since %q, want the last seq (%v or later)", since, seq)
	}
	p.waitMatchesStore()
	p.noArabicIndic()
	p.screenshot("board-kiosk-fr")
}

// TestBoardNeedsTheLiveRole: a scanner's token on / goes to the scanner
// page.
func TestBoardNeedsTheLiveRole(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.do(chromedp.Navigate(f.URL + "/login?next=/"))
	p.submitLogin(f.token(t, token.Scanner, "MAIN-1"))
	p.waitUntil("the scanner page", `location.pathname === '/scan'`)
}

// TestBoardStaleWithoutData: a quiet fair sends nothing on /ws/live, so the
// board confirms its figures over HTTP before they are 30 s old; when that
// fails too, the board goes stale with the socket still open, then drops
// the socket and reconnects. The page's clock (performance.now) is moved
// forward instead of waiting.
func TestBoardStaleWithoutData(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.openBoard("/?lang=en")
	// A hook on the page's monotonic clock and on its fetch.
	eval[bool](p, `(() => {
	  const real = performance.now.bind(performance);
	  window.__skew = 0;
	  performance.now = () => real() + window.__skew;
	  const realFetch = window.fetch.bind(window);
	  window.__blockOccupancy = false;
	  window.__probes = 0;
	  window.fetch = (u, o) => {
	    if (String(u).includes('/api/v1/occupancy')) {
	      window.__probes++;
	      if (window.__blockOccupancy) return Promise.reject(new TypeError('blocked by the test'));
	    }
	    return realFetch(u, o);
	  };
	  return true; })()`)

	// 20 s of quiet: the probe confirms the figures; the board stays live.
	eval[bool](p, `(window.__skew += 20000, true)`)
	p.waitUntil("a probe that confirms the figures", `window.__probes > 0 && document.body.dataset.conn === 'live' &&
		Number(document.getElementById('updated').dataset.age) < 5`)

	// 31 s of quiet and the probe fails: stale, though the socket is open.
	eval[bool](p, `(window.__blockOccupancy = true, window.__skew += 31000, true)`)
	p.waitUntil("the stale board after 30 s without data", `document.body.dataset.conn === 'stale' &&
		!document.getElementById('stale').hidden`)
	if got := eval[string](p, `document.getElementById('stale').textContent`); !strings.Contains(got, "Data out of date") || !strings.Contains(got, "No data for 3") {
		t.Errorf("stale banner: got %q", got)
	}
	p.screenshot("board-stale-nodata-en")

	// The probe works again: the board drops the silent socket, reconnects
	// (with since) or confirms over HTTP, and is live again.
	eval[bool](p, `(window.__blockOccupancy = false, true)`)
	p.waitBoardLive()
	p.waitMatchesStore()
}

// TestBoardShowsTheDayClosed: when the day closes, the board says so and
// how many each zone swept out (people who left by a door without a
// scanner); the next morning, once the doors open, the banner goes.
func TestBoardShowsTheDayClosed(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.openBoard("/?lang=fr")
	p.waitMatchesStore()
	if !eval[bool](p, `document.getElementById('closed').hidden`) {
		t.Error("the day is open, and the board says closed")
	}
	main := mustGateClient(t, f, "MAIN-1")
	for range 3 {
		main.scan(mustTicket(t, f.Event, ticketSpec{}), "in")
	}
	crafts := mustGateClient(t, f, "HALL-CRAFTS")
	crafts.scan(mustTicket(t, f.Event, ticketSpec{}), "in")
	main.tally("site", 2)

	// The 17th closes at 22:30; the gateway closes it on its own.
	f.Clock.Set(time.Date(2025, 9, 17, 22, 31, 0, 0, f.Event.Location))
	p.waitUntil("the closed banner", `!document.getElementById('closed').hidden`)
	p.waitMatchesStore()
	title := eval[string](p, `document.getElementById('closed-title').textContent`)
	swept := eval[string](p, `document.getElementById('closed-swept').textContent`)
	if title != "Journée du 17 septembre close à 22:30" {
		t.Errorf("closed title: %q", title)
	}
	site, hall := f.Event.Zone("site").Name.FR, f.Event.Zone("hall-crafts").Name.FR
	if !strings.Contains(swept, site+" 4 (+2 sans billet)") || !strings.Contains(swept, hall+" 1") {
		t.Errorf("closed swept: %q, want %s 4 (+2 by tally) and %s 1", swept, site, hall)
	}
	if got := eval[string](p, `document.getElementById('site-occ').textContent`); got != "0" {
		t.Errorf("site after closing: %q, want 0", got)
	}
	p.screenshot("board-closed-fr")
	p.lang("ar")
	p.noArabicIndic()
	p.screenshot("board-closed-ar")

	// The next morning the doors open: the first scan's update brings the
	// gateway's new time, and the banner goes.
	f.Clock.Set(time.Date(2025, 9, 18, 10, 5, 0, 0, f.Event.Location))
	main.scanAt(mustTicket(t, f.Event, ticketSpec{Days: []string{"2025-09-18"}}), "in", f.Clock.Now())
	p.waitUntil("the board open again", `document.getElementById('closed').hidden && document.body.dataset.day === 'open'`)
}
