package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/gateway/board"
	"crowdflow/ledger"
)

// The store operations counted by crowdflow_store_errors_total{op}.
const (
	opScan     = "scan"
	opTally    = "tally"
	opCounters = "counters"
	opRevoked  = "revoked"
	opRevoke   = "revoke"
	opPing     = "ping"
	opDevice   = "device"
)

// unknownGate is the gate label of scans at a gate the config does not
// know: labels stay bounded whatever a device sends.
const unknownGate = "unknown"

// metrics are one Server's collectors, registered on its own registry so
// that several servers (tests) never share or clash. Names and labels are
// CONTRACT §6.
type metrics struct {
	reg         *prometheus.Registry
	scans       *prometheus.CounterVec // gate, direction, code
	duration    prometheus.Histogram
	connected   prometheus.Gauge
	liveClients prometheus.Gauge
	lastScan    *prometheus.GaugeVec // gate
	storeErrors *prometheus.CounterVec
	overrides   *prometheus.CounterVec // gate
	unsynced    *prometheus.GaugeVec   // gate
}

// newMetrics builds the collectors of a gateway. The zone figures are read
// at scrape time: the counters from store (within timeout), minutes to full
// from live (the live board's newest state, nil before the first), and
// whether the event is open from the event clock clk.
func newMetrics(ev *event.Event, store Store, timeout time.Duration, clk clock.Clock,
	live func() *board.State, logger *slog.Logger) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdflow_scans_total",
			Help: "Scans decided by this gateway (replays excluded), by gate, direction and verdict code.",
		}, []string{"gate", "direction", "code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "crowdflow_scan_duration_seconds",
			Help: "Time from reading a scan or tally to queueing its verdict, store call included.",
			// From a fraction of a millisecond (Redis on the LAN) to the
			// store timeout; a person at the gate notices from about 0.3 s.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crowdflow_scanners_connected",
			Help: "Scanner websockets open on this gateway.",
		}),
		liveClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crowdflow_live_clients",
			Help: "Live-stream websockets (/ws/live) open on this gateway.",
		}),
		lastScan: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "crowdflow_gate_last_scan_timestamp_seconds",
			Help: "Wall-clock time of the last scan or tally decided at the gate, in seconds since the epoch.",
		}, []string{"gate"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdflow_store_errors_total",
			Help: "Store calls that failed (the store did not answer), by operation.",
		}, []string{"op"}),
		overrides: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdflow_offline_overrides_total",
			Help: "Scans decided by this gateway with the flag offline_override: a gate admitted offline what the rules refuse.",
		}, []string{"gate"}),
		unsynced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "crowdflow_gate_unsynced_scans",
			Help: "Scans the gate's devices last reported to this gateway as decided offline and not yet uploaded.",
		}, []string{"gate"}),
	}
	for _, op := range []string{opScan, opTally, opCounters, opRevoked, opRevoke, opPing, opLive, opDevice, opReport} {
		m.storeErrors.WithLabelValues(op) // every op exists from the start, at 0
	}
	// Every gate's series exist from the start, at 0, so that increase()
	// sees the first scan and a gate that never scans is seen silent
	// (the GateSilent and OfflineOverrides rules in deployments/prometheus).
	for _, g := range ev.Gates {
		m.scans.WithLabelValues(g.ID, string(checkin.In), string(checkin.Accepted))
		m.overrides.WithLabelValues(g.ID)
		m.unsynced.WithLabelValues(g.ID)
	}
	// The zone collector collects storeErrors too, after its own store read,
	// so that a scrape whose read failed already counts that failure.
	m.reg.MustRegister(m.scans, m.duration, m.connected, m.liveClients, m.lastScan, m.overrides, m.unsynced,
		&zoneCollector{ev: ev, store: store, timeout: timeout, clk: clk, live: live, errors: m.storeErrors, logger: logger},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// gateLabel is the gate as a label value: the gate's id when the event has
// it, else unknownGate.
func gateLabel(ev *event.Event, gate string) string {
	if ev.Gate(gate) == nil {
		return unknownGate
	}
	return gate
}

// zoneCollector reads the zones' figures from the store at scrape time, so
// that every gateway instance reports the same values (CONTRACT §6).
type zoneCollector struct {
	ev      *event.Event
	store   Store
	timeout time.Duration
	clk     clock.Clock
	live    func() *board.State
	errors  *prometheus.CounterVec
	logger  *slog.Logger
}

var (
	zoneOccupancyDesc = prometheus.NewDesc("crowdflow_zone_occupancy",
		"People in the zone now: tickets inside it or a zone within it, plus its tally balance.", []string{"zone"}, nil)
	zoneCapacityDesc = prometheus.NewDesc("crowdflow_zone_capacity",
		"The zone's hard capacity from the event file.", []string{"zone"}, nil)
	zoneEntriesDesc = prometheus.NewDesc("crowdflow_zone_entries_total",
		"Tickets that entered the zone.", []string{"zone"}, nil)
	zoneExitsDesc = prometheus.NewDesc("crowdflow_zone_exits_total",
		"Tickets that left the zone.", []string{"zone"}, nil)
	zoneSweptDesc = prometheus.NewDesc("crowdflow_zone_swept_total",
		"Tickets still inside the zone when their day closed, moved out by the closing (missed exit scans).", []string{"zone"}, nil)
	zoneMinutesToFullDesc = prometheus.NewDesc("crowdflow_zone_minutes_to_full",
		"Minutes until the zone is full at the net inflow of the last 5 minutes, as the live board shows it; absent when the zone is not filling.", []string{"zone"}, nil)
	eventOpenDesc = prometheus.NewDesc("crowdflow_event_open",
		"1 while the event clock is within a day's opening hours, else 0.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *zoneCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- zoneOccupancyDesc
	ch <- zoneCapacityDesc
	ch <- zoneEntriesDesc
	ch <- zoneExitsDesc
	ch <- zoneSweptDesc
	ch <- zoneMinutesToFullDesc
	ch <- eventOpenDesc
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector. It waits for the store at most
// the store timeout. When the store does not answer it reports the
// capacities only (they come from the config) and counts the error: a scrape
// never fails as a whole, a zone figure is never reported as a zero it is
// not, and the missing occupancy series are what the StoreUnavailable alert
// sees.
func (c *zoneCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.clk.Now()
	open := 0.0
	if day, ok := c.ev.DayOf(now); ok && day.IsOpen(now) {
		open = 1
	}
	ch <- prometheus.MustNewConstMetric(eventOpenDesc, prometheus.GaugeValue, open)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counters, err := c.store.Counters(ctx)
	if err != nil {
		c.errors.WithLabelValues(opCounters).Inc()
		c.logger.Warn("read zone counters for metrics", "err", err)
	}
	c.errors.Collect(ch)
	var minutes map[string]float64 // nil: none (a read from a nil map finds nothing)
	if st := c.live(); err == nil && st != nil {
		minutes = st.MinutesToFull()
	}
	for _, z := range c.ev.Zones {
		ch <- prometheus.MustNewConstMetric(zoneCapacityDesc, prometheus.GaugeValue, float64(z.Capacity), z.ID)
		zc := counters[z.ID]
		if zc == nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(zoneOccupancyDesc, prometheus.GaugeValue, float64(zc.Occupancy), z.ID)
		ch <- prometheus.MustNewConstMetric(zoneEntriesDesc, prometheus.CounterValue, float64(zc.Entries), z.ID)
		ch <- prometheus.MustNewConstMetric(zoneExitsDesc, prometheus.CounterValue, float64(zc.Exits), z.ID)
		ch <- prometheus.MustNewConstMetric(zoneSweptDesc, prometheus.CounterValue, float64(zc.Swept), z.ID)
		if m, ok := minutes[z.ID]; ok {
			ch <- prometheus.MustNewConstMetric(zoneMinutesToFullDesc, prometheus.GaugeValue, m, z.ID)
		}
	}
}

// observe records one decided scan or tally.
func (m *metrics) observe(gate string, dir checkin.Direction, code checkin.Code, replayed bool, took time.Duration, wall time.Time) {
	m.duration.Observe(took.Seconds())
	if gate != unknownGate {
		m.lastScan.WithLabelValues(gate).Set(float64(wall.UnixNano()) / 1e9)
	}
	if !replayed && dir != "" {
		m.scans.WithLabelValues(gate, string(dir), string(code)).Inc()
	}
}

// override counts a decided scan that carries the flag offline_override: a
// gate that admitted, while offline, someone the rules refuse.
func (m *metrics) override(gate string, v ledger.Verdict) {
	if !v.Replayed && v.Flags.Has(checkin.OfflineOverride) {
		m.overrides.WithLabelValues(gate).Inc()
	}
}
