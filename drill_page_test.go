package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"crowdflow/checkin"
	"crowdflow/internal/pageclock"
	"crowdflow/internal/redistest"
	"crowdflow/ledger/redisengine"
	"crowdflow/pdf"
	"crowdflow/token"
)

// phone is the phone scanner page (/scan) in a headless Chromium of its
// own, for the drills. The dashboard's browser tests drive the same page
// against an in-process gateway; here it talks to a gateway on Redis
// through a TCP proxy that the drill breaks.
type phone struct {
	t   *testing.T
	ctx context.Context
}

// phoneWait bounds one wait for the page.
const phoneWait = 30 * time.Second

// phoneProbe runs in the page before its scripts (after the clock of
// pageclock): every scan frame's id it sends over a websocket is kept in
// __sent, and every time the result screen appears, __shown gets its
// outcome and how long after the last Enter (the reader's end of line) it
// came.
const phoneProbe = `(() => {
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try { const m = JSON.parse(data); if (m.type === 'scan') window.__sent.push(m.id); } catch { /* not ours */ }
    return send.call(this, data);
  };
  window.__read = 0;
  window.__shown = [];
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__read = performance.now(); }, true);
  addEventListener('DOMContentLoaded', () => {
    const r = document.getElementById('result');
    if (!r) return;
    let was = r.hidden;
    new MutationObserver(() => {
      if (was && !r.hidden) {
        window.__shown.push({outcome: r.dataset.outcome, kind: r.className.replace('result', '').trim(),
          ms: performance.now() - window.__read});
      }
      was = r.hidden;
    }).observe(r, {attributes: true, attributeFilter: ['hidden']});
  });
})();`

// startPhone starts Chromium with a phone-sized page whose clock reads
// fairClock at epoch, closed when t ends.
func startPhone(t *testing.T, epoch time.Time) *phone {
	t.Helper()
	exe, err := pdf.Find("")
	if err != nil {
		t.Fatalf("the phone drill needs Chromium (make test installs it): %v", err)
	}
	opts := append(pdf.Headless(exe, filepath.Join(t.TempDir(), "profile")), chromedp.Flag("lang", "en-US"))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	// What the page logs is shown when the drill fails; an exception that
	// nothing caught fails it.
	var mu sync.Mutex
	var console, thrown []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			line := fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text)
			mu.Lock()
			console = append(console, line)
			if m.IsException() {
				thrown = append(thrown, line)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		mu.Lock()
		defer mu.Unlock()
		for _, l := range thrown {
			t.Errorf("the page threw: %s", l)
		}
		if t.Failed() {
			t.Logf("console of the page:\n%s", strings.Join(console, "\n"))
		}
	})
	at, _ := time.Parse(time.RFC3339, fairClock)
	for _, js := range []string{pageclock.Script(at.Add(time.Since(epoch))), phoneProbe} {
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
			t.Fatal(err)
		}
	}
	p := &phone{t: t, ctx: ctx}
	p.do(chromedp.EmulateViewport(412, 860))
	return p
}

func (p *phone) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, phoneWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into v.
func (p *phone) eval(expr string, v any, opts ...chromedp.EvaluateOption) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, phoneWait)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr, opts...))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		p.t.Fatalf("evaluate %s: %s: %v", expr, raw, err)
	}
}

// holds reports whether a JavaScript expression is truthy now (false when
// the page cannot say, during a navigation).
func (p *phone) holds(expr string) bool {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+expr+")"))
	return err == nil && ok
}

// waitUntil waits for a JavaScript expression to be truthy.
func (p *phone) waitUntil(what, expr string) {
	p.t.Helper()
	waitUntil(p.t, phoneWait, what, func() bool { return p.holds(expr) })
}

// login opens /login at base, submits the token and waits for the
// scanner page to be online.
func (p *phone) login(base, tok string) {
	p.t.Helper()
	p.do(chromedp.Navigate(base + "/login"))
	p.waitUntil("the login page's script", `location.pathname === '/login' && document.readyState === 'complete' &&
		document.querySelectorAll('#langs button').length > 0`)
	b, _ := json.Marshal(tok)
	var ok bool
	p.eval(`(() => { document.getElementById('token').value = `+string(b)+`;
		document.getElementById('login').requestSubmit(); return true; })()`, &ok)
	p.waitUntil("the scanner page online", `location.pathname === '/scan' &&
		document.getElementById('net')?.dataset.state === 'online'`)
}

// shown is one appearance of the result screen.
type shown struct {
	Outcome string  `json:"outcome"`
	Kind    string  `json:"kind"`
	MS      float64 `json:"ms"` // after the Enter that ended the scan
}

func (s shown) after() time.Duration { return time.Duration(s.MS * float64(time.Millisecond)) }

// scan types a ticket as a keyboard-wedge reader does (the text, then
// Enter), waits for the result screen, taps it away, and returns it.
func (p *phone) scan(payload string) shown {
	p.t.Helper()
	var before []shown
	p.eval(`window.__shown`, &before)
	p.do(chromedp.Focus(chromedp.ID("code")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: payload})
			return err
		}),
		chromedp.SendKeys(chromedp.ID("code"), "\r"))
	p.waitUntil("the result screen", fmt.Sprintf(`window.__shown.length > %d`, len(before)))
	var all []shown
	p.eval(`window.__shown`, &all)
	var hidden bool
	p.eval(`(() => { const r = document.getElementById('result'); if (!r.hidden) r.click(); return true; })()`, &hidden)
	p.waitUntil("the result screen to go", `document.getElementById('result').hidden`)
	return all[len(before)]
}

