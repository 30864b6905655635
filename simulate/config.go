package simulate

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"crowdflow/event"
)

// Show is a folklore performance (or an honours ceremony) on the stage: Draw
// people rush in around Start and most stay until Start+Duration.
type Show struct {
	Start    time.Time
	Duration time.Duration
	// Draw is how many ticket holders already on the fair (or arriving for
	// the show) rush into the stage for it.
	Draw int
}

// End is when the show ends.
func (s Show) End() time.Time { return s.Start.Add(s.Duration) }

// Outage is a time when a gate's scanner is offline: it decides on its own
// (an exit is always let through) and uploads its scans when it is back,
// a minute after Until, the newest first.
type Outage struct {
	Gate        string
	From, Until time.Time
}

// Session is one training workshop: its participants go in a little before
// Start and come out at Start+Duration.
type Session struct {
	Start    time.Time
	Duration time.Duration
}

// Config is one simulated day. Counts of people are separate populations;
// EarlyArrivals, DoubleScans and WrongDoor pick people among them.
type Config struct {
	// Seed makes the plan: the same seed, event, key and config give the
	// same plan, to the byte.
	Seed uint64
	// Day is the event day to simulate, YYYY-MM-DD.
	Day string

	// Visitors hold a free day pass for Day (type "visitor").
	Visitors int
	// Walkins come without a ticket; a steward counts them at an entrance
	// by tally (+n for a family or group), and out at an exit (−n).
	Walkins int
	// Exhibitors hold an all-days, all-zones badge (type "exhibitor") and
	// spend the day at their stand, in the zone given by Stands.
	Exhibitors int
	// Staff (type "staff") go everywhere, all day.
	Staff int
	// Press (type "press") and Guests (type "guest", officials) visit the
	// public zones; guests take the morning tour and some return for the
	// evening show.
	Press, Guests int
	// WorkshopParticipants (type "workshop") attend one session each.
	WorkshopParticipants int

	// Shows on the stage.
	Shows []Show
	// Sessions in the workshop space; participants are spread over them.
	Sessions []Session

	// Forged payloads shown at an entrance: refused invalid_ticket, after
	// which the steward counts the person in by tally (entry is free).
	Forged int
	// WrongDay visitors bring the day pass of another day: refused
	// not_valid_today, then counted in by tally like the forged.
	WrongDay int
	// EarlyArrivals come before opening, half of them visitors (who rush
	// to no show), half exhibitors (fewer if there are not enough): refused
	// closed, they try again once the gates open.
	EarlyArrivals int
	// DoubleScans are visitors whose ticket is scanned twice in a row at
	// the entrance: the second scan is refused already_inside.
	DoubleScans int
	// WrongDoor try a door their ticket does not open (no_access): half of
	// them visitors at the workshop door, half workshop participants at a
	// hall's after their session. Some leave before they get to it.
	WrongDoor int

	// SiblingShare is the share of moves from one zone to another (both
	// inside the site) made without scanning out of the first: the entry
	// is flagged moved_from_sibling.
	SiblingShare float64
	// ReentryShare is the share of visitors who go out for a while (lunch,
	// prayer, the afternoon heat) and come back.
	ReentryShare float64
	// Outages are times when an exit gate of the site is offline. Only
	// visitors leaving for the day use an offline exit (those who step
	// out for a while take another door), and one in five of them is
	// scanned twice, a few seconds apart (the reader beeped faintly): the
	// upload, newest first, makes the first scan of the two superseded.
	Outages []Outage
	// UnscannedExitShare is the share of visitors who leave for the day
	// through a door without a scanner: their exit is never scanned, the
	// ledger has them inside until the day closes and sweeps them out.
	// DefaultConfig leaves it at 0 (a day that empties); DefaultFair sets it.
	UnscannedExitShare float64

	// Entrances and Exits are gates of the site. Everyone enters by an
	// entrance; most leave by an exit, a few by an entrance.
	Entrances, Exits []string
	// Stands is how many stands each zone holds; exhibitors are spread in
	// proportion. Zones of kind hall by capacity when empty.
	Stands map[string]int
	// Stage is the zone where the shows are; Workshop the zone of the
	// sessions.
	Stage, Workshop string
}

