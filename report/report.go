package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
)

// Source is what a report reads of the ledger (*ledger.Store). Both reads
// are single script calls; implementations are safe for concurrent use.
type Source interface {
	// DayFields reads the report counters of one day, YYYY-MM-DD.
	DayFields(ctx context.Context, date string) (map[string]string, error)
	// EventFields reads the event-wide counters of the zones.
	EventFields(ctx context.Context) (map[string]string, error)
}

// All is the scope of the whole event.
const All = "all"

// ErrScope marks a scope that is not "all" nor a day of the event: a
// malformed date, or a date the event does not have.
var ErrScope = errors.New("bad report day")

// ErrNoDay marks a well-formed date that is not a day of the event.
var ErrNoDay = fmt.Errorf("%w: not a day of the event", ErrScope)

// ParseScope checks a scope given by a user: "all", or a date
// (YYYY-MM-DD) that is one of ev's days.
func ParseScope(ev *event.Event, s string) (string, error) {
	if s == All {
		return All, nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != len(time.DateOnly) {
		return "", fmt.Errorf("%w: %.40q: want YYYY-MM-DD or %q", ErrScope, s, All)
	}
	if ev.DayIndex(s) >= 0 {
		return s, nil
	}
	return "", fmt.Errorf("%w: %s (the event runs %s to %s)", ErrNoDay, s, ev.Days[0].Date, ev.Days[len(ev.Days)-1].Date)
}

// Text is a name in the three languages.
type Text struct {
	AR string `json:"ar"`
	FR string `json:"fr"`
	EN string `json:"en"`
}

func textOf(t event.Text) Text { return Text{AR: t.AR, FR: t.FR, EN: t.EN} }

// In returns the text in lang, falling back as event.Text does.
func (t Text) In(lang string) string { return event.Text{AR: t.AR, FR: t.FR, EN: t.EN}.In(lang) }

// Report is the attendance report of one day or of the whole event.
type Report struct {
	Event    string `json:"event"`
	Name     Text   `json:"name"`
	Venue    string `json:"venue"`
	TimeZone string `json:"time_zone"`
	// Scope is the day reported, YYYY-MM-DD, or "all".
	Scope string `json:"scope"`
	// EventDays are the dates of every day of the event.
	EventDays []string `json:"event_days"`
	// Zones describe the event's zones, in the event file's order (the
	// tree, root first).
	Zones []Zone `json:"zones"`
	// Days are the days reported: one, or every day of the event.
	Days []Day `json:"days"`
	// Total is the whole event; only when Scope is "all".
	Total *Total `json:"total,omitempty"`
}

// Zone is a zone as the report names it.
type Zone struct {
	ID       string `json:"id"`
	Name     Text   `json:"name"`
	Parent   string `json:"parent"`
	Capacity int    `json:"capacity"`
}

// Day is one event day.
type Day struct {
	Date  string `json:"date"`
	Open  string `json:"open"`  // RFC 3339, event time zone
	Close string `json:"close"` // the end of entry; the day closes after close_grace
	// ClosedAt is when the ledger closed the day; null while it is open.
	ClosedAt *string      `json:"closed_at"`
	Zones    []ZoneFigure `json:"zones"`
	Hours    []Hour       `json:"hours"`
	Gates    []Gate       `json:"gates"`
}

// ZoneFigure is one zone's figures over a day, or over the event (Total).
type ZoneFigure struct {
	Zone           string  `json:"zone"`
	Entries        int     `json:"entries"`
	Exits          int     `json:"exits"`
	UniqueVisitors int     `json:"unique_visitors"`
	PeakOccupancy  int     `json:"peak_occupancy"`
	PeakAt         *string `json:"peak_at"`
	TallyIn        int     `json:"tally_in"`
	TallyOut       int     `json:"tally_out"`
	// Stays is the number of completed stays the dwell figures are of.
	Stays       int            `json:"stays"`
	DwellMedian *int           `json:"dwell_median_minutes"`
	DwellP90    *int           `json:"dwell_p90_minutes"`
	Refusals    map[string]int `json:"refusals"`
	Swept       int            `json:"swept"`
	SweptTally  int            `json:"swept_tally"`

	dwell map[int]int // minutes -> stays, for the event's total
}

// Hour is one clock hour of a day.
type Hour struct {
	Hour  string       `json:"hour"` // "HH", event time zone
	Start string       `json:"start"`
	Zones []HourFigure `json:"zones"`
}

// HourFigure is one zone in one hour.
type HourFigure struct {
	Zone     string `json:"zone"`
	Entries  int    `json:"entries"`
	Exits    int    `json:"exits"`
	TallyIn  int    `json:"tally_in"`
	TallyOut int    `json:"tally_out"`
	// Occupancy at the end of the hour.
	Occupancy int `json:"occupancy"`
}

// Gate is one gate's figures over a day, or over the event.
type Gate struct {
	Gate string `json:"gate"`
	Name Text   `json:"name"`
	Zone string `json:"zone"`
	// Scans counts scans and tallies decided at the gate, refusals
	// included, replays not.
	Scans int `json:"scans"`
	// BusiestMinute is the start of the minute with the most scans (the
	// earliest of equals); null without scans.
	BusiestMinute    *string `json:"busiest_minute"`
	BusiestScans     int     `json:"busiest_minute_scans"`
	OfflineUploads   int     `json:"offline_uploads"`
	OfflineOverrides int     `json:"offline_overrides"`
	IDConflicts      int     `json:"id_conflicts"`
}

// Total is the whole event: per zone the sums over the days (peak: the
// highest; unique visitors: over all days), per gate the sums.
type Total struct {
	Zones []ZoneFigure `json:"zones"`
	Gates []Gate       `json:"gates"`
}

// Build reads the report of scope ("all" or a day of ev, as ParseScope
// returns) from src: one read per day reported, and one of the event-wide
// counters for "all".
func Build(ctx context.Context, src Source, ev *event.Event, scope string) (*Report, error) {
	scope, err := ParseScope(ev, scope)
	if err != nil {
		return nil, err
	}
	r := &Report{Event: ev.ID, Name: textOf(ev.Name), Venue: ev.Venue, TimeZone: ev.TimeZone, Scope: scope,
		EventDays: []string{}, Zones: []Zone{}, Days: []Day{}}
	for _, d := range ev.Days {
		r.EventDays = append(r.EventDays, d.Date)
	}
	for _, z := range ev.Zones {
		r.Zones = append(r.Zones, Zone{ID: z.ID, Name: textOf(z.Name), Parent: z.Parent, Capacity: z.Capacity})
	}
	for _, d := range ev.Days {
		if scope != All && d.Date != scope {
			continue
		}
		fields, err := src.DayFields(ctx, d.Date)
		if err != nil {
			return nil, err
		}
		r.Days = append(r.Days, buildDay(ev, d, fields))
	}
	if scope == All {
		fields, err := src.EventFields(ctx)
		if err != nil {
			return nil, err
		}
		r.Total = buildTotal(ev, r.Days, fields)
	}
	return r, nil
}

// fields reads the integer counters of one hash.
type fields map[string]string

func (f fields) int(key string) int {
	n, _ := strconv.Atoi(f[key])
	return n
}

func (f fields) has(key string) bool { _, ok := f[key]; return ok }

func stamp(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.RFC3339) }

