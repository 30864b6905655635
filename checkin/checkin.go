package checkin

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Direction is the way a person passes a gate.
type Direction string

// The two directions. A gate joins a zone to its parent: In moves a ticket
// into the gate's zone, Out moves it to the parent (or outside, for the root).
const (
	In  Direction = "in"
	Out Direction = "out"
)

// ParseDirection accepts exactly "in" or "out".
func ParseDirection(s string) (Direction, error) {
	switch d := Direction(s); d {
	case In, Out:
		return d, nil
	}
	return "", fmt.Errorf("direction %q: want in or out", s)
}

// Code is the outcome of a scan (CONTRACT §3). Only Accepted lets a person
// through; every other code is a refusal with its reason.
type Code string

// The verdict codes. AlreadyUsed extends the contract: a single-entry ticket
// (re-entry not allowed) that already entered this zone today.
const (
	Accepted      Code = "accepted"
	AlreadyInside Code = "already_inside"
	AlreadyUsed   Code = "already_used"
	ZoneFull      Code = "zone_full"
	InvalidTicket Code = "invalid_ticket"
	Revoked       Code = "revoked"
	NotValidToday Code = "not_valid_today"
	Closed        Code = "closed"
	NoAccess      Code = "no_access"
	UnknownGate   Code = "unknown_gate"
)

// Codes lists every code in the order reports show them.
var Codes = []Code{Accepted, AlreadyInside, AlreadyUsed, ZoneFull, InvalidTicket,
	Revoked, NotValidToday, Closed, NoAccess, UnknownGate}

// OK reports whether the code lets the person through.
func (c Code) OK() bool { return c == Accepted }

// Valid reports whether c is one of Codes.
func (c Code) Valid() bool { return slices.Contains(Codes, c) }

// Flag marks something noteworthy about a verdict without changing it.
type Flag string

// The flags. NotInside, MovedFromSibling, ImplicitEntry, Offline, Forced and
// ClockSkew are CONTRACT §3; Unverified marks an exit that was let through
// although its ticket did not verify (exits are never refused), Clamped a
// tally decrement larger than the zone's tally balance, OfflineOverride an
// entry an offline gate admitted that the rules would refuse now (the person
// is inside all the same, so the count follows them).
const (
	NotInside        Flag = "not_inside"
	MovedFromSibling Flag = "moved_from_sibling"
	ImplicitEntry    Flag = "implicit_entry"
	Offline          Flag = "offline"
	Forced           Flag = "forced"
	ClockSkew        Flag = "clock_skew"
	Unverified       Flag = "unverified"
	Clamped          Flag = "clamped"
	OfflineOverride  Flag = "offline_override"
	// Superseded: an offline upload older than what the ledger knew of the
	// ticket (a later scan, or its day's closing): counted, moves nothing.
	Superseded Flag = "superseded"
	// DecidedIgnored: an upload marked offline that the device recorded
	// while connected; its verdict was not taken, the scan was judged live.
	DecidedIgnored Flag = "decided_ignored"
)

// Flags is a set of flags, kept sorted so that equal sets compare and encode
// equally.
type Flags []Flag

// ParseFlags reads the comma-separated form the ledger stores.
func ParseFlags(s string) Flags {
	if s == "" {
		return Flags{}
	}
	parts := strings.Split(s, ",")
	fs := make(Flags, 0, len(parts))
	for _, p := range parts {
		fs = fs.With(Flag(p))
	}
	return fs
}

// With returns the set with f added.
func (fs Flags) With(f Flag) Flags {
	i, found := slices.BinarySearch(fs, f)
	if found {
		return fs
	}
	return slices.Insert(slices.Clip(fs), i, f)
}

// Has reports whether f is in the set.
func (fs Flags) Has(f Flag) bool {
	_, found := slices.BinarySearch(fs, f)
	return found
}

// String is the comma-separated form, "" for the empty set.
func (fs Flags) String() string {
	ss := make([]string, len(fs))
	for i, f := range fs {
		ss[i] = string(f)
	}
	return strings.Join(ss, ",")
}

// MarshalJSON writes the set as a JSON array, [] when empty (never null).
func (fs Flags) MarshalJSON() ([]byte, error) {
	if len(fs) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]Flag(fs))
}

// UnmarshalJSON reads a JSON array of flags, keeping the set sorted.
func (fs *Flags) UnmarshalJSON(b []byte) error {
	var list []Flag
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	out := Flags{}
	for _, f := range list {
		out = out.With(f)
	}
	*fs = out
	return nil
}
