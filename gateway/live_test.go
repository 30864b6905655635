package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/gateway"
	"crowdflow/token"
	"crowdflow/wire"
)

// LiveZone, LiveGate and LiveAlert are the live stream's objects as a
// client reads them (CONTRACT §4).
type LiveZone struct {
	ID            string            `json:"id"`
	Name          map[string]string `json:"name"`
	Parent        string            `json:"parent"`
	Occupancy     int               `json:"occupancy"`
	Capacity      int               `json:"capacity"`
	Level         string            `json:"level"`
	Entries       int               `json:"entries"`
	Exits         int               `json:"exits"`
	InPerMin      float64           `json:"in_per_min"`
	OutPerMin     float64           `json:"out_per_min"`
	MinutesToFull *float64          `json:"minutes_to_full"`
	Tally         int               `json:"tally"`
	ByType        map[string]int    `json:"by_type"`
	AtLeast       bool              `json:"at_least"`
}

type LiveGate struct {
	ID             string     `json:"id"`
	Online         bool       `json:"online"`
	LastSeen       *time.Time `json:"last_seen"`
	ScansPerMin    int        `json:"scans_per_min"`
	Silent         bool       `json:"silent"`
	Unsynced       int        `json:"unsynced"`
	UnsyncedOldest *time.Time `json:"unsynced_oldest"`
}

type LiveAlert struct {
	ID    string    `json:"id"`
	Kind  string    `json:"kind"`
	Zone  string    `json:"zone"`
	Gate  string    `json:"gate"`
	Level string    `json:"level"`
	Since time.Time `json:"since"`
}

// LiveMsg is a snapshot or an update; Gates and Alerts are nil when the
// message does not carry them.
type LiveMsg struct {
	Type   string       `json:"type"`
	Seq    int64        `json:"seq"`
	At     time.Time    `json:"at"`
	Zones  []LiveZone   `json:"zones"`
	Gates  *[]LiveGate  `json:"gates"`
	Alerts *[]LiveAlert `json:"alerts"`
	Raw    string       `json:"-"`
}

func (m LiveMsg) Zone(id string) *LiveZone {
	for i := range m.Zones {
		if m.Zones[i].ID == id {
			return &m.Zones[i]
		}
	}
	return nil
}

func (m LiveMsg) Gate(id string) *LiveGate {
	if m.Gates == nil {
		return nil
	}
	for i, g := range *m.Gates {
		if g.ID == id {
			return &(*m.Gates)[i]
		}
	}
	return nil
}

func (m LiveMsg) Alert(id string) *LiveAlert {
	if m.Alerts == nil {
		return nil
	}
	for i, a := range *m.Alerts {
		if a.ID == id {
			return &(*m.Alerts)[i]
		}
	}
	return nil
}

// LiveClient is a dashboard: a real websocket client of /ws/live.
type LiveClient struct {
	tb testing.TB
	ws *websocket.Conn
}

// DialLive opens /ws/live with the token (none when empty) and the query.
func (e *Env) DialLive(tok, query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for k, v := range hdr {
		h[k] = v
	}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	d := websocket.Dialer{HandshakeTimeout: readTimeout}
	return d.Dial("ws://"+e.Addr+"/ws/live"+query, h)
}

// MustLive opens /ws/live as security and closes it when tb ends.
func (e *Env) MustLive(tb testing.TB, query string) *LiveClient {
	tb.Helper()
	ws, resp, err := e.DialLive(e.MustToken(tb, token.Security), query, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		tb.Fatalf("dial /ws/live: %v (HTTP %d)", err, status)
	}
	tb.Cleanup(func() { _ = ws.Close() })
	return &LiveClient{tb: tb, ws: ws}
}

// Next reads the next live message.
func (c *LiveClient) Next() (LiveMsg, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(readTimeout))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return LiveMsg{}, err
	}
	var m LiveMsg
	if err := json.Unmarshal(b, &m); err != nil {
		return LiveMsg{}, err
	}
	m.Raw = string(b)
	return m, nil
}

// Read reads the next live message; the connection must be open.
func (c *LiveClient) Read() LiveMsg {
	c.tb.Helper()
	m, err := c.Next()
	if err != nil {
		c.tb.Fatalf("read /ws/live: %v", err)
	}
	return m
}

// Until reads messages until one has seq at least seq, and returns them all.
func (c *LiveClient) Until(seq int64) []LiveMsg {
	c.tb.Helper()
	var ms []LiveMsg
	for {
		m := c.Read()
		ms = append(ms, m)
		if m.Seq >= seq {
			return ms
		}
	}
}

