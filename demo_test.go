package main

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

// TestDemoDays runs `crowdflow demo --days 2` with a small crowd on a fast
// clock: each day closes, the demo prints its figures and who was
// swept out (the visitors who left by a door without a scanner), and the
// second day starts empty.
func TestDemoDays(t *testing.T) {
	out := &lockedBuffer{}
	// The demo's clock waits for the crowd, so however slow the machine no
	// day closes before its crowd has gone through.
	_, stop := startServingTo(t, out, "demo", "--listen", "127.0.0.1:0", "--speed", "10000", "--config", ouarzazate,
		"--days", "2", "--scale", "0.05")
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "the simulated fair is over") {
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s the demo printed:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := stop(); code != exitOK {
		t.Errorf("demo exit %d, want 0", code)
	}
	text := out.String()
	for _, day := range []string{"2025-09-17", "2025-09-18"} {
		if !strings.Contains(text, "day "+day+" closed: ") {
			t.Errorf("no closing of %s in:\n%s", day, text)
		}
	}
	if n := strings.Count(text, "swept out at closing (left unscanned): Fair site "); n != 2 {
		t.Errorf("%d closings swept people from the site, want 2:\n%s", n, text)
	}
}

// lockedBuffer is a bytes.Buffer for one writer and one reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
