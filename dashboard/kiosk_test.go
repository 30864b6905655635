package dashboard_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"crowdflow/token"
)

// layoutCheck is what checkLayout looks at.
type layoutCheck struct {
	Roots    []string `json:"roots"`    // the parts of the page whose text is checked (CSS selectors)
	Figures  string   `json:"figures"`  // the figures, which must each hold on one line
	Sparks   string   `json:"sparks"`   // the trends, which must each be at least MinSpark of the screen
	MinSpark float64  `json:"minSpark"` // a trend's least height and width, as a share of the screen's
	NoScroll bool     `json:"noScroll"` // the page must fit the screen: no scrolling either way
}

// layoutProblems is a function of the page that returns, as sentences,
// what a person would see wrong on the screen: two pieces of text on top
// of each other (compared line box by line box, with Range rects of the
// text nodes), text cut by its box, a figure on more than one line, a trend
// too small to read, a page taller or wider than the screen.
const layoutProblems = `((o) => {
  const out = [];
  const vw = innerWidth, vh = innerHeight;
  const label = (el) => {
    const id = el.id ? '#' + el.id : '';
    const cls = el.classList.length ? '.' + [...el.classList].join('.') : '';
    const card = el.closest('[data-zone],[data-gate]');
    const where = card ? ' in ' + (card.dataset.zone || card.dataset.gate) : '';
    return el.tagName.toLowerCase() + id + cls + where;
  };
  const texts = [];
  for (const sel of o.roots) {
    for (const root of document.querySelectorAll(sel)) {
      const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const el = n.parentElement;
        if (!n.textContent.trim() || !el || el.closest('.sr-only,svg')) continue;
        if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
        const r = document.createRange();
        r.selectNodeContents(n);
        const rects = [...r.getClientRects()].filter((b) => b.width > 1 && b.height > 1);
        if (rects.length) texts.push({ n, el, rects, text: n.textContent.trim().slice(0, 40) });
      }
    }
  }
  const seen = new Set();
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i], b = texts[j];
      for (const ra of a.rects) for (const rb of b.rects) {
        const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        // A few pixels of the glyph boxes' leading may touch; letters do not.
        if (w > 3 && h > 0.25 * Math.min(ra.height, rb.height)) {
          const key = i + ':' + j;
          if (!seen.has(key)) {
            seen.add(key);
            out.push('text over text: "' + a.text + '" (' + label(a.el) + ') and "' + b.text + '" (' + label(b.el) + ')');
          }
        }
      }
    }
  }
  const clipped = new Set();
  for (const { el, text } of texts) {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e);
      const cut = (s.overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 1) ||
        (s.overflowY !== 'visible' && e.scrollHeight > e.clientHeight + 1);
      if (cut && !clipped.has(e)) {
        clipped.add(e);
        out.push('text cut by its box: "' + text + '" (' + label(e) + ')');
      }
    }
  }
  const off = texts.filter(({ rects }) => rects.some((b) => b.left < -1 || b.right > vw + 1 ||
    (o.noScroll && (b.top < -1 || b.bottom > vh + 1))));
  if (off.length) {
    out.push(off.length + ' pieces of text off the screen, the first "' + off[0].text + '" (' + label(off[0].el) + ')');
  }
  if (o.figures) {
    for (const el of document.querySelectorAll(o.figures)) {
      if (!el.checkVisibility() || el.closest('[hidden]')) continue;
      const r = document.createRange();
      r.selectNodeContents(el);
      const rects = [...r.getClientRects()].filter((b) => b.width > 1 && b.height > 1);
      if (!rects.length) continue;
      const top = Math.min(...rects.map((b) => b.top)), bottom = Math.max(...rects.map((b) => b.bottom));
      const line = Math.max(...rects.map((b) => b.height));
      if (bottom - top > 1.5 * line) out.push('a figure on more than one line: "' + el.textContent.trim() + '" (' + label(el) + ')');
    }
  }
  if (o.sparks) {
    for (const el of document.querySelectorAll(o.sparks)) {
      if (!el.checkVisibility()) continue;
      const b = el.getBoundingClientRect();
      if (b.height < o.minSpark * vh || b.width < o.minSpark * vw) {
        out.push('a trend too small to read: ' + Math.round(b.width) + '×' + Math.round(b.height) + ' px (' + label(el) + ')');
      }
    }
  }
  const s = document.scrollingElement;
  if (o.noScroll && s.scrollHeight > vh) out.push('the page scrolls: ' + s.scrollHeight + ' px tall on a screen of ' + vh);
  if (s.scrollWidth > vw) out.push('the page scrolls sideways: ' + s.scrollWidth + ' px wide on a screen of ' + vw);
  return out;
})`

