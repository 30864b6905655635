package simulate_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/internal/ledgertest"
	"crowdflow/ledger"
	"crowdflow/simulate"
)

// TestDayOnStore feeds a whole simulated day into a ledger, on the embedded
// engine and on a real redis-server: every verdict must be the one the plan
// wants (StoreSink checks it), the counters must equal the plan's truth at
// several times of the day and at the end, and a recount of the event log
// must agree.
func TestDayOnStore(t *testing.T) {
	ev := MustEvent(t)
	small := MustSmallVenue(t)
	tests := map[string]struct {
		ev     *event.Event
		day    string
		seed   uint64
		engine func(tb testing.TB) ledger.Engine
		config func(simulate.Config) simulate.Config
	}{
		// The full-size default day: the one the fair expects.
		"embedded, first day": {ev: ev, day: "2025-09-17", seed: 1, engine: ledgertest.MustEmbedded},
		// An eighth-size venue on a busy evening: the site and the stage
		// fill, so the gates and the tally refuse people (zone_full).
		"embedded, small venue, busy last day": {ev: small, day: "2025-09-22", seed: 2, engine: ledgertest.MustEmbedded, config: busySmall},
		// Redis is a network round trip per action: the small venue keeps
		// the test short, with every kind of action still in it.
		"redis, small venue, busy day": {ev: small, day: "2025-09-18", seed: 3, engine: ledgertest.MustRedis, config: busySmall},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev := tc.ev
			cfg := simulate.DefaultConfig(ev, tc.day)
			cfg.Seed = tc.seed
			if tc.config != nil {
				cfg = tc.config(cfg)
			}
			plan := MustPlan(t, ev, cfg)
			st, err := ledger.New(admission.LedgerConfig(ev), tc.engine(t))
			if err != nil {
				t.Fatalf("new store: %v", err)
			}
			judge := admission.New(ev, MustKey(t).Public().(ed25519PublicKey))
			cuts := cutTimes(plan)
			checker := &checkingSink{t: t, plan: plan, st: st, cuts: cuts,
				next: simulate.StoreSink(st, judge, nil)}
			clk := clock.NewManual(plan.Day.Open.Add(-time.Hour))
			start := time.Now()
			if err := plan.Feed(t.Context(), clk, checker); err != nil {
				t.Fatalf("feed: %v", err)
			}
			t.Logf("%d actions fed in %s", len(plan.Actions), time.Since(start).Round(time.Millisecond))
			checker.checkUntil(t.Context(), plan.Day.Close.Add(time.Hour))
			if checker.checked < len(cuts) {
				t.Errorf("checked %d cut times, want %d", checker.checked, len(cuts))
			}
			if got, want := clk.Now(), plan.Actions[len(plan.Actions)-1].At; !got.Equal(want) {
				t.Errorf("clock after the feed: got %s, want the last action's time %s", got, want)
			}

			end := plan.Truth(plan.Day.Close)
			log, err := st.ReadLog(t.Context())
			if err != nil {
				t.Fatalf("read log: %v", err)
			}
			kinds := map[string]int{}
			for _, e := range log {
				kinds[e.Kind]++
			}
			if got, want := kinds["scan"]+kinds["tally"], len(plan.Actions); got != want {
				t.Errorf("log has %d scans and tallies, want one per action, %d", got, want)
			}
			if other := len(log) - kinds["scan"] - kinds["tally"] - kinds["swept"] - kinds["close"]; other != 0 {
				t.Errorf("log kinds %v: want scans, tallies and the closings of the days before", kinds)
			}
			recount := ledger.Recount(admission.LedgerConfig(ev).Zones, log)
			for _, z := range ev.Zones {
				if diff := compare(end[z.ID], recount[z.ID]); diff != "" {
					t.Errorf("recount of the log, zone %s: %s", z.ID, diff)
				}
				if got := end[z.ID].Occupancy; got != 0 {
					t.Errorf("zone %s: %d inside after closing, want 0", z.ID, got)
				}
			}
			// The day must have exercised the rules, or the test proves little.
			refusals := map[checkin.Code]int{}
			for _, c := range end {
				for code, n := range c.Refusals {
					refusals[code] += n
				}
			}
			for _, code := range []checkin.Code{checkin.Closed, checkin.AlreadyInside, checkin.InvalidTicket,
				checkin.NotValidToday, checkin.NoAccess} {
				if refusals[code] == 0 {
					t.Errorf("no %s refusal in the day", code)
				}
			}
			if tc.config != nil {
				for _, z := range []string{"site", "stage"} {
					if end[z].Refusals[checkin.ZoneFull] == 0 {
						t.Errorf("a busy day without a zone_full refusal at the %s", z)
					}
				}
			}
			t.Logf("refusals: %v", refusals)
		})
	}
}

