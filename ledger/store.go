package ledger

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"crowdflow/checkin"
)

var (
	//go:embed lua/lib.lua
	libLua string
	//go:embed lua/scan.lua
	scanLua string
	//go:embed lua/close.lua
	closeLua string
	//go:embed lua/tally.lua
	tallyLua string
	//go:embed lua/read.lua
	readLua string
	//go:embed lua/revoke.lua
	revokeLua string
	//go:embed lua/device.lua
	deviceLua string
)

// The scripts, parsed once. Scripts are constants in all but name. Those
// that decide start with lib.lua, the parts they share.
var (
	ScanScript   = NewScript("scan", libLua+scanLua)
	TallyScript  = NewScript("tally", libLua+tallyLua)
	CloseScript  = NewScript("close", libLua+closeLua)
	ReadScript   = NewScript("read", readLua)
	RevokeScript = NewScript("revoke", revokeLua)
	DeviceScript = NewScript("device", deviceLua)
)

// MaxIDLength bounds scan and tally ids (CONTRACT §3).
const MaxIDLength = 64

// ErrIDConflict marks a scan or tally whose id was used before for another
// ticket, direction, gate, zone or count: it is not a replay, and nothing
// changed (the attempt is logged).
var ErrIDConflict = errors.New("id used before for another scan")

// ErrInvalid marks a scan or tally the store refuses to run because a field
// is missing or malformed: a caller's bug or bad input that got this far. It
// changes nothing.
var ErrInvalid = errors.New("invalid request")

// Zone is what the scripts know of a zone: its place in the tree and its
// capacity.
type Zone struct {
	ID, Parent string
	Capacity   int
}

// Day is an event day as the ledger needs it: its date and the instant it
// closes (CONTRACT §8: the end of its opening hours plus the event's grace).
type Day struct {
	Date  string // YYYY-MM-DD, local to the event
	Close time.Time
}

// Config is what a Store needs to know of its event.
type Config struct {
	Event    string         // the event id: the Redis hash tag of every key
	Location *time.Location // days and hours of the reports are local to it
	Zones    []Zone         // the tree, root first, parents before children
	Days     []Day          // the event days, by date; none: days never close
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Event == "" || strings.ContainsAny(c.Event, "{}:| \t") {
		errs = append(errs, fmt.Errorf("event id %q: want a non-empty id without braces, colons, bars or spaces", c.Event))
	}
	if c.Location == nil {
		errs = append(errs, errors.New("no time zone"))
	}
	seen := map[string]bool{}
	roots := 0
	for i, z := range c.Zones {
		switch {
		case z.ID == "" || strings.ContainsAny(z.ID, "|\t,"):
			errs = append(errs, fmt.Errorf("zones[%d]: id %q: want a non-empty id without bars, tabs or commas", i, z.ID))
		case seen[z.ID]:
			errs = append(errs, fmt.Errorf("zones[%d]: duplicate id %q", i, z.ID))
		}
		if z.Parent == "" {
			roots++
		} else if !seen[z.Parent] {
			errs = append(errs, fmt.Errorf("zones[%d] %s: parent %q does not come before it", i, z.ID, z.Parent))
		}
		if z.Capacity <= 0 {
			errs = append(errs, fmt.Errorf("zones[%d] %s: capacity %d: want > 0", i, z.ID, z.Capacity))
		}
		seen[z.ID] = true
	}
	if roots != 1 {
		errs = append(errs, fmt.Errorf("%d root zones: want exactly one", roots))
	}
	for i, d := range c.Days {
		if _, err := time.Parse(time.DateOnly, d.Date); err != nil {
			errs = append(errs, fmt.Errorf("days[%d]: date %q: want YYYY-MM-DD", i, d.Date))
		}
		if i > 0 && (d.Date <= c.Days[i-1].Date || !d.Close.After(c.Days[i-1].Close)) {
			errs = append(errs, fmt.Errorf("days[%d] %s: want days in order, each closing after the one before", i, d.Date))
		}
	}
	return errors.Join(errs...)
}

// Store is the ledger of one event on an Engine. It is safe for concurrent
// use: every operation is one script, and the engine runs scripts one at a
// time.
type Store struct {
	eng   Engine
	loc   *time.Location
	keys  keys
	zones map[string]Zone
	order []string // the zone ids, in the config's order
	tree  []string // ARGV tail of the scripts: n, then id, parent, capacity per zone
	days  []day

	// closedUpTo is how many of days this Store has seen closed: below it,
	// the per-scan path need not ask the ledger. It only grows.
	closedUpTo atomic.Int64
	// compact is set when a closing happened and the engine's journal has
	// not been compacted since (see CloseDue).
	compact atomic.Bool
}

