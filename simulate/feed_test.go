package simulate_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"reflect"
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/internal/ledgertest"
	"crowdflow/ledger"
	"crowdflow/simulate"
)

// MustSmallPlan is a small busy day in the small venue: a few thousand
// actions, quick to plan and to feed.
func MustSmallPlan(tb testing.TB, seed uint64) *simulate.Plan {
	tb.Helper()
	ev := MustSmallVenue(tb)
	cfg := busySmall(simulate.DefaultConfig(ev, "2025-09-19"))
	cfg.Seed = seed
	return MustPlan(tb, ev, cfg)
}

// TestFeedPaced feeds a slice of the evening on a clock running 600 times
// faster than the wall: actions come in the plan's order, none before the
// clock reaches it, and everything already due when the feed starts comes
// at once.
func TestFeedPaced(t *testing.T) {
	t.Parallel()
	p := MustSmallPlan(t, 4)
	start := p.Config.Shows[0].Start // the crowd rushes to the stage
	stop := start.Add(2 * time.Minute)
	clk, err := clock.New(start, 600, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []simulate.Action
	sink := simulate.SinkFunc(func(ctx context.Context, a simulate.Action) error {
		if now := clk.Now(); now.Before(a.At) {
			t.Errorf("action %s due at %s applied at %s", a.ID, a.At.Format(time.TimeOnly), now.Format(time.TimeOnly))
		}
		if a.At.After(stop) {
			cancel() // enough: the slice is done
			return nil
		}
		got = append(got, a)
		return nil
	})
	err = p.Feed(ctx, clk, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("feed: got %v, want context.Canceled", err)
	}
	var want []simulate.Action
	paced := 0
	for _, a := range p.Actions {
		if a.At.After(stop) {
			break
		}
		want = append(want, a)
		if a.At.After(start) {
			paced++
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d actions, want the plan's first %d in order", len(got), len(want))
	}
	if paced == 0 {
		t.Fatalf("no action in the paced slice: the test checks nothing")
	}
}

// TestFeedManual: a settable clock is moved to each action's time, so a day
// goes as fast as the sink; the sink sees the clock at the action's time.
func TestFeedManual(t *testing.T) {
	t.Parallel()
	p := MustSmallPlan(t, 5)
	clk := clock.NewManual(p.Day.Open.Add(-2 * time.Hour))
	n := 0
	sink := simulate.SinkFunc(func(ctx context.Context, a simulate.Action) error {
		if !reflect.DeepEqual(a, p.Actions[n]) {
			t.Fatalf("action %d: got %s, want %s", n, a.ID, p.Actions[n].ID)
		}
		if now := clk.Now(); !now.Equal(a.At) {
			t.Fatalf("action %s at %s: clock reads %s", a.ID, a.At, now)
		}
		n++
		return nil
	})
	if err := p.Feed(t.Context(), clk, sink); err != nil {
		t.Fatalf("feed: %v", err)
	}
	if n != len(p.Actions) {
		t.Errorf("applied %d actions, want %d", n, len(p.Actions))
	}
	// A clock already past the plan is never moved back.
	late := p.Day.Close.Add(time.Hour)
	clk.Set(late)
	if err := p.Feed(t.Context(), clk, simulate.SinkFunc(func(context.Context, simulate.Action) error { return nil })); err != nil {
		t.Fatalf("feed: %v", err)
	}
	if !clk.Now().Equal(late) {
		t.Errorf("clock moved back to %s", clk.Now())
	}
}

func TestFeedStops(t *testing.T) {
	t.Parallel()
	p := MustSmallPlan(t, 6)
	errSink := errors.New("sink broke")
	tests := map[string]struct {
		ctx     func() context.Context
		failAt  int // the sink fails on this call (1-based); 0: never
		want    error
		applied int
	}{
		"sink error": {ctx: context.Background, failAt: 10, want: errSink, applied: 10},
		"context ended before": {ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, want: context.Canceled},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n := 0
			sink := simulate.SinkFunc(func(context.Context, simulate.Action) error {
				n++
				if n == tc.failAt {
					return errSink
				}
				return nil
			})
			err := p.Feed(tc.ctx(), clock.NewManual(p.Day.Open), sink)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if n != tc.applied {
				t.Errorf("sink called %d times, want %d", n, tc.applied)
			}
		})
	}
}

// TestStoreSinkChecksVerdicts: a verdict that is not the plan's is an error.
func TestStoreSinkChecksVerdicts(t *testing.T) {
	t.Parallel()
	p := MustSmallPlan(t, 7)
	ev := MustSmallVenue(t)
	judge := admission.New(ev, MustKey(t).Public().(ed25519.PublicKey))
	first := p.Actions[0] // an early arrival, refused closed
	if first.Want != checkin.Closed {
		t.Fatalf("first action %+v: want an early arrival refused closed", first)
	}
	tests := map[string]struct {
		mutate func(*simulate.Action)
		gates  func(string) bool
		want   error
	}{
		"as planned":             {want: nil},
		"another code wanted":    {mutate: func(a *simulate.Action) { a.Want = checkin.Accepted }, want: simulate.ErrVerdict},
		"another flag wanted":    {mutate: func(a *simulate.Action) { a.WantFlags = checkin.Flags{checkin.MovedFromSibling} }, want: simulate.ErrVerdict},
		"the gate is not theirs": {gates: func(string) bool { return false }, want: simulate.ErrVerdict},
		"an invalid scan":        {mutate: func(a *simulate.Action) { a.At = time.Time{} }, want: ledger.ErrInvalid},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st, err := ledger.New(admission.LedgerConfig(ev), ledgertest.MustEmbedded(t))
			if err != nil {
				t.Fatal(err)
			}
			a := first
			if tc.mutate != nil {
				tc.mutate(&a)
			}
			err = simulate.StoreSink(st, judge, tc.gates).Apply(t.Context(), a)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
