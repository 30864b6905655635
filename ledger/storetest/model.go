package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"crowdflow/checkin"
	"crowdflow/ledger"
)

// model is the reference the model test holds a store to: docs/rules.md read
// into plain Go, apart from the Lua. It keeps places and tally balances and
// derives occupancy from them, where the scripts keep running counters; it
// moves a ticket by comparing the ancestries of its old and new place, where
// the scripts walk paths. Agreement of the two is the point of the test.
//
// Where the rule book leaves a choice open, the model takes the one below:
//   - a verdict carries the caller's flags (offline, clock_skew) whatever its
//     code, and forced only when force actually waived a check;
//   - when several zones of a move are full, zone_full names the lowest;
//   - a refusal is counted against the gate's zone (none when the gate has
//     no zone), a tally's against its zone;
//   - tally and scan ids share one space.
type model struct {
	loc      *time.Location
	parent   map[string]string
	capacity map[string]int
	zones    []string // root first

	place   map[string]string // ticket -> its zone; absent: outside
	types   map[string]string // ticket -> the type it entered with
	revoked map[string]bool
	first   map[string]ledger.Verdict // scan or tally id -> its first verdict
	counts  map[string]*ledger.Counters
	seen    map[string]bool           // "date|zone|ticket": the ticket entered the zone that day
	days    map[string]map[string]int // date -> day field ("hall-a|in", "hall-a|h10|out") -> value
	log     []ledger.Entry
}

func newModel(loc *time.Location, zones []ledger.Zone) *model {
	m := &model{loc: loc, parent: map[string]string{}, capacity: map[string]int{},
		place: map[string]string{}, types: map[string]string{}, revoked: map[string]bool{},
		first: map[string]ledger.Verdict{}, counts: map[string]*ledger.Counters{},
		seen: map[string]bool{}, days: map[string]map[string]int{}}
	for _, z := range zones {
		m.parent[z.ID] = z.Parent
		m.capacity[z.ID] = z.Capacity
		m.zones = append(m.zones, z.ID)
		m.counts[z.ID] = &ledger.Counters{ByType: map[string]int{}, Refusals: map[checkin.Code]int{}}
	}
	return m
}

// ancestry lists z and every zone above it, z first; none for outside.
func (m *model) ancestry(z string) []string {
	var zs []string
	for ; z != ""; z = m.parent[z] {
		zs = append(zs, z)
	}
	return zs
}

// within reports whether place x is zone z or inside it. Outside is within
// no zone.
func (m *model) within(x, z string) bool {
	return z != "" && slices.Contains(m.ancestry(x), z)
}

// occupancy counts the tickets within z, plus the tally balances of z and of
// every zone within it.
func (m *model) occupancy(z string) int {
	n := 0
	for y, c := range m.counts {
		if m.within(y, z) {
			n += c.Tally
		}
	}
	for _, p := range m.place {
		if m.within(p, z) {
			n++
		}
	}
	return n
}

// raised lists the zones whose occupancy a move from x to y raises: those
// above y that are not above x, lowest first.
func (m *model) raised(x, y string) []string {
	var zs []string
	for _, z := range m.ancestry(y) {
		if !m.within(x, z) {
			zs = append(zs, z)
		}
	}
	return zs
}

func (m *model) day(date string) map[string]int {
	d := m.days[date]
	if d == nil {
		d = map[string]int{}
		m.days[date] = d
	}
	return d
}

// move takes ticket from place x to place y: every zone it leaves counts an
// exit, every zone it enters counts an entry and a visitor of the day.
func (m *model) move(ticket, ttype, x, y, date, hour string) {
	d := m.day(date)
	for _, z := range m.raised(y, x) {
		m.counts[z].Exits++
		d[z+"|out"]++
		d[z+"|h"+hour+"|out"]++
	}
	for _, z := range m.raised(x, y) {
		m.counts[z].Entries++
		d[z+"|in"]++
		d[z+"|h"+hour+"|in"]++
		if k := date + "|" + z + "|" + ticket; !m.seen[k] {
			m.seen[k] = true
			d[z+"|uv"]++
		}
	}
	if y == "" {
		delete(m.place, ticket)
		delete(m.types, ticket)
	} else {
		m.place[ticket] = y
		m.types[ticket] = ttype
	}
}

func (m *model) when(at time.Time) (date, hour string) {
	local := at.In(m.loc)
	return local.Format(time.DateOnly), local.Format("15")
}

