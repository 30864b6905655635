package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, as an operator
// would make one for the venue's LAN, and returns their paths and the pool
// that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crowdflow test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"gate.fair.example"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestGatewayTLS runs `crowdflow gateway` on the embedded store with a
// certificate, reads the URL it prints, checks it answers over https, and
// that it stops cleanly (exit 0) when its context ends, as on SIGTERM.
func TestGatewayTLS(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := runCLI(t, nil, "keys", "--data", data); code != exitOK {
		t.Fatalf("keys: %s", stderr)
	}
	certFile, keyFile, pool := selfSigned(t)
	base, stop := startServing(t, "gateway", "--config", ouarzazate, "--data", data, "--listen", "127.0.0.1:0",
		"--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "warn")
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("gateway printed %q, want an https URL", base)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz over https: %s", resp.Status)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Errorf("HSTS over https: %q, want max-age=...", h)
	}
	// The certificate's names are served without --host; others are not.
	for host, want := range map[string]int{"gate.fair.example": http.StatusOK, "evil.example": http.StatusMisdirectedRequest} {
		req, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s over https: %s, want %d", host, resp.Status, want)
		}
	}
	if code := stop(); code != exitOK {
		t.Errorf("gateway exit %d after its context ended, want 0", code)
	}

	if code, _, _ := runCLI(t, nil, "gateway", "--config", ouarzazate, "--data", data, "--tls-cert", certFile); code != exitUsage {
		t.Errorf("--tls-cert without --tls-key: exit %d, want %d", code, exitUsage)
	}
}

// startServing runs a serving subcommand (gateway, demo) in the background
// until the test ends or stop is called, and returns the URL it printed.
// stop ends its context, as SIGTERM does, and returns its exit status.
func startServing(t *testing.T, args ...string) (base string, stop func() int) {
	t.Helper()
	return startServingTo(t, io.Discard, args...)
}

// startServingTo is startServing, with what the subcommand prints after
// its URL copied to out.
func startServingTo(t *testing.T, out io.Writer, args ...string) (base string, stop func() int) {
	t.Helper()
	return startServingWith(t, out, io.Discard, args...)
}

// startServingWith is startServingTo with the subcommand's stderr (its
// log) going to stderr, which must be safe for concurrent use.
func startServingWith(t *testing.T, out, stderr io.Writer, args ...string) (base string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), outW, stderr)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "gateway listening on "); ok {
			base = u
			break
		}
	}
	go func() { _, _ = io.Copy(out, outR) }()
	stopped, code := false, 0
	stop = func() int {
		if stopped {
			return code
		}
		stopped = true
		cancel()
		select {
		case code = <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not stop within 20 s of its context ending", args[0])
		}
		return code
	}
	t.Cleanup(func() { stop() })
	if base == "" {
		t.Fatalf("%s printed no URL (exit %d)", args[0], stop())
	}
	return base, stop
}

// TestGatewayMetricsListenAndHosts: with --metrics-listen the metrics are
// on their own address and not on the main one; CROWDFLOW_HOST names the
// host names served besides addresses and localhost.
func TestGatewayMetricsListenAndHosts(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := runCLI(t, nil, "keys", "--data", data); code != exitOK {
		t.Fatalf("keys: %s", stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	env := map[string]string{"CROWDFLOW_HOST": "gate.fair.example,board.fair.example"}
	go func() {
		done <- run(ctx, []string{"gateway", "--config", ouarzazate, "--data", data, "--listen", "127.0.0.1:0",
			"--metrics-listen", "127.0.0.1:0", "--log-level", "warn"}, func(k string) string { return env[k] },
			strings.NewReader(""), outW, io.Discard)
		outW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("gateway exit %d, want 0", code)
		}
	})
	var base, metrics string
	lines := bufio.NewScanner(outR)
	for (base == "" || metrics == "") && lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "gateway listening on "); ok {
			base = u
		}
		if u, ok := strings.CutPrefix(lines.Text(), "metrics: "); ok {
			metrics = u
		}
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	if base == "" || metrics == "" || strings.HasPrefix(metrics, base) {
		t.Fatalf("gateway printed %q and metrics %q: want two addresses", base, metrics)
	}
	get := func(u, host string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := map[string]struct {
		url, host string
		want      int
	}{
		"metrics on their address":       {metrics, "", http.StatusOK},
		"no metrics on the main address": {base + "/metrics", "", http.StatusNotFound},
		"a configured name":              {base + "/healthz", "board.fair.example", http.StatusOK},
		"localhost":                      {base + "/healthz", "localhost", http.StatusOK},
		"another name":                   {base + "/healthz", "evil.example", http.StatusMisdirectedRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := get(tc.url, tc.host); got != tc.want {
				t.Errorf("GET %s (Host %q): %d, want %d", tc.url, tc.host, got, tc.want)
			}
		})
	}
}
