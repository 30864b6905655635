// Package ledgertest gives tests a ledger engine of either kind: the
// embedded store in memory, or Redis on a redis-server of the test's own
// (internal/redistest). Both are closed when the test ends.
package ledgertest

import (
	"testing"

	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/redisengine"
)

// MustEmbedded is an in-memory embedded engine, closed with tb.
func MustEmbedded(tb testing.TB) ledger.Engine {
	tb.Helper()
	e, err := embedded.Open(embedded.Options{})
	if err != nil {
		tb.Fatalf("open embedded engine: %v", err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

// MustRedis is an engine on a fresh redis-server, both stopped with tb.
func MustRedis(tb testing.TB) ledger.Engine {
	tb.Helper()
	srv := redistest.Start(tb, redistest.Options{})
	e, err := redisengine.Open(tb.Context(), srv.URL())
	if err != nil {
		tb.Fatalf("open redis engine: %v", err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}
