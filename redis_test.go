package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/internal/redistest"
	"crowdflow/ledger/redisengine"
)

// readyz reads the gateway's /readyz: its status code and store mode.
func readyz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Store string `json:"store"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r.Store
}

// TestGatewayDurability: a gateway refuses a Redis without an append-only
// file, in one line that says what to do, unless --allow-volatile-store;
// /readyz says which mode it runs in; a Redis that forbids CONFIG is used
// with one warning.
func TestGatewayDurability(t *testing.T) {
	f := mustFair(t)
	volatile := redistest.Start(t, redistest.Options{})
	t.Run("refused", func(t *testing.T) {
		code, _, stderr := runCLI(t, nil, "gateway", "--config", ouarzazate, "--data", f.data,
			"--listen", "127.0.0.1:0", "--redis", volatile.URL())
		if code != exitFailure {
			t.Fatalf("exit %d, want %d; stderr %q", code, exitFailure, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		last := lines[len(lines)-1]
		if !strings.Contains(last, "appendonly yes") || !strings.Contains(last, "--allow-volatile-store") {
			t.Errorf("last line %q: want one that says to set appendonly yes or pass --allow-volatile-store", last)
		}
	})
	tests := map[string]struct {
		redis   *redistest.Server // nil: the embedded store
		args    []string
		mode    string
		warning string // in the log, once
	}{
		"volatile allowed": {volatile, []string{"--allow-volatile-store"}, "redis volatile", "no append-only file"},
		"aof always":       {redistest.Start(t, redistest.Options{AppendFsync: "always"}), nil, "redis aof always", ""},
		"aof everysec":     {redistest.Start(t, redistest.Options{AppendFsync: "everysec"}), nil, "redis aof everysec", ""},
		"config forbidden": {redistest.Start(t, redistest.Options{Args: []string{"--rename-command", "CONFIG", ""}}), nil,
			"redis (durability unknown)", "refuses CONFIG GET"},
		"embedded": {nil, nil, "embedded", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := tc.args
			if tc.redis != nil {
				args = append(args, "--redis", tc.redis.URL())
			} else {
				args = append(args, "--data", t.TempDir())
				if code, _, stderr := runCLI(t, nil, "keys", "--data", args[len(args)-1]); code != exitOK {
					t.Fatal(stderr)
				}
			}
			var log syncBuffer
			base, stop := f.gateway(t, &log, args...)
			status, mode := readyz(t, base)
			if status != http.StatusOK || mode != tc.mode {
				t.Errorf("/readyz: %d store %q, want 200 store %q", status, mode, tc.mode)
			}
			stop()
			if n := strings.Count(log.String(), "\"level\":\"WARN\""); (tc.warning != "") != (n == 1) ||
				!strings.Contains(log.String(), tc.warning) {
				t.Errorf("log: %d warnings, want %s: %s", n, map[bool]string{true: "one about " + tc.warning, false: "none"}[tc.warning != ""], log.String())
			}
		})
	}
}

// TestRedisURLNeverPrintsPassword runs the commands that take --redis with
// URLs that do not parse, point nowhere or carry a wrong password: each fails
// with one line that does not hold the password.
func TestRedisURLNeverPrintsPassword(t *testing.T) {
	f := mustFair(t)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec", Password: "right"})
	const pw = "pa55/w0rd"
	tests := map[string]struct {
		url  string
		env  map[string]string
		code int
	}{
		"unescaped slash":      {"redis://:" + pw + "@" + srv.Addr() + "/0", nil, exitUsage},
		"bad port":             {"redis://:pa55w0rd@127.0.0.1:port/0", nil, exitUsage},
		"unknown option":       {"redis://:pa55w0rd@" + srv.Addr() + "/0?bogus=1", nil, exitUsage},
		"wrong password":       {"redis://:pa55w0rd@" + srv.Addr() + "/0", nil, exitFailure},
		"nobody there":         {"redis://:pa55w0rd@127.0.0.1:1/0", nil, exitFailure},
		"from the environment": {"", map[string]string{"CROWDFLOW_REDIS": "redis://:" + pw + "@127.0.0.1:1/0"}, exitUsage},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, cmd := range [][]string{
				{"gateway", "--config", ouarzazate, "--data", f.data, "--listen", "127.0.0.1:0"},
				{"tickets", "revoke", "--config", ouarzazate, "--data", f.data},
			} {
				args := cmd
				if tc.url != "" {
					args = append(args, "--redis", tc.url)
				}
				if cmd[0] == "tickets" {
					args = append(args, "aaaaaaaaaaaaaaaa")
				}
				code, _, stderr := runCLI(t, tc.env, args...)
				if code != tc.code {
					t.Errorf("%s: exit %d, want %d; stderr %q", cmd[0], code, tc.code, stderr)
				}
				if strings.Contains(stderr, "pa55") || strings.Contains(stderr, "w0rd") {
					t.Errorf("%s: the password shows: %q", cmd[0], stderr)
				}
			}
		})
	}
}

// TestGatewaySentinel scans through a gateway on Sentinel (one primary, two
// replicas, three sentinels, a password read from --redis-password-file),
// and reads the scans back from the primary.
func TestGatewaySentinel(t *testing.T) {
	f := mustFair(t)
	st := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 2, Sentinels: 3,
		Server: redistest.Options{AppendFsync: "everysec", Password: "s3ntinel"}})
	pwFile := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pwFile, []byte("s3ntinel\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := redisengine.Options{URL: st.URL(), PasswordFile: pwFile}
	base, _ := f.gateway(t, nil, "--redis", opts.URL, "--redis-password-file", pwFile)
	if _, mode := readyz(t, base); mode != "redis sentinel aof everysec" {
		t.Errorf("/readyz store %q, want redis sentinel aof everysec", mode)
	}
	dev, err := f.dialDevice(base, "sentinel-gate")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.close()
	at := time.Now()
	tickets := []string{f.ticket(t), f.ticket(t), f.ticket(t)}
	for i, p := range tickets {
		v, err := dev.scan("sentinel-"+string(rune('a'+i)), p, checkin.In, at)
		if err != nil || v.Code != checkin.Accepted || v.Occupancy != i+1 {
			t.Fatalf("scan %d: %+v, %v; want accepted with occupancy %d", i, v, err, i+1)
		}
	}
	cs, err := f.ledger(t, opts).Counters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := cs["site"].Occupancy; got != len(tickets) {
		t.Errorf("site occupancy in Redis %d, want %d", got, len(tickets))
	}
}

// TestRedisTLSFlags revokes a ticket on a Redis that serves TLS only to
// clients with a certificate from the test's authority: through the flags,
// then through their environment variables; without the client
// certificate the command fails.
func TestRedisTLSFlags(t *testing.T) {
	f := mustFair(t)
	certs := redistest.MustCerts(t)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec",
		TLS: &redistest.TLS{Cert: certs.ServerCert, Key: certs.ServerKey, CA: certs.CA}})
	url := "rediss://" + srv.TLSAddr() + "/0"
	revoke := []string{"tickets", "revoke", "--config", ouarzazate, "--data", f.data}
	tests := map[string]struct {
		args []string
		env  map[string]string
		code int
	}{
		"flags": {[]string{"--redis", url, "--redis-ca", certs.CA, "--redis-cert", certs.ClientCert,
			"--redis-key", certs.ClientKey, "aaaaaaaaaaaaaaaa"}, nil, exitOK},
		"environment": {[]string{"bbbbbbbbbbbbbbbb"}, map[string]string{"CROWDFLOW_REDIS": url,
			"CROWDFLOW_REDIS_CA": certs.CA, "CROWDFLOW_REDIS_CERT": certs.ClientCert, "CROWDFLOW_REDIS_KEY": certs.ClientKey}, exitOK},
		"no client certificate": {[]string{"--redis", url, "--redis-ca", certs.CA, "cccccccccccccccc"}, nil, exitFailure},
		"ca on plain redis":     {[]string{"--redis", srv.URL(), "--redis-ca", certs.CA, "cccccccccccccccc"}, nil, exitUsage},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.env, append(revoke, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, stdout, stderr)
			}
		})
	}
	revoked, err := f.ledger(t, redisengine.Options{URL: url, CA: certs.CA, Cert: certs.ClientCert, Key: certs.ClientKey}).Revoked(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 2 {
		t.Errorf("revocation list in Redis %v, want the two tickets revoked over TLS", revoked)
	}
}