// StoreSeq is the store's seq now.
func (e *Env) StoreSeq(tb testing.TB) int64 {
	tb.Helper()
	_, seq, err := e.Ledger.Snapshot(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return seq
}

// Occupancy polls GET /api/v1/occupancy until the snapshot is the one at
// the event clock's now and the store's seq, and returns it.
func (e *Env) Occupancy(tb testing.TB, tok string) LiveMsg {
	tb.Helper()
	var m LiveMsg
	now, seq := e.Clock.Now(), e.StoreSeq(tb)
	Eventually(tb, "the occupancy snapshot at the clock's time and the store's seq", func() bool {
		m = LiveMsg{}
		if code := e.Get(tb, "/api/v1/occupancy", tok, &m); code != http.StatusOK {
			tb.Fatalf("GET /api/v1/occupancy: %d", code)
		}
		return m.At.Equal(now) && m.Seq == seq
	})
	return m
}

// fastLive makes the live stream coalesce over a few milliseconds, so tests
// wait little, and never poll the store: every update a test sees was
// pushed (the store said its log grew).
func fastLive(cfg *gateway.Config) {
	cfg.LivePoll = time.Hour
	cfg.LiveTick = 5 * time.Millisecond
}

// MustTally sends a tally of delta into zone and checks it is accepted.
func (c *Client) MustTally(zone string, delta int) Reply {
	c.tb.Helper()
	id := NewID(c.tb)
	c.Send(wire.Tally{Type: wire.TypeTally, ID: id, Zone: zone, Delta: delta, At: time.Now()})
	r := c.Read()
	if r.ID != id || r.Code != "accepted" {
		c.tb.Fatalf("tally %+d into %s: %s", delta, zone, r.Raw)
	}
	return r
}

func TestLiveAuth(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded", Tune: fastLive})
	tests := map[string]struct {
		tok    string
		origin string
		status int
		code   string
	}{
		"no token":             {status: http.StatusUnauthorized, code: "unauthenticated"},
		"a bad token":          {tok: "nonsense", status: http.StatusUnauthorized, code: "unauthenticated"},
		"a scanner's token":    {tok: env.MustToken(t, token.Scanner), status: http.StatusForbidden, code: "forbidden"},
		"security":             {tok: env.MustToken(t, token.Security), status: http.StatusOK},
		"an organizer":         {tok: env.MustToken(t, token.Organizer), status: http.StatusOK},
		"a supervisor":         {tok: env.MustToken(t, token.Supervisor), status: http.StatusOK},
		"an allowed origin":    {tok: env.MustToken(t, token.Security), origin: "https://fair.example", status: http.StatusOK},
		"another site's page":  {tok: env.MustToken(t, token.Security), origin: "https://evil.example", status: http.StatusForbidden, code: "forbidden"},
		"the gateway's origin": {tok: env.MustToken(t, token.Security), origin: env.URL, status: http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			ws, resp, err := env.DialLive(tc.tok, "", hdr)
			if tc.status == http.StatusOK {
				if err != nil {
					t.Fatalf("dial /ws/live: %v", err)
				}
				defer ws.Close()
				c := &LiveClient{tb: t, ws: ws}
				if m := c.Read(); m.Type != "snapshot" || len(m.Zones) != len(env.Event.Zones) || m.Gates == nil || m.Alerts == nil {
					t.Errorf("first message: %.300s", m.Raw)
				}
			} else {
				if err == nil {
					ws.Close()
					t.Fatal("the handshake succeeded")
				}
				if resp == nil || resp.StatusCode != tc.status {
					t.Fatalf("handshake: %v, response %v; want HTTP %d", err, resp, tc.status)
				}
				var body ErrorBody
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error.Code != tc.code {
					t.Errorf("/ws/live error body: %+v (%v); want code %s", body, err, tc.code)
				}
			}
			if tc.origin != "" {
				return // origins are a browser's matter: the websocket only
			}
			var body ErrorBody
			got := env.Get(t, "/api/v1/occupancy", tc.tok, &body)
			if got != tc.status || (tc.code != "" && body.Error.Code != tc.code) {
				t.Errorf("GET /api/v1/occupancy: %d %+v; want %d %s", got, body, tc.status, tc.code)
			}
		})
	}
	if code := env.Get(t, "/ws/live?since=x", env.MustToken(t, token.Security), nil); code != http.StatusBadRequest {
		t.Errorf("since=x: %d, want 400", code)
	}
}

