package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
	"crowdflow/token"
)

// The fault drills (issue 12): each starts its own real processes, drives
// scans through a real gateway from many devices, breaks something under
// load, and then checks DESIGN's rules 2–4 against the ledger: no
// acknowledged scan lost, none counted twice, counters equal to a recount
// of the event log. `make drill` runs them at full size (build tag drill,
// drillSize in drill_full_test.go) and prints their figures; `make test`
// runs a short version of each (drill_short_test.go).

// drillSizes are the loads of the drills: drillSize is set in
// drill_short_test.go (make test) or drill_full_test.go (make drill).
type drillSizes struct {
	devices int
	rate    float64 // scans/s from all devices together
	before  int     // scans acknowledged before the fault
	after   int     // scans acknowledged after recovery before the load stops
	full    bool    // the figures are asserted (timings need a quiet machine)
	// sequential is the number of scans of each run of the replication cost
	sequential int
	// stormLive live clients and stormDevices devices, these sending
	// stormRate scans/s together, reconnect at once; stormScans are
	// acknowledged before the restart, and after it
	stormLive, stormDevices, stormScans int
	stormRate                           float64
	// laneScans is the number of scans a CLI scanner sends in each phase
	// of the scanner-gateway network drill
	laneScans int
	// cliScanners `crowdflow scanner` processes read cliRate tickets/s
	// each through a gateway kill: cliBefore verdicts each before it,
	// cliDown offline verdicts each while it is down, cliAfter verdicts
	// each after its restart
	cliScanners, cliBefore, cliDown, cliAfter int
	cliRate                                   float64
	// pageScans is the number of scans the phone page makes in each phase
	// of its network drill (twice as many while the link is silent)
	pageScans int
	// linkDelay is how long a slow scanner-gateway link holds each chunk
	// (verdicts still come in time)
	linkDelay time.Duration
}

// retryPause is how long a device waits before it resends a scan the
// gateway could not decide, or dials again after a lost connection.
const retryPause = 50 * time.Millisecond

// drainWait bounds how long the devices keep resending their last scans
// after the load stops.
const drainWait = 30 * time.Second

// load is scans from many devices through one gateway: each device has
// its own ticket (re-entry allowed) and scans it in, out, in... one scan at
// a time, paced, resending a scan with the same id until it gets a verdict,
// as a gate does.
type load struct {
	f     *fair
	base  string
	start time.Time // the devices' clocks start at fairClock then
	ended time.Time // when stopLoad was called
	stop  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex // guards what follows
	acked    map[string]checkin.Code
	ackedAt  map[string]time.Time
	ackTimes []time.Time
	lat      []time.Duration // of first tries that got a verdict
	latAt    []time.Time     // when each of lat was sent
	retries  int             // scans sent again after an error or a lost connection
	unacked  []string        // scans still without a verdict when the drain ended
}

// startLoad starts devices devices that together send rate scans/s to the
// gateway at base, until stopLoad.
func startLoad(t *testing.T, f *fair, base string, devices int, rate float64) *load {
	t.Helper()
	l := &load{f: f, base: base, start: time.Now(), stop: make(chan struct{}), acked: map[string]checkin.Code{},
		ackedAt: map[string]time.Time{}}
	every := time.Duration(float64(devices) / rate * float64(time.Second))
	for i := range devices {
		name := fmt.Sprintf("drill-%02d", i)
		payload := f.ticket(t)
		l.wg.Go(func() { l.device(name, payload, every) })
	}
	t.Cleanup(l.stopLoad)
	return l
}

func (l *load) device(name, payload string, every time.Duration) {
	clockStart, _ := time.Parse(time.RFC3339, fairClock)
	var dev *device
	defer func() {
		if dev != nil {
			dev.close()
		}
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for k := 0; ; k++ {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		id := fmt.Sprintf("%s-%d", name, k)
		dir := checkin.In
		if k%2 == 1 {
			dir = checkin.Out
		}
		var deadline time.Time // set once the load stops: the drain's end
		for try := 0; ; try++ {
			if try > 0 {
				l.mu.Lock()
				l.retries++
				l.mu.Unlock()
				select {
				case <-l.stop:
					if deadline.IsZero() {
						deadline = time.Now().Add(drainWait)
					}
				default:
				}
				if !deadline.IsZero() && time.Now().After(deadline) {
					l.mu.Lock()
					l.unacked = append(l.unacked, id)
					l.mu.Unlock()
					return
				}
				time.Sleep(retryPause) // a device's pause between tries, not a wait for an event
			}
			if dev == nil {
				d, err := l.f.dialDevice(l.base, name)
				if err != nil {
					continue
				}
				dev = d
			}
			t0 := time.Now()
			v, err := dev.scan(id, payload, dir, clockStart.Add(time.Since(l.start)))
			if err != nil {
				if !errors.Is(err, errUnavailable) {
					dev.close()
					dev = nil
				}
				continue
			}
			l.mu.Lock()
			l.acked[id] = v.Code
			l.ackedAt[id] = time.Now()
			l.ackTimes = append(l.ackTimes, l.ackedAt[id])
			if try == 0 {
				l.lat = append(l.lat, time.Since(t0))
				l.latAt = append(l.latAt, t0)
			}
			l.mu.Unlock()
			break
		}
	}
}

// stopLoad stops the devices once each has a verdict for its last scan
// (or the drain ended), and waits for them.
func (l *load) stopLoad() {
	select {
	case <-l.stop:
	default:
		l.ended = time.Now()
		close(l.stop)
	}
	l.wg.Wait()
}

// rate is the scans acknowledged per second over the load's run.
func (l *load) rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return float64(len(l.acked)) / l.ended.Sub(l.start).Seconds()
}

