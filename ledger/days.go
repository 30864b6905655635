package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Closing is what closing one event day did (CONTRACT §8).
type Closing struct {
	Date string
	// Swept counts, per zone, the tickets still inside at closing that were
	// moved outside; SweptTally, the people counted by tally. A ticket
	// inside a hall counts for the hall and for the site.
	Swept, SweptTally map[string]int
}

// Compacter is an Engine that can fold its journal into a snapshot (the
// embedded store): a closing is a good moment, since the day's log is done.
type Compacter interface {
	Compact() error
}

// CloseDue closes every event day whose closing time has passed at now and
// that is not closed yet, and returns what each closing did (none when there
// was nothing to close). Each day closes once, whoever calls first: every
// gateway, scan and command may call it. by names the caller in the log.
//
// After a closing — this call's or one that a scan triggered — CloseDue
// compacts an engine that is a Compacter, and returns its error.
func (s *Store) CloseDue(ctx context.Context, now time.Time, by string) ([]Closing, error) {
	cs, err := s.closeUpTo(ctx, s.due(now), by, time.Time{})
	if err != nil {
		return nil, err
	}
	if c, ok := s.eng.(Compacter); ok && s.compact.Swap(false) {
		if err := c.Compact(); err != nil {
			s.compact.Store(true)
			return cs, fmt.Errorf("compact after closing: %w", err)
		}
	}
	return cs, nil
}

// CloseDay closes the event day date by hand (a rehearsal, an early
// closing), and every event day before it that is still open. It returns
// what each closing did; none when date was closed already.
//
// A day under way at now (the day a scan at now would count on, before its
// closing time: a closing brought forward; after midnight on a late night
// that is the evening's day, not the next) closes at now: its sweep, its report's closing
// time and the hours after it, and the board's trend, all say when it
// really closed. Any other day (one not begun, as in a rehearsal before the
// fair, or one past its closing time) closes at its closing time, as the
// ledger would close it by itself; so do the open days before date.
func (s *Store) CloseDay(ctx context.Context, date, by string, now time.Time) ([]Closing, error) {
	for i, d := range s.days {
		if d.Date == date {
			var early time.Time
			if s.dayOf(now) == date && now.Before(d.Close) { // under way (after midnight on a late night, the evening is)
				early = now
			}
			return s.closeUpTo(ctx, i+1, by, early)
		}
	}
	return nil, fmt.Errorf("%w: %q is not a day of the event", ErrInvalid, date)
}

// Closed reports the closing time of every closed day, by date.
func (s *Store) Closed(ctx context.Context) (map[string]time.Time, error) {
	fields, err := s.readHash(ctx, s.keys.closed, "day")
	if err != nil {
		return nil, fmt.Errorf("read closed days: %w", err)
	}
	out := make(map[string]time.Time, len(fields))
	for date, at := range fields {
		out[date] = fromMillis(at)
	}
	return out, nil
}

// due is how many event days have closed at now.
func (s *Store) due(now time.Time) int {
	n := 0
	for i, d := range s.days {
		if !now.Before(d.Close) {
			n = i + 1
		}
	}
	return n
}

// closeDue is the per-scan check: days due at now are closed before the
// scan is decided. Once this Store has seen them closed it costs nothing.
func (s *Store) closeDue(ctx context.Context, now time.Time) error {
	n := s.due(now)
	if n <= int(s.closedUpTo.Load()) {
		return nil
	}
	_, err := s.closeUpTo(ctx, n, "scan", time.Time{})
	return err
}

// closeUpTo runs close.lua on the first n event days, each at its closing
// time, or the last of them at early when that is set (CloseDay).
func (s *Store) closeUpTo(ctx context.Context, n int, by string, early time.Time) ([]Closing, error) {
	if n == 0 {
		return nil, nil
	}
	keys := []string{s.keys.place, s.keys.zones, s.keys.log, s.keys.closed, s.keys.last, s.keys.trend}
	args := []string{by, strconv.Itoa(n)}
	for i, d := range s.days[:n] {
		at := d.Close
		if i == n-1 && !early.IsZero() {
			at = early
		}
		keys = append(keys, s.keys.day(d.Date))
		args = append(args, d.Date, millis(at))
	}
	args = append(args, s.tree...)
	res, err := s.eng.Eval(ctx, CloseScript, keys, args...)
	if err != nil {
		return nil, fmt.Errorf("close days: %w", err)
	}
	items, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("close days: unexpected reply %T", res)
	}
	var out []Closing
	for _, it := range items {
		f, err := stringList(it)
		if err != nil || len(f) != 3 {
			return nil, fmt.Errorf("close days: unexpected reply %v", it)
		}
		out = append(out, Closing{Date: f[0], Swept: zoneCounts(f[1]), SweptTally: zoneCounts(f[2])})
	}
	if len(out) > 0 {
		s.compact.Store(true)
	}
	for {
		was := s.closedUpTo.Load()
		if int64(n) <= was || s.closedUpTo.CompareAndSwap(was, int64(n)) {
			break
		}
	}
	return out, nil
}

// zoneCounts reads "zone:n,zone:n" as close.lua writes it.
func zoneCounts(s string) map[string]int {
	out := map[string]int{}
	for part := range strings.SplitSeq(s, ",") {
		z, n, ok := strings.Cut(part, ":")
		if v, err := strconv.Atoi(n); ok && err == nil {
			out[z] = v
		}
	}
	return out
}
