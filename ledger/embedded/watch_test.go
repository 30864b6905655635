package embedded_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"crowdflow/ledger/embedded"
)

// TestWatch: a watch of a stream answers at once when the stream already
// holds an entry after the given id, is woken by a script that appends one
// (not by one that writes elsewhere), times out otherwise, and ends with
// ErrClosed when the engine closes.
func TestWatch(t *testing.T) {
	e := MustOpen(t, embedded.Options{})
	w, err := e.Watch("log")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	if got, err := w.Wait(ctx, "", time.Millisecond); got || err != nil {
		t.Errorf("an empty stream: %v, %v; want a timeout", got, err)
	}
	id, _ := MustEval(t, e, `return redis.call('XADD', KEYS[1], '*', 'k', 'v')`, []string{"log"}).(string)
	if got, err := w.Wait(ctx, "", time.Hour); !got || err != nil {
		t.Errorf("an entry after the start: %v, %v", got, err)
	}
	if got, err := w.Wait(ctx, id, time.Millisecond); got || err != nil {
		t.Errorf("nothing after the last entry: %v, %v; want a timeout", got, err)
	}

	woke := make(chan error, 1)
	go func() {
		got, err := w.Wait(ctx, id, time.Hour)
		if err == nil && !got {
			err = errors.New("woke without an entry")
		}
		woke <- err
	}()
	MustEval(t, e, `return redis.call('SET', KEYS[1], 'x')`, []string{"other"}) // wakes it, but no entry: it waits on
	MustEval(t, e, `return redis.call('XADD', KEYS[1], '*', 'k', 'v')`, []string{"log"})
	if err := <-woke; err != nil {
		t.Errorf("a wait woken by an append: %v", err)
	}

	if _, err := w.Wait(ctx, "not-an-id", time.Millisecond); err == nil {
		t.Error("an invalid id: no error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.Wait(cctx, "9999999999999-0", time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled wait: %v", err)
	}
	closed := make(chan error, 1)
	go func() { _, err := w.Wait(ctx, "9999999999999-0", time.Hour); closed <- err }()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; !errors.Is(err, embedded.ErrClosed) {
		t.Errorf("a wait when the engine closes: %v, want ErrClosed", err)
	}
}
