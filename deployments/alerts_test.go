package deployments_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.yaml.in/yaml/v3"

	"crowdflow/internal/manifest"
	"crowdflow/internal/redistest"
)

// The small fair of the kit's tests: its site holds 10 people.
const (
	smallFair     = "testdata/small-fair.yaml"
	smallFairDay  = "2025-09-17"
	smallFairOpen = "2025-09-17T11:00:00+01:00" // the event clock of the test gateway: open
)

// Stack is a real gateway process on a real redis-server, with what a
// scanner needs to talk to it.
type Stack struct {
	Bin     string
	Addr    string // the gateway's host:port
	Metrics string // its metrics listener's host:port (--metrics-listen), as the kit runs it
	Token   string // a scanner token for every gate
	Tickets []string
}

// MustStack builds crowdflow, makes keys, a scanner token and n tickets for
// the small fair, and starts `crowdflow gateway` on a fresh redis-server,
// listening on addr with /metrics on metrics (each host:port).
func MustStack(tb testing.TB, addr, metrics string, n int) *Stack {
	tb.Helper()
	s := &Stack{Bin: MustBuild(tb), Addr: addr, Metrics: metrics}
	data, out := tb.TempDir(), filepath.Join(tb.TempDir(), "tickets")
	MustRun(tb, s.Bin, "keys", "--data", data)
	s.Token = strings.TrimSpace(MustRun(tb, s.Bin, "token", "--data", data, "--role", "scanner", "--subject", "kit-test"))
	MustRun(tb, s.Bin, "tickets", "issue", "--config", smallFair, "--data", data, "--type", "visitor",
		"--days", smallFairDay, "--count", fmt.Sprint(n), "--out", out)
	tickets, err := manifest.Payloads(filepath.Join(out, "manifest.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	s.Tickets = tickets
	redis := redistest.Start(tb, redistest.Options{AppendFsync: "everysec"})
	gw := MustStart(tb, "gateway", s.Bin, "gateway", "--config", smallFair, "--data", data, "--redis", redis.URL(),
		"--listen", s.Addr, "--metrics-listen", s.Metrics, "--clock", smallFairOpen, "--log-level", "warn")
	gw.WaitHTTP(tb, "http://"+s.Addr+"/readyz")
	return s
}

// Scanner is a gate's websocket to the gateway, as a phone or a scanner
// laptop holds it.
type Scanner struct {
	tb      testing.TB
	ws      *websocket.Conn
	clock   time.Time // the gateway's event clock at hello
	helloAt time.Time
	n       int
}

// MustScanner connects to gate and says hello.
func (s *Stack) MustScanner(tb testing.TB, gate string) *Scanner {
	tb.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr+"/ws/scan", http.Header{"Authorization": {"Bearer " + s.Token}})
	if err != nil {
		tb.Fatalf("dial the gateway: %v", err)
	}
	tb.Cleanup(func() { _ = ws.Close() })
	sc := &Scanner{tb: tb, ws: ws}
	w := sc.roundTrip(map[string]any{"type": "hello", "protocol": 1, "device": "kit-test", "gate": gate})
	if w["type"] != "welcome" {
		tb.Fatalf("hello: %v", w)
	}
	sc.helloAt = time.Now()
	if sc.clock, err = time.Parse(time.RFC3339Nano, fmt.Sprint(w["server_time"])); err != nil {
		tb.Fatalf("welcome's server_time: %v", err)
	}
	return sc
}

// Enter scans payload in and returns the verdict.
func (sc *Scanner) Enter(payload string) map[string]any {
	sc.tb.Helper()
	sc.n++
	at := sc.clock.Add(time.Since(sc.helloAt)) // the device's clock follows the gateway's
	return sc.roundTrip(map[string]any{"type": "scan", "id": fmt.Sprintf("kit-%d-%d", time.Now().UnixNano(), sc.n),
		"ticket": payload, "direction": "in", "at": at.Format(time.RFC3339Nano)})
}

func (sc *Scanner) roundTrip(msg map[string]any) map[string]any {
	sc.tb.Helper()
	if err := sc.ws.WriteJSON(msg); err != nil {
		sc.tb.Fatalf("send %v: %v", msg["type"], err)
	}
	_ = sc.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	var reply map[string]any
	if err := sc.ws.ReadJSON(&reply); err != nil {
		sc.tb.Fatalf("read the answer to %v: %v", msg["type"], err)
	}
	return reply
}

// Webhook is an Alertmanager webhook receiver: it notes when each alert
// first arrives firing, and every notification.
type Webhook struct {
	URL string

	mu     sync.Mutex
	first  map[string]time.Time // "alertname/zone" -> first arrival firing
	posted []notification
}

type notification struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// MustWebhook starts a receiver on the loopback.
func MustWebhook(tb testing.TB) *Webhook {
	tb.Helper()
	wh := &Webhook{first: map[string]time.Time{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now()
		wh.mu.Lock()
		defer wh.mu.Unlock()
		wh.posted = append(wh.posted, n)
		for _, a := range n.Alerts {
			key := a.Labels["alertname"] + "/" + a.Labels["zone"]
			if _, seen := wh.first[key]; !seen && a.Status == "firing" {
				wh.first[key] = now
			}
		}
	}))
	tb.Cleanup(srv.Close)
	wh.URL = srv.URL
	return wh
}

