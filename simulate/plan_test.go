package simulate_test

import (
	"crypto/ed25519"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ledger"
	"crowdflow/simulate"
)

func TestPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	ev := MustEvent(t)
	cfg := simulate.DefaultConfig(ev, "2025-09-19")
	cfg.Seed = 7
	a, b := MustPlan(t, ev, cfg), MustPlan(t, ev, cfg)
	if !reflect.DeepEqual(a.Actions, b.Actions) {
		for i := range min(len(a.Actions), len(b.Actions)) {
			if !reflect.DeepEqual(a.Actions[i], b.Actions[i]) {
				t.Fatalf("same seed, action %d differs:\n%+v\n%+v", i, a.Actions[i], b.Actions[i])
			}
		}
		t.Fatalf("same seed: %d and %d actions", len(a.Actions), len(b.Actions))
	}
	if !reflect.DeepEqual(a.Peaks, b.Peaks) || a.People != b.People {
		t.Errorf("same seed: peaks or people differ")
	}

	cfg.Seed = 8
	c := MustPlan(t, ev, cfg)
	if reflect.DeepEqual(a.Actions, c.Actions) {
		t.Errorf("seeds 7 and 8 give the same plan")
	}
	if a.Actions[0].ID == c.Actions[0].ID {
		t.Errorf("seeds 7 and 8 share action id %s: plans fed into one store would collide", a.Actions[0].ID)
	}
}

// TestPlanSanity checks what a plan promises on its own, before any store
// sees it.
func TestPlanSanity(t *testing.T) {
	t.Parallel()
	ev, small := MustEvent(t), MustSmallVenue(t)
	tests := map[string]struct {
		ev   *event.Event
		day  string
		seed uint64
		cfg  func(simulate.Config) simulate.Config
		// the stage's level at the height of each show
		shows []checkin.Level
		// the day is quiet enough that nobody is turned away for capacity
		calm bool
	}{
		"first day":                  {ev: ev, day: "2025-09-17", seed: 1, shows: []checkin.Level{checkin.LevelWarn, checkin.LevelCritical}, calm: true},
		"last day, open to midnight": {ev: ev, day: "2025-09-22", seed: 5, shows: []checkin.Level{checkin.LevelWarn, checkin.LevelCritical}, calm: true},
		"small venue, busy":          {ev: small, day: "2025-09-20", seed: 2, cfg: busySmall},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev := tc.ev
			cfg := simulate.DefaultConfig(ev, tc.day)
			cfg.Seed = tc.seed
			if tc.cfg != nil {
				cfg = tc.cfg(cfg)
			}
			p := MustPlan(t, ev, cfg)
			judge := admission.New(ev, MustKey(t).Public().(ed25519.PublicKey))
			checkOrderAndIDs(t, p)
			checkTickets(t, ev, judge, p)
			checkDayBounds(t, ev, p)
			checkSlips(t, p, tc.calm)
			checkShape(t, ev, p)
			if len(tc.shows) > 0 {
				checkShows(t, ev, p, tc.shows)
			}
		})
	}
}

func checkOrderAndIDs(t *testing.T, p *simulate.Plan) {
	t.Helper()
	if len(p.Actions) == 0 {
		t.Fatal("no action")
	}
	seen := map[string]bool{}
	for i, a := range p.Actions {
		if i > 0 && a.At.Before(p.Actions[i-1].At) {
			t.Errorf("action %d at %s before action %d at %s", i, a.At, i-1, p.Actions[i-1].At)
		}
		if a.ID == "" || len(a.ID) > ledger.MaxIDLength || seen[a.ID] {
			t.Errorf("action %d: id %q empty, too long or seen before", i, a.ID)
		}
		seen[a.ID] = true
		if a.Person < 0 || a.Person >= p.People {
			t.Errorf("action %s: person %d out of 0..%d", a.ID, a.Person, p.People-1)
		}
		if a.At.Nanosecond() != 0 {
			t.Errorf("action %s: at %s is not a whole second", a.ID, a.At)
		}
	}
}

