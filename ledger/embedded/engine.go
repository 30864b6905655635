package embedded

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"crowdflow/ledger"
)

var _ ledger.Engine = (*Engine)(nil)

var (
	// ErrClosed is returned by the methods of a closed Engine.
	ErrClosed = errors.New("embedded engine closed")
	// ErrDirInUse is returned by Open when another Engine, in this
	// process or another, holds the data directory.
	ErrDirInUse = errors.New("data dir in use by another crowdflow process")
)

// Options configure an Engine.
type Options struct {
	// Dir is the data directory: the journal and the snapshot live there.
	// "" keeps everything in memory (tests, demos).
	Dir string
	// Logger receives the engine's own messages and the scripts'
	// redis.log lines. nil discards them.
	Logger *slog.Logger
	// Now is the server clock, which XADD '*' reads to make stream IDs.
	// nil is time.Now.
	Now func() time.Time
}

// Engine runs the ledger's scripts in process, with Redis' semantics. See
// the package documentation.
//
// Its methods are safe for concurrent use. Scripts run one at a time, on
// one mutex, as on Redis' single thread, so a script is atomic.
type Engine struct {
	logger *slog.Logger
	now    func() time.Time
	dir    string
	lock   *os.File // holds the flock on dir; nil without Dir

	// mu is held while a script runs, and guards m (the Lua state and the
	// data), closed and the append side of j. Waiting for an fsync
	// happens outside it, so that other scripts run meanwhile.
	mu     sync.Mutex
	m      *machine
	j      *journal // nil without Dir
	closed bool
	// changed is closed, and replaced, when a script changes data: the
	// signal StreamWatch.Wait waits for (watch.go).
	changed chan struct{}
}