func (m *model) refuse(zone string, code checkin.Code, date string) {
	if zone == "" {
		return
	}
	m.counts[zone].Refusals[code]++
	m.day(date)[zone+"|r:"+string(code)]++
}

// scan applies docs/rules.md to sc and returns the verdict.
func (m *model) scan(sc ledger.Scan) ledger.Verdict {
	if v, ok := m.first[sc.ID]; ok {
		v.Replayed = true
		return v
	}
	gz := sc.Zone
	if _, ok := m.capacity[gz]; !ok {
		gz = "" // a zone the event does not have: the gate is unknown
	}
	date, hour := m.when(sc.At)
	from := ""
	if sc.Ticket != "" {
		from = m.place[sc.Ticket]
	}
	flags := checkin.Flags{}
	for _, f := range sc.Flags {
		flags = flags.With(f)
	}
	to := from
	finish := func(code checkin.Code, vz string) ledger.Verdict {
		if to != from {
			m.move(sc.Ticket, sc.Type, from, to, date, hour)
		}
		if code != checkin.Accepted {
			m.refuse(gz, code, date)
		}
		v := ledger.Verdict{Code: code, Flags: flags, Zone: vz}
		if vz != "" {
			v.Occupancy, v.Capacity = m.occupancy(vz), m.capacity[vz]
		}
		m.first[sc.ID] = v
		m.log = append(m.log, ledger.Entry{Kind: "scan", ScanID: sc.ID, Device: sc.Device, Gate: sc.Gate,
			Zone: gz, Direction: sc.Direction, Ticket: sc.Ticket, Type: sc.Type, Code: code, Flags: flags,
			From: from, To: to, At: sc.At, DeviceAt: sc.DeviceAt})
		return v
	}

	// 2. Unknown gate, either way.
	if gz == "" || sc.Precheck == checkin.UnknownGate {
		return finish(checkin.UnknownGate, "")
	}
	verified := sc.Ticket != "" && sc.Precheck != checkin.InvalidTicket
	p := m.parent[gz]

	// 3. Exits are never refused.
	if sc.Direction == checkin.Out {
		switch {
		case !verified:
			flags = flags.With(checkin.NotInside).With(checkin.Unverified)
		case m.within(from, gz):
			to = p
		case m.within(from, p):
			flags = flags.With(checkin.NotInside)
			to = p
		default:
			flags = flags.With(checkin.NotInside)
		}
		return finish(checkin.Accepted, gz)
	}

	// 4. Entries: refusals in order.
	switch {
	case !verified:
		return finish(checkin.InvalidTicket, gz)
	case m.revoked[sc.Ticket]:
		return finish(checkin.Revoked, gz)
	case sc.Precheck != checkin.Accepted:
		return finish(sc.Precheck, gz)
	}
	if m.within(from, gz) {
		if !sc.Force {
			return finish(checkin.AlreadyInside, gz)
		}
		flags = flags.With(checkin.Forced)
		to = gz
		return finish(checkin.Accepted, gz)
	}
	if !sc.Reentry && m.seen[date+"|"+gz+"|"+sc.Ticket] {
		if !sc.Force {
			return finish(checkin.AlreadyUsed, gz)
		}
		flags = flags.With(checkin.Forced)
	}
	for _, z := range m.raised(from, gz) {
		if m.occupancy(z)+1 > m.capacity[z] {
			if !sc.Force {
				return finish(checkin.ZoneFull, z)
			}
			flags = flags.With(checkin.Forced)
		}
	}

	// 5. The move.
	switch {
	case from == p:
	case m.within(from, p):
		flags = flags.With(checkin.MovedFromSibling)
	default:
		flags = flags.With(checkin.ImplicitEntry)
	}
	to = gz
	return finish(checkin.Accepted, gz)
}

