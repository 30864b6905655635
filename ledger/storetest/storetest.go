package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the event's time zone must not depend on the machine's zoneinfo

	"crowdflow/checkin"
	"crowdflow/ledger"
)

// Run runs the whole suite on the engines that open returns. open is called
// once per subtest and must return a fresh, empty engine; it registers its own
// cleanup with t, and that cleanup must tolerate an engine the suite has
// already closed. Run does not run subtests in parallel, so open may reuse
// one server and empty it each time.
func Run(t *testing.T, open func(t *testing.T) ledger.Engine) {
	t.Run("Engine", func(t *testing.T) { testEngine(t, open) })
	t.Run("Rules", func(t *testing.T) { testRules(t, open) })
	t.Run("Model", func(t *testing.T) { testModel(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("Retries", func(t *testing.T) { testRetries(t, open) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, open) })
	t.Run("ForgedAndUnknownGate", func(t *testing.T) { testForgedAndUnknownGate(t, open) })
	t.Run("DayCounters", func(t *testing.T) { testDayCounters(t, open) })
	t.Run("Seq", func(t *testing.T) { testSeq(t, open) })
	t.Run("Days", func(t *testing.T) { testDays(t, open) })
	t.Run("Trend", func(t *testing.T) { testTrend(t, open) })
	t.Run("Devices", func(t *testing.T) { testDevices(t, open) })
}

// The suite's event: a site with two halls and a stage, the first hall with a
// cooperatives' corner inside it, so that moves happen across depths. The
// capacities are small so that zone_full is common.
const event = "fair"

var fairZones = []ledger.Zone{
	{ID: "site", Capacity: 8},
	{ID: "hall-a", Parent: "site", Capacity: 4},
	{ID: "coop-a", Parent: "hall-a", Capacity: 2},
	{ID: "hall-b", Parent: "site", Capacity: 3},
	{ID: "stage", Parent: "site", Capacity: 3},
}

// MustLocation returns the event's time zone, Africa/Casablanca.
func MustLocation(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Africa/Casablanca")
	if err != nil {
		tb.Fatalf("load time zone: %v", err)
	}
	return loc
}

// MustStore opens a fresh engine and returns the store of the suite's event
// with zones on it.
func MustStore(t *testing.T, open func(t *testing.T) ledger.Engine, zones []ledger.Zone) *ledger.Store {
	t.Helper()
	st, err := ledger.New(ledger.Config{Event: event, Location: MustLocation(t), Zones: zones}, open(t))
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	return st
}

// fairDayCount is how many days FairDays has.
const fairDayCount = 3

// FairDays are the suite's event days: 17 to 19 September 2025, each open
// 10:00 to 20:00 and closing at 20:30 (the default grace of 30 minutes).
func FairDays(tb testing.TB) []ledger.Day {
	tb.Helper()
	loc := MustLocation(tb)
	var days []ledger.Day
	for i := range fairDayCount {
		d := time.Date(2025, 9, 17+i, 20, 30, 0, 0, loc)
		days = append(days, ledger.Day{Date: d.Format(time.DateOnly), Close: d})
	}
	return days
}

// MustStoreDays is MustStore for an event with days, which close.
func MustStoreDays(t *testing.T, open func(t *testing.T) ledger.Engine, zones []ledger.Zone, days []ledger.Day) *ledger.Store {
	t.Helper()
	return mustStoreOn(t, open(t), zones, days)
}

func mustStoreOn(t *testing.T, eng ledger.Engine, zones []ledger.Zone, days []ledger.Day) *ledger.Store {
	t.Helper()
	st, err := ledger.New(ledger.Config{Event: event, Location: MustLocation(t), Zones: zones, Days: days}, eng)
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	return st
}

// trendMarks reads the trend hash as the scripts wrote it (see
// ledger/lua/scan.lua, KEYS[11]): the model checks every mark, where
// Store.Trend only shows what a span of them adds up to.
func trendMarks(tb testing.TB, eng ledger.Engine) map[string]string {
	tb.Helper()
	res, err := eng.Eval(tb.Context(), ledger.ReadScript, []string{"cf:{" + event + "}:trend"}, "day")
	if err != nil {
		tb.Fatalf("read the trend marks: %v", err)
	}
	fields, _ := res.([]any)
	out := make(map[string]string, len(fields)/2)
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		out[k] = v
	}
	return out
}

// MustScan decides sc and fails tb on an error.
func MustScan(tb testing.TB, st *ledger.Store, sc ledger.Scan) ledger.Verdict {
	tb.Helper()
	v, err := st.Scan(tb.Context(), sc)
	if err != nil {
		tb.Fatalf("scan %s: %v", sc.ID, err)
	}
	return v
}

// MustTally applies tl and fails tb on an error.
func MustTally(tb testing.TB, st *ledger.Store, tl ledger.Tally) ledger.Verdict {
	tb.Helper()
	v, err := st.Tally(tb.Context(), tl)
	if err != nil {
		tb.Fatalf("tally %s: %v", tl.ID, err)
	}
	return v
}

// MustRevoke revokes ids and returns how many were new.
func MustRevoke(tb testing.TB, st *ledger.Store, at time.Time, ids ...string) int {
	tb.Helper()
	n, err := st.Revoke(tb.Context(), at, "operator", ids...)
	if err != nil {
		tb.Fatalf("revoke %v: %v", ids, err)
	}
	return n
}

// MustCounters reads every zone's counters and checks that none is negative.
func MustCounters(tb testing.TB, st *ledger.Store) map[string]*ledger.Counters {
	tb.Helper()
	cs, err := st.Counters(tb.Context())
	if err != nil {
		tb.Fatalf("counters: %v", err)
	}
	for z, c := range cs {
		if neg := negatives(c); neg != "" {
			tb.Fatalf("zone %s: negative counters %s in %s", z, neg, formatCounters(c))
		}
	}
	return cs
}

// MustLog reads the whole event log and checks that its ids increase.
func MustLog(tb testing.TB, st *ledger.Store) []ledger.Entry {
	tb.Helper()
	log, err := st.ReadLog(tb.Context())
	if err != nil {
		tb.Fatalf("read log: %v", err)
	}
	for i := 1; i < len(log); i++ {
		if !logIDLess(log[i-1].ID, log[i].ID) {
			tb.Fatalf("log entry %d: id %s does not come after %s", i, log[i].ID, log[i-1].ID)
		}
	}
	return log
}

// MustPlace reads where the ledger has ticket.
func MustPlace(tb testing.TB, st *ledger.Store, ticket string) string {
	tb.Helper()
	z, err := st.Place(tb.Context(), ticket)
	if err != nil {
		tb.Fatalf("place of %s: %v", ticket, err)
	}
	return z
}

// MustDay reads the report counters of one day.
func MustDay(tb testing.TB, st *ledger.Store, date string) map[string]string {
	tb.Helper()
	f, err := st.DayFields(tb.Context(), date)
	if err != nil {
		tb.Fatalf("day %s: %v", date, err)
	}
	return f
}

// MustClosed is st.Closed: the closing time of every closed day.
func MustClosed(tb testing.TB, st *ledger.Store) map[string]time.Time {
	tb.Helper()
	closed, err := st.Closed(tb.Context())
	if err != nil {
		tb.Fatalf("closed days: %v", err)
	}
	return closed
}

// MustRecountAgrees checks that the counters equal a recount of the log, and
// returns both.
func MustRecountAgrees(tb testing.TB, st *ledger.Store, zones []ledger.Zone) (map[string]*ledger.Counters, []ledger.Entry) {
	tb.Helper()
	cs := MustCounters(tb, st)
	log := MustLog(tb, st)
	if d := diffCounters(ledger.Recount(zones, log), cs); d != "" {
		tb.Fatalf("counters disagree with a recount of the log (%d entries):\n%s", len(log), d)
	}
	return cs, log
}

// logIDLess orders stream ids "<ms>-<seq>".
func logIDLess(a, b string) bool {
	var am, as, bm, bs uint64
	if _, err := fmt.Sscanf(a, "%d-%d", &am, &as); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "%d-%d", &bm, &bs); err != nil {
		return false
	}
	return am < bm || am == bm && as < bs
}