// resends is the number of scans sent again so far.
func (l *load) resends() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retries
}

// acks is the number of scans acknowledged so far.
func (l *load) acks() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// firstAckAfter is when the first scan after t was acknowledged.
func (l *load) firstAckAfter(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := time.Time{}
	for _, a := range l.ackTimes {
		if a.After(t) && (first.IsZero() || a.Before(first)) {
			first = a
		}
	}
	return first
}

// latency is the p50 and p99 of the verdicts that came at the first try.
func (l *load) latency() (p50, p99 time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return percentile(l.lat, 0.50), percentile(l.lat, 0.99)
}

// latencyBetween is the p99 of the first-try verdicts sent between from
// and to, and their number.
func (l *load) latencyBetween(from, to time.Time) (p99 time.Duration, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var in []time.Duration
	for i, at := range l.latAt {
		if !at.Before(from) && at.Before(to) {
			in = append(in, l.lat[i])
		}
	}
	return percentile(in, 0.99), len(in)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// waitUntil polls cond until it holds, failing t after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// verdict of a drill on the ledger: what was lost and counted twice.
type verdict struct {
	acked, lost, doubled, logged int
	firstLost, lastLost          time.Time // when the earliest and the latest lost scan were acknowledged
}

// checkLedger reads the event log of the Redis that o names and checks the
// load's acknowledged scans against it: lost (acknowledged, not in the
// log) and doubled (in the log twice) are reported, and must be 0 unless
// lossy; the counters must equal a recount from the log whatever happened.
func checkLedger(t *testing.T, l *load, o redisengine.Options, lossy bool) verdict {
	t.Helper()
	if len(l.unacked) > 0 {
		t.Errorf("%d scans still without a verdict %s after the load stopped: %v", len(l.unacked), drainWait, l.unacked)
	}
	st := l.f.ledger(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log, err := st.ReadLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range log {
		if e.Kind == "scan" {
			n[e.ScanID]++
		}
	}
	v := verdict{acked: len(l.acked), logged: len(n)}
	for id := range l.acked {
		if n[id] == 0 {
			v.lost++
			at := l.ackedAt[id]
			if v.firstLost.IsZero() || at.Before(v.firstLost) {
				v.firstLost = at
			}
			if at.After(v.lastLost) {
				v.lastLost = at
			}
		}
	}
	for id, c := range n {
		if c > 1 {
			v.doubled++
			t.Errorf("scan %s is in the event log %d times", id, c)
		}
	}
	if v.lost > 0 && !lossy {
		t.Errorf("%d acknowledged scans are not in the event log", v.lost)
	}
	got, err := st.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	zones := admission.LedgerConfig(l.f.ev).Zones
	want := ledger.Recount(zones, log)
	for _, z := range zones {
		g, w := got[z.ID], want[z.ID]
		if g == nil || w == nil {
			if g != w {
				t.Errorf("zone %s: counters %v, recount %v", z.ID, g, w)
			}
			continue
		}
		if g.Occupancy != w.Occupancy || g.Entries != w.Entries || g.Exits != w.Exits {
			t.Errorf("zone %s: counters occupancy/entries/exits %d/%d/%d, recount from the log %d/%d/%d",
				z.ID, g.Occupancy, g.Entries, g.Exits, w.Occupancy, w.Entries, w.Exits)
		}
	}
	return v
}

// everysecLoss is how much acknowledged writes a kill -9 of redis-server
// can take with it under appendfsync everysec: while a background fsync is
// slow (a busy disk), Redis replies but postpones writing its AOF buffer to
// the file, for up to two seconds counted in whole seconds (aof.c,
// flushAppendOnlyFile), so just under three.
const everysecLoss = 3 * time.Second

// TestDrillRedisKill kills redis-server with SIGKILL under load, with
// appendfsync always and everysec, and restarts it from its AOF: the
// devices resend what got no verdict, and the ledger keeps every
// acknowledged scan once, but under everysec those of the last
// everysecLoss before the kill, which Redis may not have written yet.
func TestDrillRedisKill(t *testing.T) {
	for _, fsync := range []string{"always", "everysec"} {
		t.Run(fsync, func(t *testing.T) {
			f := mustFair(t)
			srv := redistest.Start(t, redistest.Options{AppendFsync: fsync})
			o := redisengine.Options{URL: srv.URL()}
			base, _ := f.gateway(t, nil, "--redis", o.URL)
			l := startLoad(t, f, base, drillSize.devices, drillSize.rate)
			waitUntil(t, time.Minute, "scans before the kill", func() bool { return l.acks() >= drillSize.before })
			killed, atKill := time.Now(), l.acks()
			srv.Kill()
			// Keep it down until the devices have felt it.
			waitUntil(t, time.Minute, "devices to see the store gone", func() bool { return l.resends() >= drillSize.devices })
			restarted := time.Now()
			srv.Restart()
			waitUntil(t, time.Minute, "scans after the restart", func() bool { return l.acks() >= atKill+drillSize.after })
			l.stopLoad()
			v := checkLedger(t, l, o, fsync == "everysec")
			if v.lost > 0 && killed.Sub(v.firstLost) > everysecLoss {
				t.Errorf("%d acknowledged scans are not in the event log, the first acknowledged %s before the kill: "+
					"more than Redis postpones a write (%s)", v.lost, killed.Sub(v.firstLost).Round(time.Millisecond), everysecLoss)
			}
			p50, p99 := l.latency()
			t.Logf("redis kill -9, appendfsync %s, %d devices at %.0f scans/s (%.0f/s acknowledged on average): %d acknowledged (%d before the kill), "+
				"%d lost, %d counted twice, %d resends; down %s, first verdict %s after the restart; verdict p50 %s p99 %s",
				fsync, drillSize.devices, drillSize.rate, l.rate(), v.acked, atKill, v.lost, v.doubled, l.retries,
				restarted.Sub(killed).Round(time.Millisecond), l.firstAckAfter(restarted).Sub(restarted).Round(time.Millisecond),
				p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
		})
	}
}

// TestDrillSentinelFailover kills the primary of a Sentinel setup (two
// replicas, three sentinels) with SIGKILL under load: scanning resumes on
// the promoted replica, and the figures say how long that took and how
// many acknowledged scans the old primary took with it.
func TestDrillSentinelFailover(t *testing.T) {
	f := mustFair(t)
	st := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2, Sentinels: 3,
		Server: redistest.Options{AppendFsync: "everysec"}})
	o := redisengine.Options{URL: st.URL()}
	base, _ := f.gateway(t, nil, "--redis", o.URL)
	l := startLoad(t, f, base, drillSize.devices, drillSize.rate)
	waitUntil(t, time.Minute, "scans before the kill", func() bool { return l.acks() >= drillSize.before })
	old := st.Primary(t)
	killed, atKill := time.Now(), l.acks()
	old.Kill()
	waitUntil(t, time.Minute, "a replica promoted", func() bool { return st.Primary(t) != old })
	promoted := time.Now()
	waitUntil(t, time.Minute, "scans after the failover", func() bool { return l.acks() >= atKill+drillSize.after })
	l.stopLoad()
	// A scan the old primary acknowledged and had not yet sent to a replica
	// is gone with it: counted, not failed (see BENCHMARKS.md, Drills).
	v := checkLedger(t, l, o, true)
	resumed := l.firstAckAfter(promoted)
	if drillSize.full && resumed.Sub(killed) > 15*time.Second {
		t.Errorf("scanning resumed %s after the primary died, want within 15 s", resumed.Sub(killed))
	}
	p50, p99 := l.latency()
	t.Logf("sentinel failover, %d devices at %.0f scans/s (%.0f/s acknowledged on average): %d acknowledged (%d before the kill), %d lost, %d counted twice, "+
		"%d resends; promoted %s after the kill, first verdict %s after the kill (go-redis followed in %s); verdict p50 %s p99 %s",
		drillSize.devices, drillSize.rate, l.rate(), v.acked, atKill, v.lost, v.doubled, l.retries,
		promoted.Sub(killed).Round(time.Millisecond), resumed.Sub(killed).Round(time.Millisecond),
		resumed.Sub(promoted).Round(time.Millisecond), p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
}

// TestDrillReplicationCost measures the verdict latency of scans decided one
// after another on a primary with two replicas: as it is (asynchronous
// replication), with min-replicas-to-write 1, and with WAIT 1 after each
// scan (--redis-wait-replicas 1). Only WAIT keeps an acknowledged scan
// through the primary's death.
func TestDrillReplicationCost(t *testing.T) {
	f := mustFair(t)
	primary := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	for range 2 {
		redistest.Start(t, redistest.Options{AppendFsync: "everysec",
			Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.Port())}})
	}
	cl := primary.Client(t)
	ctx := t.Context()
	waitUntil(t, 30*time.Second, "two replicas online", func() bool {
		info, err := cl.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "connected_slaves:2") && strings.Count(info, "state=online") == 2
	})
	plain, err := redisengine.Open(ctx, primary.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	waiting, err := redisengine.Dial(ctx, redisengine.Options{URL: primary.URL(), WaitReplicas: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	modes := []struct {
		name        string
		eng         ledger.Engine
		minReplicas string
		lat         []time.Duration
	}{{"async", plain, "0", nil}, {"minreplicas", plain, "1", nil}, {"wait", waiting, "0", nil}}
	at := time.Date(2025, 9, 17, 11, 0, 0, 0, f.ev.Location)
	// Rounds of each mode in turn, so that the machine's load weighs on
	// all three alike.
	const rounds = 10
	for round := range rounds {
		for i := range modes {
			m := &modes[i]
			if err := cl.ConfigSet(ctx, "min-replicas-to-write", m.minReplicas).Err(); err != nil {
				t.Fatal(err)
			}
			st, err := ledger.New(admission.LedgerConfig(f.ev), m.eng)
			if err != nil {
				t.Fatal(err)
			}
			for k := range drillSize.sequential / rounds {
				n := round*drillSize.sequential/rounds + k
				dir := checkin.In
				if n%2 == 1 {
					dir = checkin.Out
				}
				t0 := time.Now()
				v, err := st.Scan(ctx, ledger.Scan{ID: fmt.Sprintf("%s-%d", m.name, n), Device: m.name, Gate: fairGate,
					Zone: "site", Direction: dir, Ticket: m.name, Type: "visitor", Reentry: true,
					Precheck: checkin.Accepted, At: at})
				if err != nil || v.Code != checkin.Accepted {
					t.Fatalf("%s scan %d: %+v, %v", m.name, n, v, err)
				}
				m.lat = append(m.lat, time.Since(t0))
			}
		}
	}
	a50, a99 := percentile(modes[0].lat, 0.5), percentile(modes[0].lat, 0.99)
	m50, m99 := percentile(modes[1].lat, 0.5), percentile(modes[1].lat, 0.99)
	w50, w99 := percentile(modes[2].lat, 0.5), percentile(modes[2].lat, 0.99)
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	t.Logf("verdict latency of %d scans one after another, primary + 2 replicas: asynchronous p50 %s p99 %s; "+
		"min-replicas-to-write 1 p50 %s p99 %s; WAIT 1 after each scan p50 %s p99 %s",
		drillSize.sequential, r(a50), r(a99), r(m50), r(m99), r(w50), r(w99))
}

// TestDrillClusterMigration moves the event's slot to another primary of a
// Cluster (three primaries, a replica each) while devices scan: the gateway
// follows ASK, TRYAGAIN and MOVED, and the ledger keeps every acknowledged
// scan once.
func TestDrillClusterMigration(t *testing.T) {
	f := mustFair(t)
	c := redistest.StartCluster(t, redistest.ClusterOptions{Primaries: 3, Replicas: 1,
		Server: redistest.Options{AppendFsync: "everysec"}})
	o := redisengine.Options{URL: c.URL(), Cluster: true}
	base, _ := f.gateway(t, nil, "--redis", o.URL, "--redis-cluster")
	l := startLoad(t, f, base, drillSize.devices, drillSize.rate)
	waitUntil(t, time.Minute, "scans before the migration", func() bool { return l.acks() >= drillSize.before })
	slot, err := c.Client(t).ClusterKeySlot(t.Context(), "{"+f.ev.ID+"}").Result()
	if err != nil {
		t.Fatal(err)
	}
	from := c.Owner(t, int(slot))
	var to *redistest.Server
	for _, s := range c.Nodes[:3] { // the primaries
		if s != from {
			to = s
			break
		}
	}
	began, atMove := time.Now(), l.acks()
	retriesBefore := l.resends()
	keys := c.MigrateSlot(t, int(slot), to)
	took := time.Since(began)
	if owner := c.Owner(t, int(slot)); owner != to {
		t.Fatalf("slot %d on %s after the migration, want %s", slot, owner.Addr(), to.Addr())
	}
	waitUntil(t, time.Minute, "scans after the migration", func() bool { return l.acks() >= atMove+drillSize.after })
	l.stopLoad()
	v := checkLedger(t, l, o, false)
	p50, p99 := l.latency()
	t.Logf("cluster slot %d moved from %s to %s (%d keys, %s) under %d devices at %.0f scans/s (%.0f/s acknowledged on average): %d acknowledged "+
		"(%d before the move), %d lost, %d counted twice, %d resends during the move; verdict p50 %s p99 %s",
		slot, from.Addr(), to.Addr(), keys, took.Round(time.Millisecond), drillSize.devices, drillSize.rate, l.rate(),
		v.acked, atMove, v.lost, v.doubled, l.retries-retriesBefore, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
}

// TestDrillUnreplicatedScan shows what happens to a scan the primary
// acknowledged and never sent to a replica: replication is held, one scan
// is acknowledged as usual and another would be only after WAIT 1
// (--redis-wait-replicas 1), the primary dies
// with both, and a replica takes over. The first is lost though
// acknowledged; the second was never acknowledged, so its device resends it
// and it counts once.
func TestDrillUnreplicatedScan(t *testing.T) {
	f := mustFair(t)
	st := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2, Sentinels: 3, Proxied: true,
		Server: redistest.Options{AppendFsync: "everysec"}})
	o := redisengine.Options{URL: st.URL()}
	ctx := t.Context()
	eng, err := redisengine.Dial(ctx, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	async, err := ledger.New(admission.LedgerConfig(f.ev), eng)
	if err != nil {
		t.Fatal(err)
	}
	weng, err := redisengine.Dial(ctx, redisengine.Options{URL: st.URL(), WaitReplicas: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer weng.Close()
	waited, err := ledger.New(admission.LedgerConfig(f.ev), weng)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 9, 17, 11, 0, 0, 0, f.ev.Location)
	scan := func(st *ledger.Store, id string) (ledger.Verdict, error) {
		return st.Scan(ctx, ledger.Scan{ID: id, Device: "d", Gate: fairGate, Zone: "site", Direction: checkin.In,
			Ticket: id, Type: "visitor", Precheck: checkin.Accepted, At: at})
	}
	if _, err := scan(waited, "replicated"); err != nil {
		t.Fatalf("scan before the fault: %v", err)
	}
	for _, l := range st.Links {
		l.Hold(true)
	}
	if _, err := scan(async, "acked"); err != nil {
		t.Fatalf("scan without WAIT: %v", err)
	}
	t0 := time.Now()
	if v, err := scan(waited, "waited"); !errors.Is(err, redisengine.ErrNotReplicated) {
		t.Fatalf("scan with --redis-wait-replicas 1 while no replica hears: %+v, %v; want ErrNotReplicated (no acknowledgement)", v, err)
	}
	waitCost := time.Since(t0)
	old := st.Primary(t)
	old.Kill()
	for _, l := range st.Links {
		l.Reset() // what they held is gone with the primary
	}
	waitUntil(t, time.Minute, "a replica promoted", func() bool { return st.Primary(t) != old })
	after := f.ledger(t, o)
	var v ledger.Verdict
	waitUntil(t, 30*time.Second, "the new primary to decide", func() bool {
		v, err = scan(after, "waited") // the device resends what got no verdict
		return err == nil
	})
	log, err := after.ReadLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range log {
		n[e.ScanID]++
	}
	if n["replicated"] != 1 || n["waited"] != 1 || v.Code != checkin.Accepted || v.Replayed {
		t.Errorf("after the failover: replicated %d, waited %d times in the log (resent: %s replayed %v), want once each",
			n["replicated"], n["waited"], v.Code, v.Replayed)
	}
	t.Logf("scan acknowledged by the old primary, not replicated: in the new primary's log %d time(s) (lost: %v); "+
		"scan held by WAIT 1 (%s, then an error, no verdict): resent after the failover, counted %d time(s)",
		n["acked"], n["acked"] == 0, waitCost.Round(time.Millisecond), n["waited"])
}

// TestDrillRedisNetwork breaks the network between the gateway and Redis
// under load, through a TCP proxy: first slow (every chunk delayed), then
// silent (held past the gateway's store timeout, so scans the gateway
// gave up on reach Redis late), then reset. Devices resend what got no
// verdict; the ledger keeps every acknowledged scan once.
func TestDrillRedisNetwork(t *testing.T) {
	f := mustFair(t)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	proxy := redistest.StartProxy(t, srv.Addr())
	base, _ := f.gateway(t, nil, "--redis", "redis://"+proxy.Addr()+"/0")
	l := startLoad(t, f, base, drillSize.devices, drillSize.rate)
	waitUntil(t, time.Minute, "scans before the faults", func() bool { return l.acks() >= drillSize.before })
	at := l.acks()
	proxy.Delay(20 * time.Millisecond)
	waitUntil(t, time.Minute, "scans through the slow link", func() bool { return l.acks() >= at+drillSize.after/2 })
	proxy.Delay(0)
	held, r0 := time.Now(), l.resends()
	proxy.Hold(true)
	waitUntil(t, time.Minute, "devices to be told to resend", func() bool { return l.resends() >= r0+drillSize.devices })
	proxy.Hold(false)
	heldFor := time.Since(held)
	at = l.acks()
	waitUntil(t, time.Minute, "scans after the hold", func() bool { return l.acks() >= at+drillSize.after/2 })
	proxy.Reset()
	at = l.acks()
	waitUntil(t, time.Minute, "scans after the reset", func() bool { return l.acks() >= at+drillSize.after/2 })
	l.stopLoad()
	v := checkLedger(t, l, redisengine.Options{URL: srv.URL()}, false)
	p50, p99 := l.latency()
	t.Logf("gateway-redis link delayed 20 ms per chunk, held %s, reset, under %d devices at %.0f scans/s (%.0f/s acknowledged on average): %d acknowledged, "+
		"%d lost, %d counted twice, %d resends; verdict p50 %s p99 %s",
		heldFor.Round(time.Millisecond), drillSize.devices, drillSize.rate, l.rate(), v.acked, v.lost, v.doubled, l.retries,
		p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
}

// TestDrillGatewayKill kills the gateway process with SIGKILL while devices
// stream scans, and starts it again on the same address: the devices dial
// again and resend what got no verdict; the ledger keeps every acknowledged
// scan once.
func TestDrillGatewayKill(t *testing.T) {
	f := mustFair(t)
	bin := mustBinary(t)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	addr := freeAddr(t)
	gw := gatewayBinary(t, f, bin, srv.URL(), addr, time.Now())
	l := startLoad(t, f, "http://"+addr, drillSize.devices, drillSize.rate)
	waitUntil(t, time.Minute, "scans before the kill", func() bool { return l.acks() >= drillSize.before })
	killed, atKill := time.Now(), l.acks()
	gw.kill()
	waitUntil(t, time.Minute, "devices to see the gateway gone", func() bool { return l.resends() >= drillSize.devices })
	restarted := time.Now()
	gatewayBinary(t, f, bin, srv.URL(), addr, l.start)
	waitUntil(t, time.Minute, "scans after the restart", func() bool { return l.acks() >= atKill+drillSize.after })
	l.stopLoad()
	v := checkLedger(t, l, redisengine.Options{URL: srv.URL()}, false)
	p50, p99 := l.latency()
	t.Logf("gateway kill -9, %d devices at %.0f scans/s (%.0f/s acknowledged on average): %d acknowledged (%d before the kill), "+
		"%d lost, %d counted twice, %d resends; down %s, first verdict %s after the restart began; verdict p50 %s p99 %s",
		drillSize.devices, drillSize.rate, l.rate(), v.acked, atKill, v.lost, v.doubled, l.retries,
		restarted.Sub(killed).Round(time.Millisecond), l.firstAckAfter(restarted).Sub(restarted).Round(time.Millisecond),
		p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
}

// watchers are live clients on /ws/live that dial again whenever their
// connection ends, as the board does, until stop.
type watchers struct {
	stop      chan struct{}
	wg        sync.WaitGroup
	connected atomic.Int64 // clients holding a connection that sent its snapshot
	dials     atomic.Int64
}

// watchersChildEnv, when set ("url n secret-hex"), makes the test binary a
// child that only runs n live clients of url (watchersChild); watchersInproc,
// set to 1, keeps them in the test's process, beside the gateway.
const (
	watchersChildEnv = "CROWDFLOW_DRILL_WATCHERS"
	watchersInproc   = "CROWDFLOW_DRILL_WATCHERS_INPROC"
)

func init() {
	if spec := os.Getenv(watchersChildEnv); spec != "" {
		os.Exit(watchersChild(spec))
	}
}

// startWatchers runs n live clients of the gateway at base, each dialling
// again whenever its connection ends, until t ends. They run in a child
// process (the test binary again): in the test's process, thousands of
// clients' goroutines would share the gateway's Go scheduler and network
// poller, and the scanners' verdicts would wait behind them — the drill's
// cost, not the gateway's. The child still shares the machine's cores.
// With CROWDFLOW_DRILL_WATCHERS_INPROC=1 they run in this process.
func startWatchers(t *testing.T, f *fair, base string, n int) *watchers {
	t.Helper()
	w := &watchers{stop: make(chan struct{})}
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws/live"
	if os.Getenv(watchersInproc) == "1" {
		w.start(url, f.secret, n)
		t.Cleanup(func() {
			close(w.stop)
			w.wg.Wait()
		})
		return w
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %x", watchersChildEnv, url, n, f.secret))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() { // "connected dials", every 20 ms
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var c, d int64
			if _, err := fmt.Sscanf(sc.Text(), "%d %d", &c, &d); err == nil {
				w.connected.Store(c)
				w.dials.Store(d)
			}
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the child's cue to close its clients and end
		<-read
		if err := cmd.Wait(); err != nil {
			t.Errorf("live clients' child: %v", err)
		}
	})
	return w
}

// start runs n live clients of url, with security tokens signed by secret.
func (w *watchers) start(url string, secret []byte, n int) {
	for i := range n {
		now := time.Now()
		tok, err := token.Sign(secret, token.Claims{Role: token.Security, Subject: fmt.Sprintf("board-%04d", i),
			Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
		if err != nil {
			panic(err) // a fixed claim set: cannot fail
		}
		w.wg.Go(func() { w.watch(url, tok) })
	}
}

// watchersChild runs startWatchers' clients in the child process: it
// prints how many are connected and how many dials they made every 20 ms,
// and closes them when its stdin ends. It returns the exit code.
func watchersChild(spec string) int {
	f := strings.Fields(spec)
	var n int
	var secret []byte
	if len(f) == 3 {
		n, _ = strconv.Atoi(f[1])
		secret, _ = hex.DecodeString(f[2])
	}
	if n <= 0 || len(secret) == 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want url clients secret-hex\n", watchersChildEnv, spec)
		return 2
	}
	w := &watchers{stop: make(chan struct{})}
	w.start(f[0], secret, n)
	ended := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(ended)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		fmt.Printf("%d %d\n", w.connected.Load(), w.dials.Load())
		select {
		case <-tick.C:
		case <-ended:
			close(w.stop)
			w.wg.Wait()
			return 0
		}
	}
}

func (w *watchers) watch(url, tok string) {
	d := websocket.Dialer{HandshakeTimeout: replyWait}
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		w.dials.Add(1)
		ws, _, err := d.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			time.Sleep(retryPause) // a client's pause between dials
			continue
		}
		go func() { // the test's end closes the connection
			<-w.stop
			_ = ws.Close()
		}()
		_ = ws.SetReadDeadline(time.Time{})
		if _, _, err := ws.ReadMessage(); err == nil { // the snapshot
			w.connected.Add(1)
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					break
				}
			}
			w.connected.Add(-1)
		}
		_ = ws.Close()
	}
}

