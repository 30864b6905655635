package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// formTimeout bounds how long a Cluster or a Sentinel setup may take to
// settle after its processes started.
const formTimeout = 30 * time.Second

// Cluster is a Redis Cluster of real redis-server processes on loopback
// ports: Primaries primaries, each with Replicas replicas.
type Cluster struct {
	Nodes []*Server // primaries first, as redis-cli --cluster create takes them
}

// ClusterOptions shape a Cluster; Server is each node's (its Args are
// added to the cluster settings).
type ClusterOptions struct {
	Primaries, Replicas int
	Server              Options
}

// StartCluster starts a Cluster for tb, with slots spread evenly over the
// primaries, and waits until every node says cluster_state:ok. It stops
// with tb.
func StartCluster(tb testing.TB, opts ClusterOptions) *Cluster {
	tb.Helper()
	if opts.Primaries < 3 {
		tb.Fatalf("redistest: a Redis Cluster needs at least 3 primaries, not %d", opts.Primaries)
	}
	c := &Cluster{}
	n := opts.Primaries * (1 + opts.Replicas)
	args := []string{"--cluster", "create"}
	for range n {
		o := opts.Server
		o.Args = append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000"}, o.Args...)
		s := Start(tb, o)
		c.Nodes = append(c.Nodes, s)
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	if opts.Server.Password != "" {
		args = append(args, "-a", opts.Server.Password, "--no-auth-warning")
	}
	ctx, cancel := context.WithTimeout(context.Background(), formTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, s := range c.Nodes {
		cl := s.Client(tb)
		poll(tb, ctx, "cluster_state:ok on "+s.Addr(), func() (bool, error) {
			info, err := cl.ClusterInfo(ctx).Result()
			return strings.Contains(info, "cluster_state:ok"), err
		})
		// Every node must know every other and agree on the slots, or a
		// client may be sent to a node that does not yet know its slot.
		poll(tb, ctx, "all nodes known to "+s.Addr(), func() (bool, error) {
			nodes, err := cl.ClusterNodes(ctx).Result()
			return strings.Count(strings.TrimSpace(nodes), "\n")+1 == n && !strings.Contains(nodes, "handshake"), err
		})
	}
	return c
}

// Addrs are host:port of every node.
func (c *Cluster) Addrs() []string {
	a := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		a[i] = s.Addr()
	}
	return a
}

// URL is a redis:// URL naming every node as a seed, for --redis with
// --redis-cluster.
func (c *Cluster) URL() string {
	return seedURL(c.Addrs(), "", "")
}

// Client returns a go-redis cluster client on c, closed with tb.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Password: c.Nodes[0].opts.Password})
	tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Client returns a go-redis client on s (its plain port), closed with the
// test that started s.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	cl := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: s.opts.Password})
	tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Sentinel is one primary with its replicas and the sentinels that watch
// them, all real processes on loopback ports.
type Sentinel struct {
	Master    string    // the name the sentinels know the primary by
	Servers   []*Server // the first primary, then its replicas
	Sentinels []*Server
	Links     []*Proxy // each replica's link to the first primary, with Proxied
}

// SentinelOptions shape a Sentinel setup. Server is each data server's;
// with a Password the sentinels authenticate to the servers (the sentinels
// themselves ask for none).
type SentinelOptions struct {
	Replicas, Sentinels int
	// DownAfter is how long a primary must be silent before the sentinels
	// fail it over (down-after-milliseconds); 0 means 1 s.
	DownAfter time.Duration
	Server    Options
	// Proxied puts a Proxy on each replica's link to the first primary
	// (Sentinel.Links), so that a test can hold or cut replication.
	Proxied bool
}

// StartSentinel starts a primary, its replicas and the sentinels for tb,
// and waits until every sentinel knows every replica and every other
// sentinel, so that a failover can start at once. It stops with tb.
func StartSentinel(tb testing.TB, opts SentinelOptions) *Sentinel {
	tb.Helper()
	if _, err := exec.LookPath("redis-sentinel"); err != nil {
		tb.Fatalf("redis-sentinel not found on PATH: run `make test`, which installs it (apt-get install redis-sentinel)")
	}
	if opts.DownAfter == 0 {
		opts.DownAfter = time.Second
	}
	st := &Sentinel{Master: "crowdflow"}
	primary := Start(tb, opts.Server)
	st.Servers = append(st.Servers, primary)
	for range opts.Replicas {
		o := opts.Server
		port := primary.port
		if opts.Proxied {
			p := StartProxy(tb, primary.Addr())
			st.Links = append(st.Links, p)
			port = p.ln.Addr().(*net.TCPAddr).Port
		}
		o.Args = append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(port)}, o.Args...)
		st.Servers = append(st.Servers, Start(tb, o))
	}
	conf := []string{
		"sentinel monitor " + st.Master + " 127.0.0.1 " + strconv.Itoa(primary.port) + " " + strconv.Itoa(opts.Sentinels/2+1),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", st.Master, opts.DownAfter.Milliseconds()),
		"sentinel failover-timeout " + st.Master + " 10000",
		"sentinel parallel-syncs " + st.Master + " 1",
	}
	if opts.Server.Password != "" {
		conf = append(conf, "sentinel auth-pass "+st.Master+" "+opts.Server.Password)
	}
	for range opts.Sentinels {
		s := &Server{tb: tb, dir: tb.TempDir(), sentinel: conf}
		s.port = freePort(tb)
		s.start()
		tb.Cleanup(s.stop)
		st.Sentinels = append(st.Sentinels, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), formTimeout)
	defer cancel()
	for _, s := range st.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
		poll(tb, ctx, "sentinel "+s.Addr()+" knows the setup", func() (bool, error) {
			m, err := sc.Master(ctx, st.Master).Result()
			return m["num-slaves"] == strconv.Itoa(opts.Replicas) &&
				m["num-other-sentinels"] == strconv.Itoa(opts.Sentinels-1), err
		})
		_ = sc.Close()
	}
	// The replicas must have synced, or the first failover finds none fit.
	for _, r := range st.Servers[1:] {
		cl := r.Client(tb)
		poll(tb, ctx, "replica "+r.Addr()+" in sync", func() (bool, error) {
			info, err := cl.Info(ctx, "replication").Result()
			return strings.Contains(info, "master_link_status:up"), err
		})
	}
	return st
}

