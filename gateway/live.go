package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/gateway/board"
	"crowdflow/ledger"
)

// liveReadLimit bounds a frame from a live client: it is only expected to
// answer pings and to close.
const liveReadLimit = 512

// fanOutChunk is how many live clients the hub writes an update to (or
// hands it to) before it gives way to the scanners (giveWay) and yields
// (fanOutYield): a scan that arrives during a fan-out waits for at most a
// chunk of writes.
const fanOutChunk = 32

// fanOutYield is how the hub yields between chunks: it sleeps, however
// briefly, rather than calling runtime.Gosched. A goroutine that Gosched
// puts back on the run queue is found there again before the scheduler
// looks at the network, so while the other processor is busy too a scan
// that has arrived waits to be noticed until the runtime's monitor polls
// (up to 10 ms); a sleeping hub lets the scheduler poll at once.
const fanOutYield = time.Microsecond

// fanOutPause bounds how long one broadcast gives way to scanners in all,
// so that a steady stream of scans delays the board by at most that much
// per update; fanOutPoll is how often it looks again meanwhile.
const (
	fanOutPause = 20 * time.Millisecond
	fanOutPoll  = 100 * time.Microsecond
)

// liveDirectMax is the largest update the hub writes itself: an empty
// socket buffer holds it whole (Linux's default starts at 16 KiB), so the
// write never waits for the client's acknowledgements. Larger ones (and
// the snapshots sent after the store went back) go through the clients'
// writer goroutines.
const liveDirectMax = 4096

// giveWay waits, at most budget, while a scanner's frame is being handled:
// each write to a live client costs a system call here and the client's
// read (on loopback, in the same system call), CPU that a verdict — and
// the Redis call behind it — would otherwise wait for. It returns how long
// it waited.
func (h *liveHub) giveWay(budget time.Duration) time.Duration {
	if budget <= 0 || h.s.scanning.Load() == 0 {
		return 0
	}
	start := time.Now()
	for h.s.scanning.Load() > 0 && time.Since(start) < budget {
		time.Sleep(fanOutPoll)
	}
	return time.Since(start)
}

// opLive is the store operation of the live stream in
// crowdflow_store_errors_total.
const opLive = "live"

// livePublish is what the tailer hands the hub: the new state and, when
// something visible changed, the update encoded once; or, after the store
// went back, the state to send every client as a new snapshot.
type livePublish struct {
	state *board.State
	prev  int64 // the seq of the previous broadcast (or of the first state)
	msg   *websocket.PreparedMessage
	size  int  // msg's length, encoded
	reset bool // the store went back: a snapshot for everyone, the ring emptied
}

// ringEntry is one broadcast update kept for clients that resume.
type ringEntry struct {
	seq, prev int64
	msg       *websocket.PreparedMessage
}

// liveHub is the live stream of one gateway: a tailer goroutine that follows
// the store (livetail.go) and builds the states, and a hub goroutine that
// alone owns the set of live clients and the ring of recent updates (as
// gorilla's chat hub). Neither waits for a client: a client whose send
// buffer is full is dropped.
type liveHub struct {
	s *Server

	join    chan liveJoin
	leave   chan *liveClient
	publish chan livePublish
	ready   chan struct{}               // closed once the first state is built
	done    chan struct{}               // closed when the hub goroutine has ended
	latest  atomic.Pointer[board.State] // the newest state, for GET /api/v1/occupancy
	started atomic.Bool

	// mu guards online (scanners of this instance per gate, kept by the
	// /ws/scan readers), queues and left (below), stopped (set once at shutdown; no client joins
	// after it) and conns' Add.
	mu     sync.Mutex
	online map[string]int
	// queues: per gate, per device, the unsynced scans last reported (only
	// devices with some); they stay when the device disconnects. left: when
	// the last scanner of this instance left each gate it was on.
	queues map[string]map[string]deviceQueue
	left   map[string]time.Time
	// shared: every gateway's device reports, as the tailer last read
	// them from the store (devices.go).
	shared  []ledger.DeviceReport
	stopped bool
	conns   sync.WaitGroup // live connection handlers
}

// liveJoin asks the hub to add a client; the hub answers on reply (buffered)
// with what the client gets first: a snapshot, or the updates it missed
// (none when it is up to date).
type liveJoin struct {
	c      *liveClient
	since  int64
	resume bool
	reply  chan []*websocket.PreparedMessage
}

