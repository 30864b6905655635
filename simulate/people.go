package simulate

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ticket"
)

// agent is one person (or one walk-in group) and what they still mean to do.
type agent struct {
	id      int
	tk      *pass // nil for a walk-in group
	size    int   // a walk-in group's size
	arrive  time.Time
	leaveBy time.Time // heads for the exit by then
	stay    time.Duration
	stops   []stop
	rushes  []*rush // shows still to rush to, in order
	inRush  *rush   // the show being watched
	double  bool    // the first entry scan is repeated
	tries   int     // refusals in a row (full site, full stage)
	device  string  // the last scanner used
}

type stopKind int

const (
	visit  stopKind = iota // go into zone: for dwell, or until `until`
	linger                 // stay in the site's alleys, for dwell or until `until`
	away                   // go out of the site for dwell, and come back
	try                    // try zone's door, which the ticket does not open
)

// stop is one thing on a person's agenda.
type stop struct {
	kind  stopKind
	zone  *event.Zone
	dwell time.Duration
	until time.Time
	rush  *rush
}

// rush is a person's plan to watch a show.
type rush struct {
	at    time.Time // heads for the stage
	until time.Time // leaves it
}

// The timing of behaviour. Every figure is an ASSUMPTION, to be compared
// with the first real day's logs.
const (
	// walking between two zones of a 4,000 m² site, with a stop at a
	// food stand or a chat on the way
	walkMin, walkMax = time.Minute, 6 * time.Minute
	// a rush is taken up this long before its time by someone idle
	rushLead = 3 * time.Minute
	// a person refused at a full site or stage tries this many times
	maxTries = 3
)

// populate makes everyone, decides who does what, and queues their arrival.
func (p *planner) populate() error {
	cfg := p.cfg
	add := func(typ string, days []string) (*agent, error) {
		a := &agent{id: len(p.people)}
		if typ != "" {
			tk, err := p.issue(typ, days)
			if err != nil {
				return nil, err
			}
			a.tk = tk
		}
		p.people = append(p.people, a)
		return a, nil
	}
	today := []string{cfg.Day}

	homes := p.stands(cfg.Exhibitors)
	var exhibitors, visitors, participants []*agent
	for i := range cfg.Exhibitors {
		a, err := add("exhibitor", nil)
		if err != nil {
			return err
		}
		p.planExhibitor(a, homes[i])
		exhibitors = append(exhibitors, a)
	}
	for range cfg.Staff {
		a, err := add("staff", nil)
		if err != nil {
			return err
		}
		p.planStaff(a)
	}
	for range cfg.Guests {
		a, err := add("guest", nil)
		if err != nil {
			return err
		}
		p.planGuest(a)
	}
	for range cfg.Press {
		a, err := add("press", nil)
		if err != nil {
			return err
		}
		p.planPress(a)
	}
	for i := range cfg.WorkshopParticipants {
		a, err := add("workshop", today)
		if err != nil {
			return err
		}
		p.planParticipant(a, cfg.Sessions[i%len(cfg.Sessions)])
		participants = append(participants, a)
	}
	for range cfg.Visitors {
		a, err := add("visitor", today)
		if err != nil {
			return err
		}
		p.planVisitor(a, p.publicArrival())
		visitors = append(visitors, a)
	}

	// Who rushes to the shows, then the slips, picked among the above
	// (a person may make more than one).
	p.planRushes(visitors)
	calm := slices.DeleteFunc(slices.Clone(visitors), func(a *agent) bool { return len(a.rushes) > 0 })
	early := p.sample(calm, (cfg.EarlyArrivals+1)/2)
	for _, a := range early {
		// ASSUMPTION: they come 2 to 25 minutes early.
		a.arrive = p.day.Open.Add(-p.uniform(2*time.Minute, 25*time.Minute))
		a.leaveBy = minTime(a.arrive.Add(a.stay), a.leaveBy)
	}
	for _, a := range p.sample(exhibitors, cfg.EarlyArrivals-len(early)) {
		a.arrive = p.day.Open.Add(-p.uniform(2*time.Minute, 20*time.Minute))
	}
	for _, a := range p.sample(visitors, cfg.DoubleScans) {
		a.double = true
	}
	wrongDoor := (cfg.WrongDoor + 1) / 2
	if len(p.halls) == 0 {
		wrongDoor = cfg.WrongDoor
	}
	if p.workshop == nil {
		wrongDoor = 0
	}
	for _, a := range p.sample(visitors, wrongDoor) {
		a.stops = slices.Insert(a.stops, p.rng.IntN(len(a.stops)+1), stop{kind: try, zone: p.workshop})
	}
	if len(p.halls) > 0 {
		for _, a := range p.sample(participants, cfg.WrongDoor-wrongDoor) {
			a.stops = append(a.stops, stop{kind: try, zone: p.halls[p.rng.IntN(len(p.halls))]})
		}
	}

	prev := p.day.Open.AddDate(0, 0, -1).In(p.ev.Location).Format(time.DateOnly)
	for range cfg.WrongDay {
		a, err := add("visitor", []string{prev})
		if err != nil {
			return err
		}
		p.planVisitor(a, p.publicArrival())
	}
	remaining := cfg.Walkins
	for remaining > 0 {
		// ASSUMPTION: walk-ins come as families and groups of friends:
		// 1 to 5, 2.4 on average.
		n := min(remaining, 1+p.pick([]float64{30, 30, 20, 12, 8}))
		remaining -= n
		a, err := add("", nil)
		if err != nil {
			return err
		}
		a.size = n
		a.arrive = p.publicArrival()
		a.stay = p.lognormal(75*time.Minute, 0.45, 20*time.Minute, 4*time.Hour)
		a.leaveBy = p.day.Close.Add(-p.uniform(10*time.Minute, 30*time.Minute))
	}
	for i := range cfg.Forged {
		a, err := add("", nil)
		if err != nil {
			return err
		}
		payload, err := p.forge(i)
		if err != nil {
			return err
		}
		a.tk = &pass{payload: payload}
		a.arrive = p.day.Open.Add(15 * time.Minute).Add(p.uniform(0, p.day.Close.Sub(p.day.Open)-2*time.Hour-15*time.Minute))
		a.stay = p.lognormal(75*time.Minute, 0.45, 20*time.Minute, 4*time.Hour)
		a.leaveBy = p.day.Close.Add(-p.uniform(10*time.Minute, 30*time.Minute))
	}

	for _, a := range p.people {
		if a.tk == nil {
			p.at(a.arrive, func(now time.Time) { p.tallyIn(a, now) })
		} else {
			p.at(a.arrive, func(now time.Time) { p.arrive(a, now) })
		}
	}
	return nil
}

