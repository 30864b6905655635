package gateway

import (
	"context"
	"time"

	"crowdflow/ledger"
	"crowdflow/report"
)

// Store is what the gateway needs of the ledger (*ledger.Store on Redis or
// the embedded engine). Implementations must be safe for concurrent use:
// every connection calls it from its own reader goroutine, and metrics
// scrapes and probes call it from HTTP handlers.
//
// Scan and Tally are idempotent by id: calling them again with the same id
// returns the first verdict and changes nothing, which is what makes
// "unavailable, resend later with the same id" safe. An error wrapping
// ledger.ErrInvalid means the request itself is wrong; any other error means
// the store did not answer and nothing is known about the outcome.
type Store interface {
	Scan(ctx context.Context, sc ledger.Scan) (ledger.Verdict, error)
	Tally(ctx context.Context, t ledger.Tally) (ledger.Verdict, error)
	// Counters reads the live counters of every zone.
	Counters(ctx context.Context) (map[string]*ledger.Counters, error)
	// Snapshot reads the counters of every zone and, in the same atomic
	// read, the seq of the last decided scan or tally (the live stream).
	Snapshot(ctx context.Context) (map[string]*ledger.Counters, int64, error)
	// Log reads at most n entries of the event log from the entry with id
	// from on ("-": the beginning; "(" + id: after it). Every gateway on the
	// store sees every entry, whichever gateway decided it.
	Log(ctx context.Context, from string, n int) ([]ledger.Entry, error)
	// CloseDue closes the event days whose closing time has passed at now
	// and that are still open, once each whoever calls (CONTRACT §8), and
	// returns what each closing did.
	CloseDue(ctx context.Context, now time.Time, by string) ([]ledger.Closing, error)
	// Revoke adds ticket ids to the revocation list in one atomic step,
	// logging each new one as done at at by by, and returns how many were
	// not revoked before.
	Revoke(ctx context.Context, at time.Time, by string, ids ...string) (int, error)
	// Revoked lists the revoked ticket ids.
	Revoked(ctx context.Context) ([]string, error)
	// Trend reads every zone's occupancy at the start of each minute of
	// the last hour before now, and now (the board's trend, in snapshots).
	Trend(ctx context.Context, now time.Time) (ledger.Trend, error)
	// ReportDevice records what a gate device last told a gateway of its
	// queue; Devices reads every device's newest report (every gateway of
	// the event shows every gate's queue).
	ReportDevice(ctx context.Context, r ledger.DeviceReport) error
	Devices(ctx context.Context) ([]ledger.DeviceReport, error)
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// DayFields and EventFields read the report counters (report.Source).
	report.Source
}