// Wait waits for alert about zone to arrive firing and returns when it did.
func (wh *Webhook) Wait(tb testing.TB, alert, zone string) time.Time {
	tb.Helper()
	var at time.Time
	Eventually(tb, alert+" for "+zone+" at the webhook", func() bool {
		wh.mu.Lock()
		defer wh.mu.Unlock()
		var ok bool
		at, ok = wh.first[alert+"/"+zone]
		return ok
	})
	return at
}

func (wh *Webhook) arrived(alert, zone string) bool {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	_, ok := wh.first[alert+"/"+zone]
	return ok
}

// MustAlertmanager starts prometheus-alertmanager with the kit's routing and
// inhibit rules, its receivers pointed at the webhook, and returns its base URL.
func MustAlertmanager(tb testing.TB, wh *Webhook) string {
	tb.Helper()
	bin := MustTool(tb, "prometheus-alertmanager", "alertmanager")
	var cfg map[string]any
	mustYAML(tb, "alertmanager/alertmanager.yml", &cfg)
	receivers, _ := cfg["receivers"].([]any)
	for _, r := range receivers {
		r := r.(map[string]any)
		hooks, _ := r["webhook_configs"].([]any)
		for _, h := range hooks {
			h.(map[string]any)["url"] = wh.URL + "/" + fmt.Sprint(r["name"])
		}
	}
	dir := tb.TempDir()
	file := mustWriteYAML(tb, dir, "alertmanager.yml", cfg)
	addr := FreeAddr(tb)
	am := MustStart(tb, "alertmanager", bin, "--config.file", file, "--storage.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr, "--cluster.listen-address", "", "--log.level", "warn")
	am.WaitHTTP(tb, "http://"+addr+"/-/ready")
	return "http://" + addr
}

// MustPrometheus starts prometheus with the kit's rules, scraping target
// every second and evaluating every second, and returns its base URL.
func MustPrometheus(tb testing.TB, target, alertmanager string) string {
	tb.Helper()
	bin := MustTool(tb, "prometheus")
	rules, err := filepath.Abs("prometheus/rules.yml")
	if err != nil {
		tb.Fatal(err)
	}
	amURL, err := url.Parse(alertmanager)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
		"rule_files": []string{rules},
		"alerting": map[string]any{"alertmanagers": []any{
			map[string]any{"static_configs": []any{map[string]any{"targets": []string{amURL.Host}}}}}},
		"scrape_configs": []any{map[string]any{"job_name": "crowdflow",
			"static_configs": []any{map[string]any{"targets": []string{target}}}}},
	}
	dir := tb.TempDir()
	file := mustWriteYAML(tb, dir, "prometheus.yml", cfg)
	addr := FreeAddr(tb)
	p := MustStart(tb, "prometheus", bin, "--config.file", file, "--storage.tsdb.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr, "--log.level", "warn")
	p.WaitHTTP(tb, "http://"+addr+"/-/ready")
	return "http://" + addr
}

// query runs an instant PromQL query and returns the number of series.
func query(tb testing.TB, prom, q string) int {
	tb.Helper()
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return 0
	}
	return len(r.Data.Result)
}

// amAlert is one alert in Alertmanager's API.
type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

func amAlerts(tb testing.TB, am string) []amAlert {
	tb.Helper()
	resp, err := http.Get(am + "/api/v2/alerts")
	if err != nil {
		tb.Fatalf("alertmanager API: %v", err)
	}
	defer resp.Body.Close()
	var as []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
		tb.Fatalf("alertmanager API: %v", err)
	}
	return as
}