// day is an event day with the instant its date starts: a scan belongs to
// the first day whose window [start, close) holds it.
type day struct {
	Day
	start time.Time
}

var _ interface {
	Scan(context.Context, Scan) (Verdict, error)
	Tally(context.Context, Tally) (Verdict, error)
} = (*Store)(nil)

// New returns the store of the event in cfg on eng. The caller keeps
// ownership of eng and closes it after the store's last use.
func New(cfg Config, eng Engine) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ledger config: %w", err)
	}
	s := &Store{eng: eng, loc: cfg.Location, keys: newKeys(cfg.Event), zones: map[string]Zone{}}
	s.tree = append(s.tree, strconv.Itoa(len(cfg.Zones)))
	for _, z := range cfg.Zones {
		s.zones[z.ID] = z
		s.order = append(s.order, z.ID)
		s.tree = append(s.tree, z.ID, z.Parent, strconv.Itoa(z.Capacity))
	}
	for _, d := range cfg.Days {
		start, _ := time.ParseInLocation(time.DateOnly, d.Date, cfg.Location)
		s.days = append(s.days, day{Day: d, start: start})
	}
	return s, nil
}

// dayOf is the event day a time belongs to, for the per-day keys: the first
// day whose date has begun and which has not closed yet at t (so a scan
// after midnight on a late night is the evening's), else t's local date.
func (s *Store) dayOf(t time.Time) string {
	for _, d := range s.days {
		if !t.Before(d.start) && t.Before(d.Close) {
			return d.Date
		}
	}
	return t.In(s.loc).Format(time.DateOnly)
}

// keys names every key of one event; all share the hash tag {event}.
type keys struct {
	prefix                                                              string
	scans, place, revoked, log, zones, closed, last, uv, trend, devices string
}

func newKeys(event string) keys {
	p := "cf:{" + event + "}:"
	return keys{prefix: p, scans: p + "scans", place: p + "place", revoked: p + "revoked",
		log: p + "log", zones: p + "zones", closed: p + "closed", last: p + "last", uv: p + "uv",
		trend: p + "trend", devices: p + "devices"}
}

func (k keys) day(date string) string  { return k.prefix + "day:" + date }
func (k keys) seen(date string) string { return k.prefix + "seen:" + date }

// Scan is one scan to decide. The caller (the gateway) has already verified
// the ticket and applied the stateless rules (event.Check); the store applies
// the rest — replay, revocation, anti-passback, re-entry, movement, capacity —
// and logs the scan.
type Scan struct {
	ID        string // made by the device, unique per scan
	Device    string
	Gate      string
	Zone      string // the gate's zone; "" when the gate is unknown or not allowed
	Direction checkin.Direction
	Ticket    string // the ticket id; "" when the ticket did not verify
	Type      string // the ticket type
	Reentry   bool
	// Precheck is the verdict of the stateless rules: Accepted when they
	// passed, else InvalidTicket, UnknownGate, NotValidToday, Closed or NoAccess.
	Precheck checkin.Code
	Force    bool // a supervisor's override of the capacity and passback rules
	// Decided is the verdict a gate already gave offline ("" for a live
	// scan). Accepted: the person went through, so the move is applied
	// whatever the rules say now, and what they would refuse becomes the
	// flag offline_override (as pretix uploads offline scans with force).
	// Any other code: the person was turned away; the scan is logged with
	// that code and nothing moves.
	Decided  checkin.Code
	Flags    checkin.Flags // noted by the caller: Offline, ClockSkew, DecidedIgnored
	At       time.Time     // when the scan is judged to have happened (event clock)
	DeviceAt time.Time     // the device's own clock
	// Received is when the gateway got it (event clock); zero: At. Days
	// that closed by then are closed first.
	Received time.Time
}

// Tally is a count of people without tickets: Delta people into (>0) or out
// of (<0) Zone, across its boundary with its parent (docs/rules.md, "Tallies").
type Tally struct {
	ID     string
	Device string
	Gate   string // optional: the gate it was counted at
	// GateUnknown: Gate is not in the config, or not allowed for the device.
	// The tally is logged and refused with unknown_gate.
	GateUnknown bool
	Zone        string
	Delta       int
	Force       bool
	Flags       checkin.Flags
	At          time.Time
	DeviceAt    time.Time
	Received    time.Time // as Scan.Received
}

