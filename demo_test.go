package main

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `crowdflow demo` (what make run runs) at the fastest clock
// and waits until the simulated crowd shows in the gateway's metrics, then
// stops it as Ctrl-C would.
func TestDemo(t *testing.T) {
	base, stop := startServing(t, "demo", "--listen", "127.0.0.1:0", "--speed", "10000", "--config", ouarzazate)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if n := metric(t, base, `crowdflow_zone_entries_total{zone="site"}`); n > 100 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after 60 s the site counts %v entries, want the simulated crowd (> 100)", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := stop(); code != exitOK {
		t.Errorf("demo exit %d, want 0", code)
	}
}

// metric reads one sample from base's /metrics, -1 when it is absent.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}
