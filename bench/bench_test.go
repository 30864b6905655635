// The bench tool is package main, so its tests are internal: they run its
// measurement functions on tiny counts, so that make test exercises them.
// They assert what was measured (every scan an accepted entry, the table
// rendered), never how fast: timings belong to make bench.
package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crowdflow/gateway"
	"crowdflow/ledger/redisengine"
)

// TestMain lets the test binary be the live rows' child process too (see
// liveChild), as the bench binary is.
func TestMain(m *testing.M) {
	if spec := os.Getenv(liveChildEnv); spec != "" {
		os.Exit(liveChildMain(spec))
	}
	verifyScan = true // every update read is also decoded in full and compared
	os.Exit(m.Run())
}

// ouarzazate is the event file, from the bench directory.
const ouarzazate = "../configs/ouarzazate-2025.yaml"

// mustGateway starts a redis-server and a gateway on it, both stopped when
// tb ends; the gateway's shutdown must be graceful.
func mustGateway(tb testing.TB) *gatewayBench {
	tb.Helper()
	srv, err := startRedis()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.stop)
	eng, err := redisengine.Open(context.Background(), "redis://"+srv.addr+"/0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = eng.Close() })
	g, err := startGateway(ouarzazate, eng, gateway.DefaultLiveTick)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := g.stop(); err != nil {
			tb.Errorf("gateway shutdown: %v", err)
		}
	})
	return g
}

func TestGatewayScansAreAcceptedEntries(t *testing.T) {
	g := mustGateway(t)
	total := 0
	tests := map[string]struct {
		run         func() (result, error)
		n, scanners int
	}{
		"paced": {n: 20, scanners: 4, run: func() (result, error) {
			got, late, err := g.paced(100, 4, 200*time.Millisecond)
			if err == nil && late.n != got.n {
				t.Errorf("send delays of %d scans, want %d", late.n, got.n)
			}
			return got, err
		}},
		"paced, more scanners than scans": {n: 3, scanners: 3, run: func() (result, error) {
			got, _, err := g.paced(30, 10, 100*time.Millisecond)
			return got, err
		}},
		"closed loop": {n: 50, scanners: 5, run: func() (result, error) { return g.closed(50, 5) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.run()
			if err != nil {
				t.Fatal(err) // any verdict but accepted is an error
			}
			if got.n != tc.n || got.concurrent != tc.scanners {
				t.Errorf("got %d scans from %d scanners, want %d from %d", got.n, got.concurrent, tc.n, tc.scanners)
			}
			if got.rps <= 0 || got.p50 <= 0 || got.p99 < got.p50 {
				t.Errorf("got %+v: want a rate and ordered percentiles", got)
			}
			total += got.n
		})
	}
	entries, err := g.entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if entries != total {
		t.Errorf("the ledger counted %d entries, want %d", entries, total)
	}
}

func TestLiveClientsSeeEveryScan(t *testing.T) {
	g := mustGateway(t)
	const clients = 7
	got, err := g.live(clients, 500*time.Millisecond, true, true, "")
	if err != nil {
		t.Fatal(err) // a client that misses a scan, or sees seq go down, is an error
	}
	if got.verdict.n != 10 || got.verdict.concurrent != 1 {
		t.Errorf("got %d verdicts from %d scanners, want 10 from 1", got.verdict.n, got.verdict.concurrent)
	}
	if got.dashboard.n != 10*clients || got.dashboard.concurrent != clients {
		t.Errorf("got %d samples from %d clients, want %d from %d", got.dashboard.n, got.dashboard.concurrent, 10*clients, clients)
	}
	if got.dashboard.p50 <= 0 || got.dashboard.p99 < got.dashboard.p50 {
		t.Errorf("got %+v: want ordered percentiles", got.dashboard)
	}
	entries, err := g.entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if entries != 10 {
		t.Errorf("the ledger counted %d entries, want 10", entries)
	}
}

func TestQuickRunRendersEveryRow(t *testing.T) {
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	var stdout bytes.Buffer
	if err := run([]string{"-quick", "-centrifugo=false", "-config", ouarzazate, "-out", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	table := stdout.String()
	for _, want := range []string{
		"| measurement | clients | scans/s |",
		"| Store.Scan, Redis (go-redis, EVALSHA) | 50 |",
		"| Store.Scan, Redis (go-redis, EVALSHA) | 1 |",
		"| Gateway /ws/scan verdict, 10 scans/s paced | 10 |", // -quick offers 10 scans: one per scanner
		"| Gateway /ws/scan verdict, 100 scans/s paced | 50 |",
		"| Gateway /ws/scan verdict, 1000 scans/s paced | 100 |",
		"| Gateway /ws/scan verdict, closed loop (max) | 50 |",
		"| Gateway /ws/scan verdict, closed loop (max), the exits of those tickets | 50 |",
		"| Gateway /ws/scan verdict, closed loop (max), their re-entries | 50 |",
		"- Gateway /ws/scan verdict, closed loop (max): processor time per scan: the gateway's process",
		"| Store.Scan, embedded, in memory | 50 |",
		"| Store.Scan, embedded, journal fsynced | 1 |",
		"- Gateway /ws/scan verdict, 1000 scans/s paced: 1000 scans;",
		"| Gateway /ws/scan verdict, 20 scans/s paced, 20 live clients | 1 | 20 |",
		"| Scan → /ws/live update, 20 scans/s, 20 live clients | 20 | 20 |",
		"- Scan → /ws/live update, 20 scans/s, 20 live clients: 20 scans × 20 clients = 400 samples (every client saw every scan)",
		"| live clients | RSS before → after (one process) |",
		"\n| 20 | ",
		"- Live clients: the file-descriptor limit",
		"| Report of one day, Redis, 4800 scans in the log | 1 |",
		"| Report of the whole fair (6 days), embedded, 4800 scans in the log | 1 |",
		"read the log once (XRANGE, 4800 scans)",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
	if got, want := strings.Count("\n"+table, "\n| "), 23; got != want {
		t.Errorf("got %d table lines, want %d:\n%s", got, want, table)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "\n## ") || !strings.HasSuffix(string(b), table) {
		t.Errorf("-out holds %q, want a dated heading and the table", b)
	}
}

// TestOnlyClosed: -only closed renders the closed-loop rows alone, each with
// its processor time per scan beside the reference's.
func TestOnlyClosed(t *testing.T) {
	var stdout bytes.Buffer
	if err := run([]string{"-quick", "-only", "closed", "-config", ouarzazate, "-out", ""}, &stdout); err != nil {
		t.Fatal(err)
	}
	table := stdout.String()
	if got, want := strings.Count("\n"+table, "\n| "), 5; got != want {
		t.Errorf("got %d table lines, want 5 (heading, rule, 3 rows):\n%s", got, table)
	}
	if got := strings.Count(table, "processor time per scan: the gateway's process (gateway and its 50 scanners) "); got != 3 {
		t.Errorf("%d footnotes with the processor time per scan, want 3:\n%s", got, table)
	}
	if strings.Contains(table, "paced") || strings.Contains(table, "Store.Scan") {
		t.Errorf("-only closed ran other rows:\n%s", table)
	}
}
