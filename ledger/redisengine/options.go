package redisengine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrOptions marks options that cannot work whatever the server says: a URL
// that does not parse, flags that contradict it, an unreadable file. Callers
// report it as bad usage.
var ErrOptions = errors.New("redis options")

// Options say how to reach Redis: what the --redis flags of every command
// give. The URL takes go-redis' forms (CONTRACT §1): redis:// or rediss://
// for one server; the same with ?master_name=NAME (and &addr=host:port for
// each further sentinel) for Sentinel, the URL's host being a sentinel; with
// Cluster set, the URL's host and each addr= are Cluster seed nodes.
type Options struct {
	URL     string
	Cluster bool
	// PasswordFile holds the password of the Redis servers (the primary and
	// replicas under Sentinel, every node of a Cluster), so that it shows
	// neither in ps nor in the URL. One line; a final newline is dropped.
	PasswordFile string
	// CA, Cert and Key are PEM files for rediss://: the authority that signed
	// the servers' certificates (instead of the system's), and a client
	// certificate with its key for servers that ask for one.
	CA, Cert, Key string
	// WaitReplicas, if > 0, makes every script wait (WAIT) until that many
	// replicas have its writes, or fail with ErrNotReplicated: a failover
	// then loses no acknowledged scan, at the cost of a round trip to a
	// replica per scan. Not with a Cluster.
	WaitReplicas int
}

// Kind names the topology of a URL: "redis" (one server), "redis sentinel"
// or "redis cluster".
func (o Options) Kind() string {
	switch {
	case o.Cluster:
		return "redis cluster"
	case strings.Contains(o.URL, "master_name="):
		return "redis sentinel"
	}
	return "redis"
}

// redacted stands for a secret in what is printed.
const redacted = "xxxxx"

// Redact returns raw with the password of its user info and any password
// query parameter replaced by xxxxx, also when raw does not parse as a URL:
// it is what may be printed of a Redis URL.
func Redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
		if q := u.Query(); q.Has("password") {
			q.Set("password", redacted)
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	// Not a URL: keep the scheme and what follows the last @ (the host
	// part), and hide everything between them, whatever it holds.
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return redacted
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = redacted + rest[i:]
	}
	if i := strings.Index(rest, "password="); i >= 0 {
		end := strings.IndexByte(rest[i:], '&')
		tail := ""
		if end >= 0 {
			tail = rest[i+end:]
		}
		rest = rest[:i] + "password=" + redacted + tail
	}
	return scheme + "://" + rest
}

// client is a go-redis client built from Options, before it has been asked
// anything.
type client struct {
	c       redis.UniversalClient
	kind    string
	wait    int
	secrets []string // what must never be printed: the passwords in use
}

// scrub removes every secret of c from err's text.
func (c *client) scrub(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	clean := s
	for _, p := range c.secrets {
		if p == "" {
			continue
		}
		for _, form := range []string{p, url.QueryEscape(p), url.PathEscape(p)} {
			clean = strings.ReplaceAll(clean, form, redacted)
		}
	}
	if clean == s {
		return err
	}
	return scrubbed{msg: clean, err: err}
}

// scrubbed is an error whose text had secrets taken out; errors.Is still
// sees what it wraps.
type scrubbed struct {
	msg string
	err error
}

func (e scrubbed) Error() string { return e.msg }
func (e scrubbed) Unwrap() error { return e.err }

