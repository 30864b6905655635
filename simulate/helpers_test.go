package simulate_test

import (
	"crypto/ed25519"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"crowdflow/event"
	"crowdflow/simulate"
)

const ouarzazate = "../configs/ouarzazate-2025.yaml"

// MustEvent loads the Ouarzazate event.
func MustEvent(tb testing.TB) *event.Event {
	tb.Helper()
	ev, err := event.Load(ouarzazate)
	if err != nil {
		tb.Fatalf("load event: %v", err)
	}
	return ev
}

// MustKey is a fixed event key, so that plans are the same from run to run.
func MustKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "crowdflow simulate test key.....")
	return ed25519.NewKeyFromSeed(seed)
}

// MustPlan plans cfg on ev with MustKey.
func MustPlan(tb testing.TB, ev *event.Event, cfg simulate.Config) *simulate.Plan {
	tb.Helper()
	p, err := simulate.NewPlan(ev, MustKey(tb), cfg)
	if err != nil {
		tb.Fatalf("plan: %v", err)
	}
	return p
}

type ed25519PublicKey = ed25519.PublicKey

func slicesSortTimes(ts []time.Time) { slices.SortFunc(ts, time.Time.Compare) }

// MustSmallVenue is the Ouarzazate event with every zone's capacity set to
// about an eighth by an authority figure: a small venue, where a test day
// of a few thousand actions still fills the zones.
func MustSmallVenue(tb testing.TB) *event.Event {
	tb.Helper()
	data, err := os.ReadFile(ouarzazate)
	if err != nil {
		tb.Fatalf("read event: %v", err)
	}
	text := string(data)
	// Each zone's net area is a unique line: the authority goes after it.
	for area, capacity := range map[string]int{"2270": 200, "680": 60, "580": 50, "270": 24, "140": 12, "420": 80} {
		line := "    net_area: " + area + "\n"
		if strings.Count(text, line) != 1 {
			tb.Fatalf("event file: want one line %q", line)
		}
		text = strings.Replace(text, line, line+"    authority: "+strconv.Itoa(capacity)+"\n", 1)
	}
	ev, err := event.Parse([]byte(text), "small-venue.yaml")
	if err != nil {
		tb.Fatalf("parse small venue: %v", err)
	}
	return ev
}
