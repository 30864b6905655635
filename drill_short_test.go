//go:build !drill

package main

// drillSize of `make test`: each drill briefly, to keep it working.
var drillSize = drillSizes{devices: 4, rate: 100, before: 50, after: 50, sequential: 300, stormLive: 50, stormDevices: 4, stormRate: 8, stormScans: 10, laneScans: 3}
