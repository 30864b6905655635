package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/ledger"
	"crowdflow/token"
	"crowdflow/wire"
)

// verdictSize is room for a verdict's JSON, so that encoding it takes one
// allocation.
const verdictSize = 384

// maxDiscard bounds what the gateway reads and throws away while waiting for
// a device to close its side after the close frame.
const maxDiscard = 1 << 20

// admitSocket answers a websocket handshake that may not go on — the
// gateway draining (503), a foreign origin (403), no valid token or role
// (authorize's error) — and reports whether it may, with the caller's claims.
func (s *Server) admitSocket(w http.ResponseWriter, r *http.Request,
	authorize func(*http.Request) (token.Claims, error), refused string) (token.Claims, bool) {
	if s.isDraining() {
		writeError(w, newProblem(errUnavailable, "The gateway is shutting down: connect again."))
		return token.Claims{}, false
	}
	if err := s.checkOrigin(r); err != nil {
		writeError(w, err)
		return token.Claims{}, false
	}
	claims, err := authorize(r)
	if err != nil {
		s.log.Info(refused, "remote", r.RemoteAddr, "err", err)
		writeError(w, err)
		return token.Claims{}, false
	}
	return claims, true
}

// serveScan is GET /ws/scan: checks the origin and the token, upgrades, and
// runs the connection until it ends.
func (s *Server) serveScan(w http.ResponseWriter, r *http.Request) {
	claims, ok := s.admitSocket(w, r, s.authenticate, "scanner refused")
	if !ok {
		return
	}
	release, err := s.scanners.take(r)
	if err != nil {
		s.log.Warn("scanner refused", "subject", claims.Subject, "remote", r.RemoteAddr, "err", err)
		writeError(w, err)
		return
	}
	defer release()
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &conn{s: s, ws: ws, claims: claims, remote: r.RemoteAddr,
		send: make(chan []byte, s.cfg.SendBuffer), writerDone: make(chan struct{}),
		limiter: rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst)}
	if !s.add(c) {
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(s.cfg.WriteWait))
		_ = ws.Close()
		return
	}
	defer s.remove(c)
	c.run()
	// The reader has ended: onGate is settled. The device's last queue
	// stays, here and for the other gateways.
	s.hub.gateMoved(c.onGate, "")
	s.hub.deviceLeft(c.onGate, c.device)
	c.shareDevice(c.onGate, c.device, c.queued, c.oldest, false)
}

// conn is one scanner websocket. The reader (run's goroutine, the HTTP
// handler's) owns the session state and is the only sender on send; the
// writer goroutine owns every data write and the final close. Control
// frames (pong, gorilla's own close replies) may be written by either, as
// gorilla allows.
type conn struct {
	s       *Server
	ws      *websocket.Conn
	claims  token.Claims
	remote  string
	limiter *rate.Limiter

	// send carries encoded replies to the writer. The reader closes it when
	// it stops; the writer then writes what is left and says goodbye.
	send chan []byte
	// writerDone is closed when the writer has finished.
	writerDone chan struct{}

	// draining is set once, by Server.drain, when shutdown begins.
	draining atomic.Bool

	// Written by the reader before it closes send, read by the writer after:
	// the close frame to send (0: none) and whether to wait for the device
	// to close its side.
	closeCode int
	closeText string
	linger    bool

	// The session, reader only.
	device, gate string
	onGate       string     // the gate this scanner shows online on the live stream
	queued       int        // the unsynced scans the device last reported
	oldest       *time.Time // and the oldest one's time
	greeted      bool
	helloAt      time.Time // the event clock at the last hello: scans recorded since were not offline
	decided      int
}

// run serves the connection: the writer in a goroutine, the reader here.
// It returns once both have finished and the connection is closed.
func (c *conn) run() {
	log := c.s.log.With("subject", c.claims.Subject, "role", c.claims.Role, "remote", c.remote)
	log.Info("scanner connected")
	go c.write(c.writerDone)
	reason := c.read()
	close(c.send)
	<-c.writerDone
	log.Info("scanner disconnected", "device", c.device, "gate", c.gate, "decided", c.decided, "reason", reason)
}

