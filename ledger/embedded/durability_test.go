package embedded_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
)

// tickingClock returns a clock that moves 7 ms at every reading, so that
// XADD '*' makes IDs that depend on when a script ran.
func tickingClock() func() time.Time {
	var ms atomic.Int64
	ms.Store(1_700_000_000_000)
	return func() time.Time { return time.UnixMilli(ms.Add(7)) }
}

// workload runs n random operations of the differential test's kinds
// (writes, reads, scripts that fail half-way) and calls after with the
// index of each.
func workload(t *testing.T, e *embedded.Engine, seed uint64, n int, after func(i int)) {
	t.Helper()
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed))}
	scripts := map[string]*ledger.Script{}
	for i := range n {
		o := g.op()
		s, ok := scripts[o.script]
		if !ok {
			s = ledger.NewScript(o.name, o.script)
			scripts[o.script] = s
		}
		if _, err := e.Eval(context.Background(), s, o.keys, o.args...); err != nil && !errors.Is(err, ledger.ErrScript) {
			t.Fatalf("op %d: %v", i, err)
		}
		if after != nil {
			after(i)
		}
	}
}

func journalFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "journal-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

func onlyJournal(t testing.TB, dir string) string {
	t.Helper()
	files := journalFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("journal files %v, want one", files)
	}
	return files[0]
}

// copyDir copies the files of a data directory (not the lock) to a new one.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "LOCK" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// reopen opens dir, dumps its data and closes it.
func reopen(t *testing.T, dir string, logger *slog.Logger) (map[string]any, error) {
	t.Helper()
	e, err := embedded.Open(embedded.Options{Dir: dir, Logger: logger, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	return embedded.Dump(e), nil
}

func TestReopenGivesTheSameData(t *testing.T) {
	dir := t.TempDir()
	e, err := embedded.Open(embedded.Options{Dir: dir, Now: tickingClock()})
	if err != nil {
		t.Fatal(err)
	}
	workload(t, e, 1, 2000, nil)
	want := embedded.Dump(e)
	hgetall := ledger.NewScript("hgetall", "return {redis.call('hgetall', 'h1'), redis.call('hgetall', 'h2')}")
	wantOrder := MustEval(t, e, hgetall.Source, nil)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if len(want) < 5 {
		t.Fatalf("the workload left only %d keys", len(want))
	}

	// A different clock now: XADD '*' IDs come from the journal.
	e2 := MustOpen(t, embedded.Options{Dir: dir, Now: func() time.Time { return time.Unix(0, 0) }})
	if got := embedded.Dump(e2); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen:\n got %v\nwant %v", got, want)
	}
	if got := MustEval(t, e2, hgetall.Source, nil); !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("hash order after reopen: got %v, want %v", got, wantOrder)
	}
}

