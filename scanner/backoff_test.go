package scanner_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"crowdflow/scanner"
)

func TestBackoffBounds(t *testing.T) {
	b := scanner.NewBackoff(scanner.DefaultBackoffMin, scanner.DefaultBackoffMax, rand.New(rand.NewPCG(1, 2)))
	tests := map[string]struct {
		attempt int
		ceiling time.Duration
	}{
		"first retry":         {0, 500 * time.Millisecond},
		"second":              {1, time.Second},
		"third":               {2, 2 * time.Second},
		"fifth":               {4, 8 * time.Second},
		"capped":              {5, 10 * time.Second},
		"long outage":         {60, 10 * time.Second},
		"no overflow":         {1 << 20, 10 * time.Second},
		"negative is a first": {-3, 500 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := b.Ceiling(tc.attempt); got != tc.ceiling {
				t.Fatalf("Ceiling(%d) = %s, want %s", tc.attempt, got, tc.ceiling)
			}
			var lo, hi time.Duration = tc.ceiling, 0
			for range 2000 {
				d := b.Next(tc.attempt)
				if d < 0 || d > tc.ceiling {
					t.Fatalf("Next(%d) = %s, outside [0, %s]", tc.attempt, d, tc.ceiling)
				}
				lo, hi = min(lo, d), max(hi, d)
			}
			// Full jitter: the draws spread over the whole window.
			if lo > tc.ceiling/10 || hi < tc.ceiling*9/10 {
				t.Errorf("Next(%d) drew only from [%s, %s] of [0, %s]", tc.attempt, lo, hi, tc.ceiling)
			}
		})
	}
}

func TestBackoffGlobalSource(t *testing.T) {
	b := scanner.NewBackoff(time.Millisecond, 4*time.Millisecond, nil)
	for range 100 {
		if d := b.Next(10); d < 0 || d > 4*time.Millisecond {
			t.Fatalf("Next = %s", d)
		}
	}
}
