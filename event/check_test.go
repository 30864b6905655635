package event_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
)

// pass builds a pass of the real event's type, with the ticket's own days
// and zones.
func pass(tb testing.TB, e *event.Event, typ string, days, zones []string) event.Pass {
	tb.Helper()
	tt := e.TicketType(typ)
	if tt == nil {
		tb.Fatalf("no ticket type %q", typ)
	}
	return event.Pass{TicketID: "k3f", Type: tt, Days: days, Zones: zones, Reentry: tt.Reentry}
}

func TestCheck(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	loc := MustLocation(t, "Africa/Casablanca")
	at := func(day, h, m, s int) time.Time { return time.Date(2025, 9, day, h, m, s, 0, loc) }
	day17 := []string{"2025-09-17"}
	day18 := []string{"2025-09-18"}
	day22 := []string{"2025-09-22"}

	tests := map[string]struct {
		pass event.Pass
		gate string
		dir  checkin.Direction
		at   time.Time
		want checkin.Code
	}{
		"visitor at opening":                {pass(t, e, "visitor", day17, nil), "MAIN-1", checkin.In, at(17, 10, 0, 0), checkin.Accepted},
		"visitor a second early":            {pass(t, e, "visitor", day17, nil), "MAIN-1", checkin.In, at(17, 9, 59, 59), checkin.Closed},
		"visitor a second before close":     {pass(t, e, "visitor", day17, nil), "MAIN-1", checkin.In, at(17, 21, 59, 59), checkin.Accepted},
		"visitor at close":                  {pass(t, e, "visitor", day17, nil), "MAIN-1", checkin.In, at(17, 22, 0, 0), checkin.Closed},
		"visitor on the wrong day":          {pass(t, e, "visitor", day17, nil), "MAIN-1", checkin.In, at(18, 12, 0, 0), checkin.NotValidToday},
		"wrong day beats closed":            {pass(t, e, "visitor", day18, nil), "MAIN-1", checkin.In, at(17, 8, 0, 0), checkin.NotValidToday},
		"wrong day beats no access":         {pass(t, e, "visitor", day18, nil), "WORKSHOPS", checkin.In, at(17, 12, 0, 0), checkin.NotValidToday},
		"closed beats no access":            {pass(t, e, "visitor", day17, nil), "WORKSHOPS", checkin.In, at(17, 23, 0, 0), checkin.Closed},
		"the day before the fair":           {pass(t, e, "exhibitor", nil, nil), "MAIN-1", checkin.In, at(16, 12, 0, 0), checkin.Closed},
		"the day after the fair":            {pass(t, e, "exhibitor", nil, nil), "MAIN-1", checkin.In, at(23, 12, 0, 0), checkin.Closed},
		"type valid every day":              {pass(t, e, "visitor", nil, nil), "HALL-TERROIR", checkin.In, at(20, 15, 0, 0), checkin.Accepted},
		"last evening before midnight":      {pass(t, e, "visitor", day22, nil), "STAGE", checkin.In, at(22, 23, 59, 59), checkin.Accepted},
		"last evening at midnight":          {pass(t, e, "visitor", day22, nil), "STAGE", checkin.In, at(23, 0, 0, 0), checkin.Closed},
		"other evenings close at 22:00":     {pass(t, e, "visitor", nil, nil), "STAGE", checkin.In, at(21, 23, 0, 0), checkin.Closed},
		"visitor into the workshops":        {pass(t, e, "visitor", day17, nil), "WORKSHOPS", checkin.In, at(17, 12, 0, 0), checkin.NoAccess},
		"workshop participant":              {pass(t, e, "workshop", nil, nil), "WORKSHOPS", checkin.In, at(17, 12, 0, 0), checkin.Accepted},
		"workshop participant onto site":    {pass(t, e, "workshop", nil, nil), "MAIN-1", checkin.In, at(17, 12, 0, 0), checkin.Accepted},
		"workshop participant into a hall":  {pass(t, e, "workshop", nil, nil), "HALL-CRAFTS", checkin.In, at(17, 12, 0, 0), checkin.NoAccess},
		"exhibitor into the workshops":      {pass(t, e, "exhibitor", nil, nil), "WORKSHOPS", checkin.In, at(19, 12, 0, 0), checkin.Accepted},
		"ticket narrows its type's zones":   {pass(t, e, "staff", nil, []string{"hall-crafts"}), "PAVILION", checkin.In, at(19, 12, 0, 0), checkin.NoAccess},
		"ticket's own zone":                 {pass(t, e, "staff", nil, []string{"hall-crafts"}), "HALL-CRAFTS", checkin.In, at(19, 12, 0, 0), checkin.Accepted},
		"ticket's days override the type's": {pass(t, e, "exhibitor", day18, nil), "MAIN-1", checkin.In, at(19, 12, 0, 0), checkin.NotValidToday},
		"exit at night":                     {pass(t, e, "visitor", day17, nil), "EXIT-1", checkin.Out, at(17, 23, 30, 0), checkin.Accepted},
		"exit on the wrong day":             {pass(t, e, "visitor", day17, nil), "EXIT-1", checkin.Out, at(19, 12, 0, 0), checkin.Accepted},
		"exit from a forbidden zone":        {pass(t, e, "visitor", day17, nil), "WORKSHOPS", checkin.Out, at(17, 12, 0, 0), checkin.Accepted},
		"exit long after the fair":          {pass(t, e, "visitor", day17, nil), "MAIN-1", checkin.Out, time.Date(2026, 1, 1, 0, 0, 0, 0, loc), checkin.Accepted},
		"exit without a type":               {event.Pass{TicketID: "x"}, "MAIN-1", checkin.Out, at(17, 12, 0, 0), checkin.Accepted},
		"entry without a type":              {event.Pass{TicketID: "x"}, "MAIN-1", checkin.In, at(17, 12, 0, 0), checkin.InvalidTicket},
		"entry at no gate":                  {pass(t, e, "visitor", day17, nil), "NOWHERE", checkin.In, at(17, 12, 0, 0), checkin.UnknownGate},
		"exit at no gate":                   {pass(t, e, "visitor", day17, nil), "NOWHERE", checkin.Out, at(17, 12, 0, 0), checkin.Accepted},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := e.Check(tc.pass, e.Gate(tc.gate), tc.dir, tc.at); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// A gate of another event leads to no zone of this one.
func TestCheckForeignGate(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	other := MustLoad(t, "testdata/minimal.yaml")
	loc := MustLocation(t, "Africa/Casablanca")
	p := pass(t, e, "exhibitor", nil, nil)
	g := &event.Gate{ID: "MAIN", Zone: other.Zone("hall").ID, Lanes: 1}
	if got, want := e.Check(p, g, checkin.In, time.Date(2025, 9, 17, 12, 0, 0, 0, loc)), checkin.UnknownGate; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAllows(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	tests := map[string]struct {
		pass event.Pass
		want []string // the zones allowed, in pre-order
	}{
		"visitor":           {pass(t, e, "visitor", nil, nil), []string{"site", "hall-crafts", "hall-terroir", "pavilion", "stage"}},
		"exhibitor":         {pass(t, e, "exhibitor", nil, nil), zoneIDs(e.Zones)},
		"workshop":          {pass(t, e, "workshop", nil, nil), []string{"site", "workshops"}},
		"own zones":         {pass(t, e, "exhibitor", nil, []string{"stage", "pavilion"}), []string{"site", "pavilion", "stage"}},
		"own zone the site": {pass(t, e, "staff", nil, []string{"site"}), []string{"site"}},
		"unknown own zone":  {pass(t, e, "staff", nil, []string{"hal"}), nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, z := range e.Zones {
				if e.Allows(tc.pass, z) {
					got = append(got, z.ID)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if e.Allows(pass(t, e, "staff", nil, nil), nil) {
		t.Error("allows a nil zone")
	}
}

// A zone inside an allowed zone is not allowed by it: a lounge in a hall
// keeps its own tickets.
func TestAllowsNested(t *testing.T) {
	e := MustParse(t, nested+`
ticket_types:
  - {id: hall, name: {ar: قاعة, fr: Hall, en: Hall}, zones: [hall]}
  - {id: lounge, name: {ar: صالة, fr: Salon VIP, en: Lounge}, zones: [lounge]}
`)
	tests := map[string]struct {
		typ  string
		want []string
	}{
		"hall":   {"hall", []string{"site", "hall"}},
		"lounge": {"lounge", []string{"site", "hall", "lounge"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := event.Pass{TicketID: "x", Type: e.TicketType(tc.typ)}
			var got []string
			for _, z := range e.Zones {
				if e.Allows(p, z) {
					got = append(got, z.ID)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDayIndex: a date finds its day's place in Days; any other text, none.
func TestDayIndex(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	for i, d := range e.Days {
		if got := e.DayIndex(d.Date); got != i {
			t.Errorf("DayIndex(%q) = %d, want %d", d.Date, got, i)
		}
	}
	for _, date := range []string{"2025-09-16", "2025-09-23", "2025-9-17", "17/09/2025", ""} {
		if got := e.DayIndex(date); got != -1 {
			t.Errorf("DayIndex(%q) = %d, want -1: not a day of the event", date, got)
		}
	}
}

// Morocco is UTC+1 but for Ramadan: between 00:00 and 01:00 local time the
// local date is a day ahead of UTC's, and the event day is the local one.
func TestDayOfCasablanca(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	loc := MustLocation(t, "Africa/Casablanca")
	tests := map[string]struct {
		at     time.Time
		want   string
		wantOK bool
	}{
		"half past midnight local, still the 16th in UTC": {time.Date(2025, 9, 17, 0, 30, 0, 0, loc).UTC(), "2025-09-17", true},
		"late on the 21st local":                          {time.Date(2025, 9, 21, 23, 30, 0, 0, loc).UTC(), "2025-09-21", true},
		"the last evening":                                {time.Date(2025, 9, 22, 23, 30, 0, 0, loc), "2025-09-22", true},
		"after the last close":                            {time.Date(2025, 9, 23, 0, 30, 0, 0, loc).UTC(), "", false},
		"the eve of the fair":                             {time.Date(2025, 9, 16, 23, 59, 59, 0, loc), "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, ok := e.DayOf(tc.at)
			if d.Date != tc.want || ok != tc.wantOK {
				t.Errorf("got %q %v, want %q %v", d.Date, ok, tc.want, tc.wantOK)
			}
		})
	}
	// The first case only tests something if the UTC date differs.
	if d := time.Date(2025, 9, 17, 0, 30, 0, 0, loc).UTC().Day(); d != 16 {
		t.Fatalf("00:30 on 17 September in Casablanca is on day %d in UTC, want 16: the time zone data changed", d)
	}
}

// During Ramadan Morocco moves to UTC+0; an event that spans the change
// opens at 10:00 local on both sides, an hour apart in UTC terms.
func TestRamadanSuspension(t *testing.T) {
	loc := MustLocation(t, "Africa/Casablanca")
	e := MustParse(t, `
id: ramadan-2026
name: {ar: معرض, fr: Salon, en: Fair}
time_zone: Africa/Casablanca
days:
  - {date: 2026-03-21, open: "10:00", close: "22:00"}
  - {date: 2026-03-22, open: "10:00", close: "22:00"}
zones:
  - {id: site, name: {ar: الموقع, fr: Site, en: Site}, kind: site, net_area: 1000}
`)
	_, before := e.Days[0].Open.Zone()
	_, after := e.Days[1].Open.Zone()
	if before == after {
		t.Fatalf("both days open at UTC offset %d: the time zone data has no Ramadan change in March 2026, so this test tests nothing", before)
	}
	tests := map[string]struct {
		at       time.Time
		wantDate string
		wantOpen bool
	}{
		"first day at 10:00":          {time.Date(2026, 3, 21, 10, 0, 0, 0, loc), "2026-03-21", true},
		"first day at 09:59":          {time.Date(2026, 3, 21, 9, 59, 0, 0, loc), "2026-03-21", false},
		"first day at 21:59":          {time.Date(2026, 3, 21, 21, 59, 0, 0, loc), "2026-03-21", true},
		"second day at 10:00":         {time.Date(2026, 3, 22, 10, 0, 0, 0, loc), "2026-03-22", true},
		"second day at 09:59":         {time.Date(2026, 3, 22, 9, 59, 0, 0, loc), "2026-03-22", false},
		"second day, first hour":      {time.Date(2026, 3, 22, 0, 30, 0, 0, loc), "2026-03-22", false},
		"second day, after the shift": {time.Date(2026, 3, 22, 3, 30, 0, 0, loc), "2026-03-22", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, ok := e.DayOf(tc.at.UTC())
			if !ok || d.Date != tc.wantDate {
				t.Fatalf("DayOf: got %q %v, want %q", d.Date, ok, tc.wantDate)
			}
			if got := d.IsOpen(tc.at); got != tc.wantOpen {
				t.Errorf("IsOpen: got %v, want %v", got, tc.wantOpen)
			}
		})
	}
}

// A close written after 24:00 belongs to its day: a scan at 00:15 is on the
// evening's ticket, not the next date's.
func TestCloseAfterMidnight(t *testing.T) {
	loc := MustLocation(t, "Africa/Casablanca")
	e := MustParse(t, `
id: late
name: {ar: معرض, fr: Salon, en: Fair}
time_zone: Africa/Casablanca
days:
  - {date: 2025-09-21, open: "10:00", close: "22:00"}
  - {date: 2025-09-22, open: "10:00", close: "24:30"}
  - {date: 2025-09-23, open: "10:00", close: "18:00"}
zones:
  - {id: site, name: {ar: الموقع, fr: Site, en: Site}, kind: site, net_area: 1000}
gates:
  - {id: MAIN, name: {ar: المدخل, fr: Entrée, en: Entrance}, zone: site}
ticket_types:
  - {id: visitor, name: {ar: زائر, fr: Visiteur, en: Visitor}}
`)
	if got, want := e.Days[1].Close, time.Date(2025, 9, 23, 0, 30, 0, 0, loc); !got.Equal(want) {
		t.Fatalf("close: got %s, want %s", got, want)
	}
	at := func(day, h, m int) time.Time { return time.Date(2025, 9, day, h, m, 0, 0, loc) }
	tests := map[string]struct {
		days []string
		at   time.Time
		want checkin.Code
	}{
		"the 22nd's ticket at 00:15":        {[]string{"2025-09-22"}, at(23, 0, 15), checkin.Accepted},
		"the 23rd's ticket at 00:15":        {[]string{"2025-09-23"}, at(23, 0, 15), checkin.NotValidToday},
		"the 22nd's ticket at 00:30":        {[]string{"2025-09-22"}, at(23, 0, 30), checkin.NotValidToday},
		"the 23rd's ticket at 00:30":        {[]string{"2025-09-23"}, at(23, 0, 30), checkin.Closed},
		"the 23rd's ticket at 10:00":        {[]string{"2025-09-23"}, at(23, 10, 0), checkin.Accepted},
		"the 21st's ticket after its close": {[]string{"2025-09-21"}, at(21, 23, 0), checkin.Closed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := event.Pass{TicketID: "x", Type: e.TicketType("visitor"), Days: tc.days}
			if got := e.Check(p, e.Gate("MAIN"), checkin.In, tc.at); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPassOf(t *testing.T) {
	e := MustLoad(t, ouarzazate)
	other := MustLoad(t, "testdata/minimal.yaml")
	visitor, workshops, stage := e.TicketType("visitor"), e.Zone("workshops"), e.Zone("stage")
	var strange uint16 // a hash that names no zone and no type
	for e.ZoneByHash(strange) != nil || e.TicketTypeByHash(strange) != nil {
		strange++
	}

	t.Run("resolves", func(t *testing.T) {
		days := []string{"2025-09-18"}
		p, err := e.PassOf(e.Hash(), "k3f", visitor.Hash, days, []uint16{stage.Hash, workshops.Hash}, true)
		if err != nil {
			t.Fatal(err)
		}
		if p.TicketID != "k3f" || p.Type != visitor || !slices.Equal(p.Days, days) ||
			!slices.Equal(p.Zones, []string{"stage", "workshops"}) || !p.Reentry {
			t.Errorf("got %+v", p)
		}
		days[0] = "changed"
		if p.Days[0] != "2025-09-18" {
			t.Error("the pass shares its days with the caller")
		}
	})
	t.Run("no own zones or days", func(t *testing.T) {
		p, err := e.PassOf(e.Hash(), "k3f", visitor.Hash, nil, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.Days != nil || p.Zones != nil || p.Reentry {
			t.Errorf("got %+v, want no days, no zones, no re-entry", p)
		}
	})

	tests := map[string]struct {
		event    [4]byte
		typeHash uint16
		zones    []uint16
		want     error
	}{
		"another event": {other.Hash(), visitor.Hash, nil, event.ErrForeignEvent},
		"unknown type":  {e.Hash(), strange, nil, event.ErrUnknownType},
		"unknown zone":  {e.Hash(), visitor.Hash, []uint16{stage.Hash, strange}, event.ErrUnknownZone},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := e.PassOf(tc.event, "k3f", tc.typeHash, nil, tc.zones, false)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
