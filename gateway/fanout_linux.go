package gateway

import (
	"runtime"
	"syscall"
)

// fanOutNice is the niceness of the hub's thread: at 10 the kernel gives
// it about a tenth of a busy core against a thread at 0 (the gateway's
// others, Redis), so the scan path comes first without the board being
// starved. Not lower: the thread also takes the Go runtime's own locks
// (allocating, for one), and a thread that the kernel keeps waiting while
// it holds one keeps the others waiting too; at 10 it is never kept long.
const fanOutNice = 10

// fanOutThread puts the calling goroutine (the hub) on a thread of its own
// at a lower priority: its writes to live clients (a system call each,
// which on loopback also does the receiver's TCP work) then give way, in
// the kernel, to the threads that handle scans and to Redis. The thread
// ends with the goroutine, which never unlocks it (Go parks it for good if
// it is the process's first), and Go starts no thread from a locked one, so
// nothing else ever runs at its priority. It reports whether the priority
// was set.
func fanOutThread() bool {
	runtime.LockOSThread()
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), fanOutNice) == nil
}
