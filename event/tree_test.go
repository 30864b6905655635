package event_test

import (
	"slices"
	"testing"

	"crowdflow/event"
)

// nested has zones three deep, listed children first, so the pre-order
// Parse returns differs from the file's order.
const nested = `
id: nested
name: {ar: معرض, fr: Salon, en: Fair}
time_zone: Africa/Casablanca
days: [{date: 2025-09-17, open: "10:00", close: "22:00"}]
zones:
  - {id: lounge, parent: hall, name: {ar: صالة, fr: Salon VIP, en: Lounge}, kind: seated, net_area: 50}
  - {id: stage, parent: site, name: {ar: منصة, fr: Scène, en: Stage}, kind: standing, net_area: 300}
  - {id: hall, parent: site, name: {ar: قاعة, fr: Hall, en: Hall}, kind: hall, net_area: 500}
  - {id: site, name: {ar: الموقع, fr: Site, en: Site}, kind: site, net_area: 1000}
  - {id: booth, parent: hall, name: {ar: جناح, fr: Stand, en: Booth}, kind: hall, net_area: 20}
`

func TestTree(t *testing.T) {
	e := MustParse(t, nested)
	if got, want := zoneIDs(e.Zones), []string{"site", "stage", "hall", "lounge", "booth"}; !slices.Equal(got, want) {
		t.Errorf("pre-order: got %v, want %v", got, want)
	}
	if got := e.Root(); got != e.Zone("site") || got.ParentZone() != nil || got.Parent != "" {
		t.Errorf("root: got %v", got)
	}

	tests := map[string]struct {
		parent    string
		children  []string
		ancestors []string
	}{
		"site":   {"", []string{"stage", "hall"}, nil},
		"hall":   {"site", []string{"lounge", "booth"}, []string{"site"}},
		"lounge": {"hall", nil, []string{"hall", "site"}},
		"stage":  {"site", nil, []string{"site"}},
	}
	for id, tc := range tests {
		t.Run(id, func(t *testing.T) {
			z := e.Zone(id)
			var parent string
			if p := z.ParentZone(); p != nil {
				parent = p.ID
			}
			if parent != tc.parent {
				t.Errorf("parent: got %q, want %q", parent, tc.parent)
			}
			if got := zoneIDs(z.Children()); !slices.Equal(got, tc.children) {
				t.Errorf("children: got %v, want %v", got, tc.children)
			}
			if got := zoneIDs(z.Ancestors()); !slices.Equal(got, tc.ancestors) {
				t.Errorf("ancestors: got %v, want %v", got, tc.ancestors)
			}
		})
	}

	// Every parent comes before its children.
	for i, z := range e.Zones {
		if p := z.ParentZone(); p != nil && slices.Index(e.Zones, p) > i {
			t.Errorf("zone %s comes before its parent %s", z.ID, p.ID)
		}
	}
}

func TestChildrenIsACopy(t *testing.T) {
	e := MustParse(t, nested)
	cs := e.Root().Children()
	cs[0] = nil
	if got := e.Root().Children()[0]; got == nil {
		t.Error("changing the slice Children returned changed the tree")
	}
}

func TestWithin(t *testing.T) {
	e := MustParse(t, nested)
	tests := map[string]struct {
		z, other string
		want     bool
	}{
		"itself":             {"hall", "hall", true},
		"child in parent":    {"hall", "site", true},
		"grandchild in root": {"lounge", "site", true},
		"parent in child":    {"site", "hall", false},
		"sibling":            {"stage", "hall", false},
		"nephew in uncle":    {"lounge", "stage", false},
		"sibling under hall": {"booth", "lounge", false},
		"grandchild in hall": {"booth", "hall", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := e.Zone(tc.z).Within(e.Zone(tc.other)); got != tc.want {
				t.Errorf("%s within %s: got %v, want %v", tc.z, tc.other, got, tc.want)
			}
		})
	}
}

func TestLookupsOfAbsentIDs(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	if z := e.Zone("hal"); z != nil {
		t.Errorf("Zone(hal): got %v, want nil", z)
	}
	if g := e.Gate("main-1"); g != nil { // ids are case-sensitive
		t.Errorf("Gate(main-1): got %v, want nil", g)
	}
	if tt := e.TicketType("vip"); tt != nil {
		t.Errorf("TicketType(vip): got %v, want nil", tt)
	}
	used := map[uint16]bool{}
	for _, z := range e.Zones {
		used[z.Hash] = true
	}
	for _, tt := range e.TicketTypes {
		used[tt.Hash] = true
	}
	var free uint16
	for used[free] {
		free++
	}
	if z := e.ZoneByHash(free); z != nil {
		t.Errorf("ZoneByHash(%04x): got %v, want nil", free, z)
	}
	if tt := e.TicketTypeByHash(free); tt != nil {
		t.Errorf("TicketTypeByHash(%04x): got %v, want nil", free, tt)
	}
}

func TestTextIn(t *testing.T) {
	full := event.Text{AR: "قاعة", FR: "Hall", EN: "Hall (en)"}
	tests := map[string]struct {
		text event.Text
		lang string
		want string
	}{
		"arabic":                 {full, "ar", "قاعة"},
		"french":                 {full, "fr", "Hall"},
		"english":                {full, "en", "Hall (en)"},
		"unknown language":       {full, "de", "Hall"},
		"missing arabic":         {event.Text{FR: "Hall", EN: "Hall (en)"}, "ar", "Hall"},
		"missing arabic, french": {event.Text{EN: "Hall (en)"}, "ar", "Hall (en)"},
		"missing english":        {event.Text{AR: "قاعة", FR: "Hall"}, "en", "Hall"},
		"nothing":                {event.Text{}, "fr", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.text.In(tc.lang); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
