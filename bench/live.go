package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/ledger"
	"crowdflow/token"
)

// The live rows (issue 4): scan → dashboard latency and memory per live
// client, on one gateway.
const (
	// liveRate is the scans per second sent while the live clients watch:
	// twice the fair's peak at the entrance, one scanner, one scan at a time.
	liveRate = 20.0
	// liveDialers is how many live clients connect at once: under the
	// listen backlog, so that no SYN is dropped and retried a second later.
	liveDialers = 64
	// liveCatchUp bounds the wait, after the last scan, for every client
	// to see it: a client that has not by then is an error.
	liveCatchUp = 15 * time.Second
	// liveChildEnv, when set ("kind addr clients root token"), makes the
	// process a child that only holds live clients (liveclients.go).
	liveChildEnv = "CROWDFLOW_BENCH_LIVE_CHILD"
	// g4Budget is goal G4's memory per dashboard client: 256 MiB for 2,000.
	g4Budget = 256 << 20 / 2000
)

// liveLoads are the numbers of live clients of the full run.
var liveLoads = []int{100, 1000, 5000}

// liveUpdate is what the bench reads of a /ws/live message.
type liveUpdate struct {
	Type  string `json:"type"`
	Seq   int64  `json:"seq"`
	Zones []struct {
		ID      string `json:"id"`
		Entries int    `json:"entries"`
	} `json:"zones"`
}

// arrival is when a live client read a message in which the root zone's
// entries had grown to entries.
type arrival struct {
	entries int
	at      int64 // Unix nanoseconds
}

// watcher is one dashboard: a gorilla websocket client on /ws/live with a
// security token. Its reader records each growth of the root zone's entries.
type watcher struct {
	ws       *websocket.Conn
	root     string
	wrap     []byte       // what each message begins with before the update (Centrifugo's push); nil for none
	base     int          // the root zone's entries in the snapshot
	last     atomic.Int64 // the root zone's entries in the latest message
	arrivals []arrival    // written by the reader; read once it has ended
	closing  atomic.Bool
	err      error // the reader's, when not closing; read once it has ended
	done     chan struct{}
}

// liveToken signs a security token, which may watch the live stream.
func liveToken(secret []byte) (string, error) {
	now := time.Now()
	return token.Sign(secret, token.Claims{Role: token.Security, Subject: "bench-live",
		Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
}

// dialWatcher connects one live client and reads its snapshot; its reader
// then runs until the connection ends.
func dialWatcher(addr, tok, root string) (*watcher, error) {
	d := websocket.Dialer{HandshakeTimeout: replyWait}
	ws, _, err := d.Dial("ws://"+addr+"/ws/live", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		return nil, fmt.Errorf("dial /ws/live: %w", err)
	}
	w := &watcher{ws: ws, root: root, done: make(chan struct{})}
	_ = ws.SetReadDeadline(time.Now().Add(replyWait))
	_, b, err := ws.ReadMessage()
	var m liveUpdate
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err == nil && m.Type != "snapshot" {
		err = fmt.Errorf("first message %q, want a snapshot", m.Type)
	}
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("/ws/live snapshot: %w", err)
	}
	w.base = -1
	for _, z := range m.Zones {
		if z.ID == root {
			w.base = z.Entries
		}
	}
	if w.base < 0 {
		ws.Close()
		return nil, fmt.Errorf("/ws/live snapshot: no zone %s", root)
	}
	w.last.Store(int64(w.base))
	_ = ws.SetReadDeadline(time.Time{}) // the gateway pings; gorilla answers
	go w.read(m.Seq)
	return w, nil
}

// read records when the root zone's entries grew; seq must never go down.
// It reads each message into one reused buffer and picks seq and the root
// zone's entries out of it without decoding the rest (scanUpdate), so that
// 5,000 clients in the gateway's process cost it as little as they can.
func (w *watcher) read(seq int64) {
	defer close(w.done)
	var buf bytes.Buffer
	idKey := []byte(`{"id":` + strconv.Quote(w.root) + `,`)
	for {
		_, r, err := w.ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			if !w.closing.Load() {
				w.err = err
			}
			return
		}
		at := time.Now().UnixNano()
		b := buf.Bytes()
		if w.wrap != nil {
			var ok bool
			if b, ok = bytes.CutPrefix(b, w.wrap); !ok {
				continue // a ping or another push
			}
		}
		s, entries, err := scanUpdate(b, idKey)
		if err == nil && verifyScan && w.wrap == nil {
			err = checkScan(b, w.root, s, entries)
		}
		if err == nil && s < seq {
			err = fmt.Errorf("seq %d after seq %d, want it not lower", s, seq)
		}
		if err != nil {
			w.err = err
			return
		}
		seq = s
		if entries > w.last.Load() {
			w.arrivals = append(w.arrivals, arrival{entries: int(entries), at: at})
			w.last.Store(entries)
		}
	}
}