// URL is the redis:// URL of the setup for --redis: the first sentinel as
// its host, the others as addr=, and master_name.
func (st *Sentinel) URL() string {
	addrs := make([]string, len(st.Sentinels))
	for i, s := range st.Sentinels {
		addrs[i] = s.Addr()
	}
	return seedURL(addrs, "/0", "master_name="+st.Master)
}

// Primary asks the sentinels which server is the primary now.
func (st *Sentinel) Primary(tb testing.TB) *Server {
	tb.Helper()
	for _, s := range st.Sentinels {
		if !s.Running() {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
		addr, err := sc.GetMasterAddrByName(context.Background(), st.Master).Result()
		_ = sc.Close()
		if err != nil {
			continue
		}
		for _, srv := range st.Servers {
			if srv.Addr() == net.JoinHostPort(addr[0], addr[1]) {
				return srv
			}
		}
	}
	tb.Fatalf("redistest: no sentinel names a primary among the servers")
	return nil
}

// seedURL is redis://addrs[0]path?query&addr=addrs[1]&addr=...
func seedURL(addrs []string, path, query string) string {
	var q []string
	if query != "" {
		q = append(q, query)
	}
	for _, a := range addrs[1:] {
		q = append(q, "addr="+a)
	}
	u := "redis://" + addrs[0] + path
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	return u
}

// poll calls cond until it reports true, failing tb with what when ctx ends
// first.
func poll(tb testing.TB, ctx context.Context, what string, cond func() (bool, error)) {
	tb.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok && err == nil {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: waiting for %s: %v (last error: %v)", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// Owner is the primary that serves slot now.
func (c *Cluster) Owner(tb testing.TB, slot int) *Server {
	tb.Helper()
	ctx := context.Background()
	slots, err := c.Nodes[0].Client(tb).ClusterSlots(ctx).Result()
	if err != nil {
		tb.Fatalf("cluster slots: %v", err)
	}
	for _, r := range slots {
		if int(r.Start) <= slot && slot <= int(r.End) {
			for _, s := range c.Nodes {
				if s.Addr() == r.Nodes[0].Addr {
					return s
				}
			}
		}
	}
	tb.Fatalf("redistest: no primary serves slot %d", slot)
	return nil
}

// MigrateSlot moves slot from its primary to the primary to, as
// redis-cli --cluster reshard does: IMPORTING on to, MIGRATING on the
// source, MIGRATE of its keys batch by batch, then the slot assigned to to
// on every primary. Between the steps clients get ASK and TRYAGAIN, and
// after them MOVED. It returns the number of keys moved.
func (c *Cluster) MigrateSlot(tb testing.TB, slot int, to *Server) int {
	tb.Helper()
	ctx := context.Background()
	from := c.Owner(tb, slot)
	if from == to {
		tb.Fatalf("redistest: slot %d is already on %s", slot, to.Addr())
	}
	id := func(s *Server) string {
		v, err := s.Client(tb).Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			tb.Fatalf("cluster myid of %s: %v", s.Addr(), err)
		}
		return v
	}
	fromID, toID := id(from), id(to)
	src, dst := from.Client(tb), to.Client(tb)
	must := func(err error, what string) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("redistest: migrate slot %d: %s: %v", slot, what, err)
		}
	}
	must(dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID).Err(), "importing")
	must(src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID).Err(), "migrating")
	moved := 0
	for {
		// A few keys at a time, so that scans meet the slot half moved.
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 3).Result()
		must(err, "getkeysinslot")
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", to.port, "", 0, 5000}
		if c.Nodes[0].opts.Password != "" {
			args = append(args, "AUTH", c.Nodes[0].opts.Password)
		}
		args = append(args, "KEYS")
		for _, k := range keys {
			args = append(args, k)
		}
		must(src.Do(ctx, args...).Err(), "migrate")
		moved += len(keys)
	}
	for _, s := range c.Nodes {
		if s.Running() && c.isPrimary(tb, s) {
			must(s.Client(tb).Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err(), "node on "+s.Addr())
		}
	}
	return moved
}

func (c *Cluster) isPrimary(tb testing.TB, s *Server) bool {
	tb.Helper()
	info, err := s.Client(tb).Info(context.Background(), "replication").Result()
	if err != nil {
		tb.Fatalf("info replication of %s: %v", s.Addr(), err)
	}
	return strings.Contains(info, "role:master")
}
