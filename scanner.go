package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/scanner"
	"crowdflow/ticket"
)

func runScanner(ctx context.Context, c *cli, args []string) (err error) {
	fs := c.flags("scanner", "scanner --gateway URL --gate ID --direction in|out --token TOKEN|--token-file FILE [--queue DIR] [--device NAME] [--config FILE] [--data DIR] [--clock RFC3339]")
	gatewayURL := fs.String("gateway", "", "the gateway's URL, http://host:port (or its ws://host:port/ws/scan)")
	gate := fs.String("gate", "", "the gate this scanner stands at, as in the event file")
	direction := fs.String("direction", "", "in or out: the way people pass the gate")
	tok := fs.String("token", "", "the device's staff token (crowdflow token --role scanner --gate ID); visible in ps: prefer --token-file or CROWDFLOW_TOKEN")
	tokFile := fs.String("token-file", "", "a file holding the device's staff token on its first line (kept out of the process list)")
	queue := fs.String("queue", "", "directory of the offline queue and local knowledge (default DATA/scanner/GATE-DIRECTION)")
	device := fs.String("device", "", "the device's name in the event log (default HOST-GATE-DIRECTION)")
	config := fs.String("config", "", "the event file: with ticket.pub in --data, the scanner decides on its own while offline")
	data := fs.String("data", "./data", "data directory: ticket.pub, and the default queue")
	clockAt := fs.String("clock", "", "start the event clock at this RFC 3339 time instead of now (rehearsals, demos, tests)")
	drain := fs.Duration("drain", scanner.DefaultDrainTimeout, "at the end of the input, how long to wait for the gateway to acknowledge queued scans")
	retryMax := fs.Duration("retry-max", scanner.DefaultBackoffMax, "the longest wait between two attempts to reach the gateway (from 0.5 s, doubling, with full jitter)")
	color := fs.String("color", "auto", "colour the verdict lines: auto (when the output is a terminal and NO_COLOR is unset), always or never")
	logLevel := fs.String("log-level", "warn", "log level on stderr: debug, info, warn or error")
	revokedEvery := fs.Duration("revoked-every", scanner.DefaultRevokedEvery, "how often, while online, the revocation list is downloaded (also at each connection)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	need := []string{"gateway", "gate", "direction"}
	if *tokFile == "" {
		need = append(need, "token")
	}
	if err := required(fs, need...); err != nil {
		return err
	}
	if *tok, err = staffToken(*tok, *tokFile); err != nil {
		return err
	}

	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	dir, err := checkin.ParseDirection(*direction)
	if err != nil {
		return usageError{err}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	var start time.Time
	if *clockAt != "" {
		if start, err = time.Parse(time.RFC3339, *clockAt); err != nil {
			return usagef("--clock %q: want an RFC 3339 time such as 2025-09-17T10:00:00+01:00", *clockAt)
		}
	}
	colored, err := wantColor(*color, c)
	if err != nil {
		return err
	}

	cfg := scanner.DefaultConfig()
	cfg.Gateway, cfg.Token, cfg.Gate, cfg.Direction = *gatewayURL, *tok, *gate, dir
	cfg.Device = *device
	if cfg.Device == "" {
		host, _ := os.Hostname()
		cfg.Device = defaultDevice(host, *gate, dir)
	}
	cfg.Dir = *queue
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(*data, "scanner", pathSafe(*gate)+"-"+string(dir))
	}
	cfg.DrainTimeout = *drain
	cfg.RevokedEvery = *revokedEvery
	cfg.BackoffMax = *retryMax
	cfg.BackoffMin = min(cfg.BackoffMin, *retryMax)
	cfg.Color = colored

	var judge *admission.Judge
	if *config != "" {
		ev, err := event.Load(*config)
		if err != nil {
			return err
		}
		if ev.Gate(*gate) == nil {
			return usagef("--gate %q: not a gate of %s (%s)", *gate, ev.ID, *config)
		}
		pub, err := ticket.LoadPublicKey(*data)
		if err != nil {
			return err
		}
		judge = admission.New(ev, pub)
		cfg.TicketKeys = append(cfg.TicketKeys, pub)
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	clk, err := clock.New(start, 1, nil)
	if err != nil {
		return err
	}
	if w := plainTextWarning(*gatewayURL); w != "" {
		fmt.Fprintln(c.stderr, "crowdflow scanner: "+w)
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	s, err := scanner.New(cfg, judge, clk, logger, c.stdin, c.stdout)
	if err != nil {
		return err
	}
	err = s.Run(ctx)
	return errors.Join(err, s.Close())
}

// wantColor decides whether verdict lines are coloured.
func wantColor(mode string, c *cli) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if c.env("NO_COLOR") != "" {
			return false, nil
		}
		f, ok := c.stdout.(*os.File)
		if !ok {
			return false, nil
		}
		st, err := f.Stat()
		return err == nil && st.Mode()&os.ModeCharDevice != 0, nil
	}
	return false, usagef("--color %q: want auto, always or never", mode)
}

// defaultDevice names the device after the machine and its post.
func defaultDevice(host, gate string, dir checkin.Direction) string {
	name := strings.Map(func(r rune) rune {
		if r <= 0x20 || r > 0x7e {
			return '_'
		}
		return r
	}, host+"-"+gate+"-"+string(dir))
	if len(name) > 64 {
		name = name[len(name)-64:]
	}
	return name
}

// pathSafe keeps a gate id usable as one path element.
func pathSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
	if s == "" {
		return "_"
	}
	return s
}
