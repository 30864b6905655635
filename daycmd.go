package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"crowdflow/event"
	"crowdflow/ledger"
)

// runDay is `crowdflow day close`: closing a day by hand (CONTRACT §1, §8).
func runDay(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(c.stdout, "usage: crowdflow day close [flags] (see crowdflow day close -h)")
		if len(args) == 0 {
			return usagef("want a subcommand: close")
		}
		return nil
	}
	if args[0] != "close" {
		return usagef("unknown subcommand %q: want close", args[0])
	}
	return runDayClose(ctx, c, args[1:])
}

// runDayClose closes one event day by hand (a rehearsal, an early closing),
// and any day before it still open: the same operation the ledger performs
// by itself at closing time, at this moment when the day is under way
// (ledger.Store.CloseDay). Closing a day twice changes nothing.
func runDayClose(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("day close", "day close --config FILE [--redis URL [--redis-cluster] | --data DIR] --day YYYY-MM-DD [--clock TIME]")
	config := fs.String("config", "", "event file (YAML)")
	redis := addRedisFlags(fs)
	data := fs.String("data", "./data", "data directory of the embedded store")
	day := fs.String("day", "", "the event day to close, YYYY-MM-DD")
	clockAt := fs.String("clock", "", "the present on the event clock, RFC 3339 (default: now): a day under way then closes at that moment (rehearsals)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "config", "day"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	now, err := parseClock(*clockAt)
	if err != nil {
		return err
	}
	if now.IsZero() {
		now = time.Now()
	}
	ev, err := event.Load(*config)
	if err != nil {
		return err
	}
	if ev.DayIndex(*day) < 0 {
		var dates []string
		for _, d := range ev.Days {
			dates = append(dates, d.Date)
		}
		return usagef("--day %q is not a day of the event (%s)", *day, strings.Join(dates, ", "))
	}
	st, closeStore, err := openLedger(ctx, ev, *redis, *data,
		slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer closeStore()
	closings, err := st.CloseDay(ctx, *day, "cli", now)
	if err != nil {
		return err
	}
	if len(closings) == 0 {
		closed, err := st.Closed(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s was already closed at %s; nothing changed\n", *day,
			closed[*day].In(ev.Location).Format(time.DateTime))
		return nil
	}
	for _, cl := range closings {
		fmt.Fprintf(c.stdout, "closed %s: swept %s\n", cl.Date, sweptLine(ev, cl))
	}
	return nil
}

// sweptLine says what a closing swept, zone by zone in the event's order.
func sweptLine(ev *event.Event, cl ledger.Closing) string {
	if len(cl.Swept) == 0 && len(cl.SweptTally) == 0 {
		return "nobody"
	}
	var parts []string
	for _, z := range ev.Zones {
		n, t := cl.Swept[z.ID], cl.SweptTally[z.ID]
		switch {
		case n > 0 && t > 0:
			parts = append(parts, fmt.Sprintf("%s %d (+%d counted by tally)", z.ID, n, t))
		case n > 0:
			parts = append(parts, fmt.Sprintf("%s %d", z.ID, n))
		case t > 0:
			parts = append(parts, fmt.Sprintf("%s %d counted by tally", z.ID, t))
		}
	}
	return strings.Join(parts, ", ")
}
