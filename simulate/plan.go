package simulate

import (
	"container/heap"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ticket"
)

// Action is one thing that happens at a gate: a ticket scanned in or out, or
// a steward's tally of people without a ticket. Want and WantFlags are what
// docs/rules.md gives it when the plan's actions are applied in order to an
// empty ledger.
type Action struct {
	// At is when it happens, on the event clock, to the second.
	At time.Time
	// Person is who acts: 0 to Plan.People−1. A walk-in group is one
	// person; so is a forged ticket's bearer, who becomes a walk-in.
	Person int
	// Device is the lane's scanner, "<gate>/<lane>".
	Device string
	// Gate is where it happens; always a gate of the event.
	Gate string
	// Direction of a scan; "" for a tally.
	Direction checkin.Direction
	// Payload is the ticket text as the reader sends it; "" for a tally.
	Payload string
	// Ticket and Type are the ticket's id and type, as the ledger keeps
	// them; "" for a tally or a payload that is not a valid ticket.
	Ticket, Type string
	// Zone is the zone counted: a tally's zone, or a scan's gate's zone.
	Zone string
	// Delta is a tally's count, +n in or −n out; 0 for a scan.
	Delta int
	// ID is the scan or tally id, unique across plans of other days and
	// seeds too: "sim-<YYYYMMDD>-<seed in hex>-<n>".
	ID string
	// Want is the verdict the rules give.
	Want checkin.Code
	// Offline marks a scan an offline gate decided on its own (Decided)
	// and uploads at Upload, when it is back online: late, and each
	// outage's scans in reverse order. At stays the device's time of the
	// scan.
	Offline bool
	Decided checkin.Code
	Upload  time.Time
	// WantFlags are the flags the rules give, sorted; nil for none. The
	// plan makes moved_from_sibling (an entry from a sibling zone), and
	// would make not_inside, unverified, implicit_entry and clamped if its
	// people did what gives them; it never makes offline, clock_skew or
	// forced, which depend on the device, not on the plan.
	WantFlags checkin.Flags
}

// IsTally reports whether the action is a tally rather than a scan.
func (a Action) IsTally() bool { return a.Delta != 0 }

// Arrival is when the ledger gets the action: its upload for an offline
// scan, else its time.
func (a Action) Arrival() time.Time {
	if a.Offline {
		return a.Upload
	}
	return a.At
}

// Peak is a zone's highest occupancy and when it first reached it.
type Peak struct {
	Occupancy int
	At        time.Time
}

// Plan is a simulated day: every action in order, and the truth it implies.
// It is read-only once made and safe for concurrent use.
type Plan struct {
	// Config is the configuration it was made with.
	Config Config
	// Day is the simulated day.
	Day event.Day
	// Actions are sorted by Arrival (At, but for the offline uploads);
	// actions arriving at the same second keep the order the rules must
	// see them in (the planner's, which is deterministic).
	Actions []Action
	// People is how many persons act.
	People int
	// Peaks are each zone's highest occupancy over the day.
	Peaks map[string]Peak
	// Unscanned is how many visitors left through a door without a
	// scanner (Config.UnscannedExitShare): still inside for the ledger
	// after the last action, swept out at closing.
	Unscanned int

	ev *event.Event
}

// NewPlan plans cfg's day on ev, signing every ticket with key (the event's
// key, whose public half the judge under test must know). The same
// arguments give the same plan.
func NewPlan(ev *event.Event, key ed25519.PrivateKey, cfg Config) (*Plan, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("plan: private key of %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if err := cfg.Validate(ev); err != nil {
		return nil, fmt.Errorf("plan %s: %w", cfg.Day, err)
	}
	p, err := newPlanner(ev, key, cfg)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", cfg.Day, err)
	}
	if err := p.populate(); err != nil {
		return nil, fmt.Errorf("plan %s: %w", cfg.Day, err)
	}
	for k, o := range cfg.Outages {
		p.at(o.Until.Add(time.Minute), func(now time.Time) { p.uploadOutage(k, now) })
	}
	p.run()
	if p.err != nil {
		return nil, fmt.Errorf("plan %s: %w", cfg.Day, p.err)
	}
	// Everybody leaves before closing, but for those who left through a
	// door without a scanner (the closing sweeps them): anyone else still
	// inside is a bug in the planner, not a day to test with.
	for id := range p.m.place {
		if !p.unscanned[id] {
			return nil, fmt.Errorf("plan %s: %w: ticket %s still in %s at the end of the day", cfg.Day, errPlanner, id, p.m.place[id].ID)
		}
	}
	for _, z := range ev.Zones {
		if b := p.m.tally[z.ID]; b != 0 {
			return nil, fmt.Errorf("plan %s: %w: a tally balance of %d in %s at the end of the day", cfg.Day, errPlanner, b, z.ID)
		}
	}
	return &Plan{Config: cfg, Day: p.day, Actions: p.acts, People: len(p.people), Peaks: p.m.peaks,
		Unscanned: len(p.unscanned), ev: ev}, nil
}

