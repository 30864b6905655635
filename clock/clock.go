// Package clock is the event clock: the time every rule that depends on the
// day or the hour is judged by. It is real time by default; --clock starts it
// at another instant (a rehearsal before the fair, a demo, a test) and
// --speed makes it run faster (a simulated day in minutes).
package clock

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Clock tells the event time. Implementations are safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// Shifted starts at Start when it is made and runs Speed times faster than
// the wall clock.
type Shifted struct {
	origin time.Time
	speed  float64
	wall   func() time.Time
	// skipped is how far Skip has moved the clock forward, in nanoseconds:
	// atomic, as Now is read from every goroutine.
	skipped atomic.Int64
	start   time.Time
}

// New returns a clock that reads start now and runs speed times faster than
// wall (time.Now when nil). A zero start means "now": with speed 1 that is
// the real clock.
func New(start time.Time, speed float64, wall func() time.Time) (*Shifted, error) {
	if speed <= 0 || speed > 10000 {
		return nil, fmt.Errorf("clock speed %g: want more than 0 and at most 10000", speed)
	}
	if wall == nil {
		wall = time.Now
	}
	origin := wall()
	if start.IsZero() {
		start = origin
	}
	return &Shifted{start: start, origin: origin, speed: speed, wall: wall}, nil
}

// Now is the event time.
func (c *Shifted) Now() time.Time {
	elapsed := c.wall().Sub(c.origin)
	return c.start.Add(time.Duration(float64(elapsed)*c.speed) + time.Duration(c.skipped.Load()))
}

// Skip moves the clock forward by d at once (a demo skips the night
// between two fair days); it never moves it back.
func (c *Shifted) Skip(d time.Duration) {
	if d > 0 {
		c.skipped.Add(int64(d))
	}
}

// Speed is how many times faster than the wall clock it runs.
func (c *Shifted) Speed() float64 { return c.speed }

// Manual is a clock that moves only when told: tests run a whole fair day in
// milliseconds with it.
type Manual struct {
	ch chan time.Time // holds the time; a one-slot channel is the lock
}

// NewManual returns a manual clock reading t.
func NewManual(t time.Time) *Manual {
	m := &Manual{ch: make(chan time.Time, 1)}
	m.ch <- t
	return m
}

// Now reads the clock.
func (m *Manual) Now() time.Time {
	t := <-m.ch
	m.ch <- t
	return t
}

// Set moves the clock to t.
func (m *Manual) Set(t time.Time) {
	<-m.ch
	m.ch <- t
}

// Advance moves the clock forward by d and returns the new time.
func (m *Manual) Advance(d time.Duration) time.Time {
	t := (<-m.ch).Add(d)
	m.ch <- t
	return t
}
