package gateway_test

import (
	"encoding/json"
	"testing"
	"time"

	"crowdflow/gateway"
	"crowdflow/token"
	"crowdflow/wire"
)

// LiveBoard is what a dashboard shows: the snapshot with every update
// folded in.
type LiveBoard struct {
	Zones map[string]LiveZone
	Gates map[string]LiveGate
}

// Fold takes one live message into the board.
func (b *LiveBoard) Fold(m LiveMsg) {
	if m.Type == "snapshot" || b.Zones == nil {
		b.Zones, b.Gates = map[string]LiveZone{}, map[string]LiveGate{}
	}
	for _, z := range m.Zones {
		b.Zones[z.ID] = z
	}
	if m.Gates != nil {
		for _, g := range *m.Gates {
			b.Gates[g.ID] = g
		}
	}
}

// WaitBoard reads the live stream into b until cond holds of it.
func (c *LiveClient) WaitBoard(b *LiveBoard, what string, cond func(*LiveBoard) bool) {
	c.tb.Helper()
	for b.Zones == nil || !cond(b) {
		m, err := c.Next()
		if err != nil {
			c.tb.Fatalf("waiting for %s: %v", what, err)
		}
		b.Fold(m)
	}
}

// atLeast lists the zones the board marks as lower bounds.
func (b *LiveBoard) atLeast() map[string]bool {
	out := map[string]bool{}
	for id, z := range b.Zones {
		if z.AtLeast {
			out[id] = true
		}
	}
	return out
}

// TestLiveUnsynced: a device's queue (hello and status, CONTRACT §3) shows
// on its gate, marks its zone and the site as "at least", and is the gauge
// crowdflow_gate_unsynced_scans; a disconnected device leaves the gate
// offline with its last known queue, and the mark goes once a device there
// reports an empty queue. Bad figures get an error and change nothing.
func TestLiveUnsynced(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Tune: fastLive})
	live := env.MustLive(t, "")
	var b LiveBoard
	live.WaitBoard(&b, "the snapshot", func(*LiveBoard) bool { return true })
	if len(b.atLeast()) != 0 {
		t.Fatalf("at_least before any device: %v", b.atLeast())
	}

	oldest := env.Clock.Now().Add(-8 * time.Minute).Truncate(time.Second)
	tok := env.MustToken(t, token.Scanner, "HALL-CRAFTS")
	dev := env.mustQueued(t, tok, "tablet-7", "HALL-CRAFTS", 3, oldest)
	live.WaitBoard(&b, "HALL-CRAFTS online with 3 unsynced", func(b *LiveBoard) bool {
		g := b.Gates["HALL-CRAFTS"]
		return g.Online && g.Unsynced == 3
	})
	if g := b.Gates["HALL-CRAFTS"]; g.UnsyncedOldest == nil || !g.UnsyncedOldest.Equal(oldest) {
		t.Errorf("unsynced_oldest %v, want %v", g.UnsyncedOldest, oldest)
	}
	if got := b.atLeast(); len(got) != 2 || !got["hall-crafts"] || !got["site"] {
		t.Errorf("at_least on %v, want hall-crafts and site", got)
	}
	scrapeUnsynced := func() float64 {
		v, ok := sample(scrape(t, env), `crowdflow_gate_unsynced_scans{gate="HALL-CRAFTS"}`)
		if !ok {
			t.Fatal("no crowdflow_gate_unsynced_scans for HALL-CRAFTS")
		}
		return v
	}
	if v := scrapeUnsynced(); v != 3 {
		t.Errorf("gauge %g, want 3", v)
	}
	if v, ok := sample(scrape(t, env), `crowdflow_gate_unsynced_scans{gate="STAGE"}`); !ok || v != 0 {
		t.Errorf("STAGE gauge %g (present %v), want 0", v, ok)
	}

	// Bad figures: an error each, nothing changes.
	future := env.Clock.Now().Add(time.Hour)
	bad := map[string]struct{ frame, code string }{
		"negative":         {`{"type":"status","queued":-1}`, "malformed"},
		"no oldest":        {`{"type":"status","queued":2}`, "malformed"},
		"oldest in 1970":   {`{"type":"status","queued":2,"oldest":"1970-01-01T00:00:00Z"}`, "malformed"},
		"oldest in future": {mustJSON(t, wire.Status{Type: wire.TypeStatus, Queued: 2, Oldest: &future}), "bad_time"},
	}
	for name, tc := range bad {
		dev.SendText(tc.frame)
		if r := dev.Read(); r.Type != wire.TypeError || r.Code != tc.code {
			t.Errorf("%s: got %s, want error %s", name, r.Raw, tc.code)
		}
	}
	if v := scrapeUnsynced(); v != 3 {
		t.Errorf("gauge %g after bad frames, want 3", v)
	}

	// A status: one scan left.
	dev.Send(wire.Status{Type: wire.TypeStatus, Queued: 1, Oldest: &oldest})
	live.WaitBoard(&b, "HALL-CRAFTS with 1 unsynced", func(b *LiveBoard) bool { return b.Gates["HALL-CRAFTS"].Unsynced == 1 })
	if v := scrapeUnsynced(); v != 1 {
		t.Errorf("gauge %g, want 1", v)
	}

	// The device drops off: offline, its last known queue stays, and so
	// does the mark.
	_ = dev.ws.Close()
	live.WaitBoard(&b, "HALL-CRAFTS offline", func(b *LiveBoard) bool { return !b.Gates["HALL-CRAFTS"].Online })
	if g := b.Gates["HALL-CRAFTS"]; g.Unsynced != 1 {
		t.Errorf("offline gate: unsynced %d, want the last known 1", g.Unsynced)
	}
	if got := b.atLeast(); !got["hall-crafts"] || !got["site"] || got["stage"] {
		t.Errorf("at_least on %v, want hall-crafts and site", got)
	}

	// It comes back and has synced: the mark goes.
	back := env.MustDial(t, tok, nil)
	if r := back.Hello("tablet-7", "HALL-CRAFTS"); r.Type != wire.TypeWelcome {
		t.Fatalf("hello: %s", r.Raw)
	}
	live.WaitBoard(&b, "HALL-CRAFTS online and synced", func(b *LiveBoard) bool {
		g := b.Gates["HALL-CRAFTS"]
		return g.Online && g.Unsynced == 0 && len(b.atLeast()) == 0
	})
	if g := b.Gates["HALL-CRAFTS"]; g.UnsyncedOldest != nil {
		t.Errorf("unsynced_oldest %v with nothing queued", g.UnsyncedOldest)
	}
	if v := scrapeUnsynced(); v != 0 {
		t.Errorf("gauge %g, want 0", v)
	}

	// A hello whose oldest is in the future (a clock ahead) is welcomed,
	// so that its scans get through; its queue counts from now.
	stage := env.MustDial(t, env.MustToken(t, token.Scanner, "STAGE"), nil)
	stage.Send(wire.Hello{Type: wire.TypeHello, Protocol: wire.Protocol, Device: "phone-2", Gate: "STAGE",
		Queued: 5, Oldest: &future})
	if r := stage.Read(); r.Type != wire.TypeWelcome {
		t.Fatalf("hello with a future oldest: %s", r.Raw)
	}
	live.WaitBoard(&b, "STAGE with 5 unsynced", func(b *LiveBoard) bool { return b.Gates["STAGE"].Unsynced == 5 })
	if g := b.Gates["STAGE"]; g.UnsyncedOldest == nil || !g.UnsyncedOldest.Equal(env.Clock.Now()) {
		t.Errorf("STAGE unsynced_oldest %v, want now %v", g.UnsyncedOldest, env.Clock.Now())
	}
}

