package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"crowdflow/checkin"
)

// Counters are the live figures of one zone.
type Counters struct {
	Occupancy int // tickets inside it or a zone within it, plus the tally balances of it and the zones within it
	Entries   int // tickets that came in
	Exits     int // tickets that went out
	TallyIn   int
	TallyOut  int
	Tally     int // its own tally balance: people counted by tally in it and not in a zone within it
	Swept     int // tickets still inside it at a day's closing, over the whole event
	// UniqueVisitors counts the tickets that entered it, over the whole event.
	UniqueVisitors int
	ByType         map[string]int       // occupants with a ticket, by ticket type
	Refusals       map[checkin.Code]int // refused entries by code
}

func newCounters() *Counters {
	return &Counters{ByType: map[string]int{}, Refusals: map[checkin.Code]int{}}
}

// Counters reads the live counters of every zone of the event, including the
// zones nobody has entered yet.
func (s *Store) Counters(ctx context.Context) (map[string]*Counters, error) {
	cs, _, err := s.Snapshot(ctx)
	return cs, err
}

// Snapshot reads the live counters of every zone and, in the same atomic
// read, the sequence number of the last decided scan or tally: the counters
// are exactly those after the log entry with that Seq. Seq only grows.
func (s *Store) Snapshot(ctx context.Context) (map[string]*Counters, int64, error) {
	res, err := s.eng.Eval(ctx, ReadScript, []string{s.keys.zones}, "counters")
	if err != nil {
		return nil, 0, fmt.Errorf("read counters: %w", err)
	}
	fields, err := stringList(res)
	if err != nil {
		return nil, 0, fmt.Errorf("read counters: %w", err)
	}
	out := make(map[string]*Counters, len(s.zones))
	for id := range s.zones {
		out[id] = newCounters()
	}
	var seq int64
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "|seq" {
			seq, _ = strconv.ParseInt(fields[i+1], 10, 64)
			continue
		}
		zone, name, ok := strings.Cut(fields[i], "|")
		c := out[zone]
		if !ok || c == nil {
			continue // a zone no longer in the config
		}
		n, err := strconv.Atoi(fields[i+1])
		if err != nil {
			return nil, 0, fmt.Errorf("read counters: field %s: %w", fields[i], err)
		}
		switch {
		case name == "occ":
			c.Occupancy = n
		case name == "in":
			c.Entries = n
		case name == "out":
			c.Exits = n
		case name == "tin":
			c.TallyIn = n
		case name == "tout":
			c.TallyOut = n
		case name == "tally":
			c.Tally = n
		case name == "swept":
			c.Swept = n
		case name == "uv":
			c.UniqueVisitors = n
		case strings.HasPrefix(name, "t:"):
			c.ByType[name[2:]] = n
		case strings.HasPrefix(name, "r:"):
			c.Refusals[checkin.Code(name[2:])] = n
		}
	}
	return out, seq, nil
}

// DayFields reads the raw report counters of one day (YYYY-MM-DD, local to
// the event): "<zone>|in", "<zone>|h10|occ" and so on, as scan.lua writes them.
func (s *Store) DayFields(ctx context.Context, date string) (map[string]string, error) {
	out, err := s.readHash(ctx, s.keys.day(date), "day")
	if err != nil {
		return nil, fmt.Errorf("read day %s: %w", date, err)
	}
	return out, nil
}

// EventFields reads the raw event-wide counters of the zones hash:
// "<zone>|in", "<zone>|uv", "<zone>|swept" and so on, as the scripts write
// them. Reports read the fields Counters does not parse with it.
func (s *Store) EventFields(ctx context.Context) (map[string]string, error) {
	out, err := s.readHash(ctx, s.keys.zones, "counters")
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	return out, nil
}

// readHash reads a whole hash through read.lua's view of it, as a map.
func (s *Store) readHash(ctx context.Context, key, view string) (map[string]string, error) {
	res, err := s.eng.Eval(ctx, ReadScript, []string{key}, view)
	if err != nil {
		return nil, err
	}
	fields, err := stringList(res)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(fields)/2)
	for i := 0; i+1 < len(fields); i += 2 {
		out[fields[i]] = fields[i+1]
	}
	return out, nil
}