// Verdict is the ledger's decision on a scan or tally.
type Verdict struct {
	Code      checkin.Code
	Flags     checkin.Flags
	Zone      string // the zone the verdict speaks of: the gate's, or the one that is full
	Occupancy int
	Capacity  int
	Replayed  bool // the id was seen before: this is the first verdict, and nothing changed
}

// maxDelta bounds one tally; a larger one is a typing slip, not a crowd.
const maxDelta = 1000

func validID(id string) error {
	if id == "" || len(id) > MaxIDLength {
		return fmt.Errorf("%w: id must have 1 to %d characters", ErrInvalid, MaxIDLength)
	}
	return nil
}

// Scan decides sc, counts it and logs it, atomically.
func (s *Store) Scan(ctx context.Context, sc Scan) (Verdict, error) {
	if err := validID(sc.ID); err != nil {
		return Verdict{}, err
	}
	if _, err := checkin.ParseDirection(string(sc.Direction)); err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch sc.Precheck {
	case checkin.Accepted, checkin.InvalidTicket, checkin.UnknownGate, checkin.NotValidToday,
		checkin.Closed, checkin.NoAccess:
	default:
		return Verdict{}, fmt.Errorf("%w: precheck %q", ErrInvalid, sc.Precheck)
	}
	if sc.At.IsZero() {
		return Verdict{}, fmt.Errorf("%w: no decision time", ErrInvalid)
	}
	override := flag01(sc.Force)
	switch {
	case sc.Decided == "":
	case !sc.Decided.Valid():
		return Verdict{}, fmt.Errorf("%w: decided %q", ErrInvalid, sc.Decided)
	case sc.Decided == checkin.Accepted:
		override = "A"
	case sc.Direction == checkin.In && sc.Precheck == checkin.Accepted:
		sc.Precheck = sc.Decided // the refusal given at the gate stands
	}
	if sc.Precheck == checkin.Accepted && sc.Ticket == "" {
		return Verdict{}, fmt.Errorf("%w: accepted precheck without a ticket", ErrInvalid)
	}
	if sc.Ticket != "" && sc.Type == "" {
		// A verified ticket always has its type; the scripts count occupants
		// by the type of the scan that moves them, so it must never be missing.
		return Verdict{}, fmt.Errorf("%w: ticket without its type", ErrInvalid)
	}
	if _, ok := s.zones[sc.Zone]; !ok {
		sc.Zone = ""
	}
	if err := s.closeDue(ctx, orAt(sc.Received, sc.At)); err != nil {
		return Verdict{}, fmt.Errorf("scan %s: %w", sc.ID, err)
	}
	keys, args := s.scanCall(sc, override)
	res, err := s.eng.Eval(ctx, ScanScript, keys, args...)
	if err != nil {
		return Verdict{}, fmt.Errorf("scan %s: %w", sc.ID, err)
	}
	return decodeVerdict(res)
}

// ScanCall returns the KEYS and ARGV with which Scan runs ScanScript for a
// checked scan without an override: for benchmarks that run the script
// directly (redis-benchmark) as the reference of the store's own figures.
func (s *Store) ScanCall(sc Scan) (keys, args []string) { return s.scanCall(sc, "0") }

func (s *Store) scanCall(sc Scan, override string) (keys, args []string) {
	date, hour, minute := s.when(sc.At)
	keys = []string{s.keys.scans, s.keys.place, s.keys.revoked, s.keys.log, s.keys.zones,
		s.keys.day(date), s.keys.seen(date), s.keys.closed, s.keys.last, s.keys.uv, s.keys.trend}
	args = make([]string, 0, 17+len(s.tree))
	args = append(args, sc.ID, sc.Device, sc.Gate, sc.Zone, string(sc.Direction), sc.Ticket,
		sc.Type, string(sc.Precheck), flag01(sc.Reentry), override, sc.Flags.String(),
		millis(sc.At), millis(sc.DeviceAt), hour, minute, date, unixMinute(orAt(sc.Received, sc.At)))
	return keys, append(args, s.tree...)
}

// when names the per-day key, the hour ("15") and the minute ("1504") of a
// decision time.
func (s *Store) when(at time.Time) (date, hour, minute string) {
	local := at.In(s.loc)
	return s.dayOf(at), local.Format("15"), local.Format("1504")
}