// sample picks n of as at random (all of them when there are fewer), in a
// deterministic order.
func (p *planner) sample(as []*agent, n int) []*agent {
	perm := p.rng.Perm(len(as))
	out := make([]*agent, 0, min(n, len(as)))
	for _, i := range perm[:min(n, len(as))] {
		out = append(out, as[i])
	}
	return out
}

// stands gives n exhibitors their zones: in proportion to the stands, the
// largest remainders rounded up.
func (p *planner) stands(n int) []*event.Zone {
	type share struct {
		z    *event.Zone
		w    float64
		n    int
		frac float64
	}
	var shares []*share
	var sum float64
	for _, z := range p.ev.Zones {
		if w := p.cfg.Stands[z.ID]; w > 0 {
			shares = append(shares, &share{z: z, w: float64(w)})
			sum += float64(w)
		}
	}
	if len(shares) == 0 {
		for _, z := range p.halls {
			shares = append(shares, &share{z: z, w: float64(z.Capacity)})
			sum += float64(z.Capacity)
		}
	}
	if len(shares) == 0 {
		for _, z := range p.public {
			shares = append(shares, &share{z: z, w: 1})
			sum++
		}
	}
	given := 0
	for _, s := range shares {
		x := float64(n) * s.w / sum
		s.n = int(x)
		s.frac = x - float64(s.n)
		given += s.n
	}
	order := slices.Clone(shares)
	slices.SortStableFunc(order, func(a, b *share) int {
		switch {
		case a.frac > b.frac:
			return -1
		case a.frac < b.frac:
			return 1
		}
		return 0
	})
	for i := 0; given < n; i++ {
		order[i%len(order)].n++
		given++
	}
	var out []*event.Zone
	for _, s := range shares {
		for range s.n {
			out = append(out, s.z)
		}
	}
	return out
}

// publicArrival draws when a member of the public arrives. ASSUMPTION, for a
// September day in Ouarzazate (hot afternoons, about 33 °C; evenings out):
//   - 15 % in a late-morning bump, around 1h30 after opening (11:30);
//   - 10 % at any time;
//   - 30 % in the afternoon peak, 6h30 after opening (16:30), as the heat
//     eases after the afternoon prayer;
//   - 45 % in the evening peak, 2h30 before closing (19:30), for the cool
//     of the evening and the shows.
//
// Nobody arrives in the last 75 minutes.
func (p *planner) publicArrival() time.Time {
	open, end := p.day.Open, p.day.Close.Add(-75*time.Minute)
	var t time.Time
	switch i := p.pick([]float64{15, 10, 30, 45}); i {
	case 0:
		t = open.Add(p.normal(90*time.Minute, 35*time.Minute))
	case 1:
		t = open.Add(p.uniform(0, end.Sub(open)))
	case 2:
		t = open.Add(p.normal(6*time.Hour+30*time.Minute, 50*time.Minute))
	default:
		t = p.day.Close.Add(p.normal(-150*time.Minute, 45*time.Minute))
	}
	if t.Before(open) {
		t = open.Add(p.uniform(0, 20*time.Minute))
	}
	if t.After(end) {
		t = end.Add(-p.uniform(0, 20*time.Minute))
	}
	return t
}

