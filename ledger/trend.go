package ledger

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// TrendSpan is how far back Trend looks: the board's 60-minute trend.
const TrendSpan = time.Hour

// Trend is the occupancy of every zone at the start of each minute of a
// span, as the ledger applied the changes (by the time the gateway received
// each scan, so an offline upload counts when it moved people, not when it
// was scanned). Occupancy[z] has one value per minute and one more:
// Occupancy[z][i] is zone z's at From + i minutes, and the last is its
// occupancy at the time of the read.
type Trend struct {
	From      time.Time
	Occupancy map[string][]int
}

// Trend reads the occupancy of every zone at the start of each minute of
// the TrendSpan before now (now's minute included), and now, in one atomic
// read: the values agree with each other and with the counters. now must be
// the present of the clock the scans are received by: a change applied after
// now's minute would be taken for one in it.
//
// The scripts note a zone's occupancy before its first change in a minute
// (lib.lua trendMark). The occupancy at the start of minute m is that mark
// when m has one; else, nothing having changed in m, the occupancy at the
// start of m+1; and after now's minute, the occupancy now.
func (s *Store) Trend(ctx context.Context, now time.Time) (Trend, error) {
	to := now.Truncate(time.Minute)
	from := to.Add(-TrendSpan)
	n := int(TrendSpan/time.Minute) + 1
	args := append([]string{"trend", unixMinute(from), unixMinute(to)}, s.order...)
	res, err := s.eng.Eval(ctx, ReadScript, []string{s.keys.trend, s.keys.zones}, args...)
	if err != nil {
		return Trend{}, fmt.Errorf("read trend: %w", err)
	}
	vals, ok := res.([]any)
	if !ok || len(vals) != len(s.order)*(n+1) {
		return Trend{}, fmt.Errorf("read trend: unexpected reply of %d values for %d zones × %d minutes", len(vals), len(s.order), n)
	}
	out := Trend{From: from, Occupancy: make(map[string][]int, len(s.order))}
	for i, z := range s.order {
		row := vals[i*(n+1) : (i+1)*(n+1)]
		occ := make([]int, n+1)
		now, _ := row[0].(int64)
		occ[n] = int(now)
		for m := n - 1; m >= 0; m-- {
			occ[m] = occ[m+1]
			if mark, _ := row[1+m].(int64); mark >= 0 {
				occ[m] = int(mark)
			}
		}
		out.Occupancy[z] = occ
	}
	return out, nil
}

// unixMinute is t in whole minutes since the epoch, as the scripts key the
// trend.
func unixMinute(t time.Time) string {
	return strconv.FormatInt(t.Unix()/60, 10)
}
