package event_test

import (
	"os"
	"path/filepath"
	"testing"

	"crowdflow/event"
)

// FuzzParse feeds Parse arbitrary files. It must never panic, must say why
// it refuses a file, and must only accept events that keep the package's
// promises: a tree in pre-order, positive capacities, references that
// resolve, days in order that never overlap.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range append(seeds, ouarzazate) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := event.Parse(data, "fuzz.yaml")
		if err != nil {
			if e != nil {
				t.Fatal("an event and an error")
			}
			fes := event.FieldErrors(err)
			if len(fes) == 0 {
				t.Fatalf("an error with no field errors: %v", err)
			}
			if j, ok := err.(interface{ Unwrap() []error }); !ok || len(j.Unwrap()) != len(fes) {
				t.Fatalf("an error that is not only field errors: %v", err)
			}
			for _, fe := range fes {
				if fe.File != "fuzz.yaml" || fe.Msg == "" {
					t.Fatalf("a field error without file or message: %+v", fe)
				}
			}
			_, again := event.Parse(data, "fuzz.yaml")
			if again == nil || again.Error() != err.Error() {
				t.Fatalf("two parses disagree:\n%v\n---\n%v", err, again)
			}
			return
		}
		checkInvariants(t, e)
	})
}

func checkInvariants(t *testing.T, e *event.Event) {
	t.Helper()
	if len(e.Zones) == 0 || e.Root() != e.Zones[0] || e.Root().Parent != "" || e.Root().ParentZone() != nil {
		t.Fatal("the first zone is not a root")
	}
	seen := map[*event.Zone]bool{}
	for _, z := range e.Zones {
		if p := z.ParentZone(); p != nil && !seen[p] {
			t.Fatalf("zone %s comes before its parent", z.ID)
		}
		if z != e.Root() && z.ParentZone() == nil {
			t.Fatalf("zone %s is a second root", z.ID)
		}
		if z.Capacity <= 0 || z.Basis == "" {
			t.Fatalf("zone %s: capacity %d basis %q", z.ID, z.Capacity, z.Basis)
		}
		if e.Zone(z.ID) != z || e.ZoneByHash(z.Hash) != z || !z.Within(e.Root()) {
			t.Fatalf("zone %s does not resolve", z.ID)
		}
		seen[z] = true
	}
	for _, g := range e.Gates {
		if e.Zone(g.Zone) == nil || g.Lanes < 1 || e.Gate(g.ID) != g {
			t.Fatalf("gate %+v", g)
		}
	}
	for _, tt := range e.TicketTypes {
		if e.TicketType(tt.ID) != tt || e.TicketTypeByHash(tt.Hash) != tt {
			t.Fatalf("ticket type %s does not resolve", tt.ID)
		}
		for _, z := range tt.Zones {
			if e.Zone(z) == nil {
				t.Fatalf("ticket type %s: unknown zone %s", tt.ID, z)
			}
		}
	}
	if len(e.Days) == 0 {
		t.Fatal("no days")
	}
	for i, d := range e.Days {
		if !d.Close.After(d.Open) {
			t.Fatalf("day %s closes before it opens", d.Date)
		}
		if got, ok := e.DayOf(d.Open); !ok || got.Date != d.Date {
			t.Fatalf("DayOf(open of %s) = %s %v", d.Date, got.Date, ok)
		}
		if i > 0 && d.Open.Before(e.Days[i-1].Close) {
			t.Fatalf("day %s overlaps the day before", d.Date)
		}
	}
}