// updatePrefix is how every update begins: its type, then its seq
// (gateway's liveMessage field order).
var updatePrefix = []byte(`{"type":"update","seq":`)

// scanUpdate reads an update's seq and the entries of the zone whose object
// begins with idKey, -1 when the update does not carry that zone.
func scanUpdate(b, idKey []byte) (seq, entries int64, err error) {
	rest, ok := bytes.CutPrefix(b, updatePrefix)
	if !ok {
		return 0, 0, fmt.Errorf("got %.60q, want an update", b)
	}
	if seq, _, err = leadingInt(rest); err != nil {
		return 0, 0, fmt.Errorf("update seq: %w", err)
	}
	entries = -1
	if i := bytes.Index(b, idKey); i >= 0 {
		zone := b[i+len(idKey):]
		if end := bytes.Index(zone, []byte(`{"id":`)); end >= 0 {
			zone = zone[:end] // the next zone
		}
		_, v, ok := bytes.Cut(zone, []byte(`"entries":`))
		if !ok {
			return 0, 0, fmt.Errorf("update zone %s: no entries", idKey)
		}
		if entries, _, err = leadingInt(v); err != nil {
			return 0, 0, fmt.Errorf("update zone %s entries: %w", idKey, err)
		}
	}
	return seq, entries, nil
}

// verifyScan makes every watcher check scanUpdate against a full decoding
// of each update (the tests set it).
var verifyScan bool

// checkScan decodes update b and compares it with what scanUpdate read.
func checkScan(b []byte, root string, seq, entries int64) error {
	var m liveUpdate
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	want := int64(-1)
	for _, z := range m.Zones {
		if z.ID == root {
			want = int64(z.Entries)
		}
	}
	if m.Type != "update" || m.Seq != seq || want != entries {
		return fmt.Errorf("scanUpdate read seq %d, %s entries %d of %s; want %s seq %d entries %d", seq, root, entries, b, m.Type, m.Seq, want)
	}
	return nil
}

// leadingInt parses the digits at the start of b.
func leadingInt(b []byte) (int64, []byte, error) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 64)
	return n, b[i:], err
}

// dialWatchers connects n live clients, liveDialers at a time; on error it
// closes those it opened.
func dialWatchers(addr, tok, root string, n int) ([]*watcher, error) {
	return dialMany(n, func() (*watcher, error) { return dialWatcher(addr, tok, root) })
}

// dialMany connects n clients with dial, liveDialers at a time; on error it
// closes those it opened.
func dialMany(n int, dial func() (*watcher, error)) ([]*watcher, error) {
	ws := make([]*watcher, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(liveDialers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				w, err := dial()
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("live client %d of %d: %w", i+1, n, err) })
					next.Store(int64(n)) // stop the others
					return
				}
				ws[i] = w
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeWatchers(slices.DeleteFunc(ws, func(w *watcher) bool { return w == nil }))
		return nil, firstErr
	}
	return ws, nil
}

// closeWatchers says goodbye on every connection, waits (a few seconds at
// most) for the gateway's close frames, and closes.
func closeWatchers(ws []*watcher) {
	for _, w := range ws {
		w.closing.Store(true)
		_ = w.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for _, w := range ws {
		select {
		case <-w.done:
		case <-deadline.C:
		}
		_ = w.ws.Close()
	}
	for _, w := range ws {
		<-w.done
	}
}

// memory is this process's resident set and Go heap and stacks, after a
// collection that also returns the free pages to the system, so that what
// remains is what is held.
type memory struct{ rss, heap, stack int64 }

func memNow() (memory, error) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := vmRSS("/proc/self/status")
	return memory{rss: rss, heap: int64(ms.HeapInuse), stack: int64(ms.StackInuse)}, err
}