func negatives(c *ledger.Counters) string {
	var neg []string
	for name, n := range map[string]int{"occupancy": c.Occupancy, "entries": c.Entries, "exits": c.Exits,
		"tally_in": c.TallyIn, "tally_out": c.TallyOut, "tally": c.Tally} {
		if n < 0 {
			neg = append(neg, name)
		}
	}
	for ty, n := range c.ByType {
		if n < 0 {
			neg = append(neg, "type "+ty)
		}
	}
	for code, n := range c.Refusals {
		if n < 0 {
			neg = append(neg, "refusals "+string(code))
		}
	}
	slices.Sort(neg)
	return strings.Join(neg, ", ")
}

// formatCounters prints c with its maps sorted, so that two prints compare.
func formatCounters(c *ledger.Counters) string {
	if c == nil {
		return "<none>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "occ=%d in=%d out=%d tin=%d tout=%d tally=%d swept=%d uv=%d types={", c.Occupancy,
		c.Entries, c.Exits, c.TallyIn, c.TallyOut, c.Tally, c.Swept, c.UniqueVisitors)
	var parts []string
	for _, ty := range slices.Sorted(maps.Keys(c.ByType)) {
		if c.ByType[ty] != 0 { // an absent type and a type at zero mean the same
			parts = append(parts, fmt.Sprintf("%s:%d", ty, c.ByType[ty]))
		}
	}
	b.WriteString(strings.Join(parts, " "))
	b.WriteString("} refusals={")
	parts = parts[:0]
	for _, code := range slices.Sorted(maps.Keys(c.Refusals)) {
		if c.Refusals[code] != 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", code, c.Refusals[code]))
		}
	}
	b.WriteString(strings.Join(parts, " "))
	b.WriteString("}")
	return b.String()
}

