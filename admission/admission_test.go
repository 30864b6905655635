package admission_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ticket"
)

func mustTicket(tb testing.TB, ev *event.Event, key ed25519.PrivateKey, typ string, days ...string) (string, string) {
	tb.Helper()
	id, err := ticket.NewID(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	t := &ticket.Ticket{Event: ev.Hash(), ID: id, Type: ev.TicketType(typ).Hash, Days: days, Reentry: true}
	p, err := ticket.Sign(t, key)
	if err != nil {
		tb.Fatal(err)
	}
	return p, id.String()
}

func TestScan(t *testing.T) {
	ev, err := event.Load("../configs/ouarzazate-2025.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	j := admission.New(ev, pub)
	now := time.Date(2025, 9, 17, 11, 0, 0, 0, ev.Location)
	visitor, visitorID := mustTicket(t, ev, key, "visitor", "2025-09-17")
	tomorrow, _ := mustTicket(t, ev, key, "visitor", "2025-09-18")
	workshop, _ := mustTicket(t, ev, key, "workshop")
	forged, _ := mustTicket(t, ev, otherKey, "visitor")
	foreignID, _ := ticket.NewID(rand.Reader)
	foreign, err := ticket.Sign(&ticket.Ticket{Event: ticket.EventHash("another-fair-2025"), ID: foreignID,
		Type: ev.TicketType("visitor").Hash}, key)
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(visitor)
	flipped[20] ^= 1 // one bit of the body: still base32, no longer signed

	tests := map[string]struct {
		req       admission.Request
		precheck  checkin.Code
		zone      string
		at        time.Time
		flags     string
		hasTicket bool
	}{
		"entry": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true, Direction: checkin.In,
			Payload: visitor, DeviceAt: now}, precheck: checkin.Accepted, zone: "site", at: now, hasTicket: true},
		"lower case payload": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true, Direction: checkin.In,
			Payload: strings.ToLower(visitor), DeviceAt: now}, precheck: checkin.Accepted, zone: "site", at: now, hasTicket: true},
		"forged": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true, Direction: checkin.In,
			Payload: forged, DeviceAt: now}, precheck: checkin.InvalidTicket, zone: "site", at: now},
		"another event's ticket, same key": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true,
			Direction: checkin.In, Payload: foreign, DeviceAt: now}, precheck: checkin.InvalidTicket, zone: "site", at: now},
		"a bit flipped in the body": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true,
			Direction: checkin.In, Payload: string(flipped), DeviceAt: now}, precheck: checkin.InvalidTicket, zone: "site", at: now},
		"garbage": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true, Direction: checkin.In,
			Payload: "hello", DeviceAt: now}, precheck: checkin.InvalidTicket, zone: "site", at: now},
		"gate not allowed": {req: admission.Request{Gate: "MAIN-1", Direction: checkin.In,
			Payload: visitor, DeviceAt: now}, precheck: checkin.UnknownGate, at: now, hasTicket: true},
		"unknown gate": {req: admission.Request{Gate: "NOPE", GateAllowed: true, Direction: checkin.In,
			Payload: visitor, DeviceAt: now}, precheck: checkin.UnknownGate, at: now, hasTicket: true},
		"tomorrow's ticket": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true, Direction: checkin.In,
			Payload: tomorrow, DeviceAt: now}, precheck: checkin.NotValidToday, zone: "site", at: now, hasTicket: true},
		"no workshop pass": {req: admission.Request{Gate: "WORKSHOPS", GateAllowed: true, Direction: checkin.In,
			Payload: visitor, DeviceAt: now}, precheck: checkin.NoAccess, zone: "workshops", at: now, hasTicket: true},
		"workshop pass": {req: admission.Request{Gate: "WORKSHOPS", GateAllowed: true, Direction: checkin.In,
			Payload: workshop, DeviceAt: now}, precheck: checkin.Accepted, zone: "workshops", at: now, hasTicket: true},
		"device clock behind": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true, Direction: checkin.In,
			Payload: visitor, DeviceAt: now.Add(-time.Hour)}, precheck: checkin.Accepted, zone: "site", at: now,
			flags: "clock_skew", hasTicket: true},
		"offline upload is judged when it happened": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true,
			Direction: checkin.In, Payload: visitor, DeviceAt: now.Add(-2 * time.Hour), Offline: true},
			precheck: checkin.Closed, zone: "site", at: now.Add(-2 * time.Hour), flags: "offline", hasTicket: true},
		"offline upload from the future": {req: admission.Request{Gate: "MAIN-1", GateAllowed: true,
			Direction: checkin.In, Payload: visitor, DeviceAt: now.Add(time.Hour), Offline: true},
			precheck: checkin.Accepted, zone: "site", at: now, flags: "clock_skew,offline", hasTicket: true},
		"exit after hours": {req: admission.Request{Gate: "EXIT-1", GateAllowed: true, Direction: checkin.Out,
			Payload: visitor, DeviceAt: now.Add(12 * time.Hour), Offline: true},
			precheck: checkin.Accepted, zone: "site", at: now, flags: "clock_skew,offline", hasTicket: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sc, rd := j.Scan(tc.req, now)
			if sc.Precheck != tc.precheck || sc.Zone != tc.zone || !sc.At.Equal(tc.at) || sc.Flags.String() != tc.flags {
				t.Errorf("got precheck %s zone %q at %v flags %q; want %s %q %v %q",
					sc.Precheck, sc.Zone, sc.At, sc.Flags, tc.precheck, tc.zone, tc.at, tc.flags)
			}
			if got := sc.Ticket != ""; got != tc.hasTicket || rd.Valid() != tc.hasTicket {
				t.Errorf("ticket %q (reading valid %v), want one: %v", sc.Ticket, rd.Valid(), tc.hasTicket)
			}
			if tc.hasTicket && (sc.Ticket != rd.Pass.TicketID || sc.Type == "") {
				t.Errorf("ticket %q type %q, reading %q", sc.Ticket, sc.Type, rd.Pass.TicketID)
			}
		})
	}
	if sc, _ := j.Scan(admission.Request{Gate: "MAIN-1", GateAllowed: true, Direction: checkin.In,
		Payload: visitor, DeviceAt: now}, now); sc.Ticket != visitorID {
		t.Errorf("ticket id %q, want %q", sc.Ticket, visitorID)
	}
}
