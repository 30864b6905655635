package simulate

import (
	"crypto/ed25519"
	"maps"
	"slices"
	"strings"
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
	// per zone; an hour in which nothing changed a zone has none for it,
	// but for the hour of the closing, which ends with every zone empty.
	Hours map[string]map[string]*HourFigures
	// Gates are each gate's scans; a gate nobody used is absent.
	Gates map[string]*GateDay

	seen map[string]bool // "<zone>|<ticket>": the day's visitors
}

// ZoneDay is one zone's figures over a day.
type ZoneDay struct {
	// Truth holds the day's counts; its Occupancy is the one before the
	// closing sweep.
	Truth
	// UniqueVisitors counts the tickets that entered the zone that day.
	UniqueVisitors int
	// Peak is the highest occupancy and when it was first reached.
	Peak Peak
	// Stays are the completed stays in the zone, in whole minutes (the
	// floor of exit time less entry time), sorted: stays ended by the
	// closing sweep are not among them.
	Stays []int
	// Swept counts tickets still inside at closing (in the zone or one
	// inside it), SweptTally the people the tally balances of the zone and
	// those inside it held then.
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

// Figures is the ground truth of the day's report once the day has closed:
// every action replayed with the verdict the plan wants, then the sweep.
func (p *Plan) Figures() DayFigures {
	m := newModel(p.ev)
	f := newFigures(p.ev, p.Day.Date)
	for _, a := range p.Actions {
		f.apply(m, a.At, a.Gate, a.Offline, func() { p.replay(m, a) })
	}
	f.finish(m)
	// The sweep empties every zone at closing: the hour of the closing
	// ends empty.
	hh := p.Day.Closes.In(p.ev.Location).Format("15")
	if f.Hours[hh] == nil {
		f.Hours[hh] = map[string]*HourFigures{}
	}
	for id := range f.Zones {
		if f.Hours[hh][id] == nil {
			f.Hours[hh][id] = &HourFigures{}
		}
		f.Hours[hh][id].Occupancy = 0
	}
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
func (f *DayFigures) apply(m *model, at time.Time, gate string, offline bool, do func()) {
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
		if offline {
			g.Offline++
		}
	}
}

// finish copies the day's totals from m, and sweeps it as the closing does
// (docs/rules.md): every ticket still inside counts as swept in its place
// and every zone above it, and so do the people each tally balance holds.
func (f *DayFigures) finish(m *model) {
	f.seen = m.seen
	for _, z := range m.place {
		for ; z != nil; z = z.ParentZone() {
			f.Zones[z.ID].Swept++
		}
	}
	for id, b := range m.tally {
		for z := m.ev.Zone(id); z != nil && b > 0; z = z.ParentZone() {
			f.Zones[z.ID].SweptTally += b
		}
	}
	for id, t := range m.truth() {
		z := f.Zones[id]
		z.Truth = t
		z.Peak = m.peaks[id]
		z.Stays = slices.Sorted(slices.Values(m.stays[id]))
	}
	for key := range m.seen {
		zone, _, _ := strings.Cut(key, "|")
		if z := f.Zones[zone]; z != nil {
			z.UniqueVisitors++
		}
	}
}

// Fair is several days of one event, each planned by NewPlan on its own
// (a day starts empty: the closing of the day before swept it). People
// with a badge valid on every day (exhibitors, staff, guests, press) come
// back each day with the same badge; visitors take a new day pass.
type Fair struct {
	// Days are the plans, in the order of the configs given.
	Days []*Plan
}

// DefaultFair is the first n days of ev (all when n is 0 or more than it
// has), each DefaultConfig with seed, a share of 3 % of the visitors
// leaving through a door without a scanner, and the first exit offline for
// 45 minutes from four hours before closing.
func DefaultFair(ev *event.Event, seed uint64, n int) []Config {
	if n <= 0 || n > len(ev.Days) {
		n = len(ev.Days)
	}
	cfgs := make([]Config, n)
	for i := range cfgs {
		cfgs[i] = DefaultConfig(ev, ev.Days[i].Date)
		cfgs[i].Seed = seed
		// ASSUMPTION: one visitor in thirty leaves by a door with no
		// scanner (a service door, the tent's side): the closing finds
		// them "inside".
		cfgs[i].UnscannedExitShare = 0.03
		// ASSUMPTION: the exit's laptop loses the network for 45 minutes
		// in the late afternoon, when many leave.
		if len(cfgs[i].Exits) > 0 {
			d := ev.Days[i]
			from := d.Close.Add(-4 * time.Hour)
			cfgs[i].Outages = []Outage{{Gate: cfgs[i].Exits[0], From: from, Until: from.Add(45 * time.Minute)}}
		}
	}
	return cfgs
}

// NewFair plans each day of cfgs on ev with key.
func NewFair(ev *event.Event, key ed25519.PrivateKey, cfgs ...Config) (*Fair, error) {
	f := &Fair{}
	for _, cfg := range cfgs {
		p, err := NewPlan(ev, key, cfg)
		if err != nil {
			return nil, err
		}
		f.Days = append(f.Days, p)
	}
	return f, nil
}

// Figures is the ground truth of each day's report, in order.
func (f *Fair) Figures() []DayFigures {
	out := make([]DayFigures, len(f.Days))
	for i, p := range f.Days {
		out[i] = p.Figures()
	}
	return out
}

// UniqueVisitors counts, per zone, the tickets that entered it on any of
// the days: a badge that came on three days is one visitor.
func UniqueVisitors(days []DayFigures) map[string]int {
	all := map[string]bool{}
	for _, d := range days {
		for k := range d.seen {
			all[k] = true
		}
	}
	out := map[string]int{}
	for k := range all {
		zone, _, _ := strings.Cut(k, "|")
		out[zone]++
	}
	return out
}
