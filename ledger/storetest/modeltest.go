package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/ledger"
)

// The model test's knobs, read from the environment so that a failure can be
// replayed: STORETEST_SEED=<n> reruns one sequence, STORETEST_OPS=<n> sets
// its length.
const (
	seedEnv    = "STORETEST_SEED"
	opsEnv     = "STORETEST_OPS"
	defaultOps = 4000
	// checkEvery is how often (in operations) the model test compares
	// counters, places and day fields; the log and its recount are compared
	// every logEvery operations and at the end.
	checkEvery = 250
	logEvery   = 1000
)

func envInt(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

// testModel runs thousands of random operations on a store and on the model
// side by side, and compares every verdict, and regularly everything else.
func testModel(t *testing.T, open func(t *testing.T) ledger.Engine) {
	seed := envInt(t, seedEnv, rand.Uint64())
	n := int(envInt(t, opsEnv, defaultOps))
	t.Logf("seed %d, %d operations (rerun with %s=%d)", seed, n, seedEnv, seed)

	loc := MustLocation(t)
	days := FairDays(t)
	eng := open(t)
	st := mustStoreOn(t, eng, fairZones, days)
	m := newModel(loc, fairZones, days)
	g := newGen(seed, m, loc, n)
	ctx := t.Context()

	var history []string // the last operations, for a failure message
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: "+format+"\nlast operations:\n  %s", append(append([]any{seed}, args...),
			strings.Join(history, "\n  "))...)
	}
	seen := map[string]bool{}     // codes and flags that occurred, to show the run covered them
	flagDiffs := map[string]int{} // verdicts that differ in their flags only, by kind
	for i := range n {
		o := g.next(i)
		var got, want ledger.Verdict
		var err error
		switch {
		case o.scan != nil:
			want = m.scan(*o.scan)
			got, err = st.Scan(ctx, *o.scan)
		case o.tally != nil:
			want = m.tally(*o.tally)
			got, err = st.Tally(ctx, *o.tally)
		case o.close:
			want.Code = checkin.Code("closings " + formatClosings(m.closeUpTo(m.due(o.at), "gateway")))
			var cs []ledger.Closing
			cs, err = st.CloseDue(ctx, o.at, "gateway")
			got.Code = checkin.Code("closings " + formatClosings(cs))
		default:
			var gotN int
			wantN := m.revoke(o.at, "operator", o.revoke...)
			gotN, err = st.Revoke(ctx, o.at, "operator", o.revoke...)
			if err == nil && gotN != wantN {
				fail("op %d %s: %d newly revoked, want %d", i, o, gotN, wantN)
			}
		}
		history = append(history, fmt.Sprintf("%d %s -> %s", i, o, formatVerdict(got)))
		if len(history) > 20 {
			history = history[1:]
		}
		if errors.Is(err, ledger.ErrIDConflict) {
			got, err = ledger.Verdict{Code: idConflict}, nil
		}
		if err != nil {
			fail("op %d %s: %v", i, o, err)
		}
		if o.revoke == nil {
			if gv, wv := formatVerdict(got), formatVerdict(want); gv != wv {
				if !flagsOnly(got, want) || want.Replayed {
					fail("op %d %s:\n  got  %s\n  want %s", i, o, gv, wv)
				}
				// Flags change no state: report the first case of each kind, take the
				// store's flags into the model, and go on looking for other differences.
				kind := fmt.Sprintf("%s with flags +[%s] -[%s]", want.Code, minus(got.Flags, want.Flags),
					minus(want.Flags, got.Flags))
				if flagDiffs[kind]++; flagDiffs[kind] == 1 {
					t.Errorf("seed %d: op %d %s:\n  got  %s\n  want %s", seed, i, o, gv, wv)
				}
				m.overrideFlags(o.id(), got.Flags)
			}
			seen[string(got.Code)] = true
			if o.close && got.Code != "closings []" {
				seen["closings"] = true
			}
			for _, f := range got.Flags {
				seen[string(f)] = true
			}
			if got.Replayed {
				seen["replayed"] = true
			}
		}
		if (i+1)%checkEvery == 0 || i == n-1 {
			if d := diffModel(t, st, eng, m, g.tickets, (i+1)%logEvery == 0 || i == n-1); d != "" {
				fail("after op %d:\n%s", i, d)
			}
		}
	}
	// The last day closes after its last operation, when a gateway's ticker
	// (or a command) finds it due: the store must close it as the model does.
	end := FairDays(t)[fairDayCount-1].Close.Add(time.Hour)
	want, got := formatClosings(m.closeUpTo(m.due(end), "gateway")), ""
	cs, err := st.CloseDue(ctx, end, "gateway")
	if err != nil {
		fail("close due at %s: %v", end, err)
	}
	if got = formatClosings(cs); got != want || len(cs) != 1 {
		fail("close due at %s:\n  got  %s\n  want %s (the last day, once)", end, got, want)
	}
	seen["closings"] = true
	if d := diffModel(t, st, eng, m, g.tickets, true); d != "" {
		fail("after the last closing:\n%s", d)
	}
	for _, kind := range slices.Sorted(maps.Keys(flagDiffs)) {
		t.Errorf("seed %d: %d verdicts %s (+ the store's extra flags, - the ones it left out)", seed,
			flagDiffs[kind], kind)
	}
	if n < defaultOps {
		return // a short run (STORETEST_OPS) need not reach every case
	}
	var missing []string
	for _, c := range checkin.Codes {
		if !seen[string(c)] {
			missing = append(missing, string(c))
		}
	}
	for _, c := range []checkin.Code{idConflict, "closings"} {
		if !seen[string(c)] {
			missing = append(missing, string(c))
		}
	}
	for _, f := range []checkin.Flag{checkin.NotInside, checkin.MovedFromSibling, checkin.ImplicitEntry,
		checkin.Offline, checkin.Forced, checkin.ClockSkew, checkin.Unverified, checkin.Clamped,
		checkin.Superseded, checkin.OfflineOverride} {
		if !seen[string(f)] {
			missing = append(missing, string(f))
		}
	}
	if !seen["replayed"] {
		missing = append(missing, "replayed")
	}
	if len(missing) > 0 {
		t.Errorf("seed %d: %d operations never produced %s: the generator no longer covers the rules",
			seed, n, strings.Join(missing, ", "))
	}
}

