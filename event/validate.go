package event

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	dateLayout = "2006-01-02"
	clockHint  = "want HH:MM, e.g. 10:00"
)

// Limits on a file's figures. The physical ones are safety checks: above
// 5 persons/m² a crowd becomes dangerous (G. K. Still), so no zone may plan
// for more, whether as a density or as a load factor. The others only keep
// the arithmetic far from overflow.
const (
	minAreaPerPerson = 0.2  // m² per person: 5 persons/m²
	maxAreaPerPerson = 100  // m² per person
	maxDensity       = 5    // persons per m²
	maxArea          = 1e7  // m², 10 km²
	maxExitWidth     = 1e4  // m
	maxAuthority     = 1e7  // persons
	maxLanes         = 1000 // lanes at one gate
	maxCloseHour     = 47   // a close up to 23:59 the next morning
)

var (
	// The event id goes inside Redis hash tags and URLs: keep it plain.
	reEventID = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)
)

// DefaultCloseGrace is close_grace when the event file does not say
// (CONTRACT §8), and maxCloseGrace its largest value.
const (
	DefaultCloseGrace = 30 * time.Minute
	maxCloseGrace     = 6 * time.Hour
)

var (
	// Zone, gate and type ids go into Redis keys, metric labels, CSV cells
	// and comma-separated flags: no spaces, commas, colons or braces.
	reID    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	reClock = regexp.MustCompile(`^([0-9]{2}):([0-5][0-9])$`)
)

// build checks raw and, if nothing is wrong, returns the event it describes.
// It reports every problem to p and goes on, so one run lists them all.
func build(raw *rawEvent, p *problems) *Event {
	e := &Event{ID: raw.ID, Name: raw.Name, Venue: raw.Venue, TimeZone: raw.TimeZone}
	switch {
	case raw.ID == "":
		p.add("id", "required: 1 to 40 of a-z, 0-9 and -")
	case !reEventID.MatchString(raw.ID):
		p.add("id", "%q: want 1 to 40 of a-z, 0-9 and -", raw.ID)
	}
	checkText(p, "name", raw.Name)
	e.Location = time.UTC // only to go on checking the days when the zone is bad
	if raw.TimeZone == "" {
		p.add("time_zone", "required, e.g. Africa/Casablanca")
	} else if loc, err := time.LoadLocation(raw.TimeZone); err != nil {
		p.add("time_zone", "unknown time zone %q", raw.TimeZone)
	} else {
		e.Location = loc
	}
	e.hash = eventHash(e.ID)

	e.CloseGrace = DefaultCloseGrace
	if raw.CloseGrace != "" {
		g, err := time.ParseDuration(raw.CloseGrace)
		switch {
		case err != nil:
			p.add("close_grace", "%q: want a duration such as 30m or 1h", raw.CloseGrace)
		case g < 0 || g > maxCloseGrace:
			p.add("close_grace", "%s: want 0 to %s", raw.CloseGrace, maxCloseGrace)
		default:
			e.CloseGrace = g
		}
	}
	e.Days, e.daysByDate = buildDays(raw.Days, e.Location, e.CloseGrace, p)
	zoneIndex := buildZones(raw.Zones, p)
	gates := buildGates(raw.Gates, zoneIndex, p)
	types := buildTypes(raw.TicketTypes, zoneIndex, e.daysByDate, p)
	if len(p.errs) > 0 {
		return nil
	}

	e.zones = make(map[string]*Zone, len(raw.Zones))
	e.zonesByHash = make(map[uint16]*Zone, len(raw.Zones))
	var root *Zone
	all := make([]*Zone, len(raw.Zones))
	for i, rz := range raw.Zones {
		z := zoneOf(rz)
		all[i] = z
		e.zones[z.ID] = z
		e.zonesByHash[z.Hash] = z
		if z.Parent == "" {
			root = z
		}
	}
	for _, z := range all {
		if z.Parent != "" {
			z.parent = e.zones[z.Parent]
			z.parent.children = append(z.parent.children, z)
		}
	}
	var preorder func(z *Zone)
	preorder = func(z *Zone) {
		e.Zones = append(e.Zones, z)
		for _, c := range z.children {
			preorder(c)
		}
	}
	preorder(root)

	e.Gates = gates
	e.gates = make(map[string]*Gate, len(gates))
	for _, g := range gates {
		e.gates[g.ID] = g
	}
	e.TicketTypes = types
	e.types = make(map[string]*TicketType, len(types))
	e.typesByHash = make(map[uint16]*TicketType, len(types))
	for _, t := range types {
		e.types[t.ID] = t
		e.typesByHash[t.Hash] = t
	}
	return e
}

