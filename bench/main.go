// Command bench measures the ledger and the gateway and records the figures
// in BENCHMARKS.md: each figure beside its reference measured in the same run
// on the same machine (this machine is shared and absolute times drift, so
// the ratios are what to compare between runs).
//
//	go run ./bench [-quick] [-n 50000] [-c 50] [-gw-for 15s] [-gw-n 20000]
//	               [-live 0,100,1000,5000] [-live-for 30s] [-live-tick 250ms] [-only live|closed]
//	               [-centrifugo=true] [-cpuprofile FILE] [-trace FILE] [-out BENCHMARKS.md]
//
// It starts its own redis-server on a free loopback port in a temporary
// directory and never touches any other Redis; the gateway it measures runs
// in this process, on a loopback port, on that redis-server. The live rows
// also run this program again as a child that holds live clients, so that
// the gateway's memory per client is measured alone. Beside them it runs
// Centrifugo (installed with go install into the user's cache the first
// time; its row says so when that fails) with bench/centrifugo.json, driven
// by the same client code, client counts, rate and message size.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crowdflow/checkin"
	"crowdflow/gateway"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/redisengine"
)

func main() {
	if spec := os.Getenv(liveChildEnv); spec != "" {
		os.Exit(liveChildMain(spec))
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// row is one line of the table: a figure and the reference it is read against.
type row struct {
	what, ref string
	got, base result
	note      string // a footnote under the table; "" for none
}

type result struct {
	rps           float64
	p50, p99      time.Duration
	n, concurrent int
	cpu           cpuUse // zero where not measured
}

// load is one paced row of the gateway: rate scans/s offered over conns
// scanners, each at most 10 scans/s, under the gateway's default limit of
// 20 per device.
type load struct {
	rate  float64
	conns int
}

var loads = []load{{10, 20}, {100, 50}, {1000, 100}}

// options are the flags of run.
type options struct {
	n, c    int           // scans per Store.Scan measurement, concurrent clients
	gwFor   time.Duration // how long each paced gateway row offers its load
	gwN     int           // scans of the closed-loop gateway row
	live    []int         // live clients of each scan → dashboard row
	liveFor time.Duration // how long scans go out while they watch
	config  string        // the event file of the gateway
	out     string        // file to append the table to; "" for none
	only    string        // "live": only the live rows (and their Centrifugo rows); "closed": only the closed loop
	cf      bool          // measure Centrifugo beside the live rows (installing it the first time)
	// liveTick is the gateways' coalescing window (gateway.Config.LiveTick).
	liveTick time.Duration
	// liveInproc runs the live clients of the latency rows in this process
	// (as before issue 10's fan-out work) rather than in a child.
	liveInproc bool
	// memProfile is where to write a heap profile once the live clients
	// of a row are connected ("" for none).
	memProfile string
	// reportScans are the scans in the log of the report rows, reportRuns
	// the reports measured on it.
	reportScans, reportRuns int
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.n, "n", 50000, "scans per Store.Scan measurement")
	fs.IntVar(&o.c, "c", 50, "concurrent clients (and scanner connections of the closed-loop gateway row)")
	fs.DurationVar(&o.gwFor, "gw-for", 15*time.Second, "how long each paced gateway row offers its load")
	fs.IntVar(&o.gwN, "gw-n", 20000, "scans of the closed-loop gateway row")
	fs.StringVar(&o.config, "config", "configs/ouarzazate-2025.yaml", "event file of the gateway")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "file to append the table to (\"\" for none)")
	fs.DurationVar(&o.liveFor, "live-for", 30*time.Second, "how long scans go out while the live clients watch")
	live := fs.String("live", "0,100,1000,5000", "live clients of each scan → dashboard row, comma-separated (0: the verdicts with none watching)")
	fs.StringVar(&o.only, "only", "", "\"live\": only the live rows and their Centrifugo rows; \"closed\": only the gateway's closed loop and its reference (quicker runs)")
	fs.BoolVar(&o.cf, "centrifugo", true, "measure Centrifugo "+centrifugoVersion+" beside the live rows (go install into the user's cache the first time)")
	fs.DurationVar(&o.liveTick, "live-tick", gateway.DefaultLiveTick, "the gateways' live coalescing window (at most one update per window per client under load)")
	fs.BoolVar(&o.liveInproc, "live-inproc", false, "run the live clients of the latency rows in the bench's own process, beside the gateway (the default: in a child process)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile of the bench's process (the gateway) to this file once the live clients of the last live row have their snapshot (go tool pprof)")
	traceFile := fs.String("trace", "", "write an execution trace of the run to this file (go tool trace)")
	fs.IntVar(&o.reportScans, "report-scans", 1000000, "scans in the event log of the report rows")
	fs.IntVar(&o.reportRuns, "report-runs", 20, "reports measured in each report row")
	quick := fs.Bool("quick", false, "a smoke run of a few seconds: tiny counts, figures not worth recording")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range strings.Split(*live, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 0 {
			return fmt.Errorf("-live %q: want numbers of clients, comma-separated (0: the verdicts with none watching)", *live)
		}
		o.live = append(o.live, c)
	}
	if *quick {
		o.n, o.gwFor, o.gwN = 1000, time.Second, 500
		o.live, o.liveFor = []int{20}, time.Second
		o.reportScans, o.reportRuns = 4800, 3 // 200 visits of 4 scans on each of 6 days
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	rows, mem, err := measureAll(o)
	if err != nil {
		return err
	}
	table := render(rows) + mem
	fmt.Fprint(stdout, table)
	if o.out == "" {
		return nil
	}
	f, err := os.OpenFile(o.out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\n## %s — %s\n\n%s", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(), table)
	return err
}

// measureAll takes every measurement of the table, in its order; it also
// returns the table of memory per live client.
func measureAll(o options) (rows []row, mem string, err error) {
	n, c := o.n, o.c
	ctx := context.Background()
	srv, err := startRedis()
	if err != nil {
		return nil, "", err
	}
	defer srv.stop()

	eng, err := redisengine.Open(ctx, "redis://"+srv.addr+"/0")
	if err != nil {
		return nil, "", err
	}
	defer eng.Close()
	st, sc, err := benchStore(eng)
	if err != nil {
		return nil, "", err
	}

	// The reference: redis-benchmark calling the very same script by EVALSHA
	// with the same keys and arguments, a new scan id and ticket each call.
	sha, err := eng.Client().ScriptLoad(ctx, ledger.ScanScript.Source).Result()
	if err != nil {
		return nil, "", fmt.Errorf("script load: %w", err)
	}
	keys, argv := scanArgs(st, sc)
	cmd := append([]string{"EVALSHA", sha, strconv.Itoa(len(keys))}, keys...)
	cmd = append(cmd, argv...)
	if o.only == "live" {
		n = min(n, 2000)
	}
	raw, err := redisBenchmark(srv.addr, n, c, cmd)
	if err != nil {
		return nil, "", err
	}
	if o.only == "closed" {
		if err := eng.Client().FlushAll(ctx).Err(); err != nil {
			return nil, "", err
		}
		rows, err := gatewayRows(o, eng, result{}, raw)
		return rows, "", err
	}
	rawOne, err := redisBenchmark(srv.addr, n/10, 1, cmd)
	if err != nil {
		return nil, "", err
	}
	if o.only == "live" {
		if err := eng.Client().FlushAll(ctx).Err(); err != nil {
			return nil, "", err
		}
		rows, res, fdNote, err := liveRows(o, eng, rawOne)
		if err != nil {
			return nil, "", err
		}
		cRows, cMem, err := centrifugoSide(o, res)
		if err != nil {
			return nil, "", err
		}
		return append(rows, cRows...), renderMemory(res, fdNote) + cMem, nil
	}
	const refName = "redis-benchmark EVALSHA scan.lua"
	for _, conc := range []int{c, 1} {
		ref, count := raw, n
		if conc == 1 {
			ref, count = rawOne, n/10
		}
		if err := eng.Client().FlushAll(ctx).Err(); err != nil {
			return nil, "", err
		}
		got, err := scans(ctx, st, sc, count, conc)
		if err != nil {
			return nil, "", err
		}
		rows = append(rows, row{what: "Store.Scan, Redis (go-redis, EVALSHA)", ref: refName, got: got, base: ref})
	}

	// One gateway, the whole path of a gate: websocket frame, token and
	// rate limit, ticket signature, the event's rules, Store.Scan on the
	// same redis-server, the verdict back. Paced rows read against the
	// script's own latency with one client (what the gateway adds to it);
	// the closed loop against redis-benchmark with as many clients.
	if err := eng.Client().FlushAll(ctx).Err(); err != nil {
		return nil, "", err
	}
	gwRows, err := gatewayRows(o, eng, rawOne, raw)
	if err != nil {
		return nil, "", err
	}
	rows = append(rows, gwRows...)

	// Scan → dashboard: a fresh gateway on the same redis-server, with
	// 100 to 5,000 live clients watching while scans go out at 20/s.
	if err := eng.Client().FlushAll(ctx).Err(); err != nil {
		return nil, "", err
	}
	liveRs, liveRes, fdNote, err := liveRows(o, eng, rawOne)
	if err != nil {
		return nil, "", err
	}
	rows = append(rows, liveRs...)
	cRows, cMem, err := centrifugoSide(o, liveRes)
	if err != nil {
		return nil, "", err
	}
	rows = append(rows, cRows...)
	mem = renderMemory(liveRes, fdNote) + cMem

	// Reports: one day and the whole fair with a million scans in the log,
	// against one read of that log, on Redis and on the embedded store.
	if err := eng.Client().FlushAll(ctx).Err(); err != nil {
		return nil, "", err
	}
	repRows, err := reportRows(ctx, o, "Redis", eng)
	if err != nil {
		return nil, "", err
	}
	if err := eng.Client().FlushAll(ctx).Err(); err != nil {
		return nil, "", err
	}
	repEmb, err := embedded.Open(embedded.Options{})
	if err != nil {
		return nil, "", err
	}
	embRows, err := reportRows(ctx, o, "embedded", repEmb)
	repEmb.Close()
	if err != nil {
		return nil, "", err
	}

	// The embedded store runs the same script in process: in memory (a
	// demo), and with its journal fsynced before each verdict (a venue).
	for _, journal := range []bool{false, true} {
		for _, conc := range []int{c, 1} {
			count := n
			if conc == 1 || journal {
				count = n / 10 // fsync-bound: fewer calls keep the run short
			}
			dir := ""
			if journal {
				if dir, err = os.MkdirTemp("", "crowdflow-bench-embedded-"); err != nil {
					return nil, "", err
				}
			}
			emb, err := embedded.Open(embedded.Options{Dir: dir})
			if err != nil {
				return nil, "", err
			}
			est, esc, err := benchStore(emb)
			if err != nil {
				return nil, "", err
			}
			got, err := scans(ctx, est, esc, count, conc)
			emb.Close()
			if dir != "" {
				os.RemoveAll(dir)
			}
			if err != nil {
				return nil, "", err
			}
			what := "Store.Scan, embedded, in memory"
			if journal {
				what = "Store.Scan, embedded, journal fsynced"
			}
			ref := raw
			if conc == 1 {
				ref = rawOne
			}
			rows = append(rows, row{what: what, ref: refName, got: got, base: ref})
		}
	}
	rows = append(rows, repRows...)
	return append(rows, embRows...), mem, nil
}

// gatewayRows measures one gateway on eng: a short warm-up (not recorded),
// each paced load (none with -only closed), then the closed loop with o.c
// scanners: new tickets in, the same out, then in again; it checks that the
// ledger counted every entry, re-entry and exit.
func gatewayRows(o options, eng ledger.Engine, paceRef, closedRef result) ([]row, error) {
	const refName = "redis-benchmark EVALSHA scan.lua"
	g, err := startGateway(o.config, eng, o.liveTick)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = g.stop()
		}
	}()
	// Warm-up: go-redis's pool, the script cache, the scanners' first
	// handshakes, the Go runtime's heap.
	warm := min(o.gwN/10, 1000)
	if _, err := g.closed(warm, o.c); err != nil {
		return nil, fmt.Errorf("gateway warm-up: %w", err)
	}
	total := warm
	var rows []row
	paced := loads
	if o.only == "closed" {
		paced = nil
	}
	for _, l := range paced {
		got, late, err := g.paced(l.rate, l.conns, o.gwFor)
		if err != nil {
			return nil, fmt.Errorf("gateway at %g scans/s: %w", l.rate, err)
		}
		total += got.n
		what := fmt.Sprintf("Gateway /ws/scan verdict, %g scans/s paced", l.rate)
		rows = append(rows, row{what: what, ref: refName, got: got, base: paceRef,
			note: fmt.Sprintf("%s: %d scans; the scanners sent them %s (p50) / %s (p99) after they were due "+
				"(timer and scheduler delay on this machine), included in the latency.",
				what, got.n, ms(late.p50), ms(late.p99))})
	}
	got, back, again, err := g.closedThrice(o.gwN, o.c)
	if err != nil {
		return nil, fmt.Errorf("gateway closed loop: %w", err)
	}
	total += got.n + again.n
	for _, r := range []struct {
		what string
		got  result
	}{{"Gateway /ws/scan verdict, closed loop (max)", got},
		{"Gateway /ws/scan verdict, closed loop (max), the exits of those tickets", back},
		{"Gateway /ws/scan verdict, closed loop (max), their re-entries", again}} {
		rows = append(rows, row{what: r.what, ref: refName, got: r.got, base: closedRef, note: cpuNote(r.what, r.got, closedRef)})
	}

	entries, exits, err := g.moves(context.Background())
	if err != nil {
		return nil, err
	}
	if entries != total || exits != back.n {
		return nil, fmt.Errorf("gateway: the ledger counted %d entries and %d exits, want %d and %d", entries, exits, total, back.n)
	}
	stopped = true
	if err := g.stop(); err != nil {
		return nil, fmt.Errorf("gateway shutdown: %w", err)
	}
	return rows, nil
}

