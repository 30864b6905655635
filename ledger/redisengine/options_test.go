package redisengine_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
)

// secret is the password in every URL below: it must never be printed.
const secret = "s3cr3t/pw"

func TestRedact(t *testing.T) {
	tests := map[string]struct{ url, want string }{
		"user info":            {"redis://:s3cr3t@h:6379/0", "redis://:xxxxx@h:6379/0"},
		"user and password":    {"rediss://app:s3cr3t@h:6380/1", "rediss://app:xxxxx@h:6380/1"},
		"no password":          {"redis://h:6379/0", "redis://h:6379/0"},
		"password parameter":   {"redis://h:26379/0?master_name=m&password=s3cr3t", "redis://h:26379/0?master_name=m&password=xxxxx"},
		"unparsable user info": {"redis://:s3cr3t/pw@h:6379/0", "redis://xxxxx@h:6379/0"},
		"unparsable parameter": {"redis://h:bad port/0?password=s3cr3t&addr=x:1", "redis://h:bad port/0?password=xxxxx&addr=x:1"},
		"not a URL":            {"s3cr3t", "xxxxx"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := redisengine.Redact(tc.url)
			if got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.url, got, tc.want)
			}
			if strings.Contains(got, "s3cr3t") {
				t.Errorf("Redact(%q) = %q: the password shows", tc.url, got)
			}
		})
	}
}

// TestDialRefuses checks that options which cannot work are refused as such
// (ErrOptions), before any connection, and that no error shows the password.
func TestDialRefuses(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := MustPasswordFile(t, secret)
	tests := map[string]redisengine.Options{
		"password with a slash, unescaped": {URL: "redis://:" + secret + "@127.0.0.1:1/0"},
		"bad port":                         {URL: "redis://:s3cr3t@127.0.0.1:port/0"},
		"unknown parameter":                {URL: "redis://:s3cr3t@127.0.0.1:1/0?pasword=s3cr3t"},
		"bad database":                     {URL: "redis://:s3cr3t@127.0.0.1:1/x"},
		"scheme":                           {URL: "http://:s3cr3t@127.0.0.1:1/0"},
		"sentinel and cluster":             {URL: "redis://:s3cr3t@127.0.0.1:1?master_name=m", Cluster: true},
		"tls flags without rediss":         {URL: "redis://:s3cr3t@127.0.0.1:1/0", CA: "ca.pem"},
		"cert without key":                 {URL: "rediss://:s3cr3t@127.0.0.1:1/0", Cert: "c.pem"},
		"missing CA file":                  {URL: "rediss://:s3cr3t@127.0.0.1:1/0", CA: filepath.Join(t.TempDir(), "none.pem")},
		"skip_verify without tls":          {URL: "redis://:s3cr3t@127.0.0.1:1/0?skip_verify=true"},
		"skip_verify not a boolean":        {URL: "rediss://:s3cr3t@127.0.0.1:1/0?skip_verify=maybe"},
		"empty password file":              {URL: "redis://127.0.0.1:1/0", PasswordFile: empty},
		"missing password file":            {URL: "redis://127.0.0.1:1/0", PasswordFile: empty + ".none"},
		"password twice":                   {URL: "redis://:s3cr3t@127.0.0.1:1/0", PasswordFile: pwFile},
		"sentinel password twice":          {URL: "redis://127.0.0.1:1/0?master_name=m&password=s3cr3t", PasswordFile: pwFile},
		"cluster bad addr":                 {URL: "redis://:s3cr3t@127.0.0.1:1?addr=nohost", Cluster: true},
		"cluster and wait":                 {URL: "redis://:s3cr3t@127.0.0.1:1", Cluster: true, WaitReplicas: 1},
		"negative wait":                    {URL: "redis://:s3cr3t@127.0.0.1:1/0", WaitReplicas: -1},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			var logged bytes.Buffer
			_, err := redisengine.Dial(t.Context(), o, slog.New(slog.NewTextHandler(&logged, nil)))
			if !errors.Is(err, redisengine.ErrOptions) {
				t.Fatalf("Dial: %v, want an error wrapping ErrOptions", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(logged.String(), "s3cr3t") {
				t.Errorf("the password shows: error %q, log %q", err, logged.String())
			}
		})
	}
}

