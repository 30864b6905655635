package clock_test

import (
	"testing"
	"time"

	"crowdflow/clock"
)

func TestShifted(t *testing.T) {
	wall := clock.NewManual(time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC))
	start := time.Date(2025, 9, 17, 9, 55, 0, 0, time.UTC)
	tests := map[string]struct {
		speed   float64
		advance time.Duration
		want    time.Time
	}{
		"real speed":   {1, 90 * time.Second, start.Add(90 * time.Second)},
		"sixty times":  {60, time.Minute, start.Add(time.Hour)},
		"not yet run":  {10, 0, start},
		"half as fast": {0.5, time.Minute, start.Add(30 * time.Second)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := clock.New(start, tc.speed, wall.Now)
			if err != nil {
				t.Fatal(err)
			}
			wall.Advance(tc.advance)
			if got := c.Now(); !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := clock.New(start, 0, nil); err == nil {
		t.Error("speed 0 accepted")
	}
	c, err := clock.New(time.Time{}, 1, wall.Now)
	if err != nil || !c.Now().Equal(wall.Now()) {
		t.Errorf("zero start: got %v, want the wall clock %v", c.Now(), wall.Now())
	}
}

// TestShiftedSkip: Skip moves the clock forward at once and keeps its speed;
// a negative skip changes nothing.
func TestShiftedSkip(t *testing.T) {
	wall := clock.NewManual(time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC))
	start := time.Date(2025, 9, 17, 22, 30, 0, 0, time.UTC)
	c, err := clock.New(start, 60, wall.Now)
	if err != nil {
		t.Fatal(err)
	}
	c.Skip(11 * time.Hour)
	c.Skip(-time.Hour)
	wall.Advance(time.Minute)
	if got, want := c.Now(), start.Add(12*time.Hour); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