// scans runs n accepted entries through st from c goroutines.
func scans(ctx context.Context, st *ledger.Store, sc ledger.Scan, n, c int) (result, error) {
	m := measure(n, c, func(i int) error {
		s := sc
		s.ID = fmt.Sprintf("bench-%d", i)
		s.Ticket = fmt.Sprintf("t%d", i)
		v, err := st.Scan(ctx, s)
		if err == nil && v.Code != checkin.Accepted {
			err = fmt.Errorf("scan %d: %s", i, v.Code)
		}
		return err
	})
	return m.result, m.err
}

func benchStore(eng ledger.Engine) (*ledger.Store, ledger.Scan, error) {
	loc, err := time.LoadLocation("Africa/Casablanca")
	if err != nil {
		return nil, ledger.Scan{}, err
	}
	st, err := ledger.New(ledger.Config{Event: "bench", Location: loc, Zones: []ledger.Zone{
		{ID: "site", Capacity: 1 << 30},
		{ID: "hall-crafts", Parent: "site", Capacity: 1 << 30},
		{ID: "hall-terroir", Parent: "site", Capacity: 1 << 30},
		{ID: "pavilion", Parent: "site", Capacity: 1 << 30},
		{ID: "workshops", Parent: "site", Capacity: 1 << 30},
		{ID: "stage", Parent: "site", Capacity: 1 << 30},
	}}, eng)
	sc := ledger.Scan{Device: "bench", Gate: "MAIN-1", Zone: "site", Direction: checkin.In,
		Type: "visitor", Reentry: true, Precheck: checkin.Accepted,
		At: time.Date(2025, 9, 17, 11, 0, 0, 0, loc), DeviceAt: time.Date(2025, 9, 17, 11, 0, 0, 0, loc)}
	return st, sc, err
}