// TestDrillReconnectStorm restarts the gateway while live clients watch and
// devices scan: all of them dial again at once. The gateway takes them all
// back, and the verdicts of the scans sent during the storm keep their
// latency (p99 under 50 ms at full size).
func TestDrillReconnectStorm(t *testing.T) {
	f := mustFair(t)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	addr := freeAddr(t)
	args := []string{"--redis", srv.URL(), "--listen", addr}
	base, stop := f.gateway(t, nil, args...)
	w := startWatchers(t, f, base, drillSize.stormLive)
	l := startLoad(t, f, base, drillSize.stormDevices, drillSize.stormRate)
	waitUntil(t, 2*time.Minute, "every live client connected", func() bool {
		return w.connected.Load() == int64(drillSize.stormLive) && l.acks() >= drillSize.stormScans
	})
	steady, _ := l.latencyBetween(l.start, time.Now())
	// Devices that never fall quiet for DrainWait are cut at the shutdown
	// timeout, and the gateway exits 1 saying so: the drill is the storm
	// that follows, so it only reports that.
	stopCode := stop()
	restarted, atRestart, dialsBefore := time.Now(), l.acks(), w.dials.Load()
	f.gateway(t, nil, args...)
	waitUntil(t, 2*time.Minute, "every live client back", func() bool {
		return w.connected.Load() == int64(drillSize.stormLive) && l.acks() >= atRestart+drillSize.stormScans
	})
	back := time.Now()
	p99, n := l.latencyBetween(restarted, back)
	l.stopLoad()
	v := checkLedger(t, l, redisengine.Options{URL: srv.URL()}, false)
	if drillSize.full && p99 > 50*time.Millisecond {
		t.Errorf("verdict p99 %s during the reconnect storm, want under 50 ms", p99)
	}
	t.Logf("reconnect storm: gateway stopped (exit %d) and restarted under %d live clients and %d devices at %.0f scans/s: all back %s after the restart "+
		"(%d dials); verdict p99 %s over %d scans sent during the storm (%s before it); %d acknowledged, %d lost, %d counted twice",
		stopCode, drillSize.stormLive, drillSize.stormDevices, drillSize.stormRate, back.Sub(restarted).Round(time.Millisecond),
		w.dials.Load()-dialsBefore, p99.Round(10*time.Microsecond), n, steady.Round(10*time.Microsecond), v.acked, v.lost, v.doubled)
}