// diffModel compares the store with the model: every zone's counters, every
// ticket's place, the revocation list, the modelled day fields, the trend
// marks, and with withLog the whole log and its recount. It returns "" when
// they agree.
func diffModel(t *testing.T, st *ledger.Store, eng ledger.Engine, m *model, tickets []ticketInfo, withLog bool) string {
	t.Helper()
	var b strings.Builder
	got := MustCounters(t, st)
	if d := diffCounters(m.counters(), got); d != "" {
		fmt.Fprintf(&b, "counters:\n%s", d)
	}
	for _, tk := range tickets {
		if g, w := MustPlace(t, st, tk.id), m.place[tk.id]; g != w {
			fmt.Fprintf(&b, "place of %s: got %q, want %q\n", tk.id, g, w)
		}
	}
	rv, err := st.Revoked(t.Context())
	if err != nil {
		t.Fatalf("revoked: %v", err)
	}
	var want []string
	for tk := range m.revoked {
		want = append(want, tk)
	}
	if g, w := slices.Sorted(slices.Values(rv)), slices.Sorted(slices.Values(want)); !slices.Equal(g, w) {
		fmt.Fprintf(&b, "revoked: got %v, want %v\n", g, w)
	}
	for _, date := range m.dates() {
		if d := diffFields(m.dayFields(date), modelled(MustDay(t, st, date))); d != "" {
			fmt.Fprintf(&b, "day %s:\n%s", date, d)
		}
	}
	wantMarks := map[string]string{}
	for k, v := range m.trend {
		wantMarks[k] = fmt.Sprint(v)
	}
	if d := diffFields(wantMarks, trendMarks(t, eng)); d != "" {
		fmt.Fprintf(&b, "trend marks:\n%s", d)
	}
	if withLog {
		log := MustLog(t, st)
		if d := diffLog(m.log, log); d != "" {
			fmt.Fprintf(&b, "log:\n%s", d)
		}
		if d := diffCounters(ledger.Recount(fairZones, log), got); d != "" {
			fmt.Fprintf(&b, "counters disagree with a recount of the log:\n%s", d)
		}
	}
	return b.String()
}

// ticketInfo is what a ticket carries that the ledger sees.
type ticketInfo struct {
	id, ttype string
	reentry   bool
}

// op is one generated operation: a scan, a tally, a revocation or a call of
// CloseDue at.
type op struct {
	what   string // what the generator meant, for failure messages
	scan   *ledger.Scan
	tally  *ledger.Tally
	revoke []string
	close  bool
	at     time.Time
}