func TestReplayUsesTheJournaledSource(t *testing.T) {
	dir := t.TempDir()
	e, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	v1 := ledger.NewScript("count", "return redis.call('incrby', KEYS[1], 1)")
	for range 3 {
		if _, err := e.Eval(context.Background(), v1, []string{"n"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// A later binary whose "count" script adds 10: history stays as it was.
	e2 := MustOpen(t, embedded.Options{Dir: dir})
	v2 := ledger.NewScript("count", "return redis.call('incrby', KEYS[1], 10)")
	got, err := e2.Eval(context.Background(), v2, []string{"n"})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(13); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestConcurrentWritesSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	e, err := embedded.Open(embedded.Options{Dir: dir, Now: tickingClock()})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 12, 40
	s := ledger.NewScript("scan", "redis.call('hincrby', 'count', ARGV[1], 1) return redis.call('xadd', 'log', '*', 'g', ARGV[1])")
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				if _, err := e.Eval(context.Background(), s, nil, string(rune('a'+g))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := embedded.Dump(e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := reopen(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen:\n got %v\nwant %v", got, want)
	}
	if n := len(got["log"].(embedded.Stream).Entries); n != goroutines*each {
		t.Errorf("log has %d entries, want %d", n, goroutines*each)
	}
}

// Cutting the journal anywhere, as a crash in the middle of a write would,
// loses at most the writes whose Eval had not returned.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	e, err := embedded.Open(embedded.Options{Dir: dir, Now: tickingClock()})
	if err != nil {
		t.Fatal(err)
	}
	path := onlyJournal(t, dir)
	fileSize := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// states[i] is the data once sizes[i] bytes of journal are durable.
	states, sizes := []map[string]any{{}}, []int64{fileSize()}
	workload(t, e, 2, 150, func(int) {
		states = append(states, embedded.Dump(e))
		sizes = append(sizes, fileSize())
	})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != sizes[len(sizes)-1] {
		t.Fatalf("journal has %d bytes, the last Eval left %d", len(data), sizes[len(sizes)-1])
	}

	rng := rand.New(rand.NewPCG(3, 3))
	cuts := []int{0, 3, 8, len(data) - 1}
	for range 40 {
		cuts = append(cuts, rng.IntN(len(data)))
	}
	for _, cut := range cuts {
		crashed := copyDir(t, dir)
		if err := os.Truncate(filepath.Join(crashed, filepath.Base(path)), int64(cut)); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		got, err := reopen(t, crashed, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatalf("cut at %d: open: %v", cut, err)
		}
		k := 0
		for i, size := range sizes {
			if size <= int64(cut) {
				k = i
			}
		}
		if !reflect.DeepEqual(got, states[k]) {
			t.Fatalf("cut at %d: got %v\nwant the data after op %d: %v", cut, got, k, states[k])
		}
		if torn := !slices.Contains(sizes, int64(cut)); torn != strings.Contains(logs.String(), "journal tail torn") {
			t.Errorf("cut at %d: torn %v, but the log says %q", cut, torn, logs.String())
		}
		// The cut journal takes new writes, and they survive.
		e := MustOpen(t, embedded.Options{Dir: crashed})
		MustEval(t, e, "return redis.call('set', 'after', 'crash')", nil)
		want := embedded.Dump(e)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if got, err := reopen(t, crashed, nil); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %d, written again: got %v, %v\nwant %v", cut, got, err, want)
		}
	}
}

func TestDamagedJournal(t *testing.T) {
	// A journal of three frames: one Eval each.
	dir := t.TempDir()
	e, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	path := onlyJournal(t, dir)
	var ends []int64
	for range 3 {
		MustEval(t, e, "return redis.call('incr', KEYS[1])", []string{"n"})
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, fi.Size())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	const magic = 8
	tests := map[string]struct {
		damage  func(data []byte) []byte
		wantErr error
		wantN   any
	}{
		"intact":                    {damage: func(d []byte) []byte { return d }, wantN: "3"},
		"flip in the first frame":   {damage: flip(magic + 12), wantErr: embedded.ErrCorrupt},
		"flip in the middle frame":  {damage: func(d []byte) []byte { return flip(int(ends[0]) + 12)(d) }, wantErr: embedded.ErrCorrupt},
		"flip in a length":          {damage: func(d []byte) []byte { return flip(int(ends[0]))(d) }, wantErr: embedded.ErrCorrupt},
		"flip in the last frame":    {damage: func(d []byte) []byte { return flip(int(ends[1]) + 12)(d) }, wantN: "2"},
		"zeros after the end":       {damage: func(d []byte) []byte { return append(d, make([]byte, 4096)...) }, wantN: "3"},
		"garbage after the end":     {damage: func(d []byte) []byte { return append(d, []byte("not a frame at all")...) }, wantN: "3"},
		"not a journal":             {damage: func(d []byte) []byte { return append([]byte("XXXXXXXX"), d[magic:]...) }, wantErr: embedded.ErrCorrupt},
		"a frame copied after junk": {damage: func(d []byte) []byte { return append(append(d, 1, 2, 3), d[magic:ends[0]]...) }, wantErr: embedded.ErrCorrupt},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			damaged := copyDir(t, dir)
			jpath := filepath.Join(damaged, filepath.Base(path))
			data, err := os.ReadFile(jpath)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(jpath, tc.damage(data), 0o640); err != nil {
				t.Fatal(err)
			}
			got, err := reopen(t, damaged, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, %v; want error %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if got["n"] != tc.wantN {
				t.Errorf("n = %v, want %v", got["n"], tc.wantN)
			}
		})
	}
}

// flip returns a damage that inverts the byte at off.
func flip(off int) func([]byte) []byte {
	return func(d []byte) []byte {
		d = slices.Clone(d)
		d[off] ^= 0xff
		return d
	}
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	e, err := embedded.Open(embedded.Options{Dir: dir, Now: tickingClock()})
	if err != nil {
		t.Fatal(err)
	}
	workload(t, e, 4, 800, nil)
	beforeCompact := copyDir(t, dir)
	if err := e.Compact(); err != nil {
		t.Fatalf("compact: %v", err)
	}
	afterCompact := copyDir(t, dir)
	atCompact := embedded.Dump(e)
	workload(t, e, 5, 800, nil)
	if err := e.Compact(); err != nil {
		t.Fatalf("second compact: %v", err)
	}
	workload(t, e, 6, 300, nil)
	want := embedded.Dump(e)
	hgetall := "return {redis.call('hgetall', 'h1'), redis.call('hgetall', 'h2')}"
	wantOrder := MustEval(t, e, hgetall, nil)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	if files := journalFiles(t, dir); len(files) != 1 {
		t.Errorf("journal files after compaction: %v, want one", files)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshot.db")); err != nil {
		t.Errorf("no snapshot: %v", err)
	}
	e2 := MustOpen(t, embedded.Options{Dir: dir})
	if got := embedded.Dump(e2); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen:\n got %v\nwant %v", got, want)
	}
	if got := MustEval(t, e2, hgetall, nil); !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("hash order after reopen: got %v, want %v", got, wantOrder)
	}

	// Crashes in the middle of a Compact.
	tests := map[string]struct {
		dir func(t *testing.T) string
	}{
		"before the snapshot": {func(t *testing.T) string {
			// The new, empty journal exists; the snapshot was not written.
			d := copyDir(t, beforeCompact)
			f := journalFiles(t, afterCompact)[0]
			if err := os.WriteFile(filepath.Join(d, filepath.Base(f)), []byte("CFJRNL1\n"), 0o640); err != nil {
				t.Fatal(err)
			}
			return d
		}},
		"before removing the old journal": {func(t *testing.T) string {
			d := copyDir(t, afterCompact)
			for _, f := range journalFiles(t, beforeCompact) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, filepath.Base(f)), data, 0o640); err != nil {
					t.Fatal(err)
				}
			}
			return d
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := reopen(t, tc.dir(t), nil)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if !reflect.DeepEqual(got, atCompact) {
				t.Errorf("got %v\nwant %v", got, atCompact)
			}
		})
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	e := MustOpen(t, embedded.Options{Dir: dir})
	_, err := embedded.Open(embedded.Options{Dir: dir})
	if !errors.Is(err, embedded.ErrDirInUse) {
		t.Fatalf("second open: got %v, want ErrDirInUse", err)
	}
	if !strings.Contains(err.Error(), "data dir in use by another crowdflow process") {
		t.Errorf("error %q does not say what is wrong", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	MustOpen(t, embedded.Options{Dir: dir}) // released by Close
}

// holdDirEnv makes the test binary a helper process that opens a data
// directory and holds it until killed.
const holdDirEnv = "CROWDFLOW_EMBEDDED_HOLD_DIR"

func TestHelperHoldDir(t *testing.T) {
	dir := os.Getenv(holdDirEnv)
	if dir == "" {
		return // not the helper process
	}
	e, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done
	e.Close()
	os.Exit(0)
}

func TestOpenHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldDir$")
	cmd.Env = append(os.Environ(), holdDirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}

	if _, err := embedded.Open(embedded.Options{Dir: dir}); !errors.Is(err, embedded.ErrDirInUse) {
		t.Fatalf("open while another process holds the dir: got %v, want ErrDirInUse", err)
	}
	// A crash releases the directory: the kernel drops the lock.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	MustOpen(t, embedded.Options{Dir: dir})
}

// Whatever the journal holds, Open returns an engine or an error: it does
// not panic, and an engine it returns works.
func FuzzOpenJournal(f *testing.F) {
	dir := f.TempDir()
	e, err := embedded.Open(embedded.Options{Dir: dir, Now: tickingClock()})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 5 {
		MustEval(f, e, "redis.call('hincrby', 'h', ARGV[1], 1) return redis.call('xadd', 's', '*', 'a', ARGV[1])", nil, fmt.Sprint(i))
	}
	if err := e.Close(); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(onlyJournal(f, dir))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte("CFJRNL1\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, journal []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "journal-0000000000000001.log"), journal, 0o640); err != nil {
			t.Fatal(err)
		}
		e, err := embedded.Open(embedded.Options{Dir: dir})
		if err != nil {
			return
		}
		defer e.Close()
		MustEval(t, e, "return redis.call('set', 'k', 'v')", nil)
	})
}
