package dashboard_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"crowdflow/token"
)

// arabicIndic matches Arabic-Indic and Eastern Arabic-Indic digits, which
// the pages never show (U7: Western digits, as in CLDR ar_MA).
var arabicIndic = regexp.MustCompile(`[٠-٩۰-۹]`)

// pageText is all the text of the page, the result screen included.
const pageText = `document.body.innerText + ' ' + document.body.textContent`

func TestScanAcceptedInArabicAndFrench(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.do(chromedp.Navigate(f.URL + "/login"))
	p.lang("ar")
	if got := eval[string](p, `document.documentElement.dir + ' ' + document.title`); got != "rtl الدخول — crowdflow" {
		t.Errorf("login page in Arabic: got %q", got)
	}
	p.screenshot("login-ar")
	p.login(f.token(t, token.Scanner))

	if got := eval[string](p, `document.documentElement.lang + ' ' + document.documentElement.dir`); got != "ar-MA rtl" {
		t.Errorf("<html lang dir>: got %q, want %q", got, "ar-MA rtl")
	}
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	r := p.waitResult("ok")
	if r.AR != "دخول مقبول" || r.FR != "Entrée acceptée" || r.EN != "Entry accepted" || r.Icon != "✔" {
		t.Errorf("green screen: got %+v", r)
	}
	if !strings.Contains(r.Occ, "1 / 1621") || !strings.Contains(r.Occ, "فضاء المعرض") {
		t.Errorf("green screen occupancy: got %q, want the site in Arabic with 1 / 1621", r.Occ)
	}
	if r.Tap {
		t.Error("a green screen asks for a tap")
	}
	if text := eval[string](p, pageText); arabicIndic.MatchString(text) {
		t.Errorf("Arabic-Indic digits in the Arabic page: %q", arabicIndic.FindAllString(text, -1))
	}
	p.screenshot("scan-ok-ar")
	// Green clears by itself.
	p.waitUntil("the green screen to clear", `document.getElementById('result').hidden`)
	if got := eval[string](p, `document.getElementById('occ-n').textContent + '/' + document.getElementById('occ-cap').textContent`); got != "1/1621" {
		t.Errorf("status bar occupancy: got %q, want 1/1621", got)
	}
	if text := eval[string](p, pageText); arabicIndic.MatchString(text) {
		t.Errorf("Arabic-Indic digits in the Arabic page: %q", arabicIndic.FindAllString(text, -1))
	}
	if at := eval[string](p, `document.getElementById('occ-at').textContent`); !regexp.MustCompile(`^1[01]:\d\d$`).MatchString(at) {
		t.Errorf("time of the last verdict: got %q, want HH:mm (24 h, the fair's clock)", at)
	}
	p.screenshot("scan-page-ar")

	p.lang("fr")
	if got := eval[string](p, `document.documentElement.lang + ' ' + document.documentElement.dir`); got != "fr-MA ltr" {
		t.Errorf("<html lang dir>: got %q, want %q", got, "fr-MA ltr")
	}
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	r = p.waitResult("ok")
	if r.AR != "دخول مقبول" || r.FR != "Entrée acceptée" || !strings.Contains(r.Occ, "Site du salon 2 / 1621") {
		t.Errorf("green screen in French: got %+v", r)
	}
	p.screenshot("scan-ok-fr")
	p.waitUntil("the green screen to clear", `document.getElementById('result').hidden`)
	p.screenshot("scan-page-fr")

	// The language is remembered.
	p.do(chromedp.Reload())
	p.waitUntil("the page after a reload", `document.getElementById('net').dataset.state === 'online'`)
	if got := eval[string](p, `document.documentElement.lang`); got != "fr-MA" {
		t.Errorf("language after a reload: got %q, want fr-MA", got)
	}
	if got := f.counters(t, "site"); got.Occupancy != 2 || got.Entries != 2 {
		t.Errorf("store: site occupancy %d, entries %d; want 2 and 2", got.Occupancy, got.Entries)
	}
}

