package gateway_test

import (
	"crypto/ed25519"
	"log/slog"
	"strings"
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/gateway"
)

func TestDefaultConfig(t *testing.T) {
	cfg := gateway.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the default config: %v", err)
	}
	if cfg.Rate != 20 || cfg.Burst != 40 || cfg.Listen != "127.0.0.1:8080" {
		t.Errorf("defaults: rate %g, burst %d, listen %s", cfg.Rate, cfg.Burst, cfg.Listen)
	}
	if cfg.PingPeriod >= cfg.PongWait {
		t.Errorf("ping period %s is not below the pong wait %s", cfg.PingPeriod, cfg.PongWait)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := map[string]struct {
		change   func(*gateway.Config)
		mentions []string
	}{
		"listen":                  {func(c *gateway.Config) { c.Listen = "8080" }, []string{"listen"}},
		"origin with a path":      {func(c *gateway.Config) { c.Origins = []string{"https://fair.example/scan"} }, []string{"origins[0]"}},
		"origin wildcard":         {func(c *gateway.Config) { c.Origins = []string{"https://ok.example", "https://*.example"} }, []string{"origins[1]", "wildcard"}},
		"origin not http":         {func(c *gateway.Config) { c.Origins = []string{"ftp://fair.example"} }, []string{"origins[0]"}},
		"origin without scheme":   {func(c *gateway.Config) { c.Origins = []string{"fair.example"} }, []string{"origins[0]"}},
		"no rate":                 {func(c *gateway.Config) { c.Rate = 0 }, []string{"rate"}},
		"no burst":                {func(c *gateway.Config) { c.Burst = 0 }, []string{"burst"}},
		"ping after the timeout":  {func(c *gateway.Config) { c.PingPeriod = time.Minute }, []string{"ping_period"}},
		"drain past the shutdown": {func(c *gateway.Config) { c.DrainWait = time.Minute }, []string{"drain_wait"}},
		"a zero timing":           {func(c *gateway.Config) { c.WriteWait = 0 }, []string{"write_wait"}},
		"no send buffer":          {func(c *gateway.Config) { c.SendBuffer = 0 }, []string{"send_buffer"}},
		"a short key":             {func(c *gateway.Config) { c.TicketKeys = []ed25519.PublicKey{{1, 2}} }, []string{"ticket_keys[0]"}},
		"every problem at once": {func(c *gateway.Config) { c.Rate, c.Burst, c.StoreTimeout = -1, -1, -1 },
			[]string{"rate", "burst", "store_timeout"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := gateway.DefaultConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("valid, want an error")
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
		})
	}
	ok := gateway.DefaultConfig()
	ok.Origins = []string{"https://fair.example", "http://192.168.1.10:8080", "https://[::1]:8443/"}
	if err := ok.Validate(); err != nil {
		t.Errorf("good origins: %v", err)
	}
}

func TestNew(t *testing.T) {
	ev, err := event.Load(ouarzazate)
	if err != nil {
		t.Fatal(err)
	}
	other, err := event.Load(tinyFair)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := MustLedger(t, ev, "embedded", "")
	pub, _, _ := ed25519.GenerateKey(nil)
	secret := MustRandom(t, 32)
	clk := clock.NewManual(time.Date(2025, 9, 17, 11, 0, 0, 0, ev.Location))
	bad := gateway.DefaultConfig()
	bad.Burst = 0
	tests := map[string]struct {
		cfg      gateway.Config
		judge    *admission.Judge
		store    gateway.Store
		secret   []byte
		mentions []string
	}{
		"no store":            {gateway.DefaultConfig(), admission.New(ev, pub), nil, secret, []string{"store"}},
		"another event judge": {gateway.DefaultConfig(), admission.New(other, pub), st, secret, []string{"judge"}},
		"a short secret":      {gateway.DefaultConfig(), admission.New(ev, pub), st, secret[:8], []string{"secret"}},
		"a bad config":        {bad, admission.New(ev, pub), st, secret, []string{"burst"}},
		"everything wrong":    {bad, nil, nil, nil, []string{"burst", "judge", "store", "secret"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := gateway.New(tc.cfg, ev, tc.judge, tc.store, tc.secret, clk, slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
		})
	}
	if _, err := gateway.New(gateway.DefaultConfig(), ev, admission.New(ev, pub), st, secret, clk, nil); err != nil {
		t.Errorf("New without a logger: %v", err)
	}
}
