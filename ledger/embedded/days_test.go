package embedded_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/storetest"
)

// sixDays are the days of the Ouarzazate fair, closing at 22:30.
func sixDays(tb testing.TB) []ledger.Day {
	tb.Helper()
	loc := storetest.MustLocation(tb)
	var days []ledger.Day
	for d := 17; d <= 22; d++ {
		at := time.Date(2025, 9, d, 22, 30, 0, 0, loc)
		days = append(days, ledger.Day{Date: at.Format(time.DateOnly), Close: at})
	}
	return days
}

var sixDayZones = []ledger.Zone{{ID: "site", Capacity: 1 << 20}, {ID: "hall", Parent: "site", Capacity: 1 << 20}}

// fairDays runs perDay visitors through each of the six days (in by the
// site, on into the hall, and four in five out again; the rest leave by an
// unscanned door) from 16 goroutines, as gates do, and after each day calls
// closed with the day's index. It returns the store.
func fairDays(tb testing.TB, e ledger.Engine, perDay int, closed func(day int, st *ledger.Store)) *ledger.Store {
	tb.Helper()
	days := sixDays(tb)
	st, err := ledger.New(ledger.Config{Event: "fair", Location: storetest.MustLocation(tb), Zones: sixDayZones,
		Days: days}, e)
	if err != nil {
		tb.Fatal(err)
	}
	for d, day := range days {
		open := day.Close.Add(-12 * time.Hour)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for v := w; v < perDay; v += 16 {
					tk := fmt.Sprintf("d%d-v%d", d, v)
					at := open.Add(time.Duration(v) * time.Second)
					for i, step := range []struct {
						zone string
						dir  checkin.Direction
					}{{"site", checkin.In}, {"hall", checkin.In}, {"hall", checkin.Out}, {"site", checkin.Out}} {
						if step.dir == checkin.Out && v%5 == 0 {
							break // an unscanned door
						}
						_, err := st.Scan(tb.Context(), ledger.Scan{ID: fmt.Sprintf("%s-%d", tk, i), Device: "gate",
							Gate: "g-" + step.zone, Zone: step.zone, Direction: step.dir, Ticket: tk, Type: "visitor",
							Reentry: true, Precheck: checkin.Accepted, At: at.Add(time.Duration(i) * time.Minute)})
						if err != nil {
							tb.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		if _, err := st.CloseDue(tb.Context(), day.Close, "gateway"); err != nil {
			tb.Fatal(err)
		}
		closed(d, st)
	}
	return st
}

func dirSize(tb testing.TB, dir, pattern string) int64 {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			tb.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// TestJournalCompactedAtEachClosing: a one-laptop gateway runs the whole
// fair without a restart; each day's closing folds the journal into the
// snapshot, so the journal holds at most one day, and a reopen after the
// sixth day gives the same ledger, every day closed and every zone empty.
func TestJournalCompactedAtEachClosing(t *testing.T) {
	dir := t.TempDir()
	e, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	const perDay = 100
	st := fairDays(t, e, perDay, func(day int, st *ledger.Store) {
		if files := journalFiles(t, dir); len(files) != 1 {
			t.Errorf("day %d: journal files %v, want one", day, files)
		}
		// What is left in the journal after the closing is the empty new
		// one: every scan of the day is in the snapshot.
		if n := dirSize(t, dir, "journal-*.log"); n > 64 {
			t.Errorf("day %d: journal of %d bytes after the closing, want it folded into the snapshot", day, n)
		}
		cs, err := st.Counters(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if cs["site"].Occupancy != 0 || cs["site"].Swept != (day+1)*perDay/5 {
			t.Errorf("day %d: site %d inside, %d swept; want 0 and %d", day, cs["site"].Occupancy, cs["site"].Swept, (day+1)*perDay/5)
		}
	})
	want, _ := storetest.MustRecountAgrees(t, st, sixDayZones)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := MustOpen(t, embedded.Options{Dir: dir})
	st2, err := ledger.New(ledger.Config{Event: "fair", Location: storetest.MustLocation(t), Zones: sixDayZones,
		Days: sixDays(t)}, e2)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := storetest.MustRecountAgrees(t, st2, sixDayZones)
	if g, w := fmt.Sprint(got["site"]), fmt.Sprint(want["site"]); g != w {
		t.Errorf("after reopen: site %s, want %s", g, w)
	}
	closed, err := st2.Closed(t.Context())
	if err != nil || len(closed) != 6 {
		t.Errorf("after reopen: %d days closed (%v), want 6", len(closed), err)
	}
}

// BenchmarkReopenAfterSixDays measures what a power cut costs a one-laptop
// gateway on the evening of the sixth day: reopening the embedded store
// whose journal was folded into a snapshot at each closing, beside one that
// kept a single journal for the six days (what happened before closings
// compacted). 2,000 visitors a day, about 7,600 scans.
func BenchmarkReopenAfterSixDays(b *testing.B) {
	const perDay = 2000
	compacted, whole := b.TempDir(), b.TempDir()
	for _, dir := range []string{compacted, whole} {
		e, err := embedded.Open(embedded.Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		var eng ledger.Engine = e
		if dir == whole {
			eng = noCompact{e} // hides Compact: the closings leave the journal alone
		}
		fairDays(b, eng, perDay, func(int, *ledger.Store) {})
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
	for _, bm := range []struct{ name, dir string }{{"compacted at each closing", compacted}, {"one journal", whole}} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				e, err := embedded.Open(embedded.Options{Dir: bm.dir})
				if err != nil {
					b.Fatal(err)
				}
				_ = e.Close()
			}
			b.ReportMetric(float64(dirSize(b, bm.dir, "journal-*.log")), "journal-bytes")
			b.ReportMetric(float64(dirSize(b, bm.dir, "snapshot*")), "snapshot-bytes")
		})
	}
}

// noCompact is an engine without Compact.
type noCompact struct{ ledger.Engine }
