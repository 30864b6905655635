package scanner

import (
	"bytes"
	"cmp"
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"crowdflow/checkin"
	"crowdflow/wire"
)

// DefaultQueueLimit bounds the queue: at 10 scans a second a gate would need
// almost three hours of lost network to reach it, and a scanner that gets
// there refuses new scans with a clear message instead of filling the disk.
const DefaultQueueLimit = 100000

// Errors of the queue.
var (
	// ErrQueueFull means the queue holds its limit of scans: the new scan
	// was not recorded.
	ErrQueueFull = errors.New("queue full")
	// ErrLocked means another scanner process holds the queue directory.
	ErrLocked = errors.New("queue directory in use by another scanner")
	// ErrBadItem means an item is not a frame the gateway would accept, or
	// its id cannot name a file.
	ErrBadItem = errors.New("bad queue item")
)

// Item is one queued scan or tally: exactly the frame sent to the gateway,
// with its original id and time. Exactly one of Scan and Tally is set.
type Item struct {
	Scan  *wire.Scan
	Tally *wire.Tally
}

// ID is the scan's or tally's id.
func (it Item) ID() string {
	switch {
	case it.Scan != nil:
		return it.Scan.ID
	case it.Tally != nil:
		return it.Tally.ID
	}
	return ""
}

// At is when the device recorded it.
func (it Item) At() time.Time {
	switch {
	case it.Scan != nil:
		return it.Scan.At
	case it.Tally != nil:
		return it.Tally.At
	}
	return time.Time{}
}

// IsOffline reports whether it is marked as decided offline.
func (it Item) IsOffline() bool {
	return (it.Scan != nil && it.Scan.Offline) || (it.Tally != nil && it.Tally.Offline)
}

// AsOffline returns a copy of it marked as decided offline: the gateway then
// judges it at the time the device recorded. A scan also carries the verdict
// the person was shown (decided), which stands on upload: they went through,
// or they were turned away. A verdict that is no ledger code (undecided)
// leaves the decision to the gateway.
func (it Item) AsOffline(decided checkin.Code) Item {
	return it.edit(func(s *wire.Scan) {
		s.Offline = true
		if decided.Valid() {
			s.Decided = decided
		}
	}, func(t *wire.Tally) { t.Offline = true })
}

// WithID returns a copy of it under another id (the gateway refused its id
// as used before for another scan).
func (it Item) WithID(id string) Item {
	return it.edit(func(s *wire.Scan) { s.ID = id }, func(t *wire.Tally) { t.ID = id })
}

// edit returns a copy of it changed by scan or tally, whichever it holds.
func (it Item) edit(scan func(*wire.Scan), tally func(*wire.Tally)) Item {
	switch {
	case it.Scan != nil:
		s := *it.Scan
		scan(&s)
		return Item{Scan: &s}
	case it.Tally != nil:
		t := *it.Tally
		tally(&t)
		return Item{Tally: &t}
	}
	return it
}

// Frame is the JSON text frame for the gateway. It is checked with the
// gateway's own strict decoder, so nothing that the gateway would refuse as
// malformed is ever queued or sent.
func (it Item) Frame() ([]byte, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case it.Scan != nil && it.Tally == nil:
		s := *it.Scan
		s.Type = wire.TypeScan
		b, err = jsonMarshal(s)
	case it.Tally != nil && it.Scan == nil:
		t := *it.Tally
		t.Type = wire.TypeTally
		b, err = jsonMarshal(t)
	default:
		return nil, fmt.Errorf("%w: want exactly one of a scan and a tally", ErrBadItem)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadItem, err)
	}
	if _, err := decodeItem(b); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeItem reads a frame back into an item, strictly.
func decodeItem(b []byte) (Item, error) {
	m, err := wire.Decode(b)
	if err != nil {
		return Item{}, fmt.Errorf("%w: %v", ErrBadItem, err)
	}
	switch m := m.(type) {
	case *wire.Scan:
		return Item{Scan: m}, nil
	case *wire.Tally:
		return Item{Tally: m}, nil
	}
	return Item{}, fmt.Errorf("%w: a %T is neither a scan nor a tally", ErrBadItem, m)
}