// closingMargin is when a member of the public heads for the exit at the
// latest: 10 to 35 minutes before closing.
func (p *planner) closingMargin() time.Time {
	return p.day.Close.Add(-p.uniform(10*time.Minute, 35*time.Minute))
}

// dwell draws how long a visitor stays in z. ASSUMPTION: a hall of 80
// stands holds a visitor some 20 minutes (median; from 4 minutes to more
// than an hour), a pavilion of 15 stands some 8; the stage between shows 12.
func (p *planner) dwell(z *event.Zone) time.Duration {
	median := 20 * time.Minute
	if n, ok := p.cfg.Stands[z.ID]; ok {
		median = 5*time.Minute + time.Duration(n)*11*time.Second
	} else if z.Kind == event.KindStanding {
		median = 12 * time.Minute
	}
	return p.lognormal(median, 0.55, 3*time.Minute, 75*time.Minute)
}

// itinerary draws k distinct public zones, the more attractive first more often.
func (p *planner) itinerary(k int) []stop {
	ws := slices.Clone(p.weights)
	var stops []stop
	for range min(k, len(ws)) {
		i := p.pick(ws)
		ws[i] = 0
		stops = append(stops, stop{kind: visit, zone: p.public[i], dwell: p.dwell(p.public[i])})
	}
	return stops
}

func (p *planner) planVisitor(a *agent, arrive time.Time) {
	a.arrive = arrive
	// ASSUMPTION: people stay two hours (median), from 45 minutes to 5.
	a.stay = p.lognormal(2*time.Hour, 0.35, 45*time.Minute, 5*time.Hour)
	a.leaveBy = minTime(arrive.Add(a.stay), p.closingMargin())
	// ASSUMPTION: 1 to 4 zones, 2.6 on average.
	a.stops = p.itinerary(1 + p.pick([]float64{15, 30, 35, 20}))
	if len(a.stops) > 1 && p.chance(p.cfg.ReentryShare) {
		// ASSUMPTION: out for 20 to 90 minutes (a meal, the prayer, the
		// heat), then back through an entrance.
		at := 1 + p.rng.IntN(len(a.stops)-1)
		a.stops = slices.Insert(a.stops, at, stop{kind: away, dwell: p.uniform(20*time.Minute, 90*time.Minute)})
		a.leaveBy = minTime(a.leaveBy.Add(time.Hour), p.closingMargin())
	}
}

// planRushes picks each show's crowd among the visitors: first those on the
// fair in the 2h30 before it starts who rush to no other show, then others,
// who then come for the show. ASSUMPTION: the crowd heads for the stage
// from 20 minutes before the start to 12 after, most just before it; 85 %
// stay to the end (and up to 8 minutes longer), the others leave after 10
// minutes or more; after the show 60 % go home.
func (p *planner) planRushes(visitors []*agent) {
	if p.stage == nil {
		return
	}
	shows := slices.Clone(p.cfg.Shows)
	slices.SortStableFunc(shows, func(a, b Show) int { return a.Start.Compare(b.Start) })
	order := slices.Clone(visitors)
	slices.SortStableFunc(order, func(a, b *agent) int { return a.id - b.id })
	for _, sh := range shows {
		p.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var near, free, others []*agent
		for _, a := range order {
			switch {
			case a.arrive.Before(sh.Start.Add(-150*time.Minute)) || a.arrive.After(sh.Start.Add(-10*time.Minute)):
				if len(a.rushes) == 0 {
					others = append(others, a)
				}
			case len(a.rushes) == 0:
				near = append(near, a)
			default:
				free = append(free, a)
			}
		}
		crowd := slices.Concat(near, free)
		for _, a := range others {
			if len(crowd) >= sh.Draw {
				break
			}
			// They come for the show.
			a.arrive = sh.Start.Add(-p.uniform(10*time.Minute, 90*time.Minute))
			a.leaveBy = minTime(a.arrive.Add(a.stay), p.closingMargin())
			crowd = append(crowd, a)
		}
		for _, a := range crowd[:min(len(crowd), sh.Draw)] {
			r := &rush{at: sh.Start.Add(p.triangular(-20*time.Minute, -2*time.Minute, 12*time.Minute))}
			if p.chance(0.15) {
				r.until = sh.Start.Add(p.uniform(10*time.Minute, max(sh.Duration, 10*time.Minute+time.Second)))
			} else {
				r.until = sh.End().Add(p.uniform(0, 8*time.Minute))
			}
			r.until = minTime(r.until, p.day.Close.Add(-lastCall/2))
			a.rushes = append(a.rushes, r)
			a.leaveBy = maxTime(a.leaveBy, minTime(r.until.Add(p.uniform(5*time.Minute, 20*time.Minute)), p.hardOut.Add(-5*time.Minute)))
			// Who comes for a show does not go out in between.
			a.stops = slices.DeleteFunc(a.stops, func(s stop) bool { return s.kind == away })
		}
	}
}