// TestLiveTwoGateways: a scan taken on one gateway reaches the live clients
// of another gateway on the same Redis, with the store's figures, pushed:
// neither gateway polls (LivePoll is an hour).
func TestLiveTwoGateways(t *testing.T) {
	t.Parallel()
	a := MustEnv(t, Options{Tune: fastLive})
	b := MustEnv(t, Options{Tune: fastLive, Peer: a})
	live := b.MustLive(t, "")
	first := live.Read()
	if first.Type != "snapshot" || first.Zone("site") == nil || first.Zone("site").Occupancy != 0 {
		t.Fatalf("first message: %.300s", first.Raw)
	}
	scanner := a.MustScanner(t, token.Scanner, "MAIN-1")
	payload, _ := a.MustTicket(t, TicketSpec{})
	if r := scanner.Scan(a.ScanOf(t, payload, checkin.In)); r.Code != "accepted" {
		t.Fatalf("scan: %s", r.Raw)
	}
	payload2, _ := a.MustTicket(t, TicketSpec{Type: "exhibitor"})
	if r := scanner.Scan(a.ScanOf(t, payload2, checkin.In)); r.Code != "accepted" {
		t.Fatalf("scan: %s", r.Raw)
	}
	counters, seq, err := b.Ledger.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var site *LiveZone
	var main *LiveGate
	for _, m := range live.Until(seq) {
		if m.Type != "update" || m.Seq <= first.Seq {
			t.Errorf("after the snapshot: %.200s", m.Raw)
		}
		if z := m.Zone("site"); z != nil {
			site = z
		}
		if g := m.Gate("MAIN-1"); g != nil {
			main = g
		}
	}
	want := counters["site"]
	switch {
	case site == nil:
		t.Fatal("no update of the site")
	case site.Occupancy != want.Occupancy || site.Entries != want.Entries || site.Occupancy != 2 ||
		site.ByType["visitor"] != 1 || site.ByType["exhibitor"] != 1 || site.InPerMin != 2 || site.Level != "ok":
		t.Errorf("site on the other gateway: %+v; the store has %+v", site, want)
	}
	if main == nil || !main.Online || main.LastSeen == nil || main.ScansPerMin != 2 || main.Silent {
		t.Errorf("gate MAIN-1 on the other gateway: %+v", main)
	}
	// The snapshot of the other gateway's API says the same.
	snap := b.Occupancy(t, b.MustToken(t, token.Security))
	if z := snap.Zone("site"); z == nil || z.Occupancy != 2 || z.Entries != 2 {
		t.Errorf("GET /api/v1/occupancy on the other gateway: %.300s", snap.Raw)
	}
}

// TestLiveResume: a dashboard that reconnects with ?since=SEQ gets exactly
// the updates it missed, or a snapshot once they have left the ring.
func TestLiveResume(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Tune: func(c *gateway.Config) { fastLive(c); c.LiveRing = 4 }})
	sec := env.MustToken(t, token.Security)
	scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
	Eventually(t, "MAIN-1 online on the board", func() bool {
		var m LiveMsg
		env.Get(t, "/api/v1/occupancy", sec, &m)
		g := m.Gate("MAIN-1")
		return g != nil && g.Online
	})
	ref := env.MustLive(t, "") // connected throughout: what a client should see
	ref.Read()
	var seen []int64 // the seqs ref received after its snapshot
	step := func() int64 {
		scanner.MustTally("stage", 1)
		seq := env.StoreSeq(t)
		for _, m := range ref.Until(seq) {
			seen = append(seen, m.Seq)
		}
		return seq
	}

	a := env.MustLive(t, "")
	a.Read()
	var got []int64
	for range 2 {
		seq := step()
		for _, m := range a.Until(seq) {
			got = append(got, m.Seq)
		}
	}
	last := got[len(got)-1]
	_ = a.ws.Close()
	for range 3 { // fewer updates than the ring holds
		step()
	}
	a = env.MustLive(t, "?since="+strconv.FormatInt(last, 10))
	final := env.StoreSeq(t)
	for _, m := range a.Until(final) {
		if m.Type != "update" {
			t.Fatalf("resumed within the ring: got a %s: %.200s", m.Type, m.Raw)
		}
		got = append(got, m.Seq)
	}
	if !slices.Equal(got, seen) {
		t.Errorf("the resumed client got seqs %v; the connected one %v", got, seen)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Errorf("seqs not increasing: %v", got)
		}
	}
	_ = a.ws.Close()

	// Up to date: nothing to send until the next change, which comes next.
	a = env.MustLive(t, "?since="+strconv.FormatInt(final, 10))
	next := step()
	if m := a.Read(); m.Type != "update" || m.Seq != next || m.Zone("stage") == nil {
		t.Errorf("resumed up to date, then one tally: %.300s; want the update %d", m.Raw, next)
	}
	_ = a.ws.Close()

	// Away for longer than the ring holds: a fresh snapshot.
	for range 6 {
		step()
	}
	final = env.StoreSeq(t)
	a = env.MustLive(t, "?since="+strconv.FormatInt(next, 10))
	m := a.Read()
	counters, _, err := env.Ledger.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != "snapshot" || m.Seq != final || m.Zone("stage") == nil ||
		m.Zone("stage").Occupancy != counters["stage"].Occupancy || m.Zone("stage").Tally != 12 {
		t.Errorf("resumed after the ring moved on: %.300s; want a snapshot at %d", m.Raw, final)
	}
	// A seq from the future (another store) gets a snapshot too.
	a = env.MustLive(t, "?since="+strconv.FormatInt(final+1000, 10))
	if m := a.Read(); m.Type != "snapshot" || m.Seq != final {
		t.Errorf("resumed from the future: %.200s", m.Raw)
	}
}

