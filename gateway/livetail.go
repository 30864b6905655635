package gateway

import (
	"context"
	"strconv"
	"time"

	"crowdflow/clock"
	"crowdflow/gateway/board"
	"crowdflow/ledger"
)

// logPage is how many log entries one Store.Log call reads.
const logPage = 1000

// logWatcher is a Store that can say when its log grows (*ledger.Store on
// an engine that implements ledger.Watcher). A Store without it is polled
// every LivePoll.
type logWatcher interface {
	WatchLog() (ledger.StreamWatch, bool, error)
}

// tailer is the state of the tailer goroutine; nothing else touches it.
type tailer struct {
	h      *liveHub
	b      *board.Board
	pace   board.Pacer
	paceAt clock.Clock // the pacer's clock: LiveClock or the system's
	cursor string      // the last log id read, "" before the first
	watch  ledger.StreamWatch
	// trendAt is the minute (event clock) of the trend the board holds;
	// zero: none yet, or the store went back.
	trendAt time.Time
}

// lookback is how far back in the log (by the store's clock, which makes
// the log ids) the tailer reads when it starts: what the flows and the
// silent gates need, not the whole log.
func (h *liveHub) lookback() time.Duration {
	return max(board.FillWindow, h.s.cfg.SilentAfter) + board.FlowWindow
}

// tail follows the store, pushed rather than polling: it waits on the log
// (ledger.StreamWatch: a blocking XREAD on Redis, the engine's signal in
// the embedded store) and reads what was appended the moment it is, from
// whichever gateway. A change goes out at once when the board has been
// quiet for LiveTick, else with the others at the window's end (the
// pacer); the counters are re-read from Store.Snapshot for each update,
// so the figures are the store's. Every LiveTick it also looks whether time
// alone changed the board (flows, silent gates), and every LivePoll it
// checks the store unprompted: the fallback for a store that cannot watch,
// and how a wiped or replaced store (a seq that went back) is noticed.
func (h *liveHub) tail(ctx context.Context) {
	cfg := h.s.cfg
	t := &tailer{h: h, b: board.New(h.s.ev, cfg.SilentAfter), pace: board.Pacer{Window: cfg.LiveTick},
		paceAt: cfg.LiveClock}
	if t.paceAt == nil {
		t.paceAt = clock.Real{}
	}
	defer func() {
		if t.watch != nil {
			_ = t.watch.Close()
		}
	}()
	for !t.begin(ctx) {
		if !waitFor(ctx, cfg.LivePoll) {
			return
		}
	}
	pollAt, refreshAt := time.Now().Add(cfg.LivePoll), time.Now().Add(cfg.LiveTick)
	for ctx.Err() == nil {
		wait := max(min(time.Until(pollAt), time.Until(refreshAt)), time.Millisecond)
		var grew bool
		if end, pending := t.pace.Pending(); pending {
			// Whatever comes before the window's end goes out with it: no
			// need to be told, only to read the log then.
			waitFor(ctx, max(min(wait, end.Sub(t.paceAt.Now())), time.Millisecond))
			grew = true
		} else {
			grew = t.wait(ctx, wait)
		}
		if ctx.Err() != nil {
			return
		}
		poll := !time.Now().Before(pollAt)
		changed := false
		if grew || poll {
			n, back, err := t.readLog(ctx)
			if err != nil {
				t.storeError(ctx, "live: read log", err)
			}
			changed = n > 0
			if back {
				t.wentBack(ctx, "a log entry's seq went back")
				continue
			}
		}
		if poll {
			pollAt = time.Now().Add(cfg.LivePoll)
			t.readDevices(ctx) // the other gateways' devices: a change shows in the next update
			if _, seq, err := h.snapshot(ctx); err != nil {
				t.storeError(ctx, "live: read snapshot", err)
			} else if seq < t.b.Seq() {
				t.wentBack(ctx, "the store's seq went back")
				continue
			} else if seq > t.b.Seq() {
				changed = true // entries the log did not show (yet)
			}
		}
		if t.b.LogSeq() > t.b.Seq() {
			// The log is ahead of the counters (read after them): a change
			// that the next update must carry.
			changed = true
		}
		now := t.paceAt.Now()
		switch {
		case changed && t.pace.Change(now), t.pace.Due(now):
			t.publish(ctx, true)
			refreshAt = time.Now().Add(cfg.LiveTick)
		case !time.Now().Before(refreshAt):
			if _, pending := t.pace.Pending(); !pending {
				t.publish(ctx, false) // time alone: flows decay, gates fall silent
			}
			refreshAt = time.Now().Add(cfg.LiveTick)
		}
	}
}

