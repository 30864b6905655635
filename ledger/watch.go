package ledger

import (
	"context"
	"time"
)

// Watcher is an Engine that can say when a script appended to a stream, so
// that a reader waits for the log to grow instead of polling it: redisengine
// with a blocking XREAD on a connection of its own, embedded with a signal
// from the script runner. It is optional: Store.WatchLog falls back to
// "maybe, read and see" on an engine without it.
type Watcher interface {
	// Watch returns a watch of the stream at key. The caller closes it.
	Watch(key string) (StreamWatch, error)
}

// StreamWatch waits for a stream to hold entries after a given id. One
// goroutine at a time may call Wait; Close ends the watch.
type StreamWatch interface {
	// Wait blocks until the stream holds an entry whose id is greater than
	// after ("0-0" or "": any entry), at most d, and reports whether it
	// does. A false result with a nil error is a timeout; an entry
	// appended while Wait was not running is still seen by the next Wait.
	Wait(ctx context.Context, after string, d time.Duration) (bool, error)
	Close() error
}

// WatchLog returns a watch of the event log (wait, then read with Log from
// after the last id read), and false when the engine cannot watch: the
// caller then polls.
func (s *Store) WatchLog() (StreamWatch, bool, error) {
	w, ok := s.eng.(Watcher)
	if !ok {
		return nil, false, nil
	}
	sw, err := w.Watch(s.keys.log)
	if err != nil {
		return nil, false, err
	}
	return sw, true, nil
}
