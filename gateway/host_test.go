package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"crowdflow/gateway"
	"crowdflow/token"
)

// TestHostCheck: the gateway answers under an IP address, localhost and
// the names it is configured with, and refuses any other Host (DNS
// rebinding: a page of another name re-pointed at the gateway's address),
// on plain routes and websockets alike.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded", Tune: func(cfg *gateway.Config) {
		cfg.Hosts = []string{"Gate.Fair.Example"}
	}})
	_, port, _ := strings.Cut(env.Addr, ":")
	tests := map[string]struct {
		host string
		ok   bool
	}{
		"loopback":              {env.Addr, true},
		"another loopback":      {"127.0.0.2:" + port, true},
		"IPv6 loopback":         {"[::1]:" + port, true},
		"a LAN address":         {"192.168.1.20:" + port, true},
		"localhost":             {"localhost:" + port, true},
		"a configured name":     {"gate.fair.example:" + port, true},
		"it in capitals, a dot": {"GATE.FAIR.EXAMPLE.", true},
		"a rebound name":        {"evil.example:" + port, false},
		"a name without port":   {"evil.example", false},
		"a suffix of the name":  {"fair.example", false},
		"the name as a suffix":  {"gate.fair.example.evil.example", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, env.URL+"/metrics", nil)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if tc.ok {
				if resp.StatusCode != http.StatusOK {
					t.Errorf("Host %q: %s, want 200", tc.host, resp.Status)
				}
				return
			}
			var body ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusMisdirectedRequest ||
				body.Error.Code != "unknown_host" {
				t.Errorf("Host %q: %s %+v (%v), want 421 unknown_host", tc.host, resp.Status, body, err)
			}
		})
	}
	d := websocket.Dialer{HandshakeTimeout: readTimeout}
	hdr := http.Header{"Authorization": {"Bearer " + env.MustToken(t, token.Scanner)}, "Host": {"evil.example"}}
	if ws, resp, err := d.Dial("ws://"+env.Addr+"/ws/scan", hdr); err == nil {
		ws.Close()
		t.Error("a websocket under a rebound name was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("a websocket under a rebound name: %v, want HTTP 421", err)
	}
}

// TestSeparateMetricsAndHSTS: with SeparateMetrics the main handler has no
// /metrics, MetricsHandler serves it; HSTS is sent over TLS only.
func TestSeparateMetricsAndHSTS(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded", Tune: func(cfg *gateway.Config) { cfg.SeparateMetrics = true }})
	if code := env.Get(t, "/metrics", "", nil); code != http.StatusNotFound {
		t.Errorf("/metrics on the main handler: %d, want 404", code)
	}
	metrics := httptest.NewServer(env.Server.MetricsHandler())
	defer metrics.Close()
	resp, err := http.Get(metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "crowdflow_zone_capacity") {
		t.Errorf("the metrics handler: %s, %.200q", resp.Status, b)
	}

	resp, err = http.Get(env.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("HSTS over plain http: %q, want none", h)
	}
	tlsSrv := httptest.NewTLSServer(env.Server.Handler())
	defer tlsSrv.Close()
	resp, err = tlsSrv.Client().Get(tlsSrv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") || h == "max-age=0" {
		t.Errorf("HSTS over TLS: %q, want max-age of a long time", h)
	}
}
