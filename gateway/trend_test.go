package gateway_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/token"
)

// trendMsg is a snapshot's trend (the zones' occupancy at the start of each
// minute of the last hour) and what it is read against.
type trendMsg struct {
	Type  string    `json:"type"`
	Seq   int64     `json:"seq"`
	At    time.Time `json:"at"`
	Zones []struct {
		ID        string `json:"id"`
		Occupancy int    `json:"occupancy"`
	} `json:"zones"`
	Trend *struct {
		From  time.Time        `json:"from"`
		Step  int              `json:"step"`
		Zones map[string][]int `json:"zones"`
	} `json:"trend"`
}

// TestLiveTrend: a board that opens after more than an hour of traffic
// gets the last 60 minutes of every zone in its first message, from the
// ledger, on an instance that decided none of the scans; the values are the
// occupancy the ledger had at the start of each minute.
func TestLiveTrend(t *testing.T) {
	t.Parallel()
	a := MustEnv(t, Options{Tune: fastLive})
	b := MustEnv(t, Options{Tune: fastLive, Peer: a})
	sec := b.MustToken(t, token.Security)
	scanner := a.MustScanner(t, token.Scanner, "MAIN-1")
	ev := a.Event

	// after: every zone's occupancy after each change, by when it was applied.
	type sample struct {
		at  time.Time
		occ map[string]int
	}
	var after []sample
	note := func() {
		cs, err := a.Ledger.Counters(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		occ := map[string]int{}
		for z, c := range cs {
			occ[z] = c.Occupancy
		}
		after = append(after, sample{a.Clock.Now(), occ})
	}
	truth := func(at time.Time, z string) int {
		n := 0
		for _, s := range after {
			if s.at.Before(at) {
				n = s.occ[z]
			}
		}
		return n
	}

	// 85 minutes of traffic: tallies in and out of the site and the stage,
	// and visitors with tickets through the main gate, a change every 40 to
	// 110 seconds, some minutes with none.
	rng := rand.New(rand.NewPCG(7, 13))
	start := time.Date(2025, 9, 17, 10, 20, 0, 0, ev.Location)
	a.Clock.Set(start)
	var inside []string // ticket payloads inside the site
	for a.Clock.Now().Before(start.Add(85 * time.Minute)) {
		a.Clock.Set(a.Clock.Now().Add(time.Duration(40+rng.IntN(71)) * time.Second))
		a.Wall.Set(a.Wall.Now().Add(time.Second)) // the device's rate limit refills
		switch r := rng.IntN(10); {
		case r < 3:
			scanner.MustTally("site", 1+rng.IntN(20))
		case r < 5:
			scanner.MustTally("stage", 1+rng.IntN(15))
		case r < 6:
			scanner.MustTally("stage", -1-rng.IntN(10))
		case r < 7:
			scanner.MustTally("site", -1-rng.IntN(10))
		case r < 9 || len(inside) == 0:
			payload, _ := a.MustTicket(t, TicketSpec{})
			if rep := scanner.Scan(a.ScanOf(t, payload, checkin.In)); rep.Code != "accepted" {
				t.Fatalf("entry: %s", rep.Raw)
			}
			inside = append(inside, payload)
		default:
			if rep := scanner.Scan(a.ScanOf(t, inside[0], checkin.Out)); rep.Code != "accepted" {
				t.Fatalf("exit: %s", rep.Raw)
			}
			inside = inside[1:]
		}
		note()
	}
	now := a.Clock.Now()
	seq := a.StoreSeq(t)

	check := func(where string, m trendMsg) {
		t.Helper()
		if m.Trend == nil {
			t.Fatalf("%s: no trend in the snapshot", where)
		}
		from := now.Truncate(time.Minute).Add(-time.Hour)
		if !m.Trend.From.Equal(from) || m.Trend.Step != 60 {
			t.Errorf("%s: trend from %s step %d, want from %s step 60", where, m.Trend.From, m.Trend.Step, from)
		}
		for _, z := range ev.Zones {
			var want []int
			for at := from; !at.After(now); at = at.Add(time.Minute) {
				want = append(want, truth(at, z.ID))
			}
			if got := m.Trend.Zones[z.ID]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: trend of %s:\n got  %v\n want %v", where, z.ID, got, want)
			}
		}
		for _, z := range m.Zones {
			if w := truth(now.Add(time.Nanosecond), z.ID); z.Occupancy != w {
				t.Errorf("%s: %s occupancy %d, want %d", where, z.ID, z.Occupancy, w)
			}
		}
	}
	// The other instance's state at the clock's time and the last seq.
	var m trendMsg
	Eventually(t, "instance b at the clock's time and the store's seq", func() bool {
		m = trendMsg{}
		if code := b.Get(t, "/api/v1/occupancy", sec, &m); code != http.StatusOK {
			t.Fatalf("GET /api/v1/occupancy: %d", code)
		}
		return m.At.Equal(now) && m.Seq == seq
	})
	check("GET /api/v1/occupancy on b", m)
	// A board that opens now: its first message.
	ws, _, err := b.DialLive(sec, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	m = trendMsg{}
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "snapshot" {
		t.Fatalf("first message: %s", m.Type)
	}
	check("the first message of /ws/live on b", m)
	if moves := len(after); moves < 50 {
		t.Fatalf("only %d changes: the traffic does not fill the hour", moves)
	}
}
