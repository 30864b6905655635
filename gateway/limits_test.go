package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/gateway"
	"crowdflow/token"
)

// dialStatus opens /ws/scan with tok and returns the handshake's status
// (101 when it succeeded) and the error code of a refusal; an open
// connection is closed when tb ends.
func (e *Env) dialStatus(tb testing.TB, tok string) (*websocket.Conn, int, string) {
	tb.Helper()
	ws, resp, err := e.Dial(tok, nil)
	if err == nil {
		tb.Cleanup(func() { _ = ws.Close() })
		return ws, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		tb.Fatalf("dial /ws/scan: %v", err)
	}
	var body ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return nil, resp.StatusCode, body.Error.Code
}

// TestScannerConnectionCaps: one token, and one address, may hold only so
// many /ws/scan connections; past the cap the handshake gets HTTP 429 with
// a JSON error, and a closed connection frees its place.
func TestScannerConnectionCaps(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded", Tune: func(cfg *gateway.Config) {
		cfg.MaxScannersPerToken = 3
		cfg.MaxScannersPerAddress = 5
	}})
	shared := env.MustToken(t, token.Scanner)
	var first *websocket.Conn
	for i := range 3 {
		ws, status, _ := env.dialStatus(t, shared)
		if status != http.StatusSwitchingProtocols {
			t.Fatalf("connection %d of the token: HTTP %d", i+1, status)
		}
		if first == nil {
			first = ws
		}
	}
	if _, status, code := env.dialStatus(t, shared); status != http.StatusTooManyRequests || code != "too_many_connections" {
		t.Fatalf("a 4th connection of the token: HTTP %d %q, want 429 too_many_connections", status, code)
	}
	// Another token from the same address still may, up to the address's cap.
	other := env.MustTokenUntil(t, token.Scanner, env.Wall.Now().Add(48*time.Hour))
	for i := range 2 {
		if _, status, _ := env.dialStatus(t, other); status != http.StatusSwitchingProtocols {
			t.Fatalf("connection %d of another token: HTTP %d", i+1, status)
		}
	}
	third := env.MustTokenUntil(t, token.Scanner, env.Wall.Now().Add(72*time.Hour))
	if _, status, code := env.dialStatus(t, third); status != http.StatusTooManyRequests || code != "too_many_connections" {
		t.Fatalf("a 6th connection from the address: HTTP %d %q, want 429 too_many_connections", status, code)
	}
	// A connection that ends gives its place back.
	_ = first.Close()
	Eventually(t, "the closed connection's place to be free", func() bool {
		ws, status, _ := env.dialStatus(t, shared)
		if ws != nil {
			_ = ws.Close()
		}
		return status == http.StatusSwitchingProtocols
	})
}

// TestScannerConnectionsDefault: with the defaults a gate team shares one
// token over at least 32 devices (CONTRACT §3), and not over hundreds.
func TestScannerConnectionsDefault(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	shared := env.MustToken(t, token.Scanner)
	n := 0
	for {
		_, status, code := env.dialStatus(t, shared)
		if status != http.StatusSwitchingProtocols {
			if status != http.StatusTooManyRequests || code != "too_many_connections" {
				t.Fatalf("connection %d: HTTP %d %q, want 101 or 429 too_many_connections", n+1, status, code)
			}
			break
		}
		if n++; n > 200 {
			t.Fatal("200 connections of one token were all accepted")
		}
	}
	if n < 32 {
		t.Errorf("one token got %d connections, want at least 32", n)
	}
}