// smallSendBuffer makes the kernel hold little of what the gateway writes
// to the first connection it accepts, so a client there that does not read
// is soon found out.
type smallSendBuffer struct {
	net.Listener
	done atomic.Bool
}

func (l *smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && !l.done.Swap(true) {
		_ = tc.SetWriteBuffer(1024)
	}
	return c, err
}

// liveClients reads crowdflow_live_clients from /metrics.
func (e *Env) liveClients(tb testing.TB) int {
	tb.Helper()
	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "crowdflow_live_clients "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return int(n)
		}
	}
	tb.Fatal("no crowdflow_live_clients in /metrics")
	return 0
}

// TestLiveStalledClient: a dashboard that stops reading is dropped, while
// scans go on being answered and the other dashboards go on being served.
func TestLiveStalledClient(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{AppendFsync: "no",
		Listener: func(l net.Listener) net.Listener { return &smallSendBuffer{Listener: l} },
		Tune: func(c *gateway.Config) {
			fastLive(c)
			c.LiveSendBuffer = 4
			c.Rate, c.Burst = 1e6, 1e6 // the wall clock stands still: no refill
		}})
	sec := env.MustToken(t, token.Security)
	// The stalled dashboard: a tiny receive window, and it never reads.
	d := websocket.Dialer{HandshakeTimeout: readTimeout, NetDialContext: (&net.Dialer{
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
			})
			return errors.Join(err, serr)
		}}).DialContext}
	stalled, _, err := d.Dial("ws://"+env.Addr+"/ws/live", http.Header{"Authorization": {"Bearer " + sec}})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	// A healthy dashboard reads all along.
	healthy := env.MustLive(t, "")
	var healthySeq atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := healthy.Next()
			if err != nil {
				return
			}
			healthySeq.Store(m.Seq)
		}
	}()
	Eventually(t, "two live clients", func() bool { return env.liveClients(t) == 2 })

	scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
	const most = 5000
	n := 0
	for ; n < most; n++ {
		scanner.MustTally("stage", 1-2*(n%2)) // every tally answered, whatever the dashboards do
		if n%10 == 9 && env.liveClients(t) == 1 {
			break
		}
	}
	if n == most {
		t.Fatalf("the stalled client is still served after %d tallies", most)
	}
	// The gateway has closed the stalled connection: reading it now ends.
	nc := stalled.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(readTimeout))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("the stalled connection is still open: %v", err)
		}
	}
	// The healthy one is up to date, and scans still answer at once.
	scanner.MustTally("stage", 1)
	final := env.StoreSeq(t)
	Eventually(t, "the healthy dashboard at the last seq", func() bool { return healthySeq.Load() == final })
	if env.liveClients(t) != 1 {
		t.Errorf("live clients: want 1 (the healthy one)")
	}
	_ = healthy.ws.Close()
	wg.Wait()
	if !strings.Contains(env.Logs(), "live client too slow: dropped") {
		t.Error("the drop is not logged")
	}
}

