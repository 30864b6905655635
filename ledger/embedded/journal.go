package embedded

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The journal is a sequence of files journal-<generation>.log in the data
// directory; Compact starts a new generation. A file is the magic followed
// by frames. A frame is what one fsync made durable:
//
//	u32 length of the payload (little endian)
//	u32 CRC32C of the payload
//	payload: records, each a uvarint length and the record
//
// A record is one Eval that changed data:
//
//	byte    kind (recordEval)
//	byte    flags (flagSource, flagTime)
//	20      SHA-1 of the script
//	string  source, when flagSource: the first record of a file that uses a script
//	varint  server time in Unix nanoseconds, when flagTime: the script read the clock
//	strings keys
//	strings args
//
// A frame is written only after the previous one is fsynced, so a crash can
// tear the last frame only. Its records were never acknowledged, and Open
// drops it; a bad frame followed by a good one is corruption.
const (
	journalMagic  = "CFJRNL1\n"
	frameHeader   = 8
	maxFrame      = 1 << 30
	recordEval    = 1
	flagSource    = 1 << 0
	flagTime      = 1 << 1
	journalPrefix = "journal-"
	journalSuffix = ".log"
)

// ErrCorrupt reports a journal or snapshot damaged in a way that losing a
// torn tail cannot explain; the data directory needs a human.
var ErrCorrupt = errors.New("corrupt data")

func journalName(gen uint64) string {
	return fmt.Sprintf("%s%016x%s", journalPrefix, gen, journalSuffix)
}

// record is one journaled Eval.
type record struct {
	sha       [sha1.Size]byte
	source    string
	hasSource bool
	unixNano  int64
	hasTime   bool
	keys      []string
	args      []string
}

func (r *record) encode(e *encoder) {
	e.byte(recordEval)
	var flags byte
	if r.hasSource {
		flags |= flagSource
	}
	if r.hasTime {
		flags |= flagTime
	}
	e.byte(flags)
	e.raw(r.sha[:])
	if r.hasSource {
		e.str(r.source)
	}
	if r.hasTime {
		e.varint(r.unixNano)
	}
	e.strs(r.keys)
	e.strs(r.args)
}

func decodeRecord(p []byte) (record, error) {
	d := decoder{b: p}
	var r record
	if kind := d.byte(); d.err == nil && kind != recordEval {
		return r, fmt.Errorf("%w: unknown record kind %d", ErrCorrupt, kind)
	}
	flags := d.byte()
	copy(r.sha[:], d.raw(sha1.Size))
	if flags&flagSource != 0 {
		r.source, r.hasSource = d.str(), true
	}
	if flags&flagTime != 0 {
		r.unixNano, r.hasTime = d.varint(), true
	}
	r.keys = d.strs()
	r.args = d.strs()
	if d.err == nil && len(d.b) != 0 {
		d.err = errShort
	}
	if d.err != nil {
		return r, fmt.Errorf("%w: record: %w", ErrCorrupt, d.err)
	}
	return r, nil
}

// journalScan is what a journal file holds.
type journalScan struct {
	records []record
	end     int // offset just past the last good frame; 0 without the magic
	tail    int // bytes after end that are not a good frame: a torn write
}

// scanJournal parses a journal file. A bad frame with nothing good after it
// is a torn tail, reported in tail; a bad frame followed by a good one is
// ErrCorrupt.
func scanJournal(data []byte) (journalScan, error) {
	var s journalScan
	if len(data) < len(journalMagic) {
		if strings.HasPrefix(journalMagic, string(data)) {
			s.tail = len(data) // the crash came while the file was being created
			return s, nil
		}
		return s, fmt.Errorf("%w: not a journal file", ErrCorrupt)
	}
	if string(data[:len(journalMagic)]) != journalMagic {
		return s, fmt.Errorf("%w: not a journal file", ErrCorrupt)
	}
	off := len(journalMagic)
	for off < len(data) {
		payload, ok := frameAt(data, off)
		if !ok {
			if next, found := nextFrame(data, off+1); found {
				return s, fmt.Errorf("%w: bad frame at offset %d followed by a good one at %d", ErrCorrupt, off, next)
			}
			s.end, s.tail = off, len(data)-off
			return s, nil
		}
		for len(payload) > 0 {
			n, k := binary.Uvarint(payload)
			if k <= 0 || n > uint64(len(payload)-k) {
				return s, fmt.Errorf("%w: bad record length in frame at offset %d", ErrCorrupt, off)
			}
			r, err := decodeRecord(payload[k : k+int(n)])
			if err != nil {
				return s, fmt.Errorf("frame at offset %d: %w", off, err)
			}
			s.records = append(s.records, r)
			payload = payload[k+int(n):]
		}
		off += frameHeader + frameLen(data, off)
	}
	s.end = off
	return s, nil
}

func frameLen(data []byte, off int) int {
	return int(binary.LittleEndian.Uint32(data[off:]))
}

// frameAt returns the payload of the frame at off, if it is whole and its
// checksum holds.
func frameAt(data []byte, off int) ([]byte, bool) {
	if len(data)-off < frameHeader {
		return nil, false
	}
	n := frameLen(data, off)
	if n == 0 || n > maxFrame || n > len(data)-off-frameHeader {
		return nil, false
	}
	payload := data[off+frameHeader : off+frameHeader+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[off+4:]) {
		return nil, false
	}
	return payload, true
}