// mustQueued connects a device that says hello at gate with queued scans
// it decided offline, the oldest at oldest.
func (e *Env) mustQueued(tb testing.TB, tok, device, gate string, queued int, oldest time.Time) *Client {
	tb.Helper()
	dev := e.MustDial(tb, tok, nil)
	dev.Send(wire.Hello{Type: wire.TypeHello, Protocol: wire.Protocol, Device: device, Gate: gate,
		Queued: queued, Oldest: &oldest})
	if r := dev.Read(); r.Type != wire.TypeWelcome {
		tb.Fatalf("hello: %s", r.Raw)
	}
	return dev
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// twoGateways starts two gateways on one Redis that read each other's
// device reports every 20 ms, and a live client on each.
func twoGateways(t *testing.T) (a, b *Env, onA, onB *LiveClient) {
	t.Helper()
	poll := func(cfg *gateway.Config) { fastLive(cfg); cfg.LivePoll = 20 * time.Millisecond }
	a = MustEnv(t, Options{Tune: poll})
	b = MustEnv(t, Options{Tune: poll, Peer: a})
	return a, b, a.MustLive(t, ""), b.MustLive(t, "")
}

// TestLiveUnsyncedAcrossGateways: two gateways of one event. A device's
// queue reported to one shows on a board of the other, online while the
// device is on it, offline with its last known queue once it has left; it
// comes back to the other gateway with its queue synced, and both boards
// drop the mark (the first gateway's memory of it is superseded), each gate
// counted once.
func TestLiveUnsyncedAcrossGateways(t *testing.T) {
	t.Parallel()
	a, b, onA, onB := twoGateways(t)
	var boardA, boardB LiveBoard
	onB.WaitBoard(&boardB, "b's snapshot", func(*LiveBoard) bool { return true })
	onA.WaitBoard(&boardA, "a's snapshot", func(*LiveBoard) bool { return true })

	oldest := a.Clock.Now().Add(-6 * time.Minute).Truncate(time.Second)
	dev := a.mustQueued(t, a.MustToken(t, token.Scanner, "HALL-CRAFTS"), "tablet-7", "HALL-CRAFTS", 4, oldest)
	onB.WaitBoard(&boardB, "HALL-CRAFTS online on b with a's 4 unsynced", func(b *LiveBoard) bool {
		g := b.Gates["HALL-CRAFTS"]
		return g.Online && g.Unsynced == 4 && b.atLeast()["hall-crafts"] && b.atLeast()["site"]
	})
	if g := boardB.Gates["HALL-CRAFTS"]; g.UnsyncedOldest == nil || !g.UnsyncedOldest.Equal(oldest) {
		t.Errorf("b: unsynced_oldest %v, want %v", g.UnsyncedOldest, oldest)
	}

	// The device leaves a: offline on b, with its last known queue.
	_ = dev.ws.Close()
	onB.WaitBoard(&boardB, "HALL-CRAFTS offline on b, 4 unsynced", func(b *LiveBoard) bool {
		g := b.Gates["HALL-CRAFTS"]
		return !g.Online && g.Unsynced == 4 && b.atLeast()["hall-crafts"]
	})
	onA.WaitBoard(&boardA, "HALL-CRAFTS offline on a, 4 unsynced", func(b *LiveBoard) bool {
		g := b.Gates["HALL-CRAFTS"]
		return !g.Online && g.Unsynced == 4
	})

	// A minute later it comes back on b, synced: both boards show the gate
	// online with nothing unsynced and no mark (a no longer counts its
	// memory of it).
	a.Clock.Set(a.Clock.Now().Add(time.Minute))
	back := b.MustDial(t, b.MustToken(t, token.Scanner, "HALL-CRAFTS"), nil)
	if r := back.Hello("tablet-7", "HALL-CRAFTS"); r.Type != wire.TypeWelcome {
		t.Fatalf("hello on b: %s", r.Raw)
	}
	synced := func(b *LiveBoard) bool {
		g := b.Gates["HALL-CRAFTS"]
		return g.Online && g.Unsynced == 0 && len(b.atLeast()) == 0
	}
	onB.WaitBoard(&boardB, "HALL-CRAFTS online and synced on b", synced)
	onA.WaitBoard(&boardA, "HALL-CRAFTS online and synced on a", synced)
}

// TestLiveUnsyncedFollowsTheDevice: a device has one queue, and is on one
// gate at a time. When it comes back at another gate (on the same gateway,
// then on another one) with its queue, the gate it left shows nothing
// unsynced any more, on every board: the queue shows where the device is.
func TestLiveUnsyncedFollowsTheDevice(t *testing.T) {
	t.Parallel()
	a, b, onA, onB := twoGateways(t)
	var boardA, boardB LiveBoard
	oldest := a.Clock.Now().Add(-6 * time.Minute).Truncate(time.Second)
	only := func(gate string) func(*LiveBoard) bool {
		return func(b *LiveBoard) bool {
			for id, g := range b.Gates {
				if (id == gate) != (g.Unsynced == 3) {
					return false
				}
			}
			return true
		}
	}

	dev := a.mustQueued(t, a.MustToken(t, token.Scanner, "HALL-CRAFTS"), "tablet-7", "HALL-CRAFTS", 3, oldest)
	onA.WaitBoard(&boardA, "3 unsynced at HALL-CRAFTS on a", only("HALL-CRAFTS"))
	_ = dev.ws.Close()
	// b knows of the leave from a's report in the store: only then does
	// the clock move on, so that the reports that follow are newer.
	offline := func(gate string) func(*LiveBoard) bool {
		return func(b *LiveBoard) bool { return !b.Gates[gate].Online && only(gate)(b) }
	}
	onB.WaitBoard(&boardB, "HALL-CRAFTS offline on b, 3 unsynced", offline("HALL-CRAFTS"))

	// Back on a, at the main entrance, its queue still to send.
	a.Clock.Set(a.Clock.Now().Add(time.Minute))
	dev = a.mustQueued(t, a.MustToken(t, token.Scanner, "MAIN-1"), "tablet-7", "MAIN-1", 3, oldest)
	onA.WaitBoard(&boardA, "the 3 at MAIN-1 on a, none at HALL-CRAFTS", only("MAIN-1"))
	onB.WaitBoard(&boardB, "the 3 at MAIN-1 on b, none at HALL-CRAFTS", only("MAIN-1"))
	_ = dev.ws.Close()
	onB.WaitBoard(&boardB, "MAIN-1 offline on b, 3 unsynced", offline("MAIN-1"))

	// Then on b, at the stage.
	a.Clock.Set(a.Clock.Now().Add(time.Minute))
	b.mustQueued(t, b.MustToken(t, token.Scanner, "STAGE"), "tablet-7", "STAGE", 3, oldest)
	onB.WaitBoard(&boardB, "the 3 at STAGE on b, none elsewhere", only("STAGE"))
	onA.WaitBoard(&boardA, "the 3 at STAGE on a, none elsewhere", only("STAGE"))
}
