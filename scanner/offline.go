package scanner

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/wire"
)

// Files of the local knowledge, beside the queue.
const (
	// RevokedFile caches the revocation list downloaded while online.
	RevokedFile = "revoked.json"
	// SeenFile journals what this scanner saw of each ticket: one JSON
	// object per line, the last line for a ticket and zone wins.
	SeenFile = "seen.jsonl"
)

// Offline decides scans while the gateway cannot: it reads the ticket with
// admission.Judge (the signature, the event's days, hours and zones, exactly
// as the gateway reads it), checks the revocation list the scanner last
// downloaded, and applies anti-passback and single entry against what this
// scanner itself has seen — the only ledger it has. It cannot know what
// other gates saw, nor the zones' occupancy, so it never refuses for
// capacity; the gateway re-decides every scan when it is uploaded, and its
// verdict is the one that counts.
//
// What it knows survives restarts: the revocation list in RevokedFile, what
// it saw in SeenFile (appended and fsynced on every change).
//
// An Offline is safe for concurrent use; a mutex guards its state.
type Offline struct {
	judge *admission.Judge
	dir   string
	log   *slog.Logger

	mu        sync.Mutex // guards the fields below
	revoked   map[string]bool
	revokedAt time.Time // when the list was downloaded; zero: never
	seen      map[seenKey]seenState
	journal   *os.File
}

type seenKey struct{ zone, ticket string }

// seenState is what the scanner knows of one ticket and one zone.
type seenState struct {
	Inside bool      // it went in and no exit was seen since
	Day    string    // the event day of its last entry (or of the inside knowledge)
	At     time.Time // when
}

// seenLine is one line of SeenFile.
type seenLine struct {
	Zone   string    `json:"z"`
	Ticket string    `json:"t"`
	Inside bool      `json:"in"`
	Day    string    `json:"d"`
	At     time.Time `json:"at"`
}

// revokedCache is RevokedFile.
type revokedCache struct {
	At      time.Time `json:"at"`
	Tickets []string  `json:"tickets"`
}

