package redisengine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"crowdflow/internal/redistest"
)

// TestWatch: on a real redis-server, a watch answers at once when the
// stream already holds an entry after the given id, is woken by an append
// from another connection while it blocks, and times out otherwise.
func TestWatch(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	eng := MustOpen(t, srv)
	w, err := eng.Watch("cf:{t}:log")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := t.Context()
	if got, err := w.Wait(ctx, "", time.Millisecond); got || err != nil {
		t.Errorf("an empty stream: %v, %v; want a timeout", got, err)
	}
	add := func() string {
		t.Helper()
		id, err := eng.Client().XAdd(ctx, &redis.XAddArgs{Stream: "cf:{t}:log", Values: []string{"k", "v"}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
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
	add()
	if err := <-woke; err != nil {
		t.Errorf("a wait woken by an append: %v", err)
	}
}
