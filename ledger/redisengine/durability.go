package redisengine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Durability is what the Redis servers keep of an acknowledged write across
// a crash, as their configuration says.
type Durability struct {
	Kind string // "redis", "redis sentinel" or "redis cluster"
	// Checked is false when the servers refuse CONFIG GET (managed Redis
	// services rename or forbid it): the other fields are then unknown.
	Checked bool
	// AOF: every primary checked keeps an append-only file.
	AOF bool
	// Fsync is the weakest appendfsync among the primaries: "always",
	// "everysec" or "no".
	Fsync string
	// Nodes is the number of primaries checked: the one server, the
	// primary Sentinel names, or every primary of a Cluster.
	Nodes int
}

// String is the store's mode as /readyz shows it: "redis aof everysec",
// "redis cluster aof always", "redis volatile", "redis (durability unknown)".
func (d Durability) String() string {
	switch {
	case !d.Checked:
		return d.Kind + " (durability unknown)"
	case !d.AOF:
		return d.Kind + " volatile"
	}
	return d.Kind + " aof " + d.Fsync
}

// fsyncRank orders appendfsync from the weakest.
var fsyncRank = map[string]int{"no": 0, "everysec": 1, "always": 2}

// Durability reads appendonly and appendfsync from the primary (one server,
// or the one Sentinel names) or from every primary of a Cluster. Replicas
// are not asked: configure them as their primary, since a failover makes one
// of them the primary. A server that refuses CONFIG (an error reply) gives
// Checked false and no error; a server that cannot be reached, an error.
func (e *Engine) Durability(ctx context.Context) (Durability, error) {
	d := Durability{Kind: e.kind, Checked: true, AOF: true, Fsync: "always"}
	var mu sync.Mutex // guards d: ForEachMaster calls in parallel
	check := func(ctx context.Context, c *redis.Client) error {
		aof, aerr := c.ConfigGet(ctx, "appendonly").Result()
		fsync, ferr := c.ConfigGet(ctx, "appendfsync").Result()
		mu.Lock()
		defer mu.Unlock()
		var rerr redis.Error
		switch err := errors.Join(aerr, ferr); {
		case errors.As(err, &rerr):
			d.Checked = false
			return nil
		case err != nil:
			return fmt.Errorf("config get on %s: %w", c.Options().Addr, err)
		}
		d.Nodes++
		if aof["appendonly"] != "yes" {
			d.AOF = false
		}
		f := fsync["appendfsync"]
		if r, ok := fsyncRank[f]; !ok || r < fsyncRank[d.Fsync] {
			d.Fsync = f
		}
		return nil
	}
	var err error
	switch c := e.c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		return Durability{}, fmt.Errorf("durability of a %T: not supported", e.c)
	}
	if err != nil {
		return Durability{}, err
	}
	if !d.Checked {
		return Durability{Kind: e.kind}, nil
	}
	return d, nil
}