// TestLiveFigures: flows per minute, minutes to full, levels, silent gates
// and alerts over a scripted morning on the event clock.
func TestLiveFigures(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Tune: fastLive})
	sec := env.MustToken(t, token.Security)
	scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
	at := func(hms string) time.Time {
		tm, err := time.ParseInLocation(time.DateTime, "2025-09-17 "+hms, env.Event.Location)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	stageCap := env.Event.Zone("stage").Capacity
	hallCap := env.Event.Zone("hall-crafts").Capacity
	siteCap := env.Event.Zone("site").Capacity
	if stageCap < 50 {
		t.Fatalf("stage capacity %d: the script wants at least 50", stageCap)
	}

	env.Clock.Set(at("11:00:00"))
	scanner.MustTally("site", 30)
	env.Clock.Set(at("11:02:00"))
	scanner.MustTally("site", 40)
	env.Clock.Set(at("11:03:00"))
	scanner.MustTally("site", -10)
	stageTallies := 0
	for left := stageCap - 5; left > 0; left -= 1000 {
		scanner.MustTally("stage", min(left, 1000))
		stageTallies++
	}
	payload, _ := env.MustTicket(t, TicketSpec{})
	if r := scanner.Scan(env.ScanOf(t, payload, checkin.In)); r.Code != "accepted" {
		t.Fatalf("entry: %s", r.Raw)
	}
	env.Clock.Set(at("11:03:10"))
	into := env.ScanOf(t, payload, checkin.In)
	into.Gate = "HALL-CRAFTS"
	if r := scanner.Scan(into); r.Code != "accepted" {
		t.Fatalf("into the hall: %s", r.Raw)
	}
	live := env.MustLive(t, "")
	env.Clock.Set(at("11:03:30"))
	m := env.Occupancy(t, sec)

	mtf := func(free, net5 float64) *float64 { v := math.Round(free/(net5/5)*10) / 10; return &v }
	tests := map[string]struct {
		zone               string
		occupancy, entries int
		in, out            float64
		minutesToFull      *float64
		level              string
	}{
		// The stage's tallies (stageCap-5 people) took the site's 60 counted
		// people and brought stageCap-65 more, uncounted in the site before:
		// those enter the site too. Last minute (11:02:30, 11:03:30]: they and
		// the ticket in, 10 counted out. Five minutes: 30 + 40 + stageCap-65
		// + 1 in, 10 out: the site would fill within 10 minutes at that rate.
		"site": {"site", stageCap - 4, 1, float64(stageCap - 64), 10,
			mtf(float64(siteCap-stageCap+4), float64(stageCap-4)), "ok"},
		"hall-crafts": {"hall-crafts", 1, 1, 1, 0, mtf(float64(hallCap-1), 1), "ok"},
		"stage":       {"stage", stageCap - 5, 0, float64(stageCap - 5), 0, mtf(5, float64(stageCap-5)), "critical"},
		"pavilion":    {"pavilion", 0, 0, 0, 0, nil, "ok"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			z := m.Zone(tc.zone)
			if z == nil {
				t.Fatalf("no zone %s in %.300s", tc.zone, m.Raw)
			}
			gotMTF, wantMTF := "null", "null"
			if z.MinutesToFull != nil {
				gotMTF = fmt.Sprint(*z.MinutesToFull)
			}
			if tc.minutesToFull != nil {
				wantMTF = fmt.Sprint(*tc.minutesToFull)
			}
			if z.Occupancy != tc.occupancy || z.Entries != tc.entries || z.InPerMin != tc.in ||
				z.OutPerMin != tc.out || gotMTF != wantMTF || z.Level != tc.level {
				t.Errorf("got occupancy %d entries %d in %g out %g minutes_to_full %s level %s;\n"+
					"want %d %d %g %g %s %s", z.Occupancy, z.Entries, z.InPerMin, z.OutPerMin, gotMTF, z.Level,
					tc.occupancy, tc.entries, tc.in, tc.out, wantMTF, tc.level)
			}
		})
	}
	gates := map[string]struct {
		online, silent bool
		lastSeen       string // "" for never
		perMin         int
	}{
		"MAIN-1":      {true, false, "11:03:00", 2 + stageTallies}, // its scanner is connected here
		"HALL-CRAFTS": {true, false, "11:03:10", 1},                // no scanner here, but a scan a moment ago
		"EXIT-1":      {false, true, "", 0},                        // quiet since the opening at 10:00
	}
	checkGates := func(m LiveMsg) {
		t.Helper()
		for id, want := range gates {
			g := m.Gate(id)
			if g == nil {
				t.Fatalf("no gate %s", id)
			}
			seen := ""
			if g.LastSeen != nil {
				seen = g.LastSeen.In(env.Event.Location).Format(time.TimeOnly)
			}
			if g.Online != want.online || g.Silent != want.silent || seen != want.lastSeen || g.ScansPerMin != want.perMin {
				t.Errorf("gate %s at %s: %+v (last seen %q); want %+v", id, m.At.Format(time.TimeOnly), g, seen, want)
			}
		}
	}
	checkGates(m)
	alerts := func(m LiveMsg) map[string]LiveAlert {
		out := map[string]LiveAlert{}
		for _, a := range *m.Alerts {
			out[a.ID] = a
		}
		return out
	}
	got := alerts(m)
	if a, ok := got["zone:stage:level"]; !ok || a.Kind != "zone_level" || a.Zone != "stage" || a.Level != "critical" ||
		a.Since.Before(at("11:03:00")) || a.Since.After(at("11:03:30")) {
		t.Errorf("stage level alert: %+v", a)
	}
	if a, ok := got["zone:stage:forecast"]; !ok || a.Kind != "zone_forecast" || a.Level != "critical" {
		t.Errorf("stage forecast alert: %+v", a)
	}
	if a, ok := got["gate:EXIT-1:silent"]; !ok || a.Kind != "gate_silent" || a.Gate != "EXIT-1" || !a.Since.Equal(at("10:10:00")) {
		t.Errorf("EXIT-1 silent alert: %+v", a)
	}
	if a, ok := got["zone:site:forecast"]; !ok || a.Kind != "zone_forecast" || a.Level != "warn" {
		t.Errorf("site forecast alert: %+v", a)
	}
	for _, id := range []string{"zone:site:level", "gate:MAIN-1:silent"} {
		if a, ok := got[id]; ok {
			t.Errorf("unexpected alert %+v", a)
		}
	}

	// Ten minutes later, nobody moved: the flows are gone, and the gates
	// fall silent. Time alone changes the board: the dashboard gets it.
	live.Until(env.StoreSeq(t))
	env.Clock.Set(at("11:13:30"))
	m = env.Occupancy(t, sec)
	for _, id := range []string{"site", "stage", "hall-crafts"} {
		if z := m.Zone(id); z.InPerMin != 0 || z.OutPerMin != 0 || z.MinutesToFull != nil {
			t.Errorf("%s at 11:13:30: %+v; want no flow", id, z)
		}
	}
	gates = map[string]struct {
		online, silent bool
		lastSeen       string
		perMin         int
	}{
		"MAIN-1":      {true, true, "11:03:00", 0},
		"HALL-CRAFTS": {false, true, "11:03:10", 0},
		"EXIT-1":      {false, true, "", 0},
	}
	checkGates(m)
	got = alerts(m)
	if a, ok := got["gate:MAIN-1:silent"]; !ok || !a.Since.Equal(at("11:13:00")) {
		t.Errorf("MAIN-1 silent alert: %+v", a)
	}
	if _, ok := got["zone:stage:forecast"]; ok {
		t.Error("the stage forecast outlived the inflow")
	}
	if a := got["zone:stage:level"]; a.Since.Before(at("11:03:00")) || a.Since.After(at("11:03:30")) {
		t.Errorf("the stage level alert's since moved: %+v", a)
	}
	for {
		u := live.Read()
		if !u.At.Equal(at("11:13:30")) {
			continue
		}
		if u.Type != "update" || u.Seq != m.Seq || u.Gates == nil || u.Alerts == nil || u.Zone("site") == nil {
			t.Errorf("the update of the time alone: %.400s", u.Raw)
		}
		break
	}
}