// scanArgs is the keys and arguments Store.Scan passes, with
// redis-benchmark's __rand_int__ where each scan differs: its id and ticket.
func scanArgs(st *ledger.Store, sc ledger.Scan) ([]string, []string) {
	sc.ID, sc.Ticket = "s__rand_int__", "t__rand_int__"
	return st.ScanCall(sc)
}

type measured struct {
	result
	err error
}

// measure runs op n times from c goroutines and times each call.
func measure(n, c int, op func(i int) error) measured {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	return measured{result: result{rps: float64(n) / elapsed.Seconds(), p50: lat[n/2], p99: lat[n*99/100],
		n: n, concurrent: c}, err: firstErr}
}

func render(rows []row) string {
	var b strings.Builder
	b.WriteString("| measurement | clients | scans/s | p50 | p99 | reference | ref clients | ref scans/s | ref p50 | ref p99 | ratio (scans/s) | ratio (p50) | ratio (p99) |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %s | %s | %d | %.0f | %s | %s | %.2f | %.1f | %.1f |\n",
			r.what, r.got.concurrent, r.got.rps, ms(r.got.p50), ms(r.got.p99), r.ref, r.base.concurrent,
			r.base.rps, ms(r.base.p50), ms(r.base.p99), r.got.rps/r.base.rps,
			float64(r.got.p50)/float64(r.base.p50), float64(r.got.p99)/float64(r.base.p99))
	}
	for i, r := range rows {
		if r.note != "" {
			if i == 0 || !slices.ContainsFunc(rows[:i], func(r row) bool { return r.note != "" }) {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "- %s\n", r.note)
		}
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	ver, _ := exec.Command("redis-server", "--version").Output()
	return fmt.Sprintf("%s, %d cores, %s %s/%s, %s", cpu, runtime.NumCPU(), runtime.Version(),
		runtime.GOOS, runtime.GOARCH, strings.TrimSpace(strings.SplitN(string(ver), " sha=", 2)[0]))
}