// drain makes the reader stop once its device has been quiet for DrainWait:
// what had already arrived is still read and answered. The reader re-arms
// that deadline after each frame (see extendReadDeadline), so the order of
// the two steps here matters: flag first, then deadline.
func (c *conn) drain() {
	c.draining.Store(true)
	_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(c.s.cfg.DrainWait))
}

// cut closes the connection at once; the reader and the writer then fail
// and end. Safe to call from any goroutine, more than once.
func (c *conn) cut() { _ = c.ws.NetConn().Close() }

// extendReadDeadline gives the device another PongWait to send something,
// or, once the connection is draining, another DrainWait. It sets, then
// checks the flag, so a concurrent drain is never overwritten by a longer
// deadline.
func (c *conn) extendReadDeadline() {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.PongWait))
	if c.draining.Load() {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.DrainWait))
	}
}

// read is the reader: one frame at a time, decided before the next is read,
// so the scans of a connection are decided in order. It returns why it
// stopped, for the log.
func (c *conn) read() string {
	c.ws.SetReadLimit(wire.MaxFrame)
	c.extendReadDeadline()
	c.ws.SetPongHandler(func(string) error { c.extendReadDeadline(); return nil })
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return c.stopped(err)
		}
		if !c.handle(typ, data) {
			return "dropped: replies not read"
		}
		if c.closeCode != 0 {
			return c.closeText
		}
		// After the frame is decided, not before: a slow store call must not
		// use up a draining connection's DrainWait.
		c.extendReadDeadline()
	}
}

// stopped decides, from the error that ended reading, how to say goodbye.
func (c *conn) stopped(err error) string {
	var ne net.Error
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has sent the close frame 1009 (message too big).
		c.linger = true
		return "frame too large"
	case c.draining.Load() && errors.As(err, &ne) && ne.Timeout():
		c.closeCode, c.closeText, c.linger = websocket.CloseGoingAway, "server shutting down", true
		return "shutdown"
	case errors.As(err, &ne) && ne.Timeout():
		return "idle timeout"
	case errors.As(err, &ce):
		return fmt.Sprintf("closed by the device (%d)", ce.Code)
	}
	return "connection lost"
}

// queue hands a reply to the writer. When SendBuffer replies are already
// waiting, the reader waits for the writer, at most WriteWait: that slows
// this device's own reading (TCP pushes back on it) and nobody else's. A
// device whose replies still pile up after that is not reading them, and is
// dropped.
func (c *conn) queue(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		c.s.log.Error("encode reply", "err", err)
		return true
	}
	return c.queueBytes(b)
}

// queueVerdict is queue for a verdict, one per scan: encoded without
// reflection (the same bytes) and without boxing it in an interface.
func (c *conn) queueVerdict(v wire.Verdict) bool {
	return c.queueBytes(v.AppendJSON(make([]byte, 0, verdictSize)))
}

// queueBytes hands the encoded reply b to the writer, as queue says.
func (c *conn) queueBytes(b []byte) bool {
	select {
	case c.send <- b:
		return true
	default:
	}
	wait := time.NewTimer(c.s.cfg.WriteWait)
	defer wait.Stop()
	select {
	case c.send <- b:
		return true
	case <-c.writerDone:
		return false // the writer failed and has closed the connection
	case <-wait.C:
		c.s.log.Warn("scanner not reading its replies: dropped", "subject", c.claims.Subject, "device", c.device)
		c.cut()
		return false
	}
}

// fail queues the error message for err, about the scan or tally id.
func (c *conn) fail(id string, err error) bool {
	_, code, message := classify(err)
	return c.queue(wire.Error{Type: wire.TypeError, Code: code, ID: id, Message: message})
}