// nextFrame looks for a good frame at any offset from off on.
func nextFrame(data []byte, off int) (int, bool) {
	for ; off+frameHeader < len(data); off++ {
		if _, ok := frameAt(data, off); ok {
			return off, true
		}
	}
	return 0, false
}

// listJournals returns the generations of the journal files in dir, in
// order.
func listJournals(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list data dir: %w", err)
	}
	var gens []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, journalPrefix) || !strings.HasSuffix(name, journalSuffix) {
			continue
		}
		g, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, journalPrefix), journalSuffix), 16, 64)
		if err != nil {
			continue
		}
		gens = append(gens, g)
	}
	slices.Sort(gens)
	return gens, nil
}

// createJournal creates the journal file of generation gen, durably.
func createJournal(dir string, gen uint64) (*os.File, error) {
	path := filepath.Join(dir, journalName(gen))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	if _, err := f.WriteString(journalMagic); err != nil {
		f.Close()
		return nil, fmt.Errorf("write journal %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync journal %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// syncDir makes the creation, renaming or removal of files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open data dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync data dir: %w", err)
	}
	return nil
}

// journal appends records to the current journal file with group commit:
// Eval appends its record while it holds Engine.mu, then waits outside it
// until a frame that holds the record is fsynced. The first waiter to find
// no flush running writes and fsyncs everything appended so far; the others
// wait for it. So one fsync acknowledges every Eval that arrived during the
// previous one.
type journal struct {
	dir string

	// Guarded by Engine.mu.
	sources map[string]bool // SHA-1s whose source the current file holds
	enc     encoder

	mu       sync.Mutex // guards the fields below
	cond     sync.Cond  // signalled when a flush ends
	f        *os.File
	gen      uint64
	pending  []byte // a frame header's room, then the records not yet written
	spare    []byte
	appended uint64 // sequence number of the last record appended
	synced   uint64 // sequence number of the last record fsynced
	flushing bool
	err      error // a failed write or fsync: the journal accepts nothing more
}

func newJournal(dir string, f *os.File, gen uint64, sources map[string]bool) *journal {
	j := &journal{
		dir:     dir,
		sources: sources,
		f:       f,
		gen:     gen,
		pending: make([]byte, frameHeader, 4096),
		spare:   make([]byte, frameHeader, 4096),
	}
	j.cond.L = &j.mu
	return j
}

// append adds a record and returns its sequence number for wait. The caller
// holds Engine.mu.
func (j *journal) append(r *record) uint64 {
	j.enc.reset()
	r.encode(&j.enc)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = binary.AppendUvarint(j.pending, uint64(len(j.enc.bytes())))
	j.pending = append(j.pending, j.enc.bytes()...)
	j.appended++
	return j.appended
}

// last returns the sequence number of the last record appended: an Eval
// that changed nothing waits for it all the same, since its reply may show
// the effects of records not yet durable.
func (j *journal) last() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.appended
}

// failure is the error that stopped the journal, if any.
func (j *journal) failure() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// wait returns once record seq is fsynced, flushing if no one else is.
func (j *journal) wait(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.synced < seq {
		if j.err != nil {
			return j.err
		}
		if j.flushing {
			j.cond.Wait()
			continue
		}
		j.flushing = true
		frame, upto, f := j.pending, j.appended, j.f
		j.pending = j.spare
		j.mu.Unlock()
		err := writeFrame(f, frame)
		j.mu.Lock()
		j.spare = frame[:frameHeader]
		j.flushing = false
		if err != nil {
			j.err = fmt.Errorf("journal %s: %w", f.Name(), err)
		} else {
			j.synced = upto
		}
		j.cond.Broadcast()
	}
	return nil
}

// writeFrame fills in the header of frame, writes it and fsyncs.
func writeFrame(f *os.File, frame []byte) error {
	payload := frame[frameHeader:]
	if len(payload) > maxFrame {
		// Open would take it for a torn tail and drop it: refuse instead.
		return fmt.Errorf("frame of %d bytes exceeds the limit of %d", len(payload), maxFrame)
	}
	binary.LittleEndian.PutUint32(frame[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(payload, castagnoli))
	if _, err := f.Write(frame); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	return nil
}

// rotate switches to the file of a new generation and returns the old one.
// The caller holds Engine.mu and has waited for every record to be synced.
func (j *journal) rotate(f *os.File, gen uint64) *os.File {
	j.mu.Lock()
	defer j.mu.Unlock()
	old := j.f
	j.f, j.gen = f, gen
	j.sources = make(map[string]bool)
	return old
}

func (j *journal) generation() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.gen
}

// close closes the file. The caller holds Engine.mu and has waited for every
// record to be synced.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil {
		j.err = ErrClosed
	}
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	return nil
}

// shaBytes decodes a script's hex SHA-1.
func shaBytes(sha string) ([sha1.Size]byte, bool) {
	var b [sha1.Size]byte
	if len(sha) != 2*sha1.Size {
		return b, false
	}
	_, err := hex.Decode(b[:], []byte(sha))
	return b, err == nil
}