// queued is the outbox count the page shows.
func (p *phone) queued() string {
	var n string
	p.eval(`document.getElementById('queued-n').textContent`, &n)
	return n
}

// TestDrillPhoneNetwork puts a TCP proxy between the phone scanner page
// and the gateway, and breaks it while people are scanned: first slow
// (every chunk delayed, verdicts still online), then silent (the page
// decides offline, the first scan within 2 s of its read, and keeps
// deciding offline), then back and reset in the middle of the upload.
// The page's outbox converges: every scan it made is in the ledger once,
// and the counters equal a recount of the log.
func TestDrillPhoneNetwork(t *testing.T) {
	f := mustFair(t)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	epoch := time.Now()
	base, _ := f.gateway(t, nil, "--redis", srv.URL())
	proxy := redistest.StartProxy(t, strings.TrimPrefix(base, "http://"))
	p := startPhone(t, epoch)
	now := time.Now()
	tok, err := token.Sign(f.secret, token.Claims{Role: token.Scanner, Subject: "phone-drill",
		Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	p.login("http://"+proxy.Addr(), tok)

	n := drillSize.pageScans
	made := 0
	scan := func(want string) shown {
		t.Helper()
		made++
		s := p.scan(f.ticket(t))
		if s.Outcome != want {
			t.Fatalf("scan %d: result %s %q, want %q", made, s.Kind, s.Outcome, want)
		}
		return s
	}
	var online []time.Duration
	for range n {
		online = append(online, scan("accepted_in").after())
	}
	delay := drillSize.linkDelay
	proxy.Delay(delay)
	var slow []time.Duration
	for range n {
		slow = append(slow, scan("accepted_in").after())
	}
	proxy.Delay(0)

	proxy.Hold(true)
	fallback := scan("offline").after() // the first person after the link went silent
	var offline []time.Duration
	for range 2*n - 1 {
		offline = append(offline, scan("offline").after())
	}
	held := 2 * n
	var queued []string // the outbox: the scans decided offline, oldest first
	p.eval(`new Promise((ok, fail) => { const r = indexedDB.open('crowdflow');
	  r.onerror = () => fail(r.error);
	  r.onsuccess = () => { const all = r.result.transaction('outbox').objectStore('outbox').index('seq').getAll();
	    all.onsuccess = () => ok(all.result.map((it) => it.id)); }; })`, &queued, chromedp.EvalAwaitPromise)
	if q := p.queued(); q != fmt.Sprint(held) || len(queued) != held {
		t.Errorf("the page shows %s queued scans, its outbox holds %d, after %d offline decisions", q, len(queued), held)
	}
	// The link comes back, and is reset as soon as the first queued scan
	// is acknowledged: in the middle of the upload.
	released := time.Now()
	proxy.Hold(false)
	p.waitUntil("the upload to begin", fmt.Sprintf(`Number(document.getElementById('queued-n').textContent) < %d`, held))
	proxy.Reset()
	atReset := p.queued()
	p.waitUntil("the outbox uploaded", `document.getElementById('queued-n').textContent === '0' &&
		document.getElementById('net').dataset.state === 'online'`)
	synced := time.Since(released)
	for range n {
		scan("accepted_in")
	}
	p.waitUntil("the outbox empty", `document.getElementById('queued-n').textContent === '0'`)

	var sent []string
	p.eval(`window.__sent`, &sent)
	acked := map[string]checkin.Code{}
	for _, id := range sent {
		acked[id] = checkin.Accepted
	}
	if len(acked) != made {
		t.Errorf("the page sent %d scan ids for %d scans", len(acked), made)
	}
	o := redisengine.Options{URL: srv.URL()}
	v := checkLedger(t, &load{f: f, acked: acked}, o, false)
	if v.logged != made {
		t.Errorf("the event log has %d scans, the page made %d", v.logged, made)
	}
	// The offline decisions stand: the scans are logged as uploaded
	// offline, but the first, which reached the gateway live when the link
	// came back (and again as an upload, replayed).
	_, entries := logged(t, f.ledger(t, o))
	for i, id := range queued {
		if e := entries[id]; e.Code != checkin.Accepted || (i > 0 && !e.Flags.Has(checkin.Offline)) {
			t.Errorf("scan %s, decided offline: logged %s %s, want accepted, offline", id, e.Code, e.Flags)
		}
	}
	if site := counters(t, f.ledger(t, o))["site"]; site.Entries != made || site.Occupancy != made {
		t.Errorf("site: entries %d, occupancy %d; want %d each (every scan a new ticket in)", site.Entries, site.Occupancy, made)
	}
	if drillSize.full && fallback > 2*time.Second {
		t.Errorf("the first scan after the link went silent was decided offline %s after its read, want within 2 s", fallback)
	}
	ms := func(d []time.Duration) string { return slices.Max(d).Round(time.Millisecond).String() }
	t.Logf("phone page (Chromium) through a TCP proxy: %d scans online (slowest %s); %d with every chunk delayed %s (slowest %s); "+
		"link silenced: first offline decision %s after the read, %d more decided offline (slowest %s); link back and reset with %s of %d still queued: "+
		"outbox empty %s after the link came back; %d scans in the ledger once each (%d frames sent), %d lost, %d counted twice, counters equal the recount",
		n, ms(online), n, delay, ms(slow), fallback.Round(time.Millisecond), len(offline), ms(offline), atReset, held,
		synced.Round(time.Millisecond), v.logged, len(sent), v.lost, v.doubled)
}