// formatClosings prints what closings did, for comparing the store's with
// the model's.
func formatClosings(cs []ledger.Closing) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s swept=%s swept_tally=%s", c.Date, formatCounts(c.Swept),
			formatCounts(c.SweptTally)))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func (o op) String() string {
	switch {
	case o.scan != nil:
		s := o.scan
		return fmt.Sprintf("%s: scan id=%s %s gate=%s zone=%q ticket=%q type=%s pre=%s reentry=%t force=%t "+
			"decided=%s flags=[%s] at=%s received=%s", o.what, s.ID, s.Direction, s.Gate, s.Zone, s.Ticket,
			s.Type, s.Precheck, s.Reentry, s.Force, s.Decided, s.Flags, s.At.Format("01-02T15:04:05"),
			s.Received.Format("01-02T15:04:05"))
	case o.tally != nil:
		tl := o.tally
		return fmt.Sprintf("%s: tally id=%s zone=%s delta=%+d force=%t flags=[%s] at=%s", o.what, tl.ID,
			tl.Zone, tl.Delta, tl.Force, tl.Flags, tl.At.Format("01-02T15:04:05"))
	}
	if o.close {
		return fmt.Sprintf("%s: close due at %s", o.what, o.at.Format("01-02T15:04:05"))
	}
	return fmt.Sprintf("%s: revoke %v", o.what, o.revoke)
}

// gen makes the model test's operations. It reads the model (never changes
// it) to aim exits at tickets that are inside.
type gen struct {
	rng     *rand.Rand
	m       *model
	loc     *time.Location
	n       int
	tickets []ticketInfo
	zones   []string
	past    []op // every scan and tally made, to resend
	revoked int
}

// maxRevoked bounds the distinct tickets the model test revokes, so that
// most tickets stay in play.
const maxRevoked = 3

func newGen(seed uint64, m *model, loc *time.Location, n int) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), m: m, loc: loc, n: n, zones: m.zones}
	types := []string{"visitor", "exhibitor", "press", "staff"}
	for i := range 14 {
		g.tickets = append(g.tickets, ticketInfo{id: fmt.Sprintf("tk%02d", i), ttype: types[i%len(types)],
			reentry: i%4 != 3})
	}
	return g
}

// day0 is the first of the model test's days (FairDays), 10:00 local time.
func (g *gen) day0() time.Time { return time.Date(2025, 9, 17, 10, 0, 0, 0, g.loc) }

// when spreads the operations over the days of FairDays, a third on each,
// from 10:00 to 21:00 (the last part after the day's closing at 20:30), the
// last day to 20:00 only, so that it is still open when the test ends.
func (g *gen) when(i int) time.Time {
	third := max(g.n/fairDayCount, 1)
	day := min(i/third, fairDayCount-1)
	k, span := i-day*third, 11*time.Hour
	if day == fairDayCount-1 {
		span = 10 * time.Hour * time.Duration(third) / time.Duration(g.n-day*third)
	}
	return g.day0().AddDate(0, 0, day).Add(time.Duration(k) * span / time.Duration(third)).
		Add(time.Duration(g.rng.IntN(20)) * time.Second)
}

func (g *gen) pct(p int) bool { return g.rng.IntN(100) < p }

func (g *gen) ticket() ticketInfo { return g.tickets[g.rng.IntN(len(g.tickets))] }

func (g *gen) zone() string { return g.zones[g.rng.IntN(len(g.zones))] }

func pick[T any](g *gen, xs ...T) T { return xs[g.rng.IntN(len(xs))] }

// scan returns a scan of tk at zone's gate, with its time, device and
// caller's flags drawn at random.
func (g *gen) scan(i int, tk ticketInfo, zone string, dir checkin.Direction) *ledger.Scan {
	sc := &ledger.Scan{ID: fmt.Sprintf("s%05d", i), Device: pick(g, "dev-1", "dev-2", "dev-3"),
		Gate: "g-" + zone, Zone: zone, Direction: dir, Ticket: tk.id, Type: tk.ttype,
		Reentry: tk.reentry, Precheck: checkin.Accepted}
	g.stamp(i, &sc.At, &sc.DeviceAt, &sc.Received, &sc.Flags)
	if sc.Flags.Has(checkin.Offline) {
		switch r := g.rng.IntN(10); {
		case r < 5:
			sc.Decided = checkin.Accepted
		case r < 7:
			sc.Decided = pick(g, checkin.ZoneFull, checkin.AlreadyInside, checkin.Revoked)
		}
	}
	return sc
}

// stamp sets the decision time, the device's time, when the store receives
// it and the caller's flags: now and then an offline upload recorded up to
// four hours before (late, out of order, now and then on a day that has
// closed since), a skewed device clock, or no device time at all.
func (g *gen) stamp(i int, at, devAt, received *time.Time, flags *checkin.Flags) {
	*at = g.when(i)
	*devAt, *received = *at, *at
	switch {
	case g.pct(8):
		*at = at.Add(-time.Duration(g.rng.IntN(4*3600)) * time.Second)
		*devAt = *at
		*flags = flags.With(checkin.Offline)
	case g.pct(3):
		*devAt = at.Add(5 * time.Minute)
		*flags = flags.With(checkin.ClockSkew)
	case g.pct(3):
		*devAt = time.Time{}
	}
}

