//go:build !linux

package gateway

// fanOutThread cannot lower one thread's priority off Linux: the hub runs
// as any goroutine.
func fanOutThread() bool { return false }