// waitFor waits d or until ctx ends, and reports whether ctx is still on.
func waitFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// rebuild reads the board afresh from the store: the snapshot, then the log
// since lookback (so the flows hold every scan the counters do), the trend
// and the other gateways' devices, and builds the state. ok is false when
// the snapshot could not be read (nothing changed then); logErr is the
// error reading the log, which leaves the state without its flows.
func (t *tailer) rebuild(ctx context.Context) (st *board.State, storeSeq int64, logErr error, ok bool) {
	h := t.h
	cs, seq, err := h.snapshot(ctx)
	if err != nil {
		t.storeError(ctx, "live: read snapshot", err)
		return nil, 0, nil, false
	}
	t.b.SetCounters(cs, seq)
	t.cursor = ""
	from := strconv.FormatInt(time.Now().Add(-h.lookback()).UnixMilli(), 10)
	if _, _, logErr = t.readLogFrom(ctx, from); logErr != nil {
		t.storeError(ctx, "live: read log", logErr)
	}
	now := h.s.clk.Now()
	t.trendAt = time.Time{}
	t.readTrend(ctx, now)
	t.readDevices(ctx)
	online, reported := h.gates(now)
	st, _, _ = t.b.Build(now, online, reported)
	return st, seq, logErr, true
}

// begin builds the first state and publishes it. It reports whether it
// could; the tail tries again until it can.
func (t *tailer) begin(ctx context.Context) bool {
	st, _, logErr, ok := t.rebuild(ctx)
	if !ok || logErr != nil || !t.send(ctx, livePublish{state: st, prev: st.Seq}) {
		return false
	}
	select {
	case <-t.h.ready:
	default:
		close(t.h.ready)
	}
	return true
}

// wentBack starts again from a store that went back (wiped, replaced, or
// restored from an older copy): the board forgets what it learnt, and every
// client gets a fresh snapshot, even one without flows when the log could
// not be read (once the counters are the store's again, nothing would tell
// the tail to try again).
func (t *tailer) wentBack(ctx context.Context, why string) {
	old := t.b.Seq()
	t.b.Forget()
	st, seq, _, ok := t.rebuild(ctx)
	if !ok {
		return // the next poll sees it again
	}
	t.h.s.log.Warn("live: the store went back: a fresh snapshot for every client", "why", why, "seq", old, "store_seq", seq)
	t.b.Rebase(st.Seq)
	t.send(ctx, livePublish{state: st, prev: st.Seq, reset: true})
}

// wait waits at most d for the log to grow past the cursor, and reports
// whether it may have (always, on a store that cannot watch, once d is up).
func (t *tailer) wait(ctx context.Context, d time.Duration) bool {
	if t.watch == nil {
		if lw, ok := t.h.s.store.(logWatcher); ok {
			w, ok, err := lw.WatchLog()
			if err != nil {
				t.storeError(ctx, "live: watch log", err)
			}
			if ok {
				t.watch = w
			}
		}
	}
	if t.watch == nil {
		waitFor(ctx, d) // the next poll reads the log
		return false
	}
	grew, err := t.watch.Wait(ctx, t.cursor, d)
	if err != nil {
		t.storeError(ctx, "live: watch log", err)
		_ = t.watch.Close()
		t.watch = nil // a new watch (a new connection) next time
		waitFor(ctx, d)
		return false
	}
	return grew
}

