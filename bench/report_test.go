package main

import (
	"context"
	"flag"
	"testing"

	"crowdflow/event"
	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/redisengine"
	"crowdflow/report"
)

var reportScans = flag.Int("report.scans", 1000000, "scans in the event log of BenchmarkReport")

// BenchmarkReport measures the report of one day and of the whole fair
// with -report.scans scans in the log (a million by default), on Redis and
// on the embedded store, beside one read of the whole log (readlog), the
// cost a report that reread the log could not go under.
func BenchmarkReport(b *testing.B) {
	ev, err := event.Load(ouarzazate)
	if err != nil {
		b.Fatal(err)
	}
	for _, engine := range []string{"redis", "embedded"} {
		b.Run(engine, func(b *testing.B) {
			rs := mustReportStore(b, ev, engine)
			for name, op := range map[string]func(ctx context.Context) error{
				"day":     func(ctx context.Context) error { return rs.report(ctx, ev.Days[2].Date) },
				"all":     func(ctx context.Context) error { return rs.report(ctx, report.All) },
				"readlog": func(ctx context.Context) error { _, err := rs.readLog(ctx); return err },
			} {
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						if err := op(b.Context()); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// mustReportStore fills a ledger on a new engine, closed when b ends (a
// benchmark with sub-benchmarks runs once, so each is filled once).
func mustReportStore(b *testing.B, ev *event.Event, engine string) *reportStore {
	b.Helper()
	var eng ledger.Engine
	var err error
	switch engine {
	case "redis":
		eng, err = redisengine.Open(b.Context(), redistest.Start(b, redistest.Options{}).URL())
	default:
		eng, err = embedded.Open(embedded.Options{})
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close() })
	rs, err := fillReportStore(b.Context(), ev, eng, *reportScans, 16)
	if err != nil {
		b.Fatal(err)
	}
	return rs
}
