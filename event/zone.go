package event

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The zone kinds. The kind picks the defaults of a zone's load factor and
// design density; a zone may set either explicitly.
const (
	KindSite     = "site"
	KindHall     = "hall"
	KindStanding = "standing"
	KindSeated   = "seated"
)

// The bases of a capacity: which figure set Zone.Capacity.
const (
	BasisAuthority  = "authority"
	BasisLoadFactor = "load_factor"
	BasisDensity    = "density"
	BasisEgress     = "egress"
)

// Egress capacity follows the Green Guide (Guide to Safety at Sports Grounds,
// 6th edition): a level exit passes 82 persons per metre of width per minute,
// and a medium-risk venue must empty in 8 minutes. A fair with stands and a
// crowded stage is medium risk; an open-air area could use 109 persons/m/min,
// but one figure for all is the safer choice.
const (
	EgressRate    = 82 // persons per metre of usable exit width per minute
	EgressMinutes = 8  // evacuation time, minutes
)

// kindDefaults are the load factor (m² per person) and design density
// (persons per m², 0 = not applicable) of each kind, after DESIGN.md
// "Capacity and safety":
//   - hall: 1.4 m²/person, the NFPA 101 figure for assembly with tables,
//     applied to exhibition halls with stands; 1 person/m² (Fruin level D).
//   - standing: 0.65 m²/person (NFPA 101, standing or chairs); 2 persons/m²,
//     the UK planning figure for open-air standing crowds.
//   - seated: 1.4 m²/person, because the workshops seat people at tables;
//     no design density, since a seated room is limited by its seats, which
//     the load factor already counts.
//   - site: the hall figures, because a fair site is mostly stands and
//     aisles; the site counts everyone inside it, stage included, so the
//     stricter figure is the safe one. An open-air site sets its own.
var kindDefaults = map[string]struct{ areaPerPerson, density float64 }{
	KindSite:     {1.4, 1},
	KindHall:     {1.4, 1},
	KindStanding: {0.65, 2},
	KindSeated:   {1.4, 0},
}

// floorSlack absorbs the binary rounding of decimal figures before a
// capacity is rounded down: 36.4 m² ÷ 0.65 m²/person is 56 people, though
// float64 makes it 55.999….
const floorSlack = 1e-9

// Zone is an area whose occupancy is counted and limited. Zones form a tree:
// the root is the site, and a person in a zone is also in every zone that
// holds it.
//
// Capacity is Authority when the authority gave a figure, else the smallest
// known of ByLoadFactor (NetArea ÷ AreaPerPerson), ByDensity
// (NetArea × DesignDensity) and ByEgress (ExitWidth × EgressRate ×
// EgressMinutes), each rounded down. Basis says which one set it; ties go to
// the first in that order.
type Zone struct {
	// ID names the zone in tickets, Redis keys, metrics and reports.
	ID string
	// Parent is the id of the zone that holds this one; "" for the root only.
	Parent string
	// Name is the zone's public name.
	Name Text
	// Kind is "site", "hall", "standing" or "seated".
	Kind string
	// NetArea is the floor area open to visitors, in m²: the gross area less
	// stands, stage, and obstructions.
	NetArea float64
	// AreaPerPerson is the load factor, m² per person. Defaults by kind:
	// hall, seated and site 1.4, standing 0.65.
	AreaPerPerson float64
	// DesignDensity is the density to plan for, persons per m². Defaults by
	// kind: hall and site 1, standing 2, seated none (0).
	DesignDensity float64
	// ExitWidth is the usable exit width in metres, the largest exit already
	// left out in case it is blocked; 0 means unknown, which sets no limit.
	ExitWidth float64
	// Authority is the capacity the authority (Protection Civile) set; when
	// above 0 it wins over every computed figure.
	Authority int
	// Capacity is the hard limit on the zone's occupancy.
	Capacity int
	// Basis is the figure that set Capacity: BasisAuthority,
	// BasisLoadFactor, BasisDensity or BasisEgress.
	Basis string
	// ByLoadFactor, ByDensity and ByEgress are the computed figures, shown
	// beside the capacity so organisers can see why; 0 = not applicable.
	ByLoadFactor, ByDensity, ByEgress int
	// Hash is how tickets name the zone (see ticket.NameHash).
	Hash uint16

	parent   *Zone
	children []*Zone
}

// ParentZone returns the zone that holds z, or nil for the root.
func (z *Zone) ParentZone() *Zone { return z.parent }

// Children returns the zones directly inside z, in file order.
func (z *Zone) Children() []*Zone {
	return append([]*Zone(nil), z.children...)
}