// The default figures. Every one is an assumption: the press release gives
// the exhibitors (about 320) and the nature of the fair, nothing about the
// public's numbers or habits.
const (
	// ASSUMPTION: Ouarzazate has about 70,000 inhabitants (300,000 in the
	// province); a free regional fair over six days draws some 18,000
	// visits, about 3,100 a day, of whom four in five take the free day
	// pass at the registration desk and the rest walk in and are counted by
	// tally.
	defaultVisitors = 2500
	defaultWalkins  = 600
	// FACTS: about 320 exhibitors from 160 cooperatives, plus 15
	// institutional stands.
	defaultExhibitors = 320
	// ASSUMPTION: organisers, stewards, cleaning and first aid.
	defaultStaff  = 40
	defaultPress  = 12
	defaultGuests = 25
	// ASSUMPTION: three sessions of about 30 participants (the workshop
	// space seats 100).
	defaultWorkshop = 90
	// ASSUMPTION: small slips, so that every refusal the gates can give on
	// a normal day shows up in the ground truth.
	defaultForged        = 8
	defaultWrongDay      = 10
	defaultEarlyArrivals = 20
	defaultDoubleScans   = 25
	defaultWrongDoor     = 15
	// ASSUMPTION: one move in twenty between halls skips the scan out;
	// one visitor in eight goes out and comes back.
	defaultSiblingShare = 0.05
	defaultReentryShare = 0.12
)

// ouarzazateStands are the stands of the Ouarzazate fair (FACTS.md): 80
// handicraft and 80 terroir cooperatives, 15 institutional stands.
var ouarzazateStands = map[string]int{"hall-crafts": 80, "hall-terroir": 80, "pavilion": 15}

// DefaultConfig is a normal day of ev on day: the figures above, two evening
// shows, three workshop sessions, the site's gates whose id starts with
// "EXIT" as exits and the others as entrances, the first standing zone as
// the stage and the first seated zone as the workshop space.
//
// The shows are timed from the closing hour, since the last day runs two
// hours later: the first ends 2h45 before closing, the second 30 minutes
// before, so the crowd can leave before the gates close. Their draws, 82 %
// and 88 % of the stage's capacity, are set so that, with the people already
// on the stage and those leaving early, the first show takes it into warn
// (80 %) and the second into critical (90 %) without reaching full: on the
// Ouarzazate stage (646) the peaks come to about 540 and 610.
func DefaultConfig(ev *event.Event, day string) Config {
	cfg := Config{
		Day:                  day,
		Visitors:             defaultVisitors,
		Walkins:              defaultWalkins,
		Exhibitors:           defaultExhibitors,
		Staff:                defaultStaff,
		Press:                defaultPress,
		Guests:               defaultGuests,
		WorkshopParticipants: defaultWorkshop,
		Forged:               defaultForged,
		WrongDay:             defaultWrongDay,
		EarlyArrivals:        defaultEarlyArrivals,
		DoubleScans:          defaultDoubleScans,
		WrongDoor:            defaultWrongDoor,
		SiblingShare:         defaultSiblingShare,
		ReentryShare:         defaultReentryShare,
		Stands:               map[string]int{},
	}
	root := ev.Root()
	for _, g := range ev.Gates {
		if g.Zone != root.ID {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(g.ID), "EXIT") {
			cfg.Exits = append(cfg.Exits, g.ID)
		} else {
			cfg.Entrances = append(cfg.Entrances, g.ID)
		}
	}
	for _, z := range ev.Zones {
		switch {
		case z.Kind == event.KindStanding && cfg.Stage == "":
			cfg.Stage = z.ID
		case z.Kind == event.KindSeated && cfg.Workshop == "":
			cfg.Workshop = z.ID
		}
		if n, ok := ouarzazateStands[z.ID]; ok {
			cfg.Stands[z.ID] = n
		}
	}
	d, ok := eventDay(ev, day)
	if !ok {
		return cfg // Validate reports the day
	}
	if st := ev.Zone(cfg.Stage); st != nil {
		// ASSUMPTION: a troupe's set of 45 minutes in the early evening,
		// and the main show of an hour (folklore and the honours of the
		// leading cooperatives) at the end of the evening.
		cfg.Shows = []Show{
			{Start: d.Close.Add(-3*time.Hour - 30*time.Minute), Duration: 45 * time.Minute, Draw: st.Capacity * 82 / 100},
			{Start: d.Close.Add(-90 * time.Minute), Duration: time.Hour, Draw: st.Capacity * 88 / 100},
		}
	}
	if ev.Zone(cfg.Workshop) != nil {
		// ASSUMPTION: a morning session an hour after opening, two in
		// the afternoon, 90 minutes each.
		for _, off := range []time.Duration{time.Hour, 5*time.Hour + 30*time.Minute, 7*time.Hour + 30*time.Minute} {
			cfg.Sessions = append(cfg.Sessions, Session{Start: d.Open.Add(off), Duration: 90 * time.Minute})
		}
	}
	return cfg
}