// handle acts on one frame and queues its reply; false when the device is
// dropped.
func (c *conn) handle(typ int, data []byte) bool {
	c.s.scanning.Add(1) // the live fan-out gives way meanwhile (liveHub.giveWay)
	defer c.s.scanning.Add(-1)
	wall := c.s.wall.Now()
	if wall.Unix() >= c.claims.Expires {
		// Every message is authorised, not only the handshake.
		c.closeCode, c.closeText, c.linger = websocket.ClosePolicyViolation, "token expired", true
		return true
	}
	if !c.limiter.AllowN(wall, 1) {
		return c.fail(frameID(data), newProblem(errRateLimited,
			"Too many messages: at most %g per second (%d at once); this one was not processed.",
			c.s.cfg.Rate, c.s.cfg.Burst))
	}
	if typ != websocket.TextMessage {
		return c.fail("", newProblem(errMalformed, "Send JSON text frames, not binary ones."))
	}
	m, err := wire.Decode(data)
	if err != nil {
		return c.fail(frameID(data), frameError(data, err))
	}
	switch m := m.(type) {
	case *wire.Hello:
		return c.hello(m)
	case *wire.Scan:
		return c.scan(m)
	case *wire.Tally:
		return c.tally(m)
	case *wire.Status:
		return c.status(m)
	}
	return c.fail("", newProblem(errUnsupported, "Unexpected message."))
}

// frameID is the id of a scan or tally frame, when one can be read: errors
// carry it so the device knows which scan they are about.
func frameID(data []byte) string {
	var f struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &f) != nil || len(f.ID) > wire.MaxID {
		return ""
	}
	return f.ID
}

// frameError tells an unknown message type or protocol version (unsupported)
// from a broken frame (malformed).
func frameError(data []byte, err error) error {
	var head struct {
		Type     string `json:"type"`
		Protocol *int   `json:"protocol"`
	}
	if json.Unmarshal(data, &head) != nil {
		return err
	}
	switch head.Type {
	case wire.TypeHello:
		if head.Protocol != nil && *head.Protocol != wire.Protocol {
			return newProblem(errUnsupported, "Protocol %d is not supported: this gateway speaks %d.",
				*head.Protocol, wire.Protocol)
		}
	case wire.TypeScan, wire.TypeTally, wire.TypeStatus, "":
	default:
		return newProblem(errUnsupported, "Unknown message type: send hello, scan, tally or status.")
	}
	return err
}

// hello starts (or moves) the session: the device and its gate. A gate the
// token does not allow is welcomed all the same; each scan there is then
// refused with unknown_gate, which the device shows.
func (c *conn) hello(m *wire.Hello) bool {
	// The live stream shows the gate online while a scanner is on it; a
	// gate the token does not allow is welcomed, but not shown.
	on := ""
	if c.s.ev.Gate(m.Gate) != nil && c.claims.AllowsGate(m.Gate) {
		on = m.Gate
	}
	oldest := m.Oldest
	if err := c.checkOldest(oldest); err != nil {
		// The device is welcomed all the same (its scans must get through):
		// its queue counts from now.
		now := c.s.clk.Now()
		oldest = &now
		c.s.log.Warn("scanner hello: oldest unsynced scan in the future, counted from now",
			"device", m.Device, "gate", m.Gate, "err", err)
	}
	if c.onGate != on || c.device != m.Device {
		c.reportQueue(c.onGate, c.device, 0, nil, false) // its queue goes with it
	}
	c.reportQueue(on, m.Device, m.Queued, oldest, true)
	c.queued, c.oldest = m.Queued, oldest
	c.s.hub.gateMoved(c.onGate, on)
	c.onGate = on
	c.device, c.gate, c.greeted, c.helloAt = m.Device, m.Gate, true, c.s.clk.Now()
	zone := ""
	if g := c.s.ev.Gate(m.Gate); g != nil {
		zone = g.Zone
	}
	c.s.log.Info("scanner hello", "subject", c.claims.Subject, "device", m.Device, "gate", m.Gate,
		"gate_allowed", c.claims.AllowsGate(m.Gate))
	return c.queue(wire.Welcome{Type: wire.TypeWelcome, Protocol: wire.Protocol, Gate: m.Gate, Zone: zone,
		ServerTime: c.s.clk.Now()})
}

