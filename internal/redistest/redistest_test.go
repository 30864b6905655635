package redistest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"crowdflow/internal/redistest"
)

func TestKillRestart(t *testing.T) {
	s := redistest.Start(t, redistest.Options{AppendFsync: "always"})
	addr := s.Addr()
	s.Kill()
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("restart moved the server: %s, was %s", s.Addr(), addr)
	}
}

// TestCluster forms a Cluster of three primaries with a replica each, and
// checks that a key's slot is served (through redirections) from any seed.
func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{Primaries: 3, Replicas: 1})
	cl := c.Client(t)
	ctx := t.Context()
	var masters atomic.Int32 // ForEachMaster calls in parallel
	if err := cl.ForEachMaster(ctx, func(context.Context, *redis.Client) error { masters.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	if masters := masters.Load(); masters != 3 {
		t.Errorf("%d primaries, want 3", masters)
	}
	if err := cl.Set(ctx, "{a}:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := cl.Get(ctx, "{a}:k").Val(); got != "v" {
		t.Errorf("get {a}:k = %q, want v", got)
	}
}
