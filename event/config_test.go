package event_test

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"crowdflow/event"
)

// The figures of the Ouarzazate file, computed by hand from its areas and
// exit widths: load factor = floor(net ÷ m²/person), density =
// floor(net × persons/m²), egress = floor(width × 82 × 8).
func TestOuarzazateZones(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	tests := map[string]struct {
		parent, kind          string
		net                   float64
		lf, dens, egress, cap int
		basis                 string
	}{
		"site":         {"", "site", 2270, 1621, 2270, 6560, 1621, "load_factor"},     // 2270/1.4 = 1621.4; 10 m × 656
		"hall-crafts":  {"site", "hall", 680, 485, 680, 1574, 485, "load_factor"},     // 680/1.4 = 485.7; 2.4 × 656 = 1574.4
		"hall-terroir": {"site", "hall", 580, 414, 580, 1574, 414, "load_factor"},     // 580/1.4 = 414.3
		"pavilion":     {"site", "hall", 270, 192, 270, 1180, 192, "load_factor"},     // 270/1.4 = 192.9; 1.8 × 656 = 1180.8
		"workshops":    {"site", "seated", 140, 100, 0, 787, 100, "load_factor"},      // 140/1.4 = 100; 1.2 × 656 = 787.2
		"stage":        {"site", "standing", 420, 646, 840, 3280, 646, "load_factor"}, // 420/0.65 = 646.2; 420 × 2
	}
	if got, want := len(e.Zones), len(tests); got != want {
		t.Fatalf("zones: got %d, want %d", got, want)
	}
	for id, tc := range tests {
		t.Run(id, func(t *testing.T) {
			z := e.Zone(id)
			if z == nil {
				t.Fatalf("zone %q missing", id)
			}
			type figures struct {
				Parent, Kind                                string
				Net                                         float64
				ByLoadFactor, ByDensity, ByEgress, Capacity int
				Basis                                       string
			}
			got := figures{z.Parent, z.Kind, z.NetArea, z.ByLoadFactor, z.ByDensity, z.ByEgress, z.Capacity, z.Basis}
			want := figures{tc.parent, tc.kind, tc.net, tc.lf, tc.dens, tc.egress, tc.cap, tc.basis}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}

	// The site holds every zone, so it has at least their area.
	var children float64
	for _, c := range e.Root().Children() {
		children += c.NetArea
	}
	if root := e.Root(); children > root.NetArea {
		t.Errorf("children's net area %v exceeds the site's %v", children, root.NetArea)
	}
	got := e.Zone("hall-crafts").CapacityExplained()
	want := "485 by load factor: 680 m² ÷ 1.4 m²/person; density 680, egress 1574"
	if got != want {
		t.Errorf("hall-crafts explained: got %q, want %q", got, want)
	}
}

func TestOuarzazateDays(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	loc := MustLocation(t, "Africa/Casablanca")
	if got, want := e.Location.String(), loc.String(); got != want {
		t.Errorf("location: got %s, want %s", got, want)
	}
	var got []event.Day
	got = append(got, e.Days...)
	var want []event.Day
	for d := 17; d <= 22; d++ {
		closeAt := time.Date(2025, 9, d, 22, 0, 0, 0, loc)
		if d == 22 { // the closing evening runs to midnight
			closeAt = time.Date(2025, 9, 23, 0, 0, 0, 0, loc)
		}
		want = append(want, event.Day{
			Date:   time.Date(2025, 9, d, 0, 0, 0, 0, loc).Format("2006-01-02"),
			Open:   time.Date(2025, 9, d, 10, 0, 0, 0, loc),
			Close:  closeAt,
			Closes: closeAt.Add(30 * time.Minute), // close_grace
		})
	}
	if len(got) != len(want) {
		t.Fatalf("days: got %d, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Date != want[i].Date || !got[i].Open.Equal(want[i].Open) || !got[i].Close.Equal(want[i].Close) ||
			!got[i].Closes.Equal(want[i].Closes) {
			t.Errorf("day %d: got %s %s–%s closes %s, want %s %s–%s closes %s", i, got[i].Date, got[i].Open,
				got[i].Close, got[i].Closes, want[i].Date, want[i].Open, want[i].Close, want[i].Closes)
		}
	}
}

func TestOuarzazateGatesAndTypes(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	gates := map[string]struct {
		zone  string
		lanes int
	}{
		"MAIN-1":       {"site", 4},
		"EXIT-1":       {"site", 2},
		"HALL-CRAFTS":  {"hall-crafts", 2},
		"HALL-TERROIR": {"hall-terroir", 2},
		"PAVILION":     {"pavilion", 1},
		"WORKSHOPS":    {"workshops", 1},
		"STAGE":        {"stage", 2},
	}
	if got, want := len(e.Gates), len(gates); got != want {
		t.Errorf("gates: got %d, want %d", got, want)
	}
	for id, want := range gates {
		g := e.Gate(id)
		if g == nil {
			t.Errorf("gate %s missing", id)
			continue
		}
		if g.Zone != want.zone || g.Lanes != want.lanes {
			t.Errorf("gate %s: got zone %s lanes %d, want %s %d", id, g.Zone, g.Lanes, want.zone, want.lanes)
		}
	}
	// Every zone can be counted: it has a gate into it.
	for _, z := range e.Zones {
		if !slices.ContainsFunc(e.Gates, func(g *event.Gate) bool { return g.Zone == z.ID }) {
			t.Errorf("zone %s has no gate", z.ID)
		}
	}

	public := []string{"hall-crafts", "hall-terroir", "pavilion", "stage"}
	types := map[string]struct {
		zones   []string
		reentry bool
	}{
		"visitor":   {public, true},
		"exhibitor": {nil, true},
		"staff":     {nil, true},
		"press":     {public, true},
		"guest":     {public, true},
		"workshop":  {[]string{"workshops"}, true},
	}
	if got, want := len(e.TicketTypes), len(types); got != want {
		t.Errorf("ticket types: got %d, want %d", got, want)
	}
	for id, want := range types {
		tt := e.TicketType(id)
		if tt == nil {
			t.Errorf("ticket type %s missing", id)
			continue
		}
		if !slices.Equal(tt.Zones, want.zones) || tt.Reentry != want.reentry || len(tt.Days) != 0 {
			t.Errorf("ticket type %s: got zones %v days %v reentry %v, want zones %v every day reentry %v",
				id, tt.Zones, tt.Days, tt.Reentry, want.zones, want.reentry)
		}
	}
}

// The hashes must be those of the ticket format: SHA-256 of the id, the
// first 4 bytes for the event and the first 2 (big-endian) for names.
func TestOuarzazateHashes(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	sum := sha256.Sum256([]byte("ouarzazate-2025"))
	if got, want := e.Hash(), [4]byte(sum[:4]); got != want {
		t.Errorf("event hash: got %x, want %x", got, want)
	}
	nameHash := func(s string) uint16 {
		sum := sha256.Sum256([]byte(s))
		return binary.BigEndian.Uint16(sum[:2])
	}
	for _, z := range e.Zones {
		if got, want := z.Hash, nameHash(z.ID); got != want {
			t.Errorf("zone %s hash: got %04x, want %04x", z.ID, got, want)
		}
		if got := e.ZoneByHash(z.Hash); got != z {
			t.Errorf("ZoneByHash(%04x): got %v, want zone %s", z.Hash, got, z.ID)
		}
	}
	for _, tt := range e.TicketTypes {
		if got, want := tt.Hash, nameHash(tt.ID); got != want {
			t.Errorf("type %s hash: got %04x, want %04x", tt.ID, got, want)
		}
		if got := e.TicketTypeByHash(tt.Hash); got != tt {
			t.Errorf("TicketTypeByHash(%04x): got %v, want type %s", tt.Hash, got, tt.ID)
		}
	}
}
