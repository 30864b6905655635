package scanner_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/scanner"
	"crowdflow/wire"
)

// MustQueue opens a queue in dir and closes it when the test ends.
func MustQueue(tb testing.TB, dir string, limit int) *scanner.Queue {
	tb.Helper()
	q, err := scanner.OpenQueue(dir, limit, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = q.Close() })
	return q
}

var at0 = time.Date(2025, 9, 17, 10, 3, 11, 120e6, time.UTC)

func scanItem(id string, i int) scanner.Item {
	return scanner.Item{Scan: &wire.Scan{Type: wire.TypeScan, ID: id, Ticket: fmt.Sprintf("CF1:PAYLOAD%d", i),
		Direction: checkin.In, At: at0.Add(time.Duration(i) * time.Second), Gate: "MAIN-1"}}
}

func tallyItem(id string, delta int) scanner.Item {
	return scanner.Item{Tally: &wire.Tally{Type: wire.TypeTally, ID: id, Zone: "stage", Delta: delta, At: at0, Gate: "STAGE"}}
}

// mustPut queues a scan under each id, in order.
func mustPut(tb testing.TB, q *scanner.Queue, ids ...string) {
	tb.Helper()
	for i, id := range ids {
		if err := q.Put(scanItem(id, i)); err != nil {
			tb.Fatal(err)
		}
	}
}

func ids(items []scanner.Item) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = it.ID()
	}
	return strings.Join(s, ",")
}

