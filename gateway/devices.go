package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"crowdflow/gateway/board"
	"crowdflow/ledger"
)

// The devices' queues, shared between the gateways of an event: each
// gateway writes what its devices report (hello, status, and the last
// figures when a device leaves) to the store, and reads the others' reports
// every LivePoll, so a board on any gateway shows every gate's unsynced
// scans and "at least" (CONTRACT §3; README "How sure is the count").

// newInstanceID names a gateway process among those of its event.
func newInstanceID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "gw-" + hex.EncodeToString(b)
}

// reportQueue records the device's queue at gate on this gateway (the live
// board, /metrics) and shares it with the others.
func (c *conn) reportQueue(gate, device string, queued int, oldest *time.Time, connected bool) {
	c.s.hub.reportQueue(gate, device, queued, oldest)
	c.shareDevice(gate, device, queued, oldest, connected)
}

// shareDevice writes the device's report at gate for the other gateways;
// a failure is logged and counted, and changes nothing for the device (its
// own gateway shows it all the same).
func (c *conn) shareDevice(gate, device string, queued int, oldest *time.Time, connected bool) {
	if gate == "" || device == "" {
		return
	}
	r := ledger.DeviceReport{Gate: gate, Device: device, Queued: queued, Connected: connected,
		At: c.s.clk.Now(), Gateway: c.s.instance}
	if oldest != nil && queued > 0 {
		r.Oldest = *oldest
	}
	ctx, cancel := context.WithTimeout(c.s.storeCtx, c.s.cfg.StoreTimeout)
	defer cancel()
	if err := c.s.store.ReportDevice(ctx, r); err != nil {
		c.s.metrics.storeErrors.WithLabelValues(opDevice).Inc()
		c.s.log.Warn("share the device's queue", "device", device, "gate", gate, "err", err)
	}
}

// readDevices reads every gateway's device reports into the hub.
func (t *tailer) readDevices(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, t.h.s.cfg.StoreTimeout)
	defer cancel()
	rs, err := t.h.s.store.Devices(sctx)
	if err != nil {
		t.storeError(ctx, "live: read the devices' reports", err)
		return
	}
	t.h.mu.Lock()
	t.h.shared = rs
	t.h.mu.Unlock()
}

// sameDay reports whether a and b fall on the same event day (outside the
// event's days, on the same local date).
func (h *liveHub) sameDay(a, b time.Time) bool {
	da, _ := h.s.ev.DayOf(a)
	db, _ := h.s.ev.DayOf(b)
	if da.Date == "" || db.Date == "" {
		return a.In(h.s.ev.Location).Format(time.DateOnly) == b.In(h.s.ev.Location).Format(time.DateOnly)
	}
	return da.Date == db.Date
}

// superseded lists the devices this gateway knows of that left here and
// have reported to another gateway since, at any gate (h.mu held): the
// other gateway's report stands for them, a device having one queue.
func (h *liveHub) superseded() map[string]bool {
	out := map[string]bool{}
	for _, r := range h.shared {
		if r.Gateway == h.s.instance {
			continue
		}
		for g, devs := range h.queues {
			if q, ok := devs[r.Device]; ok && !q.left.IsZero() && r.At.After(q.left) {
				out[g+"|"+r.Device] = true
			}
		}
	}
	return out
}

// newestReports is, per device, when it last reported to any gateway, at
// any gate (h.mu held): only that report of it stands.
func (h *liveHub) newestReports() map[string]time.Time {
	out := map[string]time.Time{}
	for _, r := range h.shared {
		if r.At.After(out[r.Device]) {
			out[r.Device] = r.At
		}
	}
	return out
}

// mergeShared adds to online and reported what the other gateways' devices
// reported (h.mu held): a device connected there within GateSeenOnline
// makes its gate online; its queue counts, also once it left; a device
// that left today makes its gate known (offline, when no device is on it).
// A device this gateway knows of counts once: from here, unless it is in
// gone (it left here and reported to another gateway since); and a device
// counts only by its newest report, whichever gate it was on before.
func (h *liveHub) mergeShared(now time.Time, gone map[string]bool, online map[string]bool, reported map[string]board.Reported) {
	newest := h.newestReports()
	for _, r := range h.shared {
		if r.Gateway == h.s.instance || h.s.ev.Gate(r.Gate) == nil || newest[r.Device].After(r.At) {
			continue
		}
		if _, here := h.queues[r.Gate][r.Device]; here && !gone[r.Gate+"|"+r.Device] {
			continue
		}
		rep, known := reported[r.Gate]
		if r.Queued > 0 {
			rep.Unsynced += r.Queued
			if rep.Oldest.IsZero() || r.Oldest.Before(rep.Oldest) {
				rep.Oldest = r.Oldest
			}
			known = true
		}
		if r.Connected && now.Sub(r.At) < board.GateSeenOnline {
			online[r.Gate] = true
		} else if h.sameDay(r.At, now) {
			known = true
			if r.At.After(rep.Left) {
				rep.Left = r.At
			}
		}
		if known {
			reported[r.Gate] = rep
		}
	}
}
