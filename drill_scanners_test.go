package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/internal/redistest"
	"crowdflow/ledger/redisengine"
	"crowdflow/token"
)

// gatewayBinary starts the crowdflow binary bin as a gateway of f on Redis
// at redisURL, listening on addr, with its event clock at fairClock plus
// the time since epoch (a gateway restarted later goes on with the
// venue's time, as a real one reads it), and waits until it listens.
func gatewayBinary(t *testing.T, f *fair, bin, redisURL, addr string, epoch time.Time) *proc {
	t.Helper()
	p := startProc(t, "gateway", bin, "gateway", "--config", ouarzazate, "--data", f.data, "--redis", redisURL,
		"--listen", addr, "--clock", drillClock(epoch), "--log-level", "warn")
	p.waitCount(regexp.MustCompile(`^gateway listening on `), 1, 30*time.Second)
	return p
}

// drillClock is the event clock of a process started now on a timeline
// that read fairClock at epoch.
func drillClock(epoch time.Time) string {
	at, _ := time.Parse(time.RFC3339, fairClock)
	return at.Add(time.Since(epoch)).Format(time.RFC3339Nano)
}

// lane is one `crowdflow scanner` process of a drill, fed tickets on its
// standard input at a steady pace, as a busy gate's reader types them.
type lane struct {
	*proc
	queue string // its queue directory
	mu    sync.Mutex
	fed   int // lines written to its input
}

// startLanes starts n CLI scanners at fairGate, each with its own token
// (subject lane-NN), queue directory and device name, on the gateway at
// base, with their event clocks on the timeline of epoch.
func startLanes(t *testing.T, f *fair, bin, base string, n int, epoch time.Time) []*lane {
	t.Helper()
	lanes := make([]*lane, n)
	for i := range n {
		name := fmt.Sprintf("lane-%02d", i)
		now := time.Now()
		tok, err := token.Sign(f.secret, token.Claims{Role: token.Scanner, Subject: name,
			Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		tokFile := filepath.Join(dir, "token")
		if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		queue := filepath.Join(dir, "queue")
		lanes[i] = &lane{queue: queue, proc: startProc(t, name, bin, "scanner", "--gateway", base, "--gate", fairGate,
			"--direction", "in", "--token-file", tokFile, "--config", ouarzazate, "--data", f.data,
			"--queue", queue, "--device", name, "--clock", drillClock(epoch),
			"--retry-max", "1s", "--drain", "30s", "--log-level", "warn")}
	}
	for _, l := range lanes {
		l.waitCount(reOnline, 1, 30*time.Second)
	}
	return lanes
}

// feed writes a new visitor ticket to each lane every interval until stop
// is closed; it returns once every feeder has stopped.
func feed(t *testing.T, f *fair, lanes []*lane, every time.Duration, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for _, l := range lanes {
		tickets := make(chan string, 1)
		wg.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				var payload string
				select {
				case <-stop:
					return
				case payload = <-tickets:
				}
				if _, err := io.WriteString(l.stdin, payload+"\n"); err != nil {
					return // the scanner died: the drill's checks say so
				}
				l.mu.Lock()
				l.fed++
				l.mu.Unlock()
			}
		})
		wg.Go(func() { // signing takes a while on a busy machine: ahead of the pace
			for {
				select {
				case <-stop:
					return
				case tickets <- f.ticket(t):
				}
			}
		})
	}
	return wg.Wait
}

// queued is the number of scans in the lane's queue directory (the files
// SEQUENCE-ID.json).
func (l *lane) queued() int {
	files, _ := filepath.Glob(filepath.Join(l.queue, "0*.json"))
	return len(files)
}

