package simulate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/ledger"
)

// Sink receives a plan's actions. Feed calls Apply from one goroutine, one
// action at a time, in the plan's order; an error stops the feed.
type Sink interface {
	Apply(ctx context.Context, a Action) error
}

// SinkFunc is a function used as a Sink.
type SinkFunc func(ctx context.Context, a Action) error

// Apply calls f.
func (f SinkFunc) Apply(ctx context.Context, a Action) error { return f(ctx, a) }

// Feed gives sink every action of the plan, in order, each once clk.Now()
// has reached its Arrival (its At, or an offline scan's Upload). It returns nil when all are applied, the sink's error
// wrapped, or ctx's error once it ends.
//
// How it waits depends on the clock:
//   - a clock that can be set (clock.Manual: it has Set(time.Time)) is moved
//     forward to each action's time, so a whole day runs as fast as the sink
//     takes it;
//   - a clock that runs at a speed (clock.Shifted: Speed() float64) is waited
//     for in wall time, (At − Now) ÷ speed;
//   - any other clock is taken to run in real time.
//
// Actions already due (the clock started later than the plan) are applied at
// once, in order.
func (p *Plan) Feed(ctx context.Context, clk clock.Clock, sink Sink) error {
	for _, a := range p.Actions {
		if err := waitFor(ctx, clk, a.Arrival()); err != nil {
			return err
		}
		if err := sink.Apply(ctx, a); err != nil {
			return fmt.Errorf("feed action %s: %w", a.ID, err)
		}
	}
	return nil
}

// settable is a clock a feeder may move: clock.Manual.
type settable interface{ Set(time.Time) }

// paced is a clock that runs at a speed: clock.Shifted.
type paced interface{ Speed() float64 }

// waitFor returns once clk reads at or later, or ctx ends.
func waitFor(ctx context.Context, clk clock.Clock, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s, ok := clk.(settable); ok {
		if clk.Now().Before(at) {
			s.Set(at)
		}
		return nil
	}
	speed := 1.0
	if s, ok := clk.(paced); ok && s.Speed() > 0 {
		speed = s.Speed()
	}
	var timer *time.Timer
	for {
		ahead := at.Sub(clk.Now())
		if ahead <= 0 {
			return nil
		}
		// The clock is read again after the wait: rounding never lets an
		// action through early.
		d := time.Duration(float64(ahead)/speed) + time.Microsecond
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// ErrVerdict marks a verdict that is not the one the plan wants: the ledger,
// the judge or the plan breaks the rules.
var ErrVerdict = errors.New("verdict differs from the plan")

// StoreSink applies actions straight to st: scans through judge (which
// verifies the ticket and applies the event's stateless rules, as the
// gateway does), tallies as they are, each judged at its At from a device
// whose clock reads At. gates says whether the device at a gate may scan
// there (its token); nil allows every gate.
//
// A verdict whose code or flags differ from the action's Want and WantFlags
// is an error wrapping ErrVerdict, which stops a feed: the store must start
// empty of this plan's tickets and ids, and get every action in order.
// The sink is for one feed at a time.
func StoreSink(st *ledger.Store, judge *admission.Judge, gates func(gate string) bool) Sink {
	if gates == nil {
		gates = func(string) bool { return true }
	}
	return &storeSink{st: st, judge: judge, gates: gates}
}

type storeSink struct {
	st    *ledger.Store
	judge *admission.Judge
	gates func(string) bool
}

func (s *storeSink) Apply(ctx context.Context, a Action) error {
	var v ledger.Verdict
	var err error
	if a.IsTally() {
		v, err = s.st.Tally(ctx, ledger.Tally{ID: a.ID, Device: a.Device, Gate: a.Gate, Zone: a.Zone,
			Delta: a.Delta, At: a.At, DeviceAt: a.At})
	} else {
		sc, _ := s.judge.Scan(admission.Request{ID: a.ID, Device: a.Device, Gate: a.Gate,
			GateAllowed: s.gates(a.Gate), Direction: a.Direction, Payload: a.Payload, DeviceAt: a.At,
			Offline: a.Offline, Decided: a.Decided}, a.Arrival())
		v, err = s.st.Scan(ctx, sc)
	}
	if err != nil {
		return err
	}
	if v.Code != a.Want || v.Flags.String() != a.WantFlags.String() || v.Replayed {
		return fmt.Errorf("%w: %s at %s, %s %s by person %d: got %s [%s] (replayed %v), want %s [%s]",
			ErrVerdict, a.ID, a.At.Format(time.TimeOnly), a.Gate, describe(a), a.Person,
			v.Code, v.Flags, v.Replayed, a.Want, a.WantFlags)
	}
	return nil
}

func describe(a Action) string {
	if a.IsTally() {
		return fmt.Sprintf("tally %+d on %s", a.Delta, a.Zone)
	}
	if a.Ticket == "" {
		return string(a.Direction) + " with a payload that is no ticket"
	}
	return fmt.Sprintf("%s with %s ticket %s", a.Direction, a.Type, a.Ticket)
}