// TestLiveShutdown: at shutdown every dashboard is told 1001 (going away),
// and Run returns without cutting anything.
func TestLiveShutdown(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded", Tune: fastLive})
	live := env.MustLive(t, "")
	if m := live.Read(); m.Type != "snapshot" {
		t.Fatalf("first message: %.200s", m.Raw)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- env.Stop() }()
	var err error
	for err == nil {
		_, err = live.Next()
	}
	if code := closeCode(err); code != websocket.CloseGoingAway {
		t.Errorf("close code %d (%v), want 1001", code, err)
	}
	_ = live.ws.Close()
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestLiveTokenExpires: a live client whose token expires is closed with
// 1008 (policy violation), as /ws/scan closes; one whose token is still
// valid goes on receiving updates.
func TestLiveTokenExpires(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded", Tune: func(cfg *gateway.Config) {
		fastLive(cfg)
		cfg.PingPeriod = 20 * time.Millisecond // the writer checks the expiry at least this often
	}})
	short := env.MustTokenUntil(t, token.Security, env.Wall.Now().Add(5*time.Second))
	ws, _, err := env.DialLive(short, "", nil)
	if err != nil {
		t.Fatalf("dial /ws/live: %v", err)
	}
	defer ws.Close()
	expiring := &LiveClient{tb: t, ws: ws}
	if m := expiring.Read(); m.Type != "snapshot" {
		t.Fatalf("first message: %.300s", m.Raw)
	}
	lasting := env.MustLive(t, "")
	if m := lasting.Read(); m.Type != "snapshot" {
		t.Fatalf("first message: %.300s", m.Raw)
	}

	// Before the expiry the stream goes on: an update reaches both.
	sc := env.MustScanner(t, token.Scanner, "MAIN-1")
	sc.MustTally("site", 1)
	seq := env.StoreSeq(t)
	expiring.Until(seq)
	lasting.Until(seq)

	env.Wall.Advance(6 * time.Second)
	code := -1
	for {
		if _, err := expiring.Next(); err != nil {
			code = closeCode(err)
			break
		}
	}
	if code != websocket.ClosePolicyViolation {
		t.Errorf("live client with an expired token: close code %d, want %d", code, websocket.ClosePolicyViolation)
	}
	sc.MustTally("site", 1)
	lasting.Until(env.StoreSeq(t))
}

