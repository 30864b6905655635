package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/report"
	"crowdflow/simulate"
	"crowdflow/token"
)

// feedDay plays a quiet simulated day of the fair into f's ledger.
func (f *fair) feedDay(tb testing.TB, day string, seed uint64) {
	tb.Helper()
	cfg := simulate.DefaultConfig(f.Event, day)
	cfg.Seed = seed
	cfg.Visitors, cfg.Walkins, cfg.Exhibitors, cfg.Staff = 300, 60, 30, 4
	cfg.Press, cfg.Guests, cfg.WorkshopParticipants = 2, 3, 10
	for i := range cfg.Shows {
		cfg.Shows[i].Draw = 40
	}
	plan, err := simulate.NewPlan(f.Event, ticketKey, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	sink := simulate.StoreSink(f.Ledger, admission.New(f.Event, ticketPub), nil)
	if err := plan.Feed(context.Background(), clock.NewManual(plan.Day.Open), sink); err != nil {
		tb.Fatal(err)
	}
}

// reportOf reads the JSON report of scope through the API.
func (f *fair) reportOf(tb testing.TB, scope, tok string) *report.Report {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.URL+"/api/v1/report?day="+scope, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var r report.Report
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("report %s: %d %v", scope, res.StatusCode, err)
	}
	return &r
}

// cells are the figures the page must show for r, by their data-k, in the
// page's formats: integers, HH:MM for a day's times, a dash for none.
func cells(r *report.Report) map[string]string {
	out := map[string]string{}
	hm := func(s *string, long bool) string {
		if s == nil {
			return "—"
		}
		t, _ := time.Parse(time.RFC3339, *s)
		if long {
			return t.Format("2006-01-02 15:04")
		}
		return t.Format("15:04")
	}
	opt := func(p *int) string {
		if p == nil {
			return "—"
		}
		return strconv.Itoa(*p)
	}
	zone := func(k string, z report.ZoneFigure, total bool) {
		for name, v := range map[string]int{"entries": z.Entries, "exits": z.Exits, "unique_visitors": z.UniqueVisitors,
			"peak_occupancy": z.PeakOccupancy, "tally_in": z.TallyIn, "tally_out": z.TallyOut, "swept": z.Swept} {
			out[k+"."+name] = strconv.Itoa(v)
		}
		out[k+".peak_at"] = hm(z.PeakAt, total)
		out[k+".dwell_median_minutes"] = opt(z.DwellMedian)
		out[k+".dwell_p90_minutes"] = opt(z.DwellP90)
		for c, n := range z.Refusals {
			out[k+".refusals."+c] = strconv.Itoa(n)
		}
	}
	gate := func(k string, g report.Gate, long bool) {
		out[k+".scans"] = strconv.Itoa(g.Scans)
		out[k+".busiest_minute"] = hm(g.BusiestMinute, long)
		out[k+".busiest_minute_scans"] = strconv.Itoa(g.BusiestScans)
		out[k+".offline_uploads"] = strconv.Itoa(g.OfflineUploads)
		out[k+".offline_overrides"] = strconv.Itoa(g.OfflineOverrides)
		out[k+".id_conflicts"] = strconv.Itoa(g.IDConflicts)
	}
	for _, d := range r.Days {
		for _, z := range d.Zones {
			zone(d.Date+"."+z.Zone, z, false)
		}
		for _, h := range d.Hours {
			for _, z := range h.Zones {
				k := d.Date + ".h" + h.Hour + "." + z.Zone
				out[k+".entries"] = strconv.Itoa(z.Entries)
				out[k+".exits"] = strconv.Itoa(z.Exits)
				out[k+".tally_in"] = strconv.Itoa(z.TallyIn)
				out[k+".tally_out"] = strconv.Itoa(z.TallyOut)
				out[k+".occupancy"] = strconv.Itoa(z.Occupancy)
			}
		}
		for _, g := range d.Gates {
			gate(d.Date+".g."+g.Gate, g, false)
		}
	}
	if r.Total != nil {
		for _, z := range r.Total.Zones {
			zone("all."+z.Zone, z, true)
		}
		for _, g := range r.Total.Gates {
			gate("all.g."+g.Gate, g, true)
		}
	}
	return out
}

