package gateway_test

import (
	"context"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/gateway"
	"crowdflow/ledger"
	"crowdflow/token"
	"crowdflow/wire"
)

// TestDayClosesOnceAcrossGateways runs two gateways on one Redis past the
// 17th's closing (22:00 + 30 min): each one's ticker asks the ledger to close
// it, and it closes once: the swept visitors are counted once, and the next
// morning the site starts from zero and lets them in again.
func TestDayClosesOnceAcrossGateways(t *testing.T) {
	t.Parallel()
	fast := func(c *gateway.Config) { c.CloseCheck = 10 * time.Millisecond }
	a := MustEnv(t, Options{Tune: fast})
	b := MustEnv(t, Options{Peer: a, Tune: fast})
	c := a.MustScanner(t, token.Scanner, "MAIN-1")
	var payloads []string
	for range 3 {
		p, _ := a.MustTicket(t, TicketSpec{Days: []string{"2025-09-17", "2025-09-18"}})
		payloads = append(payloads, p)
		if r := c.Scan(a.ScanOf(t, p, checkin.In)); r.Code != "accepted" {
			t.Fatalf("entry: %s", r.Raw)
		}
	}
	// Nobody scans out. The event clock (shared by both) passes the closing.
	a.Clock.Set(time.Date(2025, 9, 17, 22, 31, 0, 0, a.Event.Location))
	ctx := context.Background()
	Eventually(t, "the 17th closed", func() bool {
		closed, err := a.Ledger.Closed(ctx)
		return err == nil && !closed["2025-09-17"].IsZero()
	})
	for _, st := range []*ledger.Store{a.Ledger, b.Ledger} {
		if cs, err := st.CloseDue(ctx, a.Clock.Now(), "test"); err != nil || len(cs) != 0 {
			t.Errorf("closed again: %v %v", cs, err)
		}
	}
	day, err := a.Ledger.DayFields(ctx, "2025-09-17")
	if err != nil {
		t.Fatal(err)
	}
	if day["site|swept"] != "3" {
		t.Errorf("site|swept = %q, want 3 (once, whichever gateway closed it)", day["site|swept"])
	}
	cs, err := b.Ledger.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cs["site"].Occupancy != 0 || cs["site"].Swept != 3 {
		t.Errorf("site: %d inside, %d swept; want 0 and 3", cs["site"].Occupancy, cs["site"].Swept)
	}
	// The next morning, through the other gateway.
	a.Clock.Set(time.Date(2025, 9, 18, 10, 5, 0, 0, a.Event.Location))
	cb := b.MustScanner(t, token.Scanner, "MAIN-1")
	for i, p := range payloads {
		r := cb.Scan(b.ScanOf(t, p, checkin.In))
		if r.Code != "accepted" || r.Occupancy != i+1 {
			t.Errorf("entry %d on the 18th: %s, want accepted with the site at %d", i, r.Raw, i+1)
		}
	}
	logged := 0
	log, err := a.Ledger.ReadLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		if e.Kind == "close" {
			logged++
		}
	}
	if logged != 1 {
		t.Errorf("%d close entries in the log, want 1", logged)
	}
}

// TestTallyAtUnknownGateIsLogged: every gate action reaches the log, a tally
// at a gate the config lacks included, and it moves nobody.
func TestTallyAtUnknownGateIsLogged(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := MustEnv(t, Options{Engine: engine})
			c := env.MustScanner(t, token.Scanner, "MAIN-1")
			id := NewID(t)
			c.Send(wire.Tally{Type: wire.TypeTally, ID: id, Zone: "stage", Gate: "NOPE", Delta: 2, At: env.Clock.Now()})
			if r := c.Read(); r.Code != string(checkin.UnknownGate) || r.OK {
				t.Fatalf("tally at an unknown gate: %s", r.Raw)
			}
			log, err := env.Ledger.ReadLog(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(log); n != 1 || log[0].ScanID != id || log[0].Gate != "NOPE" || log[0].Code != checkin.UnknownGate {
				t.Fatalf("log %+v, want the one tally, refused unknown_gate", log)
			}
			cs, err := env.Ledger.Counters(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if cs["stage"].Occupancy != 0 {
				t.Errorf("stage %d, want 0", cs["stage"].Occupancy)
			}
		})
	}
}
