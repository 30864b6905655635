package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/wire"
)

// Websocket timing. The gateway answers a scan in milliseconds; these only
// bound how long a dead or stuck connection can go unnoticed while idle
// (while scanning, Config.VerdictTimeout notices much sooner).
const (
	// dialTimeout bounds the TCP connect and the websocket handshake.
	dialTimeout = 3 * time.Second
	// welcomeWait bounds the wait for the welcome that answers hello.
	welcomeWait = 3 * time.Second
	// writeWait bounds one frame's write.
	writeWait = 5 * time.Second
	// pongWait is how long the connection may stay silent (no frame, no
	// pong) before it counts as dead.
	pongWait = 30 * time.Second
	// pingPeriod is how often the writer pings; well under pongWait.
	pingPeriod = 10 * time.Second
	// maxInbound bounds a frame from the gateway: a verdict is well under
	// a kilobyte.
	maxInbound = 64 << 10
)

// session is one websocket connection to the gateway. The dial goroutine
// becomes its reader; a second goroutine is its writer, the only one that
// writes after hello. Run's goroutine sends frames on out (never blocking:
// the channel holds a whole window) and closes conn to end the session.
type session struct {
	conn    *websocket.Conn
	out     chan []byte   // frames for the writer
	done    chan struct{} // closed by the reader when it stops
	welcome wire.Welcome
}

// close ends the session from Run's goroutine; the reader then reports
// evClosed. Safe to call more than once and concurrently with the reader
// and the writer (gorilla allows Close alongside all other methods).
func (s *session) close() { _ = s.conn.Close() }

// evKind tells what a connection event is.
type evKind int

const (
	evDialFailed evKind = iota // err, status
	evConnected                // sess, with its welcome
	evVerdict                  // sess, verdict
	evError                    // sess, werr
	evClosed                   // sess, err
	evRevoked                  // revoked, at, err
)

// connEvent is what the connection goroutines tell Run's goroutine.
type connEvent struct {
	kind    evKind
	sess    *session
	err     error
	status  int // HTTP status of a refused handshake
	verdict wire.Verdict
	werr    wire.Error
	revoked []string
	at      time.Time
	warning string // for a person: the gateway's event differs from ours
}