// planExhibitor: at the stand from opening (ASSUMPTION: most within 15
// minutes, the last by 10:45) to 10 to 40 minutes before closing, with one to
// three breaks: in the alleys (60 %: tea, the prayer), out of the site (25 %:
// lunch at home or in town) or in another hall (15 %, to see the others).
func (p *planner) planExhibitor(a *agent, home *event.Zone) {
	a.arrive = p.day.Open.Add(p.triangular(0, 5*time.Minute, 45*time.Minute))
	a.leaveBy = p.day.Close.Add(-p.uniform(10*time.Minute, 40*time.Minute))
	first, last := a.arrive.Add(time.Hour), a.leaveBy.Add(-time.Hour)
	var starts []time.Time
	for range 1 + p.rng.IntN(3) {
		if last.After(first) {
			starts = append(starts, first.Add(p.uniform(0, last.Sub(first))))
		}
	}
	slices.SortFunc(starts, time.Time.Compare)
	for _, s := range starts {
		a.stops = append(a.stops, stop{kind: visit, zone: home, until: s})
		switch i := p.pick([]float64{60, 25, 15}); {
		case i == 0:
			a.stops = append(a.stops, stop{kind: linger, dwell: p.uniform(10*time.Minute, 40*time.Minute)})
		case i == 1:
			a.stops = append(a.stops, stop{kind: away, dwell: p.uniform(30*time.Minute, 90*time.Minute)})
		default:
			others := slices.DeleteFunc(slices.Clone(p.public), func(z *event.Zone) bool { return z == home })
			if len(others) > 0 {
				z := others[p.rng.IntN(len(others))]
				a.stops = append(a.stops, stop{kind: visit, zone: z, dwell: p.uniform(10*time.Minute, 25*time.Minute)})
			}
		}
	}
	a.stops = append(a.stops, stop{kind: visit, zone: home, until: a.leaveBy})
}

// planStaff: from opening (within 15 minutes) to 5 to 12 minutes before
// closing, going round every zone, 15 to 60 minutes in each, a third of the
// time in the alleys and at the gates.
func (p *planner) planStaff(a *agent) {
	a.arrive = p.day.Open.Add(p.uniform(0, 15*time.Minute))
	a.leaveBy = p.day.Close.Add(-p.uniform(5*time.Minute, 12*time.Minute))
	var zones []*event.Zone
	for _, z := range p.root.Children() {
		if p.gateOf[z.ID] != nil {
			zones = append(zones, z)
		}
	}
	var last *event.Zone
	for t := a.arrive; t.Before(a.leaveBy); {
		d := p.uniform(15*time.Minute, 60*time.Minute)
		z := zones[p.rng.IntN(len(zones))]
		if p.chance(0.33) || z == last {
			a.stops = append(a.stops, stop{kind: linger, dwell: d})
			last = nil
		} else {
			a.stops = append(a.stops, stop{kind: visit, zone: z, dwell: d})
			last = z
		}
		t = t.Add(d + 3*time.Minute)
	}
}