func TestRefusalsWaitForATap(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	p.recordTimers()
	p.lang("ar")

	p.scan(mustTicket(t, f.Event, ticketSpec{Forged: true}))
	r := p.waitResult("stop")
	if r.Outcome != "invalid_ticket" || r.AR != "تذكرة غير صالحة" || r.FR != "Billet non valable" || r.Icon != "✖" || !r.Tap {
		t.Errorf("red screen: got %+v", r)
	}
	p.screenshot("scan-refused-ar")
	// Every timer the page armed since the scan fires now (a green screen's
	// clears it, as shown below): a red one must still be there.
	p.elapse()
	if got := eval[result](p, readResult); got.Kind != "stop" {
		t.Fatalf("the red screen went away without a tap: %+v", got)
	}
	if got := eval[string](p, `document.body.dataset.signal`); got != "stop" {
		t.Errorf("signal: got %q, want stop", got)
	}
	p.dismiss()

	p.lang("fr")
	p.scan(mustTicket(t, f.Event, ticketSpec{Days: []string{"2025-09-18"}}))
	r = p.waitResult("stop")
	if r.Outcome != "not_valid_today" || r.FR != "Pas valable aujourd'hui" {
		t.Errorf("red screen, another day's ticket: got %+v", r)
	}
	p.screenshot("scan-refused-fr")
	p.dismiss()

	// Twice in: the second is already inside, amber, and waits too.
	tk := mustTicket(t, f.Event, ticketSpec{})
	p.scan(tk)
	p.waitResult("ok")
	// The control for elapse: a green screen clears when its timer fires.
	if n := p.elapse(); n == 0 || !eval[bool](p, `document.getElementById('result').hidden`) {
		t.Fatalf("firing the page's %d timers left the green screen up: elapse does not make time pass", n)
	}
	p.scan(tk)
	r = p.waitResult("warn")
	if r.Outcome != "already_inside" || r.FR != "Déjà à l'intérieur" || r.AR != "التذكرة بالداخل" || r.Icon != "!" || !r.Tap {
		t.Errorf("amber screen: got %+v", r)
	}
	p.screenshot("scan-already-inside-fr")
	p.elapse()
	if got := eval[result](p, readResult); got.Kind != "warn" {
		t.Fatalf("the amber screen went away without a tap: %+v", got)
	}
	// The status bar stays above the result screen: the language too.
	p.lang("ar")
	if got := eval[result](p, readResult); got.Kind != "warn" {
		t.Fatalf("switching the language dismissed the amber screen: %+v", got)
	}
	p.screenshot("scan-already-inside-ar")
	p.dismiss()

	got := f.counters(t, "site")
	if got.Occupancy != 1 || got.Refusals["invalid_ticket"] != 1 || got.Refusals["not_valid_today"] != 1 {
		t.Errorf("store: site %+v; want occupancy 1 and one refusal each of invalid_ticket, not_valid_today", got)
	}
}