// endpoints derives the websocket and HTTP URLs from the --gateway URL,
// which may be the gateway's base (http://host:8080) or its scan socket
// (ws://host:8080/ws/scan).
func endpoints(gateway string) (wsURL, httpBase string, err error) {
	u, err := url.Parse(strings.TrimSpace(gateway))
	if err != nil {
		return "", "", fmt.Errorf("gateway URL %q: %w", gateway, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return "", "", fmt.Errorf("gateway URL %q: want http://, https://, ws:// or wss://", gateway)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("gateway URL %q: no host", gateway)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/ws/scan")
	u.RawQuery, u.Fragment = "", ""
	httpBase = u.String()
	ws := *u
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	ws.Path += "/ws/scan"
	return ws.String(), httpBase, nil
}

// dial connects, says hello, waits for the welcome, and then reads until
// the connection ends, reporting each step on events. It runs on its own
// goroutine and returns when the connection is over or ctx ends.
func (s *Scanner) dial(ctx context.Context, events chan<- connEvent, window, queued int, oldest *time.Time) {
	send := func(ev connEvent) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	d := websocket.Dialer{HandshakeTimeout: dialTimeout, Proxy: http.ProxyFromEnvironment,
		EnableCompression: false, ReadBufferSize: 4096, WriteBufferSize: 4096}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, resp, err := d.DialContext(dctx, s.wsURL, http.Header{"Authorization": {"Bearer " + s.cfg.Token}})
	cancel()
	if err != nil {
		ev := connEvent{kind: evDialFailed, err: err}
		if resp != nil {
			ev.status = resp.StatusCode
			ev.err = fmt.Errorf("handshake refused: HTTP %d", resp.StatusCode)
		}
		send(ev)
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	conn.SetReadLimit(maxInbound)

	welcome, err := s.greet(conn, queued, oldest)
	if err != nil {
		_ = conn.Close()
		send(connEvent{kind: evDialFailed, err: err})
		return
	}
	sess := &session{conn: conn, out: make(chan []byte, window), done: make(chan struct{}), welcome: welcome}
	if !send(connEvent{kind: evConnected, sess: sess}) {
		_ = conn.Close()
		return
	}
	writer := make(chan struct{})
	go func() { defer close(writer); sess.write() }()
	err = sess.read(send)
	close(sess.done)
	_ = conn.Close()
	<-writer // so that Run, which waits for this goroutine, outlives both
	send(connEvent{kind: evClosed, sess: sess, err: err})
}

// greet sends hello, with the unsynced scans, and reads the welcome.
func (s *Scanner) greet(conn *websocket.Conn, queued int, oldest *time.Time) (wire.Welcome, error) {
	hello, err := jsonMarshal(wire.Hello{Type: wire.TypeHello, Protocol: wire.Protocol, Device: s.cfg.Device, Gate: s.cfg.Gate,
		Queued: queued, Oldest: oldest})
	if err != nil {
		return wire.Welcome{}, err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := conn.WriteMessage(websocket.TextMessage, hello); err != nil {
		return wire.Welcome{}, fmt.Errorf("send hello: %w", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(welcomeWait))
	_, b, err := conn.ReadMessage()
	if err != nil {
		return wire.Welcome{}, fmt.Errorf("wait for welcome: %w", err)
	}
	var head struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return wire.Welcome{}, fmt.Errorf("welcome: not JSON: %w", err)
	}
	switch head.Type {
	case wire.TypeWelcome:
	case wire.TypeError:
		return wire.Welcome{}, fmt.Errorf("gateway refused hello: %s: %s", head.Code, oneLine(head.Message))
	default:
		return wire.Welcome{}, fmt.Errorf("welcome: unexpected %q message", head.Type)
	}
	var w wire.Welcome
	if err := json.Unmarshal(b, &w); err != nil {
		return wire.Welcome{}, fmt.Errorf("welcome: %w", err)
	}
	if w.Protocol != 0 && w.Protocol != wire.Protocol {
		return wire.Welcome{}, fmt.Errorf("gateway speaks protocol %d, this scanner %d", w.Protocol, wire.Protocol)
	}
	return w, nil
}

// read is the session's reader: it hands every verdict and error to Run's
// goroutine until the connection fails or goes silent for pongWait.
func (sess *session) read(send func(connEvent) bool) error {
	conn := sess.conn
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(pongWait))
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			continue // not ours to act on; the gateway never sends it
		}
		var ev connEvent
		switch head.Type {
		case wire.TypeVerdict:
			ev = connEvent{kind: evVerdict, sess: sess}
			if err := json.Unmarshal(b, &ev.verdict); err != nil || ev.verdict.ID == "" {
				continue
			}
		case wire.TypeError:
			ev = connEvent{kind: evError, sess: sess}
			if err := json.Unmarshal(b, &ev.werr); err != nil {
				continue
			}
		default:
			continue
		}
		if !send(ev) {
			return context.Canceled
		}
	}
}

// write is the session's writer: frames from out, and a ping every
// pingPeriod. A failed write closes the connection, which stops the reader.
func (sess *session) write() {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		select {
		case <-sess.done:
			return
		case f := <-sess.out:
			_ = sess.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := sess.conn.WriteMessage(websocket.TextMessage, f); err != nil {
				sess.close()
				return
			}
		case <-ping.C:
			if err := sess.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				sess.close()
				return
			}
		}
	}
}

// closeReason says in a few words why a connection ended.
func closeReason(err error) string {
	var ce *websocket.CloseError
	switch {
	case err == nil:
		return "connection closed"
	case errors.As(err, &ce):
		return fmt.Sprintf("gateway closed the connection (%d %s)", ce.Code, oneLine(ce.Text))
	}
	return "connection lost: " + oneLine(err.Error())
}