// tally applies docs/rules.md to tl and returns the verdict.
func (m *model) tally(tl ledger.Tally) ledger.Verdict {
	if v, ok := m.first[tl.ID]; ok {
		v.Replayed = true
		return v
	}
	date, hour := m.when(tl.At)
	z, c := tl.Zone, m.counts[tl.Zone]
	flags := checkin.Flags{}
	for _, f := range tl.Flags {
		flags = flags.With(f)
	}
	// docs/rules.md, "Tallies": +n comes from the parent's tally balance as
	// far as it goes, the rest enters the parent and every zone above it too;
	// -n goes to the parent's balance (or outside, from the root).
	p := m.parent[z]
	code, applied, moved, vz := checkin.Accepted, 0, 0, z
	d := m.day(date)
	cross := func(zone, what string, n int) {
		d[zone+"|"+what] += n
		d[zone+"|h"+hour+"|"+what] += n
		if what == "tin" {
			m.counts[zone].TallyIn += n
		} else {
			m.counts[zone].TallyOut += n
		}
	}
	if tl.Delta > 0 {
		if p != "" {
			moved = min(tl.Delta, m.counts[p].Tally)
		}
		extra := tl.Delta - moved
		full := ""
		if m.occupancy(z)+tl.Delta > m.capacity[z] {
			full = z
		}
		for a := p; full == "" && extra > 0 && a != ""; a = m.parent[a] {
			if m.occupancy(a)+extra > m.capacity[a] {
				full = a
			}
		}
		switch {
		case full != "" && !tl.Force:
			code, moved, vz = checkin.ZoneFull, 0, full
		default:
			if full != "" {
				flags = flags.With(checkin.Forced)
			}
			if p != "" && extra > 0 {
				flags = flags.With(checkin.ImplicitEntry)
			}
			applied = tl.Delta
			c.Tally += applied
			if p != "" {
				m.counts[p].Tally -= moved
			}
			cross(z, "tin", applied)
			for a := p; extra > 0 && a != ""; a = m.parent[a] {
				cross(a, "tin", extra)
			}
		}
	} else {
		n := min(-tl.Delta, c.Tally)
		applied = 0 - n
		if applied != tl.Delta {
			flags = flags.With(checkin.Clamped)
		}
		if n > 0 {
			c.Tally -= n
			cross(z, "tout", n)
			if p != "" {
				moved = n
				m.counts[p].Tally += n
			}
		}
	}
	if code != checkin.Accepted {
		m.refuse(z, code, date)
	}
	v := ledger.Verdict{Code: code, Flags: flags, Zone: vz, Occupancy: m.occupancy(vz), Capacity: m.capacity[vz]}
	m.first[tl.ID] = v
	m.log = append(m.log, ledger.Entry{Kind: "tally", ScanID: tl.ID, Device: tl.Device, Gate: tl.Gate,
		Zone: z, Code: code, Flags: flags, Delta: tl.Delta, Applied: applied, Moved: moved, At: tl.At, DeviceAt: tl.DeviceAt})
	return v
}

// overrideFlags replaces the flags of the verdict of id, which the model has
// just decided, in its memory of first verdicts and in its log.
func (m *model) overrideFlags(id string, flags checkin.Flags) {
	v := m.first[id]
	v.Flags = flags
	m.first[id] = v
	m.log[len(m.log)-1].Flags = flags
}

// revoke adds tickets to the revocation list and returns how many were new.
func (m *model) revoke(at time.Time, by string, tickets ...string) int {
	n := 0
	for _, tk := range tickets {
		if m.revoked[tk] {
			continue
		}
		m.revoked[tk] = true
		n++
		m.log = append(m.log, ledger.Entry{Kind: "revoke", Ticket: tk, Device: by, At: at})
	}
	return n
}

// counters returns every zone's counters as the store should report them.
func (m *model) counters() map[string]*ledger.Counters {
	out := cloneCounters(m.counts)
	for _, z := range m.zones {
		out[z].Occupancy = m.occupancy(z)
	}
	for tk, p := range m.place {
		for _, z := range m.ancestry(p) {
			out[z].ByType[m.types[tk]]++
		}
	}
	return out
}

// dayFields returns the day's report fields the model keeps: per zone in,
// out, uv, tin, tout and r:<code>, and per hour in, out, tin and tout.
func (m *model) dayFields(date string) map[string]string {
	out := map[string]string{}
	for k, n := range m.days[date] {
		if n != 0 {
			out[k] = fmt.Sprint(n)
		}
	}
	return out
}

// modelled keeps the day fields the model keeps, and drops the rest (peak,
// peak_at, the hourly occupancy), which the rule book does not define.
func modelled(fields map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range fields {
		_, name, _ := strings.Cut(k, "|")
		hourly := false
		if h, rest, ok := strings.Cut(name, "|"); ok && len(h) == 3 && h[0] == 'h' {
			name, hourly = rest, true
		}
		switch {
		case name == "in", name == "out", name == "tin", name == "tout":
			out[k] = v
		case !hourly && (name == "uv" || strings.HasPrefix(name, "r:")):
			out[k] = v
		}
	}
	return out
}

// dates lists the days the model has seen anything on.
func (m *model) dates() []string { return slices.Sorted(maps.Keys(m.days)) }