// TestReportsPage: an organizer logs in and reads the reports page of a
// day in Arabic and of the whole fair in French: every figure the page
// shows is the JSON report's, the page is right to left in Arabic with
// Western digits, the charts are there as SVG, and the print preview hides
// the navigation. Screenshots of both, on screen and in print, go to
// $CROWDFLOW_ARTIFACTS (else the test's temporary directory).
func TestReportsPage(t *testing.T) {
	f := mustFair(t)
	f.feedDay(t, "2025-09-17", 21)
	f.feedDay(t, "2025-09-18", 22)
	org := f.token(t, token.Organizer)
	for name, tc := range map[string]struct {
		scope, lang, dir string
	}{
		"day in Arabic":      {scope: "2025-09-17", lang: "ar", dir: "rtl"},
		"whole fair, French": {scope: "all", lang: "fr", dir: "ltr"},
	} {
		t.Run(name, func(t *testing.T) {
			want := cells(f.reportOf(t, tc.scope, org))
			p := mustTab(t, f)
			p.do(chromedp.EmulateViewport(1280, 900))
			path := "/reports?day=" + tc.scope + "&lang=" + tc.lang
			p.do(chromedp.Navigate(f.URL + path))
			// No session yet: the login page, which comes back here.
			p.submitLogin(org)
			p.waitUntil("the reports page", `location.pathname === '/reports' && document.readyState === 'complete'`)
			if got := eval[string](p, `document.documentElement.dir + ' ' + document.documentElement.lang`); got != tc.dir+" "+tc.lang {
				t.Errorf("dir and lang: got %q, want %q", got, tc.dir+" "+tc.lang)
			}
			got := eval[map[string]string](p, `Object.fromEntries([...document.querySelectorAll('[data-k]')].map(e => [e.dataset.k, e.textContent.trim()]))`)
			var diffs []string
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if want[k] == "0" && got[k] == "" {
					continue
				}
				if got[k] != want[k] {
					diffs = append(diffs, fmt.Sprintf("%s: page %q, JSON %q", k, got[k], want[k]))
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s: on the page (%q), not in the JSON", k, got[k]))
				}
			}
			if len(diffs) > 0 {
				t.Errorf("%d figures differ from the JSON, e.g. %v", len(diffs), diffs[:min(len(diffs), 40)])
			}
			t.Logf("page %d figures, json %d", len(got), len(want))
			if len(got) < 200 {
				t.Errorf("the page shows %d figures, want every figure of the report", len(got))
			}
			p.noArabicIndic()
			charts := eval[int](p, `document.querySelectorAll('svg.chart').length`)
			if wantCharts := 2 + len(f.Event.Zones); charts < wantCharts {
				t.Errorf("%d charts, want at least %d (entries per hour, a curve per zone, the heatmap)", charts, wantCharts)
			}
			if n := eval[int](p, `document.querySelectorAll('script').length`); n != 0 {
				t.Errorf("%d scripts on the reports page, want none", n)
			}
			shot(t, p, "reports-"+tc.scope+"-"+tc.lang, tc.scope != "all")

			// The print preview: the page as Chromium prints it on A4, each
			// page an image beside the PDF. No navigation; table headers
			// repeat on every page.
			if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
				t.Fatal(err)
			}
			if got := eval[string](p, `getComputedStyle(document.querySelector('nav')).display + ' ' + getComputedStyle(document.querySelector('thead')).display`); got != "none table-header-group" {
				t.Errorf("print: nav and thead display %q, want none and table-header-group", got)
			}
			printPreview(t, p, "reports-"+tc.scope+"-"+tc.lang+"-print")
		})
	}
}

// shot writes a screenshot of the screen, or of the whole page, to
// $CROWDFLOW_ARTIFACTS. The whole fair's page is some twenty screens long:
// its print preview shows it all.
func shot(t *testing.T, p *tab, name string, whole bool) {
	t.Helper()
	dir := artifacts(t)
	ctx, cancel := context.WithTimeout(p.ctx, waitFor)
	defer cancel()
	// No scrollbar in the picture: Chromium puts it on the left of a
	// right-to-left page, where it would shift the whole page.
	eval[bool](p, `(document.documentElement.style.scrollbarWidth = 'none', true)`)
	take := chromedp.CaptureScreenshot()
	if whole {
		take = chromedp.FullScreenshot(100)
	}
	buf, err := chromedp.Run(ctx, take)
	if err != nil || !bytes.HasPrefix(buf, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %v", err)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}

// printPreview prints the page to PDF as Chromium does for paper, and
// writes each page as a PNG with poppler's pdftoppm.
func printPreview(t *testing.T, p *tab, name string) {
	t.Helper()
	dir := artifacts(t)
	yes := true
	res, err := chromedp.Call(p.ctx, page.PrintToPDF, page.PrintToPDFParams{PrintBackground: &yes, PreferCSSPageSize: &yes})
	if err != nil || !bytes.HasPrefix(res.Data, []byte("%PDF")) {
		t.Fatalf("print to pdf: %v", err)
	}
	file := filepath.Join(dir, name+".pdf")
	if err := os.WriteFile(file, res.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "pdftoppm", "-r", "60", "-png", file, filepath.Join(dir, name)).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm (poppler-utils, which make test installs): %v %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, name+"-*.png"))
	if len(pages) < 2 {
		t.Errorf("print preview: %d pages, want the report over several A4 pages", len(pages))
	}
	t.Logf("print preview: %s and %d pages", file, len(pages))
}

func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CROWDFLOW_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportsPageNeedsTheRole: without a session /reports goes to the
// login page; with a security token it is refused.
func TestReportsPageNeedsTheRole(t *testing.T) {
	f := mustFair(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, tc := range map[string]struct {
		tok    string
		path   string
		status int
	}{
		"no session":   {path: "/reports?day=all", status: http.StatusSeeOther},
		"security":     {tok: f.token(t, token.Security), path: "/reports?day=all", status: http.StatusForbidden},
		"scanner":      {tok: f.token(t, token.Scanner, "MAIN-1"), path: "/reports", status: http.StatusForbidden},
		"bad day":      {tok: f.token(t, token.Organizer), path: "/reports?day=yesterday", status: http.StatusBadRequest},
		"not a day":    {tok: f.token(t, token.Organizer), path: "/reports?day=2025-10-01", status: http.StatusNotFound},
		"organizer":    {tok: f.token(t, token.Organizer), path: "/reports?day=all", status: http.StatusOK},
		"supervisor":   {tok: f.token(t, token.Supervisor), path: "/reports?day=2025-09-17&lang=en", status: http.StatusOK},
		"post refused": {tok: f.token(t, token.Organizer), path: "/reports", status: http.StatusMethodNotAllowed},
	} {
		t.Run(name, func(t *testing.T) {
			method := http.MethodGet
			if name == "post refused" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, f.URL+tc.path, nil)
			if tc.tok != "" {
				req.Header.Set("Authorization", "Bearer "+tc.tok)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Errorf("got %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status == http.StatusSeeOther && res.Header.Get("Location") != "/login?next=%2Freports%3Fday%3Dall" {
				t.Errorf("redirect to %q", res.Header.Get("Location"))
			}
		})
	}
}
