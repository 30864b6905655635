package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/internal/manifest"
	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
	"crowdflow/ticket"
)

// The end-to-end tests of the gate scanner: the real crowdflow binary,
// built once, runs as `crowdflow gateway` on a real redis-server and as
// `crowdflow scanner` processes fed on stdin, and both are killed with
// SIGKILL to test crashes. The counts are read from the ledger in Redis.

// e2eClock is the event clock of the test's start: 11:00 on the fair's first day.
const e2eClock = "2025-09-17T11:00:00+01:00"

// e2e is what the subtests share: the binary, keys, tokens and tickets.
type e2e struct {
	bin, data, config string
	token             string   // a scanner token for every gate
	tokenFile         string   // the same in a file, as the scanners get it
	tickets           []string // payloads of visitor tickets valid on 2025-09-17
	ev                *event.Event
	epoch             time.Time // when the event clock read e2eClock
}

// clock is the --clock of a process started now: every process runs on one
// event timeline, whenever it starts (a place follows the latest scan by
// time, so the devices' clocks must agree as a venue's do).
func (x *e2e) clock() string { return x.clockIn(0) }

// clockIn is clock, d later.
func (x *e2e) clockIn(d time.Duration) string {
	at, _ := time.Parse(time.RFC3339, e2eClock)
	return at.Add(time.Since(x.epoch) + d).Format(time.RFC3339Nano)
}

func TestScannerEndToEnd(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	x := &e2e{bin: filepath.Join(dir, "crowdflow"), data: filepath.Join(dir, "data"), config: ouarzazate,
		epoch: start}
	build := exec.Command("go", "build", "-o", x.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	x.cli(t, "keys", "--data", x.data)
	x.token = strings.TrimSpace(x.cli(t, "token", "--data", x.data, "--role", "scanner", "--subject", "e2e"))
	x.tokenFile = filepath.Join(dir, "scanner.token")
	if err := os.WriteFile(x.tokenFile, []byte(x.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tickets")
	x.cli(t, "tickets", "issue", "--config", x.config, "--data", x.data, "--type", "visitor",
		"--days", "2025-09-17", "--count", "60", "--out", out)
	var err error
	if x.tickets, err = manifest.Payloads(filepath.Join(out, "manifest.csv")); err != nil {
		t.Fatal(err)
	}
	ev, err := event.Load(x.config)
	if err != nil {
		t.Fatal(err)
	}
	x.ev = ev

	t.Logf("setup took %s", time.Since(start))
	t.Run("scans are counted", x.testCounted)
	t.Run("gateway killed while scanning", x.testGatewayKilled)
	t.Run("scanner killed with scans queued", x.testScannerKilled)
	t.Run("offline at two gates then sync", x.testOfflineTwoGates)
	t.Run("live across two gateway processes", x.testLiveTwoProcesses)
	t.Run("revoked while running, refused offline", x.testRevokeWhileRunning)
}

// testLiveTwoProcesses runs two gateway processes on one Redis: scans taken
// through the first appear, with the store's numbers, on a live client of
// the second (DESIGN: gateways are stateless, every instance shows every change).
func (x *e2e) testLiveTwoProcesses(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	_, urlA := x.gateway(t, redis.URL(), "127.0.0.1:0")
	_, urlB := x.gateway(t, redis.URL(), "127.0.0.1:0")
	security := strings.TrimSpace(x.cli(t, "token", "--data", x.data, "--role", "security"))
	live, _, err := websocket.DefaultDialer.Dial(strings.Replace(urlB, "http", "ws", 1)+"/ws/live",
		http.Header{"Authorization": {"Bearer " + security}})
	if err != nil {
		t.Fatalf("live on the second gateway: %v", err)
	}
	defer live.Close()

	sc := x.scanner(t, "main-live", urlA, "MAIN-1", checkin.In, t.TempDir())
	sc.waitCount(reOnline, 1, 20*time.Second)
	for _, p := range x.tickets[40:43] {
		sc.send(p)
	}
	sc.waitCount(reVerdict, 3, 20*time.Second)
	want := counters(t, x.ledgerOf(t, redis.URL()))["site"]
	if want.Occupancy < 3 {
		t.Fatalf("store: site occupancy %d after 3 entries", want.Occupancy)
	}

	deadline := time.Now().Add(20 * time.Second)
	_ = live.SetReadDeadline(deadline)
	for {
		var m struct {
			Type  string `json:"type"`
			Zones []struct {
				ID        string `json:"id"`
				Occupancy int    `json:"occupancy"`
				Entries   int    `json:"entries"`
			} `json:"zones"`
		}
		if err := live.ReadJSON(&m); err != nil {
			t.Fatalf("the second gateway's live stream never showed site occupancy %d: %v", want.Occupancy, err)
		}
		for _, z := range m.Zones {
			if z.ID == "site" && z.Occupancy == want.Occupancy && z.Entries == want.Entries {
				_ = sc.stdin.Close()
				sc.exit(30 * time.Second)
				return
			}
		}
	}
}

// cli runs a short crowdflow command and returns its stdout.
func (x *e2e) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(x.bin, args...)
	cmd.Env = cleanEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crowdflow %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// cleanEnv is the environment without CROWDFLOW_ variables that a developer
// may have set, which would change the flags of the processes under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CROWDFLOW_") {
			env = append(env, kv)
		}
	}
	return append(env, "NO_COLOR=1")
}

