package simulate

import (
	"maps"
	"slices"
	"time"

	"crowdflow/event"
)

// DayFigures is the ground truth of a day's attendance report (CONTRACT §7):
// what a correct ledger's report counters give once every action of the
// day is applied, derived here from the model of the rules, not from the
// ledger.
type DayFigures struct {
	// Date is the day, YYYY-MM-DD.
	Date string
	// Zones are each zone's figures over the day.
	Zones map[string]*ZoneDay
	// Hours are each clock hour's figures ("HH" in the event's time zone)
	// per zone; an hour in which nothing changed a zone has none for it.
	Hours map[string]map[string]*HourFigures
	// Gates are each gate's scans; a gate nobody used is absent.
	Gates map[string]*GateDay
}

// ZoneDay is one zone's figures over a day.
type ZoneDay struct {
	Truth
	// UniqueVisitors counts the tickets that entered the zone that day.
	UniqueVisitors int
	// Peak is the highest occupancy and when it was first reached.
	Peak Peak
	// Stays are the completed stays in the zone, in whole minutes (the
	// floor of exit time less entry time), sorted: stays ended by the
	// closing sweep are not among them.
	Stays []int
	// Swept counts tickets still inside at closing, SweptTally the people
	// tally balances held then.
	Swept, SweptTally int
}

// DwellPercentile is the nearest-rank p-th percentile of the stays: the
// value at rank ceil(p/100 × n) of the sorted stays. ok is false without
// stays.
func (z *ZoneDay) DwellPercentile(p int) (minutes int, ok bool) {
	n := len(z.Stays)
	if n == 0 {
		return 0, false
	}
	rank := (p*n + 99) / 100
	return z.Stays[max(rank, 1)-1], true
}

// HourFigures are one zone's figures in one clock hour.
type HourFigures struct {
	Entries, Exits, TallyIn, TallyOut int
	// Occupancy after the hour's last change.
	Occupancy int
}

// GateDay is one gate's figures over a day.
type GateDay struct {
	// Scans counts every scan and tally decided at the gate, refusals
	// included.
	Scans int
	// Minutes counts them per minute, "HHMM" in the event's time zone.
	Minutes map[string]int
	// Offline counts the uploads of scans decided offline, Overrides those
	// flagged offline_override.
	Offline, Overrides int
}

// Busiest is the minute with the most scans, the earliest of equals, and
// how many.
func (g *GateDay) Busiest() (minute string, scans int) {
	for _, m := range slices.Sorted(maps.Keys(g.Minutes)) {
		if g.Minutes[m] > scans {
			minute, scans = m, g.Minutes[m]
		}
	}
	return minute, scans
}

// Figures is the ground truth of the day's report: every action replayed
// with the verdict the plan wants.
func (p *Plan) Figures() DayFigures {
	m := newModel(p.ev)
	f := newFigures(p.ev, p.Day.Date)
	for _, a := range p.Actions {
		f.apply(m, a.At, a.Gate, func() { p.replay(m, a) })
	}
	f.finish(m)
	return f
}

func newFigures(ev *event.Event, date string) DayFigures {
	f := DayFigures{Date: date, Zones: map[string]*ZoneDay{}, Hours: map[string]map[string]*HourFigures{},
		Gates: map[string]*GateDay{}}
	for _, z := range ev.Zones {
		f.Zones[z.ID] = &ZoneDay{}
	}
	return f
}

// apply runs one action's effect on m (do) and records what it changed:
// per hour the zones' crossings and occupancy, and the gate's scan.
func (f *DayFigures) apply(m *model, at time.Time, gate string, do func()) {
	before := m.truth()
	do()
	after := m.truth()
	local := at.In(m.ev.Location)
	hh := local.Format("15")
	for id, a := range after {
		b := before[id]
		if a.Occupancy == b.Occupancy && a.Entries == b.Entries && a.Exits == b.Exits &&
			a.TallyIn == b.TallyIn && a.TallyOut == b.TallyOut {
			continue
		}
		hours := f.Hours[hh]
		if hours == nil {
			hours = map[string]*HourFigures{}
			f.Hours[hh] = hours
		}
		h := hours[id]
		if h == nil {
			h = &HourFigures{}
			hours[id] = h
		}
		h.Entries += a.Entries - b.Entries
		h.Exits += a.Exits - b.Exits
		h.TallyIn += a.TallyIn - b.TallyIn
		h.TallyOut += a.TallyOut - b.TallyOut
		h.Occupancy = a.Occupancy
	}
	if gate != "" {
		g := f.Gates[gate]
		if g == nil {
			g = &GateDay{Minutes: map[string]int{}}
			f.Gates[gate] = g
		}
		g.Scans++
		g.Minutes[local.Format("1504")]++
	}
}

// finish copies the day's totals from m.
func (f *DayFigures) finish(m *model) {
	for id, t := range m.truth() {
		z := f.Zones[id]
		z.Truth = t
		z.Peak = m.peaks[id]
		z.Stays = slices.Sorted(slices.Values(m.stays[id]))
	}
	for key := range m.seen {
		for i := 0; i < len(key); i++ {
			if key[i] == '|' {
				if z := f.Zones[key[:i]]; z != nil {
					z.UniqueVisitors++
				}
				break
			}
		}
	}
}