// planGuest: officials on the morning tour, half an hour after opening
// (pavilion, then the halls); 40 % come back for the last show (the honours
// of the leading cooperatives).
func (p *planner) planGuest(a *agent) {
	a.arrive = p.day.Open.Add(30*time.Minute + p.normal(0, 8*time.Minute))
	if a.arrive.Before(p.day.Open.Add(5 * time.Minute)) {
		a.arrive = p.day.Open.Add(5 * time.Minute)
	}
	a.leaveBy = a.arrive.Add(3 * time.Hour)
	for _, z := range p.halls {
		if allows(a.tk, z, p.ev) {
			a.stops = append(a.stops, stop{kind: visit, zone: z, dwell: p.uniform(15*time.Minute, 30*time.Minute)})
		}
	}
	slices.Reverse(a.stops) // the pavilion, the smallest, first
	if len(p.cfg.Shows) == 0 || p.stage == nil || !p.chance(0.4) {
		return
	}
	last := p.cfg.Shows[0]
	for _, s := range p.cfg.Shows {
		if s.Start.After(last.Start) {
			last = s
		}
	}
	back := last.Start.Add(-p.uniform(10*time.Minute, 40*time.Minute))
	var tour time.Duration
	for _, s := range a.stops {
		tour += s.dwell + walkMax
	}
	if gone := back.Sub(a.arrive.Add(tour)); gone > 30*time.Minute {
		a.stops = append(a.stops, stop{kind: away, dwell: gone})
		a.rushes = []*rush{{at: last.Start.Add(-p.uniform(0, 5*time.Minute)), until: last.End().Add(p.uniform(0, 5*time.Minute))}}
		a.leaveBy = minTime(last.End().Add(p.uniform(10*time.Minute, 20*time.Minute)), p.hardOut.Add(-5*time.Minute))
	}
}

// planPress: journalists come any time until the evening, see 2 to 4 zones,
// and half of them cover the next show.
func (p *planner) planPress(a *agent) {
	open := p.day.Open.Add(30 * time.Minute)
	a.arrive = open.Add(p.uniform(0, p.day.Close.Add(-3*time.Hour-30*time.Minute).Sub(open)))
	a.stay = p.uniform(90*time.Minute, 4*time.Hour)
	a.leaveBy = minTime(a.arrive.Add(a.stay), p.closingMargin())
	a.stops = p.itinerary(2 + p.rng.IntN(3))
	if p.stage == nil || !p.chance(0.5) {
		return
	}
	for _, s := range p.cfg.Shows {
		if s.Start.After(a.arrive.Add(30 * time.Minute)) {
			a.rushes = []*rush{{at: s.Start.Add(-p.uniform(0, 10*time.Minute)), until: s.Start.Add(s.Duration / 2)}}
			a.leaveBy = maxTime(a.leaveBy, minTime(s.End(), p.hardOut.Add(-5*time.Minute)))
			break
		}
	}
}

// planParticipant: a workshop participant comes 10 to 40 minutes early (15 %
// up to 12 minutes late), waits in the alleys, is in the room until the end
// (and up to 5 minutes more), and leaves within the half hour.
func (p *planner) planParticipant(a *agent, s Session) {
	end := s.Start.Add(s.Duration)
	if p.chance(0.15) {
		a.arrive = s.Start.Add(p.uniform(time.Minute, 12*time.Minute))
	} else {
		a.arrive = s.Start.Add(-p.uniform(10*time.Minute, 40*time.Minute))
		a.stops = append(a.stops, stop{kind: linger, until: s.Start.Add(-p.uniform(walkMax, walkMax+10*time.Minute))})
	}
	a.stops = append(a.stops, stop{kind: visit, zone: p.workshop, until: end.Add(p.uniform(0, 5*time.Minute))})
	a.leaveBy = minTime(end.Add(p.uniform(10*time.Minute, 30*time.Minute)), p.closingMargin())
}

// forge makes the i-th forged payload: in turn, a ticket signed with another
// key, another event's ticket signed with this one's key (a shared key), a
// genuine ticket with one character changed, and things that are no ticket
// at all (a jar's bar code, a link).
func (p *planner) forge(i int) (string, error) {
	id, err := ticket.NewID(p.ids)
	if err != nil {
		return "", err
	}
	visitor := p.ev.TicketType("visitor")
	var typ uint16
	if visitor != nil {
		typ = visitor.Hash
	}
	t := &ticket.Ticket{Event: p.ev.Hash(), ID: id, Type: typ, Days: []string{p.cfg.Day}, Reentry: true}
	switch i % 5 {
	case 0:
		seed := sha256.Sum256(fmt.Appendf(nil, "forger %d %d", p.cfg.Seed, i))
		return ticket.Sign(t, ed25519.NewKeyFromSeed(seed[:]))
	case 1:
		t.Event = ticket.EventHash("another-fair-2025")
		return ticket.Sign(t, p.key)
	case 2:
		s, err := ticket.Sign(t, p.key)
		if err != nil {
			return "", err
		}
		b := []byte(s)
		if c := b[len(ticket.Prefix)+8]; c == 'A' {
			b[len(ticket.Prefix)+8] = 'B'
		} else {
			b[len(ticket.Prefix)+8] = 'A'
		}
		return string(b), nil
	case 3:
		return "6111245591015", nil // an EAN-13 of Morocco, off a jar of argan oil
	}
	return "https://example.org/billet?id=" + id.String(), nil
}