// FormatStamp shows a time of the report (RFC 3339 with the event's offset,
// so local time) in layout; none for no time, and the text itself when it
// is not such a time.
func FormatStamp(s *string, layout, none string) string {
	if s == nil {
		return none
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return *s
	}
	return t.Format(layout)
}

func msStamp(ms string, loc *time.Location) *string {
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n == 0 {
		return nil
	}
	s := stamp(time.UnixMilli(n), loc)
	return &s
}

func buildDay(ev *event.Event, d event.Day, raw map[string]string) Day {
	f := fields(raw)
	loc := ev.Location
	day := Day{Date: d.Date, Open: stamp(d.Open, loc), Close: stamp(d.Close, loc),
		ClosedAt: msStamp(f["|closed"], loc), Zones: []ZoneFigure{}, Hours: []Hour{}, Gates: []Gate{}}
	for _, z := range ev.Zones {
		day.Zones = append(day.Zones, zoneFigure(f, z.ID, loc))
	}
	day.Hours = hours(ev, d, f)
	for _, g := range ev.Gates {
		day.Gates = append(day.Gates, gateFigure(f, g, d.Date, loc))
	}
	return day
}

func zoneFigure(f fields, z string, loc *time.Location) ZoneFigure {
	p := z + "|"
	zf := ZoneFigure{Zone: z, Entries: f.int(p + "in"), Exits: f.int(p + "out"), UniqueVisitors: f.int(p + "uv"),
		PeakOccupancy: f.int(p + "peak"), PeakAt: msStamp(f[p+"peak_at"], loc),
		TallyIn: f.int(p + "tin"), TallyOut: f.int(p + "tout"), Refusals: map[string]int{},
		Swept: f.int(p + "swept"), SweptTally: f.int(p + "swept_tally"), dwell: map[int]int{}}
	for k, v := range f {
		rest, ok := strings.CutPrefix(k, p)
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(v)
		if code, ok := strings.CutPrefix(rest, "r:"); ok && n != 0 {
			zf.Refusals[code] = n
		}
		if m, ok := strings.CutPrefix(rest, "dw:"); ok {
			if mins, err := strconv.Atoi(m); err == nil && n > 0 {
				zf.dwell[mins] += n
			}
		}
	}
	zf.setDwell()
	return zf
}

