//go:build !drill

package main

// drillSize of `make test`: each drill briefly, to keep it working.
var drillSize = struct {
	devices int
	rate    float64 // scans/s from all devices together
	before  int     // scans acknowledged before the fault
	after   int     // scans acknowledged after recovery before the load stops
	full    bool    // the figures are asserted (timings need a quiet machine)
	// sequential is the number of scans of each run of the replication cost
	sequential int
	// stormLive live clients and stormDevices devices reconnect at once
	stormLive, stormDevices int
}{devices: 4, rate: 100, before: 50, after: 50, sequential: 300, stormLive: 50, stormDevices: 4}
