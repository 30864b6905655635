package report_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/internal/ledgertest"
	"crowdflow/report"
	"crowdflow/simulate"
)

// TestDayMatchesSimulation feeds a simulated fair day into a ledger on a
// real redis-server, closes it, and checks every figure of the day's report
// against the simulator's ground truth, which comes from its own model of the rules.
func TestDayMatchesSimulation(t *testing.T) {
	t.Parallel()
	ev := MustEvent(t)
	plan := MustPlan(t, ev, "2025-09-18", 7)
	st := MustStore(t, ev, ledgertest.MustRedis(t))
	MustFeed(t, ev, st, plan)
	if _, err := st.CloseDue(t.Context(), plan.Day.Closes, "test"); err != nil {
		t.Fatal(err)
	}
	r, err := report.Build(t.Context(), st, ev, plan.Day.Date)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if len(r.Days) != 1 || r.Days[0].Date != plan.Day.Date || r.Total != nil {
		t.Fatalf("report of %s: days %v, total %v", plan.Day.Date, len(r.Days), r.Total)
	}
	want := plan.Figures()
	// A day worth checking: people came, were refused for several reasons,
	// and stayed.
	site := want.Zones[ev.Root().ID]
	if site.Entries < 300 || len(site.Refusals) < 3 || len(want.Zones["hall-crafts"].Stays) < 50 {
		t.Fatalf("the simulated day is too thin to test with: %+v", site)
	}
	checkDay(t, ev, r.Days[0], want)
	checkDwellAndGates(t, ev, r.Days[0], want)
}

// checkDay compares a day of a report with the simulator's figures.
func checkDay(t *testing.T, ev *event.Event, d report.Day, want simulate.DayFigures) {
	t.Helper()
	loc := ev.Location
	for i, z := range ev.Zones {
		got, w := d.Zones[i], want.Zones[z.ID]
		if got.Zone != z.ID {
			t.Fatalf("%s zone %d: got %s, want %s", d.Date, i, got.Zone, z.ID)
		}
		check := func(field string, got, want any) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s %s %s: got %v, want %v", d.Date, z.ID, field, got, want)
			}
		}
		check("entries", got.Entries, w.Entries)
		check("exits", got.Exits, w.Exits)
		check("unique_visitors", got.UniqueVisitors, w.UniqueVisitors)
		check("tally_in", got.TallyIn, w.TallyIn)
		check("tally_out", got.TallyOut, w.TallyOut)
		check("peak_occupancy", got.PeakOccupancy, w.Peak.Occupancy)
		if w.Peak.Occupancy > 0 {
			check("peak_at", deref(got.PeakAt), w.Peak.At.In(loc).Format(time.RFC3339))
		}
		refusals := map[string]int{}
		for c, n := range w.Refusals {
			refusals[string(c)] = n
		}
		check("refusals", sortedMap(got.Refusals), sortedMap(refusals))
		if t.Failed() {
			return
		}
	}
	// Hours: the report's carry the occupancy forward; the truth has the
	// hours in which something changed.
	occ := map[string]int{}
	seen := map[string]bool{}
	for _, h := range d.Hours {
		seen[h.Hour] = true
		for i, z := range ev.Zones {
			got := h.Zones[i]
			w := want.Hours[h.Hour][z.ID]
			if w == nil {
				w = &simulate.HourFigures{Occupancy: occ[z.ID]}
			}
			occ[z.ID] = w.Occupancy
			if got.Entries != w.Entries || got.Exits != w.Exits || got.TallyIn != w.TallyIn ||
				got.TallyOut != w.TallyOut || got.Occupancy != w.Occupancy {
				t.Errorf("%s %sh %s: got %+v, want %+v", d.Date, h.Hour, z.ID, got, *w)
			}
		}
	}
	for hh := range want.Hours {
		if !seen[hh] {
			t.Errorf("%s: hour %s has figures but is not in the report", d.Date, hh)
		}
	}
}

// checkDwellAndGates compares what the ledger keeps for dwell, gates and
// closing with the simulator's figures.
func checkDwellAndGates(t *testing.T, ev *event.Event, d report.Day, want simulate.DayFigures) {
	t.Helper()
	loc := ev.Location
	for i, z := range ev.Zones {
		got, w := d.Zones[i], want.Zones[z.ID]
		med, ok := w.DwellPercentile(50)
		p90, _ := w.DwellPercentile(90)
		if got.Stays != len(w.Stays) || !sameOpt(got.DwellMedian, med, ok) || !sameOpt(got.DwellP90, p90, ok) {
			t.Errorf("%s %s dwell: got %d stays, median %s, p90 %s; want %d, %d, %d", d.Date, z.ID,
				got.Stays, optString(got.DwellMedian), optString(got.DwellP90), len(w.Stays), med, p90)
		}
		if got.Swept != w.Swept || got.SweptTally != w.SweptTally {
			t.Errorf("%s %s swept: got %d and %d by tally, want %d and %d", d.Date, z.ID,
				got.Swept, got.SweptTally, w.Swept, w.SweptTally)
		}
	}
	for i, g := range ev.Gates {
		got := d.Gates[i]
		w := want.Gates[g.ID]
		if w == nil {
			w = &simulate.GateDay{}
		}
		minute, n := w.Busiest()
		wantMinute := ""
		if n > 0 {
			at, _ := time.ParseInLocation("2006-01-02 1504", d.Date+" "+minute, loc)
			wantMinute = at.Format(time.RFC3339)
		}
		if got.Scans != w.Scans || deref(got.BusiestMinute) != wantMinute || got.BusiestScans != n ||
			got.OfflineUploads != w.Offline || got.OfflineOverrides != w.Overrides {
			t.Errorf("%s gate %s: got %d scans, busiest %s (%d), %d offline, %d overrides; want %d, %s (%d), %d, %d",
				d.Date, g.ID, got.Scans, deref(got.BusiestMinute), got.BusiestScans, got.OfflineUploads,
				got.OfflineOverrides, w.Scans, wantMinute, n, w.Offline, w.Overrides)
		}
	}
}