// The steps. Each makes at most one action, at now, and queues the next.

// arrive: a ticket at an entrance.
func (p *planner) arrive(a *agent, now time.Time) {
	g := p.entrance()
	switch code := p.scan(a, now, g, checkin.In, ""); code {
	case checkin.Accepted:
		a.tries = 0
		if a.double {
			a.double = false
			dev := a.device
			p.at(now.Add(p.uniform(2*time.Second, 15*time.Second)), func(now time.Time) {
				if code := p.scan(a, now, g, checkin.In, dev); code != checkin.AlreadyInside {
					p.fail(fmt.Errorf("person %d: second scan at %s: %s", a.id, g.ID, code))
				}
				p.next(a, now)
			})
			return
		}
		p.next(a, now)
	case checkin.Closed:
		if now.Before(p.day.Open) {
			// ASSUMPTION: the early ones are through within 8 minutes.
			p.at(p.day.Open.Add(p.uniform(0, 8*time.Minute)), func(now time.Time) { p.arrive(a, now) })
		}
	case checkin.ZoneFull:
		// The site is full: wait outside and try again, or go home.
		a.tries++
		again := now.Add(p.uniform(5*time.Minute, 15*time.Minute))
		if a.tries < maxTries && again.Before(a.leaveBy.Add(-20*time.Minute)) {
			p.at(again, func(now time.Time) { p.arrive(a, now) })
		}
	case checkin.InvalidTicket, checkin.NotValidToday:
		// Entry is free: the steward counts the person in by hand.
		a.size = 1
		if a.stay == 0 {
			a.stay = p.lognormal(75*time.Minute, 0.45, 20*time.Minute, 4*time.Hour)
		}
		p.at(now.Add(p.uniform(10*time.Second, 40*time.Second)), func(now time.Time) { p.tallyIn(a, now) })
	default:
		p.fail(fmt.Errorf("person %d: entry at %s: %s", a.id, g.ID, code))
	}
}

// dueRush is the show a's next rush is for, once it is (nearly) time;
// rushes too late to be worth it are dropped.
func (p *planner) dueRush(a *agent, now time.Time) *rush {
	for len(a.rushes) > 0 && !now.Before(a.rushes[0].until.Add(-10*time.Minute)) {
		a.rushes = a.rushes[1:]
	}
	if a.inRush == nil && len(a.rushes) > 0 && !now.Before(a.rushes[0].at.Add(-rushLead)) {
		return a.rushes[0]
	}
	return nil
}

// capRush brings end forward to a's next rush.
func (p *planner) capRush(a *agent, now, end time.Time) time.Time {
	if a.inRush == nil && len(a.rushes) > 0 && end.After(a.rushes[0].at) {
		return maxTime(a.rushes[0].at, now.Add(time.Minute))
	}
	return end
}

func (p *planner) stageStop(r *rush) stop {
	return stop{kind: visit, zone: p.stage, until: r.until, rush: r}
}

// next: a is in the site's alleys; what now.
func (p *planner) next(a *agent, now time.Time) {
	walk := p.uniform(walkMin, walkMax)
	if r := p.dueRush(a, now); r != nil {
		p.at(now.Add(walk/2), func(now time.Time) { p.enter(a, now, p.stageStop(r), nil) })
		return
	}
	if len(a.stops) == 0 || !now.Before(a.leaveBy) {
		if len(a.rushes) > 0 && a.rushes[0].at.Before(a.leaveBy) {
			// Waiting for the show.
			p.at(a.rushes[0].at.Add(-rushLead), func(now time.Time) { p.next(a, now) })
			return
		}
		a.stops = nil
		p.at(p.capOut(now.Add(p.uniform(2*time.Minute, 12*time.Minute))), func(now time.Time) { p.leave(a, now) })
		return
	}
	s := a.stops[0]
	a.stops = a.stops[1:]
	switch s.kind {
	case linger:
		end := s.until
		if end.IsZero() {
			end = now.Add(s.dwell)
		}
		end = p.capRush(a, now, minTime(end, a.leaveBy))
		p.at(end, func(now time.Time) { p.next(a, now) })
	case away:
		p.at(now.Add(walk), func(now time.Time) { p.goAway(a, now, s) })
	default:
		p.at(now.Add(walk), func(now time.Time) { p.enter(a, now, s, nil) })
	}
}