// Scaled is c with every count of people (and each show's draw) multiplied
// by f, rounded down: a smaller crowd for a quick demo or test, with every
// kind of person and slip still in it while f keeps them at 1 or more.
func (c Config) Scaled(f float64) Config {
	scale := func(n *int) { *n = int(float64(*n) * f) }
	for _, n := range []*int{&c.Visitors, &c.Walkins, &c.Exhibitors, &c.Staff, &c.Press, &c.Guests,
		&c.WorkshopParticipants, &c.Forged, &c.WrongDay, &c.EarlyArrivals, &c.DoubleScans, &c.WrongDoor} {
		scale(n)
	}
	c.Shows = slices.Clone(c.Shows)
	for i := range c.Shows {
		scale(&c.Shows[i].Draw)
	}
	return c
}

// eventDay returns the event day with the given date.
func eventDay(ev *event.Event, date string) (event.Day, bool) {
	if i := ev.DayIndex(date); i >= 0 {
		return ev.Days[i], true
	}
	return event.Day{}, false
}

// ErrConfig marks a configuration NewPlan cannot plan.
var ErrConfig = errors.New("invalid simulation config")

// Validate reports every problem of cfg against ev at once.
func (c Config) Validate(ev *event.Event) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	day, ok := eventDay(ev, c.Day)
	if !ok {
		bad("day", "%q is not a day of event %s", c.Day, ev.ID)
	}
	for _, n := range []struct {
		field string
		n     int
	}{{"visitors", c.Visitors}, {"walkins", c.Walkins}, {"exhibitors", c.Exhibitors}, {"staff", c.Staff},
		{"press", c.Press}, {"guests", c.Guests}, {"workshop_participants", c.WorkshopParticipants},
		{"forged", c.Forged}, {"wrong_day", c.WrongDay}, {"early_arrivals", c.EarlyArrivals},
		{"double_scans", c.DoubleScans}, {"wrong_door", c.WrongDoor}} {
		if n.n < 0 {
			bad(n.field, "%d: want 0 or more", n.n)
		}
	}
	if c.EarlyArrivals > c.Visitors+c.Exhibitors {
		bad("early_arrivals", "%d: more than the visitors and exhibitors", c.EarlyArrivals)
	}
	if c.DoubleScans > c.Visitors {
		bad("double_scans", "%d: more than the visitors", c.DoubleScans)
	}
	if c.WrongDoor > c.Visitors+c.WorkshopParticipants {
		bad("wrong_door", "%d: more than the visitors and workshop participants", c.WrongDoor)
	}
	for _, s := range []struct {
		field string
		x     float64
	}{{"sibling_share", c.SiblingShare}, {"reentry_share", c.ReentryShare}, {"unscanned_exit_share", c.UnscannedExitShare}} {
		if !(s.x >= 0 && s.x <= 1) {
			bad(s.field, "%g: want 0 to 1", s.x)
		}
	}
	types := map[string]int{"visitor": c.Visitors + c.WrongDay, "exhibitor": c.Exhibitors, "staff": c.Staff,
		"press": c.Press, "guest": c.Guests, "workshop": c.WorkshopParticipants}
	for _, id := range []string{"visitor", "exhibitor", "staff", "press", "guest", "workshop"} {
		if types[id] > 0 && ev.TicketType(id) == nil {
			bad("ticket_types", "the event has no ticket type %q", id)
		}
	}
	root := ev.Root()
	gates := func(field string, ids []string) {
		if len(ids) == 0 {
			bad(field, "no gate")
		}
		for _, id := range ids {
			if g := ev.Gate(id); g == nil || g.Zone != root.ID {
				bad(field, "%q is not a gate of the site", id)
			}
		}
	}
	gates("entrances", c.Entrances)
	gates("exits", c.Exits)
	for _, z := range slices.Sorted(maps.Keys(c.Stands)) {
		switch zone := ev.Zone(z); {
		case zone == nil || zone == root:
			bad("stands", "%q is not a zone inside the site", z)
		case gateOf(ev, zone) == nil:
			bad("stands", "zone %q has no gate", z)
		case c.Stands[z] < 0:
			bad("stands", "%s: %d stands", z, c.Stands[z])
		}
	}
	if len(c.Shows) > 0 {
		if st := ev.Zone(c.Stage); st == nil || st == root || gateOf(ev, st) == nil {
			bad("stage", "%q is not a zone inside the site with a gate", c.Stage)
		}
	}
	if c.WorkshopParticipants > 0 {
		if ws := ev.Zone(c.Workshop); ws == nil || ws == root || gateOf(ev, ws) == nil {
			bad("workshop", "%q is not a zone inside the site with a gate", c.Workshop)
		}
		if len(c.Sessions) == 0 {
			bad("sessions", "workshop participants but no session")
		}
	}
	for i, o := range c.Outages {
		switch {
		case !slices.Contains(c.Exits, o.Gate):
			bad(fmt.Sprintf("outages[%d]", i), "%q is not one of the exits", o.Gate)
		case ok && (o.From.Before(day.Open) || !o.Until.After(o.From) || o.Until.After(day.Close.Add(-lastCall))):
			bad(fmt.Sprintf("outages[%d]", i), "%s to %s: want a time between opening and %s before closing",
				o.From.In(ev.Location).Format("15:04"), o.Until.In(ev.Location).Format("15:04"), lastCall)
		}
	}
	if ok {
		// A show or session must end well before closing: everyone leaves
		// before the gates close.
		last := day.Close.Add(-lastCall)
		for i, s := range c.Shows {
			if s.Start.Before(day.Open) || s.Duration <= 0 || s.End().After(last) || s.Draw < 0 {
				bad(fmt.Sprintf("shows[%d]", i), "start %s, %s, draw %d: want a draw of 0 or more, between opening and %s before closing",
					s.Start.In(ev.Location).Format("15:04"), s.Duration, s.Draw, lastCall)
			}
		}
		for i, s := range c.Sessions {
			if s.Start.Before(day.Open.Add(30*time.Minute)) || s.Duration <= 0 || s.Start.Add(s.Duration).After(last) {
				bad(fmt.Sprintf("sessions[%d]", i), "start %s, %s: want 30 minutes after opening to %s before closing",
					s.Start.In(ev.Location).Format("15:04"), s.Duration, lastCall)
			}
		}
	}
	return errors.Join(errs...)
}

// lastCall is how long before closing a show or session must end, so that
// its crowd can still leave before the gates close.
const lastCall = 20 * time.Minute

// gateOf is the first gate into z, or nil.
func gateOf(ev *event.Event, z *event.Zone) *event.Gate {
	for _, g := range ev.Gates {
		if g.Zone == z.ID {
			return g
		}
	}
	return nil
}