// Ancestors returns the zones that hold z, its parent first and the root
// last; none for the root. An entry into z counts against each of them.
func (z *Zone) Ancestors() []*Zone {
	var as []*Zone
	for p := z.parent; p != nil; p = p.parent {
		as = append(as, p)
	}
	return as
}

// Within reports whether z is other or lies inside it.
func (z *Zone) Within(other *Zone) bool {
	for p := z; p != nil; p = p.parent {
		if p == other {
			return true
		}
	}
	return false
}

// computeCapacity fills the By* figures, Capacity and Basis from the inputs.
// It leaves Capacity 0 when no figure is known; validation reports that.
func (z *Zone) computeCapacity() {
	z.ByLoadFactor, z.ByDensity, z.ByEgress = 0, 0, 0
	if z.NetArea > 0 && z.AreaPerPerson > 0 {
		z.ByLoadFactor = floorInt(z.NetArea / z.AreaPerPerson)
	}
	if z.NetArea > 0 && z.DesignDensity > 0 {
		z.ByDensity = floorInt(z.NetArea * z.DesignDensity)
	}
	if z.ExitWidth > 0 {
		z.ByEgress = floorInt(z.ExitWidth * EgressRate * EgressMinutes)
	}
	z.Capacity, z.Basis = 0, ""
	if z.Authority > 0 {
		z.Capacity, z.Basis = z.Authority, BasisAuthority
		return
	}
	// A figure that rounds down to 0 is still a limit (a room too small for
	// anyone), so "known" means "its inputs were given", not "above 0".
	figures := []struct {
		known bool
		n     int
		basis string
	}{
		{z.NetArea > 0 && z.AreaPerPerson > 0, z.ByLoadFactor, BasisLoadFactor},
		{z.NetArea > 0 && z.DesignDensity > 0, z.ByDensity, BasisDensity},
		{z.ExitWidth > 0, z.ByEgress, BasisEgress},
	}
	for _, f := range figures {
		if f.known && (z.Basis == "" || f.n < z.Capacity) {
			z.Capacity, z.Basis = f.n, f.basis
		}
	}
}

// maxFigure keeps computed capacities well inside int range whatever the
// file says; validation refuses inputs that would get near it.
const maxFigure = 1 << 40

func floorInt(x float64) int {
	x = math.Floor(x + floorSlack)
	if x > maxFigure || math.IsNaN(x) {
		return maxFigure
	}
	return int(x)
}

// CapacityExplained says in one line how the capacity was set, for
// operators and the config printout, e.g.
// "485 by load factor: 680 m² ÷ 1.4 m²/person; density 680, egress 1574".
func (z *Zone) CapacityExplained() string {
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	others := func(skip string) string {
		var parts []string
		for _, f := range []struct {
			basis, label string
			n            int
		}{
			{BasisLoadFactor, "load factor", z.ByLoadFactor},
			{BasisDensity, "density", z.ByDensity},
			{BasisEgress, "egress", z.ByEgress},
		} {
			if f.basis == skip {
				continue
			}
			if f.n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", f.label, f.n))
			} else {
				parts = append(parts, f.label+" n/a")
			}
		}
		return strings.Join(parts, ", ")
	}
	switch z.Basis {
	case BasisAuthority:
		return fmt.Sprintf("%d set by the authority; %s", z.Capacity, others(""))
	case BasisLoadFactor:
		return fmt.Sprintf("%d by load factor: %s m² ÷ %s m²/person; %s",
			z.Capacity, num(z.NetArea), num(z.AreaPerPerson), others(z.Basis))
	case BasisDensity:
		return fmt.Sprintf("%d by density: %s m² × %s persons/m²; %s",
			z.Capacity, num(z.NetArea), num(z.DesignDensity), others(z.Basis))
	case BasisEgress:
		return fmt.Sprintf("%d by egress: %s m × %d persons/m/min × %d min; %s",
			z.Capacity, num(z.ExitWidth), EgressRate, EgressMinutes, others(z.Basis))
	}
	return "no capacity: no area, exit width or authority figure"
}

// Gate is a scanning point. It joins its zone to the zone's parent (the root
// to outside): a scan "in" moves a ticket into Zone, "out" moves it to the
// parent.
type Gate struct {
	// ID names the gate in the scanner's hello, tokens and metrics.
	ID string
	// Name is the gate's public name, shown on the scanner screen.
	Name Text
	// Zone is the id of the zone the gate leads into.
	Zone string
	// Lanes is how many scanning lanes the gate has, at least 1; it sizes
	// the expected throughput and the silent-gate alerts.
	Lanes int
}
