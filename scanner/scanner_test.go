package scanner_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/scanner"
	"crowdflow/wire"
)

const testToken = "CFT1.test-token"

// fakeGateway speaks the gateway's side of /ws/scan, as CONTRACT §3 says,
// with switches to be down, silent, or to defer scans with an error.
type fakeGateway struct {
	srv *httptest.Server
	ev  string

	mu            sync.Mutex // guards everything below
	down          bool
	silent        bool
	deferErr      string         // answer the first try of each id with this error code
	conflictFirst bool           // answer the very first scan with id_conflict
	tries         map[string]int // frames seen per id
	frames        []wire.Scan    // every scan frame received, resends included
	tallies       []wire.Tally
	verdicts      map[string]wire.Verdict // first verdict per id
	hellos        []wire.Hello
	statuses      []wire.Status
	conns         map[*websocket.Conn]bool
	revoked       []string
	occ           int
}

func MustFakeGateway(tb testing.TB) *fakeGateway {
	tb.Helper()
	g := &fakeGateway{ev: "ouarzazate-2025", tries: map[string]int{}, verdicts: map[string]wire.Verdict{},
		conns: map[*websocket.Conn]bool{}, revoked: []string{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	tb.Cleanup(func() { g.crash(); g.srv.Close() })
	return g
}

func (g *fakeGateway) set(f func(g *fakeGateway)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

// crash drops every connection and refuses new ones.
func (g *fakeGateway) crash() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = true
	for c := range g.conns {
		_ = c.Close()
	}
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	down := g.down
	g.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		http.Error(w, "who are you", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/api/v1/revoked":
		g.mu.Lock()
		defer g.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"revoked": g.revoked, "count": len(g.revoked), "at": time.Now()})
		return
	case "/api/v1/event":
		g.mu.Lock()
		defer g.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"id": g.ev, "ticket_keys": []string{}})
		return
	case "/ws/scan":
	default:
		http.NotFound(w, r)
		return
	}
	up := websocket.Upgrader{}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	g.mu.Lock()
	g.conns[c] = true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
		_ = c.Close()
	}()
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			return
		}
		m, err := wire.Decode(b)
		if err != nil {
			_ = c.WriteJSON(wire.Error{Type: wire.TypeError, Code: wire.ErrMalformed, Message: err.Error()})
			continue
		}
		if reply := g.answer(m); reply != nil {
			if err := c.WriteJSON(reply); err != nil {
				return
			}
		}
	}
}

func (g *fakeGateway) answer(m any) any {
	g.mu.Lock()
	defer g.mu.Unlock()
	var id, zone string
	switch m := m.(type) {
	case *wire.Hello:
		g.hellos = append(g.hellos, *m)
		return wire.Welcome{Type: wire.TypeWelcome, Protocol: wire.Protocol, Gate: m.Gate, Zone: "site", ServerTime: time.Now()}
	case *wire.Status:
		g.statuses = append(g.statuses, *m)
		return nil // no answer (CONTRACT §3)
	case *wire.Scan:
		g.frames = append(g.frames, *m)
		id, zone = m.ID, "site"
	case *wire.Tally:
		g.tallies = append(g.tallies, *m)
		id, zone = m.ID, m.Zone
	}
	if g.silent {
		return nil
	}
	g.tries[id]++
	if g.conflictFirst && len(g.frames) == 1 && len(g.tallies) == 0 {
		return wire.Error{Type: wire.TypeError, Code: wire.ErrIDConflict, ID: id, Message: "used before"}
	}
	if g.deferErr != "" && g.tries[id] == 1 {
		return wire.Error{Type: wire.TypeError, Code: g.deferErr, ID: id, Message: "try later"}
	}
	if v, ok := g.verdicts[id]; ok {
		v.Replayed = true
		return v
	}
	g.occ++
	v := wire.Verdict{Type: wire.TypeVerdict, ID: id, OK: true, Code: checkin.Accepted, Zone: zone,
		Occupancy: g.occ, Capacity: 1621, Level: "ok", Flags: checkin.Flags{}, Message: "Entry accepted."}
	if s, ok := m.(*wire.Scan); ok && s.Offline {
		v.Flags = checkin.Flags{checkin.Offline}
	}
	g.verdicts[id] = v
	return v
}