// vmRSS reads VmRSS, in bytes, from a /proc/PID/status file.
func vmRSS(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS", path)
}

func (m memory) sub(o memory) memory {
	return memory{rss: m.rss - o.rss, heap: m.heap - o.heap, stack: m.stack - o.stack}
}

// raiseFDLimit makes sure this process may hold need file descriptors,
// raising the soft limit (and the hard one, which only root may) when it
// is lower. It says what it did, "" when nothing.
func raiseFDLimit(need uint64) (string, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return "", err
	}
	if r.Cur >= need {
		return "", nil
	}
	was := r
	r.Cur = need
	r.Max = max(r.Max, need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return "", fmt.Errorf("%d live clients need %d file descriptors; the limit is %d (hard %d): %w",
			need/2, need, was.Cur, was.Max, err)
	}
	return fmt.Sprintf("the file-descriptor limit was raised from %d (hard %d) to %d with setrlimit", was.Cur, was.Max, need), nil
}

// fdSpare is the file descriptors the bench needs besides the live
// clients' (redis, scanners, files).
const fdSpare = 256

// liveResult is one load of the live rows.
type liveResult struct {
	clients        int
	dashboard      result // scan sent → update read, over every client and scan
	verdict        result // the same scans' verdicts
	mem            memory // in process: both ends of every connection
	before, after  memory
	server, client memory // clients in a child process: the gateway alone, and the child
	plain          int64  // the gateway alone: resident set growth with no forced collection
	dial           time.Duration
	inproc         bool // the clients ran in this process (-live-inproc)
}

// live opens clients live clients on g, sends scans at liveRate for d and
// times each one to every client. By default (inproc false) the clients
// run in a child process, and the memory figures are the gateway's
// (this process) and the child's. With inproc they run in this process,
// whose growth then counts both ends of every connection; the gateway
// alone is then measured afterwards with the clients in a child (unless
// noChild).
// With memProfile, it writes a heap profile of this process there once the
// clients have their snapshot.
func (g *gatewayBench) live(clients int, d time.Duration, inproc, noChild bool, memProfile string) (liveResult, error) {
	res := liveResult{clients: clients, inproc: inproc}
	tok, err := liveToken(g.secret)
	if err != nil {
		return res, err
	}
	root := g.ev.Root().ID
	n := max(int(liveRate*d.Seconds()), 1)
	payloads, err := g.tickets(n)
	if err != nil {
		return res, err
	}
	sc, err := g.dial(0)
	if err != nil {
		return res, err
	}
	defer sc.close()

	var cs clientSet
	t0 := time.Now()
	switch {
	case clients == 0:
	case inproc:
		if res.before, err = memNow(); err != nil {
			return res, err
		}
		t0 = time.Now()
		ws, err := dialWatchers(g.addr, tok, root, clients)
		if err != nil {
			return res, err
		}
		cs = localClients(ws)
		if res.after, err = memNow(); err != nil {
			cs.close()
			return res, err
		}
		res.mem = res.after.sub(res.before)
	default:
		var cc *childClients
		cc, res.server, res.client, res.plain, err = g.liveChild(tok, root, clients)
		if err != nil {
			return res, err
		}
		cs = cc
	}
	res.dial = time.Since(t0)
	if memProfile != "" && clients > 0 {
		if err := writeHeapProfile(memProfile); err != nil {
			if cs != nil {
				cs.close()
			}
			return res, err
		}
	}
	collected := false
	defer func() {
		if cs != nil && !collected {
			cs.close()
		}
	}()

	// The scans: one scanner, one scan at a time, scan k due at
	// start + k/liveRate; each timed from when it was sent.
	e0, err := g.entries(context.Background())
	if err != nil {
		return res, err
	}
	sent := make([]int64, n)
	verdicts := make([]time.Duration, n)
	start := time.Now().Add(20 * time.Millisecond)
	for k := range n {
		time.Sleep(time.Until(start.Add(time.Duration(float64(k) / liveRate * float64(time.Second)))))
		t := time.Now()
		sent[k] = t.UnixNano()
		if err := sc.scan(payloads[k]); err != nil {
			return res, err
		}
		verdicts[k] = time.Since(t)
	}
	elapsed := max(time.Since(start), time.Duration(float64(n)/liveRate*float64(time.Second)))
	res.verdict = percentiles(verdicts, elapsed, 1)

	if clients == 0 {
		return res, nil // the verdicts with nobody watching: nothing to deliver, nothing held
	}
	// Every client must see every scan.
	collected = true
	arrivals, err := cs.collect(e0 + n)
	if err != nil {
		return res, fmt.Errorf("live clients: %w", err)
	}
	lat, err := deliveries(arrivals, e0, sent)
	if err != nil {
		return res, fmt.Errorf("live clients: %w", err)
	}
	res.dashboard = percentiles(lat, elapsed, clients)
	res.dashboard.rps = float64(n) / elapsed.Seconds()
	if !inproc || noChild {
		return res, nil
	}
	cc, server, client, plain, err := g.liveChild(tok, root, clients)
	if err != nil {
		return res, err
	}
	res.server, res.client, res.plain = server, client, plain
	return res, cc.end()
}