func newLiveHub(s *Server) *liveHub {
	return &liveHub{s: s, join: make(chan liveJoin), leave: make(chan *liveClient),
		publish: make(chan livePublish), ready: make(chan struct{}), done: make(chan struct{}),
		online: map[string]int{}, queues: map[string]map[string]deviceQueue{}, left: map[string]time.Time{}}
}

// deviceQueue is one device's last reported queue (CONTRACT §3), and when
// it left this gateway (zero while it is on it).
type deviceQueue struct {
	queued int
	oldest time.Time
	left   time.Time
}

// gateMoved records that a scanner of this instance left gate from (none
// when "") and is now on gate to (none when ""). Called by /ws/scan readers.
func (h *liveHub) gateMoved(from, to string) {
	if from == to {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if from != "" {
		if h.online[from]--; h.online[from] <= 0 {
			delete(h.online, from)
			h.left[from] = h.s.clk.Now()
		}
	}
	if to != "" {
		h.online[to]++
	}
}

// reportQueue records device's queue at gate (none when gate is ""): its
// unsynced scans and the oldest one's time (nil when none).
func (h *liveHub) reportQueue(gate, device string, queued int, oldest *time.Time) {
	if gate == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// A device is on one gate at a time and has one queue: what it left
	// queued at another gate is in this report.
	for g, devs := range h.queues {
		if _, ok := devs[device]; ok && g != gate {
			delete(devs, device)
			h.setUnsynced(g, devs)
		}
	}
	devs := h.queues[gate]
	if queued == 0 || oldest == nil {
		delete(devs, device)
	} else {
		if devs == nil {
			devs = map[string]deviceQueue{}
			h.queues[gate] = devs
		}
		devs[device] = deviceQueue{queued: queued, oldest: *oldest}
	}
	h.setUnsynced(gate, devs)
}

// setUnsynced sets gate's unsynced metric from its devices' queues, and
// forgets a gate without any (h.mu held).
func (h *liveHub) setUnsynced(gate string, devs map[string]deviceQueue) {
	sum := 0
	for _, d := range devs {
		sum += d.queued
	}
	if len(devs) == 0 {
		delete(h.queues, gate)
	}
	h.s.metrics.unsynced.WithLabelValues(gate).Set(float64(sum))
}

// gates is what the board needs of the scanners at now: the gates one is
// on, and what the devices reported, by gate; this gateway's own, and the
// others' from the store.
func (h *liveHub) gates(now time.Time) (map[string]bool, map[string]board.Reported) {
	h.mu.Lock()
	defer h.mu.Unlock()
	online := make(map[string]bool, len(h.online))
	for g := range h.online {
		online[g] = true
	}
	reported := map[string]board.Reported{}
	for g, at := range h.left {
		if h.sameDay(at, now) { // a gate left on an earlier day is not known offline today
			reported[g] = board.Reported{Left: at}
		}
	}
	gone := h.superseded()
	for g, devs := range h.queues {
		r := reported[g]
		for dev, d := range devs {
			if gone[g+"|"+dev] {
				continue
			}
			r.Unsynced += d.queued
			if r.Oldest.IsZero() || d.oldest.Before(r.Oldest) {
				r.Oldest = d.oldest
			}
		}
		reported[g] = r
	}
	h.mergeShared(now, gone, online, reported)
	return online, reported
}

// deviceLeft notes when device left gate, for its queue this gateway keeps
// showing (see superseded).
func (h *liveHub) deviceLeft(gate, device string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if q, ok := h.queues[gate][device]; ok {
		q.left = h.s.clk.Now()
		h.queues[gate][device] = q
	}
}

// figures is the newest live state, nil before the first: /metrics reads
// the live board's minutes_to_full from it.
func (h *liveHub) figures() *board.State { return h.latest.Load() }

// start runs the tailer and the hub until ctx ends; h.done is closed when
// the hub has closed every client's send channel and ended. Call once.
func (h *liveHub) start(ctx context.Context) {
	h.started.Store(true)
	go h.tail(ctx)
	go h.run(ctx)
}

// addConn counts a live connection handler in, unless the hub is stopping.
func (h *liveHub) addConn() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	h.conns.Add(1)
	return true
}

// stop refuses new live connections; the caller then ends the hub's context
// and waits for h.done and h.conns.
func (h *liveHub) stop() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
}