// errPlanner marks a plan that breaks its own invariants.
var errPlanner = errors.New("planner bug")

// planner runs the day as a discrete-event simulation: each person's next
// step is an item in a queue ordered by time (then by when it was queued),
// and each step makes at most one action, judged by the model on the state
// that all earlier actions left. A refusal changes what the person does
// next, so the plan stays consistent with the rules.
type planner struct {
	ev  *event.Event
	cfg Config
	day event.Day
	key ed25519.PrivateKey
	rng *rand.Rand
	ids io.Reader // ticket ids
	// badges are the ids of the tickets valid on every day (exhibitors,
	// staff, guests, press): drawn from a stream that depends on the seed
	// and the event but not on the day, so the same people come back with
	// the same badges on every day of a fair.
	badges io.Reader
	m      *model
	q      queue
	seq    uint64
	now    time.Time
	acts   []Action
	err    error

	people []*agent
	prefix string // of action ids
	// unscanned are the tickets whose holder left through a door without a
	// scanner: the ledger has them inside until the closing sweeps them.
	unscanned map[string]bool
	// offline holds, per outage (its index in Config.Outages), the scans
	// its gate keeps until it is back online.
	offline map[int][]Action

	root      *event.Zone
	entrances []*event.Gate
	exits     []*event.Gate
	gateOf    map[string]*event.Gate // zone id -> its gate
	stage     *event.Zone
	workshop  *event.Zone
	public    []*event.Zone // the zones a visitor's ticket opens, with a gate
	weights   []float64     // how much visitors want each public zone
	hardOut   time.Time     // the last instant anyone may still be inside
	halls     []*event.Zone // the zones of kind hall inside the site, with a gate
}

func newPlanner(ev *event.Event, key ed25519.PrivateKey, cfg Config) (*planner, error) {
	day, _ := eventDay(ev, cfg.Day)
	seed := sha256.Sum256(fmt.Appendf(nil, "crowdflow/simulate %d %s %s", cfg.Seed, ev.ID, cfg.Day))
	p := &planner{
		ev:        ev,
		cfg:       cfg,
		day:       day,
		key:       key,
		rng:       rand.New(rand.NewPCG(binary.BigEndian.Uint64(seed[:8]), binary.BigEndian.Uint64(seed[8:16]))),
		ids:       rand.NewChaCha8(sha256.Sum256(seed[:])),
		badges:    rand.NewChaCha8(sha256.Sum256(fmt.Appendf(nil, "crowdflow/simulate badges %d %s", cfg.Seed, ev.ID))),
		m:         newModel(ev),
		prefix:    fmt.Sprintf("sim-%s-%x-", compactDate(cfg.Day), cfg.Seed),
		root:      ev.Root(),
		gateOf:    map[string]*event.Gate{},
		stage:     ev.Zone(cfg.Stage),
		hardOut:   day.Close.Add(-time.Minute),
		unscanned: map[string]bool{},
		offline:   map[int][]Action{},
	}
	for _, id := range cfg.Entrances {
		p.entrances = append(p.entrances, ev.Gate(id))
	}
	for _, id := range cfg.Exits {
		p.exits = append(p.exits, ev.Gate(id))
	}
	for _, g := range ev.Gates {
		if _, ok := p.gateOf[g.Zone]; !ok {
			p.gateOf[g.Zone] = g
		}
	}
	if cfg.WorkshopParticipants > 0 || cfg.WrongDoor > 0 {
		p.workshop = ev.Zone(cfg.Workshop)
	}
	visitor := ev.TicketType("visitor")
	var halls float64
	for _, z := range p.root.Children() {
		if p.gateOf[z.ID] == nil {
			continue
		}
		if z.Kind == event.KindHall {
			p.halls = append(p.halls, z)
			halls += float64(z.Capacity)
		}
		if visitor != nil && allows(&pass{typ: visitor}, z, ev) {
			p.public = append(p.public, z)
		}
	}
	for _, z := range p.public {
		// ASSUMPTION: visitors go to a hall in proportion to its size;
		// the stage between shows (recorded music, a troupe warming up)
		// draws 15 % as much as all the halls together.
		w := float64(z.Capacity)
		if z.Kind != event.KindHall {
			w = 0.15 * halls
		}
		p.weights = append(p.weights, w)
	}
	if len(p.public) == 0 && cfg.Visitors+cfg.Press+cfg.Guests > 0 {
		return nil, fmt.Errorf("%w: no zone a visitor may enter has a gate", ErrConfig)
	}
	return p, nil
}