// deliveries returns every sample of clients' arrivals: for each client
// and each message k (the one that made the root zone's entries base+k+1),
// when the client read it (or a later one) minus sent[k].
func deliveries(arrivals [][]arrival, base int, sent []int64) ([]time.Duration, error) {
	n := len(sent)
	lat := make([]time.Duration, 0, n*len(arrivals))
	for i, a := range arrivals {
		j := 0
		for k := range n {
			for j < len(a) && a[j].entries < base+k+1 {
				j++
			}
			if j == len(a) {
				return nil, fmt.Errorf("client %d: nothing covers message %d", i, k)
			}
			lat = append(lat, time.Duration(a[j].at-sent[k]))
		}
	}
	return lat, nil
}

func firstWatcherErr(ws []*watcher) error {
	for _, w := range ws {
		select {
		case <-w.done:
			if w.err != nil {
				return w.err
			}
		default:
		}
	}
	return nil
}

// liveChild holds clients live clients in a child process and returns
// what this process, the gateway, and the child grew by once they are all
// connected and have their snapshot (forced collections before and after),
// and this process's resident set growth with no collection forced in
// between (as Centrifugo's is measured). The child's clients are left
// open for the caller.
func (g *gatewayBench) liveChild(tok, root string, clients int) (*childClients, memory, memory, int64, error) {
	before, err := memNow()
	if err != nil {
		return nil, memory{}, memory{}, 0, err
	}
	plainBefore, err := vmRSS("/proc/self/status")
	if err != nil {
		return nil, memory{}, memory{}, 0, err
	}
	cc, err := startClients(kindCrowdflow, g.addr, tok, root, clients)
	if err != nil {
		return nil, memory{}, memory{}, 0, err
	}
	plainAfter, err := vmRSS("/proc/self/status")
	var after memory
	if err == nil {
		after, err = memNow()
	}
	if err != nil {
		cc.kill()
		return nil, memory{}, memory{}, 0, err
	}
	return cc, after.sub(before), cc.after.sub(cc.before), plainAfter - plainBefore, nil
}

