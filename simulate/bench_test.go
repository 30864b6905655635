package simulate_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/internal/ledgertest"
	"crowdflow/ledger"
	"crowdflow/simulate"
)

// BenchmarkNewPlan plans a day in the small venue (about 640 people and
// 4,500 actions, every ticket signed): make bench runs a fixed 2,000 ops,
// and the default day (3,300 people, 24,000 actions) takes some 0.2 s to
// plan. Planning grows linearly with the people: a default day costs about
// its actions ÷ actions/s.
func BenchmarkNewPlan(b *testing.B) {
	ev := MustSmallVenue(b)
	cfg := busySmall(simulate.DefaultConfig(ev, "2025-09-17"))
	key := MustKey(b)
	var n int
	start := time.Now()
	for b.Loop() {
		p, err := simulate.NewPlan(ev, key, cfg)
		if err != nil {
			b.Fatal(err)
		}
		n = len(p.Actions)
	}
	b.ReportMetric(float64(n), "actions/day")
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "actions/s")
}

// BenchmarkFeedEmbedded applies the default first day to the embedded store
// through the judge (signature included), one action per op, in the plan's
// order; when the day runs out it starts again on a fresh store, outside the
// timer. make bench runs a fixed number of ops, so an op is one action, not
// a day: a day is ns/op × actions/day (about 24,000).
func BenchmarkFeedEmbedded(b *testing.B) {
	ev := MustEvent(b)
	p := MustPlan(b, ev, simulate.DefaultConfig(ev, "2025-09-17"))
	judge := admission.New(ev, MustKey(b).Public().(ed25519.PublicKey))
	var sink simulate.Sink
	i := len(p.Actions)
	for b.Loop() {
		if i == len(p.Actions) {
			b.StopTimer()
			st, err := ledger.New(admission.LedgerConfig(ev), ledgertest.MustEmbedded(b))
			if err != nil {
				b.Fatal(err)
			}
			sink, i = simulate.StoreSink(st, judge, nil), 0
			b.StartTimer()
		}
		if err := sink.Apply(b.Context(), p.Actions[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
