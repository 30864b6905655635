package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/ledger"
)

// step is one operation of a rule example, with the verdict it must get.
type step struct {
	scan   *ledger.Scan
	tally  *ledger.Tally
	revoke string // a ticket to revoke; no verdict
	day    int    // 0: the first day of the fair, 1: the next
	want   ledger.Verdict
}

type option func(*ledger.Scan)

var (
	force     option = func(s *ledger.Scan) { s.Force = true }
	noReentry option = func(s *ledger.Scan) { s.Reentry = false }
	forged    option = func(s *ledger.Scan) { s.Precheck = checkin.InvalidTicket }
	offline   option = func(s *ledger.Scan) { s.Flags = s.Flags.With(checkin.Offline) }
)

func pre(c checkin.Code) option { return func(s *ledger.Scan) { s.Precheck = c } }

// decided marks an offline upload with the verdict its gate gave.
func decided(c checkin.Code) option {
	return func(s *ledger.Scan) { s.Decided, s.Flags = c, s.Flags.With(checkin.Offline) }
}
func withID(id string) option { return func(s *ledger.Scan) { s.ID = id } }
func ofType(ty string) option { return func(s *ledger.Scan) { s.Type = ty } }

func scanOf(dir checkin.Direction, ticket, zone string, opts []option) *ledger.Scan {
	sc := &ledger.Scan{Device: "dev-1", Gate: "g-" + zone, Zone: zone, Direction: dir, Ticket: ticket,
		Type: "visitor", Reentry: true, Precheck: checkin.Accepted}
	for _, o := range opts {
		o(sc)
	}
	return sc
}

// in is a scan of ticket into zone; out a scan of it out of zone.
func in(ticket, zone string, opts ...option) *ledger.Scan {
	return scanOf(checkin.In, ticket, zone, opts)
}

func out(ticket, zone string, opts ...option) *ledger.Scan {
	return scanOf(checkin.Out, ticket, zone, opts)
}

// conflicted stands for ledger.ErrIDConflict among verdicts.
var conflicted = ledger.Verdict{Code: idConflict}

// scanOrConflict decides sc; an id conflict comes back as conflicted.
func scanOrConflict(tb testing.TB, st *ledger.Store, sc ledger.Scan) ledger.Verdict {
	tb.Helper()
	v, err := st.Scan(tb.Context(), sc)
	if errors.Is(err, ledger.ErrIDConflict) {
		return conflicted
	}
	if err != nil {
		tb.Fatalf("scan %s: %v", sc.ID, err)
	}
	return v
}

// tallyOrConflict applies tl; an id conflict comes back as conflicted.
func tallyOrConflict(tb testing.TB, st *ledger.Store, tl ledger.Tally) ledger.Verdict {
	tb.Helper()
	v, err := st.Tally(tb.Context(), tl)
	if errors.Is(err, ledger.ErrIDConflict) {
		return conflicted
	}
	if err != nil {
		tb.Fatalf("tally %s: %v", tl.ID, err)
	}
	return v
}

// verdict is the verdict of a scan or tally that is not a replay.
func verdict(code checkin.Code, zone string, occ, capacity int, flags ...checkin.Flag) ledger.Verdict {
	v := ledger.Verdict{Code: code, Flags: checkin.Flags{}, Zone: zone, Occupancy: occ, Capacity: capacity}
	for _, f := range flags {
		v.Flags = v.Flags.With(f)
	}
	return v
}

func replayed(v ledger.Verdict) ledger.Verdict {
	v.Replayed = true
	return v
}

// Shorthands for the rule examples.
const (
	accepted = checkin.Accepted
	site     = "site"
	hallA    = "hall-a"
	coopA    = "coop-a"
	hallB    = "hall-b"
	stage    = "stage"
)

