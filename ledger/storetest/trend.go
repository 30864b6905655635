package storetest

import (
	"fmt"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/ledger"
)

// testTrend checks Store.Trend, the board's 60-minute trend: the occupancy
// of every zone at the start of each minute, as the changes were applied
// (an offline upload when it arrived), across a day's closing, against the
// counters read after each operation.
func testTrend(t *testing.T, open func(t *testing.T) ledger.Engine) {
	loc := MustLocation(t)
	st := MustStoreDays(t, open, fairZones, FairDays(t))
	at := func(hh, mm, ss int) time.Time { return time.Date(2025, 9, 17, hh, mm, ss, 0, loc) }

	// after: the counters after each operation, by when it was applied.
	type sample struct {
		at  time.Time
		occ map[string]int
	}
	var after []sample
	note := func(when time.Time) {
		occ := map[string]int{}
		for z, c := range MustCounters(t, st) {
			occ[z] = c.Occupancy
		}
		after = append(after, sample{when, occ})
	}
	scan := func(id, ticket, zone string, dir checkin.Direction, when time.Time) {
		MustScan(t, st, ledger.Scan{ID: id, Device: "dev", Gate: "g-" + zone, Zone: zone, Direction: dir,
			Ticket: ticket, Type: "visitor", Reentry: true, Precheck: checkin.Accepted, At: when, DeviceAt: when})
		note(when)
	}
	// truth is the occupancy of every zone at the start of the minute m:
	// after the last operation applied before it.
	truth := func(m time.Time) map[string]int {
		occ := map[string]int{}
		for _, s := range after {
			if s.at.Before(m) {
				occ = s.occ
			}
		}
		return occ
	}
	check := func(now time.Time) {
		t.Helper()
		tr, err := st.Trend(t.Context(), now)
		if err != nil {
			t.Fatalf("trend at %s: %v", now.Format("15:04"), err)
		}
		if from := now.Truncate(time.Minute).Add(-ledger.TrendSpan); !tr.From.Equal(from) {
			t.Errorf("trend at %s starts at %s, want %s", now.Format("15:04"), tr.From.In(loc).Format("15:04"),
				from.Format("15:04"))
		}
		for _, z := range fairZones {
			var want []int
			for m := tr.From; !m.After(now); m = m.Add(time.Minute) {
				want = append(want, truth(m)[z.ID])
			}
			want = append(want, truth(now.Add(time.Nanosecond))[z.ID])
			if got := tr.Occupancy[z.ID]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("trend of %s at %s:\n got  %v\n want %v", z.ID, now.Format("15:04"), got, want)
			}
		}
	}
	scan("a1", "v1", site, checkin.In, at(19, 10, 5))
	scan("a2", "v2", hallA, checkin.In, at(19, 10, 40)) // site and hall-a in one scan
	scan("a3", "v3", coopA, checkin.In, at(19, 10, 50)) // the same minute: its first mark stays
	check(at(19, 10, 55))
	scan("a4", "v1", site, checkin.Out, at(19, 12, 0)) // on the minute
	MustTally(t, st, ledger.Tally{ID: "t1", Zone: stage, Delta: 2, At: at(19, 15, 30)})
	note(at(19, 15, 30))
	// An offline exit scanned at 19:11 and uploaded at 19:20:30 moves v2
	// out of hall-a at 19:20, when the ledger applies it.
	MustScan(t, st, ledger.Scan{ID: "off-1", Device: "dev", Gate: "g-hall-a", Zone: hallA,
		Direction: checkin.Out, Ticket: "v2", Type: "visitor", Reentry: true, Precheck: checkin.Accepted,
		Decided: checkin.Accepted, Flags: checkin.Flags{checkin.Offline},
		At: at(19, 11, 0), DeviceAt: at(19, 11, 0), Received: at(19, 20, 30)})
	note(at(19, 20, 30))
	check(at(19, 25, 0))
	scan("a5", "v4", hallB, checkin.In, at(20, 5, 0))
	check(at(20, 10, 0))
	// Nobody leaves: the day closes at 20:30 and empties every zone.
	if _, err := st.CloseDue(t.Context(), at(20, 31, 0), "gateway"); err != nil {
		t.Fatal(err)
	}
	note(FairDays(t)[0].Close)
	check(at(21, 0, 0)) // the last hour, across the closing
}
