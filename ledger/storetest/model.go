package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
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
	first   map[string]firstVerdict // scan or tally id -> its first verdict
	counts  map[string]*ledger.Counters
	seen    map[string]bool           // "date|zone|ticket": the ticket entered the zone that day
	stays   map[string]time.Time      // "date|zone|ticket" -> when its stay there began
	visited map[string]bool           // "zone|ticket": the ticket entered the zone, any day
	days    map[string]map[string]int // date -> day field ("hall-a|in", "hall-a|h10|out") -> value
	log     []ledger.Entry

	// trend: "<zone>|<minute since the epoch>" -> the zone's occupancy
	// before its first change in that minute, by when the store applied it
	// (the board's trend, ledger.Store.Trend).
	trend map[string]int

	eventDays []ledger.Day
	closed    map[string]bool      // date -> the day has closed
	last      map[string]time.Time // ticket -> its latest scan that moved it, since the last closing
}

// firstVerdict is an id's first verdict and what it was about.
type firstVerdict struct {
	v           ledger.Verdict
	fingerprint string
}

// idConflict is the verdict the model gives a reused id with other content;
// the store answers ledger.ErrIDConflict instead.
const idConflict checkin.Code = "id_conflict"

func newModel(loc *time.Location, zones []ledger.Zone, days []ledger.Day) *model {
	m := &model{loc: loc, parent: map[string]string{}, capacity: map[string]int{},
		place: map[string]string{}, types: map[string]string{}, revoked: map[string]bool{},
		first: map[string]firstVerdict{}, counts: map[string]*ledger.Counters{},
		seen: map[string]bool{}, stays: map[string]time.Time{}, visited: map[string]bool{},
		days: map[string]map[string]int{}, eventDays: days, closed: map[string]bool{},
		last: map[string]time.Time{}, trend: map[string]int{}}
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

// occupancies is every zone's occupancy now.
func (m *model) occupancies() map[string]int {
	out := make(map[string]int, len(m.zones))
	for _, z := range m.zones {
		out[z] = m.occupancy(z)
	}
	return out
}

// noteTrend marks, in the minute of at, every zone whose occupancy differs
// from before with that value, unless the minute has a mark already: an
// operation changes each zone at most once, so before is the value just
// before its change.
func (m *model) noteTrend(at time.Time, before map[string]int) {
	for z, was := range before {
		k := fmt.Sprintf("%s|%d", z, at.Unix()/60)
		if _, ok := m.trend[k]; !ok && m.occupancy(z) != was {
			m.trend[k] = was
		}
	}
}

// trimTrend forgets the marks of the minutes more than an hour before the
// minute of at (a closing): no trend reads them again.
func (m *model) trimTrend(at time.Time) {
	keep := at.Unix()/60 - 60
	for k := range m.trend {
		minute := k[strings.LastIndexByte(k, '|')+1:]
		if v, err := strconv.ParseInt(minute, 10, 64); err == nil && v < keep {
			delete(m.trend, k)
		}
	}
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

// visit counts ticket among z's visitors of the day and of the event.
func (m *model) visit(ticket, z, date string) {
	if k := date + "|" + z + "|" + ticket; !m.seen[k] {
		m.seen[k] = true
		m.day(date)[z+"|uv"]++
	}
	if k := z + "|" + ticket; !m.visited[k] {
		m.visited[k] = true
		m.counts[z].UniqueVisitors++
	}
}

// move takes ticket from place x to place y at at: every zone it leaves
// counts an exit and ends a stay there, every zone it enters counts an entry
// and a visitor of the day, and starts a stay.
func (m *model) move(ticket, ttype, x, y, date, hour string, at time.Time) {
	d := m.day(date)
	for _, z := range m.raised(y, x) {
		m.counts[z].Exits++
		d[z+"|out"]++
		d[z+"|h"+hour+"|out"]++
		k := date + "|" + z + "|" + ticket
		if began, ok := m.stays[k]; ok {
			d[fmt.Sprintf("%s|dw:%d", z, max(at.Sub(began), 0)/time.Minute)]++
			delete(m.stays, k)
		}
	}
	for _, z := range m.raised(x, y) {
		m.counts[z].Entries++
		d[z+"|in"]++
		d[z+"|h"+hour+"|in"]++
		m.visit(ticket, z, date)
		m.stays[date+"|"+z+"|"+ticket] = at
	}
	if y == "" {
		delete(m.place, ticket)
		delete(m.types, ticket)
	} else {
		m.place[ticket] = y
		m.types[ticket] = ttype
	}
}

// when names the day, the hour and the minute of a decision time.
func (m *model) when(at time.Time) (date, hour, minute string) {
	local := at.In(m.loc)
	date = local.Format(time.DateOnly)
	for _, d := range m.eventDays {
		start, _ := time.ParseInLocation(time.DateOnly, d.Date, m.loc)
		if !at.Before(start) && at.Before(d.Close) {
			date = d.Date
			break
		}
	}
	return date, local.Format("15"), local.Format("1504")
}

// perGate counts a decision at a known gate in the day's report fields.
func (m *model) perGate(gate, date, minute string, flags checkin.Flags) {
	if gate == "" {
		return
	}
	d := m.day(date)
	d["|g|"+gate+"|scans"]++
	d["|g|"+gate+"|m"+minute]++
	if flags.Has(checkin.Offline) {
		d["|g|"+gate+"|offline"]++
	}
	if flags.Has(checkin.OfflineOverride) {
		d["|g|"+gate+"|ovr"]++
	}
}

// replay returns the first verdict of a known id, or the id_conflict verdict
// (logged and counted) when the id was used for something else.
func (m *model) replay(id, fingerprint, device, gate string, known bool, at time.Time) (ledger.Verdict, bool) {
	f, ok := m.first[id]
	switch {
	case !ok:
		return ledger.Verdict{}, false
	case f.fingerprint != fingerprint:
		m.log = append(m.log, ledger.Entry{Kind: "conflict", ScanID: id, Device: device, Gate: gate, At: at})
		if known {
			date, _, _ := m.when(at)
			m.day(date)["|g|"+gate+"|conflict"]++
		}
		return ledger.Verdict{Code: idConflict}, true
	}
	v := f.v
	v.Replayed = true
	return v, true
}

// due is how many event days have closed at now.
func (m *model) due(now time.Time) int {
	n := 0
	for i, d := range m.eventDays {
		if !now.Before(d.Close) {
			n = i + 1
		}
	}
	return n
}

// closeUpTo closes the first n event days that are still open (docs/rules.md,
// "Days"): the first of them sweeps everyone inside, tickets and tallies.
func (m *model) closeUpTo(n int, by string) []ledger.Closing {
	var out []ledger.Closing
	swept := false
	for _, day := range m.eventDays[:n] {
		if m.closed[day.Date] {
			continue
		}
		m.closed[day.Date] = true
		c := ledger.Closing{Date: day.Date, Swept: map[string]int{}, SweptTally: map[string]int{}}
		if !swept {
			swept = true
			before := m.occupancies()
			defer m.noteTrend(day.Close, before)
			m.trimTrend(day.Close)
			for _, tk := range slices.Sorted(maps.Keys(m.place)) {
				z := m.place[tk]
				m.log = append(m.log, ledger.Entry{Kind: "swept", Ticket: tk, Zone: z, Device: by, At: day.Close})
				for _, a := range m.ancestry(z) {
					c.Swept[a]++
					m.counts[a].Swept++
				}
			}
			for _, z := range m.zones {
				for _, a := range m.ancestry(z) {
					c.SweptTally[a] += m.counts[z].Tally
				}
			}
			for _, z := range m.zones {
				m.counts[z].Tally = 0
			}
			m.place, m.types, m.last = map[string]string{}, map[string]string{}, map[string]time.Time{}
		}
		d := m.day(day.Date)
		for z, k := range c.Swept {
			d[z+"|swept"] += k
		}
		for z, k := range c.SweptTally {
			if k == 0 {
				delete(c.SweptTally, z)
				continue
			}
			d[z+"|swept_tally"] += k
		}
		m.log = append(m.log, ledger.Entry{Kind: "close", Day: day.Date, Swept: c.Swept,
			SweptTally: c.SweptTally, Device: by, At: day.Close})
		out = append(out, c)
	}
	return out
}

// closeDue closes the days due at now, as the store does before a scan.
func (m *model) closeDue(now time.Time) {
	m.closeUpTo(m.due(now), "scan")
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
	gz := sc.Zone
	if _, ok := m.capacity[gz]; !ok {
		gz = "" // a zone the event does not have: the gate is unknown
	}
	known := gz != "" && sc.Precheck != checkin.UnknownGate
	fingerprint := "s|" + sc.Ticket + "|" + string(sc.Direction) + "|" + sc.Gate
	m.closeDue(orAt(sc.Received, sc.At)) // rule 0: before anything, replays included
	if v, ok := m.replay(sc.ID, fingerprint, sc.Device, sc.Gate, known, sc.At); ok {
		return v
	}
	defer m.noteTrend(orAt(sc.Received, sc.At), m.occupancies())
	// The store's reading of an offline verdict (ledger.Scan.Decided).
	admitted := sc.Decided == checkin.Accepted
	if sc.Decided != "" && !admitted && sc.Direction == checkin.In && sc.Precheck == checkin.Accepted {
		sc.Precheck = sc.Decided
	}
	date, hour, minute := m.when(sc.At)
	from := ""
	if sc.Ticket != "" {
		from = m.place[sc.Ticket]
	}
	flags := checkin.Flags{}
	for _, f := range sc.Flags {
		flags = flags.With(f)
	}
	to, moved := from, false
	finish := func(code checkin.Code, vz string) ledger.Verdict {
		if to != from {
			m.move(sc.Ticket, sc.Type, from, to, date, hour, sc.At)
		}
		if moved && code == checkin.Accepted && sc.At.After(m.last[sc.Ticket]) {
			m.last[sc.Ticket] = sc.At
		}
		if code != checkin.Accepted {
			m.refuse(gz, code, date)
		}
		if known {
			m.perGate(sc.Gate, date, minute, flags)
		}
		v := ledger.Verdict{Code: code, Flags: flags, Zone: vz}
		if vz != "" {
			v.Occupancy, v.Capacity = m.occupancy(vz), m.capacity[vz]
		}
		m.first[sc.ID] = firstVerdict{v, fingerprint}
		m.log = append(m.log, ledger.Entry{Kind: "scan", ScanID: sc.ID, Device: sc.Device, Gate: sc.Gate,
			Zone: gz, Direction: sc.Direction, Ticket: sc.Ticket, Type: sc.Type, Code: code, Flags: flags,
			From: from, To: to, At: sc.At, DeviceAt: sc.DeviceAt})
		return v
	}

	// 2. Unknown gate, either way.
	if !known {
		return finish(checkin.UnknownGate, "")
	}
	verified := sc.Ticket != "" && sc.Precheck != checkin.InvalidTicket
	p := m.parent[gz]
	offline := flags.Has(checkin.Offline)
	d := m.day(date)

	// A closed day: live scans meet an empty site; uploads are superseded.
	if m.closed[date] && !offline {
		if sc.Direction == checkin.Out {
			flags = flags.With(checkin.NotInside)
			if !verified {
				flags = flags.With(checkin.Unverified)
			}
			return finish(checkin.Accepted, gz)
		}
		if !verified {
			return finish(checkin.InvalidTicket, gz)
		}
		return finish(checkin.Closed, gz)
	}
	last, ok := m.last[sc.Ticket]
	superseded := verified && offline && (m.closed[date] || ok && sc.At.Before(last))

	// 3. Exits are never refused.
	if sc.Direction == checkin.Out {
		switch {
		case !verified:
			flags = flags.With(checkin.NotInside).With(checkin.Unverified)
		case superseded:
			flags = flags.With(checkin.Superseded)
			d[gz+"|out"]++
			d[gz+"|h"+hour+"|out"]++
		case m.within(from, gz):
			to, moved = p, true
		case m.within(from, p):
			flags = flags.With(checkin.NotInside)
			to, moved = p, true
		default:
			flags = flags.With(checkin.NotInside)
			moved = true
		}
		return finish(checkin.Accepted, gz)
	}

	// waived: an offline admission waives every check but the signature, a
	// supervisor's force the passback and capacity checks.
	waived := func(supervisable bool) bool {
		switch {
		case admitted:
			flags = flags.With(checkin.OfflineOverride)
			return true
		case sc.Force && supervisable:
			flags = flags.With(checkin.Forced)
			return true
		}
		return false
	}

	// 4. Entries: refusals in order.
	switch {
	case !verified:
		return finish(checkin.InvalidTicket, gz)
	case m.revoked[sc.Ticket] && !waived(false):
		return finish(checkin.Revoked, gz)
	case sc.Precheck != checkin.Accepted && !waived(false):
		return finish(sc.Precheck, gz)
	}
	if superseded {
		flags = flags.With(checkin.Superseded)
		d[gz+"|in"]++
		d[gz+"|h"+hour+"|in"]++
		m.visit(sc.Ticket, gz, date)
		return finish(checkin.Accepted, gz)
	}
	moved = true
	if m.within(from, gz) {
		if !waived(true) {
			return finish(checkin.AlreadyInside, gz)
		}
		to = gz
		return finish(checkin.Accepted, gz)
	}
	if !sc.Reentry && m.seen[date+"|"+gz+"|"+sc.Ticket] && !waived(true) {
		return finish(checkin.AlreadyUsed, gz)
	}
	for _, z := range m.raised(from, gz) {
		if m.occupancy(z)+1 > m.capacity[z] && !waived(true) {
			return finish(checkin.ZoneFull, z)
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

func orAt(received, at time.Time) time.Time {
	if received.IsZero() {
		return at
	}
	return received
}

// tally applies docs/rules.md to tl and returns the verdict.
func (m *model) tally(tl ledger.Tally) ledger.Verdict {
	known := tl.Gate != "" && !tl.GateUnknown
	fingerprint := fmt.Sprintf("t|%s|%d|%s", tl.Zone, tl.Delta, tl.Gate)
	m.closeDue(orAt(tl.Received, tl.At))
	if v, ok := m.replay(tl.ID, fingerprint, tl.Device, tl.Gate, known, tl.At); ok {
		return v
	}
	defer m.noteTrend(orAt(tl.Received, tl.At), m.occupancies())
	date, hour, minute := m.when(tl.At)
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
	switch {
	case tl.GateUnknown:
		code = checkin.UnknownGate
	case m.closed[date]:
		switch {
		case flags.Has(checkin.Offline):
			flags = flags.With(checkin.Superseded)
			what, n := "tin", tl.Delta
			if n < 0 {
				what, n = "tout", -n
			}
			d[z+"|"+what] += n
			d[z+"|h"+hour+"|"+what] += n
		case tl.Delta > 0:
			code = checkin.Closed
		default:
			flags = flags.With(checkin.Clamped)
		}
	case tl.Delta > 0:
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
	default:
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
	if known {
		m.perGate(tl.Gate, date, minute, flags)
	}
	v := ledger.Verdict{Code: code, Flags: flags, Zone: vz, Occupancy: m.occupancy(vz), Capacity: m.capacity[vz]}
	m.first[tl.ID] = firstVerdict{v, fingerprint}
	m.log = append(m.log, ledger.Entry{Kind: "tally", ScanID: tl.ID, Device: tl.Device, Gate: tl.Gate,
		Zone: z, Code: code, Flags: flags, Delta: tl.Delta, Applied: applied, Moved: moved, At: tl.At, DeviceAt: tl.DeviceAt})
	return v
}

// overrideFlags replaces the flags of the verdict of id, which the model has
// just decided, in its memory of first verdicts and in its log.
func (m *model) overrideFlags(id string, flags checkin.Flags) {
	f := m.first[id]
	f.v.Flags = flags
	m.first[id] = f
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
		case !hourly && (name == "uv" || name == "swept" || name == "swept_tally" ||
			strings.HasPrefix(name, "r:") || strings.HasPrefix(name, "dw:")):
			out[k] = v
		case strings.HasPrefix(k, "|g|"):
			out[k] = v
		}
	}
	return out
}

// dates lists the days the model has seen anything on.
func (m *model) dates() []string { return slices.Sorted(maps.Keys(m.days)) }
