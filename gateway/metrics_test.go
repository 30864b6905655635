package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/gateway"
	"crowdflow/token"
)

// sample is the value of one series in a scrape (name{labels} exactly as
// the exposition writes them), and whether it is there.
func sample(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestMetricsZoneFigures: offline overrides are counted per gate (a replay
// is not counted again), minutes to full is the live board's figure and is
// absent for a zone that is not filling, the swept counter follows a day's
// closing, and the event-open gauge follows the event clock.
func TestMetricsZoneFigures(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{})
	c := env.MustScanner(t, token.Scanner, "MAIN-1")
	for range 3 {
		p, _ := env.MustTicket(t, TicketSpec{})
		if r := c.Scan(env.ScanOf(t, p, checkin.In)); r.Code != "accepted" {
			t.Fatalf("scan: %s", r.Raw)
		}
	}
	// A gate offline let the same ticket in twice: the second admission is
	// against the rules (anti-passback) and stands, flagged.
	p, _ := env.MustTicket(t, TicketSpec{NoReentry: true})
	for i := range 2 {
		s := env.ScanOf(t, p, checkin.In)
		s.At = env.Clock.Now().Add(-time.Duration(10-i) * time.Minute) // before this connection's hello
		s.Offline, s.Decided = true, checkin.Accepted
		r := c.Scan(s)
		if r.Code != "accepted" || strings.Contains(r.Raw, "offline_override") != (i == 1) {
			t.Fatalf("offline upload %d: %s; want accepted, the second with the flag offline_override", i, r.Raw)
		}
		if i == 1 {
			if r := c.Scan(s); !r.Replayed {
				t.Fatalf("the upload resent: %s, want a replay", r.Raw)
			}
		}
	}

	var snap struct {
		Zones []struct {
			ID            string   `json:"id"`
			MinutesToFull *float64 `json:"minutes_to_full"`
		} `json:"zones"`
	}
	sec := env.MustToken(t, token.Security)
	Eventually(t, "the live board forecasts the site", func() bool {
		env.Get(t, "/api/v1/occupancy", sec, &snap)
		for _, z := range snap.Zones {
			if z.ID == "site" && z.MinutesToFull != nil {
				return true
			}
		}
		return false
	})
	body := scrape(t, env)
	for _, z := range snap.Zones {
		got, ok := sample(body, `crowdflow_zone_minutes_to_full{zone="`+z.ID+`"}`)
		switch {
		case z.MinutesToFull == nil && ok:
			t.Errorf("zone %s: minutes to full %g in the scrape, want none (not filling)", z.ID, got)
		case z.MinutesToFull != nil && (!ok || got != *z.MinutesToFull):
			t.Errorf("zone %s: minutes to full %g (present %v) in the scrape, want the board's %g", z.ID, got, ok, *z.MinutesToFull)
		}
	}
	want := map[string]float64{
		`crowdflow_offline_overrides_total{gate="MAIN-1"}`:                    1,
		`crowdflow_offline_overrides_total{gate="EXIT-1"}`:                    0,
		`crowdflow_scans_total{code="accepted",direction="in",gate="EXIT-1"}`: 0,
		`crowdflow_zone_occupancy{zone="site"}`:                               4,
		`crowdflow_zone_swept_total{zone="site"}`:                             0,
		`crowdflow_event_open`:                                                1,
	}
	for series, w := range want {
		if got, ok := sample(body, series); !ok || got != w {
			t.Errorf("%s = %g (present %v), want %g", series, got, ok, w)
		}
	}

	// The day closes (by hand, as a rehearsal would) with the four inside:
	// they are swept out.
	env.Clock.Set(time.Date(2025, 9, 17, 23, 30, 0, 0, env.Event.Location))
	if _, err := env.Ledger.CloseDay(context.Background(), "2025-09-17", "test", env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	body = scrape(t, env)
	for series, w := range map[string]float64{
		`crowdflow_zone_swept_total{zone="site"}`:        4,
		`crowdflow_zone_swept_total{zone="hall-crafts"}`: 0,
		`crowdflow_zone_occupancy{zone="site"}`:          0,
		`crowdflow_event_open`:                           0,
	} {
		if got, ok := sample(body, series); !ok || got != w {
			t.Errorf("after closing: %s = %g (present %v), want %g", series, got, ok, w)
		}
	}
}

// TestMetricsStoreDown: while Redis hangs (every client paused) and after it
// is killed, a scrape still answers within the store timeout, counts a
// counters error, and shows no zone figure read from the store: missing
// series, never zeros. Capacities, from the config, stay.
func TestMetricsStoreDown(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Tune: func(c *gateway.Config) { c.StoreTimeout = 300 * time.Millisecond }})
	fromStore := []string{"crowdflow_zone_occupancy{", "crowdflow_zone_entries_total{", "crowdflow_zone_exits_total{",
		"crowdflow_zone_swept_total{", "crowdflow_zone_minutes_to_full{"}
	errorsNow := func(body string) float64 {
		v, ok := sample(body, `crowdflow_store_errors_total{op="counters"}`)
		if !ok {
			t.Fatalf("no counters error series in the scrape")
		}
		return v
	}
	body := scrape(t, env)
	if _, ok := sample(body, `crowdflow_zone_occupancy{zone="site"}`); !ok || errorsNow(body) != 0 {
		t.Fatalf("with the store up: occupancy present %v, counters errors %g; want present, 0", ok, errorsNow(body))
	}

	// A Redis that accepts connections and answers nothing: the scrape
	// must not wait for it longer than the store timeout (the client's
	// timeout here is far longer, and the pause lasts the whole test).
	hang, err := net.Dial("tcp", env.Redis.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	if _, err := hang.Write([]byte("CLIENT PAUSE 600000 ALL\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = hang.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := hang.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "+OK") {
		t.Fatalf("CLIENT PAUSE: %q %v", buf[:n], err)
	}
	states := map[string]func(){
		"hanging": func() {},
		"killed":  env.Redis.Kill,
	}
	for _, state := range []string{"hanging", "killed"} {
		states[state]()
		before := errorsNow(body)
		client := &http.Client{Timeout: 2 * time.Minute}
		resp, err := client.Get(env.URL + "/metrics")
		if err != nil {
			t.Fatalf("scrape with the store %s: %v", state, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("scrape with the store %s: %d %v", state, resp.StatusCode, err)
		}
		body = string(b)
		if got := errorsNow(body); got != before+1 {
			t.Errorf("store %s: counters errors %g, want %g", state, got, before+1)
		}
		for _, prefix := range fromStore {
			if strings.Contains(body, "\n"+prefix) {
				t.Errorf("store %s: the scrape shows %s... series; want none", state, prefix)
			}
		}
		if _, ok := sample(body, `crowdflow_zone_capacity{zone="site"}`); !ok {
			t.Errorf("store %s: no capacity in the scrape", state)
		}
	}
}
