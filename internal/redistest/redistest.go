// Package redistest starts real redis-server processes for tests: each on a
// free loopback port in its own temporary directory, so a test can kill one
// with SIGKILL and restart it from its append-only file.
//
// It never touches the Redis that may already run on the machine's default
// port.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a redis-server may take to accept connections.
const startTimeout = 10 * time.Second

// Options configure a server.
type Options struct {
	// AppendFsync is "always", "everysec" or "no"; "" disables the AOF.
	AppendFsync string
	// Password, if set, is required of clients (requirepass) and given to
	// the primary by a replica (masterauth).
	Password string
	// TLS, if set, makes the server also listen with TLS on TLSAddr.
	TLS *TLS
	// Args are further redis-server arguments, such as
	// "--replicaof", "127.0.0.1", "6380".
	Args []string
}

// TLS are the PEM files of a server's TLS port.
type TLS struct {
	Cert, Key string
	// CA, if set, is the authority of the client certificates the server
	// requires; without it the server asks for none.
	CA string
}

// Server is one redis-server (or redis-sentinel) process owned by a test.
type Server struct {
	tb       testing.TB
	dir      string
	port     int
	tlsPort  int
	opts     Options
	sentinel []string // the lines of a sentinel's configuration; nil for a server
	cmd      *exec.Cmd
	done     chan struct{}
}

// Start starts a redis-server for tb and stops it when tb ends. It fails tb
// with a clear message when redis-server is not installed (make test installs it).
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redis-server not found on PATH: run `make test`, which installs it (apt-get install redis-server)")
	}
	s := &Server{tb: tb, dir: tb.TempDir(), opts: opts}
	s.port = freePort(tb)
	if opts.TLS != nil {
		s.tlsPort = freePort(tb)
	}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// TLSAddr is host:port of the server's TLS port; "" without one.
func (s *Server) TLSAddr() string {
	if s.tlsPort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tlsPort))
}

// Running reports whether the process runs (it was not killed).
func (s *Server) Running() bool { return s.cmd != nil }

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir is the server's working directory (its AOF lives there).
func (s *Server) Dir() string { return s.dir }

// Kill sends SIGKILL and waits for the process to die: no shutdown, no
// final fsync, as in a crash.
func (s *Server) Kill() {
	s.tb.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same port and directory, so it
// loads its AOF. The server must have been killed first.
func (s *Server) Restart() {
	s.tb.Helper()
	if s.cmd != nil {
		s.tb.Fatalf("redistest: restart of a running server")
	}
	s.start()
}

func (s *Server) start() {
	s.tb.Helper()
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	bin := "redis-server"
	if s.sentinel != nil {
		// A sentinel rewrites its configuration file: write it once, and
		// let a restart find what the sentinel learnt.
		conf := filepath.Join(s.dir, "sentinel.conf")
		if _, err := os.Stat(conf); err != nil {
			if err := os.WriteFile(conf, []byte(strings.Join(s.sentinel, "\n")+"\n"), 0o600); err != nil {
				s.tb.Fatalf("sentinel config: %v", err)
			}
		}
		bin, args = "redis-sentinel", append([]string{conf}, args...)
	} else {
		// --save "": no RDB snapshots; a replica's first sync starts at
		// once instead of after the default 5 s wait for more replicas.
		args = append(args, "--save", "", "--repl-diskless-sync-delay", "0")
		if s.opts.AppendFsync != "" {
			args = append(args, "--appendonly", "yes", "--appendfsync", s.opts.AppendFsync)
		} else {
			args = append(args, "--appendonly", "no")
		}
	}
	if s.opts.Password != "" {
		args = append(args, "--requirepass", s.opts.Password, "--masterauth", s.opts.Password)
	}
	if t := s.opts.TLS; t != nil {
		args = append(args, "--tls-port", strconv.Itoa(s.tlsPort), "--tls-cert-file", t.Cert, "--tls-key-file", t.Key)
		if t.CA != "" {
			args = append(args, "--tls-ca-cert-file", t.CA, "--tls-auth-clients", "yes")
		} else {
			args = append(args, "--tls-auth-clients", "no")
		}
	}
	args = append(args, s.opts.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	if err := waitReady(s.Addr(), s.opts.Password, done); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		s.tb.Fatalf("redis-server on %s: %v\n%s", s.Addr(), err, log)
	}
}

func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// waitReady polls with PING until the server answers PONG and has finished
// loading its AOF, the process dies, or startTimeout passes.
func waitReady(addr, password string, died <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-died:
			return fmt.Errorf("process exited")
		default:
		}
		if err := ping(addr, password); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", startTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ping(addr, password string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(c)
	if password != "" {
		if _, err := fmt.Fprintf(c, "AUTH %s\r\n", password); err != nil {
			return err
		}
		if line, err := r.ReadString('\n'); err != nil {
			return err
		} else if !strings.HasPrefix(line, "+OK") {
			return fmt.Errorf("auth: %q", strings.TrimSpace(line))
		}
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("ping: %q", strings.TrimSpace(line))
	}
	return nil
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before redis-server binds it; the start then fails loudly.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Context returns a context that ends with tb.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	return ctx
}