// TestAlertsReachTheWebhook drives the small fair's site past 80 % and then
// to 100 % with real scans through a real gateway on Redis, scraped every
// second by a real Prometheus with the kit's rules, which sends to a real
// Alertmanager with the kit's routing: ZoneOccupancyWarning and then
// ZoneFull arrive at the webhook, and ZoneFull inhibits the lower levels. It
// logs the time from each crossing to the webhook; then it checks that
// every metric the kit's rules and dashboard name is on the gateway's
// /metrics.
func TestAlertsReachTheWebhook(t *testing.T) {
	t.Parallel()
	start := time.Now()
	// Prometheus and Alertmanager start while crowdflow builds.
	wh := MustWebhook(t)
	am := MustAlertmanager(t, wh)
	metrics := FreeAddr(t)
	prom := MustPrometheus(t, metrics, am)
	stack := MustStack(t, FreeAddr(t), metrics, 12)
	t.Logf("everything up after %s", time.Since(start).Round(time.Millisecond))
	// Prometheus scrapes the gateway and evaluates the rules before the
	// first scan, so the times below are those of a running system.
	Eventually(t, "Prometheus records the site's occupancy ratio", func() bool {
		return query(t, prom, `zone:crowdflow_zone_occupancy:ratio{zone="site"} == 0`) == 1
	})

	t.Logf("first evaluation after %s", time.Since(start).Round(time.Millisecond))
	sc := stack.MustScanner(t, "MAIN")
	enter := func(from, to int) time.Time {
		for i := from; i < to; i++ {
			v := sc.Enter(stack.Tickets[i])
			if v["code"] != "accepted" {
				t.Fatalf("entry %d: %v", i+1, v)
			}
		}
		return time.Now()
	}
	crossed80 := enter(0, 8)
	warned := wh.Wait(t, "ZoneOccupancyWarning", "site")
	t.Logf("site at 80 %%: ZoneOccupancyWarning reached the webhook %s after the crossing", warned.Sub(crossed80).Round(time.Millisecond))
	if wh.arrived("ZoneFull", "site") {
		t.Fatal("ZoneFull arrived at 80 %")
	}

	crossed100 := enter(8, 10)
	if v := sc.Enter(stack.Tickets[10]); v["code"] != "zone_full" {
		t.Fatalf("an 11th entry: %v, want zone_full", v)
	}
	full := wh.Wait(t, "ZoneFull", "site")
	t.Logf("site at 100 %%: ZoneFull reached the webhook %s after the crossing", full.Sub(crossed100).Round(time.Millisecond))

	// Alertmanager holds both lower levels and mutes them: inhibited by
	// ZoneFull (Critical's `for` ends after Full fires, so it is muted from
	// its first moment and never reaches the webhook).
	Eventually(t, "Warning and Critical inhibited by ZoneFull", func() bool {
		inhibited := map[string]bool{}
		for _, a := range amAlerts(t, am) {
			if a.Labels["zone"] == "site" && a.Status.State == "suppressed" && len(a.Status.InhibitedBy) > 0 {
				inhibited[a.Labels["alertname"]] = true
			}
		}
		return inhibited["ZoneOccupancyWarning"] && inhibited["ZoneOccupancyCritical"]
	})
	if wh.arrived("ZoneOccupancyCritical", "site") {
		t.Error("ZoneOccupancyCritical reached the webhook though ZoneFull inhibits it")
	}

	t.Run("Prometheus accepts every dashboard query", func(t *testing.T) {
		for _, q := range dashboardQueries(t) {
			resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(q))
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil || r.Status != "success" {
				t.Errorf("query %s: %s %s %v", q, r.Status, r.Error, err)
			}
		}
	})

	t.Run("every metric the kit names is on /metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + stack.Metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		names := kitMetrics(t)
		if len(names) < 10 {
			t.Fatalf("only %d metrics found in the rules and the dashboard: %v", len(names), names)
		}
		for _, name := range names {
			if !strings.Contains("\n"+string(body), "\n"+name+"{") && !strings.Contains("\n"+string(body), "\n"+name+" ") {
				t.Errorf("%s is named by the kit but not on the gateway's /metrics", name)
			}
		}
	})
}

func mustYAML(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

func mustWriteYAML(tb testing.TB, dir, name string, v any) string {
	tb.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