// checkingSink passes actions on to next and, before the first action after
// each cut time, checks that the store's counters equal the plan's truth at
// that time.
type checkingSink struct {
	t       *testing.T
	plan    *simulate.Plan
	st      *ledger.Store
	next    simulate.Sink
	cuts    []time.Time
	checked int
}

func (s *checkingSink) Apply(ctx context.Context, a simulate.Action) error {
	s.checkUntil(ctx, a.At)
	return s.next.Apply(ctx, a)
}

// checkUntil checks every cut time before at not yet checked.
func (s *checkingSink) checkUntil(ctx context.Context, at time.Time) {
	s.t.Helper()
	for s.checked < len(s.cuts) && s.cuts[s.checked].Before(at) {
		cut := s.cuts[s.checked]
		s.checked++
		got, err := s.st.Counters(ctx)
		if err != nil {
			s.t.Fatalf("counters: %v", err)
		}
		want := s.plan.Truth(cut)
		for id, w := range want {
			if diff := compare(w, got[id]); diff != "" {
				s.t.Errorf("at %s, zone %s: %s", cut.Format(time.TimeOnly), id, diff)
			}
		}
	}
}

// cutTimes are the times the test compares the store with the truth: every
// two hours, the top of each show, and the end of the day.
func cutTimes(p *simulate.Plan) []time.Time {
	var cuts []time.Time
	for t := p.Day.Open.Add(time.Hour); t.Before(p.Day.Close); t = t.Add(2 * time.Hour) {
		cuts = append(cuts, t)
	}
	for _, sh := range p.Config.Shows {
		cuts = append(cuts, sh.Start.Add(10*time.Minute))
	}
	cuts = append(cuts, p.Day.Close)
	slicesSortTimes(cuts)
	return cuts
}

// compare describes how the ledger's counters c differ from the truth w;
// "" when they agree.
func compare(w simulate.Truth, c *ledger.Counters) string {
	if c == nil {
		return "zone missing"
	}
	var diff string
	for _, f := range []struct {
		name      string
		got, want int
	}{
		{"occupancy", c.Occupancy, w.Occupancy}, {"entries", c.Entries, w.Entries}, {"exits", c.Exits, w.Exits},
		{"tally in", c.TallyIn, w.TallyIn}, {"tally out", c.TallyOut, w.TallyOut},
		{"tally balance", c.Tally, w.TallyIn - w.TallyOut},
	} {
		if f.got != f.want {
			diff += fmt.Sprintf("%s %d, want %d; ", f.name, f.got, f.want)
		}
	}
	if !maps.Equal(c.Refusals, w.Refusals) {
		diff += fmt.Sprintf("refusals %v, want %v; ", c.Refusals, w.Refusals)
	}
	if !maps.Equal(c.ByType, w.ByType) {
		diff += fmt.Sprintf("by type %v, want %v; ", c.ByType, w.ByType)
	}
	return diff
}

// busySmall is a busy day in the small venue: an eighth of the exhibitors
// and staff, a fifth of a normal day's visitors, a last show that draws more
// than the stage holds, and a crowd that often walks from zone to zone
// without scanning out. The site, the halls and the stage all turn people
// away.
func busySmall(cfg simulate.Config) simulate.Config {
	cfg.Visitors, cfg.Walkins, cfg.Exhibitors, cfg.Staff = 500, 125, 40, 5
	cfg.Press, cfg.Guests, cfg.WorkshopParticipants = 2, 3, 12
	cfg.Shows[len(cfg.Shows)-1].Draw = 100 // the stage holds 80
	cfg.SiblingShare = 0.25
	return cfg
}