// newClient builds the client of o, logging the warnings its settings call
// for. Its errors never hold a password.
func newClient(o Options, logger *slog.Logger) (*client, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrOptions, Redact(o.URL), fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		// url.Error quotes the URL, and its detail may quote a piece of a
		// password that holds a / ? or #: say neither.
		return nil, bad("not a URL (percent-encode / ? # @ %% in a password, or use --redis-password-file)")
	}
	tlsURL := u.Scheme == "rediss"
	switch {
	case u.Scheme == "redis", tlsURL:
	case u.Scheme == "unix" && !o.Cluster && !strings.Contains(u.RawQuery, "master_name"):
	default:
		return nil, bad("scheme %q: want redis:// or rediss:// (or unix:// for one server)", u.Scheme)
	}
	// skip_verify is go-redis' own query parameter for one server and for
	// Sentinel, not for a Cluster: take it out here so that it means the
	// same in all three, and say it aloud.
	q := u.Query()
	skipVerify := false
	if q.Has("skip_verify") {
		v := q.Get("skip_verify")
		if skipVerify, err = strconv.ParseBool(v); err != nil && v != "" {
			return nil, bad("skip_verify=%q: want true or false", v)
		}
		if v == "" {
			skipVerify = true
		}
		if !tlsURL {
			return nil, bad("skip_verify needs rediss://")
		}
		q.Del("skip_verify")
		u.RawQuery = q.Encode()
	}
	if !tlsURL && (o.CA != "" || o.Cert != "" || o.Key != "") {
		return nil, bad("--redis-ca, --redis-cert and --redis-key need a rediss:// URL")
	}
	if (o.Cert == "") != (o.Key == "") {
		return nil, bad("--redis-cert and --redis-key go together")
	}
	sentinel := q.Has("master_name")
	if o.WaitReplicas < 0 || o.WaitReplicas > 0 && o.Cluster {
		return nil, bad("--redis-wait-replicas %d: want 0 or more, and 0 with --redis-cluster", o.WaitReplicas)
	}
	if sentinel && o.Cluster {
		return nil, bad("master_name (Sentinel) and --redis-cluster exclude each other")
	}
	var password string
	if o.PasswordFile != "" {
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --redis-password-file: %v", ErrOptions, err)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return nil, fmt.Errorf("%w: --redis-password-file %s is empty", ErrOptions, o.PasswordFile)
		}
	}
	c := &client{kind: o.Kind(), wait: o.WaitReplicas}
	if u.User != nil {
		p, _ := u.User.Password()
		c.secrets = append(c.secrets, p)
	}
	c.secrets = append(c.secrets, q.Get("password"), password)
	clean := u.String()
	var (
		tc    **tls.Config
		pw    *string
		build func() redis.UniversalClient
	)
	switch {
	case o.Cluster:
		co, err := redis.ParseClusterURL(clean)
		if err != nil {
			return nil, c.scrub(bad("%v", err))
		}
		tc, pw, build = &co.TLSConfig, &co.Password, func() redis.UniversalClient { return redis.NewClusterClient(co) }
	case sentinel:
		fo, err := redis.ParseFailoverURL(clean)
		if err != nil {
			return nil, c.scrub(bad("%v", err))
		}
		tc, pw, build = &fo.TLSConfig, &fo.Password, func() redis.UniversalClient { return redis.NewFailoverClient(fo) }
	default:
		so, err := redis.ParseURL(clean)
		if err != nil {
			return nil, c.scrub(bad("%v", err))
		}
		tc, pw, build = &so.TLSConfig, &so.Password, func() redis.UniversalClient { return redis.NewClient(so) }
	}
	if password != "" {
		if *pw != "" {
			return nil, bad("a password in the URL and --redis-password-file: give one")
		}
		*pw = password
	}
	if *tc != nil {
		if err := setupTLS(*tc, o, skipVerify); err != nil {
			return nil, err
		}
		if skipVerify {
			logger.Warn("redis url has skip_verify: the servers' certificates are not checked, anyone on the path can read and change the ledger",
				"redis", Redact(o.URL))
		}
	}
	c.c = build()
	return c, nil
}

// setupTLS adds the CA, the client certificate and skip_verify to tc.
func setupTLS(tc *tls.Config, o Options, skipVerify bool) error {
	tc.MinVersion = tls.VersionTLS12
	tc.InsecureSkipVerify = skipVerify
	if o.CA != "" {
		pem, err := os.ReadFile(o.CA)
		if err != nil {
			return fmt.Errorf("%w: --redis-ca: %v", ErrOptions, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%w: --redis-ca %s: no PEM certificate in it", ErrOptions, o.CA)
		}
		tc.RootCAs = pool
	}
	if o.Cert != "" {
		cert, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return fmt.Errorf("%w: --redis-cert, --redis-key: %v", ErrOptions, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// Dial builds the client of o and checks that Redis answers. It logs to
// logger (nil: nowhere) what deserves a warning in o (skip_verify). Its errors wrap
// ErrOptions when o cannot work, and never hold a password.
func Dial(ctx context.Context, o Options, logger *slog.Logger) (*Engine, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := newClient(o, logger)
	if err != nil {
		return nil, err
	}
	e := &Engine{c: c.c, kind: c.kind, wait: c.wait}
	if err := e.Ping(ctx); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("%s %s: %w", c.kind, Redact(o.URL), c.scrub(err))
	}
	return e, nil
}