// scans returns the scan frames received so far.
func (g *fakeGateway) scans() []wire.Scan {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]wire.Scan(nil), g.frames...)
}

func (g *fakeGateway) applied() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.verdicts)
}

// harness is one scanner under test, fed through a pipe.
type harness struct {
	s    *scanner.Scanner
	in   *io.PipeWriter
	out  *syncBuffer
	logs *syncBuffer
	done chan struct{} // closed when Run has returned
	err  error         // what Run returned, once done is closed
}

func (h *harness) typeLine(tb testing.TB, line string) {
	tb.Helper()
	if _, err := io.WriteString(h.in, line+"\n"); err != nil {
		tb.Fatal(err)
	}
}

// wait returns Run's error once it has returned.
func (h *harness) wait(tb testing.TB, timeout time.Duration) error {
	tb.Helper()
	select {
	case <-h.done:
		return h.err
	case <-time.After(timeout):
		tb.Fatalf("Run did not return within %s; output:\n%s", timeout, h.out)
		return nil
	}
}

// count is how many output lines match re.
func (h *harness) count(re string) int {
	r := regexp.MustCompile(re)
	n := 0
	for _, l := range h.out.Lines() {
		if r.MatchString(l) {
			n++
		}
	}
	return n
}

func (h *harness) waitLines(tb testing.TB, re string, n int) {
	tb.Helper()
	waitFor(tb, "output lines matching "+re, 10*time.Second, func() bool { return h.count(re) >= n })
}

// MustRun starts a scanner on dir against url; it is stopped and closed
// when the test ends.
func MustRun(tb testing.TB, url, dir string, j *admission.Judge, mod func(*scanner.Config)) *harness {
	tb.Helper()
	cfg := scanner.DefaultConfig()
	cfg.Gateway, cfg.Token, cfg.Gate, cfg.Direction, cfg.Device, cfg.Dir = url, testToken, "MAIN-1", checkin.In, "test-device", dir
	cfg.VerdictTimeout, cfg.DrainTimeout = 500*time.Millisecond, 5*time.Second
	cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 50*time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	pr, pw := io.Pipe()
	log, logs := MustLogger(tb)
	var out syncBuffer
	clk := clock.NewManual(time.Date(2025, 9, 17, 11, 0, 0, 0, time.FixedZone("+01", 3600)))
	s, err := scanner.New(cfg, j, clk, log, pr, &out)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{s: s, in: pw, out: &out, logs: logs, done: make(chan struct{})}
	go func() { h.err = s.Run(ctx); close(h.done) }()
	tb.Cleanup(func() {
		cancel()
		_ = pw.Close()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			tb.Errorf("Run did not stop")
		}
		_ = s.Close()
	})
	return h
}

func idsOf(lines []string, re string) []string {
	r := regexp.MustCompile(re)
	idr := regexp.MustCompile(`id=(\S+)`)
	var out []string
	for _, l := range lines {
		if r.MatchString(l) {
			out = append(out, idr.FindStringSubmatch(l)[1])
		}
	}
	return out
}

func TestScannerOnline(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	payload, _ := MustTicket(t, ev, key, "visitor", true)
	g := MustFakeGateway(t)
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), nil)
	h.typeLine(t, payload)
	h.typeLine(t, "")
	h.typeLine(t, azerty(payload))
	h.typeLine(t, "+3")
	h.typeLine(t, "+many")
	_ = h.in.Close()
	if err := h.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v\n%s", err, h.out)
	}
	if got := h.count(`^✔ ACCEPTED  `); got != 3 {
		t.Errorf("%d accepted lines, want 3:\n%s", got, h.out)
	}
	if h.count(`OFFLINE  id=`) != 0 || h.count(`^· LAYOUT  .*azerty`) != 1 || h.count(`^· NOT A SCAN  .*tally`) != 1 {
		t.Errorf("want no offline verdict, one layout hint, one refused line:\n%s", h.out)
	}
	scans := g.scans()
	if len(scans) != 2 || scans[0].Ticket != payload || scans[1].Ticket != payload || scans[0].Offline || scans[0].Gate != "MAIN-1" {
		t.Errorf("gateway got %+v; want the canonical payload twice, online, at MAIN-1", scans)
	}
	if scans[0].At.IsZero() || scans[0].ID == scans[1].ID || len(scans[0].ID) != 26 {
		t.Errorf("scan ids %q %q at %v: want distinct ULIDs and a time", scans[0].ID, scans[1].ID, scans[0].At)
	}
	if len(g.hellos) != 1 || g.hellos[0].Device != "test-device" || g.hellos[0].Gate != "MAIN-1" {
		t.Errorf("hello %+v", g.hellos)
	}
	if n := h.s.Queue().Len(); n != 0 {
		t.Errorf("%d scans left queued", n)
	}
}

