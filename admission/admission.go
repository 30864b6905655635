// Package admission turns what a gate device sent — a typed or scanned
// payload, a gate, a direction, the device's clock — into the scan the ledger
// decides: the ticket read and verified, the stateless rules of the event
// applied, the time the scan is judged at chosen. The gateway uses it for
// every scan; the scanner uses it to decide on its own while offline, so both
// read tickets exactly alike.
package admission

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ledger"
	"crowdflow/ticket"
)

// SkewTolerance is how far a device's clock may be from the gateway's before
// its scans are flagged clock_skew.
const SkewTolerance = 2 * time.Minute

// Judge reads tickets of one event. Its event and keys do not change; it is
// safe for concurrent use.
type Judge struct {
	ev *event.Event
	// tickets checks signatures, remembering the payloads that verified: a
	// ticket scanned again (another zone, an exit, a resent scan) costs no
	// second Ed25519 verification.
	tickets *ticket.Verifier
}

// New returns a judge for ev that accepts tickets signed by any of keys
// (more than one while keys rotate).
func New(ev *event.Event, keys ...ed25519.PublicKey) *Judge {
	return &Judge{ev: ev, tickets: ticket.NewVerifier(ticket.DefaultVerified, keys...)}
}

// Event is the judge's event.
func (j *Judge) Event() *event.Event { return j.ev }

// Reading is what a payload says, once checked.
type Reading struct {
	Ticket *ticket.Ticket // nil when the payload is not a valid ticket of this event
	Pass   event.Pass
	Err    error // why the payload is not a valid ticket; nil when it is
}

// Valid reports whether the payload is a genuine ticket of the event.
func (r Reading) Valid() bool { return r.Err == nil }

// Read recovers the payload from what a reader typed (lower case, AZERTY,
// Arabic layouts), verifies its signature and resolves it against the event.
func (j *Judge) Read(payload string) Reading {
	t, _, err := j.tickets.VerifyTyped(payload)
	if err != nil {
		return Reading{Err: err}
	}
	p, err := j.ev.PassOf(t.Event, t.ID.String(), t.Type, t.Days, t.Zones, t.Reentry)
	if err != nil {
		return Reading{Err: err}
	}
	return Reading{Ticket: t, Pass: p}
}

// LedgerConfig is what the ledger needs of ev: its id, time zone, zone tree
// with capacities, and each day with its closing time (close_grace included).
func LedgerConfig(ev *event.Event) ledger.Config {
	zs := make([]ledger.Zone, len(ev.Zones))
	for i, z := range ev.Zones {
		zs[i] = ledger.Zone{ID: z.ID, Parent: z.Parent, Capacity: z.Capacity}
	}
	ds := make([]ledger.Day, len(ev.Days))
	for i, d := range ev.Days {
		ds[i] = ledger.Day{Date: d.Date, Close: d.Closes}
	}
	return ledger.Config{Event: ev.ID, Location: ev.Location, Zones: zs, Days: ds}
}

// Request is one scan as a device sent it.
type Request struct {
	ID          string // the device's scan id
	Device      string
	Gate        string
	GateAllowed bool // the device's token may scan at Gate
	Direction   checkin.Direction
	Payload     string
	DeviceAt    time.Time    // when the device says it scanned
	Offline     bool         // decided offline, uploaded now
	Decided     checkin.Code // with Offline: the verdict the gate gave, which stands
	Force       bool         // a supervisor's override; the caller checked the role
	// ConnectedSince is when the connection that sent it said hello. An
	// offline upload recorded after that (give or take SkewTolerance) was
	// not recorded offline: it is judged live, its decided verdict ignored.
	ConnectedSince time.Time
}

// RecordedOffline reports whether an upload marked offline was recorded while
// the device was not connected: before the hello of the connection that
// uploads it (connectedSince; zero when unknown), give or take
// SkewTolerance. Only then do its time and its offline verdict stand; a
// connected device cannot use that path (DESIGN rule 8).
func RecordedOffline(offline bool, deviceAt, connectedSince time.Time) bool {
	return offline && (connectedSince.IsZero() || !deviceAt.After(connectedSince.Add(SkewTolerance)))
}

// ErrBadTime marks an offline upload whose time cannot be right: outside the
// event's days, or later than now plus SkewTolerance. It changes nothing.
var ErrBadTime = errors.New("time outside the event")