// checkLayout fails the test with every layout problem of the page as it
// is on the screen now, prefixed with where.
func (t *tab) checkLayout(where string, c layoutCheck) {
	t.tb.Helper()
	if c.Roots == nil {
		c.Roots = []string{"body"}
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.tb.Fatal(err)
	}
	for _, p := range eval[[]string](t, layoutProblems+"("+string(b)+")") {
		t.tb.Errorf("%s: %s", where, p)
	}
}

// busyFair fills the fair as on a busy evening: every zone holds people,
// the terroir hall is critical, the workshops nearly full, the crafts hall
// at its warning, the site critical; several gates online, others not,
// a scan or two for the rates, and a gate with unsynced scans.
func busyFair(tb testing.TB, f *fair) {
	tb.Helper()
	tallies := map[string]struct {
		gate string
		n    int
	}{
		"hall-crafts":  {"HALL-CRAFTS", 402},  // of 485: 82 %, warn
		"hall-terroir": {"HALL-TERROIR", 381}, // of 414: 92 %, critical
		"pavilion":     {"PAVILION", 118},     // of 192: 61 %
		"workshops":    {"WORKSHOPS", 97},     // of 100: 97 %, critical
		"stage":        {"STAGE", 486},        // of 646: 75 %
	}
	for zone, tl := range tallies {
		mustGateClient(tb, f, tl.gate).tally(zone, tl.n)
	}
	main := mustGateClient(tb, f, "MAIN-1")
	for range 3 {
		main.scan(mustTicket(tb, f.Event, ticketSpec{}), "in")
	}
	// A pavilion device holds scans it decided offline: the pavilion and
	// the site show "at least", the gate its queue.
	mustGateClient(tb, f, "PAVILION").status(7, f.Clock.Now().Add(-9*time.Minute))
}

// boardFigures are the figures of the board, each on one line.
const boardFigures = `.big, .pct, .z-flow dd, .site-flow b, .badge, .g-rate, #updated`

// The screens of the wall: full HD and 720p.
var wallScreens = []struct{ w, h int64 }{{1920, 1080}, {1280, 720}}

// TestPagesFitTheirScreens runs, side by side on one busy fair, the wall
// screen's layout test and the phone's.
func TestPagesFitTheirScreens(t *testing.T) {
	f := mustFair(t)
	// The wall at the opening: every zone empty, no alert yet.
	quiet := mustTab(t, f)
	quiet.openBoard("/?kiosk=1&lang=fr")
	quiet.do(chromedp.EmulateViewport(1920, 1080))
	quiet.checkLayout("kiosk-quiet-fr-1920x1080", layoutCheck{Figures: boardFigures, NoScroll: true})
	quiet.screenshot("kiosk-quiet-fr-1920x1080")
	busyFair(t, f)
	t.Run("wall", func(t *testing.T) { t.Parallel(); kioskFitsTheWall(t, f) })
	t.Run("phone", func(t *testing.T) { t.Parallel(); scanPageFitsAPhone(t, f) })
}

