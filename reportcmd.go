package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"crowdflow/dashboard"
	"crowdflow/event"
	"crowdflow/pdf"
	"crowdflow/report"
)

func runReport(ctx context.Context, c *cli, args []string) error {
	fs := c.flags("report", "report --config FILE [--redis URL | --data DIR | --gateway URL --token TOKEN|--token-file FILE] "+
		"[--day YYYY-MM-DD | --all] [--format csv|json|html|pdf] [--out FILE] [--sep ';'] [--lang ar|fr|en]")
	config := fs.String("config", "", "the event file")
	redis := addRedisFlags(fs)
	data := fs.String("data", "./data", "read the embedded store in this data directory")
	gatewayURL := fs.String("gateway", "", "read the report through this running gateway, http(s)://host:port")
	tok := fs.String("token", "", "with --gateway: an organizer's staff token; visible in ps: prefer --token-file or CROWDFLOW_TOKEN")
	tokFile := fs.String("token-file", "", "with --gateway: a file holding the organizer's staff token on its first line")
	day := fs.String("day", "", "the day to report, YYYY-MM-DD")
	all := fs.Bool("all", false, "report the whole event, every day and the totals")
	format := fs.String("format", "json", "json, csv, html or pdf (pdf needs --out and Chromium)")
	out := fs.String("out", "", "write to this file (default: stdout)")
	sepFlag := fs.String("sep", ",", "CSV separator; ';' for spreadsheets set to a French locale")
	lang := fs.String("lang", "fr", "language of the html and pdf forms: ar, fr or en")
	chromium := fs.String("chromium", "", "the Chromium that prints --format pdf (default: chromium, chromium-browser, google-chrome... on PATH)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "config"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	scope := *day
	switch {
	case *all && *day != "":
		errs = append(errs, errors.New("--day and --all: give one"))
	case *all:
		scope = report.All
	case *day == "":
		errs = append(errs, errors.New("missing --day YYYY-MM-DD or --all"))
	}
	if !slices.Contains(report.Formats, *format) {
		errs = append(errs, fmt.Errorf("--format %.20q: want one of %s", *format, strings.Join(report.Formats, ", ")))
	}
	sep, err := report.ParseSep(*sepFlag)
	if err != nil {
		errs = append(errs, fmt.Errorf("--sep: %v", err))
	}
	if *format == "pdf" && *out == "" {
		errs = append(errs, errors.New("--format pdf needs --out FILE"))
	}
	if !slices.Contains(dashboard.Langs, *lang) {
		errs = append(errs, fmt.Errorf("--lang %.10q: want ar, fr or en", *lang))
	}
	if *gatewayURL != "" && (redis.URL != "" || given["data"]) {
		errs = append(errs, errors.New("--gateway reads through a gateway: not with --redis or --data"))
	}
	if *gatewayURL != "" && *tok == "" && *tokFile == "" {
		errs = append(errs, errors.New("--gateway needs --token or --token-file (an organizer's)"))
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	ev, err := event.Load(*config)
	if err != nil {
		return usageError{err}
	}
	if _, err := report.ParseScope(ev, scope); err != nil {
		return usageError{fmt.Errorf("--day: %w", err)}
	}

	// The report, as the JSON bytes a gateway sends and as a Report.
	var rep *report.Report
	var raw []byte // the bytes of the chosen form, when a gateway sent them as they are
	if *gatewayURL != "" {
		asked := *format
		if asked != "csv" {
			asked = "json"
		}
		t, err := staffToken(*tok, *tokFile)
		if err != nil {
			return err
		}
		if w := plainTextWarning(*gatewayURL); w != "" {
			fmt.Fprintln(c.stderr, "crowdflow report: "+w)
		}
		body, err := fetchReport(ctx, *gatewayURL, t, scope, asked, *sepFlag)
		if err != nil {
			return err
		}
		if asked == *format {
			raw = body
		} else if err := json.Unmarshal(body, &rep); err != nil {
			return fmt.Errorf("report from %s: %w", *gatewayURL, err)
		}
	} else {
		if redis.URL == "" {
			// A report reads a store; it never starts an empty one.
			if _, err := os.Stat(filepath.Join(*data, "ledger")); err != nil {
				return fmt.Errorf("no embedded store in %s (give the gateway's --data DIR, or --redis URL): %w", *data, err)
			}
		}
		logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		st, closeStore, err := openLedger(ctx, ev, *redis, *data, logger)
		if err != nil {
			return err
		}
		defer closeStore()
		if rep, err = report.Build(ctx, st, ev, scope); err != nil {
			return err
		}
	}

	var buf bytes.Buffer
	switch {
	case raw != nil:
		buf.Write(raw)
	case *format == "json":
		err = report.WriteJSON(&buf, rep)
	case *format == "csv":
		err = report.WriteCSV(&buf, rep, sep)
	case *format == "html":
		err = dashboard.WriteReportPage(&buf, rep, dashboard.PageOptions{Lang: *lang, Standalone: true})
	case *format == "pdf":
		var page bytes.Buffer
		if err = dashboard.WriteReportPage(&page, rep, dashboard.PageOptions{Lang: *lang, Standalone: true}); err == nil {
			var doc []byte
			doc, err = pdf.Render(ctx, page.Bytes(), *chromium)
			buf.Write(doc)
		}
	}
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = c.stdout.Write(buf.Bytes())
		return err
	}
	return writeFileAtomic(*out, buf.Bytes())
}

// writeFileAtomic writes a report file whole or not at all.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fetchReport reads GET /api/v1/report from a gateway. A refusal of the
// gateway is shown with its own message; a bad day or role is bad usage.
func fetchReport(ctx context.Context, base, tok, scope, format, sep string) ([]byte, error) {
	q := url.Values{"day": {scope}, "format": {format}}
	if format == "csv" && sep != "," {
		q.Set("sep", sep)
	}
	status, body, err := callGateway(ctx, http.MethodGet, base, "/api/v1/report", q, tok, nil, 256<<20)
	if err != nil {
		return nil, err
	}
	if status == http.StatusOK {
		return body, nil
	}
	err = gatewayRefusal(status, body)
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
		return nil, usageError{err}
	}
	return nil, err
}