// TestScannerOfflineThenSync: with the gateway down, scans are decided
// locally and queued; when it comes back they are uploaded with their ids
// and times, flagged offline, each applied once.
func TestScannerOfflineThenSync(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	a, _ := MustTicket(t, ev, key, "visitor", true)
	b, _ := MustTicket(t, ev, key, "visitor", true)
	_, otherKey := MustKeys(t)
	forged, _ := MustTicket(t, ev, otherKey, "visitor", true)
	g := MustFakeGateway(t)
	g.crash()
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), nil)
	for _, p := range []string{a, b, a, forged} {
		h.typeLine(t, p)
	}
	h.waitLines(t, `OFFLINE  id=`, 4)
	lines := h.out.Lines()
	if h.count(`^· OFFLINE  .*HTTP 503`) != 1 {
		t.Errorf("want one OFFLINE status line naming the cause:\n%s", h.out)
	}
	if h.count(`^✔ ACCEPTED  .*OFFLINE`) != 2 || h.count(`^⚠ ALREADY_INSIDE  .*OFFLINE`) != 1 || h.count(`^✘ INVALID_TICKET  .*OFFLINE`) != 1 {
		t.Errorf("offline verdicts:\n%s", h.out)
	}
	offlineIDs := idsOf(lines, `OFFLINE  id=`)
	g.set(func(g *fakeGateway) { g.down = false })
	h.waitLines(t, `^· SYNCED  `, 1)
	_ = h.in.Close()
	if err := h.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v\n%s", err, h.out)
	}
	var got []string
	for _, s := range g.scans() {
		got = append(got, s.ID)
		if !s.Offline {
			t.Errorf("scan %s uploaded without offline: true", s.ID)
		}
	}
	if strings.Join(got, ",") != strings.Join(offlineIDs, ",") || g.applied() != 4 {
		t.Errorf("uploaded %v, want each of %v once, in order", got, offlineIDs)
	}
	if h.count(`SYNCED ACCEPTED  .*flags=offline`) != 4 {
		t.Errorf("want 4 synced verdicts:\n%s", h.out)
	}
}

// TestScannerNoVerdict: a gateway that takes scans and never answers gets
// the person an offline verdict after VerdictTimeout, loses its connection,
// and gets the scan again (same id, offline) once it answers.
func TestScannerNoVerdict(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	p, _ := MustTicket(t, ev, key, "visitor", true)
	g := MustFakeGateway(t)
	g.set(func(g *fakeGateway) { g.silent = true })
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), func(c *scanner.Config) { c.VerdictTimeout = 200 * time.Millisecond })
	h.waitLines(t, `^· ONLINE  `, 1)
	start := time.Now()
	h.typeLine(t, p)
	h.waitLines(t, `^✔ ACCEPTED  .*OFFLINE`, 1)
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("decided offline after %s, before the verdict timeout", took)
	}
	h.waitLines(t, `^· OFFLINE  no answer`, 1)
	g.set(func(g *fakeGateway) { g.silent = false })
	h.waitLines(t, `^✔ SYNCED ACCEPTED  `, 1)
	scans := g.scans()
	if len(scans) < 2 || scans[0].ID != scans[len(scans)-1].ID || scans[0].Offline || !scans[len(scans)-1].Offline {
		t.Errorf("frames %+v: want the same id first online, then offline", scans)
	}
	_ = h.in.Close()
	if err := h.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestScannerDeferred: unavailable and rate_limited keep the scan queued;