// proc is one crowdflow process under test, with its output collected line
// by line.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu    sync.Mutex // guards lines and errs
	lines []string   // stdout
	errs  strings.Builder

	done chan struct{} // closed when the process has exited
	code int           // its exit status, once done
}

// startProc starts bin with args; the process is killed when the test ends.
func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = cleanEnv()
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	go func() {
		defer readers.Done()
		b := make([]byte, 4096)
		for {
			n, err := stderr.Read(b)
			p.mu.Lock()
			p.errs.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		readers.Wait() // Wait must come after the pipes are read to the end
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr (tail):\n%s", name, strings.Join(p.output(), "\n"), name, tail(p.stderr(), 3000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs.String()
}

// kill sends SIGKILL, as a crash, and waits for the process to die.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// exit waits for the process to end by itself and returns its status.
func (p *proc) exit(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %s", p.name, timeout)
		return -1
	}
}

// count is how many lines of stdout match re.
func (p *proc) count(re *regexp.Regexp) int {
	n := 0
	for _, l := range p.output() {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// waitCount polls until at least n lines match re.
func (p *proc) waitCount(re *regexp.Regexp, n int, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for p.count(re) < n {
		select {
		case <-p.done:
			p.t.Fatalf("%s exited (status %d) before printing %d lines matching %s", p.name, p.code, n, re)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %d lines matching %s after %s, want %d", p.name, p.count(re), re, timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("write to %s: %v", p.name, err)
	}
}

// Output patterns of the scanner (see package scanner: the verdict line).
var (
	// reVerdict is a verdict shown to the person at the gate (a SYNCED
	// line, the ledger's later word on it, does not match).
	reVerdict   = regexp.MustCompile(`^(✔|⚠|✘) [A-Z_]+  .*  id=`)
	reOffline   = regexp.MustCompile(`  OFFLINE  id=`)
	reSynced    = regexp.MustCompile(`^(✔|⚠|✘) SYNCED `)
	reOnline    = regexp.MustCompile(`^· ONLINE  `)
	reWentDown  = regexp.MustCompile(`^· OFFLINE  `)
	reAllSynced = regexp.MustCompile(`^· SYNCED  `)
	reID        = regexp.MustCompile(`  id=(\S+)`)
)

// scanIDs are the ids of the verdict lines shown to the person.
func scanIDs(p *proc) []string {
	var ids []string
	for _, l := range p.output() {
		if reVerdict.MatchString(l) && !reSynced.MatchString(l) {
			ids = append(ids, reID.FindStringSubmatch(l)[1])
		}
	}
	return ids
}

// gateway starts `crowdflow gateway` on addr ("127.0.0.1:0" for any port),
// on Redis at redisURL or, when it is "", on the embedded store in x.data,
// and returns it with its base URL once it listens.
func (x *e2e) gateway(t *testing.T, redisURL, addr string) (*proc, string) {
	t.Helper()
	args := []string{"gateway", "--config", x.config, "--data", x.data, "--listen", addr, "--clock", x.clock(), "--log-level", "warn"}
	if redisURL != "" {
		args = append(args, "--redis", redisURL)
	}
	p := startProc(t, "gateway", x.bin, args...)
	re := regexp.MustCompile(`^gateway listening on (http://\S+)$`)
	p.waitCount(re, 1, 20*time.Second)
	for _, l := range p.output() {
		if m := re.FindStringSubmatch(l); m != nil {
			return p, m[1]
		}
	}
	panic("unreachable")
}

// scanner starts `crowdflow scanner` at gate in direction dir on its own
// queue directory.
func (x *e2e) scanner(t *testing.T, name, url, gate string, dir checkin.Direction, queue string, more ...string) *proc {
	t.Helper()
	return startProc(t, name, x.bin, append([]string{"scanner", "--gateway", url, "--gate", gate, "--direction", string(dir),
		"--token-file", x.tokenFile, "--config", x.config, "--data", x.data, "--queue", queue, "--device", name,
		"--clock", x.clock(), "--retry-max", "1s", "--drain", "30s", "--log-level", "warn"}, more...)...)
}

// ledgerOf opens the ledger in Redis, as the gateway does.
func (x *e2e) ledgerOf(t *testing.T, redisURL string) *ledger.Store {
	t.Helper()
	eng, err := redisengine.Open(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	st, err := ledger.New(admission.LedgerConfig(x.ev), eng)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// logged reads the event log and returns, per scan or tally id, how many
// entries it has, and the entries themselves.
func logged(t *testing.T, st *ledger.Store) (map[string]int, map[string]ledger.Entry) {
	t.Helper()
	log, err := st.ReadLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, e := map[string]int{}, map[string]ledger.Entry{}
	for _, en := range log {
		if en.Kind == "scan" || en.Kind == "tally" {
			n[en.ScanID]++
			e[en.ScanID] = en
		}
	}
	return n, e
}

// checkOnce fails unless every id is in the log exactly once, and nothing else.
func checkOnce(t *testing.T, st *ledger.Store, ids []string) {
	t.Helper()
	n, _ := logged(t, st)
	for _, id := range ids {
		if n[id] != 1 {
			t.Errorf("scan %s is in the event log %d times, want once", id, n[id])
		}
	}
	if len(n) != len(ids) {
		t.Errorf("the event log has %d scans, the scanners made %d", len(n), len(ids))
	}
}

func counters(t *testing.T, st *ledger.Store) map[string]*ledger.Counters {
	t.Helper()
	c, err := st.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// testCounted: scans and a tally through one scanner are in the ledger.
func (x *e2e) testCounted(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	_, url := x.gateway(t, redis.URL(), "127.0.0.1:0")
	sc := x.scanner(t, "main-1", url, "MAIN-1", checkin.In, t.TempDir())
	sc.waitCount(reOnline, 1, 20*time.Second)
	for _, p := range x.tickets[:5] {
		sc.send(p)
	}
	sc.send(strings.ToLower(x.tickets[0])) // the same ticket again: already inside
	sc.send("+2")
	sc.waitCount(reVerdict, 7, 20*time.Second)
	_ = sc.stdin.Close()
	if code := sc.exit(40 * time.Second); code != 0 {
		t.Fatalf("scanner exit %d", code)
	}
	if n := sc.count(reOffline); n != 0 {
		t.Errorf("%d scans decided offline with the gateway up", n)
	}
	if n := sc.count(regexp.MustCompile(`^⚠ ALREADY_INSIDE  visitor `)); n != 1 {
		t.Errorf("%d already_inside verdicts, want 1", n)
	}
	st := x.ledgerOf(t, redis.URL())
	checkOnce(t, st, scanIDs(sc))
	site := counters(t, st)["site"]
	if site.Entries != 5 || site.Occupancy != 7 || site.TallyIn != 2 || site.Refusals[checkin.AlreadyInside] != 1 {
		t.Errorf("site: entries %d occupancy %d tally in %d refusals %v; want 5, 7, 2, one already_inside",
			site.Entries, site.Occupancy, site.TallyIn, site.Refusals)
	}
}

// testGatewayKilled: the gateway dies (SIGKILL) while people are scanned;
// the scanner decides offline, reconnects to the restarted gateway on the
// same port, uploads, and every scan is counted exactly once.
func (x *e2e) testGatewayKilled(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	gw, url := x.gateway(t, redis.URL(), "127.0.0.1:0")
	addr := strings.TrimPrefix(url, "http://")
	sc := x.scanner(t, "main-1", url, "MAIN-1", checkin.In, t.TempDir())
	sc.waitCount(reOnline, 1, 20*time.Second)
	const total, killAt, restartAt = 30, 10, 20
	for i, p := range x.tickets[:total] {
		switch i {
		case killAt:
			gw.kill()
		case restartAt:
			sc.waitCount(reWentDown, 1, 20*time.Second)
			gw, _ = x.gateway(t, redis.URL(), addr)
		}
		sc.send(p)
		sc.waitCount(reVerdict, i+1, 20*time.Second) // one person at a time
	}
	_ = sc.stdin.Close()
	if code := sc.exit(45 * time.Second); code != 0 {
		t.Fatalf("scanner exit %d", code)
	}
	if sc.count(reOffline) == 0 || sc.count(reOnline) < 2 {
		t.Errorf("the scanner never went offline and back (offline verdicts %d, ONLINE %d)",
			sc.count(reOffline), sc.count(reOnline))
	}
	st := x.ledgerOf(t, redis.URL())
	ids := scanIDs(sc)
	if len(ids) != total {
		t.Fatalf("%d verdicts shown for %d scans", len(ids), total)
	}
	checkOnce(t, st, ids)
	if site := counters(t, st)["site"]; site.Entries != total || site.Occupancy != total {
		t.Errorf("site: entries %d occupancy %d, want %d", site.Entries, site.Occupancy, total)
	}
}

// testScannerKilled: a scanner dies (SIGKILL) with offline scans queued; on
// restart, with the gateway up, it sends them first and each counts once.
func (x *e2e) testScannerKilled(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	addr := freeAddr(t) // nothing listens there yet: the gateway is down
	queue := t.TempDir()
	sc := x.scanner(t, "main-1", "http://"+addr, "MAIN-1", checkin.In, queue)
	for _, p := range x.tickets[30:36] {
		sc.send(p)
	}
	sc.waitCount(reOffline, 6, 20*time.Second)
	ids := scanIDs(sc)
	sc.kill()
	files, _ := filepath.Glob(filepath.Join(queue, "0*.json")) // the queue files: SEQUENCE-ID.json
	if len(files) != 6 {
		t.Fatalf("%d scans on disk after the crash, want 6", len(files))
	}

	_, url := x.gateway(t, redis.URL(), addr)
	again := x.scanner(t, "main-1-again", url, "MAIN-1", checkin.In, queue)
	_ = again.stdin.Close() // nothing new: just what is queued
	if code := again.exit(45 * time.Second); code != 0 {
		t.Fatalf("restarted scanner exit %d", code)
	}
	if n := again.count(reSynced); n != 6 {
		t.Errorf("%d synced verdicts, want 6", n)
	}
	st := x.ledgerOf(t, redis.URL())
	checkOnce(t, st, ids)
	_, entries := logged(t, st)
	for _, id := range ids {
		if !entries[id].Flags.Has(checkin.Offline) {
			t.Errorf("scan %s logged without the offline flag: %s", id, entries[id].Flags)
		}
	}
	if site := counters(t, st)["site"]; site.Entries != 6 || site.Occupancy != 6 {
		t.Errorf("site: entries %d occupancy %d, want 6", site.Entries, site.Occupancy)
	}
	if files, _ := filepath.Glob(filepath.Join(queue, "0*.json")); len(files) != 0 {
		t.Errorf("%d scans still queued", len(files))
	}
}

// testOfflineTwoGates: three scanners work offline for a while — one at
// the crafts hall, one at the terroir hall, and a second lane of the crafts
// hall — and one ticket is admitted offline at both halls, another at both
// crafts lanes. They sync one after the other through two gateway
// instances on one Redis. docs/rules.md: the second hall moves the ticket
// (moved_from_sibling: the count follows the person, the site counts it
// once); the second crafts lane finds it already inside (refused, counted
// once). Counts converge exactly.
func (x *e2e) testOfflineTwoGates(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	addrA, addrB := freeAddr(t), freeAddr(t)
	crafts := x.scanner(t, "crafts-1", "http://"+addrA, "HALL-CRAFTS", checkin.In, t.TempDir())
	// The others' clocks run a minute ahead, so that what they scan after
	// the crafts hall is later by time too, however slowly each process
	// started its clock on a loaded machine (within the skew allowance).
	ahead := []string{"--clock", x.clockIn(time.Minute)}
	terroir := x.scanner(t, "terroir-1", "http://"+addrB, "HALL-TERROIR", checkin.In, t.TempDir(), ahead...)
	lane2 := x.scanner(t, "crafts-2", "http://"+addrB, "HALL-CRAFTS", checkin.In, t.TempDir(), ahead...)

	tk := x.tickets[40:50]
	both, twice := tk[4], tk[9]
	for _, p := range []string{tk[0], tk[1], tk[2], tk[3], both, twice} {
		crafts.send(p)
	}
	// The others scan after the crafts hall did (the ticket's place follows
	// its latest scan by time, whatever order the uploads come in).
	crafts.waitCount(reOffline, 6, 20*time.Second)
	for _, p := range []string{both, tk[5], tk[6], tk[7]} {
		terroir.send(p)
	}
	lane2.send(twice)
	lane2.send(tk[8])
	terroir.waitCount(reOffline, 4, 20*time.Second)
	lane2.waitCount(reOffline, 2, 20*time.Second)
	for _, p := range []*proc{crafts, terroir, lane2} {
		if n := p.count(regexp.MustCompile(`^✔ ACCEPTED  .*OFFLINE`)); n != p.count(reOffline) {
			t.Errorf("%s: %d of %d offline verdicts accepted; each scanner sees each ticket once", p.name, n, p.count(reOffline))
		}
	}

	// The crafts hall's scanner syncs first, through gateway A...
	x.gateway(t, redis.URL(), addrA)
	crafts.waitCount(reAllSynced, 1, 30*time.Second)
	// ...then the others, through gateway B.
	x.gateway(t, redis.URL(), addrB)
	terroir.waitCount(reAllSynced, 1, 30*time.Second)
	lane2.waitCount(reAllSynced, 1, 30*time.Second)
	var ids []string
	for _, p := range []*proc{crafts, terroir, lane2} {
		_ = p.stdin.Close()
		if code := p.exit(40 * time.Second); code != 0 {
			t.Errorf("%s exit %d", p.name, code)
		}
		ids = append(ids, scanIDs(p)...)
	}

	synced := func(p *proc, ticketPayload string) string {
		t.Helper()
		for _, l := range p.output() {
			if reSynced.MatchString(l) && strings.Contains(l, idOf(t, x, ticketPayload)) {
				return l
			}
		}
		t.Fatalf("%s: no synced verdict for the ticket", p.name)
		return ""
	}
	if l := synced(terroir, both); !strings.HasPrefix(l, "⚠ SYNCED ACCEPTED  ") || !strings.Contains(l, "moved_from_sibling") {
		t.Errorf("the second hall's verdict for a ticket the first hall admitted: %q, want accepted, moved_from_sibling", l)
	}
	// Both crafts lanes let tk9 in while offline: the second admission stands
	// (the person is inside either way), is flagged, and counts nobody twice.
	if l := synced(lane2, twice); !strings.Contains(l, "SYNCED ACCEPTED  ") || !strings.Contains(l, "offline_override") {
		t.Errorf("the second crafts lane's verdict for a ticket the first lane admitted: %q, want accepted, offline_override", l)
	}
	if l := synced(crafts, both); !strings.HasPrefix(l, "⚠ SYNCED ACCEPTED  ") || !strings.Contains(l, "implicit_entry") {
		t.Errorf("the first hall's verdict for a ticket never seen at the site gate: %q, want accepted, implicit_entry", l)
	}

	st := x.ledgerOf(t, redis.URL())
	checkOnce(t, st, ids)
	c := counters(t, st)
	// Ten tickets: tk0-3 at crafts, tk4 at crafts then terroir, tk5-7 at
	// terroir, tk9 at both crafts lanes, tk8 at the second crafts lane.
	want := map[string][3]int{ // occupancy, entries, exits
		"site":         {10, 10, 0},
		"hall-crafts":  {6, 7, 1},
		"hall-terroir": {4, 4, 0},
	}
	for zone, w := range want {
		if got := [3]int{c[zone].Occupancy, c[zone].Entries, c[zone].Exits}; got != w {
			t.Errorf("%s: occupancy, entries, exits %v, want %v", zone, got, w)
		}
	}
	if n := c["hall-crafts"].Refusals[checkin.AlreadyInside]; n != 0 {
		t.Errorf("hall-crafts: %d already_inside refusals, want none: both lanes admitted offline", n)
	}
}

// idOf is the ticket id of a payload, as verdict lines show it.
func idOf(t *testing.T, x *e2e, payload string) string {
	t.Helper()
	rd := x.judge(t).Read(payload)
	if !rd.Valid() {
		t.Fatalf("payload does not verify: %v", rd.Err)
	}
	return rd.Pass.TicketID
}

// judge reads tickets as the gateway does.
func (x *e2e) judge(t *testing.T) *admission.Judge {
	t.Helper()
	pub, err := ticket.LoadPublicKey(x.data)
	if err != nil {
		t.Fatal(err)
	}
	return admission.New(x.ev, pub)
}

func TestScannerUsage(t *testing.T) {
	base := []string{"scanner", "--gateway", "http://127.0.0.1:1", "--gate", "MAIN-1", "--direction", "in", "--token", "t"}
	tokenFile, emptyFile := filepath.Join(t.TempDir(), "token"), filepath.Join(t.TempDir(), "empty")
	for f, body := range map[string]string{tokenFile: "CFT1.x.y\n", emptyFile: "\n"} {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]struct {
		args []string
		env  map[string]string
		code int
		says string
	}{
		"help":             {args: []string{"scanner", "-h"}, code: exitOK},
		"no flags":         {args: []string{"scanner"}, code: exitUsage, says: "missing --gateway, --gate, --direction, --token"},
		"flags from env":   {args: []string{"scanner", "--direction", "up"}, env: map[string]string{"CROWDFLOW_GATEWAY": "http://h", "CROWDFLOW_GATE": "G", "CROWDFLOW_TOKEN": "t"}, code: exitUsage, says: `direction "up"`},
		"bad direction":    {args: append(base[:6:6], "sideways", "--token", "t"), code: exitUsage, says: "want in or out"},
		"bad clock":        {args: append(base, "--clock", "noon"), code: exitUsage, says: "--clock"},
		"bad colour":       {args: append(base, "--color", "pink"), code: exitUsage, says: "--color"},
		"bad gateway URL":  {args: []string{"scanner", "--gateway", "ftp://h", "--gate", "G", "--direction", "in", "--token", "t"}, code: exitUsage, says: "want http://"},
		"gate not in file": {args: append(base[:4:4], "NOPE", "--direction", "in", "--token", "t", "--config", ouarzazate), code: exitUsage, says: "not a gate"},
		"no ticket key":    {args: append(base, "--config", ouarzazate, "--data", t.TempDir()), code: exitFailure, says: "ticket.pub"},
		"extra argument":   {args: append(base, "now"), code: exitUsage, says: "unexpected argument"},
		"token twice":      {args: append(base, "--token-file", tokenFile), code: exitUsage, says: "--token and --token-file: give one"},
		"no token file":    {args: append(base[:6:6], "in", "--token-file", filepath.Join(t.TempDir(), "nope")), code: exitFailure, says: "token file"},
		"empty token file": {args: append(base[:6:6], "in", "--token-file", emptyFile), code: exitFailure, says: "want one staff token"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.says) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr, tc.code, tc.says)
			}
			if code != exitOK && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

// testRevokeWhileRunning: on a one-laptop venue (a gateway on the embedded
// store) an organizer revokes a ticket through the running gateway with
// the CLI; a connected scanner has the new list soon after, and once the
// gateway is gone it refuses that ticket offline, and admits another. The
// scanner's token, read from a file, is not in its command line.
func (x *e2e) testRevokeWhileRunning(t *testing.T) {
	gw, url := x.gateway(t, "", "127.0.0.1:0")
	sc := x.scanner(t, "revoke-lane", url, "MAIN-1", checkin.In, t.TempDir(),
		"--revoked-every", "100ms", "--log-level", "info")
	sc.waitCount(reOnline, 1, 20*time.Second)

	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", sc.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cmdline), x.token) || !strings.Contains(string(cmdline), x.tokenFile) {
		t.Errorf("scanner command line %q: want the token file, not the token", strings.ReplaceAll(string(cmdline), "\x00", " "))
	}

	stolen, kept := x.tickets[55], x.tickets[56]
	orgFile := filepath.Join(t.TempDir(), "organizer.token")
	org := x.cli(t, "token", "--data", x.data, "--role", "organizer", "--subject", "box-office")
	if err := os.WriteFile(orgFile, []byte(org), 0o600); err != nil {
		t.Fatal(err)
	}
	out := x.cli(t, "tickets", "revoke", "--gateway", url, "--token-file", orgFile, "--reason", "reported stolen",
		strings.ToUpper(idOf(t, x, stolen)))
	if !strings.Contains(out, "revoked 1 ticket(s); 0 were already revoked") {
		t.Fatalf("tickets revoke --gateway: %q", out)
	}

	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(sc.stderr(), `msg="revocation list refreshed" count=1`) {
		if time.Now().After(deadline) {
			t.Fatalf("the scanner has not downloaded the new revocation list within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	gw.kill()
	sc.waitCount(reWentDown, 1, 20*time.Second)
	sc.send(stolen)
	sc.send(kept)
	sc.waitCount(reOffline, 2, 20*time.Second)
	var lines []string
	for _, l := range sc.output() {
		if reOffline.MatchString(l) {
			lines = append(lines, l)
		}
	}
	if !strings.HasPrefix(lines[0], "✘ REVOKED ") || !strings.HasPrefix(lines[1], "✔ ACCEPTED ") {
		t.Errorf("offline verdicts: %q; want the revoked ticket refused and the other admitted", lines)
	}
}

// TestPlainTextWarning: a token sent in clear text to another machine is
// worth a warning; to this machine, or over TLS, it is not.
func TestPlainTextWarning(t *testing.T) {
	tests := map[string]struct {
		url  string
		warn bool
	}{
		"http to a LAN address": {"http://192.168.1.20:8080", true},
		"ws to a name":          {"ws://gate.fair.example:8080/ws/scan", true},
		"http to IPv6":          {"http://[2001:db8::1]:8080", true},
		"https":                 {"https://gate.fair.example", false},
		"wss":                   {"wss://192.168.1.20:8443/ws/scan", false},
		"loopback":              {"http://127.0.0.1:8080", false},
		"another loopback":      {"http://127.0.0.2:8080", false},
		"IPv6 loopback":         {"ws://[::1]:8080/ws/scan", false},
		"localhost":             {"http://localhost:8080", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := plainTextWarning(tc.url); (got != "") != tc.warn {
				t.Errorf("plainTextWarning(%q) = %q, want a warning: %v", tc.url, got, tc.warn)
			}
		})
	}

	// The scanner says it once, on one line of stderr. Its context has
	// ended already, so it stops before it dials anything.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr strings.Builder
	run(ctx, []string{"scanner", "--gateway", "http://192.0.2.10:8080", "--gate", "MAIN-1", "--direction", "in",
		"--queue", t.TempDir()}, func(k string) string {
		return map[string]string{"CROWDFLOW_TOKEN": "CFT1.x.y"}[k]
	}, strings.NewReader(""), io.Discard, &stderr)
	if n := strings.Count(stderr.String(), "clear text"); n != 1 || !strings.Contains(stderr.String(), "crowdflow scanner: warning: the staff token goes to 192.0.2.10 in clear text (http://)") {
		t.Errorf("scanner stderr %q: want the clear-text warning once", stderr.String())
	}
}
