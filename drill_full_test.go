//go:build drill

package main

import "time"

// drillSize of `make drill`: the load, 500 scans/s from 20 scanner
// connections, for a few thousand scans around each fault.
var drillSize = drillSizes{devices: 20, rate: 500, before: 3000, after: 3000, full: true, sequential: 20000, stormLive: 2000, stormDevices: 50, stormRate: 500, stormScans: 3000, laneScans: 20,
	cliScanners: 10, cliRate: 10, cliBefore: 50, cliDown: 20, cliAfter: 50, pageScans: 10, linkDelay: 250 * time.Millisecond}
