package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/dashboard"
	"crowdflow/event"
	"crowdflow/gateway"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
	"crowdflow/ticket"
	"crowdflow/token"
)

func runGateway(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("gateway", "gateway --config FILE [--redis URL [--redis-cluster]] [--listen ADDR] [--data DIR] [--clock RFC3339] [--origin URL,...] [--host NAME,...] [--metrics-listen ADDR] [--tls-cert FILE --tls-key FILE]")
	config := fs.String("config", "", "the event file (zones, gates, ticket types, days)")
	redis := addRedisFlags(fs)
	allowVolatile := fs.Bool("allow-volatile-store", false, "run on a Redis without an append-only file (rehearsals only: a crash loses acknowledged scans)")
	listen := fs.String("listen", gateway.DefaultListen, "address to listen on, host:port")
	data := fs.String("data", "./data", "data directory: ticket.pub, token.secret, and the embedded store")
	clockAt := fs.String("clock", "", "start the event clock at this RFC 3339 time instead of now (rehearsals, demos)")
	var origins list
	fs.Var(&origins, "origin", "browser origins allowed besides the gateway's own, scheme://host[:port],...")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (debug logs every scan)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate: serve https and wss (phones allow the camera only over https)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	var hosts list
	fs.Var(&hosts, "host", "DNS names the gateway is reached under, name,... (IP addresses, localhost, the --listen host and the --tls-cert names are always served; other names are refused against DNS rebinding)")
	metricsListen := fs.String("metrics-listen", "", "serve /metrics on this internal address, host:port, and no longer on --listen")
	perToken := fs.Int("max-scanners-per-token", gateway.DefaultMaxScannersPerToken, "the most /ws/scan connections one staff token may hold at once (a gate team may share a token)")
	perAddr := fs.Int("max-scanners-per-address", gateway.DefaultMaxScannersPerAddress, "the most /ws/scan connections from one remote address at once")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "config"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	start, err := parseClock(*clockAt)
	if err != nil {
		return err
	}
	clk, err := clock.New(start, 1, nil)
	if err != nil {
		return err
	}
	o := serveOptions{config: *config, redis: *redis, allowVolatile: *allowVolatile, data: *data, listen: *listen,
		origins: origins, clk: clk, tlsCert: *tlsCert, tlsKey: *tlsKey,
		hosts: hosts, metricsListen: *metricsListen, perToken: *perToken, perAddr: *perAddr}
	if o.logLevel, err = parseLevel(*logLevel); err != nil {
		return err
	}
	return serveGateway(ctx, c, o)
}

// serveOptions are what serveGateway needs; the gateway and demo commands
// fill them from their flags.
type serveOptions struct {
	config, data, listen string
	redis                redisengine.Options
	allowVolatile        bool // start on a Redis without AOF
	origins              []string
	clk                  clock.Clock
	tlsCert, tlsKey      string
	logLevel             slog.Level
	hosts                []string // names served besides IPs, localhost, the listen host, the cert's names
	metricsListen        string   // "": /metrics on the main listener
	perToken, perAddr    int      // scanner connection caps; 0: the default
	// ready, if set, runs once the gateway listens and before it serves:
	// the demo prints its tokens there and starts its crowd. Its context
	// ends with the gateway's.
	ready func(ctx context.Context, r served) error
}

// served is a gateway that is listening.
type served struct {
	ev     *event.Event
	store  *ledger.Store
	judge  *admission.Judge
	secret []byte
	base   string // http(s)://host:port
	logger *slog.Logger
}

// serveGateway runs a gateway until ctx ends, then shuts it down gracefully
// and closes its store after the last scan is decided.
func serveGateway(ctx context.Context, c *cli, o serveOptions) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	cfg := gateway.DefaultConfig()
	cfg.Listen = o.listen
	cfg.Origins = o.origins
	cfg.Hosts = o.hosts
	cfg.SeparateMetrics = o.metricsListen != ""
	if o.perToken != 0 {
		cfg.MaxScannersPerToken = o.perToken
	}
	if o.perAddr != 0 {
		cfg.MaxScannersPerAddress = o.perAddr
	}
	if o.metricsListen != "" {
		if _, _, err := net.SplitHostPort(o.metricsListen); err != nil {
			return usagef("--metrics-listen %q: want host:port", o.metricsListen)
		}
	}
	var cert tls.Certificate
	if o.tlsCert != "" {
		var err error
		if cert, err = tls.LoadX509KeyPair(o.tlsCert, o.tlsKey); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
			cfg.Hosts = append(cfg.Hosts, leaf.DNSNames...) // the names browsers reach it under
		}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	ev, err := event.Load(o.config)
	if err != nil {
		return err
	}
	pub, err := ticket.LoadPublicKey(o.data)
	if err != nil {
		return err
	}
	secret, err := token.LoadSecret(o.data)
	if err != nil {
		return err
	}
	cfg.TicketKeys = []ed25519.PublicKey{pub}
	cfg.UI = dashboard.Handler()
	cfg.ReportPage = dashboard.ReportPage

	logger := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: o.logLevel}))
	eng, err := openEngine(ctx, o.redis, o.data, logger)
	if err != nil {
		return err
	}
	defer eng.Close() // after Run: the last scans are decided before the store closes
	if cfg.StoreMode, err = storeMode(ctx, eng, o.allowVolatile, logger); err != nil {
		return err
	}
	st, err := ledger.New(admission.LedgerConfig(ev), eng)
	if err != nil {
		return err
	}
	judge := admission.New(ev, pub)
	srv, err := gateway.New(cfg, ev, judge, st, secret, o.clk, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme, wsScheme := "http", "ws"
	if o.tlsCert != "" {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme, wsScheme = "https", "wss"
	}
	base := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(c.stdout, "gateway listening on %s\n", base)
	fmt.Fprintf(c.stdout, "scanner websocket: %s://%s/ws/scan\n", wsScheme, ln.Addr())
	if o.metricsListen == "" {
		fmt.Fprintf(c.stdout, "metrics: %s/metrics\n", base)
	} else {
		mln, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
		stop := serveMetrics(mln, srv.MetricsHandler(), logger)
		defer stop()
		fmt.Fprintf(c.stdout, "metrics: http://%s/metrics\n", mln.Addr())
	}
	logger.Info("gateway started", "event", ev.ID, "addr", ln.Addr().String(), "store", cfg.StoreMode,
		"event_time", o.clk.Now())
	if o.ready != nil {
		if err := o.ready(ctx, served{ev: ev, store: st, judge: judge, secret: secret, base: base, logger: logger}); err != nil {
			ln.Close()
			return err
		}
	}
	return srv.Run(ctx, ln)
}

// serveMetrics serves /metrics alone on ln (--metrics-listen) until stop,
// which closes it at once: a scrape in flight is worth nothing at shutdown.
func serveMetrics(ln net.Listener, h http.Handler, logger *slog.Logger) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener", "err", err)
		}
	}()
	return func() { _ = hs.Close(); <-done }
}

func parseClock(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--clock %q: want an RFC 3339 time such as 2025-09-17T10:00:00+01:00", s)
	}
	return t, nil
}

func parseLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return level, usagef("--log-level %q: want debug, info, warn or error", s)
	}
	return level, nil
}
