// Package redisengine runs the ledger's scripts on Redis through go-redis:
// EVALSHA first, and EVAL when the server answers NOSCRIPT (its script cache
// is volatile: a restart, a failover or SCRIPT FLUSH empties it). On a
// Cluster both go to the node that owns the keys' slot, so each node loads
// the scripts it runs; every key of one event shares the hash tag {event},
// so one event's scripts run on one node.
package redisengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"crowdflow/ledger"
)

// Engine is a ledger.Engine on a Redis client (single node, Sentinel or
// Cluster: every key of one call shares one hash tag). It is safe for
// concurrent use, as the client is.
type Engine struct {
	c    redis.UniversalClient
	kind string // "redis", "redis sentinel" or "redis cluster"
	// wait is the number of replicas each script's writes must reach
	// before Eval returns (WAIT); 0: none, replication is asynchronous.
	wait int
}

// WaitTimeout bounds how long Eval waits for replicas (Options.WaitReplicas).
const WaitTimeout = time.Second

// ErrNotReplicated is returned by Eval when a script ran but its writes did
// not reach Options.WaitReplicas replicas within WaitTimeout: the caller
// must not acknowledge it (its device resends it, with its id, later).
var ErrNotReplicated = errors.New("not replicated")

var _ ledger.Engine = (*Engine)(nil)

// New returns an engine on c. Close closes c.
func New(c redis.UniversalClient) *Engine {
	kind := "redis"
	if _, ok := c.(*redis.ClusterClient); ok {
		kind = "redis cluster"
	}
	return &Engine{c: c, kind: kind}
}

// Open connects to the Redis at url, in any form Dial takes without a
// Cluster, and checks that it answers.
func Open(ctx context.Context, url string) (*Engine, error) {
	return Dial(ctx, Options{URL: url}, slog.New(slog.DiscardHandler))
}

// Client is the underlying client, for tests and benchmarks.
func (e *Engine) Client() redis.UniversalClient { return e.c }

// Eval runs s. A go-redis retry after a lost reply may run a scan script
// twice: the script's own de-duplication by scan id makes that harmless.
func (e *Engine) Eval(ctx context.Context, s *ledger.Script, keys []string, args ...string) (any, error) {
	argv := make([]any, len(args))
	for i, a := range args {
		argv[i] = a
	}
	res, err := e.eval(ctx, s, keys, argv, true)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		res, err = e.eval(ctx, s, keys, argv, false)
	}
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil:
		var rerr redis.Error
		if errors.As(err, &rerr) {
			return nil, fmt.Errorf("%w: %s: %v", ledger.ErrScript, s.Name, err)
		}
		return nil, err
	}
	return res, nil
}

// eval runs s by EVALSHA (sha) or EVAL, followed on the same connection by
// WAIT when the engine waits for replicas.
func (e *Engine) eval(ctx context.Context, s *ledger.Script, keys []string, argv []any, sha bool) (any, error) {
	run := func(c redis.Scripter) *redis.Cmd {
		if sha {
			return c.EvalSha(ctx, s.SHA1, keys, argv...)
		}
		return c.Eval(ctx, s.Source, keys, argv...)
	}
	if e.wait == 0 {
		return run(e.c).Result()
	}
	var script, wait *redis.Cmd
	_, _ = e.c.Pipelined(ctx, func(p redis.Pipeliner) error { // one pipeline: one connection
		script = run(p)
		wait = p.Do(ctx, "WAIT", e.wait, WaitTimeout.Milliseconds())
		return nil
	})
	res, err := script.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if n, werr := wait.Int(); werr != nil || n < e.wait {
		return nil, fmt.Errorf("%w: %s reached %d of %d replicas within %s (%v)", ErrNotReplicated, s.Name, n, e.wait, WaitTimeout, werr)
	}
	return res, err
}

// Ping reports whether Redis answers.
func (e *Engine) Ping(ctx context.Context) error { return e.c.Ping(ctx).Err() }

// Close closes the client.
func (e *Engine) Close() error { return e.c.Close() }
