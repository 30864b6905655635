//go:build !unix

package scanner

import "os"

// syncDir is a no-op where directories cannot be opened for fsync (Windows):
// there the rename itself is what the file system makes durable.
func syncDir(string) error { return nil }

// lockDir only creates the lock file where flock does not exist: running two
// scanners on one queue directory is then the operator's mistake to avoid.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

func unlockDir(f *os.File) error { return f.Close() }