// TestLivePushed: on either engine, a change reaches the board because the
// store says its log grew, not because the gateway polls it (LivePoll is an
// hour), and the update carries only the zones that changed.
func TestLivePushed(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := MustEnv(t, Options{Engine: engine, Tune: fastLive})
			live := env.MustLive(t, "")
			if m := live.Read(); m.Type != "snapshot" {
				t.Fatalf("first message: %.200s", m.Raw)
			}
			scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
			scanner.MustTally("pavilion", 3)
			seq := env.StoreSeq(t)
			ms := live.Until(seq)
			last := ms[len(ms)-1]
			var ids []string
			for _, z := range last.Zones {
				ids = append(ids, z.ID)
			}
			slices.Sort(ids)
			if last.Type != "update" || last.Seq != seq || !slices.Equal(ids, []string{"pavilion", "site"}) ||
				last.Zone("pavilion").Occupancy != 3 {
				t.Errorf("the update of a tally into the pavilion: %.300s; want the pavilion and the site only", last.Raw)
			}
		})
	}
}

// TestLiveCoalesced: with the coalescing window on an injected clock, the
// first change after a quiet window goes out at once, and a burst that
// follows within the window goes out as one update at its end, with the
// figures after the whole burst.
func TestLiveCoalesced(t *testing.T) {
	t.Parallel()
	pace := clock.NewManual(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	const window = 50 * time.Millisecond // on the injected clock: only the test ends it
	env := MustEnv(t, Options{Tune: func(c *gateway.Config) {
		fastLive(c)
		c.LiveTick, c.LiveClock = window, pace
	}})
	live := env.MustLive(t, "")
	if m := live.Read(); m.Type != "snapshot" {
		t.Fatalf("first message: %.200s", m.Raw)
	}
	scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
	// The scanner's gate comes online in an update of its own (time alone,
	// at the next refresh): read it first, so that it is not taken for
	// the tally's.
	for {
		if g := live.Read().Gate("MAIN-1"); g != nil && g.Online {
			break
		}
	}
	scanner.MustTally("stage", 1)
	first := env.StoreSeq(t)
	if m := live.Read(); m.Type != "update" || m.Seq != first || m.Zone("stage").Tally != 1 {
		t.Fatalf("the first change after a quiet window: %.300s; want the update %d at once", m.Raw, first)
	}
	for range 4 {
		scanner.MustTally("stage", 1)
	}
	final := env.StoreSeq(t)
	pace.Advance(window)
	m := live.Read()
	if m.Type != "update" || m.Seq != final || m.Zone("stage") == nil || m.Zone("stage").Tally != 5 {
		t.Errorf("the burst at the window's end: %.300s; want one update at %d with the stage's tally 5", m.Raw, final)
	}
}

// TestLiveStoreWentBack (issue 11, item 4): a store that lost its data
// (FLUSHALL on a real redis-server) is noticed, whether scans follow (their
// seq went back: noticed at once, without polling) or not (noticed by the
// periodic check): every client gets a fresh snapshot, the occupancy API
// shows the store's figures again, and the log says so.
func TestLiveStoreWentBack(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		poll    time.Duration
		tallies int // after the flush
	}{
		"scans follow":    {poll: time.Hour, tallies: 2},
		"nothing follows": {poll: 5 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := MustEnv(t, Options{Tune: func(c *gateway.Config) { fastLive(c); c.LivePoll = tc.poll }})
			sec := env.MustToken(t, token.Security)
			scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
			live := env.MustLive(t, "")
			live.Read()
			for range 4 {
				scanner.MustTally("stage", 2)
			}
			before := env.StoreSeq(t)
			live.Until(before)

			rc := redis.NewClient(&redis.Options{Addr: env.Redis.Addr()})
			defer rc.Close()
			if err := rc.FlushAll(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			for range tc.tallies {
				scanner.MustTally("stage", 1)
			}
			var m LiveMsg
			for m.Type != "snapshot" {
				m = live.Read()
			}
			after := env.StoreSeq(t)
			if after >= before || m.Seq > after || m.Zone("stage") == nil || m.Zone("stage").Occupancy > tc.tallies {
				t.Errorf("after the flush: %.300s; want a snapshot of the new store (seq %d, before %d)", m.Raw, after, before)
			}
			for m.Seq < after {
				if m = live.Read(); m.Type != "update" {
					t.Errorf("after the new snapshot: %.200s", m.Raw)
				}
			}
			if z := env.Occupancy(t, sec).Zone("stage"); z == nil || z.Occupancy != tc.tallies || z.Tally != tc.tallies {
				t.Errorf("GET /api/v1/occupancy after the flush: stage %+v; want %d", z, tc.tallies)
			}
			if !strings.Contains(env.Logs(), "the store went back") {
				t.Error("the log does not say the store went back")
			}
		})
	}
}

