package gateway_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/gateway"
	"crowdflow/ledger"
	"crowdflow/token"
	"crowdflow/wire"
)

// TestStoreDown: with Redis killed, a scan gets "unavailable" with its id;
// /readyz says 503; after a restart the device resends the same id and the
// scan counts once.
func TestStoreDown(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Tune: func(c *gateway.Config) {
		c.StoreTimeout, c.ReadyTimeout = 2*time.Second, 500*time.Millisecond
	}})
	c := env.MustScanner(t, token.Scanner, "MAIN-1")
	p1, _ := env.MustTicket(t, TicketSpec{})
	if r := c.Scan(env.ScanOf(t, p1, checkin.In)); r.Code != "accepted" {
		t.Fatalf("first scan: %s", r.Raw)
	}
	if code := env.Get(t, "/readyz", "", nil); code != 200 {
		t.Fatalf("readyz with the store up: %d", code)
	}

	env.Redis.Kill()
	p2, _ := env.MustTicket(t, TicketSpec{})
	s := env.ScanOf(t, p2, checkin.In)
	if r := c.Scan(s); r.Type != "error" || r.Code != "unavailable" || r.ID != s.ID || r.Message == "" {
		t.Fatalf("scan with the store down: %s", r.Raw)
	}
	var e ErrorBody
	if code := env.Get(t, "/readyz", "", &e); code != 503 || e.Error.Code != "unavailable" {
		t.Errorf("readyz with the store down: %d %+v", code, e)
	}
	if code := env.Get(t, "/healthz", "", nil); code != 200 {
		t.Errorf("healthz with the store down: %d", code)
	}
	if body := scrape(t, env); !strings.Contains(body, "\n"+`crowdflow_store_errors_total{op="scan"} 1`+"\n") {
		t.Errorf("no store error counted:\n%s", body)
	}

	env.Redis.Restart()
	Eventually(t, "readyz after the restart", func() bool { return env.Get(t, "/readyz", "", nil) == 200 })
	if r := c.Scan(s); r.Code != "accepted" || r.Replayed {
		t.Errorf("the resent scan: %s", r.Raw)
	}
	if r := c.Scan(s); r.Code != "accepted" || !r.Replayed {
		t.Errorf("the scan resent again: %s", r.Raw)
	}
	log, err := env.Ledger.ReadLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.ScanID == s.ID {
			n++
		}
	}
	counters, err := env.Ledger.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || counters["site"].Occupancy != 2 || counters["site"].Entries != 2 {
		t.Errorf("scan %s logged %d times, site occupancy %d, entries %d; want 1, 2, 2",
			s.ID, n, counters["site"].Occupancy, counters["site"].Entries)
	}
}

// holdStore holds scans at the door of the store until released: scans in
// flight, without a sleep.
type holdStore struct {
	gateway.Store
	mu      sync.Mutex
	gate    chan struct{} // nil: not holding
	waiting atomic.Int32
}

func (h *holdStore) Hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate = make(chan struct{})
}

func (h *holdStore) Release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
}

func (h *holdStore) Scan(ctx context.Context, sc ledger.Scan) (ledger.Verdict, error) {
	h.mu.Lock()
	g := h.gate
	h.mu.Unlock()
	if g != nil {
		h.waiting.Add(1)
		defer h.waiting.Add(-1)
		select {
		case <-g:
		case <-ctx.Done():
			return ledger.Verdict{}, ctx.Err()
		}
	}
	return h.Store.Scan(ctx, sc)
}

// TestGracefulShutdown: Run's context ends while scans are in flight (held
// in the store) and more wait unread on the sockets: every scan sent before
// the shutdown gets its verdict, then the close frame 1001, and Run returns
// nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	hold := &holdStore{}
	env := MustEnv(t, Options{Wrap: func(s gateway.Store) gateway.Store { hold.Store = s; return hold },
		Tune: func(c *gateway.Config) { c.Burst, c.DrainWait = 100, 50*time.Millisecond }})
	clients := []*Client{env.MustScanner(t, token.Scanner, "MAIN-1"), env.MustScanner(t, token.Scanner, "MAIN-1")}

	// More scans than gorilla buffers (4 KiB): most wait on the socket.
	hold.Hold()
	sent := make([][]string, len(clients))
	for i, c := range clients {
		for range 40 {
			p, _ := env.MustTicket(t, TicketSpec{})
			s := env.ScanOf(t, p, checkin.In)
			c.Send(s)
			sent[i] = append(sent[i], s.ID)
		}
	}
	Eventually(t, "both readers in the store", func() bool { return hold.waiting.Load() == int32(len(clients)) })

	stopped := make(chan error, 1)
	go func() { stopped <- env.Stop() }()
	Eventually(t, "the shutdown under way", func() bool {
		resp, err := http.Get(env.URL + "/readyz")
		if err != nil {
			return true // the listener is closed
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if _, _, err := env.Dial(env.MustToken(t, token.Scanner), nil); err == nil {
		t.Error("a new websocket during the shutdown")
	}
	hold.Release()

	for i, c := range clients {
		var got []string
		for {
			r, err := c.Next()
			if err != nil {
				_ = c.ws.Close()
				if code := closeCode(err); code != 1001 {
					t.Errorf("client %d: ended with %v, want close 1001", i, err)
				}
				break
			}
			if r.Type != wire.TypeVerdict || r.Code != "accepted" {
				t.Errorf("client %d: %s", i, r.Raw)
			}
			got = append(got, r.ID)
		}
		if !slices.Equal(got, sent[i]) {
			t.Errorf("client %d: verdicts for %d of %d scans, in order %v; sent %v", i, len(got), len(sent[i]), got, sent[i])
		}
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return")
	}
}

// TestShutdownDeadline: a scan stuck in the store past ShutdownTimeout is cut,
// and Run says so.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	hold := &holdStore{}
	env := MustEnv(t, Options{Engine: "embedded",
		Wrap: func(s gateway.Store) gateway.Store { hold.Store = s; return hold },
		Tune: func(c *gateway.Config) { c.ShutdownTimeout, c.DrainWait = 300*time.Millisecond, 50*time.Millisecond }})
	t.Cleanup(hold.Release)
	c := env.MustScanner(t, token.Scanner, "MAIN-1")
	hold.Hold()
	p, _ := env.MustTicket(t, TicketSpec{})
	c.Send(env.ScanOf(t, p, checkin.In))
	Eventually(t, "the reader in the store", func() bool { return hold.waiting.Load() == 1 })
	err := env.Stop()
	if err == nil || !strings.Contains(err.Error(), "cut") {
		t.Errorf("Run: %v, want the connection cut", err)
	}
	if code := c.CloseCode(); code == 1001 {
		t.Error("a cut connection said goodbye")
	}
}
