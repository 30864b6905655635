package event_test

import (
	"testing"
)

// eventWithZone is a valid event whose site holds one more zone, given as
// the YAML fields after its id and parent.
func eventWithZone(fields string) string {
	return `
id: capacity
name: {ar: معرض, fr: Salon, en: Fair}
time_zone: Africa/Casablanca
days: [{date: 2025-09-17, open: "10:00", close: "22:00"}]
zones:
  - {id: site, name: {ar: الموقع, fr: Site, en: Site}, kind: site, authority: 100000}
  - {id: z, parent: site, name: {ar: منطقة, fr: Zone, en: Zone}, ` + fields + `}
`
}

func TestCapacity(t *testing.T) {
	type figures struct {
		LoadFactor, Density, Egress, Capacity int
		Basis                                 string
	}
	tests := map[string]struct {
		fields string
		want   figures
	}{
		"hall, the worked example of the research notes": {
			"kind: hall, net_area: 680, exit_width: 2.4",
			figures{485, 680, 1574, 485, "load_factor"},
		},
		"decimal figures divide exactly": {
			"kind: standing, net_area: 36.4", // in binary 36.4 ÷ 0.65 is 55.99…, but it is 56
			figures{56, 72, 0, 56, "load_factor"},
		},
		"decimal figures multiply exactly": {
			"kind: hall, net_area: 90, area_per_person: 1, design_density: 0.7", // 62.99… in binary
			figures{90, 63, 0, 63, "density"},
		},
		"density binds when the load factor is generous": {
			"kind: hall, net_area: 100, area_per_person: 0.5",
			figures{200, 100, 0, 100, "density"},
		},
		"egress binds with narrow exits": {
			"kind: standing, net_area: 1000, exit_width: 1",
			figures{1538, 2000, 656, 656, "egress"},
		},
		"authority wins over every figure": {
			"kind: hall, net_area: 680, exit_width: 2.4, authority: 300",
			figures{485, 680, 1574, 300, "authority"},
		},
		"authority wins even above the figures": {
			"kind: hall, net_area: 680, authority: 900",
			figures{485, 680, 0, 900, "authority"},
		},
		"authority alone, no area": {
			"kind: standing, authority: 250",
			figures{0, 0, 0, 250, "authority"},
		},
		"seated has no design density": {
			"kind: seated, net_area: 140, exit_width: 1.2",
			figures{100, 0, 787, 100, "load_factor"},
		},
		"an explicit density of 0 means not applicable": {
			"kind: hall, net_area: 100, design_density: 0",
			figures{71, 0, 0, 71, "load_factor"},
		},
		"an explicit design density": {
			"kind: standing, net_area: 100, area_per_person: 0.25, design_density: 3",
			figures{400, 300, 0, 300, "density"},
		},
		"a tie goes to the load factor": {
			"kind: hall, net_area: 100, area_per_person: 1",
			figures{100, 100, 0, 100, "load_factor"},
		},
		"site defaults to the hall figures": {
			"kind: site, net_area: 2270, exit_width: 10",
			figures{1621, 2270, 6560, 1621, "load_factor"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			z := MustParse(t, eventWithZone(tc.fields)).Zone("z")
			got := figures{z.ByLoadFactor, z.ByDensity, z.ByEgress, z.Capacity, z.Basis}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCapacityDefaults(t *testing.T) {
	tests := map[string]struct {
		kind               string
		perPerson, density float64
	}{
		"site":     {"site", 1.4, 1},
		"hall":     {"hall", 1.4, 1},
		"standing": {"standing", 0.65, 2},
		"seated":   {"seated", 1.4, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			z := MustParse(t, eventWithZone("kind: "+tc.kind+", net_area: 100")).Zone("z")
			if z.AreaPerPerson != tc.perPerson || z.DesignDensity != tc.density {
				t.Errorf("got %v m²/person and %v persons/m², want %v and %v",
					z.AreaPerPerson, z.DesignDensity, tc.perPerson, tc.density)
			}
		})
	}
}

func TestCapacityExplained(t *testing.T) {
	tests := map[string]struct {
		fields, want string
	}{
		"load factor": {
			"kind: hall, net_area: 680, exit_width: 2.4",
			"485 by load factor: 680 m² ÷ 1.4 m²/person; density 680, egress 1574",
		},
		"density": {
			"kind: hall, net_area: 100, area_per_person: 0.5",
			"100 by density: 100 m² × 1 persons/m²; load factor 200, egress n/a",
		},
		"egress": {
			"kind: standing, net_area: 1000, exit_width: 1",
			"656 by egress: 1 m × 82 persons/m/min × 8 min; load factor 1538, density 2000",
		},
		"authority": {
			"kind: seated, net_area: 140, authority: 90",
			"90 set by the authority; load factor 100, density n/a, egress n/a",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := MustParse(t, eventWithZone(tc.fields)).Zone("z").CapacityExplained()
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
