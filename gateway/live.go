package gateway

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/checkin"
	"crowdflow/ledger"
	"crowdflow/token"
)

// The live stream's fixed figures (CONTRACT §4, DESIGN "Capacity and
// safety"). The tunable ones are in Config (LivePoll, LiveTick, LiveRing,
// LiveSendBuffer, SilentAfter).
const (
	// flowWindow is the window of in_per_min, out_per_min and scans_per_min.
	flowWindow = time.Minute
	// fillWindow is the window of the net inflow behind minutes_to_full.
	fillWindow = 5 * time.Minute
	// forecastAlert: a zone forecast to be full within this many minutes
	// raises a forecast alert (the Prometheus rule uses the same horizon).
	forecastAlert = 10.0
	// gateSeenOnline: a gate that no scanner of this instance is on counts as
	// online when the log shows a scan there within this long (a scanner on
	// another instance).
	gateSeenOnline = 2 * time.Minute
	// logPage is how many log entries one Store.Log call reads.
	logPage = 1000
	// liveReadLimit bounds a frame from a live client: it is only expected
	// to answer pings and to close.
	liveReadLimit = 512
	// Alert kinds.
	alertLevel    = "zone_level"
	alertForecast = "zone_forecast"
	alertSilent   = "gate_silent"
	// opLive is the store operation of the live stream in
	// crowdflow_store_errors_total.
	opLive = "live"
)

// Live message types.
const (
	liveSnapshot = "snapshot"
	liveUpdate   = "update"
)

// liveZone is one zone in a live message (CONTRACT §4, plus tally and
// by_type for the evacuation view).
type liveZone struct {
	ID            string         `json:"id"`
	Name          text           `json:"name"`
	Parent        string         `json:"parent"`
	Occupancy     int            `json:"occupancy"`
	Capacity      int            `json:"capacity"`
	Level         checkin.Level  `json:"level"`
	Entries       int            `json:"entries"`
	Exits         int            `json:"exits"`
	InPerMin      float64        `json:"in_per_min"`
	OutPerMin     float64        `json:"out_per_min"`
	MinutesToFull *float64       `json:"minutes_to_full"` // null when the zone is not filling
	Tally         int            `json:"tally"`
	TallyIn       int            `json:"tally_in"`
	TallyOut      int            `json:"tally_out"`
	ByType        map[string]int `json:"by_type"` // occupants with a ticket, by ticket type
}

// liveGate is one gate in a live message.
type liveGate struct {
	ID          string     `json:"id"`
	Zone        string     `json:"zone"`
	Online      bool       `json:"online"`
	LastSeen    *time.Time `json:"last_seen"` // null: no scan yet
	ScansPerMin int        `json:"scans_per_min"`
	Silent      bool       `json:"silent"`
}

// liveAlert is one active alert. Its id is stable while it lasts, so a
// screen can tell a new alert from one it shows already.
type liveAlert struct {
	ID    string    `json:"id"`
	Kind  string    `json:"kind"` // zone_level, zone_forecast, gate_silent
	Zone  string    `json:"zone,omitempty"`
	Gate  string    `json:"gate,omitempty"`
	Level string    `json:"level"` // warn, critical or full
	Since time.Time `json:"since"` // event clock
}

// liveMessage is a snapshot or an update. In a snapshot every field is
// there; an update carries the zones that changed, and gates and alerts only
// when they changed (the whole list then).
type liveMessage struct {
	Type   string     `json:"type"`
	Seq    int64      `json:"seq"`
	At     time.Time  `json:"at"`
	Zones  []liveZone `json:"zones"`
	Gates  any        `json:"gates,omitempty"`
	Alerts any        `json:"alerts,omitempty"`
}

// liveState is the whole picture at one store seq; read-only once built.
type liveState struct {
	seq    int64
	at     time.Time
	zones  []liveZone
	gates  []liveGate
	alerts []liveAlert
}