// TestQueueSurvivesCrash writes scans, "crashes" (closes without removing
// anything), and finds them all again, in order, with their ids and times.
func TestQueueSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	q, err := scanner.OpenQueue(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Ids that sort in the opposite order of arrival: the queue keeps
	// arrival order, not id order (a restarted scanner's clock may be
	// earlier than the last run's).
	var want []scanner.Item
	for i := range 20 {
		it := scanItem(fmt.Sprintf("Z%03d", 100-i), i)
		if i%5 == 0 {
			it = tallyItem(fmt.Sprintf("Z%03d", 100-i), -i-1)
		}
		if err := q.Put(it); err != nil {
			t.Fatal(err)
		}
		want = append(want, it)
	}
	_ = q.Close() // as kill -9 would: nothing removed

	q = MustQueue(t, dir, 0)
	got := q.Items()
	if ids(got) != ids(want) {
		t.Fatalf("after reopening: %s\nwant %s", ids(got), ids(want))
	}
	for i := range got {
		if !got[i].At().Equal(want[i].At()) || got[i].IsOffline() {
			t.Errorf("item %d: at %v offline %v, want %v false", i, got[i].At(), got[i].IsOffline(), want[i].At())
		}
		if (got[i].Tally != nil) != (want[i].Tally != nil) {
			t.Errorf("item %d: kind changed", i)
		}
	}
	if got[0].Tally.Delta != -1 || got[1].Scan.Ticket != "CF1:PAYLOAD1" {
		t.Errorf("contents changed: %+v %+v", got[0].Tally, got[1].Scan)
	}

	// Remove some, add more: the new ones go after the old ones, even
	// after another crash.
	for _, id := range []string{"Z100", "Z097", "Z081"} {
		if err := q.Remove(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Remove("never-queued"); err != nil {
		t.Errorf("removing an unknown id: %v", err)
	}
	if err := q.Put(scanItem("A001", 99)); err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
	q = MustQueue(t, dir, 0)
	got = q.Items()
	if len(got) != 18 || got[0].ID() != "Z099" || got[len(got)-1].ID() != "A001" {
		t.Errorf("after removals and a second crash: %s", ids(got))
	}
	if _, ok := q.Get("Z097"); ok {
		t.Error("a removed scan came back")
	}
	if n := len(q.Next(3, func(id string) bool { return id == "Z099" })); n != 3 {
		t.Errorf("Next(3) skipping one gave %d items", n)
	}
}

func TestQueueMarksOfflineInPlace(t *testing.T) {
	dir := t.TempDir()
	q := MustQueue(t, dir, 0)
	mustPut(t, q, "A", "B", "C")
	it, _ := q.Get("B")
	if err := q.Put(it.AsOffline(checkin.AlreadyInside)); err != nil {
		t.Fatal(err)
	}
	if it.IsOffline() {
		t.Error("AsOffline changed the original")
	}
	_ = q.Close()
	q = MustQueue(t, dir, 0)
	got := q.Items()
	if ids(got) != "A,B,C" || got[0].IsOffline() || !got[1].IsOffline() {
		t.Errorf("got %s, offline %v %v", ids(got), got[0].IsOffline(), got[1].IsOffline())
	}
	if d := got[1].Scan.Decided; d != checkin.AlreadyInside {
		t.Errorf("decided %q after reopening, want the verdict shown offline, already_inside", d)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 3 {
		t.Errorf("%d queue files, want 3: %v", len(files), files)
	}
}

func TestQueueBound(t *testing.T) {
	q := MustQueue(t, t.TempDir(), 3)
	mustPut(t, q, "A", "B", "C")
	err := q.Put(scanItem("D", 4))
	if !errors.Is(err, scanner.ErrQueueFull) || !strings.Contains(err.Error(), "3 scans") {
		t.Fatalf("a fourth scan in a queue of 3: %v, want ErrQueueFull saying how many wait", err)
	}
	if it, _ := q.Get("A"); q.Put(it.AsOffline(checkin.Accepted)) != nil {
		t.Error("replacing a queued scan in a full queue failed")
	}
	_ = q.Remove("A")
	if err := q.Put(scanItem("D", 4)); err != nil {
		t.Errorf("after a removal: %v", err)
	}
}

func TestQueueRefusesBadItems(t *testing.T) {
	q := MustQueue(t, t.TempDir(), 0)
	tests := map[string]scanner.Item{
		"empty":             {},
		"id with a slash":   scanItem("../../etc/x", 1),
		"id too long":       scanItem(strings.Repeat("A", 65), 1),
		"no ticket":         {Scan: &wire.Scan{ID: "A", Direction: checkin.In, At: at0}},
		"bad direction":     {Scan: &wire.Scan{ID: "A", Ticket: "x", Direction: "up", At: at0}},
		"no time":           {Scan: &wire.Scan{ID: "A", Ticket: "x", Direction: checkin.In}},
		"tally of zero":     tallyItem("A", 0),
		"both scan, tally":  {Scan: scanItem("A", 1).Scan, Tally: tallyItem("A", 1).Tally},
		"tally of too many": tallyItem("A", 1001),
	}
	for name, it := range tests {
		t.Run(name, func(t *testing.T) {
			if err := q.Put(it); !errors.Is(err, scanner.ErrBadItem) {
				t.Errorf("Put: %v, want ErrBadItem", err)
			}
		})
	}
	if q.Len() != 0 {
		t.Errorf("%d items queued", q.Len())
	}
}

// TestQueueCrashLeftovers: what a crash in the middle of a write, a disk
// fault or a hand edit can leave is set aside with a warning, and every
// scan that Put acknowledged is still there.
func TestQueueCrashLeftovers(t *testing.T) {
	tests := map[string]struct {
		name, content string
		kept          string // what stays in the directory under another name; "" = nothing
		warns         bool
	}{
		"unfinished write": {name: ".tmp-000000000009-X.json", content: `{"type":"scan","id":"X","tic`, warns: true},
		"unfinished rewrite of a queued scan": {name: ".tmp-000000000001-A.json",
			content: `{"type":"scan","id":"A","ticket":"CF1:P","direction":"in","at":"2025-09-17T10:03:11Z","gate":"MAIN-1","offl`, warns: true},
		"torn file":           {name: "000000000007-T.json", content: `{"type":"scan","id":"T","ticket":"CF1:P","dir`, kept: "000000000007-T.json.corrupt", warns: true},
		"empty file":          {name: "000000000007-E.json", content: ``, kept: "000000000007-E.json.corrupt", warns: true},
		"garbage":             {name: "000000000007-G.json", content: "\x00\x00\x00\x00", kept: "000000000007-G.json.corrupt", warns: true},
		"another scan's id":   {name: "000000000007-F.json", content: `{"type":"scan","id":"B","ticket":"CF1:P","direction":"in","at":"2025-09-17T10:03:11Z"}`, kept: "000000000007-F.json.corrupt", warns: true},
		"unknown field":       {name: "000000000007-U.json", content: `{"type":"scan","id":"U","ticket":"CF1:P","direction":"in","at":"2025-09-17T10:03:11Z","x":1}`, kept: "000000000007-U.json.corrupt", warns: true},
		"someone else's file": {name: "notes.txt", content: "hello", kept: "notes.txt"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			q := MustQueue(t, dir, 0)
			for i, id := range []string{"A", "B", "C"} {
				if err := q.Put(scanItem(id, i)); err != nil {
					t.Fatal(err)
				}
			}
			_ = q.Close()
			if err := os.WriteFile(filepath.Join(dir, tc.name), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			log, logs := MustLogger(t)
			q2, err := scanner.OpenQueue(dir, 0, log)
			if err != nil {
				t.Fatalf("open after a crash: %v", err)
			}
			t.Cleanup(func() { _ = q2.Close() })
			if got := ids(q2.Items()); got != "A,B,C" {
				t.Errorf("queued after the crash: %s, want A,B,C", got)
			}
			if got, _ := q2.Get("A"); got.IsOffline() {
				t.Error("an unfinished rewrite was taken for the real file")
			}
			if warned := strings.Contains(logs.String(), "level=WARN"); warned != tc.warns {
				t.Errorf("warned %v, want %v: %s", warned, tc.warns, logs)
			}
			if _, err := os.Stat(filepath.Join(dir, tc.name)); tc.kept != tc.name && err == nil {
				t.Errorf("%s is still there under its name", tc.name)
			}
			if tc.kept != "" {
				if _, err := os.Stat(filepath.Join(dir, tc.kept)); err != nil {
					t.Errorf("%s was not kept: %v", tc.kept, err)
				}
			}
			// New scans still go to the end, and a second open is quiet
			// about what it already set aside, but for a reminder.
			if err := q2.Put(scanItem("D", 9)); err != nil {
				t.Fatal(err)
			}
			if got := ids(q2.Items()); got != "A,B,C,D" {
				t.Errorf("after a new scan: %s", got)
			}
		})
	}
}

func TestQueueLocked(t *testing.T) {
	dir := t.TempDir()
	_ = MustQueue(t, dir, 0)
	if _, err := scanner.OpenQueue(dir, 0, nil); !errors.Is(err, scanner.ErrLocked) {
		t.Errorf("a second scanner on the same queue: %v, want ErrLocked", err)
	}
}

// TestQueueReplace: a scan whose id the gateway took for another goes again
// under a new id, in its place; a crash between writing the new file and
// removing the old leaves both, and the next open keeps one of them, so the
// scan is never sent twice.
func TestQueueReplace(t *testing.T) {
	dir := t.TempDir()
	q := MustQueue(t, dir, 0)
	mustPut(t, q, "A", "B", "C")
	b, _ := q.Get("B")
	if err := q.Replace("B", b.WithID("B2")); err != nil {
		t.Fatal(err)
	}
	if got := ids(q.Items()); got != "A,B2,C" {
		t.Errorf("after the replace: %s, want A,B2,C", got)
	}
	if err := q.Replace("B", b.WithID("B3")); err == nil {
		t.Error("replacing a scan no longer queued: no error")
	}
	if err := q.Replace("A", b.WithID("C")); err == nil {
		t.Error("replacing under an id queued already: no error")
	}
	_ = q.Close()
	if got := ids(MustQueue(t, dir, 0).Items()); got != "A,B2,C" {
		t.Errorf("after a reopen: %s, want A,B2,C", got)
	}
}

func TestQueueReplaceCutShort(t *testing.T) {
	dir := t.TempDir()
	q := MustQueue(t, dir, 0)
	mustPut(t, q, "A", "B", "C")
	_ = q.Close()
	// The crash: B's new file, under B's sequence number, beside B's.
	frame, err := scanItem("B", 1).WithID("B2").Frame()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "000000000002-B2.json"), frame, 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := MustLogger(t)
	q2, err := scanner.OpenQueue(dir, 0, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q2.Close() })
	got := ids(q2.Items())
	if got != "A,B,C" && got != "A,B2,C" {
		t.Errorf("after the crash: %s, want A, B or B2 (one of them), C", got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "000000000002-*.json"))
	if len(files) != 1 {
		t.Errorf("files for the second scan: %v, want one", files)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning: %s", logs)
	}
}

// TestQueueCopiedTogether: another scan under a number taken already (two
// devices' queues copied into one directory) is no Replace cut short: both
// stay, the other one last, under a number of its own.
func TestQueueCopiedTogether(t *testing.T) {
	dir := t.TempDir()
	q := MustQueue(t, dir, 0)
	mustPut(t, q, "A", "B", "C")
	_ = q.Close()
	frame, err := scanItem("X", 7).Frame()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "000000000002-X.json"), frame, 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := MustLogger(t)
	q2, err := scanner.OpenQueue(dir, 0, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(q2.Items()); got != "A,B,C,X" {
		t.Errorf("after the copy: %s, want A,B,C,X (nothing lost, the other scan last)", got)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning: %s", logs)
	}
	_ = q2.Close()
	if got := ids(MustQueue(t, dir, 0).Items()); got != "A,B,C,X" {
		t.Errorf("after a reopen: %s, want A,B,C,X", got)
	}
}