func checkText(p *problems, path string, t Text) {
	ar, fr, en := strings.TrimSpace(t.AR), strings.TrimSpace(t.FR), strings.TrimSpace(t.EN)
	if ar == "" && fr == "" && en == "" {
		p.add(path, "required, in ar, fr and en")
		return
	}
	for _, l := range []struct{ lang, s string }{{"ar", ar}, {"fr", fr}, {"en", en}} {
		if l.s == "" {
			p.add(path+"."+l.lang, "missing translation")
		}
	}
}

// checkID checks the id at index i of the list coll, and records it in seen
// (id → index of its first use). It reports whether the id is well formed
// and new.
func checkID(p *problems, coll string, i int, id string, seen map[string]int) bool {
	path := fmt.Sprintf("%s[%d].id", coll, i)
	switch {
	case id == "":
		p.add(path, "required")
		return false
	case !reID.MatchString(id):
		p.add(path, "%q: want 1 to 64 of A-Z, a-z, 0-9, - and _, starting with a letter or digit", id)
		return false
	}
	if j, dup := seen[id]; dup {
		p.add(path, "%q is already %s[%d]", id, coll, j)
		return false
	}
	seen[id] = i
	return true
}

// buildDays parses the days, sorted by date, and indexes them by date.
func buildDays(raw []rawDay, loc *time.Location, grace time.Duration, p *problems) ([]Day, map[string]int) {
	if len(raw) == 0 {
		p.add("days", "no event days")
	}
	type parsed struct {
		Day
		i int
	}
	var ok []parsed
	first := map[string]int{}
	for i, rd := range raw {
		path := fmt.Sprintf("days[%d]", i)
		date, err := time.ParseInLocation(dateLayout, rd.Date, loc)
		if err != nil || date.Format(dateLayout) != rd.Date {
			p.add(path+".date", "%q: want a date YYYY-MM-DD", rd.Date)
		}
		oh, om, okOpen := parseClock(rd.Open)
		switch {
		case !okOpen:
			p.add(path+".open", "%q: %s", rd.Open, clockHint)
		case oh > 23:
			p.add(path+".open", "%q: an opening is before 24:00 (an opening after midnight is the next day's)", rd.Open)
			okOpen = false
		}
		ch, cm, okClose := parseClock(rd.Close)
		if !okClose {
			p.add(path+".close", "%q: %s, or 24:00 to 47:59 for a close after midnight", rd.Close, clockHint)
		}
		if err != nil || !okOpen || !okClose {
			continue
		}
		if j, dup := first[rd.Date]; dup {
			p.add(path+".date", "%s is already days[%d]", rd.Date, j)
			continue
		}
		first[rd.Date] = i
		y, m, d := date.Date()
		day := Day{
			Date:  rd.Date,
			Open:  time.Date(y, m, d, oh, om, 0, 0, loc),
			Close: time.Date(y, m, d, ch, cm, 0, 0, loc),
		}
		day.Closes = day.Close.Add(grace)
		if !day.Close.After(day.Open) {
			p.add(path+".close", "%s is not after the opening %s; write a close after midnight as 24:00 or later (24:30 is 00:30 the next morning)", rd.Close, rd.Open)
			continue
		}
		ok = append(ok, parsed{day, i})
	}
	slices.SortFunc(ok, func(a, b parsed) int { return a.Open.Compare(b.Open) })
	days := make([]Day, 0, len(ok))
	byDate := make(map[string]int, len(ok))
	for k, d := range ok {
		if k > 0 && d.Open.Before(ok[k-1].Closes) {
			prev := ok[k-1]
			p.add(fmt.Sprintf("days[%d].open", d.i), "overlaps days[%d] (%s), which closes at %s (its close plus close_grace)",
				prev.i, prev.Date, prev.Closes.Format("2006-01-02 15:04"))
		}
		byDate[d.Date] = len(days)
		days = append(days, d.Day)
	}
	return days, byDate
}