func (st *liveState) snapshot() liveMessage {
	return liveMessage{Type: liveSnapshot, Seq: st.seq, At: st.at, Zones: st.zones, Gates: st.gates, Alerts: st.alerts}
}

// livePublish is what the tailer hands the hub every LiveTick: the new
// state and, when something visible changed, the update encoded once.
type livePublish struct {
	state *liveState
	prev  int64 // the seq of the previous broadcast (or of the first state)
	msg   *websocket.PreparedMessage
}

// ringEntry is one broadcast update kept for clients that resume.
type ringEntry struct {
	seq, prev int64
	msg       *websocket.PreparedMessage
}

// liveHub is the live stream of one gateway: a tailer goroutine that follows
// the store (log and snapshot) and builds the states, and a hub goroutine
// that alone owns the set of live clients and the ring of recent updates
// (as gorilla's chat hub). Neither waits for a client: a client whose send
// buffer is full is dropped.
type liveHub struct {
	s *Server

	join    chan liveJoin
	leave   chan *liveClient
	publish chan livePublish
	ready   chan struct{}             // closed once the first state is built
	done    chan struct{}             // closed when the hub goroutine has ended
	latest  atomic.Pointer[liveState] // the newest state, for GET /api/v1/occupancy
	started atomic.Bool

	// mu guards online (scanners of this instance per gate, kept by the
	// /ws/scan readers), stopped (set once at shutdown; no client joins
	// after it) and conns' Add.
	mu      sync.Mutex
	online  map[string]int
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
		online: map[string]int{}}
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
		}
	}
	if to != "" {
		h.online[to]++
	}
}

func (h *liveHub) onlineGates() map[string]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]bool, len(h.online))
	for g := range h.online {
		out[g] = true
	}
	return out
}