// enter: a scans in at s.zone's gate, from the alleys (from nil) or
// straight from the sibling zone from, without having scanned out of it.
func (p *planner) enter(a *agent, now time.Time, s stop, from *event.Zone) {
	if s.rush == nil && s.kind == visit {
		if r := p.dueRush(a, now); r != nil {
			a.stops = slices.Insert(a.stops, 0, s) // later, maybe
			s = p.stageStop(r)
		}
	}
	if s.rush == nil && !now.Before(a.leaveBy) {
		a.stops = nil
		if from != nil {
			p.out(a, now, from)
			return
		}
		p.next(a, now)
		return
	}
	if from == s.zone {
		// Turned back on the way out (the show is starting): stay.
		p.stay(a, now, s)
		return
	}
	g := p.gateOf[s.zone.ID]
	switch code := p.scan(a, now, g, checkin.In, ""); code {
	case checkin.Accepted:
		a.tries = 0
		p.stay(a, now, s)
	case checkin.ZoneFull:
		// The person stays where the ledger has them.
		if s.rush != nil {
			// The stage is full: try again (next() sees the rush due)
			// a few times, then give up on the show.
			if a.tries++; a.tries >= maxTries {
				a.rushes = a.rushes[1:]
				a.tries = 0
			}
		} else if s.kind == visit && p.chance(0.5) {
			a.stops = append(a.stops, s) // try again at the end
		}
		if from != nil {
			p.at(now.Add(p.uniform(time.Minute, 3*time.Minute)), func(now time.Time) { p.out(a, now, from) })
			return
		}
		p.next(a, now)
	case checkin.NoAccess, checkin.Closed:
		if code == checkin.Closed {
			a.stops, a.rushes = nil, nil
		}
		if from != nil {
			p.out(a, now.Add(time.Minute), from)
			return
		}
		p.next(a, now)
	default:
		p.fail(fmt.Errorf("person %d: entry at %s at %s: %s", a.id, g.ID, now.Format(time.TimeOnly), code))
	}
}

// stay: a is in s.zone, for s's time.
func (p *planner) stay(a *agent, now time.Time, s stop) {
	if s.rush != nil {
		a.rushes = a.rushes[1:]
		a.inRush = s.rush
	}
	end := s.until
	if end.IsZero() {
		end = now.Add(s.dwell)
	}
	if s.rush == nil {
		end = p.capRush(a, now, minTime(end, a.leaveBy))
	}
	end = maxTime(end, now.Add(time.Minute))
	p.at(p.capOut(end), func(now time.Time) { p.leaveZone(a, now) })
}

// leaveZone: a's time in its zone is up.
func (p *planner) leaveZone(a *agent, now time.Time) {
	z := p.m.place[a.tk.id]
	if z == nil || z == p.root {
		p.fail(fmt.Errorf("person %d: leaving a zone from %v", a.id, z))
		return
	}
	if a.inRush != nil {
		a.inRush = nil
		if len(a.rushes) == 0 && p.chance(0.6) {
			a.stops = nil // after the show, home
		}
	}
	var dest *stop
	fromStops := false
	if len(a.rushes) > 0 && !now.Before(a.rushes[0].at.Add(-rushLead)) && now.Before(a.rushes[0].until.Add(-10*time.Minute)) {
		r := a.rushes[0]
		if z == p.stage {
			// Already there: stay for the show.
			a.rushes = a.rushes[1:]
			a.inRush = r
			p.at(p.capOut(maxTime(r.until, now.Add(time.Minute))), func(now time.Time) { p.leaveZone(a, now) })
			return
		}
		s := p.stageStop(r)
		dest = &s
	} else if len(a.stops) > 0 && a.stops[0].kind == visit && now.Before(a.leaveBy) {
		dest, fromStops = &a.stops[0], true
	}
	if dest != nil && dest.zone != z && dest.zone.ParentZone() == z.ParentZone() && p.chance(p.cfg.SiblingShare) {
		// Straight into the next zone without scanning out.
		s := *dest
		if fromStops {
			a.stops = a.stops[1:]
		}
		p.at(now.Add(p.uniform(20*time.Second, 2*time.Minute)), func(now time.Time) { p.enter(a, now, s, z) })
		return
	}
	p.out(a, now, z)
}

// out: a scans out of z (never refused) into the alleys.
func (p *planner) out(a *agent, now time.Time, z *event.Zone) {
	p.scan(a, now, p.gateOf[z.ID], checkin.Out, "")
	p.next(a, now)
}

