// Command bench measures the ledger and records the figures in
// BENCHMARKS.md: each figure beside its reference measured in the same run
// on the same machine (this machine is shared and absolute times drift, so
// the ratios are what to compare between runs).
//
//	go run ./bench [-n 50000] [-c 50] [-out BENCHMARKS.md]
//
// It starts its own redis-server on a free loopback port in a temporary
// directory and never touches any other Redis.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"crowdflow/checkin"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/redisengine"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// row is one line of the table: a figure and the reference it is read against.
type row struct {
	what, ref string
	got, base result
}

type result struct {
	rps           float64
	p50, p99      time.Duration
	n, concurrent int
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 50000, "scans per measurement")
	c := fs.Int("c", 50, "concurrent clients")
	out := fs.String("out", "BENCHMARKS.md", "file to append the table to (\"\" for none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	srv, err := startRedis()
	if err != nil {
		return err
	}
	defer srv.stop()

	eng, err := redisengine.Open(ctx, "redis://"+srv.addr+"/0")
	if err != nil {
		return err
	}
	defer eng.Close()
	st, sc, err := benchStore(eng)
	if err != nil {
		return err
	}

	// The reference: redis-benchmark calling the very same script by EVALSHA
	// with the same keys and arguments, a new scan id and ticket each call.
	sha, err := eng.Client().ScriptLoad(ctx, ledger.ScanScript.Source).Result()
	if err != nil {
		return fmt.Errorf("script load: %w", err)
	}
	keys, argv := scanArgs(sc)
	cmd := append([]string{"EVALSHA", sha, strconv.Itoa(len(keys))}, keys...)
	cmd = append(cmd, argv...)
	raw, err := redisBenchmark(srv.addr, *n, *c, cmd)
	if err != nil {
		return err
	}
	rawOne, err := redisBenchmark(srv.addr, *n/10, 1, cmd)
	if err != nil {
		return err
	}
	var rows []row
	for _, conc := range []int{*c, 1} {
		ref, count := raw, *n
		if conc == 1 {
			ref, count = rawOne, *n/10
		}
		if err := eng.Client().FlushAll(ctx).Err(); err != nil {
			return err
		}
		got, err := scans(ctx, st, sc, count, conc)
		if err != nil {
			return err
		}
		rows = append(rows, row{what: "Store.Scan, Redis (go-redis, EVALSHA)", ref: "redis-benchmark EVALSHA scan.lua",
			got: got, base: ref})
	}

	// The embedded store runs the same script in process: in memory (a
	// demo), and with its journal fsynced before each verdict (a venue).
	for _, journal := range []bool{false, true} {
		for _, conc := range []int{*c, 1} {
			count := *n
			if conc == 1 || journal {
				count = *n / 10 // fsync-bound: fewer calls keep the run short
			}
			dir := ""
			if journal {
				if dir, err = os.MkdirTemp("", "crowdflow-bench-embedded-"); err != nil {
					return err
				}
			}
			emb, err := embedded.Open(embedded.Options{Dir: dir})
			if err != nil {
				return err
			}
			est, esc, err := benchStore(emb)
			if err != nil {
				return err
			}
			got, err := scans(ctx, est, esc, count, conc)
			emb.Close()
			if dir != "" {
				os.RemoveAll(dir)
			}
			if err != nil {
				return err
			}
			what := "Store.Scan, embedded, in memory"
			if journal {
				what = "Store.Scan, embedded, journal fsynced"
			}
			ref := raw
			if conc == 1 {
				ref = rawOne
			}
			rows = append(rows, row{what: what, ref: "redis-benchmark EVALSHA scan.lua", got: got, base: ref})
		}
	}
	table := render(rows)
	fmt.Fprint(stdout, table)
	if *out == "" {
		return nil
	}
	f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\n## %s — %s\n\n%s", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(), table)
	return err
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

// scanArgs builds the keys and arguments Store.Scan would pass, with
// redis-benchmark's __rand_int__ where each scan differs.
func scanArgs(sc ledger.Scan) ([]string, []string) {
	p := "cf:{bench}:"
	keys := []string{p + "scans", p + "place", p + "revoked", p + "log", p + "zones",
		p + "day:2025-09-17", p + "seen:2025-09-17"}
	at := strconv.FormatInt(sc.At.UnixMilli(), 10)
	argv := []string{"s__rand_int__", sc.Device, sc.Gate, sc.Zone, "in", "t__rand_int__", sc.Type,
		"accepted", "1", "0", "", at, at, "11", "6",
		"site", "", "1073741824", "hall-crafts", "site", "1073741824", "hall-terroir", "site", "1073741824",
		"pavilion", "site", "1073741824", "workshops", "site", "1073741824", "stage", "site", "1073741824"}
	return keys, argv
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

func redisBenchmark(addr string, n, c int, cmd []string) (result, error) {
	host, port, _ := net.SplitHostPort(addr)
	args := append([]string{"-h", host, "-p", port, "-n", strconv.Itoa(n), "-c", strconv.Itoa(c),
		"-r", "1000000000", "--csv"}, cmd...)
	outb, err := exec.Command("redis-benchmark", args...).Output()
	if err != nil {
		return result{}, fmt.Errorf("redis-benchmark: %w", err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(outb))).ReadAll()
	if err != nil || len(recs) < 2 || len(recs[1]) < 7 {
		return result{}, fmt.Errorf("redis-benchmark: unexpected output %q", outb)
	}
	rps, _ := strconv.ParseFloat(recs[1][1], 64)
	ms := func(s string) time.Duration {
		f, _ := strconv.ParseFloat(s, 64)
		return time.Duration(f * float64(time.Millisecond))
	}
	return result{rps: rps, p50: ms(recs[1][4]), p99: ms(recs[1][6]), n: n, concurrent: c}, nil
}

func render(rows []row) string {
	var b strings.Builder
	b.WriteString("| measurement | scans/s | p50 | p99 | reference | ref scans/s | ref p50 | ref p99 | ratio (scans/s) |\n")
	b.WriteString("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s (%d clients) | %.0f | %s | %s | %s | %.0f | %s | %s | %.2f |\n",
			r.what, r.got.concurrent, r.got.rps, ms(r.got.p50), ms(r.got.p99), r.ref,
			r.base.rps, ms(r.base.p50), ms(r.base.p99), r.got.rps/r.base.rps)
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

type redisServer struct {
	addr string
	cmd  *exec.Cmd
	dir  string
}

// startRedis starts a throwaway redis-server (AOF everysec, as in
// production) on a free loopback port.
func startRedis() (*redisServer, error) {
	dir, err := os.MkdirTemp("", "crowdflow-bench-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s := &redisServer{addr: "127.0.0.1:" + port, cmd: cmd, dir: dir}
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return s, nil
		} else if time.Now().After(deadline) {
			s.stop()
			return nil, errors.Join(errors.New("redis-server did not start"), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}
