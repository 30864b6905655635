package event_test

import (
	"testing"
	"time"

	"crowdflow/event"
)

// ouarzazate is the real event file, the one the fair will run on.
const ouarzazate = "../configs/ouarzazate-2025.yaml"

// MustLoad loads an event file or fails the test.
func MustLoad(tb testing.TB, path string) *event.Event {
	tb.Helper()
	e, err := event.Load(path)
	if err != nil {
		tb.Fatalf("load %s: %v", path, err)
	}
	return e
}

// MustParse parses an event file given inline or fails the test.
func MustParse(tb testing.TB, yaml string) *event.Event {
	tb.Helper()
	e, err := event.Parse([]byte(yaml), tb.Name())
	if err != nil {
		tb.Fatalf("parse:\n%v", err)
	}
	return e
}

// MustLocation loads a time zone from the time zone database, so that no
// test writes an offset by hand: Morocco's changes with Ramadan.
func MustLocation(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("load location %s: %v", name, err)
	}
	return loc
}

// zoneIDs lists the ids of zones, in order.
func zoneIDs(zs []*event.Zone) []string {
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i] = z.ID
	}
	return ids
}