func compactDate(d string) string {
	out := make([]byte, 0, len(d))
	for i := 0; i < len(d); i++ {
		if d[i] != '-' {
			out = append(out, d[i])
		}
	}
	return string(out)
}

// run empties the queue.
func (p *planner) run() {
	limit := 200 * (len(p.people) + 1) // far more steps than anyone takes: a loop is a bug
	for steps := 0; p.q.Len() > 0 && p.err == nil; steps++ {
		if steps > limit {
			p.fail(fmt.Errorf("more than %d steps", limit))
			return
		}
		it := heap.Pop(&p.q).(*item)
		p.now = it.at
		it.fn(it.at)
	}
}

// at queues fn to run at t, rounded up to the second (so a step waiting
// for t never runs before it), never before the current step and never after
// hardOut: whatever people meant to do, they are out by then.
func (p *planner) at(t time.Time, fn func(now time.Time)) {
	t = minTime(t, p.hardOut).Add(time.Second - 1).Truncate(time.Second)
	if t.Before(p.now) {
		t = p.now
	}
	p.seq++
	heap.Push(&p.q, &item{at: t, seq: p.seq, fn: fn})
}

func (p *planner) fail(err error) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %v", errPlanner, err)
	}
}

func (p *planner) nextID() string {
	return p.prefix + fmt.Sprintf("%06d", len(p.acts))
}

func (p *planner) device(g *event.Gate) string {
	return fmt.Sprintf("%s/%d", g.ID, 1+p.rng.IntN(max(g.Lanes, 1)))
}

// scan plans a scan of a's ticket at g, at now, from device dev ("": any
// lane of g), and applies its outcome.
func (p *planner) scan(a *agent, now time.Time, g *event.Gate, dir checkin.Direction, dev string) checkin.Code {
	gz := p.ev.Zone(g.Zone)
	code, flags, to := p.m.judge(a.tk, gz, dir, now)
	if dev == "" {
		dev = p.device(g)
	}
	act := Action{At: now, Person: a.id, Device: dev, Gate: g.ID, Direction: dir, Payload: a.tk.payload,
		Ticket: a.tk.id, Zone: gz.ID, ID: p.nextID(), Want: code, WantFlags: flags}
	if a.tk.id != "" {
		act.Type = a.tk.typ.ID
	}
	switch {
	case code != checkin.Accepted:
		p.m.refuse(gz, code)
	case a.tk.id != "":
		p.m.move(a.tk.id, a.tk.typ.ID, to, now)
		p.m.scanned(a.tk.id, now)
	}
	a.device = dev
	p.acts = append(p.acts, act)
	return code
}

// tally plans a tally of a's group at g on zone z and applies it.
func (p *planner) tally(a *agent, now time.Time, g *event.Gate, z *event.Zone, delta int) checkin.Code {
	code, flags, applied := p.m.judgeTally(z, delta)
	if code == checkin.Accepted {
		p.m.applyTally(z, applied, now)
	} else {
		p.m.refuse(z, code)
	}
	p.acts = append(p.acts, Action{At: now, Person: a.id, Device: p.device(g), Gate: g.ID, Zone: z.ID,
		Delta: delta, ID: p.nextID(), Want: code, WantFlags: flags})
	return code
}

// issue signs a ticket of type typ for days (nil: the type's), all the
// type's zones, with the type's re-entry rule.
func (p *planner) issue(typ string, days []string) (*pass, error) {
	tt := p.ev.TicketType(typ)
	ids := p.ids
	if days == nil {
		ids = p.badges
	}
	id, err := ticket.NewID(ids)
	if err != nil {
		return nil, err
	}
	payload, err := ticket.Sign(&ticket.Ticket{Event: p.ev.Hash(), ID: id, Type: tt.Hash, Days: days, Reentry: tt.Reentry}, p.key)
	if err != nil {
		return nil, fmt.Errorf("issue %s ticket: %w", typ, err)
	}
	return &pass{id: id.String(), typ: tt, days: days, reentry: tt.Reentry, payload: payload}, nil
}

// Random figures. Every duration the plan draws goes through these.

func (p *planner) chance(x float64) bool { return p.rng.Float64() < x }

// uniform is a duration in [lo, hi).
func (p *planner) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(p.rng.Int64N(int64(hi-lo)))
}

// normal is a duration around mean with standard deviation sd.
func (p *planner) normal(mean, sd time.Duration) time.Duration {
	return mean + time.Duration(p.rng.NormFloat64()*float64(sd))
}