// Entry is one entry of the event log.
type Entry struct {
	ID        string // the log's own id, which orders entries
	Kind      string // "scan", "tally", "swept", "close", "conflict" or "revoke"
	Seq       int64  // scans and tallies: 1, 2, 3, ... in the order they were decided (see Snapshot)
	ScanID    string // the scan's or tally's id
	Device    string
	Gate      string
	Zone      string
	Direction checkin.Direction
	Ticket    string
	Type      string
	Code      checkin.Code
	Flags     checkin.Flags
	From, To  string // a scan's place before and after
	Delta     int    // a tally's requested delta
	Applied   int    // a tally's applied delta
	Moved     int    // a tally's people moved from (+) or to (-) the parent zone's tally balance
	// Day, Swept and SweptTally are a closing's (kind "close"): the day and
	// what it swept per zone (see Closing).
	Day               string
	Swept, SweptTally map[string]int
	At                time.Time
	DeviceAt          time.Time
}

// Log reads at most n entries of the event log from the entry with id from
// on ("-" for the beginning). Pass the last id read with a "(" before it to
// read on after it.
func (s *Store) Log(ctx context.Context, from string, n int) ([]Entry, error) {
	res, err := s.eng.Eval(ctx, ReadScript, []string{s.keys.log}, "log", from, strconv.Itoa(n))
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	items, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("read log: unexpected reply %T", res)
	}
	out := make([]Entry, 0, len(items))
	for _, it := range items {
		pair, ok := it.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("read log: unexpected entry %v", it)
		}
		id, _ := pair[0].(string)
		fields, err := stringList(pair[1])
		if err != nil {
			return nil, fmt.Errorf("read log %s: %w", id, err)
		}
		out = append(out, decodeEntry(id, fields))
	}
	return out, nil
}

// ReadLog reads the whole event log.
func (s *Store) ReadLog(ctx context.Context) ([]Entry, error) {
	const page = 1000
	var all []Entry
	from := "-"
	for {
		es, err := s.Log(ctx, from, page)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
		if len(es) < page {
			return all, nil
		}
		from = "(" + es[len(es)-1].ID
	}
}

func decodeEntry(id string, fields []string) Entry {
	e := Entry{ID: id}
	for i := 0; i+1 < len(fields); i += 2 {
		v := fields[i+1]
		switch fields[i] {
		case "kind":
			e.Kind = v
		case "seq":
			e.Seq, _ = strconv.ParseInt(v, 10, 64)
		case "id":
			e.ScanID = v
		case "device":
			e.Device = v
		case "gate":
			e.Gate = v
		case "zone":
			e.Zone = v
		case "dir":
			e.Direction = checkin.Direction(v)
		case "ticket":
			e.Ticket = v
		case "type":
			e.Type = v
		case "code":
			e.Code = checkin.Code(v)
		case "flags":
			e.Flags = checkin.ParseFlags(v)
		case "from":
			e.From = v
		case "to":
			e.To = v
		case "delta":
			e.Delta, _ = strconv.Atoi(v)
		case "applied":
			e.Applied, _ = strconv.Atoi(v)
		case "moved":
			e.Moved, _ = strconv.Atoi(v)
		case "day":
			e.Day = v
		case "swept":
			e.Swept = zoneCounts(v)
		case "swept_tally":
			e.SweptTally = zoneCounts(v)
		case "at":
			e.At = fromMillis(v)
		case "device_at":
			e.DeviceAt = fromMillis(v)
		}
	}
	return e
}

func fromMillis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Crossing is what one log entry moved across one zone's boundary.
type Crossing struct {
	Zone    string
	In, Out int  // people who came in, who went out
	Tally   bool // counted by tally; else a ticket
}

