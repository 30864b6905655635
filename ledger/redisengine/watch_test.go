package redisengine_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"crowdflow/internal/redistest"
	"crowdflow/ledger/watchtest"
)

// TestWatch runs the watch behaviour on a real redis-server: XREAD BLOCK on
// the watch's own connection, appends from another.
func TestWatch(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	eng := MustOpen(t, srv)
	w, err := eng.Watch("cf:{t}:log")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	watchtest.Run(t, w, func() string {
		id, err := eng.Client().XAdd(t.Context(), &redis.XAddArgs{Stream: "cf:{t}:log", Values: []string{"k", "v"}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
	})
}
