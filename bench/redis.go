package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisBenchmark runs redis-benchmark against addr: cmd n times from c
// clients; its p50 and p99 are per call.
func redisBenchmark(addr string, n, c int, cmd []string) (result, error) {
	host, port, _ := net.SplitHostPort(addr)
	args := append([]string{"-h", host, "-p", port, "-n", strconv.Itoa(n), "-c", strconv.Itoa(c),
		"-r", "1000000000", "--csv"}, cmd...)
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	ctx := context.Background()
	use := cpuUse{load0: loadAvg(), redis: -redisCPU(ctx, rc)}
	cmdRB := exec.Command("redis-benchmark", args...)
	outb, err := cmdRB.Output()
	if err != nil {
		return result{}, fmt.Errorf("redis-benchmark: %w", err)
	}
	use.redis += redisCPU(ctx, rc)
	use.client = cmdRB.ProcessState.UserTime() + cmdRB.ProcessState.SystemTime()
	use.load1 = loadAvg()
	recs, err := csv.NewReader(strings.NewReader(string(outb))).ReadAll()
	if err != nil || len(recs) < 2 || len(recs[1]) < 7 {
		return result{}, fmt.Errorf("redis-benchmark: unexpected output %q", outb)
	}
	rps, _ := strconv.ParseFloat(recs[1][1], 64)
	ms := func(s string) time.Duration {
		f, _ := strconv.ParseFloat(s, 64)
		return time.Duration(f * float64(time.Millisecond))
	}
	return result{rps: rps, p50: ms(recs[1][4]), p99: ms(recs[1][6]), n: n, concurrent: c, cpu: use}, nil
}

type redisServer struct {
	addr string
	cmd  *exec.Cmd
	dir  string
}

// startRedis starts a throwaway redis-server (AOF everysec, as in
// production) on a free loopback port.
func startRedis() (*redisServer, error) {
	dir, err := os.MkdirTemp("", "crowdflow-bench-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s := &redisServer{addr: "127.0.0.1:" + port, cmd: cmd, dir: dir}
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return s, nil
		} else if time.Now().After(deadline) {
			s.stop()
			return nil, errors.Join(errors.New("redis-server did not start"), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}