// Crossings lists the zone boundaries an accepted scan or applied tally of
// the log crossed, and how many people each way (docs/rules.md): a scan
// moving a ticket from From to To enters the zones above To that are not
// above From, and leaves those above From that are not above To; a tally
// crosses its zone's boundary, and those it did not move from the parent's
// tally balance cross every boundary above as well. parent gives a zone's
// parent, "" for the root. Recount and the live stream's flows both count
// with it, so they cannot disagree.
func Crossings(e Entry, parent func(zone string) string) []Crossing {
	var xs []Crossing
	switch {
	case e.Kind == "tally" && e.Applied > 0:
		xs = append(xs, Crossing{Zone: e.Zone, In: e.Applied, Tally: true})
		if extra := e.Applied - e.Moved; extra > 0 {
			for a := parent(e.Zone); a != ""; a = parent(a) {
				xs = append(xs, Crossing{Zone: a, In: extra, Tally: true})
			}
		}
	case e.Kind == "tally" && e.Applied < 0:
		xs = append(xs, Crossing{Zone: e.Zone, Out: -e.Applied, Tally: true})
	case e.Kind == "scan" && e.Code == checkin.Accepted && e.From != e.To:
		above := func(z string) map[string]bool {
			m := map[string]bool{}
			for ; z != ""; z = parent(z) {
				m[z] = true
			}
			return m
		}
		from, to := above(e.From), above(e.To)
		for z := e.From; z != ""; z = parent(z) {
			if !to[z] {
				xs = append(xs, Crossing{Zone: z, Out: 1})
			}
		}
		for z := e.To; z != ""; z = parent(z) {
			if !from[z] {
				xs = append(xs, Crossing{Zone: z, In: 1})
			}
		}
	}
	return xs
}

// Recount derives every zone's occupancy, entries, exits and tally figures
// from the event log alone, independently of the counters the scripts keep:
// the two must always agree (DESIGN: counters are derived from the log).
func Recount(zones []Zone, log []Entry) map[string]*Counters {
	parent := make(map[string]string, len(zones))
	out := make(map[string]*Counters, len(zones))
	for _, z := range zones {
		parent[z.ID] = z.Parent
		out[z.ID] = newCounters()
	}
	parentOf := func(z string) string { return parent[z] }
	ancestry := func(z string) []string { // z and the zones above it
		var zs []string
		for ; z != ""; z = parent[z] {
			zs = append(zs, z)
		}
		return zs
	}
	place := map[string]string{}
	types := map[string]string{}
	visited := map[[2]string]bool{} // zone, ticket
	visit := func(z, ticket string) {
		if c := out[z]; c != nil && !visited[[2]string{z, ticket}] {
			visited[[2]string{z, ticket}] = true
			c.UniqueVisitors++
		}
	}
	for _, e := range log {
		if c := out[e.Zone]; c != nil && (e.Kind == "scan" || e.Kind == "tally") && e.Code != checkin.Accepted {
			c.Refusals[e.Code]++
		}
		for _, x := range Crossings(e, parentOf) {
			c := out[x.Zone]
			switch {
			case c == nil:
			case x.Tally:
				c.TallyIn += x.In
				c.TallyOut += x.Out
			default:
				c.Entries += x.In
				c.Exits += x.Out
				if x.In > 0 {
					visit(x.Zone, e.Ticket)
				}
			}
		}
		if e.Kind == "scan" && e.Code == checkin.Accepted && e.Direction == checkin.In && e.Flags.Has(checkin.Superseded) {
			visit(e.Zone, e.Ticket)
		}
		switch {
		case e.Kind == "tally":
			// The tally balances: the zone's changes by what was applied;
			// its parent's gives what moved up, or takes what moved down.
			if c := out[e.Zone]; c != nil {
				c.Tally += e.Applied
			}
			if p := out[parent[e.Zone]]; p != nil {
				if e.Applied > 0 {
					p.Tally -= e.Moved
				} else {
					p.Tally -= e.Applied
				}
			}
		case e.Kind == "scan" && e.Code == checkin.Accepted && e.From != e.To:
			types[e.Ticket] = e.Type
			if e.To == "" {
				delete(place, e.Ticket)
			} else {
				place[e.Ticket] = e.To
			}
		case e.Kind == "swept":
			delete(place, e.Ticket)
			for _, a := range ancestry(e.Zone) {
				if c := out[a]; c != nil {
					c.Swept++
				}
			}
		case e.Kind == "close":
			for _, c := range out {
				c.Tally = 0
			}
		}
	}
	for ticket, z := range place {
		for _, a := range ancestry(z) {
			if c := out[a]; c != nil {
				c.Occupancy++
				c.ByType[types[ticket]]++
			}
		}
	}
	for z, c := range out {
		for _, a := range ancestry(z) {
			if ac := out[a]; ac != nil {
				ac.Occupancy += c.Tally
			}
		}
	}
	return out
}