// CheckTime reports, for an offline upload recorded at deviceAt and
// received at now, whether its time can be right: from the first event
// day's date to the last day's closing, and not later than now plus
// SkewTolerance. A live scan is judged at now whatever its device says, and
// so is a departure (an exit, a tally of people leaving) whose time cannot
// be right: an exit is never refused (DESIGN rule 1), so CheckTime lets it
// through and JudgeTime judges it at now.
func CheckTime(ev *event.Event, deviceAt, now time.Time, offline, leaving bool) error {
	if leaving {
		return nil
	}
	return checkTime(ev, deviceAt, now, offline)
}

// JudgeTime is When for what CheckTime let through: an offline upload
// whose time cannot be right (a departure) is judged at now, flagged
// clock_skew.
func JudgeTime(ev *event.Event, deviceAt, now time.Time, offline bool) (time.Time, checkin.Flags) {
	if checkTime(ev, deviceAt, now, offline) != nil {
		return now, checkin.Flags{}.With(checkin.Offline).With(checkin.ClockSkew)
	}
	return When(deviceAt, now, offline)
}

func checkTime(ev *event.Event, deviceAt, now time.Time, offline bool) error {
	if !offline || len(ev.Days) == 0 {
		return nil
	}
	first, _ := time.ParseInLocation(time.DateOnly, ev.Days[0].Date, ev.Location)
	last := ev.Days[len(ev.Days)-1].Closes
	switch {
	case deviceAt.IsZero() || deviceAt.Before(first) || !deviceAt.Before(last):
		return fmt.Errorf("%w: %s is not within the event's days (%s to %s)", ErrBadTime,
			deviceAt.In(ev.Location).Format(time.RFC3339), ev.Days[0].Date, last.In(ev.Location).Format(time.RFC3339))
	case deviceAt.After(now.Add(SkewTolerance)):
		return fmt.Errorf("%w: %s is later than the gateway's clock, %s", ErrBadTime,
			deviceAt.In(ev.Location).Format(time.RFC3339), now.In(ev.Location).Format(time.RFC3339))
	}
	return nil
}

// When is the time a scan or tally sent at now (the gateway's event clock)
// is judged at, with the flags that says so: now, except for an offline
// upload, which is judged at the time the device recorded (it happened
// then) unless that lies in the future. A device clock more than
// SkewTolerance from now adds clock_skew — for an offline upload only when
// it is ahead, since an upload is late by nature.
func When(deviceAt, now time.Time, offline bool) (time.Time, checkin.Flags) {
	flags := checkin.Flags{}
	skew := deviceAt.Sub(now)
	switch {
	case offline && skew <= SkewTolerance:
		return deviceAt, flags.With(checkin.Offline)
	case offline:
		return now, flags.With(checkin.Offline).With(checkin.ClockSkew)
	case skew > SkewTolerance || skew < -SkewTolerance:
		return now, flags.With(checkin.ClockSkew)
	}
	return now, flags
}

// Scan prepares r for the ledger, judged at now (the gateway's event clock),
// at the time When says.
func (j *Judge) Scan(r Request, now time.Time) (ledger.Scan, Reading) {
	ignored := r.Offline && !RecordedOffline(r.Offline, r.DeviceAt, r.ConnectedSince)
	if ignored {
		r.Offline = false
	}
	at, flags := JudgeTime(j.ev, r.DeviceAt, now, r.Offline)
	if ignored && r.Decided != "" {
		flags = flags.With(checkin.DecidedIgnored)
	}
	sc := ledger.Scan{ID: r.ID, Device: r.Device, Gate: r.Gate, Direction: r.Direction,
		Force: r.Force, At: at, DeviceAt: r.DeviceAt, Flags: flags, Received: now}
	if r.Offline {
		sc.Decided = r.Decided
	}

	rd := j.Read(r.Payload)
	if rd.Valid() {
		sc.Ticket, sc.Type, sc.Reentry = rd.Pass.TicketID, rd.Pass.Type.ID, rd.Pass.Reentry
	}
	g := j.ev.Gate(r.Gate)
	switch {
	case g == nil || !r.GateAllowed:
		sc.Precheck = checkin.UnknownGate
	case !rd.Valid():
		sc.Zone, sc.Precheck = g.Zone, checkin.InvalidTicket
	default:
		sc.Zone, sc.Precheck = g.Zone, j.ev.Check(rd.Pass, g, r.Direction, sc.At)
	}
	return sc, rd
}