func orAt(received, at time.Time) time.Time {
	if received.IsZero() {
		return at
	}
	return received
}

// Tally applies t, atomically.
func (s *Store) Tally(ctx context.Context, t Tally) (Verdict, error) {
	if err := validID(t.ID); err != nil {
		return Verdict{}, err
	}
	_, ok := s.zones[t.Zone]
	if !ok {
		return Verdict{}, fmt.Errorf("%w: unknown zone %q", ErrInvalid, t.Zone)
	}
	if t.Delta == 0 || t.Delta > maxDelta || t.Delta < -maxDelta {
		return Verdict{}, fmt.Errorf("%w: delta %d: want a non-zero count of at most %d", ErrInvalid, t.Delta, maxDelta)
	}
	if t.At.IsZero() {
		return Verdict{}, fmt.Errorf("%w: no decision time", ErrInvalid)
	}
	if err := s.closeDue(ctx, orAt(t.Received, t.At)); err != nil {
		return Verdict{}, fmt.Errorf("tally %s: %w", t.ID, err)
	}
	gate := string(checkin.Accepted)
	if t.GateUnknown {
		gate = string(checkin.UnknownGate)
	}
	date, hour, minute := s.when(t.At)
	keys := []string{s.keys.scans, s.keys.log, s.keys.zones, s.keys.day(date), s.keys.closed, s.keys.trend}
	args := make([]string, 0, 14+len(s.tree))
	args = append(args, t.ID, t.Device, t.Gate, t.Zone, strconv.Itoa(t.Delta), flag01(t.Force),
		t.Flags.String(), millis(t.At), millis(t.DeviceAt), hour, minute, date, gate,
		unixMinute(orAt(t.Received, t.At)))
	args = append(args, s.tree...)
	res, err := s.eng.Eval(ctx, TallyScript, keys, args...)
	if err != nil {
		return Verdict{}, fmt.Errorf("tally %s: %w", t.ID, err)
	}
	return decodeVerdict(res)
}

// Revoke adds ticket ids to the revocation list; by names who did it (an
// operator, a device). It returns how many were new.
func (s *Store) Revoke(ctx context.Context, at time.Time, by string, ids ...string) (int, error) {
	args := append([]string{millis(at), by}, ids...)
	res, err := s.eng.Eval(ctx, RevokeScript, []string{s.keys.revoked, s.keys.log}, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke: %w", err)
	}
	n, _ := res.(int64)
	return int(n), nil
}

// Revoked lists the revocation list, in no particular order.
func (s *Store) Revoked(ctx context.Context) ([]string, error) {
	res, err := s.eng.Eval(ctx, ReadScript, []string{s.keys.revoked}, "revoked")
	if err != nil {
		return nil, fmt.Errorf("read revoked: %w", err)
	}
	return stringList(res)
}

// Place is the zone the ledger has the ticket in, "" for outside.
func (s *Store) Place(ctx context.Context, ticket string) (string, error) {
	res, err := s.eng.Eval(ctx, ReadScript, []string{s.keys.place}, "place", ticket)
	if err != nil {
		return "", fmt.Errorf("read place: %w", err)
	}
	z, _ := res.(string)
	return z, nil
}

// Ping reports whether the engine answers.
func (s *Store) Ping(ctx context.Context) error { return s.eng.Ping(ctx) }

func flag01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func millis(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func decodeVerdict(res any) (Verdict, error) {
	a, ok := res.([]any)
	if !ok || len(a) != 6 {
		return Verdict{}, fmt.Errorf("decode verdict: unexpected reply %v", res)
	}
	code, _ := a[0].(string)
	if code == "id_conflict" {
		return Verdict{}, ErrIDConflict
	}
	flags, _ := a[1].(string)
	zone, _ := a[2].(string)
	occ, _ := a[3].(int64)
	capacity, _ := a[4].(int64)
	replayed, _ := a[5].(int64)
	v := Verdict{Code: checkin.Code(code), Flags: checkin.ParseFlags(flags), Zone: zone,
		Occupancy: int(occ), Capacity: int(capacity), Replayed: replayed == 1}
	if !v.Code.Valid() {
		return Verdict{}, fmt.Errorf("decode verdict: unknown code %q", code)
	}
	return v, nil
}

func stringList(res any) ([]string, error) {
	a, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected reply %T", res)
	}
	out := make([]string, len(a))
	for i, v := range a {
		out[i], _ = v.(string)
	}
	return out, nil
}
