package redisengine

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"crowdflow/ledger"
)

var _ ledger.Watcher = (*Engine)(nil)

// Watch returns a watch of the stream at key that waits with XREAD BLOCK on
// a connection of its own (one server's client, or Sentinel's, which is the
// same *redis.Client), so that the blocked read never holds back a script;
// on a Cluster client it borrows a pooled connection for each wait. Close
// releases the connection; after a Wait error (a failover closes the
// connection) the caller takes a new watch.
func (e *Engine) Watch(key string) (ledger.StreamWatch, error) {
	w := &streamWatch{key: key, cmd: e.c}
	if c, ok := e.c.(*redis.Client); ok {
		conn := c.Conn()
		w.cmd, w.conn = conn, conn
	}
	return w, nil
}

type streamWatch struct {
	key  string
	cmd  redis.Cmdable
	conn *redis.Conn // nil when cmd is the shared client
}

// Wait runs XREAD COUNT 1 BLOCK d STREAMS key after. The log itself is
// read with Store.Log afterwards (the same script on both engines), so
// the entry read here only says that there is one.
func (w *streamWatch) Wait(ctx context.Context, after string, d time.Duration) (bool, error) {
	if after == "" {
		after = "0-0"
	}
	block := max(d, time.Millisecond) // BLOCK 0 would wait for ever
	res, err := w.cmd.XRead(ctx, &redis.XReadArgs{Streams: []string{w.key, after}, Count: 1, Block: block}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, err
	}
	return len(res) > 0 && len(res[0].Messages) > 0, nil
}

func (w *streamWatch) Close() error {
	if w.conn == nil {
		return nil
	}
	return w.conn.Close()
}
