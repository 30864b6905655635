package gateway_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"crowdflow/checkin"
	"crowdflow/gateway"
	"crowdflow/token"
)

func TestEventAPI(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	var info struct {
		ID   string            `json:"id"`
		Name map[string]string `json:"name"`
		Days []struct {
			Date string `json:"date"`
		} `json:"days"`
		Zones []struct {
			ID       string            `json:"id"`
			Name     map[string]string `json:"name"`
			Parent   string            `json:"parent"`
			Capacity int               `json:"capacity"`
		} `json:"zones"`
		Gates []struct {
			ID   string `json:"id"`
			Zone string `json:"zone"`
		} `json:"gates"`
		TicketTypes []struct {
			ID    string   `json:"id"`
			Zones []string `json:"zones"`
		} `json:"ticket_types"`
		TicketKeys []string `json:"ticket_keys"`
	}
	if code := env.Get(t, "/api/v1/event", env.MustToken(t, token.Security), &info); code != 200 {
		t.Fatalf("status %d", code)
	}
	if info.ID != "ouarzazate-2025" || info.Name["ar"] == "" || info.Name["fr"] == "" || info.Name["en"] == "" {
		t.Errorf("event: %+v", info)
	}
	if len(info.Days) != 6 || info.Days[0].Date != "2025-09-17" {
		t.Errorf("days: %+v", info.Days)
	}
	if len(info.Zones) != 6 || info.Zones[0].ID != "site" || info.Zones[0].Capacity != 1621 ||
		info.Zones[1].Parent != "site" || info.Zones[1].Name["ar"] == "" {
		t.Errorf("zones: %+v", info.Zones)
	}
	if len(info.Gates) != 7 || info.Gates[2].ID != "HALL-CRAFTS" || info.Gates[2].Zone != "hall-crafts" {
		t.Errorf("gates: %+v", info.Gates)
	}
	if len(info.TicketTypes) != 6 || info.TicketTypes[0].ID != "visitor" || !slices.Contains(info.TicketTypes[0].Zones, "stage") {
		t.Errorf("ticket types: %+v", info.TicketTypes)
	}
	pub := env.Key.Public().(ed25519.PublicKey)
	if len(info.TicketKeys) != 1 || info.TicketKeys[0] != base64.StdEncoding.EncodeToString(pub) {
		t.Errorf("ticket keys: %q", info.TicketKeys)
	}
	var e ErrorBody
	if code := env.Get(t, "/api/v1/event", "", &e); code != 401 || e.Error.Code != "unauthenticated" {
		t.Errorf("without a token: %d %+v", code, e)
	}
}

func TestRevokedAPI(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{})
	_, id := env.MustTicket(t, TicketSpec{})
	if _, err := env.Ledger.Revoke(context.Background(), env.Clock.Now(), "test", id); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Revoked []string `json:"revoked"`
		Count   int      `json:"count"`
	}
	if code := env.Get(t, "/api/v1/revoked", env.MustToken(t, token.Scanner, "MAIN-1"), &list); code != 200 {
		t.Fatalf("status %d", code)
	}
	if !slices.Equal(list.Revoked, []string{id}) || list.Count != 1 {
		t.Errorf("list: %+v", list)
	}
	var e ErrorBody
	if code := env.Get(t, "/api/v1/revoked", env.MustToken(t, token.Security), &e); code != 403 || e.Error.Code != "forbidden" {
		t.Errorf("security role: %d %+v", code, e)
	}
	if code := env.Get(t, "/api/v1/revoked", "", nil); code != 401 {
		t.Errorf("no token: %d", code)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	tests := map[string]struct {
		method, path string
		status       int
	}{
		"healthz":            {"GET", "/healthz", 200},
		"readyz":             {"GET", "/readyz", 200},
		"metrics":            {"GET", "/metrics", 200},
		"no UI configured":   {"GET", "/", 404},
		"scanner page":       {"GET", "/scan", 404},
		"nothing":            {"GET", "/nothing", 404},
		"login is a POST":    {"GET", "/login", 405},
		"session, no token":  {"GET", "/api/v1/session", 401},
		"POST to the health": {"POST", "/healthz", 405},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, env.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 && !strings.Contains(string(body), `{"error":{"code":"`) {
				t.Errorf("not a JSON error: %s", body)
			}
		})
	}
}

// TestUI: with Config.UI set, the pages are the UI's.
func TestUI(t *testing.T) {
	t.Parallel()
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "ui:%s", r.URL.Path) })
	env := MustEnv(t, Options{Engine: "embedded", Tune: func(c *gateway.Config) { c.UI = ui }})
	for _, p := range []string{"/", "/scan", "/login", "/static/app.js"} {
		resp, err := http.Get(env.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ui:"+p {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	if code := env.Get(t, "/healthz", "", nil); code != 200 {
		t.Errorf("healthz beside the UI: %d", code)
	}
}

// TestMetrics: the contract's names, a zone occupancy equal to the store's,
// and bounded labels (an unknown gate is "unknown", no ticket id anywhere).
func TestMetrics(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{})
	c := env.MustScanner(t, token.Scanner, "MAIN-1")
	var ids []string
	for range 3 {
		p, id := env.MustTicket(t, TicketSpec{})
		ids = append(ids, id)
		if r := c.Scan(env.ScanOf(t, p, checkin.In)); r.Code != "accepted" {
			t.Fatalf("scan: %s", r.Raw)
		}
	}
	p, _ := env.MustTicket(t, TicketSpec{})
	s := env.ScanOf(t, p, checkin.In)
	s.Gate = "NO-SUCH-GATE"
	c.Scan(s)

	body := scrape(t, env)
	for _, name := range []string{
		"crowdflow_scans_total", "crowdflow_scan_duration_seconds_bucket", "crowdflow_scanners_connected",
		"crowdflow_gate_last_scan_timestamp_seconds", "crowdflow_store_errors_total", "crowdflow_zone_occupancy",
		"crowdflow_zone_capacity", "crowdflow_zone_entries_total", "crowdflow_zone_exits_total",
	} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("no %s in the scrape", name)
		}
	}
	counters, err := env.Ledger.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		fmt.Sprintf(`crowdflow_zone_occupancy{zone="site"} %d`, counters["site"].Occupancy),
		fmt.Sprintf(`crowdflow_zone_entries_total{zone="site"} %d`, counters["site"].Entries),
		`crowdflow_zone_capacity{zone="site"} 1621`,
		`crowdflow_scans_total{code="accepted",direction="in",gate="MAIN-1"} 3`,
		`crowdflow_scans_total{code="unknown_gate",direction="in",gate="unknown"} 1`,
		`crowdflow_scanners_connected 1`,
		`crowdflow_gate_last_scan_timestamp_seconds{gate="MAIN-1"} ` + fmt.Sprint(float64(wallStart.Unix())),
		`crowdflow_scan_duration_seconds_count 4`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("no line %q in the scrape", line)
		}
	}
	if counters["site"].Occupancy != 3 {
		t.Errorf("store occupancy %d, want 3", counters["site"].Occupancy)
	}
	for _, id := range ids {
		if strings.Contains(body, id) {
			t.Errorf("ticket id %s in the metrics", id)
		}
	}
}

func scrape(tb testing.TB, env *Env) string {
	tb.Helper()
	resp, err := http.Get(env.URL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		tb.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(b)
}