// publish builds the state now and hands it to the hub; fresh re-reads the
// counters first (a change), else only time moved.
func (t *tailer) publish(ctx context.Context, fresh bool) {
	h := t.h
	if fresh {
		cs, seq, err := h.snapshot(ctx)
		if err != nil {
			t.storeError(ctx, "live: read snapshot", err)
			return
		}
		if seq < t.b.Seq() {
			t.wentBack(ctx, "the store's seq went back")
			return
		}
		t.b.SetCounters(cs, seq)
		// The log up to the snapshot at least, so that the flows include
		// every scan the counters do.
		if t.b.LogSeq() < seq {
			if _, back, err := t.readLog(ctx); err != nil {
				t.storeError(ctx, "live: read log", err)
			} else if back {
				t.wentBack(ctx, "a log entry's seq went back")
				return
			}
		}
	}
	now := h.s.clk.Now()
	if !now.Truncate(time.Minute).Equal(t.trendAt) {
		t.readTrend(ctx, now)
	}
	online, reported := h.gates(now)
	st, prev, up := t.b.Build(now, online, reported)
	p := livePublish{state: st, prev: prev}
	if up != nil {
		p.msg, p.size = prepare(h.s, *up)
	}
	t.send(ctx, p)
}

// send keeps p's state for /metrics and /api/v1/occupancy, first, so that
// they never wait for a fan-out (the hub's thread runs at a lower
// priority), then hands p to the hub.
func (t *tailer) send(ctx context.Context, p livePublish) bool {
	t.h.latest.Store(p.state)
	select {
	case t.h.publish <- p:
		return true
	case <-ctx.Done():
		return false
	}
}

// readTrend gives the board the store's trend of the hour before now, which
// a new minute extends: once a minute, whichever instance applied the
// changes. On an error the board keeps the trend it has (a screen adds
// what it receives) and the next update tries again.
func (t *tailer) readTrend(ctx context.Context, now time.Time) {
	sctx, cancel := context.WithTimeout(ctx, t.h.s.cfg.StoreTimeout)
	defer cancel()
	tr, err := t.h.s.store.Trend(sctx, now)
	if err != nil {
		t.storeError(ctx, "live: read trend", err)
		return
	}
	t.b.SetTrend(tr)
	t.trendAt = now.Truncate(time.Minute)
}

// snapshot reads the store's counters and seq, within StoreTimeout.
func (h *liveHub) snapshot(ctx context.Context) (map[string]*ledger.Counters, int64, error) {
	sctx, cancel := context.WithTimeout(ctx, h.s.cfg.StoreTimeout)
	defer cancel()
	return h.s.store.Snapshot(sctx)
}

// storeError counts and logs a failed store call of the live stream, unless
// the stream is stopping.
func (t *tailer) storeError(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	t.h.s.metrics.storeErrors.WithLabelValues(opLive).Inc()
	t.h.s.log.Warn(msg, "err", err)
}

// readLog reads the log entries after the cursor into the board: how many
// numbered ones (scans, tallies, sweeps, closings), and whether one's seq
// went back (the store was wiped or replaced).
func (t *tailer) readLog(ctx context.Context) (int, bool, error) {
	from := "-"
	if t.cursor != "" {
		from = "(" + t.cursor
	}
	return t.readLogFrom(ctx, from)
}

func (t *tailer) readLogFrom(ctx context.Context, from string) (n int, back bool, err error) {
	for {
		sctx, cancel := context.WithTimeout(ctx, t.h.s.cfg.StoreTimeout)
		es, err := t.h.s.store.Log(sctx, from, logPage)
		cancel()
		if err != nil {
			return n, back, err
		}
		for _, e := range es {
			t.cursor = e.ID
			if e.Seq == 0 {
				continue // a revocation or an id conflict: nothing on the board
			}
			if e.Seq <= t.b.LogSeq() {
				back = true // every numbered entry's seq is the one before's plus one
			}
			t.b.Note(e)
			n++
		}
		if len(es) < logPage {
			return n, back, nil
		}
		from = "(" + t.cursor
	}
}