// checkTickets: the tickets are real, and nobody gets into a zone their
// ticket does not open.
func checkTickets(t *testing.T, ev *event.Event, judge *admission.Judge, p *simulate.Plan) {
	t.Helper()
	readings := map[string]admission.Reading{}
	for _, a := range p.Actions {
		g := ev.Gate(a.Gate)
		if g == nil {
			t.Fatalf("action %s: unknown gate %s", a.ID, a.Gate)
		}
		if a.IsTally() {
			if a.Zone != ev.Root().ID || a.Payload != "" || a.Direction != "" || a.Delta < -5 || a.Delta > 5 {
				t.Errorf("tally %s: %+d on %s (payload %q, direction %q): want a small group on the site",
					a.ID, a.Delta, a.Zone, a.Payload, a.Direction)
			}
			continue
		}
		if a.Zone != g.Zone {
			t.Errorf("scan %s: zone %s, want the gate's zone %s", a.ID, a.Zone, g.Zone)
		}
		rd, ok := readings[a.Payload]
		if !ok {
			rd = judge.Read(a.Payload)
			readings[a.Payload] = rd
		}
		if !rd.Valid() {
			if a.Ticket != "" || a.Want != checkin.InvalidTicket || a.Direction != checkin.In {
				t.Errorf("scan %s: payload that is no ticket, ticket %q, %s %s: want an entry refused invalid_ticket",
					a.ID, a.Ticket, a.Direction, a.Want)
			}
			continue
		}
		if rd.Pass.TicketID != a.Ticket || rd.Pass.Type.ID != a.Type {
			t.Errorf("scan %s: ticket %s of type %s, the payload says %s of type %s",
				a.ID, a.Ticket, a.Type, rd.Pass.TicketID, rd.Pass.Type.ID)
		}
		if a.Type == "visitor" || a.Type == "workshop" {
			if len(rd.Pass.Days) != 1 {
				t.Errorf("scan %s: a %s ticket for days %v, want one day", a.ID, a.Type, rd.Pass.Days)
			}
		} else if len(rd.Pass.Days) != 0 {
			t.Errorf("scan %s: a %s ticket for days %v, want every day", a.ID, a.Type, rd.Pass.Days)
		}
		zone := ev.Zone(a.Zone)
		if a.Direction == checkin.In && a.Want == checkin.Accepted && !ev.Allows(rd.Pass, zone) {
			t.Errorf("scan %s: a %s ticket let into %s, which it does not open", a.ID, a.Type, a.Zone)
		}
		if a.Direction == checkin.In && a.Want == checkin.NoAccess && ev.Allows(rd.Pass, zone) {
			t.Errorf("scan %s: a %s ticket refused no_access to %s, which it opens", a.ID, a.Type, a.Zone)
		}
	}
}

// checkDayBounds: nobody gets in before opening, everybody is out by
// closing.
func checkDayBounds(t *testing.T, ev *event.Event, p *simulate.Plan) {
	t.Helper()
	for _, a := range p.Actions {
		if !a.At.Before(p.Day.Close) {
			t.Errorf("action %s at %s: at or after closing", a.ID, a.At.In(ev.Location).Format(time.TimeOnly))
		}
		if a.At.Before(p.Day.Open) && (a.IsTally() || a.Direction != checkin.In || a.Want != checkin.Closed) {
			t.Errorf("action %s before opening: %s %+d, %s; want an entry refused closed", a.ID, a.Direction, a.Delta, a.Want)
		}
	}
	for id, c := range p.Truth(p.Day.Close) {
		if c.Occupancy != 0 || c.TallyIn != c.TallyOut || c.Entries != c.Exits || len(c.ByType) != 0 {
			t.Errorf("zone %s at closing: %+v; want empty, every entry matched by an exit", id, c)
		}
	}
}