func (g *gen) entry(i int) *ledger.Scan {
	tk := g.ticket()
	sc := g.scan(i, tk, g.zone(), checkin.In)
	sc.Force = g.pct(10)
	if g.pct(10) {
		sc.Reentry = !sc.Reentry
	}
	return sc
}

func (g *gen) exit(i int) *ledger.Scan {
	tk := g.ticket()
	zone := g.zone()
	if p := g.m.place[tk.id]; p != "" && g.pct(65) {
		up := g.m.ancestry(p)
		zone = up[g.rng.IntN(len(up))]
	}
	sc := g.scan(i, tk, zone, checkin.Out)
	if g.pct(10) {
		sc.Precheck = pick(g, checkin.Closed, checkin.NotValidToday, checkin.NoAccess)
	}
	return sc
}

func (g *gen) tally(i int) *ledger.Tally {
	zone := g.zone()
	delta := 1 + g.rng.IntN(3)
	if g.pct(50) {
		delta = -delta
	}
	tl := &ledger.Tally{ID: fmt.Sprintf("t%05d", i), Device: "counter", Gate: pick(g, "", "g-"+zone),
		Zone: zone, Delta: delta, Force: g.pct(10), GateUnknown: g.pct(3)}
	g.stamp(i, &tl.At, &tl.DeviceAt, &tl.Received, &tl.Flags)
	return tl
}

// next makes operation i.
func (g *gen) next(i int) op {
	o := g.make(i)
	if o.scan != nil || o.tally != nil {
		g.past = append(g.past, o)
	}
	return o
}

func (g *gen) make(i int) op {
	switch r := g.rng.IntN(100); {
	case r < 34:
		return op{what: "entry", scan: g.entry(i)}
	case r < 58:
		return op{what: "exit", scan: g.exit(i)}
	case r < 66 && len(g.past) > 0:
		prev := g.past[g.rng.IntN(len(g.past))]
		if g.pct(50) {
			prev.what = "resent"
			return prev
		}
		o := g.make(i) // the same id with other content: id_conflict, unless it is the same after all
		if o.revoke != nil || o.close {
			return o
		}
		id := prev.id()
		if o.scan != nil {
			sc := *o.scan // o may be a resent operation: leave the original alone
			sc.ID = id
			o.scan = &sc
		} else {
			tl := *o.tally
			tl.ID = id
			o.tally = &tl
		}
		o.what = "reused id, other content (" + o.what + ")"
		return o
	case r < 74:
		return op{what: "tally", tally: g.tally(i)}
	case r < 79:
		tk := g.ticket()
		if g.pct(50) {
			tk = ticketInfo{}
		}
		sc := g.scan(i, tk, g.zone(), pick(g, checkin.In, checkin.Out))
		sc.Precheck = checkin.InvalidTicket
		if tk.id == "" && g.pct(30) {
			sc.Precheck = checkin.NotValidToday // no ticket id: it did not verify, whatever the precheck says
		}
		return op{what: "forged", scan: sc}
	case r < 85:
		sc := g.scan(i, g.ticket(), g.zone(), checkin.In)
		sc.Precheck = pick(g, checkin.Closed, checkin.NotValidToday, checkin.NoAccess)
		sc.Force = g.pct(20)
		return op{what: "precheck refusal", scan: sc}
	case r < 89:
		sc := g.scan(i, g.ticket(), g.zone(), pick(g, checkin.In, checkin.Out))
		switch g.rng.IntN(3) {
		case 0:
			sc.Zone = ""
		case 1:
			sc.Zone = "annex" // not a zone of the event
		default:
			sc.Precheck = checkin.UnknownGate // the device may not use this gate
		}
		return op{what: "unknown gate", scan: sc}
	case r < 91 && g.pct(30):
		return op{what: "close", close: true, at: g.when(i)}
	case r < 90:
		tk := g.ticket()
		if !g.m.revoked[tk.id] && g.revoked >= maxRevoked {
			return g.make(i)
		}
		if !g.m.revoked[tk.id] {
			g.revoked++
		}
		return op{what: "revoke", revoke: []string{tk.id}, at: g.when(i)}
	default:
		return op{what: "entry", scan: g.entry(i)}
	}
}

func (o op) id() string {
	if o.scan != nil {
		return o.scan.ID
	}
	return o.tally.ID
}

// flagsOnly reports whether two verdicts differ in their flags alone.
func flagsOnly(got, want ledger.Verdict) bool {
	got.Flags, want.Flags = nil, nil
	return formatVerdict(got) == formatVerdict(want)
}

// minus lists the flags of a that b lacks.
func minus(a, b checkin.Flags) checkin.Flags {
	var out checkin.Flags
	for _, f := range a {
		if !b.Has(f) {
			out = out.With(f)
		}
	}
	return out
}
