package simulate

import (
	"maps"
	"slices"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
)

// pass is what the plan knows of a ticket it issued or forged.
type pass struct {
	id      string // the ticket id; "" when the payload is not a valid ticket of the event
	typ     *event.TicketType
	days    []string // the ticket's own days; empty: its type's
	zones   []string // the ticket's own zones; empty: its type's
	reentry bool
	payload string
}

// model is the state the rules of docs/rules.md keep, written afresh from
// that page (not from the ledger's script): where each ticket is, each
// zone's occupancy, tally balance and counters. The planner asks it for the
// verdict of every action it plans and applies the outcome; Truth replays
// the plan's verdicts through it. It is not safe for concurrent use.
type model struct {
	ev     *event.Event
	place  map[string]*event.Zone // ticket id -> its zone; absent: outside
	types  map[string]string      // ticket id -> type id, for ByType
	seen   map[string]bool        // "<zone>|<ticket>": entered that zone today
	tally  map[string]int         // zone -> tally balance
	counts map[string]*Truth
	peaks  map[string]Peak
	// since is when each ticket's stay in each zone began: "<zone>|<ticket>"
	// -> the time of the entry that counted it; stays lists, per zone, the
	// completed stays in whole minutes (LEDGER-FIELDS: dw).
	since map[string]time.Time
	stays map[string][]int
	// last is the time of each ticket's latest accepted scan: an offline
	// upload older than it is superseded.
	last map[string]time.Time
}

func newModel(ev *event.Event) *model {
	m := &model{ev: ev, place: map[string]*event.Zone{}, types: map[string]string{}, seen: map[string]bool{},
		tally: map[string]int{}, counts: map[string]*Truth{}, peaks: map[string]Peak{},
		since: map[string]time.Time{}, stays: map[string][]int{}, last: map[string]time.Time{}}
	for _, z := range ev.Zones {
		m.counts[z.ID] = &Truth{Refusals: map[checkin.Code]int{}, ByType: map[string]int{}}
	}
	return m
}

// within reports whether place x (nil: outside) is z or inside it; every
// place is within nil, the world.
func within(x, z *event.Zone) bool {
	if z == nil {
		return true
	}
	return x != nil && x.Within(z)
}

// allows is rule 4.4: z is allowed when it is one of the ticket's zones (its
// own, else its type's; none: all) or holds one of them.
func allows(tk *pass, z *event.Zone, ev *event.Event) bool {
	zones := tk.zones
	if len(zones) == 0 {
		zones = tk.typ.Zones
	}
	if len(zones) == 0 {
		return true
	}
	for _, id := range zones {
		if a := ev.Zone(id); a != nil && a.Within(z) {
			return true
		}
	}
	return false
}

// judge gives the verdict of a scan of tk at gate g (zone gz) at time at,
// without changing anything: rules 3 and 4 minus the revocation list, the
// replay of an id and the supervisor's force, which the plan never uses.
// For an accepted scan it also returns the ticket's new place.
func (m *model) judge(tk *pass, gz *event.Zone, dir checkin.Direction, at time.Time) (checkin.Code, checkin.Flags, *event.Zone) {
	var from *event.Zone
	if tk.id != "" {
		from = m.place[tk.id]
	}
	if dir == checkin.Out {
		to, flags := m.exitMove(tk.id != "", from, gz)
		return checkin.Accepted, flags, to
	}
	if tk.id == "" {
		return checkin.InvalidTicket, nil, from
	}
	d, ok := m.ev.DayOf(at)
	if !ok {
		return checkin.Closed, nil, from
	}
	days := tk.days
	if len(days) == 0 {
		days = tk.typ.Days
	}
	if len(days) > 0 && !slices.Contains(days, d.Date) {
		return checkin.NotValidToday, nil, from
	}
	if !d.IsOpen(at) {
		return checkin.Closed, nil, from
	}
	if !allows(tk, gz, m.ev) {
		return checkin.NoAccess, nil, from
	}
	if within(from, gz) {
		return checkin.AlreadyInside, nil, from
	}
	if !tk.reentry && m.seen[gz.ID+"|"+tk.id] {
		return checkin.AlreadyUsed, nil, from
	}
	common, flags := m.entryMove(from, gz)
	for z := gz; z != common; z = z.ParentZone() {
		if m.counts[z.ID].Occupancy+1 > z.Capacity {
			return checkin.ZoneFull, nil, from
		}
	}
	return checkin.Accepted, flags, gz
}

// exitMove is rule 3: where an exit at gz takes a ticket that is at from,
// and the flags it carries.
func (m *model) exitMove(verified bool, from, gz *event.Zone) (*event.Zone, checkin.Flags) {
	p := gz.ParentZone()
	switch {
	case !verified:
		return from, checkin.Flags{checkin.NotInside, checkin.Unverified}
	case within(from, gz):
		return p, nil
	case p != nil && within(from, p):
		return p, checkin.Flags{checkin.NotInside}
	}
	return from, checkin.Flags{checkin.NotInside}
}