// checkSlips: every slip of the config shows up as the refusal it gives.
func checkSlips(t *testing.T, p *simulate.Plan, calm bool) {
	t.Helper()
	cfg := p.Config
	codes := map[checkin.Code]int{}
	var sibling, reentries, outAtEntrance int
	entered := map[string]int{}
	tallied := 0
	for _, a := range p.Actions {
		codes[a.Want]++
		if a.WantFlags.Has(checkin.MovedFromSibling) {
			sibling++
		}
		switch {
		case a.IsTally() && a.Want == checkin.Accepted && a.Delta > 0:
			tallied += a.Delta
		case a.IsTally():
		case a.Zone == "site" && a.Direction == checkin.In && a.Want == checkin.Accepted:
			if entered[a.Ticket]++; entered[a.Ticket] == 2 {
				reentries++
			}
		case a.Zone == "site" && a.Direction == checkin.Out && strings.HasPrefix(a.Gate, "MAIN"):
			outAtEntrance++
		}
	}
	for _, c := range []struct {
		code checkin.Code
		want int
	}{{checkin.Closed, cfg.EarlyArrivals}, {checkin.InvalidTicket, cfg.Forged}, {checkin.NotValidToday, cfg.WrongDay}} {
		if got := codes[c.code]; got != c.want {
			t.Errorf("%d %s refusals, want %d", got, c.code, c.want)
		}
	}
	// On a busy day, someone whose ticket would be scanned twice may never
	// get past the full site.
	if got := codes[checkin.AlreadyInside]; got != cfg.DoubleScans && (calm || got == 0 || got > cfg.DoubleScans) {
		t.Errorf("%d already_inside refusals, want %d (on a busy day, 1 to %[2]d)", got, cfg.DoubleScans)
	}
	// A person who tries the wrong door may leave before getting to it.
	if got := codes[checkin.NoAccess]; got == 0 || got > cfg.WrongDoor {
		t.Errorf("%d no_access refusals, want 1 to %d", got, cfg.WrongDoor)
	}
	if codes[checkin.AlreadyUsed]+codes[checkin.Revoked]+codes[checkin.UnknownGate] != 0 {
		t.Errorf("refusals the plan never makes: %v", codes)
	}
	if calm {
		if codes[checkin.ZoneFull] != 0 {
			t.Errorf("%d zone_full refusals on a normal day, want none", codes[checkin.ZoneFull])
		}
		// The forged and wrong-day are counted in by hand.
		if want := cfg.Walkins + cfg.Forged + cfg.WrongDay; tallied != want {
			t.Errorf("%d people tallied in, want %d", tallied, want)
		}
	} else if codes[checkin.ZoneFull] == 0 {
		t.Errorf("no zone_full refusal on a busy day")
	}
	if sibling == 0 || reentries == 0 || outAtEntrance == 0 {
		t.Errorf("%d moves from a sibling, %d re-entries, %d exits by an entrance: want some of each",
			sibling, reentries, outAtEntrance)
	}
}

// checkShape: the public arrive with a late-morning bump, an afternoon peak
// and an evening peak, around the early-afternoon lull.
func checkShape(t *testing.T, ev *event.Event, p *simulate.Plan) {
	t.Helper()
	perHour := map[int]int{}
	for _, a := range p.Actions {
		if a.Zone == "site" && a.Want == checkin.Accepted && (a.Direction == checkin.In || a.Delta > 0) && a.Type != "exhibitor" && a.Type != "staff" {
			perHour[a.At.In(ev.Location).Hour()]++
		}
	}
	lull := perHour[14]
	for _, h := range []int{11, 16, p.Day.Close.Add(-3 * time.Hour).In(ev.Location).Hour()} {
		if perHour[h] <= lull {
			t.Errorf("arrivals per hour %v: %d:00 not above the 14:00 lull", perHour, h)
		}
	}
}

// checkShows: at the height of each show the stage is at the wanted level.
func checkShows(t *testing.T, ev *event.Event, p *simulate.Plan, want []checkin.Level) {
	t.Helper()
	stage := ev.Zone(p.Config.Stage)
	samples := p.Occupancy(stage.ID)
	if len(p.Config.Shows) != len(want) {
		t.Fatalf("%d shows, want %d", len(p.Config.Shows), len(want))
	}
	for i, sh := range p.Config.Shows {
		peak := 0
		for _, s := range samples {
			if !s.At.Before(sh.Start.Add(-20*time.Minute)) && !s.At.After(sh.End().Add(10*time.Minute)) {
				peak = max(peak, s.Occupancy)
			}
		}
		if got := checkin.LevelOf(peak, stage.Capacity); got != want[i] {
			t.Errorf("show %d at %s: the stage peaks at %d of %d, %s; want %s", i,
				sh.Start.In(ev.Location).Format("15:04"), peak, stage.Capacity, got, want[i])
		}
	}
	if pk := p.Peaks[stage.ID]; pk.Occupancy != maxOccupancy(samples) {
		t.Errorf("peak %d, the samples' highest %d", pk.Occupancy, maxOccupancy(samples))
	}
}