// status records the device's queue of unsynced scans for the live stream
// and /metrics. It has no answer.
func (c *conn) status(m *wire.Status) bool {
	if !c.greeted {
		return c.fail("", newProblem(errMalformed, "Send hello before status."))
	}
	if err := c.checkOldest(m.Oldest); err != nil {
		return c.fail("", err)
	}
	c.reportQueue(c.onGate, c.device, m.Queued, m.Oldest, true)
	c.queued, c.oldest = m.Queued, m.Oldest
	return true
}

// checkOldest refuses an oldest unsynced scan later than now, give or take
// the skew allowance: a device's clock gone wrong.
func (c *conn) checkOldest(oldest *time.Time) error {
	if oldest != nil && oldest.After(c.s.clk.Now().Add(admission.SkewTolerance)) {
		return fmt.Errorf("%w: the oldest unsynced scan (%s) is in the future: check the device's clock", admission.ErrBadTime,
			oldest.UTC().Format(time.RFC3339))
	}
	return nil
}

// mayAct checks what every scan and tally needs: a hello first, a role that
// scans, and a supervisor's role to force.
func (c *conn) mayAct(force bool) error {
	switch {
	case !c.greeted:
		return newProblem(errMalformed, "Send hello before scans and tallies.")
	case !c.claims.Role.Can(token.Scan):
		return newProblem(errForbidden, "Role %s may not scan.", c.claims.Role)
	case force && !c.claims.Role.Can(token.Force):
		return newProblem(errForbidden, "Only a supervisor may force a scan; nothing was changed.")
	}
	return nil
}

// scan decides one scan: the judge reads the ticket and applies the
// stateless rules, the store decides the rest atomically.
func (c *conn) scan(m *wire.Scan) bool {
	start := time.Now()
	if err := c.mayAct(m.Force); err != nil {
		return c.fail(m.ID, err)
	}
	gate := m.Gate
	if gate == "" {
		gate = c.gate
	}
	now := c.s.clk.Now()
	if err := admission.CheckTime(c.s.ev, m.At, now, m.Offline, m.Direction == checkin.Out); err != nil {
		c.s.log.Warn("scan refused: bad time", "id", m.ID, "device", c.device, "gate", gate, "err", err)
		return c.fail(m.ID, err)
	}
	sc, _ := c.s.judge.Scan(admission.Request{ID: m.ID, Device: c.device, Gate: gate,
		GateAllowed: c.claims.AllowsGate(gate), Direction: m.Direction, Payload: m.Ticket,
		DeviceAt: m.At, Offline: m.Offline, Decided: m.Decided, Force: m.Force,
		ConnectedSince: c.helloAt}, now)
	ctx, cancel := context.WithTimeout(c.s.storeCtx, c.s.cfg.StoreTimeout)
	v, err := c.s.store.Scan(ctx, sc)
	cancel()
	if err != nil {
		return c.fail(m.ID, c.storeError(opScan, m.ID, err))
	}
	c.decided++
	label := gateLabel(c.s.ev, gate)
	c.s.metrics.observe(label, m.Direction, v.Code, v.Replayed, time.Since(start), c.s.wall.Now())
	c.s.metrics.override(label, v)
	if c.s.log.Enabled(context.Background(), slog.LevelDebug) { // as Debug asks
		// Checked first: the attributes alone take a dozen allocations per scan.
		c.s.log.Debug("scan", "id", m.ID, "device", c.device, "gate", gate, "direction", m.Direction,
			"code", v.Code, "flags", v.Flags.String(), "replayed", v.Replayed, "took", time.Since(start))
	}
	return c.queueVerdict(verdictOf(m.ID, v, sc.Ticket, sc.Type, scanMessage(v, m.Direction)))
}