// entryMove is rule 5: the lowest zone holding both from and gz (nil: the
// world) and the flags of an accepted entry from from into gz.
func (m *model) entryMove(from, gz *event.Zone) (*event.Zone, checkin.Flags) {
	p := gz.ParentZone()
	if within(from, p) {
		if from != p {
			return p, checkin.Flags{checkin.MovedFromSibling}
		}
		return p, nil
	}
	common := gz
	for common != nil && !within(from, common) {
		common = common.ParentZone()
	}
	return common, checkin.Flags{checkin.ImplicitEntry}
}

// move takes ticket id of type typ from its place to to (nil: outside),
// counting an exit from every zone it leaves and an entry into every zone it
// joins.
func (m *model) move(id, typ string, to *event.Zone, at time.Time) {
	from := m.place[id]
	if from == to {
		return
	}
	for z := from; z != nil; z = z.ParentZone() {
		if within(to, z) {
			break
		}
		c := m.counts[z.ID]
		c.Occupancy--
		c.Exits++
		if t, ok := m.since[z.ID+"|"+id]; ok {
			m.stays[z.ID] = append(m.stays[z.ID], int(at.Sub(t).Milliseconds()/60000))
			delete(m.since, z.ID+"|"+id)
		}
		if c.ByType[typ]--; c.ByType[typ] == 0 {
			delete(c.ByType, typ)
		}
	}
	for z := to; z != nil; z = z.ParentZone() {
		if within(from, z) {
			break
		}
		c := m.counts[z.ID]
		c.Occupancy++
		c.Entries++
		c.ByType[typ]++
		m.seen[z.ID+"|"+id] = true
		m.since[z.ID+"|"+id] = at
		m.peak(z.ID, at)
	}
	if to == nil {
		delete(m.place, id)
	} else {
		m.place[id] = to
	}
	m.types[id] = typ
}

// scanned notes an accepted scan of ticket id at t: the ticket's place
// follows its latest scan by time.
func (m *model) scanned(id string, t time.Time) {
	if id != "" && t.After(m.last[id]) {
		m.last[id] = t
	}
}

// superseded reports whether an offline upload of ticket id scanned at t
// comes after a later scan of it (docs/rules.md): it counts, and moves
// nothing.
func (m *model) superseded(id string, t time.Time) bool {
	last, ok := m.last[id]
	return ok && t.Before(last)
}

// countSuperseded counts a superseded upload in the entries or exits of
// the gate's zone z only: the person went through then, and where they are
// now is known from later scans.
func (m *model) countSuperseded(z *event.Zone, dir checkin.Direction) {
	if dir == checkin.Out {
		m.counts[z.ID].Exits++
	} else {
		m.counts[z.ID].Entries++
	}
}

// judgeTally is the tally rule: +n refused when it would pass z's capacity;
// −n never refused, applied up to the balance.
func (m *model) judgeTally(z *event.Zone, delta int) (checkin.Code, checkin.Flags, int) {
	if delta > 0 {
		if m.counts[z.ID].Occupancy+delta > z.Capacity {
			return checkin.ZoneFull, nil, 0
		}
		return checkin.Accepted, nil, delta
	}
	applied := -min(-delta, m.tally[z.ID])
	if applied != delta {
		return checkin.Accepted, checkin.Flags{checkin.Clamped}, applied
	}
	return checkin.Accepted, nil, applied
}

// applyTally applies a tally's applied delta to z.
func (m *model) applyTally(z *event.Zone, applied int, at time.Time) {
	c := m.counts[z.ID]
	m.tally[z.ID] += applied
	c.Occupancy += applied
	if applied > 0 {
		c.TallyIn += applied
		m.peak(z.ID, at)
	} else {
		c.TallyOut -= applied
	}
}

// refuse counts a refusal at zone z.
func (m *model) refuse(z *event.Zone, code checkin.Code) {
	m.counts[z.ID].Refusals[code]++
}

func (m *model) peak(zone string, at time.Time) {
	if occ := m.counts[zone].Occupancy; occ > m.peaks[zone].Occupancy {
		m.peaks[zone] = Peak{Occupancy: occ, At: at}
	}
}

// truth copies the counters.
func (m *model) truth() map[string]Truth {
	out := make(map[string]Truth, len(m.counts))
	for id, c := range m.counts {
		t := *c
		t.Refusals = maps.Clone(c.Refusals)
		t.ByType = maps.Clone(c.ByType)
		out[id] = t
	}
	return out
}