// it is resent with the same id, and the person is not kept waiting.
func TestScannerDeferred(t *testing.T) {
	for _, code := range []string{wire.ErrUnavailable, wire.ErrRateLimited} {
		t.Run(code, func(t *testing.T) {
			ev := MustEvent(t)
			pub, key := MustKeys(t)
			p, _ := MustTicket(t, ev, key, "visitor", true)
			g := MustFakeGateway(t)
			g.set(func(g *fakeGateway) { g.deferErr = code })
			h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), func(c *scanner.Config) { c.VerdictTimeout = 5 * time.Second })
			h.waitLines(t, `^· ONLINE  `, 1)
			start := time.Now()
			h.typeLine(t, p)
			h.waitLines(t, `^✔ ACCEPTED  .*OFFLINE`, 1)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the person waited %s", took)
			}
			h.waitLines(t, `^✔ SYNCED ACCEPTED  `, 1)
			scans := g.scans()
			if len(scans) != 2 || scans[0].ID != scans[1].ID || !scans[1].Offline {
				t.Errorf("frames %+v: want one scan sent twice with one id", scans)
			}
			// Its offline verdict stands only if it was recorded before the
			// hello of the connection that uploads it: a new connection.
			g.set(func(g *fakeGateway) {
				if len(g.hellos) != 2 {
					t.Errorf("%d hellos, want the upload on a second connection", len(g.hellos))
				}
			})
			_ = h.in.Close()
			if err := h.wait(t, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestScannerDrainAndRestart: at the end of the input with the gateway
// down, Run reports how many scans remain; the next run sends them first,
// in order, with their ids.
func TestScannerDrainAndRestart(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	j := admission.New(ev, pub)
	g := MustFakeGateway(t)
	g.crash()
	dir := t.TempDir()
	h := MustRun(t, g.srv.URL, dir, j, func(c *scanner.Config) { c.DrainTimeout = 300 * time.Millisecond })
	for range 3 {
		p, _ := MustTicket(t, ev, key, "visitor", true)
		h.typeLine(t, p)
	}
	h.typeLine(t, "-2")
	h.waitLines(t, `OFFLINE  id=`, 4)
	want := idsOf(h.out.Lines(), `OFFLINE  id=`)
	_ = h.in.Close()
	err := h.wait(t, 10*time.Second)
	var pe *scanner.PendingError
	if !errors.As(err, &pe) || pe.Count != 4 {
		t.Fatalf("Run: %v, want 4 scans pending", err)
	}
	_ = h.s.Close()

	g.set(func(g *fakeGateway) { g.down = false })
	h2 := MustRun(t, g.srv.URL, dir, j, nil)
	h2.waitLines(t, `^· QUEUE  4 scan`, 1)
	_ = h2.in.Close()
	if err := h2.wait(t, 10*time.Second); err != nil {
		t.Fatalf("second run: %v\n%s", err, h2.out)
	}
	var got []string
	for _, s := range g.scans() {
		got = append(got, s.ID)
	}
	g.mu.Lock()
	tallies := append([]wire.Tally(nil), g.tallies...)
	g.mu.Unlock()
	if len(tallies) != 1 || tallies[0].Delta != -2 || tallies[0].Zone != "site" || !tallies[0].Offline {
		t.Errorf("tallies %+v", tallies)
	}
	got = append(got, tallies[0].ID)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("second run sent %v, want %v", got, want)
	}
}

func TestScannerQueueFull(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	g := MustFakeGateway(t)
	g.crash()
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), func(c *scanner.Config) { c.QueueLimit = 2 })
	for range 3 {
		p, _ := MustTicket(t, ev, key, "visitor", true)
		h.typeLine(t, p)
	}
	h.waitLines(t, `^✘ NOT RECORDED  .*queue full`, 1)
	h.waitLines(t, `OFFLINE  id=`, 2)
	if n := h.s.Queue().Len(); n != 2 {
		t.Errorf("%d queued, want 2", n)
	}
}