// Queue is the scanner's durable queue: one small JSON file per scan in one
// directory, named
//
//	<sequence, 12 digits>-<scan id>.json
//
// and holding exactly the frame to send (a wire.Scan or wire.Tally). The
// sequence number keeps the order of arrival whatever the clocks say; the
// id keeps the name unique.
//
// Put writes the file under a temporary name (".tmp-" + name), fsyncs it,
// renames it to its name and fsyncs the directory, and only then returns: a
// scan Put acknowledged survives kill -9 and a power cut. A crash during Put
// leaves at most a temporary file, which the next Open deletes with a
// warning (that scan was never acknowledged, so never shown or sent). A file
// under a final name that does not decode (a disk fault, a hand edit) is
// renamed to name+".corrupt", kept for a person to look at, and skipped with
// a warning. Remove unlinks without an fsync of the directory: if a crash
// undoes the unlink, the scan is sent again with its id and the gateway
// answers it as a replay, changing nothing.
//
// The directory also holds a lock file: while a Queue is open, no other
// process can open the same directory (on Unix; see lockDir).
//
// A Queue is safe for concurrent use; a mutex guards its index. The scanner
// uses it from one goroutine only.
type Queue struct {
	dir   string
	limit int
	log   *slog.Logger
	lock  *os.File

	mu    sync.Mutex // guards order, byID and next
	order *list.List // of *queued, in sequence order
	byID  map[string]*list.Element
	next  uint64
}

type queued struct {
	seq  uint64
	name string
	item Item
}

// File name patterns.
var (
	queueName = regexp.MustCompile(`^([0-9]{12})-([0-9A-Za-z_-]{1,64})\.json$`)
	safeID    = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
)

const (
	tmpPrefix     = ".tmp-"
	corruptSuffix = ".corrupt"
	lockFile      = "lock"
)

// OpenQueue opens (creating it, mode 0700, if absent) the queue in dir and
// loads what a previous run left there. limit bounds the number of items
// (DefaultQueueLimit when 0 or less). Close releases it.
func OpenQueue(dir string, limit int, log *slog.Logger) (*Queue, error) {
	if limit <= 0 {
		limit = DefaultQueueLimit
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", dir, err)
	}
	q := &Queue{dir: dir, limit: limit, log: log, lock: lock, order: list.New(), byID: map[string]*list.Element{}, next: 1}
	if err := q.load(); err != nil {
		_ = q.Close()
		return nil, err
	}
	return q, nil
}

func (q *Queue) load() error {
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	var found []*queued
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			// Put never returned for it: the scan was not acknowledged.
			if queueName.MatchString(name[len(tmpPrefix):]) {
				q.log.Warn("queue: removing an unfinished write left by a crash", "file", name)
			}
			if err := os.Remove(filepath.Join(q.dir, name)); err != nil {
				return fmt.Errorf("open queue: %w", err)
			}
		case strings.HasSuffix(name, corruptSuffix):
			q.log.Warn("queue: a corrupt file set aside earlier is still there", "file", name)
		case queueName.MatchString(name):
			qd, err := q.read(name)
			if err != nil {
				q.log.Warn("queue: setting aside a file that does not decode", "file", name, "err", err)
				if err := os.Rename(filepath.Join(q.dir, name), filepath.Join(q.dir, name+corruptSuffix)); err != nil {
					return fmt.Errorf("open queue: %w", err)
				}
				continue
			}
			found = append(found, qd)
		}
	}
	slices.SortFunc(found, func(a, b *queued) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.name, b.name))
	})
	var renumber []*queued // other scans under a number taken already (queues copied together)
	for i, qd := range found {
		if _, dup := q.byID[qd.item.ID()]; dup {
			q.log.Warn("queue: a second file for the same scan id; keeping the first", "file", qd.name)
			continue
		}
		if i > 0 && found[i-1].seq == qd.seq {
			if !sameButID(found[i-1].item, qd.item) {
				renumber = append(renumber, qd)
				continue
			}
			// A Replace a crash cut short: the same scan under two ids.
			q.log.Warn("queue: a scan queued again under a new id, and its old file; keeping one", "file", qd.name)
			if err := os.Remove(filepath.Join(q.dir, qd.name)); err != nil {
				return fmt.Errorf("open queue: %w", err)
			}
			continue
		}
		q.byID[qd.item.ID()] = q.order.PushBack(qd)
		q.next = max(q.next, qd.seq+1)
	}
	for _, qd := range renumber {
		name := fmt.Sprintf("%012d-%s.json", q.next, qd.item.ID())
		q.log.Warn("queue: another scan under a number taken already; queued last", "file", qd.name, "now", name)
		if err := os.Rename(filepath.Join(q.dir, qd.name), filepath.Join(q.dir, name)); err != nil {
			return fmt.Errorf("open queue: %w", err)
		}
		qd.seq, qd.name = q.next, name
		q.byID[qd.item.ID()] = q.order.PushBack(qd)
		q.next++
	}
	if len(found) > 0 {
		q.log.Info("queue: scans left by a previous run", "count", q.order.Len())
	}
	return syncDir(q.dir)
}

// sameButID reports whether a and b are one scan (or tally) under two ids,
// as a Replace leaves them when a crash cuts it short.
func sameButID(a, b Item) bool {
	ja, errA := jsonMarshal(a.WithID(""))
	jb, errB := jsonMarshal(b.WithID(""))
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func (q *Queue) read(name string) (*queued, error) {
	m := queueName.FindStringSubmatch(name)
	seq, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(q.dir, name))
	if err != nil {
		return nil, err
	}
	it, err := decodeItem(b)
	if err != nil {
		return nil, err
	}
	if it.ID() != m[2] {
		return nil, fmt.Errorf("%w: holds scan %q", ErrBadItem, it.ID())
	}
	return &queued{seq: seq, name: name, item: it}, nil
}

