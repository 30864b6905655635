package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/gateway"
	"crowdflow/simulate"
	"crowdflow/ticket"
	"crowdflow/token"
)

// demoTokenTTL is how long the tokens the demo prints stay valid.
const demoTokenTTL = 12 * time.Hour

func runDemo(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("demo", "demo [--config FILE] [--listen ADDR] [--data DIR] [--day YYYY-MM-DD] [--clock RFC3339] [--speed F] [--seed N]")
	config := fs.String("config", "configs/ouarzazate-2025.yaml", "the event file")
	listen := fs.String("listen", gateway.DefaultListen, "address to listen on, host:port")
	data := fs.String("data", "", "data directory for keys and the embedded store (default: a fresh temporary one)")
	day := fs.String("day", "", "the fair day to simulate, YYYY-MM-DD (default: the first)")
	clockAt := fs.String("clock", "", "start the event clock here (default: 09:50 on --day, before the doors open)")
	speed := fs.Float64("speed", 30, "the event clock runs this many times faster than real time")
	seed := fs.Uint64("seed", 1, "the simulated crowd's random seed (same seed, same day)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	level, err := parseLevel(*logLevel)
	if err != nil {
		return err
	}
	start, err := parseClock(*clockAt)
	if err != nil {
		return err
	}
	if *data == "" {
		dir, err := os.MkdirTemp("", "crowdflow-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*data = dir
	}
	if _, err := ticket.CreateKeys(*data); err != nil {
		return err
	}
	if _, err := createTokenSecret(*data); err != nil {
		return err
	}
	key, err := ticket.LoadPrivateKey(*data)
	if err != nil {
		return err
	}

	// The clock is made once the event file is read (serveGateway reads it
	// too; the file is small): the demo starts before the doors open.
	ev, err := event.Load(*config)
	if err != nil {
		return err
	}
	if *day == "" {
		*day = ev.Days[0].Date
	}
	cfg := simulate.DefaultConfig(ev, *day)
	cfg.Seed = *seed
	plan, err := simulate.NewPlan(ev, key, cfg)
	if err != nil {
		return err
	}
	if start.IsZero() {
		start = plan.Day.Open.Add(-10 * time.Minute)
	}
	clk, err := clock.New(start, *speed, nil)
	if err != nil {
		return usageError{err}
	}

	o := serveOptions{config: *config, data: *data, listen: *listen, clk: clk, logLevel: level}
	o.ready = func(ctx context.Context, r served) error {
		if err := printDemo(c, r, *day, *speed, len(plan.Actions), plan.People); err != nil {
			return err
		}
		go func() {
			// The crowd goes through the store as the gateway's scans do
			// (verified, judged by admission, decided by the same script);
			// the live board sees it through the event log. A verdict that
			// differs from the plan's (someone scanned by hand meanwhile) is
			// logged, and the crowd walks on.
			sink := simulate.StoreSink(r.store, r.judge, nil)
			lenient := simulate.SinkFunc(func(ctx context.Context, a simulate.Action) error {
				err := sink.Apply(ctx, a)
				if errors.Is(err, simulate.ErrVerdict) {
					r.logger.Debug("simulated scan decided otherwise than planned", "err", err)
					return nil
				}
				return err
			})
			err := plan.Feed(ctx, clk, lenient)
			switch {
			case err == nil:
				fmt.Fprintln(c.stdout, "the simulated day is over; the gateway keeps running (Ctrl-C to stop)")
			case ctx.Err() == nil:
				r.logger.Error("simulated crowd stopped", "err", err)
			}
		}()
		return nil
	}
	return serveGateway(ctx, c, o)
}

// printDemo prints what a person needs to look around: the pages and a
// ready token for each role.
func printDemo(c *cli, r served, day string, speed float64, actions, people int) error {
	now := time.Now()
	fmt.Fprintf(c.stdout, "\ncrowdflow demo: %s, %s, simulated at %g× (%d people, %d scans and tallies)\n\n",
		r.ev.Name.In("en"), day, speed, people, actions)
	fmt.Fprintf(c.stdout, "  dashboard      %s/\n", r.base)
	fmt.Fprintf(c.stdout, "  scanner page   %s/scan\n", r.base)
	fmt.Fprintf(c.stdout, "  login          %s/login  (paste a token below)\n", r.base)
	fmt.Fprintf(c.stdout, "  occupancy API  %s/api/v1/occupancy\n", r.base)
	fmt.Fprintf(c.stdout, "  metrics        %s/metrics\n\n", r.base)
	for _, role := range token.Roles {
		tok, err := token.Sign(r.secret, token.Claims{Role: role, Subject: "demo-" + string(role),
			Issued: now.Unix(), Expires: now.Add(demoTokenTTL).Unix()})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "  %-10s token: %s\n", role, tok)
	}
	fmt.Fprintln(c.stdout)
	return nil
}