// diffCounters lists the zones whose counters differ, "" when none does.
func diffCounters(want, got map[string]*ledger.Counters) string {
	var b strings.Builder
	zones := slices.Sorted(maps.Keys(want))
	for z := range got {
		if _, ok := want[z]; !ok {
			zones = append(zones, z)
		}
	}
	for _, z := range zones {
		w, g := formatCounters(want[z]), formatCounters(got[z])
		if w != g {
			fmt.Fprintf(&b, "  zone %s:\n    got  %s\n    want %s\n", z, g, w)
		}
	}
	return b.String()
}

// formatVerdict prints every field of v, so that two prints compare.
func formatVerdict(v ledger.Verdict) string {
	return fmt.Sprintf("{%s flags=[%s] zone=%q occ=%d cap=%d replayed=%t}", v.Code, v.Flags, v.Zone,
		v.Occupancy, v.Capacity, v.Replayed)
}

// formatEntry prints the fields of e that the store writes, without its log id.
func formatEntry(e ledger.Entry) string {
	return fmt.Sprintf("{%s id=%q device=%q gate=%q zone=%q dir=%q ticket=%q type=%q code=%s flags=[%s] "+
		"from=%q to=%q delta=%d applied=%d day=%q swept=%s swept_tally=%s at=%d device_at=%d}", e.Kind,
		e.ScanID, e.Device, e.Gate, e.Zone, e.Direction, e.Ticket, e.Type, e.Code, e.Flags, e.From, e.To,
		e.Delta, e.Applied, e.Day, formatCounts(e.Swept), formatCounts(e.SweptTally), millis(e.At),
		millis(e.DeviceAt))
}

