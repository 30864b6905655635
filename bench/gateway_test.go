package main

import (
	"testing"
	"time"

	"crowdflow/checkin"
)

// BenchmarkGatewayClosedLoop is the closed-loop row as a Go benchmark, for
// pprof: scans through one real gateway on its own redis-server, from 50
// scanners in this process, each a new ticket signed beforehand (outside the
// timing). Allocations and the processor time per scan are both ends'
// (gateway and scanners); cpu-µs/scan is this process's, redis-µs/scan
// redis-server's.
//
//	go test -run '^$' -bench GatewayClosedLoop -benchtime 20000x -cpuprofile cpu.out -memprofile mem.out ./bench
func BenchmarkGatewayClosedLoop(b *testing.B) {
	g := mustGateway(b)
	if _, err := g.closed(500, 50); err != nil { // warm-up: connections, script cache, heap
		b.Fatal(err)
	}
	payloads, err := g.tickets(b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	got, _, err := g.driveWith(payloads, 50, checkin.In, nil)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(b.N) / float64(time.Microsecond) }
	b.ReportMetric(got.rps, "scans/s")
	b.ReportMetric(per(got.cpu.client), "cpu-µs/scan")
	b.ReportMetric(per(got.cpu.redis), "redis-µs/scan")
}
