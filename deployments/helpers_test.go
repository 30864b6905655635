package deployments_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitTimeout bounds every wait of these tests for a process or an alert:
// a deadline, not a sleep.
const waitTimeout = 90 * time.Second

// MustTool returns the path of a program on PATH, or fails the test saying
// how to get it (make test installs it: scripts/deps.sh).
func MustTool(tb testing.TB, names ...string) string {
	tb.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	tb.Fatalf("%s not found on PATH: run `make test`, which installs it (scripts/deps.sh)", strings.Join(names, " or "))
	return ""
}

// MustRun runs a short command and returns its standard output.
func MustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// cleanEnv is the environment without CROWDFLOW_ variables that a developer
// may have set, which would change the flags of the processes under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CROWDFLOW_") {
			env = append(env, kv)
		}
	}
	return env
}

// The crowdflow binary, built once for all the tests of the package.
var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// TestMain removes the built binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// MustBuild builds the crowdflow binary (once per test run) and returns its path.
func MustBuild(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "crowdflow-kit-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "crowdflow")
		cmd := exec.Command("go", "build", "-o", buildBin, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildBin
}

// Proc is a long-running process under test; it is stopped (SIGTERM, then
// SIGKILL) when the test ends, and its output is shown if the test failed.
type Proc struct {
	name string
	cmd  *exec.Cmd
	log  string // its standard output and error
	done chan struct{}
}

// MustStart starts a process for tb.
func MustStart(tb testing.TB, name, bin string, args ...string) *Proc {
	tb.Helper()
	p := &Proc{name: name, cmd: exec.Command(bin, args...), log: filepath.Join(tb.TempDir(), name+".log"),
		done: make(chan struct{})}
	p.cmd.Env = cleanEnv()
	out, err := os.Create(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close() // the process holds its own copy
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if tb.Failed() {
			out := p.Output()
			tb.Logf("%s output (tail):\n%s", name, out[max(0, len(out)-3000):])
		}
	})
	return p
}

// WaitHTTP polls url until it answers 200, failing tb if the process dies
// first or waitTimeout passes.
func (p *Proc) WaitHTTP(tb testing.TB, url string) {
	tb.Helper()
	Eventually(tb, p.name+" ready at "+url, func() bool {
		select {
		case <-p.done:
			tb.Fatalf("%s exited before it was ready", p.name)
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Eventually polls cond every 50 ms until it holds, failing tb after
// waitTimeout.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			tb.Fatalf("%s: not within %s", what, waitTimeout)
		case <-tick.C:
		}
	}
}

// FreeAddr is a free loopback host:port. Another process could take it
// before ours binds it; the start then fails loudly.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Output is what the process has written so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}