// figures is the newest live state, nil before the first: /metrics reads
// the live board's minutes_to_full from it.
func (h *liveHub) figures() *liveState { return h.latest.Load() }

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
	clients := map[*liveClient]struct{}{}
	var ring []ringEntry
	var cur *liveState
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
	for {
		select {
		case <-ctx.Done():
			for c := range clients {
				remove(c, websocket.CloseGoingAway, "")
			}
			return
		case p := <-h.publish:
			if cur == nil {
				lastSeq = p.state.seq
			}
			cur, snap = p.state, nil
			if p.msg == nil {
				continue
			}
			ring = append(ring, ringEntry{seq: p.state.seq, prev: p.prev, msg: p.msg})
			if n := len(ring) - h.s.cfg.LiveRing; n > 0 {
				ring = slices.Delete(ring, 0, n)
			}
			lastSeq = p.state.seq
			for c := range clients {
				select {
				case c.send <- p.msg:
				default:
					// Never wait for a slow client: drop it.
					remove(c, 0, "live client too slow: dropped")
					c.cut()
				}
			}
		case j := <-h.join:
			var backlog []*websocket.PreparedMessage
			if j.resume && cur != nil && j.since <= cur.seq {
				backlog = missed(ring, lastSeq, j.since)
			}
			if backlog == nil {
				if snap == nil {
					snap = prepare(h.s, cur.snapshot())
				}
				backlog = []*websocket.PreparedMessage{snap}
			}
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

// prepare encodes a live message once for every client.
func prepare(s *Server, m liveMessage) *websocket.PreparedMessage {
	b, err := json.Marshal(m)
	if err != nil {
		s.log.Error("encode live message", "err", err)
		b = []byte(`{"type":"error","code":"internal"}`)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		s.log.Error("prepare live message", "err", err)
	}
	return pm
}

// flow is people moving into (in) or out of a zone at a time, from the log.
type flow struct {
	at      time.Time
	zone    string
	in, out int
}

// gateHit is one scan or tally at a gate.
type gateHit struct {
	at   time.Time
	gate string
}

// tailer is the state of the tailer goroutine; nothing else touches it.
type tailer struct {
	h                     *liveHub
	cursor                string // the last log id read, "" before the first
	logSeq                int64  // the highest seq read in the log
	flows                 []flow
	hits                  []gateHit
	lastSeen              map[string]time.Time
	counters              map[string]*ledger.Counters
	seq                   int64
	lastSent              int64
	prev                  *liveState
	prevJSON              map[string]string // zone id -> its JSON in prev
	gatesJSON, alertsJSON string
	since                 map[string]liveAlert // active alerts by id, with since
}

// tail follows the store: every LivePoll it reads the new log entries (those
// of every gateway on the store); every LiveTick, when something changed, it
// re-reads the snapshot, and it rebuilds the figures (flows decay with time)
// and publishes what changed. Figures always come from the store's snapshot;
// the log only gives the flows and the gates' activity.
func (h *liveHub) tail(ctx context.Context) {
	t := &tailer{h: h, lastSeen: map[string]time.Time{}, prevJSON: map[string]string{}, since: map[string]liveAlert{}}
	poll := time.NewTicker(h.s.cfg.LivePoll)
	defer poll.Stop()
	tick := time.NewTicker(h.s.cfg.LiveTick)
	defer tick.Stop()
	step := func(build bool) {
		if err := t.readLog(ctx); err != nil {
			t.storeError(ctx, "live: read log", err)
			return
		}
		if !build {
			return
		}
		if t.counters == nil || t.logSeq > t.seq {
			sctx, cancel := context.WithTimeout(ctx, h.s.cfg.StoreTimeout)
			cs, seq, err := h.s.store.Snapshot(sctx)
			cancel()
			if err != nil {
				t.storeError(ctx, "live: read snapshot", err)
				return
			}
			t.counters, t.seq = cs, seq
			// The log up to the snapshot at least, so that the flows
			// include every scan the counters do.
			if err := t.readLog(ctx); err != nil {
				t.storeError(ctx, "live: read log", err)
				return
			}
		}
		p := t.build(h.s.clk.Now())
		select {
		case h.publish <- p:
		case <-ctx.Done():
			return
		}
		h.latest.Store(p.state)
		select {
		case <-h.ready:
		default:
			close(h.ready)
		}
	}
	step(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			step(false)
		case <-tick.C:
			step(true)
		}
	}
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

// readLog reads the log entries after the cursor.
func (t *tailer) readLog(ctx context.Context) error {
	for {
		from := "-"
		if t.cursor != "" {
			from = "(" + t.cursor
		}
		sctx, cancel := context.WithTimeout(ctx, t.h.s.cfg.StoreTimeout)
		es, err := t.h.s.store.Log(sctx, from, logPage)
		cancel()
		if err != nil {
			return err
		}
		for _, e := range es {
			t.cursor = e.ID
			t.note(e)
		}
		if len(es) < logPage {
			return nil
		}
	}
}

// note takes one log entry into the flows and the gates' activity.
func (t *tailer) note(e ledger.Entry) {
	ev := t.h.s.ev
	if e.Kind != "scan" && e.Kind != "tally" {
		return
	}
	t.logSeq = max(t.logSeq, e.Seq)
	if ev.Gate(e.Gate) != nil && !e.At.IsZero() {
		t.hits = append(t.hits, gateHit{at: e.At, gate: e.Gate})
		if e.At.After(t.lastSeen[e.Gate]) {
			t.lastSeen[e.Gate] = e.At.In(ev.Location) // as the event clock shows it
		}
	}
	for _, x := range ledger.Crossings(e, t.parentOf) {
		t.flows = append(t.flows, flow{at: e.At, zone: x.Zone, in: x.In, out: x.Out})
	}
}

// parentOf is a zone's parent in the event, "" for the root or an unknown zone.
func (t *tailer) parentOf(zone string) string {
	if z := t.h.s.ev.Zone(zone); z != nil {
		return z.Parent
	}
	return ""
}

// build makes the state at now from the last snapshot and the windows, and
// the update against the previous state when something visible changed.
func (t *tailer) build(now time.Time) livePublish {
	ev := t.h.s.ev
	cfg := t.h.s.cfg
	// Forget what has left the longest window.
	t.flows = slices.DeleteFunc(t.flows, func(f flow) bool { return !f.at.After(now.Add(-fillWindow)) })
	t.hits = slices.DeleteFunc(t.hits, func(g gateHit) bool { return !g.at.After(now.Add(-flowWindow)) })

	type sums struct{ in1, out1, in5, out5 int }
	byZone := map[string]*sums{}
	for _, f := range t.flows {
		if f.at.After(now) {
			continue // a device clock ahead: counted when its time comes
		}
		s := byZone[f.zone]
		if s == nil {
			s = &sums{}
			byZone[f.zone] = s
		}
		s.in5 += f.in
		s.out5 += f.out
		if f.at.After(now.Add(-flowWindow)) {
			s.in1 += f.in
			s.out1 += f.out
		}
	}
	st := &liveState{seq: t.seq, at: now, zones: make([]liveZone, 0, len(ev.Zones)),
		gates: make([]liveGate, 0, len(ev.Gates)), alerts: []liveAlert{}}
	active := map[string]liveAlert{}
	raise := func(a liveAlert, since time.Time) {
		if old, ok := t.since[a.ID]; ok && old.Level == a.Level {
			since = old.Since
		}
		a.Since = since
		active[a.ID] = a
		st.alerts = append(st.alerts, a)
	}
	for _, z := range ev.Zones {
		c := t.counters[z.ID]
		if c == nil {
			c = &ledger.Counters{}
		}
		lz := liveZone{ID: z.ID, Name: textOf(z.Name), Parent: z.Parent, Occupancy: c.Occupancy,
			Capacity: z.Capacity, Level: checkin.LevelOf(c.Occupancy, z.Capacity), Entries: c.Entries,
			Exits: c.Exits, Tally: c.Tally, TallyIn: c.TallyIn, TallyOut: c.TallyOut, ByType: map[string]int{}}
		for typ, n := range c.ByType {
			if n != 0 {
				lz.ByType[typ] = n
			}
		}
		if s := byZone[z.ID]; s != nil {
			lz.InPerMin, lz.OutPerMin = float64(s.in1), float64(s.out1)
			net := float64(s.in5-s.out5) / fillWindow.Minutes()
			if net > 0 {
				m := math.Round(float64(max(z.Capacity-c.Occupancy, 0))/net*10) / 10
				lz.MinutesToFull = &m
			}
		}
		st.zones = append(st.zones, lz)
		if lz.Level != checkin.LevelOK {
			raise(liveAlert{ID: "zone:" + z.ID + ":level", Kind: alertLevel, Zone: z.ID, Level: string(lz.Level)}, now)
		}
		if lz.MinutesToFull != nil && *lz.MinutesToFull <= forecastAlert && lz.Level != checkin.LevelFull {
			level := string(checkin.LevelWarn)
			if *lz.MinutesToFull <= forecastAlert/2 {
				level = string(checkin.LevelCritical)
			}
			raise(liveAlert{ID: "zone:" + z.ID + ":forecast", Kind: alertForecast, Zone: z.ID, Level: level}, now)
		}
	}
	perMin := map[string]int{}
	for _, g := range t.hits {
		if !g.at.After(now) {
			perMin[g.gate]++
		}
	}
	online := t.h.onlineGates()
	day, open := ev.DayOf(now)
	open = open && day.IsOpen(now)
	for _, g := range ev.Gates {
		lg := liveGate{ID: g.ID, Zone: g.Zone, ScansPerMin: perMin[g.ID], Online: online[g.ID]}
		seen, ok := t.lastSeen[g.ID]
		if ok {
			at := seen
			lg.LastSeen = &at
			if !lg.Online && now.Sub(seen) < gateSeenOnline {
				lg.Online = true // a scanner on another instance
			}
		}
		if open {
			// Silent: no scan for SilentAfter while open; a gate quiet
			// since the opening counts from the opening.
			ref := day.Open
			if seen.After(ref) {
				ref = seen
			}
			if silentAt := ref.Add(cfg.SilentAfter); !now.Before(silentAt) {
				lg.Silent = true
				raise(liveAlert{ID: "gate:" + g.ID + ":silent", Kind: alertSilent, Gate: g.ID,
					Level: string(checkin.LevelWarn)}, silentAt)
			}
		}
		st.gates = append(st.gates, lg)
	}
	t.since = active

	// The update: the zones that changed, gates and alerts when they did.
	up := liveMessage{Type: liveUpdate, Seq: st.seq, At: now, Zones: []liveZone{}}
	zoneJSON := make(map[string]string, len(st.zones))
	for _, z := range st.zones {
		b, _ := json.Marshal(z)
		zoneJSON[z.ID] = string(b)
		if t.prevJSON[z.ID] != string(b) {
			up.Zones = append(up.Zones, z)
		}
	}
	gb, _ := json.Marshal(st.gates)
	ab, _ := json.Marshal(st.alerts)
	if string(gb) != t.gatesJSON {
		up.Gates = st.gates
	}
	if string(ab) != t.alertsJSON {
		up.Alerts = st.alerts
	}
	first := t.prev == nil
	visible := len(up.Zones) > 0 || up.Gates != nil || up.Alerts != nil
	t.prevJSON, t.gatesJSON, t.alertsJSON = zoneJSON, string(gb), string(ab)
	t.prev = st
	if first {
		t.lastSent = st.seq
		return livePublish{state: st, prev: st.seq}
	}
	p := livePublish{state: st, prev: t.lastSent}
	if visible {
		p.msg = prepare(t.h.s, up)
		t.lastSent = st.seq
	}
	return p
}

// liveClient is one /ws/live connection. The hub alone sends on send and
// closes it; the writer goroutine owns every data write and the close.
type liveClient struct {
	s       *Server
	ws      *websocket.Conn
	subject string
	remote  string
	expires int64 // the token's expiry, Unix seconds on the wall clock
	send    chan *websocket.PreparedMessage
	// closeCode is set by the hub before it closes send: the close frame
	// the writer sends (0: none).
	closeCode  int
	readerDone chan struct{}
}

func (c *liveClient) cut() { _ = c.ws.NetConn().Close() }

// serveLive is GET /ws/live (CONTRACT §4): the token must allow token.Live;
// the origin is checked as for /ws/scan. ?since=SEQ resumes.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.admitSocket(w, r, s.authorizeLive, "live client refused")
	if !ok {
		return
	}
	var (
		since int64
		err   error
	)
	resume := r.URL.Query().Has("since")
	if resume {
		since, err = strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		if err != nil || since < 0 {
			writeError(w, newProblem(errMalformed, "since: want the seq of the last message received, a number."))
			return
		}
	}
	if err := s.waitLive(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	if !s.hub.addConn() {
		writeError(w, newProblem(errUnavailable, "The gateway is shutting down: connect again."))
		return
	}
	defer s.hub.conns.Done()
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &liveClient{s: s, ws: ws, subject: claims.Subject, remote: r.RemoteAddr, expires: claims.Expires,
		send: make(chan *websocket.PreparedMessage, s.cfg.LiveSendBuffer), readerDone: make(chan struct{})}
	reply := make(chan []*websocket.PreparedMessage, 1)
	select {
	case s.hub.join <- liveJoin{c: c, since: since, resume: resume, reply: reply}:
	case <-s.hub.done:
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(s.cfg.WriteWait))
		_ = ws.Close()
		return
	}
	backlog := <-reply
	s.log.Info("live client connected", "subject", c.subject, "role", claims.Role, "remote", c.remote,
		"resume", resume, "since", since)
	writerDone := make(chan struct{})
	go c.write(backlog, writerDone)
	c.read()
	close(c.readerDone)
	select {
	case s.hub.leave <- c:
	case <-s.hub.done:
	}
	<-writerDone
	s.log.Info("live client disconnected", "subject", c.subject, "remote", c.remote)
}

// authorizeLive checks the token of a live request: 401 without a valid
// one, 403 when its role may not watch.
func (s *Server) authorizeLive(r *http.Request) (token.Claims, error) {
	c, err := s.authenticate(r)
	if err != nil {
		return c, err
	}
	if !c.Role.Can(token.Live) {
		return c, newProblem(errForbidden, "Role %s may not watch the live occupancy.", c.Role)
	}
	return c, nil
}

// waitLive waits, at most StoreTimeout, for the first live state.
func (s *Server) waitLive(ctx context.Context) error {
	if !s.hub.started.Load() {
		return newProblem(errUnavailable, "The live stream is not running.")
	}
	t := time.NewTimer(s.cfg.StoreTimeout)
	defer t.Stop()
	select {
	case <-s.hub.ready:
		return nil
	case <-ctx.Done():
	case <-t.C:
	case <-s.hub.done:
	}
	return newProblem(errUnavailable, "The live figures are not available yet: try again.")
}

// read is the live client's reader: it expects pongs and the close, and
// reads only to notice them and a dead connection.
func (c *liveClient) read() {
	cfg := c.s.cfg
	c.ws.SetReadLimit(liveReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait)) })
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	}
}

