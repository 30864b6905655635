package gateway

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// connLimits caps the concurrent connections of one token and from one
// remote address. Safe for concurrent use.
type connLimits struct {
	perToken, perAddr int

	// mu guards the counts; a key whose count drops to 0 is deleted.
	mu      sync.Mutex
	byToken map[[32]byte]int // by the token's SHA-256: no token kept as a key
	byAddr  map[string]int   // by the remote IP
}

func newConnLimits(perToken, perAddr int) *connLimits {
	return &connLimits{perToken: perToken, perAddr: perAddr,
		byToken: map[[32]byte]int{}, byAddr: map[string]int{}}
}

// take counts one more connection for r's token and address, and returns
// the function that counts it out (call it once, when the connection
// ends); past either cap it counts nothing and returns an errTooMany.
// The token must have been authenticated already.
func (l *connLimits) take(r *http.Request) (release func(), err error) {
	tok, _ := requestToken(r)
	tk := sha256.Sum256([]byte(tok))
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.byToken[tk] >= l.perToken:
		return nil, newProblem(errTooMany, "This token has %d scanner connections open, the most allowed: close one, or give this device a token of its own.", l.perToken)
	case l.byAddr[addr] >= l.perAddr:
		return nil, newProblem(errTooMany, "This address has %d scanner connections open, the most allowed.", l.perAddr)
	}
	l.byToken[tk]++
	l.byAddr[addr]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.byToken[tk]--; l.byToken[tk] <= 0 {
				delete(l.byToken, tk)
			}
			if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
				delete(l.byAddr, addr)
			}
		})
	}, nil
}

// liveHandshakes bounds the /ws/live clients being let in at once: from
// the token check to their first message written (the upgrade, the join,
// the snapshot). A reconnect storm — thousands of boards back at once after
// a restart — then readies a few goroutines at a time rather than
// thousands, ahead of the scanners' in the run queues; the others wait,
// parked, in line (FIFO). Scanners (/ws/scan) never wait for these slots.
const liveHandshakes = 4

// liveGate lets live clients in liveHandshakes at a time.
type liveGate struct {
	slots   chan struct{}
	waiting atomic.Int64 // clients waiting for a slot (the tests read it)
}

func newLiveGate(n int) *liveGate { return &liveGate{slots: make(chan struct{}, n)} }

// enter waits for a slot until ctx or stop ends, and returns the function
// that frees it (idempotent), or false.
func (g *liveGate) enter(ctx context.Context, stop <-chan struct{}) (func(), bool) {
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false
	case <-stop:
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { <-g.slots }) }, true
}
