package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"crowdflow/clock"
	"crowdflow/dashboard"
	"crowdflow/event"
	"crowdflow/gateway"
	"crowdflow/report"
	"crowdflow/simulate"
	"crowdflow/ticket"
	"crowdflow/token"
)

// demoTokenTTL is how long the tokens the demo prints stay valid.
const demoTokenTTL = 12 * time.Hour

func runDemo(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("demo", "demo [--config FILE] [--listen ADDR] [--data DIR] [--day YYYY-MM-DD] [--days N] [--scale F] [--clock RFC3339] [--speed F] [--seed N]")
	config := fs.String("config", "configs/ouarzazate-2025.yaml", "the event file")
	listen := fs.String("listen", gateway.DefaultListen, "address to listen on, host:port")
	data := fs.String("data", "", "data directory for keys and the embedded store (default: a fresh temporary one)")
	day := fs.String("day", "", "the fair day to simulate, YYYY-MM-DD (default: the first)")
	clockAt := fs.String("clock", "", "start the event clock here (default: 09:50 on --day, before the doors open)")
	speed := fs.Float64("speed", 30, "the event clock runs this many times faster than real time")
	seed := fs.Uint64("seed", 1, "the simulated crowd's random seed (same seed, same day)")
	scale := fs.Float64("scale", 1, "the crowd's size, as a share of a normal day's (0.1: a tenth)")
	days := fs.Int("days", 1, "how many fair days to simulate from --day; each closes (a share of visitors leaves unscanned and is swept) and the clock skips the night")
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
	first := ev.DayIndex(*day)
	switch {
	case first < 0:
		return usagef("--day %q: not a day of the event", *day)
	case *days < 1 || first+*days > len(ev.Days):
		return usagef("--days %d: want 1 to %d from %s", *days, len(ev.Days)-first, *day)
	case !(*scale > 0 && *scale <= 10):
		return usagef("--scale %g: want more than 0 and at most 10", *scale)
	}
	var cfgs []simulate.Config
	for _, d := range ev.Days[first : first+*days] {
		cfg := simulate.DefaultConfig(ev, d.Date).Scaled(*scale)
		cfg.Seed = *seed
		if *days > 1 {
			// ASSUMPTION, as simulate.DefaultFair: one visitor in thirty
			// leaves by a door without a scanner, for the closing to sweep.
			cfg.UnscannedExitShare = 0.03
		}
		cfgs = append(cfgs, cfg)
	}
	fair, err := simulate.NewFair(ev, key, cfgs...)
	if err != nil {
		return err
	}
	plan := fair.Days[0]
	actions, people := 0, 0
	for _, p := range fair.Days {
		actions += len(p.Actions)
		people += p.People
	}
	if start.IsZero() {
		start = plan.Day.Open.Add(-10 * time.Minute)
	}
	shifted, err := clock.New(start, *speed, nil)
	if err != nil {
		return usageError{err}
	}
	clk := &crowdClock{Shifted: shifted}

	o := serveOptions{config: *config, data: *data, listen: *listen, clk: clk, logLevel: level}
	o.ready = func(ctx context.Context, r served) error {
		label := *day
		if *days > 1 {
			label = fmt.Sprintf("%d days from %s", *days, *day)
		}
		if err := printDemo(c, r, label, *speed, actions, people); err != nil {
			return err
		}
		go func() {
			err := playFair(ctx, c, r, clk, fair)
			switch {
			case err == nil:
				fmt.Fprintln(c.stdout, "the simulated fair is over; the gateway keeps running (Ctrl-C to stop)")
			case ctx.Err() == nil:
				r.logger.Error("simulated crowd stopped", "err", err)
			}
		}()
		return nil
	}
	return serveGateway(ctx, c, o)
}

// demoClosePoll is how often the demo looks whether the gateway has closed
// a day (the gateway closes due days on its own ticker).
const demoClosePoll = 200 * time.Millisecond

// playFair plays each day of the fair through the store, on the clock:
// after a day's last action the clock skips to its closing, the demo waits
// for the gateway to close it, prints the day's figures and sweeps, and
// skips the night to ten minutes before the next day's opening.
func playFair(ctx context.Context, c *cli, r served, clk *crowdClock, fair *simulate.Fair) error {
	// The crowd goes through the store as the gateway's scans do (verified,
	// judged by admission, decided by the same script); the live board sees
	// it through the event log. A verdict that differs from the plan's
	// (someone scanned by hand meanwhile) is logged, and the crowd walks on.
	sink := simulate.StoreSink(r.store, r.judge, nil)
	lenient := simulate.SinkFunc(func(ctx context.Context, a simulate.Action) error {
		err := sink.Apply(ctx, a)
		if errors.Is(err, simulate.ErrVerdict) {
			r.logger.Debug("simulated scan decided otherwise than planned", "err", err)
			return nil
		}
		return err
	})
	for i, plan := range fair.Days {
		if i > 0 {
			clk.Skip(plan.Day.Open.Add(-10 * time.Minute).Sub(clk.Now()))
		}
		clk.hold(plan.Actions[len(plan.Actions)-1].Arrival())
		if err := plan.Feed(ctx, clk, lenient); err != nil {
			return err
		}
		clk.release()
		clk.Skip(plan.Day.Closes.Sub(clk.Now()))
		if err := awaitClosing(ctx, r, plan.Day.Date); err != nil {
			return err
		}
		if err := printClosing(ctx, c, r, plan.Day.Date); err != nil {
			return err
		}
	}
	return nil
}

