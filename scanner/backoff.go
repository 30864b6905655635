package scanner

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Reconnection delays (reliability anchors, R6): from 0.5 s, doubling, to at
// most 10 s, with full jitter so that the scanners of a venue do not all
// redial a restarted gateway in the same second.
const (
	DefaultBackoffMin = 500 * time.Millisecond
	DefaultBackoffMax = 10 * time.Second
)

// Backoff computes reconnection delays: "full jitter", a delay drawn
// uniformly from [0, min(Max, Min·2^attempt)]. Full jitter spreads a crowd of
// clients over the whole window, which is what a gateway that just came back
// needs; the first attempt may retry at once, which is what a single client
// that lost one connection wants.
//
// A Backoff is safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration

	mu  sync.Mutex // guards rnd
	rnd *rand.Rand // nil: the global source
}

// NewBackoff returns a Backoff from min to max that draws from rnd (nil: the
// global source; tests pass a seeded one).
func NewBackoff(min, max time.Duration, rnd *rand.Rand) *Backoff {
	return &Backoff{Min: min, Max: max, rnd: rnd}
}

// Ceiling is the longest delay Next may return for attempt (0 for the first
// retry): min(Max, Min·2^attempt).
func (b *Backoff) Ceiling(attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	d := b.Min
	for range attempt {
		if d >= b.Max/2 {
			return b.Max
		}
		d *= 2
	}
	return min(d, b.Max)
}

// Next is the delay before retry number attempt (0 for the first).
func (b *Backoff) Next(attempt int) time.Duration {
	c := b.Ceiling(attempt)
	if c <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rnd != nil {
		return time.Duration(b.rnd.Int64N(int64(c) + 1))
	}
	return time.Duration(rand.Int64N(int64(c) + 1))
}
