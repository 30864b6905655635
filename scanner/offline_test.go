package scanner_test

import (
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/scanner"
	"crowdflow/wire"
)

// MustOffline opens the local knowledge in dir and closes it when the test ends.
func MustOffline(tb testing.TB, dir string, j *admission.Judge) *scanner.Offline {
	tb.Helper()
	o, err := scanner.OpenOffline(dir, j, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = o.Close() })
	return o
}

func scanAt(id, gate string, dir checkin.Direction, payload string, at time.Time) scanner.Item {
	return scanner.Item{Scan: &wire.Scan{Type: wire.TypeScan, ID: id, Ticket: payload, Direction: dir, At: at, Gate: gate}}
}

func TestOfflineDecisions(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	_, otherKey := MustKeys(t)
	j := admission.New(ev, pub)
	now := fairDay(t, ev)

	visitor, visitorID := MustTicket(t, ev, key, "visitor", true, "2025-09-17")
	inside, insideID := MustTicket(t, ev, key, "visitor", true)
	left, leftID := MustTicket(t, ev, key, "visitor", true)
	once, onceID := MustTicket(t, ev, key, "visitor", false)
	yesterday, yesterdayID := MustTicket(t, ev, key, "visitor", true)
	tomorrow, _ := MustTicket(t, ev, key, "visitor", true, "2025-09-18")
	revoked, revokedID := MustTicket(t, ev, key, "visitor", true)
	forged, _ := MustTicket(t, ev, otherKey, "visitor", true)

	// What this scanner saw before, in an earlier run: the knowledge must
	// come back from disk, as must the revocation list it downloaded.
	dir := t.TempDir()
	o := MustOffline(t, dir, j)
	if err := o.SetRevoked([]string{revokedID, "aaaaaaaaaaaaaaaa"}, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	learn := func(it scanner.Item, code checkin.Code, ticketID string) {
		t.Helper()
		if err := o.Learn(it, wire.Verdict{ID: it.ID(), OK: code.OK(), Code: code, Ticket: ticketID}); err != nil {
			t.Fatal(err)
		}
	}
	learn(scanAt("s1", "MAIN-1", checkin.In, inside, now.Add(-time.Hour)), checkin.Accepted, insideID)
	learn(scanAt("s2", "MAIN-1", checkin.In, left, now.Add(-time.Hour)), checkin.Accepted, leftID)
	learn(scanAt("s3", "EXIT-1", checkin.Out, left, now.Add(-30*time.Minute)), checkin.Accepted, leftID)
	learn(scanAt("s4", "MAIN-1", checkin.In, once, now.Add(-time.Hour)), checkin.Accepted, onceID)
	learn(scanAt("s5", "EXIT-1", checkin.Out, once, now.Add(-30*time.Minute)), checkin.Accepted, onceID)
	learn(scanAt("s6", "MAIN-1", checkin.In, yesterday, now.Add(-24*time.Hour)), checkin.Accepted, yesterdayID)
	_ = o.Close()
	o = MustOffline(t, dir, j)
	if n, at := o.Revoked(); n != 2 || !at.Equal(now.Add(-time.Hour)) {
		t.Fatalf("revocation list from the cache: %d tickets of %v", n, at)
	}

	tests := map[string]struct {
		gate    string
		dir     checkin.Direction
		payload string
		at      time.Time
		code    checkin.Code
		flags   string
		ticket  string
	}{
		"valid":                        {"MAIN-1", checkin.In, visitor, now, checkin.Accepted, "offline", visitorID},
		"valid, typed on AZERTY":       {"MAIN-1", checkin.In, azerty(visitor), now, checkin.Accepted, "offline", visitorID},
		"forged":                       {"MAIN-1", checkin.In, forged, now, checkin.InvalidTicket, "offline", ""},
		"garbage":                      {"MAIN-1", checkin.In, "hello", now, checkin.InvalidTicket, "offline", ""},
		"revoked, from the cache":      {"MAIN-1", checkin.In, revoked, now, checkin.Revoked, "offline", revokedID},
		"not valid today":              {"MAIN-1", checkin.In, tomorrow, now, checkin.NotValidToday, "offline", ""},
		"closed before opening":        {"MAIN-1", checkin.In, visitor, now.Add(-2 * time.Hour), checkin.Closed, "offline", visitorID},
		"no access to the workshops":   {"WORKSHOPS", checkin.In, visitor, now, checkin.NoAccess, "offline", visitorID},
		"already inside, seen here":    {"MAIN-1", checkin.In, inside, now, checkin.AlreadyInside, "offline", insideID},
		"inside elsewhere is unknown":  {"HALL-CRAFTS", checkin.In, inside, now, checkin.Accepted, "offline", insideID},
		"left, then back":              {"MAIN-1", checkin.In, left, now, checkin.Accepted, "offline", leftID},
		"single entry, used today":     {"MAIN-1", checkin.In, once, now, checkin.AlreadyUsed, "offline", onceID},
		"inside yesterday is no more":  {"MAIN-1", checkin.In, yesterday, now, checkin.Accepted, "offline", yesterdayID},
		"exit":                         {"EXIT-1", checkin.Out, inside, now, checkin.Accepted, "offline", insideID},
		"exit of a forged ticket":      {"EXIT-1", checkin.Out, forged, now, checkin.Accepted, "not_inside,offline,unverified", ""},
		"exit of a revoked ticket":     {"EXIT-1", checkin.Out, revoked, now, checkin.Accepted, "offline", revokedID},
		"exit after closing":           {"EXIT-1", checkin.Out, tomorrow, now.Add(12 * time.Hour), checkin.Accepted, "offline", ""},
		"exit of something not a code": {"EXIT-1", checkin.Out, "hello", now, checkin.Accepted, "not_inside,offline,unverified", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := o.Decide(scanAt("x", tc.gate, tc.dir, tc.payload, tc.at))
			if v.Code != tc.code || v.OK != tc.code.OK() || v.Flags.String() != tc.flags {
				t.Errorf("got %s ok %v flags %q (%s); want %s flags %q", v.Code, v.OK, v.Flags, v.Message, tc.code, tc.flags)
			}
			if tc.ticket != "" && v.Ticket != tc.ticket {
				t.Errorf("ticket %q, want %q", v.Ticket, tc.ticket)
			}
			if v.ID != "x" || v.Message == "" || v.Capacity == 0 {
				t.Errorf("id %q message %q capacity %d", v.ID, v.Message, v.Capacity)
			}
		})
	}

	tally := o.Decide(scanner.Item{Tally: &wire.Tally{ID: "t", Zone: "stage", Delta: 5, At: now}})
	if tally.Code != checkin.Accepted || !tally.Flags.Has(checkin.Offline) || tally.Zone != "stage" || tally.Capacity != 646 {
		t.Errorf("offline tally: %+v", tally)
	}
}