// OpenOffline opens the local knowledge kept in dir (the scanner's queue
// directory) for judge's event. Close releases it.
func OpenOffline(dir string, judge *admission.Judge, log *slog.Logger) (*Offline, error) {
	if judge == nil {
		return nil, errors.New("offline judge: no event and key")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("offline state: %w", err)
	}
	o := &Offline{judge: judge, dir: dir, log: log, revoked: map[string]bool{}, seen: map[seenKey]seenState{}}
	if err := o.loadRevoked(); err != nil {
		return nil, err
	}
	if err := o.loadSeen(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *Offline) loadRevoked() error {
	b, err := os.ReadFile(filepath.Join(o.dir, RevokedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revocation list cache: %w", err)
	}
	var c revokedCache
	if err := json.Unmarshal(b, &c); err != nil {
		// Written atomically, so only a disk fault or a hand edit gets here:
		// start without a list rather than not at all.
		o.log.Warn("offline: ignoring an unreadable revocation list cache", "file", RevokedFile, "err", err)
		return nil
	}
	for _, id := range c.Tickets {
		o.revoked[id] = true
	}
	o.revokedAt = c.At
	return nil
}

// loadSeen replays SeenFile, then rewrites it compacted (one line per ticket
// and zone) so that a line torn by a crash is dropped and appends start on
// a clean line.
func (o *Offline) loadSeen() error {
	path := filepath.Join(o.dir, SeenFile)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("offline state: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	bad := 0
	for sc.Scan() {
		var l seenLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Ticket == "" {
			bad++
			continue
		}
		o.seen[seenKey{l.Zone, l.Ticket}] = seenState{Inside: l.Inside, Day: l.Day, At: l.At}
	}
	if bad > 0 {
		o.log.Warn("offline: skipped unreadable lines of the seen journal (a write cut by a crash)", "lines", bad)
	}
	var buf bytes.Buffer
	keys := make([]seenKey, 0, len(o.seen))
	for k := range o.seen {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b seenKey) int {
		if c := cmp.Compare(a.zone, b.zone); c != 0 {
			return c
		}
		return cmp.Compare(a.ticket, b.ticket)
	})
	for _, k := range keys {
		st := o.seen[k]
		line, _ := json.Marshal(seenLine{Zone: k.zone, Ticket: k.ticket, Inside: st.Inside, Day: st.Day, At: st.At})
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := writeFileAtomic(o.dir, SeenFile, buf.Bytes()); err != nil {
		return fmt.Errorf("offline state: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("offline state: %w", err)
	}
	o.journal = f
	return nil
}

// writeFileAtomic replaces dir/name with data: temporary file, fsync,
// rename, fsync of the directory.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, tmpPrefix+name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// Close closes the journal.
func (o *Offline) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.journal == nil {
		return nil
	}
	err := o.journal.Close()
	o.journal = nil
	return err
}

// Event is the event the judge reads tickets of.
func (o *Offline) Event() *event.Event { return o.judge.Event() }

// SetRevoked replaces the revocation list with the one downloaded at at and
// caches it on disk.
func (o *Offline) SetRevoked(tickets []string, at time.Time) error {
	b, err := json.Marshal(revokedCache{At: at, Tickets: tickets})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(o.dir, RevokedFile, b); err != nil {
		return fmt.Errorf("revocation list cache: %w", err)
	}
	m := make(map[string]bool, len(tickets))
	for _, id := range tickets {
		m[id] = true
	}
	o.mu.Lock()
	o.revoked, o.revokedAt = m, at
	o.mu.Unlock()
	return nil
}

// Revoked tells how many tickets the cached list holds and when it was
// downloaded (zero: never).
func (o *Offline) Revoked() (int, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.revoked), o.revokedAt
}

// day is the event day of t ("" when t is on none).
func (o *Offline) day(t time.Time) string {
	d, ok := o.judge.Event().DayOf(t)
	if !ok {
		return ""
	}
	return d.Date
}

// Decide judges it on its own, at the time the device recorded it, and
// returns the verdict the scanner shows, flagged offline. Occupancy is
// unknown offline: the verdict carries the zone's capacity and an
// occupancy of 0. Exits and tallies are always accepted (an exit is never
// refused; a tally's capacity cannot be checked offline).
func (o *Offline) Decide(it Item) wire.Verdict {
	ev := o.judge.Event()
	v := wire.Verdict{Type: wire.TypeVerdict, ID: it.ID(), Flags: checkin.Flags{checkin.Offline}}
	if t := it.Tally; t != nil {
		v.OK, v.Code, v.Zone = true, checkin.Accepted, t.Zone
		if z := ev.Zone(t.Zone); z != nil {
			v.Capacity = z.Capacity
		}
		v.Message = "counted offline"
		return v
	}
	s := it.Scan
	if s == nil {
		v.Code, v.Message = checkin.InvalidTicket, "empty queue item"
		return v
	}
	sc, rd := o.judge.Scan(admission.Request{ID: s.ID, Gate: s.Gate, GateAllowed: true,
		Direction: s.Direction, Payload: s.Ticket, DeviceAt: s.At}, s.At)
	v.Zone = sc.Zone
	if z := ev.Zone(sc.Zone); z != nil {
		v.Capacity = z.Capacity
	}
	if rd.Valid() {
		v.Ticket, v.TicketType = rd.Pass.TicketID, rd.Pass.Type.ID
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.seen[seenKey{sc.Zone, v.Ticket}]
	today := o.day(s.At)
	switch {
	case s.Direction == checkin.Out:
		v.Code, v.Message = checkin.Accepted, "exit"
		if !rd.Valid() {
			v.Flags = v.Flags.With(checkin.Unverified).With(checkin.NotInside)
			v.Message = "exit let through; the ticket does not verify"
		}
	case sc.Precheck == checkin.UnknownGate:
		v.Code, v.Message = checkin.UnknownGate, fmt.Sprintf("gate %q is not in the event file", s.Gate)
	case sc.Precheck == checkin.InvalidTicket:
		v.Code, v.Message = checkin.InvalidTicket, rd.Err.Error()
	case o.revoked[v.Ticket]:
		v.Code, v.Message = checkin.Revoked, "on the revocation list downloaded "+o.revokedAt.In(ev.Location).Format("2006-01-02 15:04")
	case sc.Precheck == checkin.NotValidToday:
		v.Code, v.Message = checkin.NotValidToday, "the ticket is not valid on "+today
	case sc.Precheck == checkin.Closed:
		v.Code, v.Message = checkin.Closed, "outside the event's opening hours"
	case sc.Precheck == checkin.NoAccess:
		v.Code, v.Message = checkin.NoAccess, "the ticket may not enter "+sc.Zone
	case sc.Precheck != checkin.Accepted:
		v.Code, v.Message = sc.Precheck, string(sc.Precheck)
	case st.Inside && st.Day == today:
		v.Code = checkin.AlreadyInside
		v.Message = "this scanner let it in at " + st.At.In(ev.Location).Format("15:04") + " and saw no exit"
	case !rd.Pass.Reentry && st.Day == today:
		v.Code = checkin.AlreadyUsed
		v.Message = "single entry: this scanner let it in at " + st.At.In(ev.Location).Format("15:04")
	default:
		v.Code, v.Message = checkin.Accepted, "decided offline"
	}
	v.OK = v.Code.OK()
	return v
}

// Learn records what verdict v (the gateway's or Decide's) says of the scan
// it: where its ticket is now, as far as this scanner can tell. It writes
// SeenFile only when something changed.
func (o *Offline) Learn(it Item, v wire.Verdict) error {
	s := it.Scan
	if s == nil || v.Ticket == "" {
		return nil
	}
	g := o.judge.Event().Gate(s.Gate)
	if g == nil {
		return nil
	}
	k := seenKey{g.Zone, v.Ticket}
	o.mu.Lock()
	defer o.mu.Unlock()
	old, known := o.seen[k]
	st := old
	today := o.day(s.At)
	switch {
	case s.Direction == checkin.In && v.Code == checkin.Accepted:
		st = seenState{Inside: true, Day: today, At: s.At}
	case s.Direction == checkin.In && v.Code == checkin.AlreadyInside:
		if !old.Inside || old.Day != today {
			st = seenState{Inside: true, Day: today, At: s.At}
		}
	case s.Direction == checkin.In && v.Code == checkin.AlreadyUsed:
		st = seenState{Inside: false, Day: today, At: old.At}
		if old.Day != today || old.At.IsZero() {
			st.At = s.At
		}
	case s.Direction == checkin.Out && v.Code == checkin.Accepted:
		if !known {
			return nil
		}
		st.Inside = false
	default:
		return nil
	}
	if known && st == old {
		return nil
	}
	o.seen[k] = st
	if o.journal == nil {
		return errors.New("offline state closed")
	}
	line, _ := json.Marshal(seenLine{Zone: k.zone, Ticket: k.ticket, Inside: st.Inside, Day: st.Day, At: st.At})
	if _, err := o.journal.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("seen journal: %w", err)
	}
	if err := o.journal.Sync(); err != nil {
		return fmt.Errorf("seen journal: %w", err)
	}
	return nil
}