// formatCounts prints per-zone counts sorted by zone; none and empty alike.
func formatCounts(m map[string]int) string {
	var parts []string
	for _, z := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", z, m[z]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// diffLog compares two logs entry by entry, "" when they agree.
func diffLog(want, got []ledger.Entry) string {
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = formatEntry(want[i])
		}
		if i < len(got) {
			g = formatEntry(got[i])
		}
		if w != g {
			fmt.Fprintf(&b, "  entry %d:\n    got  %s\n    want %s\n", i, g, w)
			if b.Len() > 4000 {
				b.WriteString("  ...\n")
				break
			}
		}
	}
	if len(want) != len(got) {
		fmt.Fprintf(&b, "  got %d entries, want %d\n", len(got), len(want))
	}
	return b.String()
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// diffFields compares two string maps, "" when they are equal.
func diffFields(want, got map[string]string) string {
	var b strings.Builder
	keys := slices.Sorted(maps.Keys(want))
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		w, wok := want[k]
		g, gok := got[k]
		switch {
		case !wok:
			fmt.Fprintf(&b, "  %s: got %q, want none\n", k, g)
		case !gok:
			fmt.Fprintf(&b, "  %s: got none, want %q\n", k, w)
		case w != g:
			fmt.Fprintf(&b, "  %s: got %q, want %q\n", k, g, w)
		}
	}
	return b.String()
}

// state is everything of a store that the suite can read, to show that an
// operation changed nothing.
type state struct {
	counters map[string]*ledger.Counters
	log      []ledger.Entry
	days     map[string]map[string]string
	places   map[string]string
	revoked  []string
}

// mustState reads the state of st: its counters, log, revocations, the day
// fields of dates and the places of tickets.
func mustState(tb testing.TB, st *ledger.Store, dates, tickets []string) state {
	tb.Helper()
	s := state{counters: MustCounters(tb, st), log: MustLog(tb, st), days: map[string]map[string]string{},
		places: map[string]string{}}
	for _, d := range dates {
		s.days[d] = MustDay(tb, st, d)
	}
	for _, tk := range tickets {
		s.places[tk] = MustPlace(tb, st, tk)
	}
	rv, err := st.Revoked(tb.Context())
	if err != nil {
		tb.Fatalf("revoked: %v", err)
	}
	s.revoked = slices.Sorted(slices.Values(rv))
	return s
}

// diffState compares two states, log entries by content and id; "" when equal.
func diffState(want, got state) string {
	var b strings.Builder
	if d := diffCounters(want.counters, got.counters); d != "" {
		fmt.Fprintf(&b, "counters:\n%s", d)
	}
	if d := diffLog(want.log, got.log); d != "" {
		fmt.Fprintf(&b, "log:\n%s", d)
	}
	for i := range min(len(want.log), len(got.log)) {
		if want.log[i].ID != got.log[i].ID {
			fmt.Fprintf(&b, "log entry %d: id %s, was %s\n", i, got.log[i].ID, want.log[i].ID)
		}
	}
	for d := range want.days {
		if df := diffFields(want.days[d], got.days[d]); df != "" {
			fmt.Fprintf(&b, "day %s:\n%s", d, df)
		}
	}
	if d := diffFields(want.places, got.places); d != "" {
		fmt.Fprintf(&b, "places:\n%s", d)
	}
	if !slices.Equal(want.revoked, got.revoked) {
		fmt.Fprintf(&b, "revoked: got %v, want %v\n", got.revoked, want.revoked)
	}
	return b.String()
}

// cloneCounters deep-copies counters, so that a test can derive what it
// expects from a snapshot.
func cloneCounters(cs map[string]*ledger.Counters) map[string]*ledger.Counters {
	out := make(map[string]*ledger.Counters, len(cs))
	for z, c := range cs {
		cc := *c
		cc.ByType = maps.Clone(c.ByType)
		cc.Refusals = maps.Clone(c.Refusals)
		if cc.ByType == nil {
			cc.ByType = map[string]int{}
		}
		if cc.Refusals == nil {
			cc.Refusals = map[checkin.Code]int{}
		}
		out[z] = &cc
	}
	return out
}