// TestDrillGatewayKillScanners kills the gateway binary with SIGKILL while
// several real `crowdflow scanner` processes stream scans through it, each
// with its own token and on-disk queue, and starts it again on the same
// address: the scanners decide offline meanwhile, reconnect, and drain
// their queues; every scan a person was shown a verdict for is in the
// ledger once, and the counters equal a recount of the log.
func TestDrillGatewayKillScanners(t *testing.T) {
	f := mustFair(t)
	bin := mustBinary(t)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	addr := freeAddr(t)
	epoch := time.Now()
	gw := gatewayBinary(t, f, bin, srv.URL(), addr, epoch)
	n := drillSize.cliScanners
	lanes := startLanes(t, f, bin, "http://"+addr, n, epoch)
	stop := make(chan struct{})
	stopped := feed(t, f, lanes, time.Duration(float64(time.Second)/drillSize.cliRate), stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			stopped()
		}
	}()
	each := func(what string, cond func(*lane) bool) {
		t.Helper()
		waitUntil(t, 2*time.Minute, what, func() bool { return !slices.ContainsFunc(lanes, func(l *lane) bool { return !cond(l) }) })
	}
	each("verdicts before the kill", func(l *lane) bool { return l.count(reVerdict) >= drillSize.cliBefore })
	killed := time.Now()
	gw.kill()
	each("offline verdicts while the gateway is down", func(l *lane) bool { return l.count(reOffline) >= drillSize.cliDown })
	synced := make([]int, n) // "· SYNCED" lines before the restart
	atRestart := make([]int, n)
	for i, l := range lanes {
		synced[i], atRestart[i] = l.count(reAllSynced), l.count(reVerdict)
	}
	restarted := time.Now()
	gatewayBinary(t, f, bin, srv.URL(), addr, epoch)
	// Each queue's backlog is drained when its scanner says SYNCED (the
	// queue is empty again) while new scans keep coming.
	drained := make([]time.Duration, n)
	waitUntil(t, 2*time.Minute, "every scanner's queue drained after the restart", func() bool {
		all := true
		for i, l := range lanes {
			if drained[i] == 0 && l.count(reAllSynced) > synced[i] {
				drained[i] = time.Since(restarted)
			}
			all = all && drained[i] > 0
		}
		return all
	})
	each("verdicts after the restart", func(l *lane) bool {
		return l.count(reVerdict) >= atRestart[slices.Index(lanes, l)]+drillSize.cliAfter
	})
	close(stop)
	stopped()

	acked := map[string]checkin.Code{}
	var offline, fed int
	for _, l := range lanes {
		_ = l.stdin.Close()
		if code := l.exit(time.Minute); code != 0 {
			t.Errorf("%s exit %d, want 0 (every queued scan acknowledged)", l.name, code)
		}
		ids := scanIDs(l.proc)
		if len(ids) != l.fed {
			t.Errorf("%s: %d verdicts shown for %d tickets read", l.name, len(ids), l.fed)
		}
		if q := l.queued(); q != 0 {
			t.Errorf("%s: %d scans still in its queue", l.name, q)
		}
		for _, id := range ids {
			acked[id] = checkin.Accepted
		}
		offline += l.count(reOffline)
		fed += l.fed
	}
	v := checkLedger(t, &load{f: f, acked: acked}, redisengine.Options{URL: srv.URL()}, false)
	if v.logged != len(acked) {
		t.Errorf("the event log has %d scans, the scanners showed %d verdicts", v.logged, len(acked))
	}
	ds := make([]string, n)
	for i, d := range drained {
		ds[i] = d.Round(10 * time.Millisecond).String()
	}
	t.Logf("gateway kill -9 (the binary), restarted on its address after %s, under %d CLI scanners at %.0f scans/s each (own token and queue): "+
		"%d scans read, %d verdicts shown (%d offline), %d in the ledger, %d lost, %d counted twice; queues empty after the restart: %s (max %s)",
		restarted.Sub(killed).Round(time.Millisecond), n, drillSize.cliRate, fed, v.acked, offline, v.logged, v.lost, v.doubled,
		strings.Join(ds, " "), slices.Max(drained).Round(10*time.Millisecond))
}
