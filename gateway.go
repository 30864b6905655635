package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/dashboard"
	"crowdflow/event"
	"crowdflow/gateway"
	"crowdflow/ticket"
	"crowdflow/token"
)

func runGateway(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("gateway", "gateway --config FILE [--redis URL] [--listen ADDR] [--data DIR] [--clock RFC3339] [--origin URL,...]")
	config := fs.String("config", "", "the event file (zones, gates, ticket types, days)")
	redisURL := fs.String("redis", "", "Redis URL, redis://host:port/db or rediss://...; without it, the embedded store in --data")
	listen := fs.String("listen", gateway.DefaultListen, "address to listen on, host:port")
	data := fs.String("data", "./data", "data directory: ticket.pub, token.secret, and the embedded store")
	clockAt := fs.String("clock", "", "start the event clock at this RFC 3339 time instead of now (rehearsals, demos)")
	var origins list
	fs.Var(&origins, "origin", "browser origins allowed besides the gateway's own, scheme://host[:port],...")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (debug logs every scan)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate: serve https and wss (phones allow the camera only over https)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "config"); err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	var start time.Time
	if *clockAt != "" {
		t, err := time.Parse(time.RFC3339, *clockAt)
		if err != nil {
			return usagef("--clock %q: want an RFC 3339 time such as 2025-09-17T10:00:00+01:00", *clockAt)
		}
		start = t
	}
	cfg := gateway.DefaultConfig()
	cfg.Listen = *listen
	cfg.Origins = origins
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}

	ev, err := event.Load(*config)
	if err != nil {
		return err
	}
	pub, err := ticket.LoadPublicKey(*data)
	if err != nil {
		return err
	}
	secret, err := token.LoadSecret(*data)
	if err != nil {
		return err
	}
	clk, err := clock.New(start, 1, nil)
	if err != nil {
		return err
	}
	cfg.TicketKeys = []ed25519.PublicKey{pub}
	cfg.UI = dashboard.Handler()

	logger := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	st, closeStore, err := openLedger(ctx, ev, *redisURL, *data)
	if err != nil {
		return err
	}
	defer closeStore() // after Run: the last scans are decided before the store closes
	srv, err := gateway.New(cfg, ev, admission.New(ev, pub), st, secret, clk, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme, wsScheme := "http", "ws"
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme, wsScheme = "https", "wss"
	}
	base := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(c.stdout, "gateway listening on %s\n", base)
	fmt.Fprintf(c.stdout, "scanner websocket: %s://%s/ws/scan\n", wsScheme, ln.Addr())
	fmt.Fprintf(c.stdout, "metrics: %s/metrics\n", base)
	store := "embedded store in " + *data
	if *redisURL != "" {
		store = "redis"
	}
	logger.Info("gateway started", "event", ev.ID, "addr", ln.Addr().String(), "store", store,
		"event_time", clk.Now())
	return srv.Run(ctx, ln)
}