func sameOpt(got *int, want int, ok bool) bool {
	if !ok {
		return got == nil
	}
	return got != nil && *got == want
}

func optString(p *int) string {
	if p == nil {
		return "null"
	}
	return strconv.Itoa(*p)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sortedMap(m map[string]int) string {
	var s string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != 0 {
			s += fmt.Sprintf("%s=%d ", k, m[k])
		}
	}
	return s
}

// TestFairMatchesSimulation plays a six-day fair into a ledger on a real
// redis-server, closing each day at its closing time as a gateway would:
// after each closing every zone is empty, and the report of the whole fair
// equals the simulator's ground truth day by day — the people who left by a
// door without a scanner counted as swept, badges that came back on several
// days counted once in the event's unique visitors.
func TestFairMatchesSimulation(t *testing.T) {
	t.Parallel()
	ev := MustEvent(t)
	var cfgs []simulate.Config
	for _, cfg := range simulate.DefaultFair(ev, 100, 0) {
		cfg = quietDay(cfg)
		cfg.UnscannedExitShare = 0.05
		cfgs = append(cfgs, cfg)
	}
	fair, err := simulate.NewFair(ev, MustKey(t), cfgs...)
	if err != nil {
		t.Fatalf("plan the fair: %v", err)
	}
	st := MustStore(t, ev, ledgertest.MustRedis(t))
	for i, p := range fair.Days {
		MustFeed(t, ev, st, p)
		closed, err := st.CloseDue(t.Context(), ev.Days[i].Closes, "test")
		if err != nil || len(closed) != 1 || closed[0].Date != p.Day.Date {
			t.Fatalf("close %s: %v %+v", p.Day.Date, err, closed)
		}
		cs, err := st.Counters(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for z, c := range cs {
			if c.Occupancy != 0 {
				t.Errorf("after closing %s, %s holds %d", p.Day.Date, z, c.Occupancy)
			}
		}
		if p.Unscanned == 0 {
			t.Errorf("%s: nobody left by an unscanned door, want some", p.Day.Date)
		}
	}
	r, err := report.Build(t.Context(), st, ev, report.All)
	if err != nil {
		t.Fatal(err)
	}
	want := fair.Figures()
	for i, d := range r.Days {
		checkDay(t, ev, d, want[i])
		checkDwellAndGates(t, ev, d, want[i])
		if d.ClosedAt == nil || *d.ClosedAt != ev.Days[i].Closes.In(ev.Location).Format(time.RFC3339) {
			t.Errorf("%s closed at %s, want %s", d.Date, deref(d.ClosedAt), ev.Days[i].Closes)
		}
	}
	uv := simulate.UniqueVisitors(want)
	for i, z := range ev.Zones {
		got := r.Total.Zones[i]
		var entries, swept, daily int
		for _, d := range want {
			entries += d.Zones[z.ID].Entries
			swept += d.Zones[z.ID].Swept
			daily += d.Zones[z.ID].UniqueVisitors
		}
		if got.UniqueVisitors != uv[z.ID] || got.Entries != entries || got.Swept != swept {
			t.Errorf("total %s: unique %d, entries %d, swept %d; want %d, %d, %d",
				z.ID, got.UniqueVisitors, got.Entries, got.Swept, uv[z.ID], entries, swept)
		}
		if z.ID == "hall-crafts" && uv[z.ID] >= daily {
			t.Errorf("hall-crafts: %d unique visitors over the fair, %d summed over the days: want badges counted once", uv[z.ID], daily)
		}
	}
	if r.Total.Zones[0].Swept == 0 {
		t.Error("nobody swept over the fair")
	}
	// The exit's outages: uploads came late, newest first, and a scan
	// repeated offline was superseded by its twin, counted but moving
	// nobody.
	var offline, superseded int
	for _, p := range fair.Days {
		for _, a := range p.Actions {
			if a.Offline {
				offline++
			}
			if slices.Contains(a.WantFlags, checkin.Superseded) {
				superseded++
			}
		}
	}
	var uploads int
	for _, g := range r.Total.Gates {
		uploads += g.OfflineUploads
	}
	if offline == 0 || superseded == 0 || uploads != offline {
		t.Errorf("offline uploads: %d in the report, %d planned, %d superseded; want some, all reported", uploads, offline, superseded)
	}
	t.Logf("%d offline uploads, %d superseded, %d swept", offline, superseded, r.Total.Zones[0].Swept)
}
