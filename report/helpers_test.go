package report_test

import (
	"bytes"
	"crypto/ed25519"
	"net/http/httptest"
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/gateway"
	"crowdflow/ledger"
	"crowdflow/report"
	"crowdflow/simulate"
	"crowdflow/token"
)

const ouarzazate = "../configs/ouarzazate-2025.yaml"

// MustEvent loads the Ouarzazate event.
func MustEvent(tb testing.TB) *event.Event {
	tb.Helper()
	ev, err := event.Load(ouarzazate)
	if err != nil {
		tb.Fatalf("load event: %v", err)
	}
	return ev
}

// MustKey is a fixed event key: the same plans from run to run.
func MustKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "crowdflow report test key.......")
	return ed25519.NewKeyFromSeed(seed)
}

// MustPlan plans a quiet day of the fair (every kind of action still in
// it), so that feeding it to Redis
// one round trip per action stays quick.
func MustPlan(tb testing.TB, ev *event.Event, day string, seed uint64) *simulate.Plan {
	tb.Helper()
	cfg := quietDay(simulate.DefaultConfig(ev, day))
	cfg.Seed = seed
	p, err := simulate.NewPlan(ev, MustKey(tb), cfg)
	if err != nil {
		tb.Fatalf("plan: %v", err)
	}
	return p
}

// quietDay is cfg with about a sixth of a normal day's people.
func quietDay(cfg simulate.Config) simulate.Config {
	cfg.Visitors, cfg.Walkins, cfg.Exhibitors, cfg.Staff = 400, 80, 40, 6
	cfg.Press, cfg.Guests, cfg.WorkshopParticipants = 3, 4, 15
	for i := range cfg.Shows {
		cfg.Shows[i].Draw = 60
	}
	return cfg
}

// MustStore is a ledger of ev on eng, with the event's days and their
// closing times.
func MustStore(tb testing.TB, ev *event.Event, eng ledger.Engine) *ledger.Store {
	tb.Helper()
	st, err := ledger.New(admission.LedgerConfig(ev), eng)
	if err != nil {
		tb.Fatalf("new store: %v", err)
	}
	return st
}

// MustFeed applies every action of the plans to st, in order, checking each
// verdict against the plan's.
func MustFeed(tb testing.TB, ev *event.Event, st *ledger.Store, plans ...*simulate.Plan) {
	tb.Helper()
	judge := admission.New(ev, MustKey(tb).Public().(ed25519.PublicKey))
	for _, p := range plans {
		clk := clock.NewManual(p.Day.Open.Add(-time.Hour))
		if err := p.Feed(tb.Context(), clk, simulate.StoreSink(st, judge, nil)); err != nil {
			tb.Fatalf("feed %s: %v", p.Day.Date, err)
		}
	}
}

// MustJSON is the JSON form of the report of scope on src.
func MustJSON(tb testing.TB, src report.Source, ev *event.Event, scope string) []byte {
	tb.Helper()
	r, err := report.Build(tb.Context(), src, ev, scope)
	if err != nil {
		tb.Fatalf("build report %s: %v", scope, err)
	}
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		tb.Fatalf("write json: %v", err)
	}
	return b.Bytes()
}

var testSecret = []byte("report-test-secret-of-32-bytes!!")

// MustGateway serves a gateway on st over loopback; its event clock stands
// at the end of the last day.
func MustGateway(tb testing.TB, ev *event.Event, st *ledger.Store) *httptest.Server {
	tb.Helper()
	judge := admission.New(ev, MustKey(tb).Public().(ed25519.PublicKey))
	clk := clock.NewManual(ev.Days[len(ev.Days)-1].Close.Add(2 * time.Hour))
	srv, err := gateway.New(gateway.DefaultConfig(), ev, judge, st, testSecret, clk, nil)
	if err != nil {
		tb.Fatalf("gateway: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return ts
}

// MustToken signs a staff token of role.
func MustToken(tb testing.TB, role token.Role) string {
	tb.Helper()
	now := time.Now()
	tok, err := token.Sign(testSecret, token.Claims{Role: role, Subject: "report-test",
		Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		tb.Fatalf("sign token: %v", err)
	}
	return tok
}
