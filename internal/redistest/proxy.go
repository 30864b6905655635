package redistest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on a loopback port in front of one address, for
// network faults between two processes of a test: it can delay what it
// forwards, hold it (a network that drops everything, connections open),
// and reset every connection.
type Proxy struct {
	tb     testing.TB
	ln     net.Listener
	target string

	mu    sync.Mutex // guards what follows
	delay time.Duration
	held  chan struct{} // closed while traffic flows; open while it is held
	conns map[net.Conn]bool
}

// StartProxy starts a proxy to target for tb, closed when tb ends.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	flowing := make(chan struct{})
	close(flowing)
	p := &Proxy{tb: tb, ln: ln, target: target, held: flowing, conns: map[net.Conn]bool{}}
	go p.accept()
	tb.Cleanup(func() {
		_ = ln.Close()
		p.Hold(false)
		p.Reset()
	})
	return p
}

// Addr is host:port of the proxy.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Delay makes every chunk forwarded from now on wait d first.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Hold stops (true) or resumes (false) forwarding in both directions,
// keeping the connections open: to the endpoints, the network went silent.
func (p *Proxy) Hold(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.held: // flowing
		if on {
			p.held = make(chan struct{})
		}
	default: // held
		if !on {
			close(p.held)
		}
	}
}

// Reset closes every connection with a TCP reset; new ones are accepted.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// pipe copies from src to dst chunk by chunk, each after the delay and
// while traffic flows, and closes both when either side ends.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer func() {
		_ = src.Close()
		_ = dst.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			delay, held := p.delay, p.held
			p.mu.Unlock()
			<-held
			if delay > 0 {
				time.Sleep(delay) // the fault itself: a slow network
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