// TestLiveDayClosed: a day's closing reaches the board at once: the zones
// empty, and the update carries the closing (what was swept where); a
// snapshot taken afterwards carries it too.
func TestLiveDayClosed(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Tune: fastLive})
	scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
	scanner.MustTally("stage", 4)
	payload, _ := env.MustTicket(t, TicketSpec{})
	if r := scanner.Scan(env.ScanOf(t, payload, checkin.In)); r.Code != "accepted" {
		t.Fatalf("entry: %s", r.Raw)
	}
	live := env.MustLive(t, "")
	live.Until(env.StoreSeq(t))
	if _, err := env.Ledger.CloseDay(context.Background(), "2025-09-17", "test", env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	final := env.StoreSeq(t)
	ms := live.Until(final)
	last := ms[len(ms)-1]
	var closed struct {
		Closed *struct {
			Day        string         `json:"day"`
			Swept      map[string]int `json:"swept"`
			SweptTally map[string]int `json:"swept_tally"`
		} `json:"closed"`
	}
	if err := json.Unmarshal([]byte(last.Raw), &closed); err != nil {
		t.Fatal(err)
	}
	if c := closed.Closed; c == nil || c.Day != "2025-09-17" || c.Swept["site"] != 1 || c.SweptTally["stage"] != 4 {
		t.Errorf("the update of the closing: %.400s", last.Raw)
	}
	if z := last.Zone("site"); z == nil || z.Occupancy != 0 {
		t.Errorf("the site after the closing: %.300s", last.Raw)
	}
	if m := env.MustLive(t, "").Read(); !strings.Contains(m.Raw, `"closed":{"day":"2025-09-17"`) {
		t.Errorf("a snapshot after the closing: %.300s", m.Raw)
	}
}

// TestLiveHandshakesInLine: live clients are let in a few at a time (a
// reconnect storm readies a few goroutines, not thousands); while every
// slot is taken the others wait in line, a scanner still connects and is
// answered at once, and once the slots are free every waiting client gets
// its snapshot.
func TestLiveHandshakesInLine(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Tune: fastLive})
	sec := env.MustToken(t, token.Security)
	release := env.Server.HoldLiveSlots()
	const waiting = 3
	type dialed struct {
		m   LiveMsg
		err error
	}
	got := make(chan dialed, waiting)
	for range waiting {
		go func() {
			ws, _, err := env.DialLive(sec, "", nil)
			if err != nil {
				got <- dialed{err: err}
				return
			}
			t.Cleanup(func() { _ = ws.Close() })
			m, err := (&LiveClient{tb: t, ws: ws}).Next()
			got <- dialed{m: m, err: err}
		}()
	}
	Eventually(t, "the live clients waiting for a slot", func() bool { return env.Server.LiveWaiting() == waiting })
	// The scan path does not wait for the live clients' slots.
	scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
	scanner.MustTally("stage", 1) // answered: accepted
	if n := env.liveClients(t); n != 0 {
		t.Errorf("%d live clients joined while every slot was taken, want 0", n)
	}
	if n := env.Server.LiveWaiting(); n != waiting {
		t.Errorf("%d live clients waiting, want %d", n, waiting)
	}
	release()
	for range waiting {
		d := <-got
		if d.err != nil || d.m.Type != "snapshot" {
			t.Fatalf("a waiting live client, once let in: %v, first message %.100s; want its snapshot", d.err, d.m.Raw)
		}
	}
	if n := env.Server.LiveWaiting(); n != 0 {
		t.Errorf("%d live clients still waiting, want 0", n)
	}
	Eventually(t, "every waiting client joined", func() bool { return env.liveClients(t) == waiting })
}

// TestLiveGivesWayBounded: the fan-out gives way to scanners' frames being
// handled, but for a bounded time per update: with a frame held in flight
// for good, every live client still gets the update.
func TestLiveGivesWayBounded(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Tune: fastLive})
	const clients = 70 // more than two chunks of the fan-out
	live := make([]*LiveClient, clients)
	for i := range live {
		live[i] = env.MustLive(t, "")
		if m := live[i].Read(); m.Type != "snapshot" {
			t.Fatalf("first message %.100s, want the snapshot", m.Raw)
		}
	}
	scanner := env.MustScanner(t, token.Scanner, "MAIN-1")
	release := env.Server.HoldScanning()
	defer release()
	scanner.MustTally("stage", 1)
	seq := env.StoreSeq(t)
	for i, c := range live {
		if ms := c.Until(seq); len(ms) == 0 || ms[len(ms)-1].Seq < seq {
			t.Fatalf("live client %d did not get the update %d while a scanner's frame was in flight", i, seq)
		}
	}
}
