package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/ledger/redisengine"
	"crowdflow/report"
	"crowdflow/simulate"
	"crowdflow/ticket"
	"crowdflow/token"
)

// mustReportData makes a data directory with keys and an embedded store
// holding a quiet simulated first day, and returns it with the event.
func mustReportData(t *testing.T) (string, *event.Event) {
	t.Helper()
	data := t.TempDir()
	if code, _, stderr := runCLI(t, nil, "keys", "--data", data); code != exitOK {
		t.Fatalf("keys: %s", stderr)
	}
	ev, err := event.Load(ouarzazate)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ticket.LoadPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	cfg := simulate.DefaultConfig(ev, "2025-09-17")
	cfg.Visitors, cfg.Walkins, cfg.Exhibitors, cfg.Staff = 300, 60, 30, 4
	cfg.Press, cfg.Guests, cfg.WorkshopParticipants = 2, 3, 10
	for i := range cfg.Shows {
		cfg.Shows[i].Draw = 40
	}
	plan, err := simulate.NewPlan(ev, key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, closeStore, err := openLedger(t.Context(), ev, redisengine.Options{}, data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	judge := admission.New(ev, key.Public().(ed25519.PublicKey))
	if err := plan.Feed(t.Context(), clock.NewManual(plan.Day.Open), simulate.StoreSink(st, judge, nil)); err != nil {
		t.Fatal(err)
	}
	return data, ev
}

// TestReportCommand: the report of the data directory's store in each form,
// the same JSON through a running gateway, and a PDF that holds the zone
// names and the day's totals.
func TestReportCommand(t *testing.T) {
	data, ev := mustReportData(t)
	out := t.TempDir()
	code, jsonOut, stderr := runCLI(t, nil, "report", "--config", ouarzazate, "--data", data, "--day", "2025-09-17")
	if code != exitOK {
		t.Fatalf("report json: exit %d: %s", code, stderr)
	}
	r, err := decodeReport(jsonOut)
	if err != nil {
		t.Fatalf("report json: %v", err)
	}
	site := r.Days[0].Zones[0]
	if site.Entries < 100 {
		t.Fatalf("the site counts %d entries, want the simulated day's", site.Entries)
	}

	env := map[string]string{"CROWDFLOW_SEP": ";"}
	csvFile := filepath.Join(out, "day.csv")
	if code, _, stderr := runCLI(t, env, "report", "--config", ouarzazate, "--data", data, "--all",
		"--format", "csv", "--out", csvFile); code != exitOK {
		t.Fatalf("report csv: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(report.BOM+"record;date;hour;zone;")) || !strings.Contains(string(b), ev.Zone("stage").Name.AR) {
		t.Errorf("csv with ; does not start with the BOM and the columns, or lacks the Arabic names: %.80q", b)
	}

	code, html, stderr := runCLI(t, nil, "report", "--config", ouarzazate, "--data", data, "--day", "2025-09-17",
		"--format", "html", "--lang", "ar")
	if code != exitOK || !strings.Contains(html, `dir="rtl"`) || !strings.Contains(html, "<svg") || strings.Contains(html, "<script") {
		t.Errorf("report html: exit %d %s: want an Arabic page with SVG charts and no script", code, stderr)
	}

	pdfFile := filepath.Join(out, "day.pdf")
	if d := os.Getenv("KEEP_PDF"); d != "" {
		pdfFile = filepath.Join(d, "day.pdf")
	}
	if code, _, stderr := runCLI(t, nil, "report", "--config", ouarzazate, "--data", data, "--day", "2025-09-17",
		"--format", "pdf", "--lang", "fr", "--out", pdfFile); code != exitOK {
		t.Fatalf("report pdf: exit %d: %s", code, stderr)
	}
	text := pdfText(t, pdfFile)
	for _, want := range []string{ev.Zone("site").Name.FR, ev.Zone("hall-crafts").Name.FR, ev.Zone("stage").Name.FR,
		strconv.Itoa(site.Entries), strconv.Itoa(site.Exits), strconv.Itoa(site.UniqueVisitors), "2025-09-17"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}

	// The same report through a gateway on the same data directory.
	// Its clock stands before the day's closing, so the gateway does not
	// close the day (which would add closed_at).
	base, stop := startServing(t, "gateway", "--config", ouarzazate, "--data", data, "--listen", "127.0.0.1:0",
		"--clock", "2025-09-17T21:30:00+01:00")
	tok := mustStaffToken(t, data, token.Organizer)
	code, viaGateway, stderr := runCLI(t, nil, "report", "--config", ouarzazate, "--gateway", base, "--token", tok,
		"--day", "2025-09-17")
	if code != exitOK || viaGateway != jsonOut {
		t.Errorf("report through the gateway: exit %d %s; same bytes as from --data: %v", code, stderr, viaGateway == jsonOut)
	}
	// The token from a file, kept out of the process list, as tickets revoke and scanner take it.
	tokFile := filepath.Join(t.TempDir(), "organizer.token")
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, viaFile, stderr := runCLI(t, nil, "report", "--config", ouarzazate, "--gateway", base, "--token-file", tokFile,
		"--day", "2025-09-17")
	if code != exitOK || viaFile != jsonOut {
		t.Errorf("report through the gateway with --token-file: exit %d %s; same bytes as from --data: %v", code, stderr, viaFile == jsonOut)
	}
	scanner := mustStaffToken(t, data, token.Scanner)
	code, _, stderr = runCLI(t, nil, "report", "--config", ouarzazate, "--gateway", base, "--token", scanner, "--all")
	if code != exitUsage || !strings.Contains(stderr, "403") {
		t.Errorf("report with a scanner's token: exit %d %q, want 2 and the gateway's 403", code, stderr)
	}
	if code := stop(); code != exitOK {
		t.Errorf("gateway exit %d", code)
	}
}

// TestReportBadUsage: each bad use exits 2 with one line on stderr, and
// leaves the ledger as it was.
func TestReportBadUsage(t *testing.T) {
	data, _ := mustReportData(t)
	_, before, _ := runCLI(t, nil, "report", "--config", ouarzazate, "--data", data, "--all")
	base := []string{"report", "--config", ouarzazate, "--data", data}
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"no day":            {args: base, code: exitUsage, want: "--day"},
		"day and all":       {args: append(base[:len(base):len(base)], "--day", "2025-09-17", "--all"), code: exitUsage, want: "one"},
		"malformed day":     {args: append(base[:len(base):len(base)], "--day", "17/09/2025"), code: exitUsage, want: "YYYY-MM-DD"},
		"impossible day":    {args: append(base[:len(base):len(base)], "--day", "2025-09-31"), code: exitUsage, want: "YYYY-MM-DD"},
		"day not in event":  {args: append(base[:len(base):len(base)], "--day", "2025-09-23"), code: exitUsage, want: "not a day"},
		"unknown format":    {args: append(base[:len(base):len(base)], "--all", "--format", "xlsx"), code: exitUsage, want: "format"},
		"pdf without out":   {args: append(base[:len(base):len(base)], "--all", "--format", "pdf"), code: exitUsage, want: "--out"},
		"bad separator":     {args: append(base[:len(base):len(base)], "--all", "--format", "csv", "--sep", "::"), code: exitUsage, want: "separator"},
		"bad language":      {args: append(base[:len(base):len(base)], "--all", "--lang", "de"), code: exitUsage, want: "lang"},
		"gateway no token":  {args: []string{"report", "--config", ouarzazate, "--gateway", "http://127.0.0.1:1", "--all"}, code: exitUsage, want: "--token"},
		"gateway and redis": {args: []string{"report", "--config", ouarzazate, "--gateway", "http://127.0.0.1:1", "--token", "x", "--redis", "redis://127.0.0.1:1", "--all"}, code: exitUsage, want: "not with"},
		"no config":         {args: []string{"report", "--all"}, code: exitUsage, want: "--config"},
		"no store in data":  {args: []string{"report", "--config", ouarzazate, "--data", t.TempDir(), "--all"}, code: exitFailure, want: "no embedded store"},
		"no chromium": {args: append(base[:len(base):len(base)], "--all", "--format", "pdf", "--out", filepath.Join(t.TempDir(), "x.pdf"),
			"--chromium", "/nonexistent/chromium"), code: exitFailure, want: "apt-get install chromium"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
				t.Errorf("exit %d, stderr %q; want %d, one line with %q, nothing on stdout", code, stderr, tc.code, tc.want)
			}
		})
	}
	if _, after, _ := runCLI(t, nil, "report", "--config", ouarzazate, "--data", data, "--all"); after != before || before == "" {
		t.Error("a bad use changed the report")
	}
}

func decodeReport(s string) (*report.Report, error) {
	var r report.Report
	err := json.Unmarshal([]byte(s), &r)
	return &r, err
}

// pdfText extracts the text of a PDF with poppler's pdftotext, and checks
// that it has pages.
func pdfText(t *testing.T, file string) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext not found: run `make test`, which installs poppler-utils, or apt-get install poppler-utils")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	info, err := exec.CommandContext(ctx, "pdfinfo", file).CombinedOutput()
	if err != nil || !bytes.Contains(info, []byte("(A4)")) || bytes.Contains(info, []byte("Pages:           0")) {
		t.Errorf("pdfinfo %s: %v\n%s (want A4 pages)", file, err, info)
	}
	out, err := exec.CommandContext(ctx, "pdftotext", "-layout", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	if len(bytes.TrimSpace(out)) == 0 {
		t.Fatal("the PDF has no text")
	}
	return string(out)
}

func mustStaffToken(t *testing.T, data string, role token.Role) string {
	t.Helper()
	code, out, stderr := runCLI(t, nil, "token", "--data", data, "--role", string(role), "--ttl", "1h")
	if code != exitOK {
		t.Fatalf("token: %s", stderr)
	}
	return strings.TrimSpace(out)
}
