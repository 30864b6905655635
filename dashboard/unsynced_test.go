package dashboard_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"crowdflow/token"
)

// status sends the device's queue (CONTRACT §3); the gateway does not answer.
func (g *gateClient) status(queued int, oldest time.Time) {
	g.tb.Helper()
	msg := map[string]any{"type": "status", "queued": queued}
	if queued > 0 {
		msg["oldest"] = oldest.UTC().Format(time.RFC3339)
	}
	_ = g.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := g.ws.WriteJSON(msg); err != nil {
		g.tb.Fatalf("send status: %v", err)
	}
}

// The marks of a lower bound the board shows: zone id -> shown ("site" for
// the site's figure).
const readAtLeast = `(() => {
  const out = {site: !document.getElementById('site-atleast').hidden && !document.getElementById('site-ge').hidden};
  for (const c of document.querySelectorAll('#zones .zone')) {
    out[c.dataset.zone] = !c.querySelector('.z-atleast').hidden && !c.querySelector('.z-ge').hidden;
  }
  return out;
})()`

const gateQueue = `(document.querySelector('.gate[data-gate="HALL-CRAFTS"] .g-unsynced:not([hidden])')?.textContent || '')`

// TestBoardShowsUnsynced: a gate device reporting scans it decided offline
// shows on the board as "N scans not yet synced, oldest M min", its zone and
// the site as "at least"; disconnected, the gate shows offline with its last
// known queue and the marks stay; back and synced, they go.
func TestBoardShowsUnsynced(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.openBoard("/?lang=en")
	for z, on := range eval[map[string]bool](p, readAtLeast) {
		if on {
			t.Errorf("zone %s marked at least before any device", z)
		}
	}

	g := mustGateClient(t, f, "HALL-CRAFTS")
	g.status(4, f.Clock.Now().Add(-12*time.Minute))
	p.waitUntil("the gate's queue on the board", gateQueue+` === '4 scans not yet synced, oldest 12 min'`)
	p.waitUntil("hall-crafts and the site at least", `(() => { const a = `+readAtLeast+`;
  return a.site && a['hall-crafts'] && !a.stage; })()`)
	if got := eval[string](p, `document.querySelector('#zone-hall-crafts .z-atleast').textContent`); got != "at least" {
		t.Errorf("zone label %q, want at least", got)
	}
	p.screenshot("board-unsynced-en")

	_ = g.ws.Close()
	p.waitUntil("the gate offline with its last queue", `document.querySelector('.gate[data-gate="HALL-CRAFTS"] .g-state').textContent.includes('Offline') && `+
		gateQueue+` === '4 scans not yet synced, oldest 12 min'`)
	if a := eval[map[string]bool](p, readAtLeast); !a["site"] || !a["hall-crafts"] {
		t.Errorf("at least after the disconnection: %v", a)
	}
	p.lang("fr")
	p.waitUntil("the French words", gateQueue+` === '4 scans pas encore synchronisés, le plus ancien il y a 12 min' &&
  document.getElementById('site-atleast').textContent === 'au moins'`)
	p.lang("ar")
	p.waitUntil("the Arabic words", gateQueue+`.includes('لم يُزامن') && document.getElementById('site-atleast').textContent === 'على الأقل'`)
	p.noArabicIndic()
	p.screenshot("board-unsynced-ar")

	mustGateClient(t, f, "HALL-CRAFTS") // back, with nothing queued
	p.waitUntil("the marks gone", gateQueue+` === '' && (() => { const a = `+readAtLeast+`;
  return Object.values(a).every((on) => !on); })()`)
}

// liveBoard is what GET /api/v1/occupancy says of the zones' marks and the
// gates.
type liveBoard struct {
	Zones []struct {
		ID      string `json:"id"`
		AtLeast bool   `json:"at_least"`
	} `json:"zones"`
	Gates []struct {
		ID       string `json:"id"`
		Online   bool   `json:"online"`
		Unsynced int    `json:"unsynced"`
	} `json:"gates"`
}

// waitOccupancy polls the gateway's board (straight, not through the
// cable) until cond holds of it.
func (f *fair) waitOccupancy(tb testing.TB, what string, cond func(liveBoard) bool) liveBoard {
	tb.Helper()
	tok := f.token(tb, token.Security)
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequest(http.MethodGet, "http://"+f.Link.target+"/api/v1/occupancy", nil)
		if err != nil {
			tb.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		var b liveBoard
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&b)
			_ = resp.Body.Close()
		}
		if err == nil && cond(b) {
			return b
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s (last: %+v, %v)", what, waitFor, b, err)
		}
		<-tick.C
	}
}

func (b liveBoard) atLeast(zone string) bool {
	for _, z := range b.Zones {
		if z.ID == zone {
			return z.AtLeast
		}
	}
	return false
}

func (b liveBoard) online(gate string) (online bool, unsynced int) {
	for _, g := range b.Gates {
		if g.ID == gate {
			return g.Online, g.Unsynced
		}
	}
	return false, -1
}

// TestScanPageReportsQueue: a phone cut off from the gateway leaves its
// gate offline and the site "at least" on the board; back, it says in
// hello how many scans wait and since when, uploads them, then says its
// outbox is empty, and the marks go.
func TestScanPageReportsQueue(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	p.waitResult("ok")
	gate := eval[string](p, `document.getElementById('gate').value`)
	if f.Event.Gate(gate) == nil {
		t.Fatalf("the page's gate %q is not the event's", gate)
	}
	zone := f.Event.Gate(gate).Zone

	p.cutLink()
	p.waitUntil("the green screen to clear", `document.getElementById('result').hidden`)
	for range 2 {
		p.scan(mustTicket(t, f.Event, ticketSpec{}))
		p.waitResult("warn")
		p.dismiss()
	}
	p.waitUntil("two queued", `document.getElementById('queued-n').textContent === '2'`)
	f.waitOccupancy(t, "the gate offline, its zone at least", func(b liveBoard) bool {
		on, _ := b.online(gate)
		return !on && b.atLeast(zone) && b.atLeast("site")
	})

	// What the page sends from now on.
	eval[bool](p, `(() => { window.sent = []; const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) { window.sent.push(JSON.parse(d)); return send.call(this, d); }; return true; })()`)
	f.Link.Mend()
	p.waitUntil("the upload, then an empty status", `document.getElementById('queued-n').textContent === '0' &&
  window.sent.some((m) => m.type === 'status' && m.queued === 0 && !('oldest' in m))`)
	var hello struct {
		Gate   string `json:"gate"`
		Queued int    `json:"queued"`
		Oldest string `json:"oldest"`
	}
	raw := eval[string](p, `JSON.stringify(window.sent.find((m) => m.type === 'hello') || {})`)
	if err := json.Unmarshal([]byte(raw), &hello); err != nil {
		t.Fatal(err)
	}
	if hello.Gate != gate || hello.Queued != 2 || hello.Oldest == "" {
		t.Errorf("hello %s: want gate %s, queued 2 and the oldest's time", raw, gate)
	}
	f.waitOccupancy(t, "the gate online and synced, no mark", func(b liveBoard) bool {
		on, n := b.online(gate)
		return on && n == 0 && !b.atLeast(zone) && !b.atLeast("site")
	})
}
