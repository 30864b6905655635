package gateway

import (
	"time"

	"github.com/gorilla/websocket"
)

// expiry watches a token's expiry for a long-lived connection that sends
// the gateway nothing to check it on (the live stream), so the stream ends
// when the token does, as /ws/scan ends at its next frame.
//
// The expiry is judged on the wall clock, which tests inject; the timer runs
// on real time. So a timer that fires early (a wall clock that does not run)
// is armed again, and the writer also checks due at each ping.
type expiry struct {
	s       *Server
	expires int64 // Unix seconds
	t       *time.Timer
}

// minExpiryRecheck bounds how often a timer that fired before the expiry
// (the wall clock is not the real one) fires again.
const minExpiryRecheck = time.Second

func (s *Server) newExpiry(expires int64) *expiry {
	e := &expiry{s: s, expires: expires}
	e.t = time.NewTimer(e.left())
	return e
}

// left is how long the token has left on the wall clock.
func (e *expiry) left() time.Duration {
	return time.Unix(e.expires, 0).Sub(e.s.wall.Now())
}

// c fires when the expiry may have come; check due.
func (e *expiry) c() <-chan time.Time { return e.t.C }

// due reports whether the token has expired; when not, and the timer has
// fired, it arms the timer again.
func (e *expiry) due() bool {
	if e.s.wall.Now().Unix() >= e.expires {
		return true
	}
	e.t.Reset(max(e.left(), minExpiryRecheck))
	return false
}

func (e *expiry) stop() { e.t.Stop() }

// expire ends a live client whose token has expired: close 1008 (policy
// violation, as /ws/scan), a short wait for the client's close, then the
// writer waits for the hub to let go of it.
func (c *liveClient) expire() {
	cfg := c.s.cfg
	c.s.log.Info("live client token expired", "subject", c.subject, "remote", c.remote)
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "token expired"), time.Now().Add(cfg.WriteWait))
	t := time.NewTimer(cfg.CloseWait)
	select {
	case <-c.readerDone:
	case <-t.C:
	}
	t.Stop()
	c.cut()
	c.drainSend()
}