// write is the live client's writer: first the backlog (a snapshot or the
// missed updates), then what the hub sends, with pings; when the hub closes
// send it says goodbye.
func (c *liveClient) write(backlog []*websocket.PreparedMessage, done chan<- struct{}) {
	defer close(done)
	cfg := c.s.cfg
	put := func(m *websocket.PreparedMessage) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
		if err := c.ws.WritePreparedMessage(m); err != nil {
			c.cut()
			return false
		}
		return true
	}
	for _, m := range backlog {
		if !put(m) {
			c.drainSend()
			return
		}
	}
	ping := time.NewTicker(cfg.PingPeriod)
	defer ping.Stop()
	expiry := c.s.newExpiry(c.expires)
	defer expiry.stop()
	for {
		select {
		case m, ok := <-c.send:
			if !ok {
				c.goodbye()
				return
			}
			if !put(m) {
				c.drainSend()
				return
			}
		case <-expiry.c():
			if expiry.due() {
				c.expire()
				return
			}
		case <-ping.C:
			if expiry.due() {
				c.expire()
				return
			}
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)); err != nil {
				c.cut()
				c.drainSend()
				return
			}
		}
	}
}

// drainSend waits for the hub to let go of the client after a failed write
// (the reader, ending, asks the hub to remove it).
func (c *liveClient) drainSend() {
	for range c.send {
	}
	_ = c.ws.Close()
}

// goodbye sends the close frame the hub chose, waits (at most CloseWait)
// for the reader to see the client's close, and closes.
func (c *liveClient) goodbye() {
	cfg := c.s.cfg
	if c.closeCode != 0 {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, "server shutting down"),
			time.Now().Add(cfg.WriteWait))
		t := time.NewTimer(cfg.CloseWait)
		select {
		case <-c.readerDone:
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.ws.Close()
}

// serveOccupancy is GET /api/v1/occupancy: the live snapshot, the same
// message as /ws/live's first.
func (s *Server) serveOccupancy(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authorizeLive(r); err != nil {
		writeError(w, err)
		return
	}
	if err := s.waitLive(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.hub.latest.Load().snapshot())
}
