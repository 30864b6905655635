package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"crowdflow/admission"
	"crowdflow/event"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/redisengine"
)

// openLedger opens the event's ledger: on Redis when redisURL is set, else
// the embedded store in dataDir/ledger, which logs to logger. The returned
// func closes the engine.
func openLedger(ctx context.Context, ev *event.Event, redisURL, dataDir string, logger *slog.Logger) (*ledger.Store, func(), error) {
	var eng ledger.Engine
	if redisURL != "" {
		e, err := redisengine.Open(ctx, redisURL)
		if err != nil {
			return nil, nil, err
		}
		eng = e
	} else {
		e, err := embedded.Open(embedded.Options{Dir: filepath.Join(dataDir, "ledger"), Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("embedded store: %w", err)
		}
		// Fold the journal into a snapshot now that it has been replayed,
		// so that a gateway restarted on the sixth day does not replay six.
		if err := e.Compact(); err != nil {
			_ = e.Close()
			return nil, nil, fmt.Errorf("embedded store: compact: %w", err)
		}
		eng = e
	}
	st, err := ledger.New(admission.LedgerConfig(ev), eng)
	if err != nil {
		_ = eng.Close()
		return nil, nil, err
	}
	return st, func() { _ = eng.Close() }, nil
}