func maxOccupancy(ss []simulate.Sample) int {
	m := 0
	for _, s := range ss {
		m = max(m, s.Occupancy)
	}
	return m
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ev := MustEvent(t)
	day := "2025-09-17"
	close := time.Date(2025, 9, 17, 22, 0, 0, 0, ev.Location)
	tests := map[string]struct {
		mutate func(*simulate.Config)
		want   string // in the error
	}{
		"not an event day":      {func(c *simulate.Config) { c.Day = "2025-09-23" }, "day"},
		"negative visitors":     {func(c *simulate.Config) { c.Visitors = -1 }, "visitors"},
		"show past closing":     {func(c *simulate.Config) { c.Shows[1].Start = close.Add(-30 * time.Minute) }, "shows[1]"},
		"negative draw":         {func(c *simulate.Config) { c.Shows[0].Draw = -5 }, "shows[0]"},
		"session before open":   {func(c *simulate.Config) { c.Sessions[0].Start = close.Add(-12 * time.Hour) }, "sessions[0]"},
		"unknown entrance":      {func(c *simulate.Config) { c.Entrances = []string{"GATE-9"} }, "entrances"},
		"exit inside the site":  {func(c *simulate.Config) { c.Exits = []string{"STAGE"} }, "exits"},
		"no stage":              {func(c *simulate.Config) { c.Stage = "nowhere" }, "stage"},
		"share above one":       {func(c *simulate.Config) { c.SiblingShare = 1.5 }, "sibling_share"},
		"more doubles than all": {func(c *simulate.Config) { c.DoubleScans = c.Visitors + 1 }, "double_scans"},
		"stands outside":        {func(c *simulate.Config) { c.Stands = map[string]int{"site": 3} }, "stands"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := simulate.DefaultConfig(ev, day)
			tc.mutate(&cfg)
			_, err := simulate.NewPlan(ev, MustKey(t), cfg)
			if !errors.Is(err, simulate.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an ErrConfig about %s", err, tc.want)
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		cfg := simulate.DefaultConfig(ev, day)
		cfg.Visitors, cfg.Staff, cfg.ReentryShare = -1, -2, -0.5
		err := cfg.Validate(ev)
		for _, field := range []string{"visitors", "staff", "reentry_share"} {
			if err == nil || !strings.Contains(err.Error(), field) {
				t.Errorf("got %v, want it to name %s", err, field)
			}
		}
	})
	t.Run("short key", func(t *testing.T) {
		if _, err := simulate.NewPlan(ev, MustKey(t)[:10], simulate.DefaultConfig(ev, day)); err == nil {
			t.Error("a 10-byte key was accepted")
		}
	})
	t.Run("default is valid on every day", func(t *testing.T) {
		for _, d := range ev.Days {
			if err := simulate.DefaultConfig(ev, d.Date).Validate(ev); err != nil {
				t.Errorf("%s: %v", d.Date, err)
			}
		}
	})
}

// TestTruthFollowsTheRules replays a day by hand with the verdicts the plan
// wants and the moves docs/rules.md gives, independently of the plan's own
// model, and compares with Truth.
func TestTruthFollowsTheRules(t *testing.T) {
	t.Parallel()
	ev := MustSmallVenue(t)
	cfg := busySmall(simulate.DefaultConfig(ev, "2025-09-21"))
	cfg.Seed = 11
	p := MustPlan(t, ev, cfg)
	place := map[string]*event.Zone{}
	occ := map[string]int{}
	maxOcc := map[string]int{}
	entries, exits, refusals := map[string]int{}, map[string]int{}, map[string]int{}
	moveOut := func(from, to *event.Zone) {
		for z := from; z != nil && (to == nil || !to.Within(z)); z = z.ParentZone() {
			occ[z.ID]--
			exits[z.ID]++
		}
	}
	moveIn := func(from, to *event.Zone) {
		for z := to; z != nil && (from == nil || !from.Within(z)); z = z.ParentZone() {
			occ[z.ID]++
			entries[z.ID]++
			maxOcc[z.ID] = max(maxOcc[z.ID], occ[z.ID])
		}
	}
	for _, a := range p.Actions {
		z := ev.Zone(a.Zone)
		switch {
		case a.Want != checkin.Accepted:
			refusals[a.Zone]++
		case a.IsTally():
			occ[a.Zone] += a.Delta
			maxOcc[a.Zone] = max(maxOcc[a.Zone], occ[a.Zone])
		case a.Direction == checkin.In:
			from := place[a.Ticket]
			moveOut(from, z)
			moveIn(from, z)
			place[a.Ticket] = z
		default:
			from := place[a.Ticket]
			if from == nil || !(from.Within(z) || z.ParentZone() != nil && from.Within(z.ParentZone())) {
				t.Errorf("exit %s: ticket at %v, not inside %s's parent", a.ID, from, a.Zone)
				continue
			}
			to := z.ParentZone()
			moveOut(from, to)
			place[a.Ticket] = to
		}
		for _, zz := range ev.Zones {
			if occ[zz.ID] > zz.Capacity {
				t.Fatalf("after %s: %s holds %d, capacity %d", a.ID, zz.ID, occ[zz.ID], zz.Capacity)
			}
		}
	}
	truth := p.Truth(p.Day.Close)
	for _, z := range ev.Zones {
		got := truth[z.ID]
		var refused int
		for _, n := range got.Refusals {
			refused += n
		}
		if got.Occupancy != occ[z.ID] || got.Entries != entries[z.ID] || got.Exits != exits[z.ID] || refused != refusals[z.ID] {
			t.Errorf("zone %s: truth %+v; by hand occupancy %d, entries %d, exits %d, refusals %d",
				z.ID, got, occ[z.ID], entries[z.ID], exits[z.ID], refusals[z.ID])
		}
		if p.Peaks[z.ID].Occupancy != maxOcc[z.ID] {
			t.Errorf("zone %s: peak %d, by hand %d", z.ID, p.Peaks[z.ID].Occupancy, maxOcc[z.ID])
		}
	}
	if p.Peaks["site"].Occupancy != ev.Root().Capacity {
		t.Errorf("the busy small venue peaks at %d, want its capacity %d", p.Peaks["site"].Occupancy, ev.Root().Capacity)
	}
}

// TestPlanEdgeConfigs: unusual days still make consistent plans, in which
// everyone is out by closing.
func TestPlanEdgeConfigs(t *testing.T) {
	t.Parallel()
	ev := MustEvent(t)
	nobody := func(c *simulate.Config) {
		*c = simulate.Config{Day: c.Day, Entrances: c.Entrances, Exits: c.Exits, Stage: c.Stage, Workshop: c.Workshop}
	}
	tests := map[string]struct {
		mutate  func(*simulate.Config)
		actions bool // the plan has some
	}{
		"nobody":        {mutate: nobody},
		"only walk-ins": {mutate: func(c *simulate.Config) { nobody(c); c.Walkins = 50 }, actions: true},
		"only forged":   {mutate: func(c *simulate.Config) { nobody(c); c.Forged = 7 }, actions: true},
		"one visitor, every slip": {mutate: func(c *simulate.Config) {
			nobody(c)
			c.Visitors, c.EarlyArrivals, c.DoubleScans, c.WrongDoor, c.SiblingShare, c.ReentryShare = 1, 1, 1, 1, 1, 1
		}, actions: true},
		"no shows, no sessions": {mutate: func(c *simulate.Config) {
			c.Shows, c.Sessions, c.WorkshopParticipants, c.Visitors = nil, nil, 0, 300
		}, actions: true},
		"a show bigger than the stage": {mutate: func(c *simulate.Config) {
			c.Visitors, c.Walkins, c.Exhibitors = 1200, 0, 0
			c.Shows = c.Shows[:1]
			c.Shows[0].Draw = 1000
		}, actions: true},
		"everyone walks across": {mutate: func(c *simulate.Config) { c.Visitors, c.SiblingShare = 400, 1 }, actions: true},
		"no stands given":       {mutate: func(c *simulate.Config) { c.Stands, c.Visitors = nil, 100 }, actions: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := simulate.DefaultConfig(ev, "2025-09-18")
			tc.mutate(&cfg)
			p := MustPlan(t, ev, cfg)
			if got := len(p.Actions) > 0; got != tc.actions {
				t.Fatalf("%d actions", len(p.Actions))
			}
			if len(p.Actions) > 0 {
				checkOrderAndIDs(t, p)
				checkDayBounds(t, ev, p)
			}
		})
	}
}
