//go:build drill

package main

// drillSize of `make drill`: the load, 500 scans/s from 20 scanner
// connections, for a few thousand scans around each fault.
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
}{devices: 20, rate: 500, before: 3000, after: 3000, full: true, sequential: 20000, stormLive: 2000, stormDevices: 50}