// run is the hub goroutine: the only one that touches clients and ring.
func (h *liveHub) run(ctx context.Context) {
	defer close(h.done)
	if !fanOutThread() {
		h.s.log.Debug("live: the fan-out runs at the gateway's priority")
	}
	clients := map[*liveClient]struct{}{}
	var ring []ringEntry
	var cur *board.State
	var lastSeq int64 // the seq of the last broadcast, or of the first state
	var snap *websocket.PreparedMessage
	remove := func(c *liveClient, code int, why string) {
		if _, ok := clients[c]; !ok {
			return
		}
		delete(clients, c)
		c.closeCode = code
		close(c.send)
		h.s.metrics.liveClients.Dec()
		if why != "" {
			h.s.log.Warn(why, "subject", c.subject, "remote", c.remote)
		}
	}
	// broadcast sends m to every client; direct lets the hub write it
	// itself to the idle ones (liveClient.writeDirect).
	broadcast := func(m *websocket.PreparedMessage, direct bool) {
		n := 0
		var paused time.Duration
		for c := range clients {
			if n++; n%fanOutChunk == 0 {
				paused += h.giveWay(fanOutPause - paused)
				time.Sleep(fanOutYield)
			}
			if ok, err := c.writeDirect(m, direct); ok {
				if err != nil {
					why := "" // gone: its reader says so too
					if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
						why = "live client too slow: dropped"
					}
					remove(c, 0, why)
					c.cut()
				}
				continue
			}
			c.queued.Add(1) // before the send: the writer takes it off after the write
			select {
			case c.send <- m:
			default:
				// Never wait for a slow client: drop it.
				remove(c, 0, "live client too slow: dropped")
				c.cut()
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			for c := range clients {
				remove(c, websocket.CloseGoingAway, "")
			}
			return
		case p := <-h.publish:
			if cur == nil {
				lastSeq = p.state.Seq
			}
			cur, snap = p.state, nil
			switch {
			case p.reset:
				ring, lastSeq = ring[:0], p.state.Seq
				snap, _ = prepare(h.s, cur.Snapshot())
				broadcast(snap, false) // large: through the writers
				continue
			case p.msg == nil:
				continue
			}
			ring = append(ring, ringEntry{seq: p.state.Seq, prev: p.prev, msg: p.msg})
			if n := len(ring) - h.s.cfg.LiveRing; n > 0 {
				ring = slices.Delete(ring, 0, n)
			}
			lastSeq = p.state.Seq
			broadcast(p.msg, p.size <= liveDirectMax)
		case j := <-h.join:
			var backlog []*websocket.PreparedMessage
			if j.resume && cur != nil && j.since <= cur.Seq {
				backlog = missed(ring, lastSeq, j.since)
			}
			if backlog == nil {
				if snap == nil {
					snap, _ = prepare(h.s, cur.Snapshot())
				}
				backlog = []*websocket.PreparedMessage{snap}
			}
			j.c.queued.Store(int64(len(backlog))) // the writer's first: no update before them
			clients[j.c] = struct{}{}
			h.s.metrics.liveClients.Inc()
			j.reply <- backlog
		case c := <-h.leave:
			remove(c, 0, "")
		}
	}
}

// missed returns the updates after since when the ring still holds them all
// (an empty, non-nil slice when there are none), or nil when some are gone.
// Updates are chained: each one's prev is the seq of the one before, so the
// ring holds every update after since when since is at least the first
// one's prev. An update whose seq equals its prev refreshes time-derived
// figures only (flows, silent gates); one at since is sent again, as the
// client may have missed it, and applying it twice changes nothing.
func missed(ring []ringEntry, lastSeq, since int64) []*websocket.PreparedMessage {
	floor := lastSeq
	if len(ring) > 0 {
		floor = ring[0].prev
	}
	if since < floor {
		return nil
	}
	out := []*websocket.PreparedMessage{}
	for _, e := range ring {
		if e.seq > since || (e.seq == since && e.prev == since) {
			out = append(out, e.msg)
		}
	}
	return out
}

// prepare encodes a live message once for every client, and returns its
// length.
func prepare(s *Server, m board.Message) (*websocket.PreparedMessage, int) {
	b, err := json.Marshal(m)
	if err != nil {
		s.log.Error("encode live message", "err", err)
		b = []byte(`{"type":"error","code":"internal"}`)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		s.log.Error("prepare live message", "err", err)
	}
	return pm, len(b)
}
