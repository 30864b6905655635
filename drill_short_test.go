//go:build !drill

package main

import "time"

// drillSize of `make test`: each drill briefly, to keep it working.
var drillSize = drillSizes{devices: 4, rate: 100, before: 50, after: 50, sequential: 300, stormLive: 50, stormDevices: 4, stormRate: 8, stormScans: 10, laneScans: 3,
	cliScanners: 3, cliRate: 5, cliBefore: 3, cliDown: 2, cliAfter: 3, pageScans: 2, linkDelay: 100 * time.Millisecond}