// crowdClock is the demo's event clock: a clock.Shifted that, while a
// day's crowd is being fed, never reads later than the day's last action,
// so that a feed running behind the clock (a slow machine, a high --speed)
// never sees the gateway close the day under it. Released, it runs on from
// where it was held: the time it was held back is not skipped.
type crowdClock struct {
	*clock.Shifted
	limit atomic.Int64 // Unix nanoseconds the clock may not pass; 0: none
	lag   atomic.Int64 // nanoseconds it has been held back, in all
}

// Now is the shifted time less the time held back, held at the limit.
func (c *crowdClock) Now() time.Time {
	t := c.Shifted.Now().Add(-time.Duration(c.lag.Load()))
	if l := c.limit.Load(); l != 0 && t.UnixNano() > l {
		return time.Unix(0, l)
	}
	return t
}

func (c *crowdClock) hold(t time.Time) { c.limit.Store(t.UnixNano()) }

// release lets the clock run on from the limit (or from where it is, if it
// never reached it).
func (c *crowdClock) release() {
	if l := c.limit.Load(); l != 0 {
		if over := c.Shifted.Now().Add(-time.Duration(c.lag.Load())).UnixNano() - l; over > 0 {
			c.lag.Add(over)
		}
	}
	c.limit.Store(0)
}

// awaitClosing waits until the ledger has closed the day.
func awaitClosing(ctx context.Context, r served, date string) error {
	t := time.NewTicker(demoClosePoll)
	defer t.Stop()
	for {
		closed, err := r.store.Closed(ctx)
		if err != nil {
			return err
		}
		if _, ok := closed[date]; ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// printClosing prints the closed day's figures from its report: the site's
// totals and who was swept out, per zone.
func printClosing(ctx context.Context, c *cli, r served, date string) error {
	rep, err := report.Build(ctx, r.store, r.ev, date)
	if err != nil {
		return err
	}
	d := rep.Days[0]
	site := d.Zones[0]
	fmt.Fprintf(c.stdout, "day %s closed: %d entries, %d unique visitors, %d walk-ins by tally, peak %d at %s\n",
		date, site.Entries, site.UniqueVisitors, site.TallyIn, site.PeakOccupancy, clockTime(site.PeakAt))
	var swept []string
	for i, z := range d.Zones {
		if z.Swept+z.SweptTally > 0 {
			swept = append(swept, fmt.Sprintf("%s %d", rep.Zones[i].Name.In("en"), z.Swept+z.SweptTally))
		}
	}
	if len(swept) == 0 {
		swept = []string{"nobody"}
	}
	fmt.Fprintf(c.stdout, "  swept out at closing (left unscanned): %s\n", strings.Join(swept, ", "))
	return nil
}

// clockTime is the HH:MM of a report time, "-" for none.
func clockTime(s *string) string { return report.FormatStamp(s, "15:04", "-") }

// printDemo prints what a person needs to look around: the pages, and for
// each role a login link that opens its page logged in with one click (the
// token in the link's fragment, which never reaches the server) and the
// token itself, for the command-line scanner or to paste at /login.
func printDemo(c *cli, r served, days string, speed float64, actions, people int) error {
	now := time.Now()
	fmt.Fprintf(c.stdout, "\ncrowdflow demo: %s, %s, simulated at %g× (%d people, %d scans and tallies)\n\n",
		r.ev.Name.In("en"), days, speed, people, actions)
	fmt.Fprintf(c.stdout, "  dashboard      %s/\n", r.base)
	fmt.Fprintf(c.stdout, "  scanner page   %s/scan\n", r.base)
	fmt.Fprintf(c.stdout, "  login          %s/login  (open a login link below, or paste a token)\n", r.base)
	fmt.Fprintf(c.stdout, "  reports        %s/reports  (organizer token)\n", r.base)
	fmt.Fprintf(c.stdout, "  occupancy API  %s/api/v1/occupancy\n", r.base)
	fmt.Fprintf(c.stdout, "  metrics        %s/metrics\n\n", r.base)
	for _, role := range token.Roles {
		tok, err := token.Sign(r.secret, token.Claims{Role: role, Subject: "demo-" + string(role),
			Issued: now.Unix(), Expires: now.Add(demoTokenTTL).Unix()})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "  %-10s login link: %s\n", role, dashboard.LoginLink(r.base, tok, role))
		fmt.Fprintf(c.stdout, "  %-10s token:      %s\n", "", tok)
	}
	fmt.Fprintln(c.stdout)
	return nil
}