// tally applies one tally. A token limited to some gates may count only the
// zones of those gates.
func (c *conn) tally(m *wire.Tally) bool {
	start := time.Now()
	if err := c.mayAct(m.Force); err != nil {
		return c.fail(m.ID, err)
	}
	z := c.s.ev.Zone(m.Zone)
	if z == nil {
		return c.fail(m.ID, newProblem(errMalformed, "zone %q is not a zone of this event.", m.Zone))
	}
	gate := m.Gate
	if gate == "" {
		gate = c.gate
	}
	// A gate the config lacks or the token does not allow: the tally is
	// logged and refused (unknown_gate) like a scan there.
	unknown := gate != "" && (c.s.ev.Gate(gate) == nil || !c.claims.AllowsGate(gate))
	if !unknown && !c.mayCount(z.ID) {
		return c.fail(m.ID, newProblem(errForbidden, "This token may not count zone %s.", z.ID))
	}
	now := c.s.clk.Now()
	if err := admission.CheckTime(c.s.ev, m.At, now, m.Offline, m.Delta < 0); err != nil {
		c.s.log.Warn("tally refused: bad time", "id", m.ID, "device", c.device, "zone", z.ID, "err", err)
		return c.fail(m.ID, err)
	}
	offline := admission.RecordedOffline(m.Offline, m.At, c.helloAt)
	at, flags := admission.JudgeTime(c.s.ev, m.At, now, offline) // as a scan is
	t := ledger.Tally{ID: m.ID, Device: c.device, Gate: gate, GateUnknown: unknown, Zone: z.ID, Delta: m.Delta,
		Force: m.Force, At: at, DeviceAt: m.At, Flags: flags, Received: now}
	ctx, cancel := context.WithTimeout(c.s.storeCtx, c.s.cfg.StoreTimeout)
	v, err := c.s.store.Tally(ctx, t)
	cancel()
	if err != nil {
		return c.fail(m.ID, c.storeError(opTally, m.ID, err))
	}
	c.decided++
	c.s.metrics.observe(gateLabel(c.s.ev, gate), "", v.Code, v.Replayed, time.Since(start), c.s.wall.Now())
	if c.s.log.Enabled(context.Background(), slog.LevelDebug) { // as Debug asks
		c.s.log.Debug("tally", "id", m.ID, "device", c.device, "zone", z.ID, "delta", m.Delta,
			"code", v.Code, "flags", v.Flags.String(), "replayed", v.Replayed, "took", time.Since(start))
	}
	return c.queueVerdict(verdictOf(m.ID, v, "", "", tallyMessage(v, m.Delta)))
}

// mayCount reports whether the token may tally zone: any zone for a token
// of every gate, else the zones its gates lead into.
func (c *conn) mayCount(zone string) bool {
	if len(c.claims.Gates) == 0 {
		return true
	}
	for _, id := range c.claims.Gates {
		if g := c.s.ev.Gate(id); g != nil && g.Zone == zone {
			return true
		}
	}
	return false
}

// storeError turns a failed store call into the device's answer: a request
// the store refused as invalid is malformed; anything else means the store
// did not answer, and the device resends later with the same id.
func (c *conn) storeError(op, id string, err error) error {
	switch {
	case errors.Is(err, ledger.ErrInvalid):
		return err
	case errors.Is(err, ledger.ErrIDConflict):
		// Logged in the event log by the ledger, and here for the operator.
		c.s.log.Warn("scan id reused for another scan", "op", op, "id", id, "device", c.device, "gate", c.gate)
		return err
	}
	c.s.metrics.storeErrors.WithLabelValues(op).Inc()
	c.s.log.Warn("store did not answer", "op", op, "id", id, "device", c.device, "err", err)
	return fmt.Errorf("%w: %w", errUnavailable, err)
}

// verdictOf is the verdict message of CONTRACT §3.
func verdictOf(id string, v ledger.Verdict, ticketID, ticketType, message string) wire.Verdict {
	flags := v.Flags
	if flags == nil {
		flags = checkin.Flags{}
	}
	return wire.Verdict{Type: wire.TypeVerdict, ID: id, OK: v.Code.OK(), Code: v.Code, Ticket: ticketID,
		TicketType: ticketType, Zone: v.Zone, Occupancy: v.Occupancy, Capacity: v.Capacity,
		Level: string(checkin.LevelOf(v.Occupancy, v.Capacity)), Flags: flags, Replayed: v.Replayed,
		Message: message}
}

