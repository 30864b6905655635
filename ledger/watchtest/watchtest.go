// Package watchtest is the behaviour every ledger.StreamWatch must have,
// run by the tests of both engines against their own stream.
package watchtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"crowdflow/ledger"
)

// Run checks w, a watch of an empty stream that add appends one entry to
// (returning its id): a wait times out on the empty stream, answers at once
// when an entry follows the given id, times out after the last one, and is
// woken by an append while it blocks. It returns the id of the last entry.
func Run(t *testing.T, w ledger.StreamWatch, add func() string) string {
	t.Helper()
	ctx := context.Background()
	if got, err := w.Wait(ctx, "", time.Millisecond); got || err != nil {
		t.Errorf("an empty stream: %v, %v; want a timeout", got, err)
	}
	id := add()
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
	last := add()
	if err := <-woke; err != nil {
		t.Errorf("a wait woken by an append: %v", err)
	}
	return last
}
