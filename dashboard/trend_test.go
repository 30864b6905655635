package dashboard_test

import (
	"math"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// sparkStep matches one point of a trend's path: "M<x> <y>" for the first,
// "H<x>V<y>" for each next (board.js spark).
var sparkStep = regexp.MustCompile(`(?:M([\d.]+) ([\d.]+)|H([\d.]+)V([\d.]+))`)

// TestBoardDrawsTheLastHour: a wall screen opened after 70 minutes of
// traffic draws the last 60 minutes of the site and of the stage on its
// first figures, from the snapshot: the line starts at the left edge, and
// its steps are the occupancy the ledger had at the start of each minute.
func TestBoardDrawsTheLastHour(t *testing.T) {
	f := mustFair(t)
	main, stage := mustGateClient(t, f, "MAIN-1"), mustGateClient(t, f, "STAGE")
	type sample struct {
		at          time.Time
		site, stage int
	}
	var after []sample
	start := time.Date(2025, 9, 17, 10, 0, 0, 0, f.Event.Location)
	f.Clock.Set(start)
	for i := 0; f.Clock.Now().Before(start.Add(70 * time.Minute)); i++ {
		f.Clock.Set(f.Clock.Now().Add(time.Duration(45+(i*37)%60) * time.Second))
		switch i % 4 {
		case 0, 1:
			main.tally("site", 20+(i*13)%40)
		case 2:
			stage.tally("stage", 10+(i*7)%30)
		default:
			stage.tally("stage", -5-(i*11)%20)
		}
		after = append(after, sample{f.Clock.Now(), f.counters(t, "site").Occupancy, f.counters(t, "stage").Occupancy})
	}
	f.Clock.Set(f.Clock.Now().Add(17 * time.Second)) // a screen opens a little after the last change
	now := f.Clock.Now()
	truth := func(at time.Time) (site, stage int) {
		for _, s := range after {
			if s.at.Before(at) {
				site, stage = s.site, s.stage
			}
		}
		return site, stage
	}

	p := mustTab(t, f)
	p.openBoard("/?kiosk=1&lang=fr")
	p.do(chromedp.EmulateViewport(1920, 1080))
	siteNow, _ := truth(now.Add(time.Nanosecond))
	p.waitUntil("the site's figure", `document.getElementById('site-occ').textContent.replace(/\D/g, '') === '`+
		strconv.Itoa(siteNow)+`'`)

	from := now.Truncate(time.Minute).Add(-time.Hour)
	check := func(zone, path string, capacity int, of func(site, stage int) int) {
		t.Helper()
		d := eval[string](p, `document.querySelector('`+path+` path.line')?.getAttribute('d') || ''`)
		var want []int
		for at := from; !at.After(now); at = at.Add(time.Minute) {
			want = append(want, of(truth(at)))
		}
		want = append(want, of(truth(now.Add(time.Nanosecond))))
		top := capacity
		for _, n := range want {
			top = max(top, n)
		}
		steps := sparkStep.FindAllStringSubmatch(d, -1)
		if len(steps) < len(want) {
			t.Fatalf("%s: the trend has %d points, want %d (60 minutes and now): %.200s", zone, len(steps), len(want), d)
		}
		if x := steps[0][1]; x != "0.0" {
			t.Errorf("%s: the trend starts at x=%s, want the left edge (60 minutes ago)", zone, x)
		}
		for i, n := range want {
			ys := steps[i][2] + steps[i][4]
			y, err := strconv.ParseFloat(ys, 64)
			if err != nil {
				t.Fatalf("%s: point %d: %q", zone, i, ys)
			}
			if w := 100 - float64(n)/float64(top)*98; math.Abs(y-w) > 0.051 {
				t.Errorf("%s: point %d (%s): y=%s, want %.1f (occupancy %d)", zone, i,
					from.Add(time.Duration(i)*time.Minute).Format("15:04"), ys, w, n)
			}
		}
	}
	check("site", "#site-spark", f.Event.Zone("site").Capacity, func(site, _ int) int { return site })
	check("stage", "#zone-stage .spark", f.Event.Zone("stage").Capacity, func(_, stage int) int { return stage })
	p.screenshot("kiosk-trend-fr-1920x1080")
}