// parseClock reads "HH:MM" with HH up to maxCloseHour.
func parseClock(s string) (h, m int, ok bool) {
	sub := reClock.FindStringSubmatch(s)
	if sub == nil {
		return 0, 0, false
	}
	h, _ = strconv.Atoi(sub[1])
	m, _ = strconv.Atoi(sub[2])
	return h, m, h <= maxCloseHour
}

// buildZones checks the zones and the tree they form, and returns the index
// of each valid id.
func buildZones(raw []rawZone, p *problems) map[string]int {
	if len(raw) == 0 {
		p.add("zones", "no zones; the first is the site, the zone that holds all others")
	}
	fileIndex := map[string]int{} // id → index of its first zone
	hashes := map[uint16]string{}
	for i, rz := range raw {
		path := fmt.Sprintf("zones[%d]", i)
		if checkID(p, "zones", i, rz.ID, fileIndex) {
			h := nameHash(rz.ID)
			if other, dup := hashes[h]; dup {
				p.add(path+".id", "%q has the same ticket hash (%04x) as zone %q; rename one", rz.ID, h, other)
			}
			hashes[h] = rz.ID
		}
		checkText(p, path+".name", rz.Name)
		checkZoneFigures(p, path, rz)
	}

	var roots []int
	for i, rz := range raw {
		path := fmt.Sprintf("zones[%d].parent", i)
		switch _, known := fileIndex[rz.Parent]; {
		case rz.Parent == "":
			roots = append(roots, i)
		case !known:
			p.add(path, "unknown zone %q", rz.Parent)
		}
	}
	switch {
	case len(raw) > 0 && len(roots) == 0:
		p.add("zones", "no root: one zone, the site, must have no parent")
	case len(roots) > 1:
		for _, i := range roots[1:] {
			p.add(fmt.Sprintf("zones[%d].parent", i), "required: only one zone, the site (zones[%d]), has no parent", roots[0])
		}
	}
	reportCycles(raw, fileIndex, p)
	return fileIndex
}

// reportCycles finds the zones whose parents lead back to them, in time
// linear in the number of zones, and reports each cycle once, at its first
// zone in the file.
func reportCycles(raw []rawZone, fileIndex map[string]int, p *problems) {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]int, len(raw))
	parentOf := func(i int) (int, bool) {
		j, known := fileIndex[raw[i].Parent]
		return j, known && raw[i].Parent != ""
	}
	for start := range raw {
		if fileIndex[raw[start].ID] != start {
			continue // a duplicate id, reported already
		}
		var path []int
		i, ok := start, true
		for ok && state[i] == unvisited {
			state[i] = onPath
			path = append(path, i)
			i, ok = parentOf(i)
		}
		if ok && state[i] == onPath { // back on this walk: a cycle from i
			first := slices.Index(path, i)
			member := slices.Min(path[first:])
			chain := []string{raw[member].ID}
			for j, _ := parentOf(member); ; j, _ = parentOf(j) {
				chain = append(chain, raw[j].ID)
				if j == member {
					break
				}
			}
			p.add(fmt.Sprintf("zones[%d].parent", member), "cycle: %s", strings.Join(chain, " → "))
		}
		for _, j := range path {
			state[j] = done
		}
	}
}

// checkZoneFigures checks a zone's kind and figures, then its capacity.
func checkZoneFigures(p *problems, path string, rz rawZone) {
	before := len(p.errs)
	if _, known := kindDefaults[rz.Kind]; !known {
		if rz.Kind == "" {
			p.add(path+".kind", "required: site, hall, standing or seated")
		} else {
			p.add(path+".kind", "%q: want site, hall, standing or seated", rz.Kind)
		}
	}
	number := func(field string, x float64, max float64) bool {
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			p.add(path+"."+field, "want a finite number")
		case x < 0:
			p.add(path+"."+field, "%s is negative", num(x))
		case x > max:
			p.add(path+"."+field, "%s is over the limit of %s", num(x), num(max))
		default:
			return true
		}
		return false
	}
	if number("net_area", rz.NetArea, maxArea) && rz.NetArea == 0 && rz.Authority <= 0 {
		p.add(path+".net_area", "required (m², above 0) unless an authority figure is given")
	}
	if rz.AreaPerPerson != nil && number("area_per_person", *rz.AreaPerPerson, maxAreaPerPerson) &&
		*rz.AreaPerPerson > 0 && *rz.AreaPerPerson < minAreaPerPerson {
		p.add(path+".area_per_person", "%s m²/person is over 5 persons/m², a dangerous crowd; want at least %s",
			num(*rz.AreaPerPerson), num(minAreaPerPerson))
	}
	if rz.DesignDensity != nil {
		number("design_density", *rz.DesignDensity, maxDensity)
	}
	number("exit_width", rz.ExitWidth, maxExitWidth)
	switch {
	case rz.Authority < 0:
		p.add(path+".authority", "%d is negative", rz.Authority)
	case rz.Authority > maxAuthority:
		p.add(path+".authority", "%d is over the limit of %d", rz.Authority, int(maxAuthority))
	}
	if len(p.errs) > before || p.undecodedUnder(path) {
		return // the capacity of bad figures would only add noise
	}
	z := zoneOf(rz)
	if z.Capacity <= 0 {
		p.add(path, "capacity is 0 (%s)", z.CapacityExplained())
	}
}

