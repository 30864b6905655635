package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ledger"
	"crowdflow/report"
)

// reportStore is a ledger of the event with n scans in its log, for the
// report rows: visits of four scans each (into the site, into a hall, out
// of the hall, out of the site), spread over every day and hour of the
// event, so that every kind of report counter is there, as on a real fair.
type reportStore struct {
	ev *event.Event
	st *ledger.Store
	n  int
}

// visitScans are the scans of one visit: gate, zone, direction, minutes
// after arrival.
var visitScans = []struct {
	gate, zone string
	dir        checkin.Direction
	after      time.Duration
}{
	{"MAIN-1", "site", checkin.In, 0},
	{"HALL-CRAFTS", "hall-crafts", checkin.In, 3 * time.Minute},
	{"HALL-CRAFTS", "hall-crafts", checkin.Out, 27 * time.Minute},
	{"EXIT-1", "site", checkin.Out, 71 * time.Minute},
}

// fillReportStore puts n scans (rounded down to whole visits) in a ledger
// of ev on eng, from conc goroutines; every zone's capacity is raised to
// benchCapacity so that no scan is refused.
func fillReportStore(ctx context.Context, ev *event.Event, eng ledger.Engine, n, conc int) (*reportStore, error) {
	cfg := admission.LedgerConfig(ev)
	for i := range cfg.Zones {
		cfg.Zones[i].Capacity = benchCapacity
	}
	st, err := ledger.New(cfg, eng)
	if err != nil {
		return nil, err
	}
	// Day by day, each day's visits from conc goroutines: a scan on a
	// later day closes the days before it, so no day's scan may come after.
	perDay := n / len(visitScans) / len(ev.Days)
	for _, d := range ev.Days {
		if err := fillDay(ctx, st, d, perDay, conc); err != nil {
			return nil, err
		}
	}
	visits := perDay * len(ev.Days)
	return &reportStore{ev: ev, st: st, n: visits * len(visitScans)}, nil
}

// fillDay scans visits visits on day d, from conc goroutines.
func fillDay(ctx context.Context, st *ledger.Store, d event.Day, visits, conc int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	span := d.Close.Sub(d.Open) - 2*time.Hour
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= visits {
					return
				}
				// Arrivals spread over the day by a fixed stride, to the second.
				arrive := d.Open.Add(time.Duration(k*7919%int(span/time.Second)) * time.Second)
				ticket := fmt.Sprintf("r%s-%08x", d.Date, k)
				for i, s := range visitScans {
					v, err := st.Scan(ctx, ledger.Scan{ID: fmt.Sprintf("r-%s-%d-%d", d.Date, k, i), Device: s.gate + "/1",
						Gate: s.gate, Zone: s.zone, Direction: s.dir, Ticket: ticket, Type: "visitor", Reentry: true,
						Precheck: checkin.Accepted, At: arrive.Add(s.after), DeviceAt: arrive.Add(s.after)})
					if err == nil && v.Code != checkin.Accepted {
						err = fmt.Errorf("report fill: %s visit %d scan %d: %s", d.Date, k, i, v.Code)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// report builds and encodes the report of scope once.
func (r *reportStore) report(ctx context.Context, scope string) error {
	rep, err := report.Build(ctx, r.st, r.ev, scope)
	if err != nil {
		return err
	}
	return report.WriteJSON(io.Discard, rep)
}

// readLog reads the whole event log once, in pages of logPage entries (as Store.ReadLog)
// (XRANGE through read.lua, as the live tailer does), keeping none: the
// reference a report is read against, since a report that reread the log
// would cost at least this.
func (r *reportStore) readLog(ctx context.Context) (int, error) {
	const logPage = 1000
	n, from := 0, "-"
	for {
		es, err := r.st.Log(ctx, from, logPage)
		if err != nil {
			return n, err
		}
		n += len(es)
		if len(es) < logPage {
			return n, nil
		}
		from = "(" + es[len(es)-1].ID
	}
}

// reportRows measures, on a ledger of o.reportScans scans, the report of
// one day and of the whole event (runs each, one at a time), against one
// read of the whole log.
func reportRows(ctx context.Context, o options, engine string, eng ledger.Engine) ([]row, error) {
	ev, err := event.Load(o.config)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rs, err := fillReportStore(ctx, ev, eng, o.reportScans, o.c)
	if err != nil {
		return nil, err
	}
	filled := time.Since(start)
	t0 := time.Now()
	logged, err := rs.readLog(ctx)
	if err != nil {
		return nil, err
	}
	logTime := time.Since(t0)
	if logged < rs.n { // the scans, and a closing entry per day closed
		return nil, fmt.Errorf("report rows: the log holds %d entries, want at least %d", logged, rs.n)
	}
	ref := result{rps: 1 / logTime.Seconds(), p50: logTime, p99: logTime, n: 1, concurrent: 1}
	refName := fmt.Sprintf("read the log once (XRANGE, %d scans)", rs.n)
	var rows []row
	for _, scope := range []string{ev.Days[len(ev.Days)/2].Date, report.All} {
		m := measure(o.reportRuns, 1, func(int) error { return rs.report(ctx, scope) })
		if m.err != nil {
			return nil, m.err
		}
		what := fmt.Sprintf("Report of one day, %s, %d scans in the log", engine, rs.n)
		if scope == report.All {
			what = fmt.Sprintf("Report of the whole fair (%d days), %s, %d scans in the log", len(ev.Days), engine, rs.n)
		}
		rows = append(rows, row{what: what, ref: refName, got: m.result, base: ref,
			note: fmt.Sprintf("%s: %d reports one after another, JSON encoded; the log was filled in %s.",
				what, o.reportRuns, filled.Round(time.Second))})
	}
	return rows, nil
}
