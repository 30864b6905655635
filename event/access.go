package event

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"crowdflow/checkin"
)

// TicketType is a kind of ticket and what it allows by default. A ticket may
// narrow its days and zones (a visitor's day pass names its day).
type TicketType struct {
	// ID names the type in the config, the issuing command and reports.
	ID string
	// Name is the type's public name.
	Name Text
	// Zones are the ids of the zones it may enter; empty means all. A zone
	// also opens every zone that holds it (see Event.Allows).
	Zones []string
	// Days are the dates it is valid on; empty means every event day.
	Days []string
	// Reentry is whether a ticket of this type may enter a zone again the
	// same day after leaving it; the default for tickets issued with it.
	Reentry bool
	// Hash is how tickets name the type (see ticket.NameHash).
	Hash uint16
}

// Pass is what a verified ticket allows, resolved against the event.
type Pass struct {
	// TicketID is the ticket's id as printed (lower-case base32).
	TicketID string
	// Type is the ticket's type, never nil in a Pass from PassOf.
	Type *TicketType
	// Days are the ticket's own days; empty means its type's.
	Days []string
	// Zones are the ids of the ticket's own zones; empty means its type's.
	Zones []string
	// Reentry is whether the ticket may enter a zone again the same day.
	Reentry bool
}

// The reasons PassOf refuses a ticket. The gateway answers each with
// checkin.InvalidTicket: the ticket may be genuine, but not for this event
// as configured.
var (
	ErrForeignEvent = errors.New("ticket of another event")
	ErrUnknownType  = errors.New("unknown ticket type")
	ErrUnknownZone  = errors.New("unknown zone")
)

// PassOf resolves the fields of a verified ticket (see ticket.Ticket)
// against the event: its event hash must be this event's, and its type and
// zone hashes must name a type and zones of this event. The days are taken
// as they are: a day that is not an event day never matches one.
func (e *Event) PassOf(event [4]byte, ticketID string, typeHash uint16, days []string, zoneHashes []uint16, reentry bool) (Pass, error) {
	if event != e.hash {
		return Pass{}, fmt.Errorf("ticket %s: event %x, want %x: %w", ticketID, event, e.hash, ErrForeignEvent)
	}
	tt := e.typesByHash[typeHash]
	if tt == nil {
		return Pass{}, fmt.Errorf("ticket %s: type %04x: %w", ticketID, typeHash, ErrUnknownType)
	}
	p := Pass{TicketID: ticketID, Type: tt, Days: slices.Clone(days), Reentry: reentry}
	for _, h := range zoneHashes {
		z := e.zonesByHash[h]
		if z == nil {
			return Pass{}, fmt.Errorf("ticket %s: zone %04x: %w", ticketID, h, ErrUnknownZone)
		}
		p.Zones = append(p.Zones, z.ID)
	}
	return p, nil
}

// Check applies the rules of one scan that need no state: days, hours and
// zones. An exit is always accepted, whatever the ticket or the hour: nobody
// is ever kept in. An entry is judged in this order, so the verdict names the
// first reason to refuse:
//
//  1. at is on no event day: Closed;
//  2. the day is not one of the pass's days (its own, else its type's, else
//     every day): NotValidToday;
//  3. at is outside the day's hours: Closed;
//  4. the gate's zone is not allowed (see Allows): NoAccess;
//
// else Accepted. A nil gate, or one that leads to no zone of this event, is
// UnknownGate; a pass without a type is InvalidTicket. Any direction but Out
// is judged as an entry, so a bad direction can only refuse.
func (e *Event) Check(p Pass, g *Gate, dir checkin.Direction, at time.Time) checkin.Code {
	if dir == checkin.Out {
		return checkin.Accepted
	}
	if g == nil || e.zones[g.Zone] == nil {
		return checkin.UnknownGate
	}
	if p.Type == nil {
		return checkin.InvalidTicket
	}
	day, ok := e.DayOf(at)
	if !ok {
		return checkin.Closed
	}
	days := p.Days
	if len(days) == 0 {
		days = p.Type.Days
	}
	if len(days) > 0 && !slices.Contains(days, day.Date) {
		return checkin.NotValidToday
	}
	if !day.IsOpen(at) {
		return checkin.Closed
	}
	if !e.Allows(p, e.zones[g.Zone]) {
		return checkin.NoAccess
	}
	return checkin.Accepted
}

// Allows reports whether the pass may be in zone z. The allowed zones are the
// pass's own, else its type's, else all. z is allowed when it is one of them
// or holds one of them: a workshop ticket crosses the site to reach the
// workshop. A zone inside an allowed zone is not allowed by that alone, so a
// lounge can sit inside a hall and keep its own tickets.
func (e *Event) Allows(p Pass, z *Zone) bool {
	if z == nil || e.zones[z.ID] != z {
		return false
	}
	zones := p.Zones
	if len(zones) == 0 && p.Type != nil {
		zones = p.Type.Zones
	}
	if len(zones) == 0 {
		return true
	}
	for _, id := range zones {
		if a := e.zones[id]; a != nil && a.Within(z) {
			return true
		}
	}
	return false
}