// zoneOf turns a checked raw zone into a Zone with its defaults and
// capacity.
func zoneOf(rz rawZone) *Zone {
	d := kindDefaults[rz.Kind]
	z := &Zone{
		ID: rz.ID, Parent: rz.Parent, Name: rz.Name, Kind: rz.Kind,
		NetArea: rz.NetArea, AreaPerPerson: d.areaPerPerson, DesignDensity: d.density,
		ExitWidth: rz.ExitWidth, Authority: rz.Authority, Hash: nameHash(rz.ID),
	}
	if rz.AreaPerPerson != nil {
		z.AreaPerPerson = *rz.AreaPerPerson
	}
	if rz.DesignDensity != nil {
		z.DesignDensity = *rz.DesignDensity
	}
	z.computeCapacity()
	return z
}

func buildGates(raw []rawGate, zones map[string]int, p *problems) []*Gate {
	gates := make([]*Gate, 0, len(raw))
	seen := map[string]int{}
	for i, rg := range raw {
		path := fmt.Sprintf("gates[%d]", i)
		checkID(p, "gates", i, rg.ID, seen)
		checkText(p, path+".name", rg.Name)
		if _, known := zones[rg.Zone]; !known {
			if rg.Zone == "" {
				p.add(path+".zone", "required: the zone the gate leads into")
			} else {
				p.add(path+".zone", "unknown zone %q", rg.Zone)
			}
		}
		lanes := 1 // a gate is at least one lane; most files need not say
		if rg.Lanes != nil {
			lanes = *rg.Lanes
		}
		if lanes < 1 || lanes > maxLanes {
			p.add(path+".lanes", "%d: want 1 to %d", lanes, maxLanes)
		}
		gates = append(gates, &Gate{ID: rg.ID, Name: rg.Name, Zone: rg.Zone, Lanes: lanes})
	}
	return gates
}

func buildTypes(raw []rawTicketType, zones map[string]int, days map[string]int, p *problems) []*TicketType {
	types := make([]*TicketType, 0, len(raw))
	seen := map[string]int{}
	hashes := map[uint16]string{}
	for i, rt := range raw {
		path := fmt.Sprintf("ticket_types[%d]", i)
		if checkID(p, "ticket_types", i, rt.ID, seen) {
			h := nameHash(rt.ID)
			if other, dup := hashes[h]; dup {
				p.add(path+".id", "%q has the same ticket hash (%04x) as ticket type %q; rename one", rt.ID, h, other)
			}
			hashes[h] = rt.ID
		}
		checkText(p, path+".name", rt.Name)
		for k, z := range rt.Zones {
			if _, known := zones[z]; !known {
				p.add(fmt.Sprintf("%s.zones[%d]", path, k), "unknown zone %q", z)
			}
		}
		for k, d := range rt.Days {
			if _, known := days[d]; !known {
				p.add(fmt.Sprintf("%s.days[%d]", path, k), "%q is not an event day", d)
			}
		}
		types = append(types, &TicketType{
			ID: rt.ID, Name: rt.Name, Reentry: rt.Reentry, Hash: nameHash(rt.ID),
			Zones: slices.Clone(rt.Zones), Days: slices.Clone(rt.Days),
		})
	}
	return types
}

// num writes a figure as a person would, and a huge one in e-notation.
func num(x float64) string {
	if math.Abs(x) >= 1e15 {
		return strconv.FormatFloat(x, 'g', 4, 64)
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}
