package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/token"
)

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

	// wmu is held around every data write (gorilla allows one writer at a
	// time): by the writer goroutine, or by the hub when it writes an
	// update itself (broadcast).
	wmu sync.Mutex
	// queued counts the messages handed to the writer goroutine (the
	// backlog, the updates on send) that it has not written yet. The hub
	// writes an update itself only when it is 0, so that no update
	// overtakes one queued before it; only the hub adds to it.
	queued atomic.Int64
}

func (c *liveClient) cut() { _ = c.ws.NetConn().Close() }

// writeDirect writes m now if direct (m is small: liveDirectMax) and the
// client is idle — its writer goroutine has nothing queued and is not
// writing, and its socket holds nothing unacknowledged (unsent) — and
// reports whether it did (ok) and the write's error. The hub calls it for
// each client of a broadcast: one goroutine writes the update to every
// idle client, rather than readying one writer goroutine per client
// (thousands in the run queues, ahead of a scanner's reader that the
// network has just readied). An idle client's socket has room for a small
// update, so the write does not wait for the client; one that is behind,
// or whose socket cannot tell, gets it through its writer goroutine, which
// may wait (WriteWait) without holding up the others.
func (c *liveClient) writeDirect(m *websocket.PreparedMessage, direct bool) (ok bool, err error) {
	if !direct || c.queued.Load() != 0 || !c.wmu.TryLock() {
		return false, nil
	}
	defer c.wmu.Unlock()
	if c.queued.Load() != 0 {
		return false, nil
	}
	if n, known := unsent(c.ws.NetConn()); !known || n > 0 {
		return false, nil
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteWait))
	return true, c.ws.WritePreparedMessage(m)
}

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
	admitted, ok := s.liveGate.enter(r.Context(), s.hub.done)
	if !ok {
		writeError(w, newProblem(errUnavailable, "The gateway is shutting down: connect again."))
		return
	}
	if !s.hub.addConn() {
		admitted()
		writeError(w, newProblem(errUnavailable, "The gateway is shutting down: connect again."))
		return
	}
	ws, err := s.liveUp.Upgrade(w, r, nil)
	if err != nil {
		admitted()
		s.hub.conns.Done()
		return // the upgrader has answered
	}
	c := &liveClient{s: s, ws: ws, subject: claims.Subject, remote: r.RemoteAddr, expires: claims.Expires,
		send: make(chan *websocket.PreparedMessage, s.cfg.LiveSendBuffer), readerDone: make(chan struct{})}
	// The connection goes on in a goroutine of its own and this handler
	// returns, so that net/http lets go of the request and of its
	// buffered reader and writer (8 KiB a client, for as long as the
	// client watches).
	go c.run(claims.Role, since, resume, admitted)
}

// run is the live client's connection once upgraded: it joins the hub,
// starts the writer (which frees the handshake slot, admitted, once the
// first messages are out), reads until the connection ends, and leaves.
func (c *liveClient) run(role token.Role, since int64, resume bool, admitted func()) {
	s := c.s
	defer s.hub.conns.Done()
	defer admitted() // unless the writer did
	reply := make(chan []*websocket.PreparedMessage, 1)
	select {
	case s.hub.join <- liveJoin{c: c, since: since, resume: resume, reply: reply}:
	case <-s.hub.done:
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(s.cfg.WriteWait))
		_ = c.ws.Close()
		return
	}
	backlog := <-reply
	s.log.Info("live client connected", "subject", c.subject, "role", role, "remote", c.remote,
		"resume", resume, "since", since)
	writerDone := make(chan struct{})
	go c.write(backlog, admitted, writerDone)
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
	return s.authorize(r, token.Live, "watch the live occupancy")
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
// missed updates), after which it frees the client's handshake slot
// (admitted), then what the hub sends, with pings; when the hub closes
// send it says goodbye.
func (c *liveClient) write(backlog []*websocket.PreparedMessage, admitted func(), done chan<- struct{}) {
	defer close(done)
	defer admitted()
	cfg := c.s.cfg
	put := func(m *websocket.PreparedMessage) bool {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
		err := c.ws.WritePreparedMessage(m)
		c.queued.Add(-1)
		if err != nil {
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
	admitted()
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
	writeJSON(w, http.StatusOK, s.hub.latest.Load().Snapshot())
}
