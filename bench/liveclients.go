package main

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The live clients of a latency row run in this process (-live-inproc) or,
// by default, in a child process (this program again, with liveChildEnv
// set). In this process, 5,000 clients' reader goroutines share the
// gateway's Go scheduler: each update readies 5,000 of them through the
// same network poller as the scanner's verdict, which then waits behind
// them; that is the bench's cost, not the gateway's. In a child they
// still share the machine's cores (the OS schedules both processes), not
// the gateway's run queues.

// Client kinds a child can dial.
const (
	kindCrowdflow  = "crowdflow"
	kindCentrifugo = "centrifugo"
)

// clientSet is a set of connected live clients, each recording when its
// root zone's entries grew.
type clientSet interface {
	// collect waits (at most liveCatchUp) until every client has seen the
	// root zone's entries reach target, closes them all, and returns each
	// client's arrivals.
	collect(target int) ([][]arrival, error)
	// close closes the clients without collecting (on an error path).
	close()
}

// localClients are live clients in this process.
type localClients []*watcher

func (ws localClients) close() { closeWatchers(ws) }

func (ws localClients) collect(target int) ([][]arrival, error) {
	if err := waitAll(ws, target); err != nil {
		closeWatchers(ws)
		return nil, err
	}
	closeWatchers(ws)
	if err := firstWatcherErr(ws); err != nil {
		return nil, err
	}
	out := make([][]arrival, len(ws))
	for i, w := range ws {
		out[i] = w.arrivals
	}
	return out, nil
}

// waitAll waits (at most liveCatchUp) until every client has seen the root
// zone's entries reach target.
func waitAll(ws []*watcher, target int) error {
	for deadline := time.Now().Add(liveCatchUp); ; time.Sleep(20 * time.Millisecond) {
		behind := 0
		for _, w := range ws {
			if w.last.Load() < int64(target) {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d clients did not see the entries reach %d within %s of the last message (first error: %v)",
				behind, len(ws), target, liveCatchUp, firstWatcherErr(ws))
		}
	}
}

// childClients are live clients in a child process.
type childClients struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *strings.Builder
	// before and after are the child's own memory before it dialled and
	// once every client had its first message.
	before, after memory
}

// startClients runs a child that connects clients live clients of kind to
// addr (with tok; root is the zone whose entries they watch) and returns
// once every one has its first message.
func startClients(kind, addr, tok, root string, clients int) (*childClients, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %s %s", liveChildEnv, kind, addr, clients, root, tok))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &childClients{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), stderr: &strings.Builder{}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := c.out.ReadString('\n')
		line <- s
	}()
	var ready string
	select {
	case ready = <-line:
	case <-time.After(2 * time.Minute):
		c.kill()
		return nil, c.fail(errors.New("not ready within 2 minutes"))
	}
	if _, err := fmt.Sscanf(ready, "ready %d %d %d %d %d %d", &c.before.rss, &c.before.heap, &c.before.stack,
		&c.after.rss, &c.after.heap, &c.after.stack); err != nil {
		c.kill()
		return nil, c.fail(fmt.Errorf("said %q: %w", ready, err))
	}
	return c, nil
}

func (c *childClients) kill() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

func (c *childClients) fail(err error) error {
	return fmt.Errorf("live child: %w: %s", err, strings.TrimSpace(c.stderr.String()))
}

// close ends the child: its stdin closes, it closes its clients and ends.
func (c *childClients) close() { _ = c.end() }

// end closes the child's stdin and waits (30 s at most) for it to end.
func (c *childClients) end() error {
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		err = errors.Join(errors.New("did not end within 30 s"), <-done)
	}
	if err != nil {
		return c.fail(err)
	}
	return nil
}

// childReport is what a child sends back after "until": each client's
// arrivals as (entries, Unix nanoseconds) pairs, or what went wrong.
type childReport struct {
	Arrivals [][]int64
	Err      string
}

func (c *childClients) collect(target int) ([][]arrival, error) {
	if _, err := fmt.Fprintf(c.stdin, "until %d\n", target); err != nil {
		c.kill()
		return nil, c.fail(err)
	}
	var rep childReport
	if err := gob.NewDecoder(c.out).Decode(&rep); err != nil {
		c.kill()
		return nil, c.fail(fmt.Errorf("read its arrivals: %w", err))
	}
	if err := c.end(); err != nil {
		return nil, err
	}
	if rep.Err != "" {
		return nil, errors.New(rep.Err)
	}
	out := make([][]arrival, len(rep.Arrivals))
	for i, a := range rep.Arrivals {
		out[i] = make([]arrival, len(a)/2)
		for j := range out[i] {
			out[i][j] = arrival{entries: int(a[2*j]), at: a[2*j+1]}
		}
	}
	return out, nil
}

// liveChildMain is the child of startClients: it connects the live
// clients, says "ready" with its memory before and after, and then either
// reads "until N" on its stdin (waits for every client to see the entries
// reach N, closes them and writes their arrivals, gob-encoded, on its
// stdout) or the end of its stdin (closes them). It returns the exit code.
func liveChildMain(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 5 || (f[0] != kindCrowdflow && f[0] != kindCentrifugo) {
		fmt.Fprintf(os.Stderr, "%s: %q, want kind (%s or %s) addr clients root token\n", liveChildEnv, spec,
			kindCrowdflow, kindCentrifugo)
		return 2
	}
	kind, addr, root, tok := f[0], f[1], f[3], f[4]
	n, err := strconv.Atoi(f[2])
	if err == nil {
		_, err = raiseFDLimit(uint64(n) + fdSpare)
	}
	var before, after memory
	if err == nil {
		before, err = memNow()
	}
	var ws []*watcher
	if err == nil {
		dial := func() (*watcher, error) { return dialWatcher(addr, tok, root) }
		if kind == kindCentrifugo {
			dial = func() (*watcher, error) { return dialCentrifugo(addr, tok, root) }
		}
		ws, err = dialMany(n, dial)
	}
	if err == nil {
		after, err = memNow()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("ready %d %d %d %d %d %d\n", before.rss, before.heap, before.stack, after.rss, after.heap, after.stack)
	in := bufio.NewReader(os.Stdin)
	line, _ := in.ReadString('\n')
	var target int
	if _, err := fmt.Sscanf(line, "until %d", &target); err != nil {
		// The end of stdin: close the clients and end.
		closeWatchers(ws)
		if err := firstWatcherErr(ws); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	var rep childReport
	arr, err := localClients(ws).collect(target)
	if err != nil {
		rep.Err = err.Error()
	}
	for _, a := range arr {
		pairs := make([]int64, 0, 2*len(a))
		for _, x := range a {
			pairs = append(pairs, int64(x.entries), x.at)
		}
		rep.Arrivals = append(rep.Arrivals, pairs)
	}
	if err := gob.NewEncoder(os.Stdout).Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, _ = io.Copy(io.Discard, in)
	return 0
}