// lognormal is a right-skewed duration (how long people stay somewhere),
// with the given median and shape, kept within [lo, hi].
func (p *planner) lognormal(median time.Duration, sigma float64, lo, hi time.Duration) time.Duration {
	d := time.Duration(float64(median) * math.Exp(sigma*p.rng.NormFloat64()))
	return min(max(d, lo), hi)
}

// triangular is a duration in [lo, hi] most likely near mode.
func (p *planner) triangular(lo, mode, hi time.Duration) time.Duration {
	u := p.rng.Float64()
	a, b, c := float64(lo), float64(mode), float64(hi)
	if u < (b-a)/(c-a) {
		return time.Duration(a + math.Sqrt(u*(c-a)*(b-a)))
	}
	return time.Duration(c - math.Sqrt((1-u)*(c-a)*(c-b)))
}

// pick draws an index with probability proportional to weights.
func (p *planner) pick(weights []float64) int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	x := p.rng.Float64() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func (p *planner) entrance() *event.Gate { return p.entrances[p.rng.IntN(len(p.entrances))] }

// exitGate is the gate a person leaves by: an exit, or now and then (share)
// the entrance they know.
func (p *planner) exitGate(share float64) *event.Gate {
	if p.chance(share) {
		return p.entrance()
	}
	return p.exits[p.rng.IntN(len(p.exits))]
}

// capOut keeps a departure inside the day: by hardOut at the latest.
func (p *planner) capOut(t time.Time) time.Time {
	if t.After(p.hardOut) {
		return p.hardOut
	}
	return t
}

// queue is the simulation's agenda: a heap by time, then by the order steps
// were queued in, so equal times run in a deterministic order.
type queue []*item

type item struct {
	at  time.Time
	seq uint64
	fn  func(now time.Time)
}

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// Truth replays every action that arrived by until (Arrival <= until), in order, with the verdicts
// the plan wants, and returns each zone's figures: the counters a correct
// ledger shows after those actions.
func (p *Plan) Truth(until time.Time) map[string]Truth {
	n := sort.Search(len(p.Actions), func(i int) bool { return p.Actions[i].Arrival().After(until) })
	m := newModel(p.ev)
	for _, a := range p.Actions[:n] {
		p.replay(m, a)
	}
	return m.truth()
}

// Sample is a zone's occupancy from At on.
type Sample struct {
	At        time.Time
	Occupancy int
}

// Occupancy is zone's occupancy over the day: a sample after each action
// that changes it (the last of a second, when several do), in order.
func (p *Plan) Occupancy(zone string) []Sample {
	m := newModel(p.ev)
	var out []Sample
	c := m.counts[zone]
	if c == nil {
		return nil
	}
	for _, a := range p.Actions {
		before := c.Occupancy
		p.replay(m, a)
		if c.Occupancy == before {
			continue
		}
		if n := len(out); n > 0 && out[n-1].At.Equal(a.Arrival()) {
			out[n-1].Occupancy = c.Occupancy
			continue
		}
		out = append(out, Sample{At: a.Arrival(), Occupancy: c.Occupancy})
	}
	return out
}

// replay applies a with the verdict the plan wants: the moves the rules
// imply for an accepted scan, the tally for an accepted tally, a refusal
// otherwise.
func (p *Plan) replay(m *model, a Action) {
	z := p.ev.Zone(a.Zone)
	switch {
	case a.Want != checkin.Accepted:
		m.refuse(z, a.Want)
	case a.IsTally():
		_, _, applied := m.judgeTally(z, a.Delta)
		m.applyTally(z, applied, a.At)
	case a.Ticket == "":
		// An exit with a payload that is no ticket moves nothing.
	case a.Offline && m.superseded(a.Ticket, a.At):
		m.countSuperseded(z, a.Direction)
	case a.Direction == checkin.Out:
		to, _ := m.exitMove(true, m.place[a.Ticket], z)
		m.move(a.Ticket, a.Type, to, a.At)
		m.scanned(a.Ticket, a.At)
	default:
		m.move(a.Ticket, a.Type, z, a.At)
		m.scanned(a.Ticket, a.At)
	}
}

// Truth is a zone's figures at some time, as docs/rules.md defines them.
type Truth struct {
	// Occupancy counts tickets in the zone or a zone inside it, plus the
	// zone's own tally balance.
	Occupancy int
	// Entries and Exits count ticket moves across the zone's boundary.
	Entries, Exits int
	// TallyIn and TallyOut count the people tallies added and removed.
	TallyIn, TallyOut int
	// Refusals count refused scans at the zone's gates and refused
	// tallies on it, by code.
	Refusals map[checkin.Code]int
	// ByType counts the ticket holders inside by ticket type; types with
	// none are absent.
	ByType map[string]int
}