// storable returns the item's id, checked to make a file name, and the frame to
// store.
func storable(it Item) (string, []byte, error) {
	id := it.ID()
	if !safeID.MatchString(id) {
		return "", nil, fmt.Errorf("%w: id %q: want 1 to 64 letters, digits, - or _", ErrBadItem, id)
	}
	b, err := it.Frame()
	return id, b, err
}

// Put stores it durably: a new item goes to the end of the queue; an item
// whose id is queued already replaces it in place (the scanner marks a scan
// it decided offline that way). It returns ErrQueueFull, without writing,
// when a new item would pass the limit.
func (q *Queue) Put(it Item) error {
	id, b, err := storable(it)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if el, ok := q.byID[id]; ok {
		qd := el.Value.(*queued)
		if err := q.write(qd.name, b); err != nil {
			return err
		}
		qd.item = it
		return nil
	}
	if q.order.Len() >= q.limit {
		return fmt.Errorf("%w: %d scans are waiting to be sent", ErrQueueFull, q.order.Len())
	}
	qd := &queued{seq: q.next, name: fmt.Sprintf("%012d-%s.json", q.next, id), item: it}
	if err := q.write(qd.name, b); err != nil {
		return err
	}
	q.next++
	q.byID[id] = q.order.PushBack(qd)
	return nil
}

// write puts data under name atomically and durably.
func (q *Queue) write(name string, data []byte) error {
	tmp := filepath.Join(q.dir, tmpPrefix+name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("queue write: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(q.dir, name))
	}
	if err == nil {
		err = syncDir(q.dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("queue write: %w", err)
	}
	return nil
}

// Replace puts it in the place of the queued item with id old (the
// gateway took old's id for another scan: the same scan goes again under
// its new id), in one durable step: the new file, under the old one's
// sequence number, is in place before the old file goes, and the old file
// is gone for good (the directory synced) before Replace returns. A crash
// between the two leaves both, sharing a sequence number; Open keeps one of
// them (either is the same scan, and neither was sent), so the scan is never
// counted twice.
func (q *Queue) Replace(old string, it Item) error {
	id, b, err := storable(it)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	el, ok := q.byID[old]
	if !ok {
		return fmt.Errorf("queue replace: %q is not queued", old)
	}
	if _, taken := q.byID[id]; taken {
		return fmt.Errorf("%w: id %q is queued already", ErrBadItem, id)
	}
	qd := el.Value.(*queued)
	name := fmt.Sprintf("%012d-%s.json", qd.seq, id)
	if err := q.write(name, b); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(q.dir, qd.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("queue replace: %w", err)
	}
	// The old file's removal is durable before the new id is sent: after a
	// power cut, an old file come back next to an acknowledged new one
	// could be the one Open keeps, and go again under a third id.
	if err := syncDir(q.dir); err != nil {
		return fmt.Errorf("queue replace: %w", err)
	}
	delete(q.byID, old)
	el.Value = &queued{seq: qd.seq, name: name, item: it}
	q.byID[id] = el
	return nil
}

// Remove deletes the item with id, once the gateway has answered it. An id
// that is not queued is no error.
func (q *Queue) Remove(id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	el, ok := q.byID[id]
	if !ok {
		return nil
	}
	qd := el.Value.(*queued)
	if err := os.Remove(filepath.Join(q.dir, qd.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("queue remove: %w", err)
	}
	q.order.Remove(el)
	delete(q.byID, id)
	return nil
}

// Get returns the queued item with id.
func (q *Queue) Get(id string) (Item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	el, ok := q.byID[id]
	if !ok {
		return Item{}, false
	}
	return el.Value.(*queued).item, true
}

// Len is the number of queued items.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.order.Len()
}

// Items returns every queued item, oldest first.
func (q *Queue) Items() []Item {
	return q.Next(-1, nil)
}

// Next returns, oldest first, at most n items (all when n < 0) whose id skip
// does not report (skip may be nil). It costs the number of items it walks
// past, not the length of the queue.
func (q *Queue) Next(n int, skip func(id string) bool) []Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Item
	for el := q.order.Front(); el != nil && (n < 0 || len(out) < n); el = el.Next() {
		it := el.Value.(*queued).item
		if skip == nil || !skip(it.ID()) {
			out = append(out, it)
		}
	}
	return out
}

// Dir is the queue's directory.
func (q *Queue) Dir() string { return q.dir }

// Close releases the directory's lock. The items stay on disk.
func (q *Queue) Close() error {
	if q.lock == nil {
		return nil
	}
	err := unlockDir(q.lock)
	q.lock = nil
	return err
}