// TestScannerWithoutEventFile: no offline checks possible; entries shown
// as undecided (amber), exits and tallies accepted, all queued.
func TestScannerWithoutEventFile(t *testing.T) {
	g := MustFakeGateway(t)
	g.crash()
	h := MustRun(t, g.srv.URL, t.TempDir(), nil, nil)
	h.waitLines(t, `^· NO OFFLINE CHECKS`, 1)
	h.typeLine(t, "CF1:WHATEVER")
	h.waitLines(t, `^⚠ UNDECIDED  .*OFFLINE`, 1)
	h.typeLine(t, "+2")
	h.waitLines(t, `^· NOT RECORDED  tally`, 1)
	if n := h.s.Queue().Len(); n != 1 {
		t.Errorf("%d queued, want 1", n)
	}
}

// TestScannerIDConflict: a scan whose id the gateway says was used for
// another scan is sent again under a new id, same ticket, direction and
// time, and the person gets the verdict.
func TestScannerIDConflict(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	p, _ := MustTicket(t, ev, key, "visitor", true)
	g := MustFakeGateway(t)
	g.set(func(g *fakeGateway) { g.conflictFirst = true })
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), nil)
	h.waitLines(t, `^· ONLINE  `, 1)
	h.typeLine(t, p)
	h.waitLines(t, `^✔ ACCEPTED  `, 1)
	_ = h.in.Close()
	if err := h.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	scans := g.scans()
	if len(scans) != 2 || scans[0].ID == scans[1].ID || scans[0].Ticket != scans[1].Ticket ||
		!scans[0].At.Equal(scans[1].At) || scans[0].Direction != scans[1].Direction {
		t.Errorf("frames %+v: want the scan twice, under two ids", scans)
	}
	if g.applied() != 1 {
		t.Errorf("%d scans applied, want 1", g.applied())
	}
}

// TestScannerGatewayError: a definitive error about a scan drops it.
func TestScannerGatewayError(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	p, _ := MustTicket(t, ev, key, "visitor", true)
	g := MustFakeGateway(t)
	g.set(func(g *fakeGateway) { g.deferErr = wire.ErrForbidden })
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), nil)
	h.waitLines(t, `^· ONLINE  `, 1)
	h.typeLine(t, p)
	h.waitLines(t, `^✘ GATEWAY ERROR forbidden  id=`, 1)
	_ = h.in.Close()
	if err := h.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v (a refused frame is not left queued)", err)
	}
	if len(g.scans()) != 1 {
		t.Errorf("a refused frame was resent")
	}
}

func TestConfigValidate(t *testing.T) {
	good := scanner.DefaultConfig()
	good.Gateway, good.Token, good.Gate, good.Direction, good.Device, good.Dir = "http://127.0.0.1:8080", "t", "MAIN-1", checkin.In, "d", "/tmp/x"
	tests := map[string]struct {
		mod  func(*scanner.Config)
		want string
	}{
		"good":          {func(*scanner.Config) {}, ""},
		"ws URL":        {func(c *scanner.Config) { c.Gateway = "ws://h:1/ws/scan" }, ""},
		"ftp URL":       {func(c *scanner.Config) { c.Gateway = "ftp://h" }, "want http://"},
		"no token":      {func(c *scanner.Config) { c.Token = "" }, "no token"},
		"bad direction": {func(c *scanner.Config) { c.Direction = "up" }, "direction"},
		"gate w/ space": {func(c *scanner.Config) { c.Gate = "MAIN 1" }, "printable ASCII"},
		"many at once":  {func(c *scanner.Config) { c.Token, c.Dir = "", "" }, "no queue directory"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			err := c.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestScannerRevocationList: the list downloaded while online refuses a
// revoked ticket once the gateway is gone.
func TestScannerRevocationList(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	p, id := MustTicket(t, ev, key, "visitor", true)
	g := MustFakeGateway(t)
	g.set(func(g *fakeGateway) { g.revoked = []string{id} })
	dir := t.TempDir()
	h := MustRun(t, g.srv.URL, dir, admission.New(ev, pub), nil)
	h.waitLines(t, `^· ONLINE  `, 1)
	waitFor(t, "the revocation list cached on disk", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, scanner.RevokedFile))
		return err == nil && strings.Contains(string(b), id)
	})
	g.crash()
	h.waitLines(t, `^· OFFLINE  `, 1)
	h.typeLine(t, p)
	h.waitLines(t, `^✘ REVOKED  visitor `+id+`  .*OFFLINE`, 1)
}

