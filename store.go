package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"

	"crowdflow/admission"
	"crowdflow/event"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/redisengine"
)

// addRedisFlags adds to fs the flags of every command that can open the
// ledger on Redis (CONTRACT §1), and returns where they land.
func addRedisFlags(fs *flag.FlagSet) *redisengine.Options {
	o := &redisengine.Options{}
	fs.StringVar(&o.URL, "redis", "", "Redis URL: redis://[user:pass@]host:port/db or rediss://...; "+
		"Sentinel: the same with ?master_name=NAME&addr=host:port... (the hosts are sentinels); "+
		"without it, the embedded store in --data")
	fs.BoolVar(&o.Cluster, "redis-cluster", false, "--redis names Redis Cluster seed nodes (the URL's host and each addr=)")
	fs.StringVar(&o.PasswordFile, "redis-password-file", "", "file holding the Redis servers' password (keeps it out of ps and the URL)")
	fs.StringVar(&o.CA, "redis-ca", "", "PEM file of the authority that signed the Redis servers' certificates (rediss://)")
	fs.StringVar(&o.Cert, "redis-cert", "", "PEM client certificate for Redis servers that ask for one (rediss://)")
	fs.StringVar(&o.Key, "redis-key", "", "PEM private key of --redis-cert")
	fs.IntVar(&o.WaitReplicas, "redis-wait-replicas", 0, "acknowledge a scan only once this many replicas have it "+
		"(WAIT; a failover then loses no acknowledged scan); not with --redis-cluster")
	return o
}

// openEngine opens the engine the flags name: Redis when ro.URL is set,
// else the embedded store in dataDir/ledger. Both log to logger. Bad Redis
// options are a usage error; no error holds a Redis password.
func openEngine(ctx context.Context, ro redisengine.Options, dataDir string, logger *slog.Logger) (ledger.Engine, error) {
	if ro.URL != "" {
		e, err := redisengine.Dial(ctx, ro, logger)
		if errors.Is(err, redisengine.ErrOptions) {
			return nil, usageError{err}
		}
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	if ro.Cluster || ro.PasswordFile != "" || ro.CA != "" || ro.Cert != "" || ro.Key != "" || ro.WaitReplicas != 0 {
		return nil, usagef("--redis-cluster, --redis-password-file, --redis-ca, --redis-cert, --redis-key and --redis-wait-replicas need --redis")
	}
	e, err := embedded.Open(embedded.Options{Dir: filepath.Join(dataDir, "ledger"), Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	// Fold the journal into a snapshot now that it has been replayed,
	// so that a gateway restarted on the sixth day does not replay six.
	if err := e.Compact(); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("embedded store: compact: %w", err)
	}
	return e, nil
}

// openLedger opens the event's ledger on the engine the flags name (see
// openEngine): what every command with --redis calls. The returned func
// closes the engine.
func openLedger(ctx context.Context, ev *event.Event, ro redisengine.Options, dataDir string, logger *slog.Logger) (*ledger.Store, func(), error) {
	eng, err := openEngine(ctx, ro, dataDir, logger)
	if err != nil {
		return nil, nil, err
	}
	st, err := ledger.New(admission.LedgerConfig(ev), eng)
	if err != nil {
		_ = eng.Close()
		return nil, nil, err
	}
	return st, func() { _ = eng.Close() }, nil
}

// storeMode checks that eng keeps acknowledged scans across a crash, and
// returns the mode /readyz shows: "embedded", "redis aof everysec", ...
// A Redis without an append-only file is refused unless allowVolatile; one
// that forbids CONFIG (managed Redis) is let through with one warning.
func storeMode(ctx context.Context, eng ledger.Engine, allowVolatile bool, logger *slog.Logger) (string, error) {
	e, ok := eng.(*redisengine.Engine)
	if !ok {
		return "embedded", nil
	}
	d, err := e.Durability(ctx)
	if err != nil {
		return "", fmt.Errorf("redis durability check: %w", err)
	}
	switch {
	case !d.Checked:
		logger.Warn("redis refuses CONFIG GET: cannot check that it keeps an append-only file; make sure it does (appendonly yes)",
			"store", d.String())
	case !d.AOF && !allowVolatile:
		return "", fmt.Errorf("redis keeps no append-only file (appendonly no), so a crash would lose acknowledged scans: " +
			"set appendonly yes with appendfsync always or everysec on every Redis server, or pass --allow-volatile-store for a rehearsal")
	case !d.AOF:
		logger.Warn("redis keeps no append-only file: a crash loses acknowledged scans (--allow-volatile-store)", "store", d.String())
	case d.Fsync == "no":
		logger.Warn("redis appendfsync no: a crash of the machine may lose the last seconds of acknowledged scans", "store", d.String())
	}
	return d.String(), nil
}