func TestTally(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner, "STAGE"))
	p.lang("fr")
	if got := eval[string](p, `document.getElementById('where-gate').textContent`); got != "Entrée de la scène" {
		t.Errorf("the only gate of the token: got %q", got)
	}
	p.do(chromedp.Click(chromedp.ID("mode-tally")))
	for i, id := range []string{"tally-plus", "tally-plus", "tally-plus", "tally-minus"} {
		p.do(chromedp.Click(chromedp.ID(id)))
		// One at a time, as a steward clicks: each is answered first.
		p.waitUntil("the tally's answer", `document.getElementById('queued-n').textContent === '0' &&
			document.getElementById('tally-note').dataset.kind === 'ok'`)
		p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('tally-note').dataset.kind = ''`))
		_ = i
	}
	p.waitUntil("the page's count", `document.getElementById('occ-n').textContent === '2'`)
	if got := eval[string](p, `document.getElementById('occ-zone').textContent + ' ' + document.getElementById('occ-cap').textContent`); got != "Scène des spectacles folkloriques 646" {
		t.Errorf("status bar zone: got %q", got)
	}
	p.screenshot("tally-fr")
	got := f.counters(t, "stage")
	if got.Occupancy != 2 || got.TallyIn != 3 || got.TallyOut != 1 {
		t.Errorf("store: stage occupancy %d, tally in %d, out %d; want 2, 3, 1", got.Occupancy, got.TallyIn, got.TallyOut)
	}
	if w := eval[int](p, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("the page is %d px wider than the phone's screen", w)
	}
}

func TestOfflineQueueUploadsOnce(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	p.lang("fr")
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	p.waitResult("ok")

	p.cutLink()
	p.waitUntil("the green screen to clear", `document.getElementById('result').hidden`)
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	r := p.waitResult("warn")
	if r.Outcome != "offline" || r.FR != "Enregistré hors ligne" || r.AR != "محفوظ دون اتصال" {
		t.Errorf("saved-offline screen: got %+v", r)
	}
	if len(r.Details) == 0 || r.Details[0] != "Signature du billet valide." {
		t.Errorf("saved-offline screen: details %q, want the offline signature check first", r.Details)
	}
	p.waitUntil("one queued scan", `document.getElementById('queued-n').textContent === '1'`)
	p.screenshot("scan-offline-fr")
	p.dismiss()

	// Offline, a forged ticket is still red at an entry; it waits in the
	// queue as well, for the log.
	p.scan(mustTicket(t, f.Event, ticketSpec{Forged: true}))
	if r := p.waitResult("stop"); r.Outcome != "invalid_ticket" {
		t.Errorf("forged ticket offline: got %+v", r)
	}
	p.dismiss()
	// A tally offline is queued too.
	p.do(chromedp.Click(chromedp.ID("mode-tally")), chromedp.Click(chromedp.ID("tally-plus")))
	p.waitUntil("three queued", `document.getElementById('queued-n').textContent === '3'`)
	if n := eval[int](p, `new Promise((ok) => { const r = indexedDB.open('crowdflow');
		r.onsuccess = () => { const c = r.result.transaction('outbox').objectStore('outbox').count(); c.onsuccess = () => ok(c.result); }; })`, chromedp.EvalAwaitPromise); n != 3 {
		t.Errorf("IndexedDB outbox: %d messages, want 3", n)
	}
	if got := f.counters(t, "site"); got.Entries != 1 {
		t.Fatalf("store while offline: site entries %d, want 1", got.Entries)
	}

	f.Link.Mend()
	p.waitUntil("the upload", `document.getElementById('net').dataset.state === 'online' &&
		document.getElementById('queued-n').textContent === '0'`)
	got := f.counters(t, "site")
	if got.Entries != 2 || got.Occupancy != 3 || got.Refusals["invalid_ticket"] != 1 || got.TallyIn != 1 {
		t.Errorf("store after the upload: site %+v; want 2 entries, occupancy 3 (2 + 1 tally), 1 invalid_ticket", got)
	}
	// Exactly once: a reconnection uploads nothing again.
	p.reconnect()
	if again := f.counters(t, "site"); again.Entries != 2 || again.Occupancy != 3 {
		t.Errorf("store after a second reconnection: site entries %d, occupancy %d; want 2 and 3", again.Entries, again.Occupancy)
	}
}

func TestKeyboardLayoutHint(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	p.lang("fr")
	// What a reader configured for US English types on a French AZERTY host.
	p.scan(azerty(mustTicket(t, f.Event, ticketSpec{})))
	r := p.waitResult("ok") // the gateway recovers the payload
	if r.Outcome != "accepted_in" {
		t.Errorf("AZERTY-typed ticket: got %+v", r)
	}
	if len(r.Details) != 1 || !strings.Contains(r.Details[0], "clavier") {
		t.Errorf("green screen details: got %q, want the keyboard layout hint", r.Details)
	}
	p.waitUntil("the green screen to clear", `document.getElementById('result').hidden`)
	if hidden := eval[bool](p, `document.getElementById('layout-hint').hidden`); hidden {
		t.Error("no keyboard layout hint after an AZERTY-typed ticket")
	}
	p.screenshot("layout-hint-fr")
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	p.waitResult("ok")
	if hidden := eval[bool](p, `document.getElementById('layout-hint').hidden`); !hidden {
		t.Error("the keyboard layout hint stays after a well-typed ticket")
	}
	// The start of a code typed on an Arabic host shows it as it comes.
	p.do(chromedp.SendKeys(chromedp.ID("code"), "ؤب1:"))
	p.waitUntil("the hint for Arabic", `!document.getElementById('layout-hint').hidden`)
}

// azerty is what a US-configured keyboard-wedge reader types on a host with
// the French AZERTY layout (ticket.Normalize recovers it).
func azerty(payload string) string {
	m := map[rune]string{'1': "&", '2': "é", '3': `"`, '4': "'", '5': "(", '6': "-", '7': "è",
		'A': "Q", 'Q': "A", 'Z': "W", 'W': "Z", 'M': "?", ':': "M"}
	var b strings.Builder
	for _, r := range payload {
		if s, ok := m[r]; ok {
			b.WriteString(s)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestCamera: Chromium's fake camera films a ticket (a Y4M video made from
// ticket.PNG); the page decodes it with the vendored ZXing WebAssembly and
// shows the verdict.
func TestCamera(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	p.lang("fr")
	p.do(chromedp.Click(chromedp.ID("camera-btn")))
	r := p.waitResult("ok")
	if r.Outcome != "accepted_in" {
		t.Errorf("camera scan: got %+v", r)
	}
	if got := eval[string](p, `document.body.dataset.detector`); got != "zxing-wasm" {
		t.Errorf("detector: got %q, want the vendored zxing-wasm polyfill", got)
	}
	p.screenshot("camera-ok-fr")
	// The code stays in front of the camera: it is not scanned again.
	p.waitUntil("the green screen to clear", `document.getElementById('result').hidden`)
	seen := eval[int](p, `Number(document.body.dataset.detections || 0)`)
	p.waitUntil("three more passes over the code", fmt.Sprintf(`Number(document.body.dataset.detections) >= %d`, seen+3))
	if got := f.counters(t, "site"); got.Entries != 1 || got.Refusals["already_inside"] != 0 {
		t.Errorf("store: site %+v; want 1 entry and no second scan", got)
	}
	p.do(chromedp.Click(chromedp.ID("camera-btn")))
}
