package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// cpuUse is the processor time a measurement took on each side: the
// client side (this process — the gateway and its scanners — or
// redis-benchmark) and redis-server. On this shared machine throughput
// moves with the other work it runs, but the processor time per scan
// hardly does: it says where a scan's cost goes.
type cpuUse struct {
	client, redis time.Duration
	load0, load1  string // the 1-minute load average before and after
}

// selfCPU is the processor time this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the processor time redis-server has used, user and system
// (INFO cpu, to the microsecond), 0 when it cannot be read.
func redisCPU(ctx context.Context, c redis.UniversalClient) time.Duration {
	if c == nil {
		return 0
	}
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// cpuNote is the footnote of a row that has its processor time and its
// reference's: per scan on each side, and what the whole machine could do
// at that cost (2 cores: the processor time of both sides per scan; Redis
// runs scripts on one core: its own per scan).
func cpuNote(what string, got, ref result) string {
	if got.cpu.client == 0 || ref.cpu.client == 0 {
		return ""
	}
	per := func(d time.Duration, n int) string {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(n)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%s: processor time per scan: the gateway's process (gateway and its %d scanners) %s, "+
		"redis-server %s; reference: redis-benchmark %s, redis-server %s. Load average (1 min) %s → %s; "+
		"reference %s → %s.", what, got.concurrent, per(got.cpu.client, got.n), per(got.cpu.redis, got.n),
		per(ref.cpu.client, ref.n), per(ref.cpu.redis, ref.n), got.cpu.load0, got.cpu.load1, ref.cpu.load0, ref.cpu.load1)
}
