package gateway_test

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"crowdflow/gateway"
)

// threadNice reads the calling thread's niceness and id from /proc.
func threadNice(t *testing.T) (nice, tid int) {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Fatal(err)
	}
	// After the command name (in parentheses): state is field 3, nice 19.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if nice, err = strconv.Atoi(f[19-3]); err != nil {
		t.Fatalf("nice in %q: %v", b, err)
	}
	return nice, syscall.Gettid()
}

// TestFanOutThread: the hub's goroutine gets a thread of its own at a lower
// priority; the rest of the process keeps its own, and the thread ends with
// the goroutine, so nothing else ever runs at that priority. (A locked
// thread is not cloned either: Go starts new threads from another one.)
func TestFanOutThread(t *testing.T) {
	type seen struct{ nice, tid int }
	hub := func(end <-chan struct{}) seen {
		got := make(chan seen)
		go func() {
			if !gateway.FanOutThread() {
				t.Error("fanOutThread: the priority was not set")
			}
			n, tid := threadNice(t)
			got <- seen{n, tid}
			<-end
		}()
		return <-got
	}
	end := make(chan struct{})
	got := hub(end)
	if got.tid == os.Getpid() {
		// The process's first thread, which Go parks for good rather than
		// ending when its goroutine ends locked. That hub keeps it busy
		// until end; look at the thread of a second one.
		if got.nice != gateway.FanOutNice {
			t.Errorf("the first hub's thread: nice %d, want %d", got.nice, gateway.FanOutNice)
		}
		got = hub(end)
	}
	if got.nice != gateway.FanOutNice {
		t.Errorf("the hub's thread: nice %d, want %d", got.nice, gateway.FanOutNice)
	}

	other := make(chan seen)
	go func() {
		runtime.LockOSThread() // a thread of its own, not the hub's
		defer runtime.UnlockOSThread()
		n, tid := threadNice(t)
		other <- seen{n, tid}
	}()
	if o := <-other; o.tid == got.tid || o.nice == gateway.FanOutNice {
		t.Errorf("another goroutine's thread %d: nice %d; want the process's (the hub's thread is %d)", o.tid, o.nice, got.tid)
	}

	close(end) // the hub goroutine returns still locked: its thread exits
	task := "/proc/self/task/" + strconv.Itoa(got.tid)
	Eventually(t, "the hub's thread to end with its goroutine", func() bool {
		_, err := os.Stat(task)
		return os.IsNotExist(err)
	})
}
