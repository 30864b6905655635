package embedded_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"crowdflow/ledger/embedded"
	"crowdflow/ledger/watchtest"
)

// TestWatch runs the watch behaviour on the embedded engine, then what is
// its own: a script that writes elsewhere wakes the wait but does not end
// it, a bad id is an error, and the engine's close ends a wait with
// ErrClosed.
func TestWatch(t *testing.T) {
	e := MustOpen(t, embedded.Options{})
	w, err := e.Watch("log")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	add := func() string {
		id, _ := MustEval(t, e, `return redis.call('XADD', KEYS[1], '*', 'k', 'v')`, []string{"log"}).(string)
		return id
	}
	last := watchtest.Run(t, w, add)

	ctx := context.Background()
	woke := make(chan bool, 1)
	go func() { got, _ := w.Wait(ctx, last, time.Hour); woke <- got }()
	MustEval(t, e, `return redis.call('SET', KEYS[1], 'x')`, []string{"other"}) // wakes it: no entry, it waits on
	add()
	if !<-woke {
		t.Error("the wait ended without the entry")
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