// TestScannerRefusedToken: a token the gateway refuses is said plainly, and
// the scanner keeps working offline.
func TestScannerRefusedToken(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	p, _ := MustTicket(t, ev, key, "visitor", true)
	g := MustFakeGateway(t)
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), func(c *scanner.Config) { c.Token = "CFT1.stolen" })
	h.waitLines(t, `^· OFFLINE  the gateway refused this scanner's token \(HTTP 401\)`, 1)
	h.typeLine(t, p)
	h.waitLines(t, `^✔ ACCEPTED  .*OFFLINE`, 1)
}

// TestScannerOtherEvent: a gateway that runs another event is reported.
func TestScannerOtherEvent(t *testing.T) {
	ev := MustEvent(t)
	pub, _ := MustKeys(t)
	g := MustFakeGateway(t)
	g.set(func(g *fakeGateway) { g.ev = "another-fair" })
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), nil)
	h.waitLines(t, `^· CONFIG  the gateway runs event "another-fair"`, 1)
}

// sent returns the hellos and status frames received so far.
func (g *fakeGateway) sent() ([]wire.Hello, []wire.Status) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]wire.Hello(nil), g.hellos...), append([]wire.Status(nil), g.statuses...)
}

// TestScannerReportsQueue: a scanner that comes back with scans decided
// offline says how many and since when in hello, and sends a status the
// moment its queue has emptied (not at the next period).
func TestScannerReportsQueue(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	g := MustFakeGateway(t)
	g.crash()
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), nil) // status every 30 s
	var first time.Time
	for i := range 3 {
		p, _ := MustTicket(t, ev, key, "visitor", true)
		h.typeLine(t, p)
		h.waitLines(t, `OFFLINE  id=`, i+1)
		if i == 0 {
			first = h.s.Queue().Items()[0].At()
		}
	}
	g.set(func(g *fakeGateway) { g.down = false })
	h.waitLines(t, `^· SYNCED  `, 1)
	waitFor(t, "a status with an empty queue", 10*time.Second, func() bool {
		_, st := g.sent()
		return len(st) > 0 && st[len(st)-1].Queued == 0
	})
	hellos, st := g.sent()
	if len(hellos) == 0 || hellos[0].Queued != 3 || hellos[0].Oldest == nil || !hellos[0].Oldest.Equal(first) {
		t.Errorf("hellos %+v: want the first with queued 3, oldest %v", hellos, first)
	}
	if len(st) != 1 || st[0].Oldest != nil {
		t.Errorf("statuses %+v: want one, empty, when the queue emptied", st)
	}
}

// TestScannerStatusEvery: a connected scanner reports its queue every
// StatusEvery.
func TestScannerStatusEvery(t *testing.T) {
	ev := MustEvent(t)
	pub, _ := MustKeys(t)
	g := MustFakeGateway(t)
	h := MustRun(t, g.srv.URL, t.TempDir(), admission.New(ev, pub), func(c *scanner.Config) { c.StatusEvery = 20 * time.Millisecond })
	waitFor(t, "three status frames", 10*time.Second, func() bool {
		_, st := g.sent()
		return len(st) >= 3
	})
	hellos, st := g.sent()
	if len(hellos) != 1 || hellos[0].Queued != 0 || hellos[0].Oldest != nil {
		t.Errorf("hellos %+v: want one, with nothing queued", hellos)
	}
	for _, s := range st {
		if s.Queued != 0 || s.Oldest != nil {
			t.Errorf("status %+v: want nothing queued", s)
		}
	}
	_ = h.in.Close()
	if err := h.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