// kioskFitsTheWall: the wall screen (/?kiosk=1), fed a busy evening, holds
// on one screen at 1920×1080 and 1280×720 in Arabic, French and English:
// no text over text, no figure on two lines, a trend that can be read, no
// scrolling. The laptop board (1366×768, 1600×1000) has no text over text
// and no wrapped figure either. Screenshots of each are written for a
// person to look at.
func kioskFitsTheWall(t *testing.T, f *fair) {
	p := mustTab(t, f)
	p.openBoard("/?kiosk=1&lang=fr")
	for _, l := range []string{"ar", "fr", "en"} {
		p.do(chromedp.Navigate(f.URL + "/?kiosk=1&lang=" + l))
		p.waitBoardLive()
		p.waitUntil("the alerts and the marks of a lower bound", `!document.getElementById('alerts').hidden &&
			document.querySelector('#zone-hall-terroir[data-level="critical"]') &&
			!document.querySelector('#zone-pavilion .z-atleast').hidden && !document.getElementById('site-atleast').hidden`)
		for _, s := range wallScreens {
			p.do(chromedp.EmulateViewport(s.w, s.h))
			name := fmt.Sprintf("kiosk-%s-%dx%d", l, s.w, s.h)
			p.checkLayout(name, layoutCheck{Figures: boardFigures, Sparks: ".zone .spark, #site-spark", MinSpark: 0.07, NoScroll: true})
			p.screenshot(name)
		}
		p.do(chromedp.Navigate(f.URL + "/?lang=" + l))
		p.waitBoardLive()
		for _, s := range []struct{ w, h int64 }{{1366, 768}, {1600, 1000}} {
			p.do(chromedp.EmulateViewport(s.w, s.h))
			name := fmt.Sprintf("board-%s-%dx%d", l, s.w, s.h)
			p.checkLayout(name, layoutCheck{Figures: boardFigures})
			p.screenshot(name)
		}
	}
	// The evacuation view on the wall: a table that may be longer than
	// the screen, but never text over text.
	p.do(chromedp.Navigate(f.URL+"/?kiosk=1&view=evacuation&lang=fr"), chromedp.EmulateViewport(1920, 1080))
	p.waitUntil("the evacuation view on the wall", `document.body.dataset.conn === 'live' &&
		document.querySelectorAll('#evac-rows tr').length > 0`)
	p.checkLayout("kiosk-evacuation-fr-1920x1080", layoutCheck{Roots: []string{"main"}, Figures: `.evac-table td.n`})
	p.screenshot("kiosk-evacuation-fr-1920x1080")
}

// scanPageFitsAPhone: the scanner page on a 360×800 phone, opened with
// ?lang=ar or ?lang=fr, is in that language, and neither its main screen
// (before and after a verdict) nor its verdict screen has text over text,
// a figure on two lines or a page wider or taller than the phone.
func scanPageFitsAPhone(t *testing.T, f *fair) {
	p := mustTab(t, f)
	p.do(chromedp.EmulateViewport(360, 800))
	p.login(f.token(t, token.Scanner))
	const figures = `.occ-figures, #queued-n, #r-occ-n`
	for _, l := range []string{"ar", "fr"} {
		p.do(chromedp.Navigate(f.URL + "/scan?lang=" + l))
		p.waitUntil("the scanner page in "+l, `document.getElementById('net').dataset.state === 'online' &&
			document.documentElement.lang.startsWith('`+l+`')`)
		main := layoutCheck{Roots: []string{".status", "main"}, Figures: figures, NoScroll: true}
		p.checkLayout("scan-"+l+" before a verdict", main)
		p.screenshot("scan-fit-" + l)
		p.scan(mustTicket(t, f.Event, ticketSpec{Forged: true}))
		p.waitResult("stop")
		p.checkLayout("scan-"+l+" verdict", layoutCheck{Roots: []string{".status", "#result"}, Figures: figures, NoScroll: true})
		p.screenshot("scan-fit-verdict-" + l)
		p.dismiss()
		p.scan(mustTicket(t, f.Event, ticketSpec{}))
		p.waitResult("ok")
		p.waitUntil("the green screen to clear", `document.getElementById('result').hidden`)
		p.checkLayout("scan-"+l+" after a verdict", main)
		p.screenshot("scan-fit-after-" + l)
	}
}