// setDwell sets the dwell figures from the histogram of stays.
func (zf *ZoneFigure) setDwell() {
	zf.Stays, zf.DwellMedian, zf.DwellP90 = 0, nil, nil
	for _, n := range zf.dwell {
		zf.Stays += n
	}
	if zf.Stays == 0 {
		return
	}
	mins := slices.Sorted(maps.Keys(zf.dwell))
	zf.DwellMedian = Percentile(zf.dwell, mins, zf.Stays, 50)
	zf.DwellP90 = Percentile(zf.dwell, mins, zf.Stays, 90)
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of n
// values given as a histogram (value -> count) and its values sorted: the
// smallest value v such that at least ceil(p*n/100) values are <= v.
func Percentile(hist map[int]int, sorted []int, n, p int) *int {
	rank := (p*n + 99) / 100
	if rank < 1 {
		rank = 1
	}
	cum := 0
	for _, v := range sorted {
		cum += hist[v]
		if cum >= rank {
			return &v
		}
	}
	return nil
}

// hours lists the clock hours of day d: those of its opening hours up to
// its closing (end of entry plus the event's close_grace), and any other hour that has a
// figure, in the day's order (from the opening hour round the clock), with
// the occupancy carried forward from the start of the day (empty).
func hours(ev *event.Event, d event.Day, f fields) []Hour {
	loc := ev.Location
	open := d.Open.In(loc)
	start := time.Date(open.Year(), open.Month(), open.Day(), open.Hour(), 0, 0, 0, loc)
	want := map[int]bool{}
	for t := start; t.Before(d.Closes); t = t.Add(time.Hour) {
		want[t.In(loc).Hour()] = true
	}
	for k := range f {
		// "<zone>|hHH|..."
		if _, rest, ok := strings.Cut(k, "|h"); ok && len(rest) > 3 && rest[2] == '|' {
			if h, err := strconv.Atoi(rest[:2]); err == nil && h >= 0 && h < 24 {
				want[h] = true
			}
		}
	}
	order := slices.SortedFunc(maps.Keys(want), func(a, b int) int {
		return cmp.Compare((a-open.Hour()+24)%24, (b-open.Hour()+24)%24)
	})
	// After the closing everyone is outside: an hour that ends after it
	// ends empty, whoever the sweep took out.
	var closed time.Time
	if ms, err := strconv.ParseInt(f["|closed"], 10, 64); err == nil && ms > 0 {
		closed = time.UnixMilli(ms)
	}
	occ := map[string]int{}
	out := make([]Hour, 0, len(order))
	for _, h := range order {
		hh := fmt.Sprintf("%02d", h)
		at := start.Add(time.Duration((h-open.Hour()+24)%24) * time.Hour)
		hr := Hour{Hour: hh, Start: stamp(at, loc), Zones: make([]HourFigure, 0, len(ev.Zones))}
		for _, z := range ev.Zones {
			p := z.ID + "|h" + hh + "|"
			switch {
			case !closed.IsZero() && at.Add(time.Hour).After(closed):
				occ[z.ID] = 0
			case f.has(p + "occ"):
				occ[z.ID] = f.int(p + "occ")
			}
			hr.Zones = append(hr.Zones, HourFigure{Zone: z.ID, Entries: f.int(p + "in"), Exits: f.int(p + "out"),
				TallyIn: f.int(p + "tin"), TallyOut: f.int(p + "tout"), Occupancy: occ[z.ID]})
		}
		out = append(out, hr)
	}
	return out
}

func gateFigure(f fields, g *event.Gate, date string, loc *time.Location) Gate {
	p := "|g|" + g.ID + "|"
	gf := Gate{Gate: g.ID, Name: textOf(g.Name), Zone: g.Zone, Scans: f.int(p + "scans"),
		OfflineUploads: f.int(p + "offline"), OfflineOverrides: f.int(p + "ovr"), IDConflicts: f.int(p + "conflict")}
	best := ""
	for k, v := range f {
		m, ok := strings.CutPrefix(k, p+"m")
		if !ok || len(m) != 4 {
			continue
		}
		n, _ := strconv.Atoi(v)
		if n > gf.BusiestScans || (n == gf.BusiestScans && n > 0 && m < best) {
			gf.BusiestScans, best = n, m
		}
	}
	if best != "" {
		if t, err := time.ParseInLocation("2006-01-02 1504", date+" "+best, loc); err == nil {
			s := stamp(t, loc)
			gf.BusiestMinute = &s
		}
	}
	return gf
}

// buildTotal sums the days: counts add up, the peak is the highest (the
// earliest of equals), dwell pools every day's stays, a gate's busiest
// minute is the busiest of any day; unique visitors come from the
// event-wide counters, since a visitor who came on two days is one.
func buildTotal(ev *event.Event, days []Day, raw map[string]string) *Total {
	f := fields(raw)
	t := &Total{Zones: []ZoneFigure{}, Gates: []Gate{}}
	for i, z := range ev.Zones {
		tz := ZoneFigure{Zone: z.ID, Refusals: map[string]int{}, dwell: map[int]int{},
			UniqueVisitors: f.int(z.ID + "|uv")}
		for _, d := range days {
			zf := d.Zones[i]
			tz.Entries += zf.Entries
			tz.Exits += zf.Exits
			tz.TallyIn += zf.TallyIn
			tz.TallyOut += zf.TallyOut
			tz.Swept += zf.Swept
			tz.SweptTally += zf.SweptTally
			if zf.PeakOccupancy > tz.PeakOccupancy {
				tz.PeakOccupancy, tz.PeakAt = zf.PeakOccupancy, zf.PeakAt
			}
			for c, n := range zf.Refusals {
				tz.Refusals[c] += n
			}
			for m, n := range zf.dwell {
				tz.dwell[m] += n
			}
		}
		tz.setDwell()
		t.Zones = append(t.Zones, tz)
	}
	for i, g := range ev.Gates {
		tg := Gate{Gate: g.ID, Name: textOf(g.Name), Zone: g.Zone}
		for _, d := range days {
			dg := d.Gates[i]
			tg.Scans += dg.Scans
			tg.OfflineUploads += dg.OfflineUploads
			tg.OfflineOverrides += dg.OfflineOverrides
			tg.IDConflicts += dg.IDConflicts
			if dg.BusiestScans > tg.BusiestScans {
				tg.BusiestScans, tg.BusiestMinute = dg.BusiestScans, dg.BusiestMinute
			}
		}
		t.Gates = append(t.Gates, tg)
	}
	return t
}

// RefusalCodes are the codes a refusal can have, in the order reports
// show them.
func RefusalCodes() []string {
	var out []string
	for _, c := range checkin.Codes {
		if c != checkin.Accepted {
			out = append(out, string(c))
		}
	}
	return out
}