// MustPasswordFile writes password to a file of tb and returns its path.
func MustPasswordFile(tb testing.TB, password string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "redis-password")
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestPassword dials a server that requires a password: through the URL,
// through a password file, and without or with a wrong one; no refusal
// shows the password.
func TestPassword(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: secret})
	addr := srv.Addr()
	tests := map[string]struct {
		o  redisengine.Options
		ok bool
	}{
		"in the URL, escaped": {redisengine.Options{URL: "redis://:s3cr3t%2Fpw@" + addr + "/0"}, true},
		"in a file":           {redisengine.Options{URL: "redis://" + addr + "/0", PasswordFile: MustPasswordFile(t, secret)}, true},
		"none":                {redisengine.Options{URL: "redis://" + addr + "/0"}, false},
		"wrong, in the URL":   {redisengine.Options{URL: "redis://:s3cr3t%2Fpx@" + addr + "/0"}, false},
		"wrong, in a file":    {redisengine.Options{URL: "redis://" + addr + "/0", PasswordFile: MustPasswordFile(t, "s3cr3t/px")}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			eng, err := redisengine.Dial(t.Context(), tc.o, discard)
			if err == nil {
				eng.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("Dial: %v, want success %v", err, tc.ok)
			}
			if err != nil && (strings.Contains(err.Error(), "s3cr3t") || errors.Is(err, redisengine.ErrOptions)) {
				t.Errorf("Dial: %q: want a connection error without the password", err)
			}
		})
	}
}

// TestTLS dials a server that serves TLS and requires a client certificate
// from the test's authority: with --redis-ca, --redis-cert and --redis-key
// it answers; without the client certificate or the authority it does not;
// skip_verify works without the authority and is logged as a warning.
func TestTLS(t *testing.T) {
	certs := redistest.MustCerts(t)
	srv := redistest.Start(t, redistest.Options{TLS: &redistest.TLS{Cert: certs.ServerCert, Key: certs.ServerKey, CA: certs.CA}})
	url := "rediss://" + srv.TLSAddr() + "/0"
	tests := map[string]struct {
		o       redisengine.Options
		ok      bool
		warning bool
	}{
		"ca and client certificate": {redisengine.Options{URL: url, CA: certs.CA, Cert: certs.ClientCert, Key: certs.ClientKey}, true, false},
		"no client certificate":     {redisengine.Options{URL: url, CA: certs.CA}, false, false},
		"no ca":                     {redisengine.Options{URL: url, Cert: certs.ClientCert, Key: certs.ClientKey}, false, false},
		"skip_verify":               {redisengine.Options{URL: url + "?skip_verify=true", Cert: certs.ClientCert, Key: certs.ClientKey}, true, true},
		"plain to the tls port":     {redisengine.Options{URL: "redis://" + srv.TLSAddr() + "/0"}, false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var logged bytes.Buffer
			eng, err := redisengine.Dial(t.Context(), tc.o, slog.New(slog.NewTextHandler(&logged, nil)))
			if err == nil {
				eng.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("Dial: %v, want success %v", err, tc.ok)
			}
			if got := strings.Contains(logged.String(), "skip_verify"); got != tc.warning {
				t.Errorf("skip_verify warning logged: %v, want %v (log %q)", got, tc.warning, logged.String())
			}
		})
	}
}

// TestWaitReplicas runs a script on a primary whose one replica listens
// through a proxy: with WaitReplicas 1 it returns once the replica has the
// write, and ErrNotReplicated while the link is held, although the script
// ran on the primary.
func TestWaitReplicas(t *testing.T) {
	primary := redistest.Start(t, redistest.Options{})
	link := redistest.StartProxy(t, primary.Addr())
	_, port, _ := net.SplitHostPort(link.Addr())
	replica := redistest.Start(t, redistest.Options{Args: []string{"--replicaof", "127.0.0.1", port}})
	rc := replica.Client(t)
	ctx := t.Context()
	for {
		info, err := rc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("replica never in sync")
		case <-time.After(20 * time.Millisecond):
		}
	}
	eng, err := redisengine.Dial(ctx, redisengine.Options{URL: primary.URL(), WaitReplicas: 1}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	incr := ledger.NewScript("incr", "return redis.call('INCR', KEYS[1])")
	// A loaded machine may keep the replica's first acknowledgement past
	// WaitTimeout: that answer is ErrNotReplicated, and a later call goes
	// through. What must hold is that a call that returns has its write on
	// the replica.
	var n int64
	for {
		got, err := eng.Eval(ctx, incr, []string{"{w}:n"})
		if errors.Is(err, redisengine.ErrNotReplicated) && ctx.Err() == nil {
			continue
		}
		if err != nil {
			t.Fatalf("eval with the replica listening: %v", err)
		}
		n = got.(int64)
		break
	}
	if got := rc.Get(ctx, "{w}:n").Val(); got != strconv.FormatInt(n, 10) {
		t.Errorf("replica has %q once Eval returned %d, want it", got, n)
	}
	link.Hold(true)
	_, err = eng.Eval(ctx, incr, []string{"{w}:n"})
	link.Hold(false)
	if !errors.Is(err, redisengine.ErrNotReplicated) {
		t.Fatalf("eval with the link held: %v, want ErrNotReplicated", err)
	}
	if got, want := primary.Client(t).Get(ctx, "{w}:n").Val(), strconv.FormatInt(n+1, 10); got != want {
		t.Errorf("primary has %q, want %s: the script ran, only its acknowledgement failed", got, want)
	}
}
