package main

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"crowdflow/event"
	"crowdflow/internal/manifest"
	"crowdflow/ticket"
)

// maxIssue bounds one run of tickets issue: a slip of the finger should not
// fill the disk.
const maxIssue = 100000

func runTickets(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: issue or revoke")
	}
	switch args[0] {
	case "issue":
		return runIssue(ctx, c, args[1:])
	case "revoke":
		return runRevoke(ctx, c, args[1:])
	case "-h", "--help":
		fmt.Fprintln(c.stdout, "usage: crowdflow tickets issue|revoke [flags] (see crowdflow tickets issue -h)")
		return nil
	}
	return usagef("unknown subcommand %q: want issue or revoke", args[0])
}

func runIssue(_ context.Context, c *cli, args []string) error {
	fs := c.flags("tickets issue", "tickets issue --config FILE --data DIR --type TYPE [--days D1,D2] [--zones Z1,Z2] --count N --out DIR")
	config := fs.String("config", "", "event file (YAML)")
	data := fs.String("data", "./data", "data directory holding the ticket key (see crowdflow keys)")
	typ := fs.String("type", "", "ticket type, as in the event file")
	var days, zones list
	fs.Var(&days, "days", "dates the tickets are valid on, YYYY-MM-DD,... (default: all its type allows)")
	fs.Var(&zones, "zones", "zones the tickets may enter, id,... (default: all its type allows)")
	count := fs.Int("count", 0, "how many tickets")
	out := fs.String("out", "", "directory for the PNGs and manifest.csv")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "config", "type", "out"); err != nil {
		return err
	}
	if *count < 1 || *count > maxIssue {
		return usagef("--count %d: want 1 to %d", *count, maxIssue)
	}
	ev, err := event.Load(*config)
	if err != nil {
		return err
	}
	tt := ev.TicketType(*typ)
	if tt == nil {
		return usagef("--type %q: not a ticket type of %s", *typ, ev.ID)
	}
	if err := checkSubset("--days", days, tt.Days, eventDays(ev)); err != nil {
		return err
	}
	zoneIDs := make([]string, len(ev.Zones))
	for i, z := range ev.Zones {
		zoneIDs[i] = z.ID
	}
	if err := checkSubset("--zones", zones, tt.Zones, zoneIDs); err != nil {
		return err
	}
	key, err := ticket.LoadPrivateKey(*data)
	if err != nil {
		return err
	}
	// The payloads are bearer credentials: whoever reads a PNG or the
	// manifest can walk in with it. The directory and every file are the
	// issuer's alone.
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("output dir: %w", err)
	}
	if fi, err := os.Stat(*out); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(c.stderr, "crowdflow tickets issue: warning: %s is readable by others (mode %04o): the tickets are bearer credentials, chmod 700 it\n",
			*out, fi.Mode().Perm())
	}
	slices.Sort(days)
	var hashes []uint16
	for _, z := range zones {
		hashes = append(hashes, ev.Zone(z).Hash)
	}
	slices.Sort(hashes)

	mf, err := os.OpenFile(filepath.Join(*out, "manifest.csv"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("manifest (remove the old one or choose another --out): %w", err)
	}
	defer mf.Close()
	w := csv.NewWriter(mf)
	_ = w.Write(manifest.Header)
	for range *count {
		t, payload, png, err := ticket.Issue(rand.Reader,
			ticket.Ticket{Event: ev.Hash(), Type: tt.Hash, Days: days, Zones: hashes, Reentry: tt.Reentry}, key)
		if err != nil {
			return err
		}
		id := t.ID
		file := id.String() + ".png"
		if err := os.WriteFile(filepath.Join(*out, file), png, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		_ = w.Write([]string{id.String(), tt.ID, strings.Join(days, ","), strings.Join(zones, ","),
			payload, file, fmt.Sprint(tt.Reentry)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := mf.Sync(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	fmt.Fprintf(c.stdout, "issued %d %s tickets in %s\n", *count, tt.ID, *out)
	return nil
}

func eventDays(ev *event.Event) []string {
	ds := make([]string, len(ev.Days))
	for i, d := range ev.Days {
		ds[i] = d.Date
	}
	return ds
}

// checkSubset reports the values of a flag that its ticket type does not
// allow (allowed empty: anything in all).
func checkSubset(flag string, got, allowed, all []string) error {
	if len(allowed) == 0 {
		allowed = all
	}
	var bad []string
	for _, v := range got {
		if !slices.Contains(allowed, v) {
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		return usagef("%s: %s not allowed (choose from %s)", flag, strings.Join(bad, ","), strings.Join(allowed, ","))
	}
	return nil
}

func runRevoke(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("tickets revoke", "tickets revoke (--config FILE [--redis URL [--redis-cluster]] [--data DIR] | --gateway URL --token TOKEN|--token-file FILE) [--reason TEXT] TICKET_ID...")
	config := fs.String("config", "", "event file (YAML); not with --gateway")
	redis := addRedisFlags(fs)
	data := fs.String("data", "./data", "data directory of the embedded store")
	gatewayURL := fs.String("gateway", "", "revoke through this running gateway, http(s)://host:port (its scanners get the list within a minute)")
	tok := fs.String("token", "", "with --gateway: an organizer's staff token; visible in ps: prefer --token-file or CROWDFLOW_TOKEN")
	tokFile := fs.String("token-file", "", "with --gateway: a file holding the organizer's staff token on its first line")
	reason := fs.String("reason", "", "why, for the gateway's log (with --gateway)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *gatewayURL == "" {
		if err := required(fs, "config"); err != nil {
			return err
		}
	}
	if fs.NArg() == 0 {
		return usagef("no ticket ids given")
	}
	ids := make([]string, fs.NArg())
	for i, a := range fs.Args() {
		id, err := ticket.ParseID(a)
		if err != nil {
			return usagef("ticket id %q: %v", a, err)
		}
		ids[i] = id.String()
	}
	if *gatewayURL != "" {
		t, err := staffToken(*tok, *tokFile)
		if err != nil {
			return err
		}
		if t == "" {
			return usagef("--gateway needs --token or --token-file")
		}
		if w := plainTextWarning(*gatewayURL); w != "" {
			fmt.Fprintln(c.stderr, "crowdflow tickets revoke: "+w)
		}
		n, err := revokeThrough(ctx, *gatewayURL, t, *reason, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "revoked %d ticket(s); %d were already revoked\n", n, len(ids)-n)
		return nil
	}
	ev, err := event.Load(*config)
	if err != nil {
		return err
	}
	st, closeStore, err := openLedger(ctx, ev, *redis, *data,
		slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer closeStore()
	n, err := st.Revoke(ctx, time.Now(), "cli", ids...)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "revoked %d ticket(s); %d were already revoked\n", n, len(ids)-n)
	return nil
}

// revokeThrough revokes ids through a running gateway (POST /api/v1/revoke)
// and returns how many were not revoked before.
func revokeThrough(ctx context.Context, base, tok, reason string, ids []string) (int, error) {
	body, _ := json.Marshal(map[string]any{"tickets": ids, "reason": reason})
	status, b, err := callGateway(ctx, http.MethodPost, base, "/api/v1/revoke", nil, tok, body, 1<<20)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, gatewayRefusal(status, b)
	}
	var ans struct {
		Revoked int `json:"revoked"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return 0, fmt.Errorf("revoke through %s: HTTP %d, not the gateway's answer", base, status)
	}
	return ans.Revoked, nil
}
