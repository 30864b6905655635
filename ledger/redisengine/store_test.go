package redisengine_test

import (
	"errors"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
	"crowdflow/ledger/storetest"
)

// TestStore runs the store suite on one redis-server, emptied before each
// subtest (the suite runs its subtests one at a time).
func TestStore(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	storetest.Run(t, func(t *testing.T) ledger.Engine {
		t.Helper()
		eng := MustOpen(t, srv)
		if err := eng.Client().FlushAll(t.Context()).Err(); err != nil {
			t.Fatalf("flushall: %v", err)
		}
		return eng
	})
}

// MustOpen connects an engine to srv and closes it when t ends.
func MustOpen(tb testing.TB, srv *redistest.Server) *redisengine.Engine {
	tb.Helper()
	eng, err := redisengine.Open(tb.Context(), srv.URL())
	if err != nil {
		tb.Fatalf("open engine: %v", err)
	}
	tb.Cleanup(func() { _ = eng.Close() }) // the suite may have closed it already
	return eng
}

// TestNoScript runs scans after the server's script cache was emptied (SCRIPT
// FLUSH, as a restart or a failover does): EVALSHA answers NOSCRIPT and the
// engine falls back to EVAL, transparently.
func TestNoScript(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	eng := MustOpen(t, srv)
	loc := storetest.MustLocation(t)
	st, err := ledger.New(ledger.Config{Event: "fair", Location: loc, Zones: []ledger.Zone{{ID: "site", Capacity: 10}}}, eng)
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	ctx := t.Context()
	at := time.Date(2025, 9, 17, 10, 0, 0, 0, loc)
	cached := func() bool {
		t.Helper()
		ok, err := eng.Client().ScriptExists(ctx, ledger.ScanScript.SHA1).Result()
		if err != nil {
			t.Fatalf("script exists: %v", err)
		}
		return ok[0]
	}
	for i, ticket := range []string{"t1", "t2", "t3"} {
		if err := eng.Client().ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("script flush: %v", err)
		}
		if cached() {
			t.Fatalf("scan script still cached after SCRIPT FLUSH")
		}
		v, err := st.Scan(ctx, ledger.Scan{ID: ticket, Gate: "g", Zone: "site", Direction: checkin.In,
			Ticket: ticket, Type: "visitor", Precheck: checkin.Accepted, At: at})
		if err != nil {
			t.Fatalf("scan %s after SCRIPT FLUSH: %v", ticket, err)
		}
		if v.Code != checkin.Accepted || v.Occupancy != i+1 {
			t.Fatalf("scan %s after SCRIPT FLUSH: %+v, want accepted with occupancy %d", ticket, v, i+1)
		}
		// The scan reached the ledger once, not twice (EVALSHA, then EVAL).
		cs, err := st.Counters(ctx)
		if err != nil {
			t.Fatalf("counters: %v", err)
		}
		if got := cs["site"].Entries; got != i+1 {
			t.Fatalf("entries after %d scans: %d", i+1, got)
		}
	}
	// A script error still comes back as ErrScript through the fallback.
	if err := eng.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatalf("script flush: %v", err)
	}
	_, err = eng.Eval(ctx, ledger.NewScript("boom", "return redis.error_reply('boom')"), nil)
	if !errors.Is(err, ledger.ErrScript) {
		t.Errorf("error through the EVAL fallback: got %v, want one wrapping %v", err, ledger.ErrScript)
	}
}
