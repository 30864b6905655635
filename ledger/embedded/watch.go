package embedded

import (
	"context"
	"fmt"
	"time"

	"crowdflow/ledger"
)

var _ ledger.Watcher = (*Engine)(nil)

// Watch returns a watch of the stream at key: Wait sleeps until a script
// changes data, then looks at the stream's last entry. Nothing is held
// between waits; Close does nothing.
func (e *Engine) Watch(key string) (ledger.StreamWatch, error) {
	return &streamWatch{e: e, key: key}, nil
}

type streamWatch struct {
	e   *Engine
	key string
}

func (w *streamWatch) Wait(ctx context.Context, after string, d time.Duration) (bool, error) {
	from := streamID{}
	if after != "" {
		id, _, ok := parseStreamID(after, 0, true, false)
		if !ok {
			return false, fmt.Errorf("watch %s: invalid stream id %q", w.key, after)
		}
		from = id
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		has, changed, err := w.look(from)
		if err != nil || has {
			return has, err
		}
		select {
		case <-changed:
		case <-timer.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// look reports whether the stream has an entry after from, and returns the
// signal of the next change.
func (w *streamWatch) look(from streamID) (bool, <-chan struct{}, error) {
	e := w.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false, nil, ErrClosed
	}
	s, _ := e.m.db.keys[w.key].(*stream)
	has := s != nil && len(s.entries) > 0 && from.less(s.entries[len(s.entries)-1].id)
	return has, e.changed, nil
}

func (w *streamWatch) Close() error { return nil }
