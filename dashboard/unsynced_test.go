package dashboard_test

import (
	"testing"
	"time"
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