// Open returns an engine. With opts.Dir set it locks the directory, loads
// the snapshot and replays the journal; the caller must Close the engine to
// release the directory.
func Open(opts Options) (*Engine, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	m, err := newMachine(newKeyspace(), logger)
	if err != nil {
		return nil, fmt.Errorf("start lua: %w", err)
	}
	e := &Engine{logger: logger, now: now, dir: opts.Dir, m: m, changed: make(chan struct{})}
	if opts.Dir == "" {
		return e, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		m.close()
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if e.lock, err = lockDir(opts.Dir); err != nil {
		m.close()
		return nil, err
	}
	if e.j, err = e.recover(); err != nil {
		e.lock.Close()
		m.close()
		return nil, fmt.Errorf("open data dir %s: %w", opts.Dir, err)
	}
	return e, nil
}

// recover loads the snapshot, replays the journal files after it, cuts off
// a torn tail, and returns the journal open for appending.
func (e *Engine) recover() (*journal, error) {
	start := time.Now()
	gen := uint64(1)
	data, err := os.ReadFile(filepath.Join(e.dir, snapshotName))
	switch {
	case err == nil:
		if gen, err = decodeSnapshot(data, e.m.db); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	_ = os.Remove(filepath.Join(e.dir, snapshotTemp)) // a Compact that crashed

	gens, err := listJournals(e.dir)
	if err != nil {
		return nil, err
	}
	var live []uint64
	for _, g := range gens {
		if g >= gen {
			live = append(live, g)
			continue
		}
		// Covered by the snapshot; a Compact crashed before removing it.
		if err := os.Remove(filepath.Join(e.dir, journalName(g))); err != nil {
			return nil, fmt.Errorf("remove old journal: %w", err)
		}
	}
	if len(live) == 0 {
		f, err := createJournal(e.dir, gen)
		if err != nil {
			return nil, err
		}
		return newJournal(e.dir, f, gen, make(map[string]bool)), nil
	}
	for i, g := range live {
		if g != gen+uint64(i) {
			return nil, fmt.Errorf("%w: journal generation %d is missing", ErrCorrupt, gen+uint64(i))
		}
	}

	e.m.quiet = true
	defer func() { e.m.quiet = false }()
	sources := make(map[string]string) // SHA-1 → source, as the journal gives them
	inLast := make(map[string]bool)    // SHA-1s whose source the last file holds
	records := 0
	for i, g := range live {
		last := i == len(live)-1
		path := filepath.Join(e.dir, journalName(g))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		scan, err := scanJournal(data)
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", path, err)
		}
		if scan.tail > 0 || scan.end == 0 { // scan.end == 0: not even the magic
			if !last {
				return nil, fmt.Errorf("%w: journal %s: bad frame at offset %d before the last journal", ErrCorrupt, path, scan.end)
			}
			e.logger.Warn("journal tail torn by a crash, truncating it",
				"file", path, "offset", scan.end, "bytes", scan.tail)
			if err := truncateJournal(path, scan.end); err != nil {
				return nil, err
			}
		}
		for _, r := range scan.records {
			if err := e.replay(&r, sources); err != nil {
				return nil, fmt.Errorf("journal %s: %w", path, err)
			}
			if last && r.hasSource {
				inLast[hex.EncodeToString(r.sha[:])] = true
			}
			records++
		}
	}
	g := live[len(live)-1]
	f, err := os.OpenFile(filepath.Join(e.dir, journalName(g)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	e.logger.Info("journal replayed", "dir", e.dir, "files", len(live), "records", records,
		"keys", len(e.m.db.keys), "took", time.Since(start))
	return newJournal(e.dir, f, g, inLast), nil
}

// truncateJournal cuts a journal file at end, rewriting the magic when the
// crash came before it was whole.
func truncateJournal(path string, end int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(int64(end)); err != nil {
		return fmt.Errorf("truncate journal: %w", err)
	}
	if end == 0 {
		if _, err := f.WriteAt([]byte(journalMagic), 0); err != nil {
			return fmt.Errorf("write journal: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return nil
}

// replay runs a journaled script again, at its recorded time. Its reply is
// of no interest: only its effects on the data.
func (e *Engine) replay(r *record, sources map[string]string) error {
	sha := hex.EncodeToString(r.sha[:])
	if r.hasSource {
		if sum := sha1.Sum([]byte(r.source)); sum != r.sha {
			return fmt.Errorf("%w: script source does not match its SHA-1 %s", ErrCorrupt, sha)
		}
		sources[sha] = r.source
	}
	source, ok := sources[sha]
	if !ok {
		return fmt.Errorf("%w: script %s has no source in the journal", ErrCorrupt, sha)
	}
	if _, err := e.m.compile(sha, source); err != nil {
		return fmt.Errorf("%w: journaled script %s: %w", ErrCorrupt, sha, err)
	}
	clock := func() time.Time {
		if !r.hasTime {
			// The script read the clock now but did not then: it is not
			// the deterministic script that was journaled.
			e.logger.Error("replayed script read a clock it did not read before", "sha", sha)
			return time.Unix(0, 0)
		}
		return time.Unix(0, r.unixNano)
	}
	_, _ = e.m.eval(sha, source, r.keys, r.args, clock)
	return nil
}

// Eval runs script s with KEYS and ARGV, atomically, and returns its reply
// as ledger.Engine describes. A script's error wraps ledger.ErrScript and
// reads as redisengine's: "script error: <script name>: " and then exactly
// what Redis would send. An error inside an array reply is an error value
// whose text is just Redis'.
//
// ctx is checked before the script starts; a script that has started runs to
// the end, as in Redis, where a script that wrote cannot be killed. With a
// data directory, Eval returns once the script's changes, and any it may
// have read, are fsynced; if the journal cannot be written the engine
// refuses every later Eval, since its memory is ahead of its disk.
func (e *Engine) Eval(ctx context.Context, s *ledger.Script, keys []string, args ...string) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errors.New("eval: nil script")
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	if e.j != nil {
		if err := e.j.failure(); err != nil {
			e.mu.Unlock()
			return nil, err
		}
	}
	if !e.m.known(s.SHA1, s.Source) {
		if sum := sha1.Sum([]byte(s.Source)); hex.EncodeToString(sum[:]) != s.SHA1 {
			e.mu.Unlock()
			return nil, fmt.Errorf("eval %s: SHA1 %q is not the SHA-1 of the script's source", s.Name, s.SHA1)
		}
	}
	before := e.m.db.dirty
	reply, err := e.m.eval(s.SHA1, s.Source, keys, args, e.now)
	var seq uint64
	if e.j != nil {
		if e.m.db.dirty != before {
			seq = e.j.append(e.record(s, keys, args))
		} else {
			seq = e.j.last()
		}
	}
	if e.m.db.dirty != before {
		close(e.changed)
		e.changed = make(chan struct{})
	}
	e.mu.Unlock()
	if e.j != nil {
		if jerr := e.j.wait(seq); jerr != nil {
			return nil, jerr
		}
	}
	if err != nil {
		// Worded as redisengine words it, so both engines log alike.
		return nil, fmt.Errorf("%w: %s: %w", ledger.ErrScript, s.Name, err)
	}
	return reply, nil
}

// record makes the journal record of the Eval that just ran. The caller
// holds e.mu.
func (e *Engine) record(s *ledger.Script, keys, args []string) *record {
	sha, _ := shaBytes(s.SHA1) // checked by Eval
	r := &record{sha: sha, keys: keys, args: args}
	if !e.j.sources[s.SHA1] {
		r.source, r.hasSource = s.Source, true
		e.j.sources[s.SHA1] = true
	}
	if e.m.nowUsed {
		r.unixNano, r.hasTime = e.m.now.UnixNano(), true
	}
	return r
}

// Ping reports whether the engine answers: it is open and its journal
// works.
func (e *Engine) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if e.j != nil {
		return e.j.failure()
	}
	return nil
}

// Compact writes a snapshot of the data and starts a new journal, so that
// the next Open loads the snapshot instead of replaying every script since
// the first. Scripts wait while it writes. Without a data directory it does
// nothing.
func (e *Engine) Compact() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if e.j == nil {
		return nil
	}
	if err := e.j.wait(e.j.last()); err != nil {
		return err
	}
	start := time.Now()
	gen := e.j.generation() + 1
	// The new journal first, then the snapshot that names it: a crash in
	// between leaves the old snapshot, the old journal and an empty new
	// one, which replay to the same data.
	f, err := createJournal(e.dir, gen)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := writeSnapshot(e.dir, gen, e.m.db); err != nil {
		f.Close()
		_ = os.Remove(filepath.Join(e.dir, journalName(gen)))
		return fmt.Errorf("compact: %w", err)
	}
	old := e.j.rotate(f, gen)
	if err := old.Close(); err != nil {
		e.logger.Warn("close old journal", "err", err)
	}
	for g := gen - 1; g > 0; g-- {
		err := os.Remove(filepath.Join(e.dir, journalName(g)))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			e.logger.Warn("remove old journal", "generation", g, "err", err)
		}
	}
	e.logger.Info("data dir compacted", "dir", e.dir, "generation", gen,
		"keys", len(e.m.db.keys), "took", time.Since(start))
	return nil
}

// Close waits for pending journal writes, closes the journal and releases
// the data directory. Eval and Ping after Close return ErrClosed; Close
// again returns nil.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	close(e.changed) // a waiting StreamWatch sees ErrClosed
	var errs []error
	if e.j != nil {
		errs = append(errs, e.j.wait(e.j.last()), e.j.close())
	}
	e.m.close()
	if e.lock != nil {
		errs = append(errs, e.lock.Close())
	}
	return errors.Join(errs...)
}