// liveRows measures a fresh gateway on eng with each number of live
// clients: its rows of the table (the verdicts of the scans, then the
// dashboard latency), the memory table, and its notes.
func liveRows(o options, eng ledger.Engine, paceRef result) ([]row, []liveResult, string, error) {
	const refName = "redis-benchmark EVALSHA scan.lua"
	need := uint64(2*slices.Max(o.live)) + fdSpare // both ends of each connection
	fdNote, err := raiseFDLimit(need)
	if err != nil {
		return nil, nil, "", err
	}
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if fdNote == "" {
		fdNote = fmt.Sprintf("the file-descriptor limit (%d) already allowed them, not raised", lim.Cur)
	}
	load0 := loadAvg()
	g, err := startGateway(o.config, eng, o.liveTick)
	if err != nil {
		return nil, nil, "", err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = g.stop()
		}
	}()
	// Warm-up: the scanner path and go-redis's pool.
	if _, err := g.closed(50, 5); err != nil {
		return nil, nil, "", fmt.Errorf("live warm-up: %w", err)
	}
	total := 50
	var rows []row
	var res []liveResult
	ref, base := refName, paceRef // of the verdict rows
	for _, clients := range o.live {
		r, err := g.live(clients, o.liveFor, o.liveInproc, false, o.memProfile)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%d live clients: %w", clients, err)
		}
		total += r.verdict.n
		vWhat := fmt.Sprintf("Gateway /ws/scan verdict, %g scans/s paced, %d live clients", liveRate, clients)
		if clients == 0 {
			// The verdicts with nobody watching: the reference of the
			// verdict rows that follow (issue 10's "≤ 2 × with none").
			rows = append(rows, row{what: vWhat, ref: refName, got: r.verdict, base: paceRef})
			ref, base = "the same gateway's verdict with no live client", r.verdict
			continue
		}
		res = append(res, r)
		dWhat := fmt.Sprintf("Scan → /ws/live update, %g scans/s, %d live clients", liveRate, clients)
		rows = append(rows,
			row{what: vWhat, ref: ref, got: r.verdict, base: base},
			row{what: dWhat, ref: "the same scans' /ws/scan verdict", got: r.dashboard, base: r.verdict,
				note: fmt.Sprintf("%s: %d scans × %d clients = %d samples (every client saw every scan); the %d clients, %s, connected and read their snapshot in %.1f s.",
					dWhat, r.verdict.n, clients, r.dashboard.n, clients, where(o.liveInproc), r.dial.Seconds())})
	}
	entries, err := g.entries(context.Background())
	if err != nil {
		return nil, nil, "", err
	}
	if entries != total {
		return nil, nil, "", fmt.Errorf("live: the ledger counted %d entries, want %d", entries, total)
	}
	stopped = true
	if err := g.stop(); err != nil {
		return nil, nil, "", fmt.Errorf("gateway shutdown: %w", err)
	}
	fdNote += fmt.Sprintf("; the machine's load average (1 min, %d cores) was %s as they began and %s as they ended",
		runtime.NumCPU(), load0, loadAvg())
	return rows, res, fdNote, nil
}

// writeHeapProfile writes this process's heap profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// where says where the live clients ran.
func where(inproc bool) string {
	if inproc {
		return "in the bench's process (-live-inproc)"
	}
	return "in a child process"
}

// loadAvg is the machine's 1-minute load average, "?" when unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// renderMemory is the table of memory per live client.
func renderMemory(res []liveResult, fdNote string) string {
	if len(res) == 0 {
		return ""
	}
	kib := func(b int64, n int) string { return fmt.Sprintf("%.1f KiB", float64(b)/float64(n)/1024) }
	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	var b strings.Builder
	b.WriteString("\n| live clients | RSS before → after (one process) | RSS / client, both ends | HeapInuse / client, both ends | stacks / client, both ends | RSS / client, gateway alone | HeapInuse / client, gateway alone | RSS / client, client process | reference: G4 budget / client | ratio (gateway alone) |\n")
	b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range res {
		before, one, heap, stack := "—", "—", "—", "—" // the clients ran in a child: no one-process figure
		if r.inproc {
			before = mib(r.before.rss) + " → " + mib(r.after.rss)
			one, heap, stack = kib(r.mem.rss, r.clients), kib(r.mem.heap, r.clients), kib(r.mem.stack, r.clients)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", r.clients,
			before, one, heap, stack, kib(r.server.rss, r.clients), kib(r.server.heap, r.clients),
			kib(r.client.rss, r.clients), kib(g4Budget, 1), float64(r.server.rss)/float64(r.clients)/g4Budget)
	}
	fmt.Fprintf(&b, "\n- Live clients: %s.\n", fdNote)
	return b.String()
}
