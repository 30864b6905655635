// Package admission turns what a gate device sent — a typed or scanned
// payload, a gate, a direction, the device's clock — into the scan the ledger
// decides: the ticket read and verified, the stateless rules of the event
// applied, the time the scan is judged at chosen. The gateway uses it for
// every scan; the scanner uses it to decide on its own while offline, so both
// read tickets exactly alike.
package admission

import (
	"crypto/ed25519"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ledger"
	"crowdflow/ticket"
)

// SkewTolerance is how far a device's clock may be from the gateway's before
// its scans are flagged clock_skew.
const SkewTolerance = 2 * time.Minute

// Judge reads tickets of one event. It is immutable and safe for concurrent use.
type Judge struct {
	ev   *event.Event
	keys []ed25519.PublicKey
}

// New returns a judge for ev that accepts tickets signed by any of keys
// (more than one while keys rotate).
func New(ev *event.Event, keys ...ed25519.PublicKey) *Judge {
	return &Judge{ev: ev, keys: keys}
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
	t, _, err := ticket.VerifyTyped(payload, j.keys...)
	if err != nil {
		return Reading{Err: err}
	}
	p, err := j.ev.PassOf(t.Event, t.ID.String(), t.Type, t.Days, t.Zones, t.Reentry)
	if err != nil {
		return Reading{Err: err}
	}
	return Reading{Ticket: t, Pass: p}
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
	at, flags := When(r.DeviceAt, now, r.Offline)
	sc := ledger.Scan{ID: r.ID, Device: r.Device, Gate: r.Gate, Direction: r.Direction,
		Force: r.Force, At: at, DeviceAt: r.DeviceAt, Flags: flags}
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