// mustBinary builds crowdflow into a directory of t, for drills that kill
// a process or run the CLI scanner.
func mustBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "crowdflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDrillScannerNetwork puts a TCP proxy between a CLI scanner and the
// gateway, slows it (the verdicts still come online), then silences it
// while a person is scanned: the scanner decides offline (within its 1.7 s
// verdict timeout), keeps deciding offline, and once the link is back (and
// reset) uploads its queue; every scan is then in the ledger once, with
// the counters equal to a recount.
func TestDrillScannerNetwork(t *testing.T) {
	f := mustFair(t)
	bin := mustBinary(t)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	base, _ := f.gateway(t, nil, "--redis", srv.URL())
	started := time.Now()
	proxy := redistest.StartProxy(t, strings.TrimPrefix(base, "http://"))
	now := time.Now()
	tok, err := token.Sign(f.secret, token.Claims{Role: token.Scanner, Subject: "lane-1",
		Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clockStart, _ := time.Parse(time.RFC3339, fairClock)
	sc := startProc(t, "lane-1", bin, "scanner", "--gateway", "http://"+proxy.Addr(), "--gate", fairGate,
		"--direction", "in", "--token-file", tokFile, "--config", ouarzazate, "--data", f.data,
		"--queue", t.TempDir(), "--device", "lane-1", "--clock", clockStart.Add(time.Since(started)).Format(time.RFC3339Nano),
		"--retry-max", "1s", "--drain", "30s", "--log-level", "warn")
	sc.waitCount(reOnline, 1, 30*time.Second)
	n := 0
	scan := func() time.Duration {
		n++
		t0 := time.Now()
		sc.send(f.ticket(t))
		sc.waitCount(reVerdict, n, 30*time.Second) // one person at a time
		return time.Since(t0)
	}
	for range drillSize.laneScans {
		scan()
	}
	proxy.Delay(drillSize.linkDelay)
	var slow time.Duration
	for range drillSize.laneScans {
		slow = max(slow, scan())
	}
	proxy.Delay(0)
	if n := sc.count(reOffline); n != 0 {
		t.Fatalf("%d offline verdicts through a link slowed by %s a chunk, want none", n, drillSize.linkDelay)
	}
	proxy.Hold(true)
	fallback := scan() // the first person after the link went silent
	if sc.count(reOffline) != 1 {
		t.Fatalf("%d offline verdicts after the link went silent, want 1", sc.count(reOffline))
	}
	for range drillSize.laneScans {
		scan()
	}
	offline := sc.count(reOffline)
	proxy.Hold(false)
	proxy.Reset() // what a silent link usually ends in
	released := time.Now()
	sc.waitCount(reSynced, offline, time.Minute)
	synced := time.Since(released)
	for range drillSize.laneScans {
		scan()
	}
	_ = sc.stdin.Close()
	if code := sc.exit(45 * time.Second); code != 0 {
		t.Fatalf("scanner exit %d, want 0 (every queued scan acknowledged)", code)
	}
	ids := scanIDs(sc)
	st := f.ledger(t, redisengine.Options{URL: srv.URL()})
	checkOnce(t, st, ids)
	log, err := st.ReadLog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, want := counters(t, st), ledger.Recount(admission.LedgerConfig(f.ev).Zones, log)
	if g, w := got["site"], want["site"]; g.Occupancy != w.Occupancy || g.Entries != w.Entries || g.Entries != len(ids) {
		t.Errorf("site: counters occupancy/entries %d/%d, recount %d/%d, scans %d", g.Occupancy, g.Entries, w.Occupancy, w.Entries, len(ids))
	}
	if drillSize.full && fallback > 2*time.Second {
		t.Errorf("the first scan after the link went silent waited %s for its offline verdict, want at most 2 s", fallback)
	}
	t.Logf("scanner-gateway link slowed by %s a chunk: slowest verdict %s, none offline; link silenced: offline verdict %s after the scan "+
		"(verdict timeout 1.7 s); %d scans decided offline, all synced %s after the link came back and was reset; %d scans in the ledger once each, "+
		"counters equal the recount", drillSize.linkDelay, slow.Round(time.Millisecond),
		fallback.Round(time.Millisecond), offline, synced.Round(time.Millisecond), len(ids))
}
