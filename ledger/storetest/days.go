package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/ledger"
)

// testDays checks that each day starts from zero (DESIGN rule 7, CONTRACT
// §8) and that late uploads follow the ticket's latest scan (rule 8), with
// the cases of issue 7 written out.
func testDays(t *testing.T, open func(t *testing.T) ledger.Engine) {
	loc := MustLocation(t)
	local := func(day, hh, mm int) time.Time { return time.Date(2025, 9, day, hh, mm, 0, 0, loc) }
	scan := func(id, ticket, zone string, dir checkin.Direction, at time.Time) ledger.Scan {
		return ledger.Scan{ID: id, Device: "dev", Gate: "g-" + zone, Zone: zone, Direction: dir,
			Ticket: ticket, Type: "visitor", Reentry: true, Precheck: checkin.Accepted, At: at, DeviceAt: at}
	}
	upload := func(sc ledger.Scan, received time.Time, decided checkin.Code) ledger.Scan {
		sc.Flags, sc.Decided, sc.Received = checkin.Flags{checkin.Offline}, decided, received
		return sc
	}
	want := func(tb testing.TB, got ledger.Verdict, code checkin.Code, flags ...checkin.Flag) {
		tb.Helper()
		w := checkin.Flags{}
		for _, f := range flags {
			w = w.With(f)
		}
		if got.Code != code || got.Flags.String() != w.String() {
			tb.Errorf("got %s %v, want %s %v", got.Code, got.Flags, code, w)
		}
	}
	occupancy := func(tb testing.TB, st *ledger.Store, zone string) int {
		tb.Helper()
		return MustCounters(tb, st)[zone].Occupancy
	}
	field := func(tb testing.TB, st *ledger.Store, date, k string) string {
		tb.Helper()
		return MustDay(tb, st, date)[k]
	}

	t.Run("visitors who left by an unscanned door are swept at closing, and enter again the next day", func(t *testing.T) {
		st := MustStoreDays(t, open, fairZones, FairDays(t))
		want(t, MustScan(t, st, scan("in-v1", "v1", site, checkin.In, local(18, 11, 0))), checkin.Accepted)
		want(t, MustScan(t, st, scan("in-v2", "v2", hallA, checkin.In, local(18, 11, 1))), checkin.Accepted,
			checkin.ImplicitEntry)
		want(t, MustScan(t, st, scan("in-v3", "v3", coopA, checkin.In, local(18, 11, 2))), checkin.Accepted,
			checkin.ImplicitEntry)
		MustTally(t, st, ledger.Tally{ID: "tally-1", Zone: stage, Delta: 2, At: local(18, 12, 0)})
		// Nobody scans out. The next morning, the first scan closes the 18th.
		v := MustScan(t, st, scan("again-v1", "v1", site, checkin.In, local(19, 11, 0)))
		want(t, v, checkin.Accepted)
		if v.Occupancy != 1 {
			t.Errorf("site occupancy after the first entry of the 19th: %d, want 1", v.Occupancy)
		}
		for z, w := range map[string]string{site: "3", hallA: "2", coopA: "1"} {
			if got := field(t, st, "2025-09-18", z+"|swept"); got != w {
				t.Errorf("18th %s|swept = %q, want %q", z, got, w)
			}
		}
		if got := field(t, st, "2025-09-18", "stage|swept_tally"); got != "2" {
			t.Errorf("18th stage|swept_tally = %q, want 2", got)
		}
		if got := field(t, st, "2025-09-18", "site|swept_tally"); got != "2" {
			t.Errorf("18th site|swept_tally = %q, want 2", got)
		}
		cs, _ := MustRecountAgrees(t, st, fairZones)
		if cs[site].Swept != 3 || cs[hallA].Swept != 2 || cs[stage].Occupancy != 0 || cs[hallA].Occupancy != 0 {
			t.Errorf("after the closing: site swept %d, hall-a swept %d, stage %d, hall-a %d; want 3, 2, 0, 0",
				cs[site].Swept, cs[hallA].Swept, cs[stage].Occupancy, cs[hallA].Occupancy)
		}
		if g, w := MustPlace(t, st, "v2"), ""; g != w {
			t.Errorf("v2 is in %q, want outside", g)
		}
		// A single-entry ticket used yesterday enters again today.
		sc := scan("again-v2", "v2", hallA, checkin.In, local(19, 11, 5))
		sc.Reentry = false
		want(t, MustScan(t, st, sc), checkin.Accepted, checkin.ImplicitEntry)
	})

	t.Run("an offline entry uploaded after a later live exit moves nothing", func(t *testing.T) {
		st := MustStoreDays(t, open, fairZones, FairDays(t))
		MustScan(t, st, scan("in-live", "v1", site, checkin.In, local(17, 9, 50)))
		entry := scan("in-offline", "v1", hallB, checkin.In, local(17, 10, 0)) // recorded offline at 10:00
		want(t, MustScan(t, st, scan("out-live", "v1", site, checkin.Out, local(17, 10, 5))), checkin.Accepted)
		want(t, MustScan(t, st, upload(entry, local(17, 10, 30), checkin.Accepted)), checkin.Accepted,
			checkin.Offline, checkin.Superseded)
		if p := MustPlace(t, st, "v1"); p != "" {
			t.Errorf("v1 is in %q, want outside", p)
		}
		if o, o2 := occupancy(t, st, site), occupancy(t, st, hallB); o != 0 || o2 != 0 {
			t.Errorf("site %d, hall-b %d; want 0 and 0", o, o2)
		}
		if got := field(t, st, "2025-09-17", "hall-b|in"); got != "1" {
			t.Errorf("hall-b|in = %q, want 1: the upload counts for the report", got)
		}
		// A later upload that is not superseded still moves the ticket.
		late := upload(scan("in-offline-2", "v1", hallB, checkin.In, local(17, 10, 20)), local(17, 10, 31), checkin.Accepted)
		want(t, MustScan(t, st, late), checkin.Accepted, checkin.Offline, checkin.ImplicitEntry)
		MustRecountAgrees(t, st, fairZones)
	})

	t.Run("an offline upload from a closed day is counted for that day and moves nobody", func(t *testing.T) {
		st := MustStoreDays(t, open, fairZones, FairDays(t))
		MustScan(t, st, scan("first", "v9", site, checkin.In, local(18, 10, 0))) // closes nothing: the 17th had no one
		up := upload(scan("up-1", "v1", hallA, checkin.In, local(17, 19, 0)), local(18, 10, 5), checkin.Accepted)
		want(t, MustScan(t, st, up), checkin.Accepted, checkin.Offline, checkin.Superseded)
		exit := upload(scan("up-2", "v1", hallA, checkin.Out, local(17, 19, 30)), local(18, 10, 6), "")
		want(t, MustScan(t, st, exit), checkin.Accepted, checkin.Offline, checkin.Superseded)
		for k, w := range map[string]string{"hall-a|in": "1", "hall-a|out": "1", "hall-a|uv": "1", "|g|g-hall-a|offline": "2"} {
			if got := field(t, st, "2025-09-17", k); got != w {
				t.Errorf("17th %s = %q, want %q", k, got, w)
			}
		}
		if p := MustPlace(t, st, "v1"); p != "" {
			t.Errorf("v1 is in %q, want outside", p)
		}
		if o := occupancy(t, st, site); o != 1 {
			t.Errorf("site %d, want 1 (v9 only)", o)
		}
		MustRecountAgrees(t, st, fairZones)
	})

	t.Run("days close once, whoever races to close them", func(t *testing.T) {
		st := MustStoreDays(t, open, fairZones, FairDays(t))
		for i := range 4 {
			MustScan(t, st, scan(fmt.Sprint("in-", i), fmt.Sprint("v", i), hallB, checkin.In, local(17, 11, i)))
		}
		// Two gateways' tickers and scans arriving at once, after the closing.
		after := local(17, 21, 0)
		var wg sync.WaitGroup
		closings := make(chan int, 16)
		for i := range 8 {
			wg.Go(func() {
				if i%2 == 0 {
					cs, err := st.CloseDue(t.Context(), after, fmt.Sprint("gateway-", i))
					if err != nil {
						t.Errorf("close due: %v", err)
					}
					closings <- len(cs)
					return
				}
				sc := scan(fmt.Sprint("late-", i), fmt.Sprint("w", i), site, checkin.Out, after)
				if _, err := st.Scan(t.Context(), sc); err != nil {
					t.Errorf("scan: %v", err)
				}
			})
		}
		wg.Wait()
		close(closings)
		n := 0
		for c := range closings {
			n += c
		}
		if n > 1 {
			t.Errorf("%d callers closed the 17th, want at most one (a scan may have closed it)", n)
		}
		if got := field(t, st, "2025-09-17", "hall-b|swept"); got != "3" { // hall-b holds 3
			t.Errorf("17th hall-b|swept = %q, want 3 (counted once)", got)
		}
		closed, err := st.Closed(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !closed["2025-09-17"].Equal(FairDays(t)[0].Close) || len(closed) != 1 {
			t.Errorf("closed days %v, want the 17th at its closing time only", closed)
		}
		cs, log := MustRecountAgrees(t, st, fairZones)
		kinds := map[string]int{}
		for _, e := range log {
			kinds[e.Kind]++
		}
		if kinds["swept"] != 3 || kinds["close"] != 1 || cs[site].Occupancy != 0 {
			t.Errorf("log has %d swept and %d close entries, site %d; want 3, 1 and 0", kinds["swept"], kinds["close"], cs[site].Occupancy)
		}
	})

	t.Run("days nobody closed close at the next call, the sweep on the first of them", func(t *testing.T) {
		st := MustStoreDays(t, open, fairZones, FairDays(t))
		MustScan(t, st, scan("in-1", "v1", stage, checkin.In, local(17, 15, 0)))
		// No gateway runs on the 18th; one starts on the 19th at 21:00.
		cs, err := st.CloseDue(t.Context(), local(19, 21, 0), "gateway")
		if err != nil {
			t.Fatal(err)
		}
		if got := formatClosings(cs); got != "[2025-09-17 swept={site:1 stage:1} swept_tally={}; "+
			"2025-09-18 swept={} swept_tally={}; 2025-09-19 swept={} swept_tally={}]" {
			t.Errorf("closings %s", got)
		}
		if cs, _ := st.CloseDue(t.Context(), local(19, 22, 0), "gateway"); len(cs) != 0 {
			t.Errorf("closed again: %s", formatClosings(cs))
		}
	})

	t.Run("a day closed by hand refuses live entries and lets everyone out", func(t *testing.T) {
		st := MustStoreDays(t, open, fairZones, FairDays(t))
		MustScan(t, st, scan("in-1", "v1", hallA, checkin.In, local(17, 15, 0)))
		closing := local(17, 15, 5) // brought forward: the 17th closes at 20:30
		cs, err := st.CloseDay(t.Context(), "2025-09-17", "operator", closing)
		if err != nil || len(cs) != 1 || cs[0].Swept[hallA] != 1 {
			t.Fatalf("close by hand: %s, %v", formatClosings(cs), err)
		}
		// It closed when it was closed, not at 20:30: the report's closing
		// time, and the trend, where the hall empties at 15:05.
		if got := MustClosed(t, st)["2025-09-17"]; !got.Equal(closing) {
			t.Errorf("closed at %s, want %s (when it was closed)", got, closing)
		}
		tr, err := st.Trend(t.Context(), local(17, 15, 30))
		if err != nil {
			t.Fatal(err)
		}
		for i, occ := range tr.Occupancy[hallA] {
			at, w := tr.From.Add(time.Duration(i)*time.Minute), 0
			if i < len(tr.Occupancy[hallA])-1 && at.After(local(17, 15, 0)) && !at.After(closing) {
				w = 1
			}
			if occ != w {
				t.Errorf("the hall's trend at %s: %d, want %d", at.Format(time.TimeOnly), occ, w)
			}
		}
		want(t, MustScan(t, st, scan("in-2", "v2", site, checkin.In, local(17, 15, 10))), checkin.Closed)
		want(t, MustScan(t, st, scan("out-1", "v1", hallA, checkin.Out, local(17, 15, 11))), checkin.Accepted,
			checkin.NotInside)
		if _, err := st.CloseDay(t.Context(), "2025-09-30", "operator", closing); err == nil {
			t.Error("closing a day that is not the event's: no error")
		}
		MustRecountAgrees(t, st, fairZones)
	})

	t.Run("a day closed by hand before it began, or after its closing time, closes at its closing time", func(t *testing.T) {
		st := MustStoreDays(t, open, fairZones, FairDays(t))
		MustScan(t, st, scan("in-1", "v1", hallA, checkin.In, local(17, 15, 0)))
		// The 18th, closed on the 17th (a rehearsal), and with it the 17th,
		// still open: each at its own closing time, the sweep the 17th's.
		cs, err := st.CloseDay(t.Context(), "2025-09-18", "operator", local(17, 16, 0))
		if err != nil || len(cs) != 2 || cs[0].Swept[hallA] != 1 {
			t.Fatalf("close the 18th on the 17th: %s, %v", formatClosings(cs), err)
		}
		// The 19th, closed the morning after its closing time.
		if _, err := st.CloseDay(t.Context(), "2025-09-19", "operator", local(20, 9, 0)); err != nil {
			t.Fatal(err)
		}
		closed := MustClosed(t, st)
		for i, d := range FairDays(t)[:3] {
			if !closed[d.Date].Equal(d.Close) {
				t.Errorf("day %d (%s) closed at %s, want its closing time %s", i+1, d.Date, closed[d.Date], d.Close)
			}
		}
	})

	t.Run("after midnight on a late night, the evening's day is under way, not the next", func(t *testing.T) {
		days := FairDays(t)
		days[0].Close = local(18, 1, 0) // the 17th runs until 01:00
		st := MustStoreDays(t, open, fairZones, days)
		if _, err := st.CloseDay(t.Context(), "2025-09-18", "operator", local(18, 0, 30)); err != nil {
			t.Fatal(err)
		}
		closed := MustClosed(t, st)
		for _, d := range days[:2] {
			if !closed[d.Date].Equal(d.Close) {
				t.Errorf("%s closed at %s, want its closing time %s", d.Date, closed[d.Date], d.Close)
			}
		}
	})

	t.Run("an offline admission stands against a full zone and a revocation, and says so", func(t *testing.T) {
		st := MustStoreDays(t, open, fairZones, FairDays(t))
		for i := range 3 {
			MustScan(t, st, scan(fmt.Sprint("in-", i), fmt.Sprint("v", i), stage, checkin.In, local(17, 11, i)))
		}
		MustRevoke(t, st, local(17, 11, 5), "r1")
		up := upload(scan("up-1", "r1", stage, checkin.In, local(17, 11, 10)), local(17, 11, 20), checkin.Accepted)
		v := MustScan(t, st, up)
		want(t, v, checkin.Accepted, checkin.Offline, checkin.OfflineOverride, checkin.ImplicitEntry)
		if v.Occupancy != 4 {
			t.Errorf("stage %d, want 4: the count follows the person", v.Occupancy)
		}
		if got := field(t, st, "2025-09-17", "|g|g-stage|ovr"); got != "1" {
			t.Errorf("|g|g-stage|ovr = %q, want 1", got)
		}
	})
}