// testRules runs docs/rules.md's rules one example at a time, each on a fresh
// store of the fair's zones (site 8 > hall-a 4 > coop-a 2, hall-b 3, stage 3).
func testRules(t *testing.T, open func(t *testing.T) ledger.Engine) {
	tests := map[string]struct {
		steps  []step
		places map[string]string // ticket -> where it must end up, "" outside
		counts map[string]string // zone -> "occ=… in=… out=…" at the end
		types  map[string]string // zone -> its occupants by type at the end, "visitor:1 press:2"
	}{
		"an offline admission stands though the rules would refuse it now": {
			// Two gates, offline, both let t1 in; t2 got in offline after it was
			// revoked; the stage filled meanwhile. Everyone is inside: the count
			// follows them, and the override is flagged.
			steps: []step{
				{tally: &ledger.Tally{Zone: stage, Delta: 3}, want: verdict(accepted, stage, 3, 3, checkin.ImplicitEntry)},
				{scan: in("t1", site, decided(accepted)), want: verdict(accepted, site, 4, 8, checkin.Offline)},
				{scan: in("t1", site, decided(accepted)),
					want: verdict(accepted, site, 4, 8, checkin.Offline, checkin.OfflineOverride)},
				{revoke: "t2"},
				{scan: in("t2", site, decided(accepted), pre(checkin.Closed)),
					want: verdict(accepted, site, 5, 8, checkin.Offline, checkin.OfflineOverride)},
				{scan: in("t1", stage, decided(accepted)),
					want: verdict(accepted, stage, 4, 3, checkin.Offline, checkin.OfflineOverride)},
				{scan: in("t3", hallA, decided(accepted), forged), want: verdict(checkin.InvalidTicket, hallA, 0, 4, checkin.Offline)},
			},
			places: map[string]string{"t1": stage, "t2": site, "t3": ""},
			counts: map[string]string{site: "occ=5 in=2 out=0", stage: "occ=4 in=1 out=0"},
		},
		"an offline refusal stands: nothing moves": {
			steps: []step{
				{scan: in("t1", hallA, decided(checkin.AlreadyInside)),
					want: verdict(checkin.AlreadyInside, hallA, 0, 4, checkin.Offline)},
				{scan: in("t1", site), want: verdict(accepted, site, 1, 8)},
				{scan: out("t1", site, decided(checkin.ZoneFull)), want: verdict(accepted, site, 0, 8, checkin.Offline)},
			},
			places: map[string]string{"t1": ""},
			counts: map[string]string{site: "occ=0 in=1 out=1", hallA: "occ=0 in=0 out=0"},
		},
		"an entry from outside into a hall enters the site too": {
			steps: []step{
				{scan: in("t1", hallA), want: verdict(accepted, hallA, 1, 4, checkin.ImplicitEntry)},
			},
			places: map[string]string{"t1": hallA},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=1 in=1 out=0"},
		},
		"the site, then a hall, is no anomaly": {
			steps: []step{
				{scan: in("t1", site), want: verdict(accepted, site, 1, 8)},
				{scan: in("t1", hallA), want: verdict(accepted, hallA, 1, 4)},
			},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=1 in=1 out=0"},
		},
		"walking across to the sibling hall moves the count": {
			steps: []step{
				{scan: in("t1", hallA), want: verdict(accepted, hallA, 1, 4, checkin.ImplicitEntry)},
				{scan: in("t1", hallB), want: verdict(accepted, hallB, 1, 3, checkin.MovedFromSibling)},
			},
			places: map[string]string{"t1": hallB},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=0 in=1 out=1", hallB: "occ=1 in=1 out=0"},
		},
		"from a sub-zone to the other hall leaves both the sub-zone and its hall": {
			steps: []step{
				{scan: in("t1", coopA), want: verdict(accepted, coopA, 1, 2, checkin.ImplicitEntry)},
				{scan: in("t1", hallB), want: verdict(accepted, hallB, 1, 3, checkin.MovedFromSibling)},
			},
			places: map[string]string{"t1": hallB},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=0 in=1 out=1",
				coopA: "occ=0 in=1 out=1", hallB: "occ=1 in=1 out=0"},
		},
		"from the other hall into a sub-zone enters below the site only": {
			steps: []step{
				{scan: in("t1", hallB), want: verdict(accepted, hallB, 1, 3, checkin.ImplicitEntry)},
				{scan: in("t1", coopA), want: verdict(accepted, coopA, 1, 2, checkin.ImplicitEntry)},
			},
			places: map[string]string{"t1": coopA},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=1 in=1 out=0",
				coopA: "occ=1 in=1 out=0", hallB: "occ=0 in=1 out=1"},
		},
		"an exit at the hall's gate from its sub-zone leaves both": {
			steps: []step{
				{scan: in("t1", coopA), want: verdict(accepted, coopA, 1, 2, checkin.ImplicitEntry)},
				{scan: out("t1", hallA), want: verdict(accepted, hallA, 0, 4)},
			},
			places: map[string]string{"t1": site},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=0 in=1 out=1", coopA: "occ=0 in=1 out=1"},
		},
		"an exit at the site's gate from deep inside leaves every zone": {
			steps: []step{
				{scan: in("t1", coopA), want: verdict(accepted, coopA, 1, 2, checkin.ImplicitEntry)},
				{scan: out("t1", site), want: verdict(accepted, site, 0, 8)},
			},
			places: map[string]string{"t1": ""},
			counts: map[string]string{site: "occ=0 in=1 out=1", hallA: "occ=0 in=1 out=1", coopA: "occ=0 in=1 out=1"},
		},
		"an exit at the sibling's gate is flagged and puts the person in the parent": {
			steps: []step{
				{scan: in("t1", hallA), want: verdict(accepted, hallA, 1, 4, checkin.ImplicitEntry)},
				{scan: out("t1", hallB), want: verdict(accepted, hallB, 0, 3, checkin.NotInside)},
			},
			places: map[string]string{"t1": site},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=0 in=1 out=1", hallB: "occ=0 in=0 out=0"},
		},
		"an exit of a ticket outside is flagged and counts nothing": {
			steps: []step{
				{scan: out("t1", site), want: verdict(accepted, site, 0, 8, checkin.NotInside)},
				{scan: out("t1", coopA), want: verdict(accepted, coopA, 0, 2, checkin.NotInside)},
			},
			places: map[string]string{"t1": ""},
			counts: map[string]string{site: "occ=0 in=0 out=0", hallA: "occ=0 in=0 out=0", coopA: "occ=0 in=0 out=0"},
		},
		"an exit at a sub-zone's gate by a ticket in the other hall moves nobody": {
			steps: []step{
				{scan: in("t1", hallB), want: verdict(accepted, hallB, 1, 3, checkin.ImplicitEntry)},
				{scan: out("t1", coopA), want: verdict(accepted, coopA, 0, 2, checkin.NotInside)},
			},
			places: map[string]string{"t1": hallB},
			counts: map[string]string{hallA: "occ=0 in=0 out=0", hallB: "occ=1 in=1 out=0"},
		},
		"an exit is never refused: revoked, closed, not valid today, no access": {
			steps: []step{
				{scan: in("t1", coopA), want: verdict(accepted, coopA, 1, 2, checkin.ImplicitEntry)},
				{revoke: "t1"},
				{scan: out("t1", coopA, pre(checkin.Closed)), want: verdict(accepted, coopA, 0, 2)},
				{scan: out("t1", hallA, pre(checkin.NotValidToday)), want: verdict(accepted, hallA, 0, 4)},
				{scan: out("t1", site, pre(checkin.NoAccess)), want: verdict(accepted, site, 0, 8)},
			},
			places: map[string]string{"t1": ""},
			counts: map[string]string{site: "occ=0 in=1 out=1"},
		},
		"an exit with a forged ticket moves nobody": {
			steps: []step{
				{scan: in("t1", hallA), want: verdict(accepted, hallA, 1, 4, checkin.ImplicitEntry)},
				{scan: out("t1", hallA, forged), want: verdict(accepted, hallA, 1, 4, checkin.NotInside, checkin.Unverified)},
				{scan: out("", site, pre(checkin.NotValidToday)), want: verdict(accepted, site, 1, 8, checkin.NotInside, checkin.Unverified)},
			},
			places: map[string]string{"t1": hallA},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=1 in=1 out=0"},
		},
		"refusals come in order: invalid, revoked, then the prechecks": {
			steps: []step{
				{revoke: "t1"},
				{scan: in("t1", site, forged), want: verdict(checkin.InvalidTicket, site, 0, 8)},
				{scan: in("t1", site, pre(checkin.Closed)), want: verdict(checkin.Revoked, site, 0, 8)},
				{scan: in("t2", site, pre(checkin.Closed)), want: verdict(checkin.Closed, site, 0, 8)},
				{scan: in("t2", site, pre(checkin.NotValidToday)), want: verdict(checkin.NotValidToday, site, 0, 8)},
				{scan: in("t2", hallA, pre(checkin.NoAccess)), want: verdict(checkin.NoAccess, hallA, 0, 4)},
				{scan: in("", hallA, pre(checkin.NoAccess)), want: verdict(checkin.InvalidTicket, hallA, 0, 4)},
			},
			places: map[string]string{"t1": "", "t2": ""},
		},
		"revoked and closed come before anti-passback, and force waives neither": {
			steps: []step{
				{scan: in("t1", site), want: verdict(accepted, site, 1, 8)},
				{scan: in("t1", site, pre(checkin.Closed), force), want: verdict(checkin.Closed, site, 1, 8)},
				{revoke: "t1"},
				{scan: in("t1", site, force), want: verdict(checkin.Revoked, site, 1, 8)},
			},
			places: map[string]string{"t1": site},
		},
		"anti-passback at the zone and at every zone around it": {
			steps: []step{
				{scan: in("t1", hallA), want: verdict(accepted, hallA, 1, 4, checkin.ImplicitEntry)},
				{scan: in("t1", hallA), want: verdict(checkin.AlreadyInside, hallA, 1, 4)},
				{scan: in("t1", site), want: verdict(checkin.AlreadyInside, site, 1, 8)},
			},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=1 in=1 out=0"},
		},
		"a forced already_inside from a sub-zone counts nobody twice": {
			steps: []step{
				{scan: in("t1", coopA), want: verdict(accepted, coopA, 1, 2, checkin.ImplicitEntry)},
				{scan: in("t1", hallA, force), want: verdict(accepted, hallA, 1, 4, checkin.Forced)},
				{scan: in("t1", hallA, force), want: verdict(accepted, hallA, 1, 4, checkin.Forced)},
			},
			places: map[string]string{"t1": hallA},
			counts: map[string]string{site: "occ=1 in=1 out=0", hallA: "occ=1 in=1 out=0", coopA: "occ=0 in=1 out=1"},
		},
		"a single-entry ticket does not come back the same day, unless forced, but does the next": {
			steps: []step{
				{scan: in("t1", site, noReentry), want: verdict(accepted, site, 1, 8)},
				{scan: out("t1", site, noReentry), want: verdict(accepted, site, 0, 8)},
				{scan: in("t1", site, noReentry), want: verdict(checkin.AlreadyUsed, site, 0, 8)},
				{scan: in("t1", site), want: verdict(accepted, site, 1, 8)}, // a re-entry ticket
				{scan: out("t1", site), want: verdict(accepted, site, 0, 8)},
				{scan: in("t1", site, noReentry, force), want: verdict(accepted, site, 1, 8, checkin.Forced)},
				{scan: out("t1", site), want: verdict(accepted, site, 0, 8)},
				{scan: in("t1", site, noReentry), day: 1, want: verdict(accepted, site, 1, 8)},
			},
			counts: map[string]string{site: "occ=1 in=4 out=3"},
		},
		"an implicit entry into the site is an entry of the day": {
			steps: []step{
				{scan: in("t1", hallA, noReentry), want: verdict(accepted, hallA, 1, 4, checkin.ImplicitEntry)},
				{scan: out("t1", site), want: verdict(accepted, site, 0, 8)},
				{scan: in("t1", site, noReentry), want: verdict(checkin.AlreadyUsed, site, 0, 8)},
			},
		},
		"anti-passback comes before single entry": {
			steps: []step{
				{scan: in("t1", site, noReentry), want: verdict(accepted, site, 1, 8)},
				{scan: in("t1", site, noReentry), want: verdict(checkin.AlreadyInside, site, 1, 8)},
			},
		},
		"the site fills up, and an exit makes room": {
			steps: []step{
				{scan: in("t1", site), want: verdict(accepted, site, 1, 8)},
				{scan: in("t2", site), want: verdict(accepted, site, 2, 8)},
				{scan: in("t3", site), want: verdict(accepted, site, 3, 8)},
				{scan: in("t4", site), want: verdict(accepted, site, 4, 8)},
				{scan: in("t5", site), want: verdict(accepted, site, 5, 8)},
				{scan: in("t6", site), want: verdict(accepted, site, 6, 8)},
				{scan: in("t7", site), want: verdict(accepted, site, 7, 8)},
				{scan: in("t8", site), want: verdict(accepted, site, 8, 8)},
				{scan: in("t9", site), want: verdict(checkin.ZoneFull, site, 8, 8)},
				{scan: out("t1", site), want: verdict(accepted, site, 7, 8)},
				{scan: in("t9", site), want: verdict(accepted, site, 8, 8)},
			},
			places: map[string]string{"t1": "", "t9": site},
			counts: map[string]string{site: "occ=8 in=9 out=1"},
		},
		"a hall full of tallied people refuses a ticket from the site, not one from inside it": {
			steps: []step{
				{scan: in("t1", hallA), want: verdict(accepted, hallA, 1, 4, checkin.ImplicitEntry)},
				{tally: &ledger.Tally{Zone: hallA, Delta: 3}, want: verdict(accepted, hallA, 4, 4, checkin.ImplicitEntry)},
				{scan: in("t2", site), want: verdict(accepted, site, 5, 8)},
				{scan: in("t2", hallA), want: verdict(checkin.ZoneFull, hallA, 4, 4)},
				{scan: in("t1", coopA), want: verdict(accepted, coopA, 1, 2)}, // hall-a is not raised
			},
			places: map[string]string{"t1": coopA, "t2": site},
			counts: map[string]string{site: "occ=5 in=2 out=0", hallA: "occ=4 in=1 out=0", coopA: "occ=1 in=1 out=0"},
		},
		"zone_full names the full zone above the gate's, and the refused entry is no move": {
			steps: []step{
				{tally: &ledger.Tally{Zone: hallA, Delta: 4}, want: verdict(accepted, hallA, 4, 4, checkin.ImplicitEntry)},
				{scan: in("t1", coopA), want: verdict(checkin.ZoneFull, hallA, 4, 4)},
			},
			places: map[string]string{"t1": ""},
			counts: map[string]string{site: "occ=4 in=0 out=0", coopA: "occ=0 in=0 out=0"},
		},
		"a refused entry from outside carries no implicit_entry flag": {
			steps: []step{
				{tally: &ledger.Tally{Zone: stage, Delta: 3}, want: verdict(accepted, stage, 3, 3, checkin.ImplicitEntry)},
				{scan: in("t1", stage), want: verdict(checkin.ZoneFull, stage, 3, 3)},
			},
			places: map[string]string{"t1": ""},
		},
		"a refused entry from the sibling hall carries no moved_from_sibling flag": {
			steps: []step{
				{scan: in("t1", hallB), want: verdict(accepted, hallB, 1, 3, checkin.ImplicitEntry)},
				{tally: &ledger.Tally{Zone: stage, Delta: 3}, want: verdict(accepted, stage, 3, 3, checkin.ImplicitEntry)},
				{scan: in("t1", stage), want: verdict(checkin.ZoneFull, stage, 3, 3)},
			},
			places: map[string]string{"t1": hallB},
			counts: map[string]string{hallB: "occ=1 in=1 out=0", stage: "occ=3 in=0 out=0"},
		},
		"a stage tally of people the site did not count counts them in the site too": {
			steps: []step{
				{tally: &ledger.Tally{Zone: stage, Delta: 3}, want: verdict(accepted, stage, 3, 3, checkin.ImplicitEntry)},
				{scan: in("t1", site), want: verdict(accepted, site, 4, 8)},
			},
			counts: map[string]string{site: "occ=4 in=1 out=0", stage: "occ=3 in=0 out=0"},
		},
		"a stage tally moves people the site counted, and back": {
			steps: []step{
				{tally: &ledger.Tally{Zone: site, Delta: 3}, want: verdict(accepted, site, 3, 8)},
				{tally: &ledger.Tally{Zone: stage, Delta: 2}, want: verdict(accepted, stage, 2, 3)}, // from the site's 3
				{scan: in("t1", site), want: verdict(accepted, site, 4, 8)},
				{tally: &ledger.Tally{Zone: stage, Delta: -2}, want: verdict(accepted, stage, 0, 3)}, // back to the site
				{tally: &ledger.Tally{Zone: site, Delta: -3}, want: verdict(accepted, site, 1, 8)},
			},
			counts: map[string]string{site: "occ=1 in=1 out=0", stage: "occ=0 in=0 out=0"},
		},
		"a forced entry passes a full zone": {
			steps: []step{
				{scan: in("t1", site), want: verdict(accepted, site, 1, 8)},
				{tally: &ledger.Tally{Zone: stage, Delta: 3}, want: verdict(accepted, stage, 3, 3, checkin.ImplicitEntry)},
				{scan: in("t1", stage, force), want: verdict(accepted, stage, 4, 3, checkin.Forced)},
			},
			counts: map[string]string{stage: "occ=4 in=1 out=0"},
		},
		"force with nothing to waive is no override": {
			steps: []step{
				{scan: in("t1", site, force), want: verdict(accepted, site, 1, 8)},
			},
		},
		"a tally past the capacity is refused, unless forced": {
			steps: []step{
				{tally: &ledger.Tally{Zone: stage, Delta: 4}, want: verdict(checkin.ZoneFull, stage, 0, 3)},
				{tally: &ledger.Tally{Zone: stage, Delta: 3}, want: verdict(accepted, stage, 3, 3, checkin.ImplicitEntry)},
				{tally: &ledger.Tally{Zone: stage, Delta: 1, Force: true}, want: verdict(accepted, stage, 4, 3, checkin.Forced, checkin.ImplicitEntry)},
			},
			counts: map[string]string{stage: "occ=4 in=0 out=0"},
		},
		"a tally decrement is clamped at the tally balance": {
			steps: []step{
				{scan: in("t1", stage), want: verdict(accepted, stage, 1, 3, checkin.ImplicitEntry)},
				{tally: &ledger.Tally{Zone: stage, Delta: 2}, want: verdict(accepted, stage, 3, 3, checkin.ImplicitEntry)},
				{tally: &ledger.Tally{Zone: stage, Delta: -5}, want: verdict(accepted, stage, 1, 3, checkin.Clamped)},
				{tally: &ledger.Tally{Zone: stage, Delta: -1}, want: verdict(accepted, stage, 1, 3, checkin.Clamped)},
			},
			counts: map[string]string{stage: "occ=1 in=1 out=0"},
		},
		"a replay returns the first verdict, whatever came since and whatever it carries; an id reused for another scan is a conflict": {
			steps: []step{
				{scan: in("t1", stage, withID("A")), want: verdict(accepted, stage, 1, 3, checkin.ImplicitEntry)},
				{tally: &ledger.Tally{Zone: stage, Delta: 2}, want: verdict(accepted, stage, 3, 3, checkin.ImplicitEntry)},
				{scan: in("t1", stage, withID("A")), want: replayed(verdict(accepted, stage, 1, 3, checkin.ImplicitEntry))},
				{scan: in("t1", stage, withID("A"), offline), want: replayed(verdict(accepted, stage, 1, 3, checkin.ImplicitEntry))},
				{scan: out("t2", hallB, withID("A"), forged), want: conflicted},
				{scan: out("t1", stage, withID("A")), want: conflicted}, // an exit: not refused, an error
				{scan: in("t2", stage, withID("A")), want: conflicted},
				{tally: &ledger.Tally{ID: "A", Zone: site, Delta: 1}, want: conflicted},
				{scan: in("t2", site), want: verdict(accepted, site, 4, 8)},
				{scan: in("t2", stage, withID("B")), want: verdict(checkin.ZoneFull, stage, 3, 3)},
				{scan: in("t2", stage, withID("B"), force), want: replayed(verdict(checkin.ZoneFull, stage, 3, 3))},
			},
			places: map[string]string{"t1": stage, "t2": site},
			counts: map[string]string{site: "occ=4 in=2 out=0", stage: "occ=3 in=1 out=0"},
		},
		"occupants are counted by the type they entered with": {
			steps: []step{
				{scan: in("t1", hallA, ofType("press")), want: verdict(accepted, hallA, 1, 4, checkin.ImplicitEntry)},
				{scan: in("t2", site), want: verdict(accepted, site, 2, 8)},
				{scan: in("t3", hallB, ofType("press")), want: verdict(accepted, hallB, 1, 3, checkin.ImplicitEntry)},
				{scan: out("t3", site, ofType("press")), want: verdict(accepted, site, 2, 8)},
			},
			types: map[string]string{site: "press:1 visitor:1", hallA: "press:1", hallB: ""},
		},
		"every verdict carries the caller's flags": {
			steps: []step{
				{scan: in("t1", site, offline), want: verdict(accepted, site, 1, 8, checkin.Offline)},
				{scan: in("t1", site, offline), want: verdict(checkin.AlreadyInside, site, 1, 8, checkin.Offline)},
				{scan: in("t2", "", offline), want: verdict(checkin.UnknownGate, "", 0, 0, checkin.Offline)},
				{scan: out("t1", hallB, offline), want: verdict(accepted, hallB, 0, 3, checkin.NotInside, checkin.Offline)},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := MustStore(t, open, fairZones)
			loc := MustLocation(t)
			for i, s := range tc.steps {
				at := time.Date(2025, 9, 17+s.day, 11, 0, i, 0, loc)
				var got ledger.Verdict
				switch {
				case s.revoke != "":
					if n := MustRevoke(t, st, at, s.revoke); n != 1 {
						t.Fatalf("step %d: revoke %s: %d revoked, want 1", i, s.revoke, n)
					}
					continue
				case s.scan != nil:
					sc := *s.scan
					if sc.ID == "" {
						sc.ID = fmt.Sprintf("s%d", i)
					}
					sc.At, sc.DeviceAt = at, at
					got = scanOrConflict(t, st, sc)
				default:
					tl := *s.tally
					if tl.ID == "" {
						tl.ID = fmt.Sprintf("t%d", i)
					}
					tl.At, tl.DeviceAt = at, at
					got = tallyOrConflict(t, st, tl)
				}
				if g, w := formatVerdict(got), formatVerdict(s.want); g != w {
					t.Errorf("step %d: got %s, want %s", i, g, w)
				}
			}
			for tk, want := range tc.places {
				if got := MustPlace(t, st, tk); got != want {
					t.Errorf("place of %s: got %q, want %q", tk, got, want)
				}
			}
			cs, _ := MustRecountAgrees(t, st, fairZones)
			for z, want := range tc.types {
				var parts []string
				for _, ty := range slices.Sorted(maps.Keys(cs[z].ByType)) {
					if n := cs[z].ByType[ty]; n != 0 {
						parts = append(parts, fmt.Sprintf("%s:%d", ty, n))
					}
				}
				if got := strings.Join(parts, " "); got != want {
					t.Errorf("zone %s: occupants by type %q, want %q", z, got, want)
				}
			}
			for z, want := range tc.counts {
				c := cs[z]
				if got := fmt.Sprintf("occ=%d in=%d out=%d", c.Occupancy, c.Entries, c.Exits); got != want {
					t.Errorf("zone %s: got %s, want %s", z, got, want)
				}
			}
		})
	}
}