// scanMessage is the verdict's sentence for the person at the gate.
func scanMessage(v ledger.Verdict, dir checkin.Direction) string {
	var m string
	switch v.Code {
	case checkin.Accepted:
		switch {
		case dir == checkin.Out && v.Flags.Has(checkin.NotInside):
			m = "Exit accepted; this ticket was not recorded inside."
		case dir == checkin.Out:
			m = "Exit accepted."
		case v.Flags.Has(checkin.Forced):
			m = "Entry forced by a supervisor."
		default:
			m = "Entry accepted."
		}
	case checkin.AlreadyInside:
		m = "This ticket is already inside."
	case checkin.AlreadyUsed:
		m = "This ticket has already been used to enter here today."
	case checkin.ZoneFull:
		m = fmt.Sprintf("Zone %s is full: no entry.", v.Zone)
	case checkin.InvalidTicket:
		m = "This is not a valid ticket for this event."
	case checkin.Revoked:
		m = "This ticket has been revoked."
	case checkin.NotValidToday:
		m = "This ticket is not valid today."
	case checkin.Closed:
		m = "The event is closed at this time."
	case checkin.NoAccess:
		m = "This ticket does not give access to this zone."
	case checkin.UnknownGate:
		m = "This gate is unknown, or not allowed for this device."
	default:
		m = "Refused."
	}
	if v.Replayed {
		m += " (Repeated scan: the first verdict.)"
	}
	return m
}

// tallyMessage is the verdict's sentence for a tally.
func tallyMessage(v ledger.Verdict, delta int) string {
	var m string
	switch {
	case v.Code == checkin.ZoneFull:
		m = fmt.Sprintf("Zone %s is full: not counted.", v.Zone)
	case v.Code != checkin.Accepted:
		m = scanMessage(v, "")
	case v.Flags.Has(checkin.Clamped):
		m = fmt.Sprintf("Counted out; the zone's tally was lower than %d.", -delta)
	case delta > 0:
		m = fmt.Sprintf("Counted %d in.", delta)
	default:
		m = fmt.Sprintf("Counted %d out.", -delta)
	}
	if v.Replayed {
		m += " (Repeated tally: the first verdict.)"
	}
	return m
}

// write is the writer: it owns the connection's data writes, pings every
// PingPeriod, and once send is closed writes what is left and says goodbye.
// done is closed when it has finished and the connection is closed.
func (c *conn) write(done chan<- struct{}) {
	defer close(done)
	cfg := c.s.cfg
	ping := time.NewTicker(cfg.PingPeriod)
	defer ping.Stop()
	for {
		select {
		case b, ok := <-c.send:
			if !ok {
				c.goodbye()
				return
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
			err := c.ws.WriteMessage(websocket.TextMessage, b)
			if errors.Is(err, websocket.ErrCloseSent) {
				continue // gorilla closed already (1009): wait for the reader's end
			}
			if err != nil {
				c.cut()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)); err != nil &&
				!errors.Is(err, websocket.ErrCloseSent) {
				c.cut()
				return
			}
		}
	}
}

// goodbye ends the connection as the reader decided: a close frame when it
// chose one, then, when lingering, a half-close and a short wait for the
// device to close its side, reading and discarding what it still sends.
// Closing outright with unread input would reset the connection, and the
// device could lose the last verdicts and the close frame.
func (c *conn) goodbye() {
	cfg := c.s.cfg
	if c.closeCode != 0 {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeText),
			time.Now().Add(cfg.WriteWait))
	}
	if c.linger {
		nc := c.ws.NetConn()
		if hc, ok := nc.(interface{ CloseWrite() error }); ok {
			_ = hc.CloseWrite()
		}
		_ = nc.SetReadDeadline(time.Now().Add(cfg.CloseWait))
		_, _ = io.Copy(io.Discard, io.LimitReader(nc, maxDiscard))
	}
	_ = c.ws.Close()
}
