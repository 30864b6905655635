package board_test

import (
	"slices"
	"testing"
	"time"

	"crowdflow/event"
	"crowdflow/gateway/board"
	"crowdflow/ledger"
)

// MustEvent loads the Ouarzazate fair.
func MustEvent(tb testing.TB) *event.Event {
	tb.Helper()
	ev, err := event.Load("../../configs/ouarzazate-2025.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// at is a time of the fair's first day, in its time zone.
func at(tb testing.TB, ev *event.Event, hms string) time.Time {
	tb.Helper()
	t, err := time.ParseInLocation(time.DateTime, "2025-09-17 "+hms, ev.Location)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// counters gives every zone of ev its occupancy from occ (0 when absent).
func counters(ev *event.Event, occ map[string]int) map[string]*ledger.Counters {
	out := map[string]*ledger.Counters{}
	for _, z := range ev.Zones {
		out[z.ID] = &ledger.Counters{Occupancy: occ[z.ID], Tally: occ[z.ID]}
	}
	return out
}

// tally is the log entry of an applied tally of n people into zone (out of
// it when n < 0) at gate, from the parent zone's outside.
func tally(seq int64, gate, zone string, n int, when time.Time) ledger.Entry {
	return ledger.Entry{Kind: "tally", Seq: seq, Gate: gate, Zone: zone, Delta: n, Applied: n, At: when}
}

func TestBoardFigures(t *testing.T) {
	ev := MustEvent(t)
	b := board.New(ev, 10*time.Minute)
	siteCap := ev.Zone("site").Capacity
	b.Note(tally(1, "MAIN-1", "site", 30, at(t, ev, "10:59:00")))
	b.Note(tally(2, "MAIN-1", "site", 40, at(t, ev, "11:03:00")))
	b.Note(tally(3, "MAIN-1", "site", -10, at(t, ev, "11:03:10")))
	b.Note(ledger.Entry{Kind: "revoke", At: at(t, ev, "11:03:11")}) // not a move, and no seq
	b.SetCounters(counters(ev, map[string]int{"site": 60}), 3)
	if b.LogSeq() != 3 {
		t.Errorf("log seq %d, want 3", b.LogSeq())
	}
	now := at(t, ev, "11:03:30")
	st, _, up := b.Build(now, map[string]bool{"EXIT-1": true}, nil)
	if up != nil {
		t.Errorf("the first build has an update: %+v", up)
	}
	site := st.Zones[slices.IndexFunc(st.Zones, func(z board.Zone) bool { return z.ID == "site" })]
	// Last minute (11:02:30, 11:03:30]: 40 in, 10 out. Five minutes: 70 in,
	// 10 out, 12 a minute net.
	want := float64(int((float64(siteCap-60)/12)*10+0.5)) / 10
	if site.InPerMin != 40 || site.OutPerMin != 10 || site.MinutesToFull == nil || *site.MinutesToFull != want {
		t.Errorf("site: in %g out %g minutes to full %v; want 40 10 %g", site.InPerMin, site.OutPerMin, site.MinutesToFull, want)
	}
	if got := st.MinutesToFull(); len(got) != 1 || got["site"] != want {
		t.Errorf("MinutesToFull: %v", got)
	}
	gates := map[string]board.Gate{}
	for _, g := range st.Gates {
		gates[g.ID] = g
	}
	if g := gates["MAIN-1"]; !g.Online || g.ScansPerMin != 2 || g.Silent || g.LastSeen == nil ||
		!g.LastSeen.Equal(at(t, ev, "11:03:10")) {
		t.Errorf("MAIN-1 (seen a moment ago): %+v", g)
	}
	if g := gates["EXIT-1"]; !g.Online || !g.Silent || g.LastSeen != nil {
		t.Errorf("EXIT-1 (a scanner on it here, no scan since the opening): %+v", g)
	}
	alerts := map[string]board.Alert{}
	for _, a := range st.Alerts {
		alerts[a.ID] = a
	}
	if a, ok := alerts["gate:EXIT-1:silent"]; !ok || !a.Since.Equal(at(t, ev, "10:10:00")) {
		t.Errorf("EXIT-1 silent alert: %+v", a)
	}

	// Nothing moved, the time has not either: no update.
	if _, _, up := b.Build(now, map[string]bool{"EXIT-1": true}, nil); up != nil {
		t.Errorf("an update with no change: %+v", up)
	}
	// A tally at the stage's gate into the stage: the stage and the site
	// change, and the gate is silent no more.
	b.Note(tally(4, "STAGE", "stage", 5, now))
	b.SetCounters(counters(ev, map[string]int{"site": 65, "stage": 5}), 4)
	st, prev, up := b.Build(now, map[string]bool{"EXIT-1": true}, nil)
	var ids []string
	for _, z := range up.Zones {
		ids = append(ids, z.ID)
	}
	slices.Sort(ids)
	if up == nil || up.Type != board.TypeUpdate || up.Seq != 4 || prev != 3 || !slices.Equal(ids, []string{"site", "stage"}) ||
		up.Gates == nil || up.Alerts == nil || slices.ContainsFunc(st.Alerts, func(a board.Alert) bool { return a.Gate == "STAGE" }) {
		t.Errorf("the update of a tally into the stage (prev %d): %+v", prev, up)
	}
	if st.Snapshot().Type != board.TypeSnapshot || len(st.Snapshot().Zones) != len(ev.Zones) {
		t.Errorf("snapshot: %+v", st.Snapshot())
	}

	// Twelve minutes later: the flows are gone, MAIN-1 has fallen silent
	// since 11:13:10, and its scanner is on another instance no longer.
	later := at(t, ev, "11:15:30")
	st, prev, up = b.Build(later, nil, nil)
	if up == nil || up.Seq != 4 || prev != 4 {
		t.Fatalf("the update of the time alone (prev %d): %+v", prev, up)
	}
	for _, z := range st.Zones {
		if z.InPerMin != 0 || z.OutPerMin != 0 || z.MinutesToFull != nil {
			t.Errorf("%s at 11:15:30: %+v; want no flow", z.ID, z)
		}
	}
	for _, a := range st.Alerts {
		alerts[a.ID] = a
	}
	if a, ok := alerts["gate:MAIN-1:silent"]; !ok || !a.Since.Equal(at(t, ev, "11:13:10")) {
		t.Errorf("MAIN-1 silent alert: %+v", a)
	}

	// The day closes (the lead's close.lua): the counters go to zero, and
	// the update carries the closing; so do snapshots from then on.
	b.Note(ledger.Entry{Kind: "swept", Seq: 5, Ticket: "k1", Zone: "stage", At: at(t, ev, "22:30:00")})
	b.Note(ledger.Entry{Kind: "close", Seq: 6, Day: "2025-09-17", At: at(t, ev, "22:30:00"),
		Swept: map[string]int{"site": 1, "stage": 1}, SweptTally: map[string]int{"site": 64, "stage": 4}})
	b.SetCounters(counters(ev, nil), 6)
	st, _, up = b.Build(at(t, ev, "22:30:01"), nil, nil)
	if up == nil || up.Closed == nil || up.Closed.Day != "2025-09-17" || up.Closed.Swept["stage"] != 1 ||
		up.Closed.SweptTally["site"] != 64 || st.Snapshot().Closed != up.Closed {
		t.Fatalf("the update of the closing: %+v", up)
	}
	for _, z := range up.Zones {
		if z.Occupancy != 0 || z.InPerMin != 0 {
			t.Errorf("%s after the closing: %+v; want empty, and no flow from the sweep", z.ID, z)
		}
	}
	if _, _, up := b.Build(at(t, ev, "22:30:01"), nil, nil); up != nil {
		t.Errorf("the closing sent twice: %+v", up)
	}

	// A store that went back: everything learnt is forgotten.
	b.Forget()
	if b.LogSeq() != 0 || b.Seq() != 0 || b.HasCounters() {
		t.Errorf("after Forget: log seq %d, seq %d, counters %v", b.LogSeq(), b.Seq(), b.HasCounters())
	}
}

func TestPacer(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type step struct {
		change bool // a change at this time (else: is anything due?)
		at     int  // ms after t0
		send   bool // it goes out now
	}
	tests := map[string]struct{ steps []step }{
		"a lone change goes out at once": {[]step{{true, 0, true}}},
		"a burst: the first at once, the rest at the window's end": {[]step{
			{true, 0, true}, {true, 10, false}, {true, 100, false}, {true, 249, false},
			{false, 200, false}, {false, 250, true}, {false, 260, false}}},
		"after a quiet window, at once again": {[]step{
			{true, 0, true}, {false, 300, false}, {true, 600, true}, {true, 700, false}, {false, 850, true}}},
		"a change right after a trailing send waits for the next window": {[]step{
			{true, 0, true}, {true, 10, false}, {false, 250, true}, {true, 260, false}, {false, 499, false},
			{false, 500, true}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := board.Pacer{Window: 250 * time.Millisecond}
			for i, s := range tc.steps {
				var got bool
				if s.change {
					got = p.Change(ms(s.at))
				} else {
					got = p.Due(ms(s.at))
				}
				if got != s.send {
					t.Errorf("step %d (%+v): send %v, want %v", i, s, got, s.send)
				}
			}
		})
	}
}

func TestBoardUnsynced(t *testing.T) {
	ev := MustEvent(t)
	now := at(t, ev, "11:00:00")
	oldest := at(t, ev, "10:52:00")
	tests := map[string]struct {
		online   map[string]bool
		reported map[string]board.Reported
		log      []ledger.Entry
		atLeast  []string // the zones marked, in the event's order
		unsynced map[string]int
	}{
		"nothing reported": {online: map[string]bool{"MAIN-1": true}},
		"an online gate with nothing queued": {online: map[string]bool{"STAGE": true},
			reported: map[string]board.Reported{"STAGE": {}}},
		"queued scans mark the zone and the site": {online: map[string]bool{"HALL-CRAFTS": true},
			reported: map[string]board.Reported{"HALL-CRAFTS": {Unsynced: 3, Oldest: oldest}},
			atLeast:  []string{"site", "hall-crafts"}, unsynced: map[string]int{"HALL-CRAFTS": 3}},
		"a gate whose device left is offline with its last queue": {
			reported: map[string]board.Reported{"STAGE": {Unsynced: 2, Oldest: oldest, Left: now.Add(-time.Minute)}},
			log:      []ledger.Entry{tally(1, "STAGE", "stage", 1, now.Add(-90*time.Second))},
			atLeast:  []string{"site", "stage"}, unsynced: map[string]int{"STAGE": 2}},
		"a site gate offline marks the site only": {
			reported: map[string]board.Reported{"MAIN-1": {Left: now.Add(-time.Minute)}},
			atLeast:  []string{"site"}},
		"a scan logged after the device left: online elsewhere": {
			reported: map[string]board.Reported{"STAGE": {Left: now.Add(-time.Minute)}},
			log:      []ledger.Entry{tally(1, "STAGE", "stage", 1, now.Add(-30*time.Second))}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := board.New(ev, time.Hour)
			for _, e := range tc.log {
				b.Note(e)
			}
			b.SetCounters(counters(ev, nil), int64(len(tc.log)))
			st, _, _ := b.Build(now, tc.online, tc.reported)
			var marked []string
			for _, z := range st.Zones {
				if z.AtLeast {
					marked = append(marked, z.ID)
				}
			}
			if !slices.Equal(marked, tc.atLeast) {
				t.Errorf("at_least on %v, want %v", marked, tc.atLeast)
			}
			for _, g := range st.Gates {
				want := tc.unsynced[g.ID]
				if g.Unsynced != want || (want > 0) != (g.UnsyncedOldest != nil) {
					t.Errorf("gate %s: unsynced %d oldest %v, want %d", g.ID, g.Unsynced, g.UnsyncedOldest, want)
				}
				if want > 0 && !g.UnsyncedOldest.Equal(oldest) {
					t.Errorf("gate %s: oldest %v, want %v", g.ID, g.UnsyncedOldest, oldest)
				}
			}
		})
	}
}
