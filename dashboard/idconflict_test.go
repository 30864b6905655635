package dashboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/ledger"
	"crowdflow/token"
)

// The phone page and an id the gateway already holds for another scan
// (CONTRACT §3: id_conflict, "a copied outbox, a reused device"): the page
// sends the same scan again under a new id, as the CLI scanner does, so
// that it counts, once.

// outboxIDs are the ids of the messages in the page's outbox, oldest first.
const outboxIDs = `new Promise((ok, fail) => { const r = indexedDB.open('crowdflow');
  r.onerror = () => fail(r.error);
  r.onsuccess = () => { const all = r.result.transaction('outbox').objectStore('outbox').index('seq').getAll();
    all.onsuccess = () => ok(all.result.map((it) => it.id)); }; })`

// scanAs records a scan of payload under id through g and wants it accepted.
func (g *gateClient) scanAs(id, payload string) {
	g.tb.Helper()
	m := g.roundTrip(map[string]any{"type": "scan", "id": id, "ticket": payload, "direction": "in",
		"at": fairTime.UTC().Format(time.RFC3339Nano)})
	if m["type"] != "verdict" || m["code"] != "accepted" {
		g.tb.Fatalf("scan %s: got %v", id, m)
	}
}

// checkRenewed reads the event log: the other device's scan under id,
// the page's scan once under another id (offline as said), the conflict
// logged, and the counters equal to a recount with both people in.
func checkRenewed(t *testing.T, f *fair, id string, offline bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log, err := f.Ledger.ReadLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var scans []ledger.Entry
	conflicts := 0
	for _, e := range log {
		switch e.Kind {
		case "scan":
			scans = append(scans, e)
		case "conflict":
			if e.ScanID == id {
				conflicts++
			}
		}
	}
	if len(scans) != 2 || conflicts != 1 {
		t.Fatalf("event log: %d scans and %d conflicts of %s, want 2 and 1: %+v", len(scans), conflicts, id, log)
	}
	other, page := scans[0], scans[1]
	if other.ScanID != id {
		other, page = page, other
	}
	if other.ScanID != id || page.ScanID == id || page.Ticket == other.Ticket || page.Code != checkin.Accepted ||
		page.Flags.Has(checkin.Offline) != offline {
		t.Errorf("event log: the other device's scan %+v, the page's %+v; want the page's accepted under a new id (offline %v)", other, page, offline)
	}
	got := f.counters(t, "site")
	want := ledger.Recount(admission.LedgerConfig(f.Event).Zones, log)["site"]
	if got.Entries != 2 || got.Occupancy != 2 || got.Entries != want.Entries || got.Occupancy != want.Occupancy {
		t.Errorf("site: entries %d, occupancy %d; recount %d, %d; want 2 and 2", got.Entries, got.Occupancy, want.Entries, want.Occupancy)
	}
}

// TestIDConflictOnUpload: a scan waits in the outbox while the phone is
// offline, and another device records a scan of another ticket under its
// id; when the page uploads it, the gateway answers id_conflict, and the
// page uploads it again under a new id.
func TestIDConflictOnUpload(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	p.cutLink()
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	if r := p.waitResult("warn"); r.Outcome != "offline" {
		t.Fatalf("offline scan: got %+v", r)
	}
	p.dismiss()
	ids := eval[[]string](p, outboxIDs, chromedp.EvalAwaitPromise)
	if len(ids) != 1 {
		t.Fatalf("outbox: %v, want one scan", ids)
	}
	// Past the cable: the gateway itself, from another device.
	mustGateClientAt(t, f, f.Link.target, "MAIN-1").scanAs(ids[0], mustTicket(t, f.Event, ticketSpec{}))

	f.Link.Mend()
	p.waitUntil("the upload", `document.getElementById('net').dataset.state === 'online' &&
		document.getElementById('queued-n').textContent === '0'`)
	checkRenewed(t, f, ids[0], true)
	if r := eval[*result](p, readResult); r != nil {
		t.Errorf("the upload put a result on screen: %+v", r)
	}
}

// TestIDConflictLive: the frame of a live scan is held in the page (a slow
// network) while another device records a scan of another ticket under
// its id, with the page's time standing still; then it goes, the gateway
// answers id_conflict, and the worker sees the verdict of the same scan
// sent again under a new id.
func TestIDConflictLive(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	// The next scan frame is held (__held) until __release(); meanwhile
	// the page's time stands still (performance.now, and the timers armed
	// wait until then): to the page, the network was slow, the verdict
	// not late.
	eval[bool](p, `(() => {
	  const send = WebSocket.prototype.send, set = window.setTimeout.bind(window), clear = window.clearTimeout.bind(window);
	  const pnow = performance.now.bind(performance);
	  let stopped = null, lost = 0, fake = -1;
	  const frozen = new Map(), armed = new Map();
	  performance.now = () => (stopped ?? pnow()) - lost;
	  window.setTimeout = (fn, ms, ...args) => {
	    if (stopped === null) return set(fn, ms, ...args);
	    frozen.set(fake, [fn, ms, args]);
	    return fake--;
	  };
	  window.clearTimeout = (id) => { frozen.delete(id); clear(armed.get(id) ?? id); };
	  WebSocket.prototype.send = function (data) {
	    const m = JSON.parse(data);
	    if (m.type !== 'scan' || window.__held) return send.call(this, data);
	    window.__held = {id: m.id};
	    stopped = pnow();
	    window.__release = () => {
	      lost += pnow() - stopped;
	      stopped = null;
	      for (const [id, [fn, ms, args]] of frozen) armed.set(id, set(fn, ms, ...args));
	      frozen.clear();
	      send.call(this, data);
	      return true;
	    };
	  };
	  return true; })()`)
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	p.waitUntil("the scan frame held", `window.__held`)
	id := eval[string](p, `window.__held.id`)
	mustGateClientAt(t, f, f.Link.target, "MAIN-1").scanAs(id, mustTicket(t, f.Event, ticketSpec{}))
	eval[bool](p, `window.__release()`)

	r := p.waitResult("ok")
	if r.Outcome != "accepted_in" {
		t.Errorf("result: got %+v, want the entry accepted", r)
	}
	p.waitUntil("the outbox empty", `document.getElementById('queued-n').textContent === '0'`)
	checkRenewed(t, f, id, false)
}