// leave: out of the site, for the day. ASSUMPTION: one in seven leaves by
// the entrance, the others by the exit.
//
// A share of visitors (UnscannedExitShare) leave through a door that has
// no scanner: no scan, and the ledger keeps them inside until closing.
func (p *planner) leave(a *agent, now time.Time) {
	if p.cfg.UnscannedExitShare > 0 && a.tk != nil && a.tk.id != "" && a.tk.typ.ID == "visitor" &&
		p.chance(p.cfg.UnscannedExitShare) {
		p.unscanned[a.tk.id] = true
		return
	}
	g := p.exitGate(0.15)
	if o := p.outage(g, now); o != nil && a.tk != nil {
		p.offlineExit(a, now, g, o)
		return
	}
	p.scan(a, now, g, checkin.Out, "")
}

// outage is the outage of gate g at now, or nil.
func (p *planner) outage(g *event.Gate, now time.Time) *Outage {
	for i, o := range p.cfg.Outages {
		if o.Gate == g.ID && !now.Before(o.From) && now.Before(o.Until) {
			return &p.cfg.Outages[i]
		}
	}
	return nil
}

// offlineExit: a leaves by g while it is offline. The scanner lets them
// through on its own (an exit is never refused) and keeps the scan, one in
// five twice; the ledger learns of it when g is back online, a minute
// after the outage, newest scan first.
func (p *planner) offlineExit(a *agent, now time.Time, g *event.Gate, o *Outage) {
	dev := p.device(g)
	k := slices.Index(p.cfg.Outages, *o)
	p.offline[k] = append(p.offline[k], Action{At: now, Person: a.id, Device: dev, Gate: g.ID,
		Direction: checkin.Out, Payload: a.tk.payload, Ticket: a.tk.id, Type: a.tk.typ.ID, Zone: g.Zone,
		Offline: true, Decided: checkin.Accepted})
	if p.chance(0.2) {
		again := now.Add(time.Duration(2+p.rng.IntN(5)) * time.Second)
		p.offline[k] = append(p.offline[k], Action{At: again, Person: a.id, Device: dev, Gate: g.ID,
			Direction: checkin.Out, Payload: a.tk.payload, Ticket: a.tk.id, Type: a.tk.typ.ID, Zone: g.Zone,
			Offline: true, Decided: checkin.Accepted})
	}
}

// uploadOutage plans the upload of outage k's scans, newest first, at now:
// each is judged as the ledger judges an upload, on what it knows then.
func (p *planner) uploadOutage(k int, now time.Time) {
	q := p.offline[k]
	slices.SortStableFunc(q, func(x, y Action) int { return y.At.Compare(x.At) })
	for _, a := range q {
		gz := p.ev.Zone(a.Zone)
		a.ID, a.Upload, a.Want = p.nextID(), now, checkin.Accepted
		if p.m.superseded(a.Ticket, a.At) {
			p.m.countSuperseded(gz, a.Direction)
			a.WantFlags = checkin.Flags{checkin.Offline, checkin.Superseded}
		} else {
			to, flags := p.m.exitMove(true, p.m.place[a.Ticket], gz)
			a.WantFlags = append(checkin.Flags{checkin.Offline}, flags...)
			p.m.move(a.Ticket, a.Type, to, a.At)
			p.m.scanned(a.Ticket, a.At)
		}
		slices.Sort(a.WantFlags)
		p.acts = append(p.acts, a)
	}
	p.offline[k] = nil
}

// goAway: out of the site for a while; back through an entrance, if there
// is still time.
func (p *planner) goAway(a *agent, now time.Time, s stop) {
	g := p.exitGate(0.5)
	if p.outage(g, now) != nil {
		g = p.entrance() // people stepping out for a while take a door that works
	}
	p.scan(a, now, g, checkin.Out, "")
	back := now.Add(s.dwell)
	if back.Before(a.leaveBy.Add(-20 * time.Minute)) {
		p.at(back, func(now time.Time) { p.arrive(a, now) })
	}
}

// tallyIn: a walk-in group is counted in at an entrance.
func (p *planner) tallyIn(a *agent, now time.Time) {
	if a.leaveBy.IsZero() {
		a.leaveBy = p.closingMargin()
	}
	switch p.tally(a, now, p.entrance(), p.root, a.size) {
	case checkin.Accepted:
		end := maxTime(minTime(now.Add(a.stay), a.leaveBy), now.Add(time.Minute))
		p.at(p.capOut(end), func(now time.Time) { p.tallyOut(a, now) })
	default:
		a.tries++
		again := now.Add(p.uniform(5*time.Minute, 15*time.Minute))
		if a.tries < maxTries && again.Before(a.leaveBy.Add(-20*time.Minute)) {
			p.at(again, func(now time.Time) { p.tallyIn(a, now) })
		}
	}
}

// tallyOut: the group is counted out, mostly at an exit.
func (p *planner) tallyOut(a *agent, now time.Time) {
	p.tally(a, now, p.exitGate(0.2), p.root, -a.size)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