// TestOfflineAntiPassback walks one ticket through the gate while offline:
// in, in again (refused), out at the exit scanner, which this scanner does
// not see, so still refused; and the knowledge survives a restart.
func TestOfflineAntiPassback(t *testing.T) {
	ev := MustEvent(t)
	pub, key := MustKeys(t)
	j := admission.New(ev, pub)
	now := fairDay(t, ev)
	p, id := MustTicket(t, ev, key, "visitor", true)
	dir := t.TempDir()
	o := MustOffline(t, dir, j)

	first := scanAt("a", "MAIN-1", checkin.In, p, now)
	v := o.Decide(first)
	if v.Code != checkin.Accepted {
		t.Fatalf("first entry: %s", v.Code)
	}
	if err := o.Learn(first, v); err != nil {
		t.Fatal(err)
	}
	second := scanAt("b", "MAIN-1", checkin.In, p, now.Add(time.Minute))
	if v := o.Decide(second); v.Code != checkin.AlreadyInside || v.OK || v.Ticket != id {
		t.Fatalf("second entry at the same scanner: %s, want already_inside", v.Code)
	}
	_ = o.Close()
	o = MustOffline(t, dir, j)
	if v := o.Decide(second); v.Code != checkin.AlreadyInside {
		t.Fatalf("after a restart: %s, want already_inside", v.Code)
	}
	// The gateway later says it is outside (an exit seen by another gate
	// reached this scanner as a verdict on its own exit scan).
	out := scanAt("c", "MAIN-1", checkin.Out, p, now.Add(2*time.Minute))
	if err := o.Learn(out, wire.Verdict{ID: "c", OK: true, Code: checkin.Accepted, Ticket: id}); err != nil {
		t.Fatal(err)
	}
	if v := o.Decide(second); v.Code != checkin.Accepted {
		t.Fatalf("after an exit: %s, want accepted", v.Code)
	}
}
