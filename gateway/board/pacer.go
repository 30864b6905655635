package board

import "time"

// Pacer is leading-edge coalescing over a window: the first change after a
// quiet window goes out at once; changes within the window after a send
// wait, all together, for its end. So a lone scan reaches the board with no
// delay, and a burst costs each client at most one update per window. The
// zero Pacer with a Window is ready; it is not safe for concurrent use.
type Pacer struct {
	Window  time.Duration
	last    time.Time // the last send
	sent    bool      // something was sent: last is set
	pending bool      // a change waits for the window's end
}

// Change notes a change at now and reports whether to send it now (the
// window is quiet); otherwise it waits, merged with the others, for Due.
func (p *Pacer) Change(now time.Time) bool {
	if p.pending {
		return false
	}
	if !p.sent || now.Sub(p.last) >= p.Window {
		p.sent, p.last = true, now
		return true
	}
	p.pending = true
	return false
}

// Due reports whether the changes that waited are to be sent now: their
// window has ended. It then starts a new window at now.
func (p *Pacer) Due(now time.Time) bool {
	if !p.pending || now.Sub(p.last) < p.Window {
		return false
	}
	p.pending, p.last = false, now
	return true
}

// Pending reports whether changes wait for the window's end, and when it
// ends.
func (p *Pacer) Pending() (time.Time, bool) {
	return p.last.Add(p.Window), p.pending
}
