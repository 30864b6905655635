//go:build !drill

package main

// drillSize of `make test`: each drill briefly, to keep it working.
var drillSize = struct {
	devices int
	rate    float64 // scans/s from all devices together
	before  int     // scans acknowledged before the fault
	after   int     // scans acknowledged after recovery before the load stops
	full    bool    // the figures are asserted (timings need a quiet machine)
}{devices: 4, rate: 100, before: 50, after: 50}
