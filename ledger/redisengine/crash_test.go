package redisengine_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"crowdflow/checkin"
	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
)

// TestCrashKeepsAcknowledgedScans kills redis-server with SIGKILL while
// scanners stream scans, restarts it from its AOF (appendfsync always), and
// checks DESIGN's rules 2–4: every acknowledged scan is still there, none
// counts twice, and the counters equal a recount from the event log — also
// after the scanners resend what was never acknowledged, as they do.
func TestCrashKeepsAcknowledgedScans(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendFsync: "always"})
	ctx := redistest.Context(t)
	eng, err := redisengine.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	zones := []ledger.Zone{{ID: "site", Capacity: 100000}, {ID: "hall", Parent: "site", Capacity: 100000}}
	st, err := ledger.New(ledger.Config{Event: "crash", Location: time.UTC, Zones: zones}, eng)
	if err != nil {
		t.Fatal(err)
	}

	const scanners, killAfter = 4, 400
	type sent struct {
		scan  ledger.Scan
		acked bool
		code  checkin.Code
	}
	var (
		mu    sync.Mutex
		all   []*sent
		acks  atomic.Int64
		kill  = make(chan struct{})
		wg    sync.WaitGroup
		start = time.Date(2025, 9, 17, 10, 0, 0, 0, time.UTC)
	)
	for w := range scanners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ticket := fmt.Sprintf("w%d-t%d", w, i/3)
				sc := ledger.Scan{ID: fmt.Sprintf("w%d-s%d", w, i), Device: fmt.Sprintf("dev%d", w),
					Gate: "g", Zone: []string{"site", "hall", "site"}[i%3], Ticket: ticket, Type: "visitor",
					Direction: []checkin.Direction{checkin.In, checkin.In, checkin.Out}[i%3],
					Reentry:   true, Precheck: checkin.Accepted, At: start.Add(time.Duration(i) * time.Second)}
				s := &sent{scan: sc}
				mu.Lock()
				all = append(all, s)
				mu.Unlock()
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				v, err := st.Scan(cctx, sc)
				cancel()
				if err != nil {
					return // the server is gone: what was not acknowledged is resent below
				}
				mu.Lock()
				s.acked, s.code = true, v.Code
				mu.Unlock()
				if acks.Add(1) == killAfter {
					close(kill)
				}
			}
		}()
	}
	<-kill
	srv.Kill()
	wg.Wait()
	srv.Restart()

	var acked, unacked int
	for _, s := range all {
		v, err := st.Scan(ctx, s.scan) // what a scanner does: resend with the same id
		if err != nil {
			t.Fatalf("resend %s after restart: %v", s.scan.ID, err)
		}
		if s.acked {
			acked++
			if !v.Replayed || v.Code != s.code {
				t.Errorf("acknowledged scan %s: after restart got %s replayed=%v, want the first verdict %s replayed",
					s.scan.ID, v.Code, v.Replayed, s.code)
			}
		} else {
			unacked++
		}
	}
	if acked < killAfter {
		t.Fatalf("only %d scans acknowledged before the kill, want at least %d", acked, killAfter)
	}
	t.Logf("%d scans acknowledged before the kill, %d in flight or after it", acked, unacked)

	log, err := st.ReadLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range log {
		if seen[e.ScanID] {
			t.Errorf("scan %s is in the log twice", e.ScanID)
		}
		seen[e.ScanID] = true
	}
	if len(seen) != len(all) {
		t.Errorf("log holds %d scans, want every one of the %d sent", len(seen), len(all))
	}
	got, err := st.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := ledger.Recount(zones, log)
	for _, z := range zones {
		g, w := got[z.ID], want[z.ID]
		if g.Occupancy != w.Occupancy || g.Entries != w.Entries || g.Exits != w.Exits {
			t.Errorf("zone %s: counters occupancy/entries/exits %d/%d/%d, recount from the log %d/%d/%d",
				z.ID, g.Occupancy, g.Entries, g.Exits, w.Occupancy, w.Entries, w.Exits)
		}
	}
}

// quiet drops go-redis' own log lines: while a test has killed its server,
// every pooled dial logs a refusal, which buries the test's output.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }

// discard is a logger for engines whose warnings a test does not read.
var discard = slog.New(slog.DiscardHandler)
