package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"crowdflow/event"
	"crowdflow/ticket"
	"crowdflow/token"
)

// decodePNG reads a ticket's QR code back with a real decoder (ZXing's Go port).
func decodePNG(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("%s: no QR code read: %v", path, err)
	}
	return res.GetText()
}

const ouarzazate = "configs/ouarzazate-2025.yaml"

// runCLI runs the binary's run function as a user would call the binary.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	tests := map[string]struct {
		args []string
		code int
	}{
		"no command":        {nil, exitUsage},
		"help":              {[]string{"-h"}, exitOK},
		"unknown command":   {[]string{"fly"}, exitUsage},
		"keys help":         {[]string{"keys", "-h"}, exitOK},
		"tickets help":      {[]string{"tickets", "issue", "-h"}, exitOK},
		"token help":        {[]string{"token", "-h"}, exitOK},
		"unknown flag":      {[]string{"keys", "--colour", "red"}, exitUsage},
		"missing flags":     {[]string{"tickets", "issue"}, exitUsage},
		"bad role":          {[]string{"token", "--role", "king"}, exitUsage},
		"tickets no verb":   {[]string{"tickets"}, exitUsage},
		"revoke without id": {[]string{"tickets", "revoke", "--config", ouarzazate}, exitUsage},
		"revoke bad id":     {[]string{"tickets", "revoke", "--config", ouarzazate, "not-an-id"}, exitUsage},
		"revoke through a gateway without a token": {[]string{"tickets", "revoke", "--gateway", "http://127.0.0.1:1", "aaaaaaaaaaaaaaaa"}, exitUsage},
		"revoke through a gateway, bad URL":        {[]string{"tickets", "revoke", "--gateway", "ftp://h", "--token", "t", "aaaaaaaaaaaaaaaa"}, exitUsage},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if code != exitOK && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

// TestIssueVerifyRevoke walks an operator's first steps: keys, a staff
// token, a batch of tickets, and a revocation in the embedded store — with
// the flags given through the environment, as CONTRACT §1 promises.
func TestIssueVerifyRevoke(t *testing.T) {
	data, out := t.TempDir(), filepath.Join(t.TempDir(), "batch-1")
	env := map[string]string{"CROWDFLOW_DATA": data, "CROWDFLOW_CONFIG": ouarzazate}
	if code, _, stderr := runCLI(t, env, "keys"); code != exitOK {
		t.Fatalf("keys: exit %d: %s", code, stderr)
	}
	pub, err := ticket.LoadPublicKey(data)
	if err != nil {
		t.Fatal(err)
	}

	code, tok, stderr := runCLI(t, env, "token", "--role", "scanner", "--gate", "MAIN-1", "--ttl", "2h")
	if code != exitOK {
		t.Fatalf("token: exit %d: %s", code, stderr)
	}
	secret, err := token.LoadSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := token.Verify(secret, strings.TrimSpace(tok), time.Now())
	if err != nil || !claims.AllowsGate("MAIN-1") || claims.AllowsGate("STAGE-1") {
		t.Fatalf("token claims %+v, %v: want a scanner at MAIN-1 only", claims, err)
	}

	code, _, stderr = runCLI(t, env, "tickets", "issue", "--type", "visitor", "--days", "2025-09-18",
		"--count", "5", "--out", out)
	if code != exitOK {
		t.Fatalf("issue: exit %d: %s", code, stderr)
	}
	ev, err := event.Load(ouarzazate)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "manifest.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rows[0][:6], ","), "ticket_id,type,days,zones,payload,file"; got != want {
		t.Fatalf("manifest header %q, want it to start with %q", got, want)
	}
	if len(rows) != 6 {
		t.Fatalf("manifest has %d tickets, want 5", len(rows)-1)
	}
	// The payloads are bearer credentials: the directory and its files are
	// the issuer's alone.
	modes := map[string]os.FileMode{out: 0o700, filepath.Join(out, "manifest.csv"): 0o600}
	for _, r := range rows[1:] {
		modes[filepath.Join(out, r[5])] = 0o600
	}
	for p, want := range modes {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
	}
	var ids []string
	for _, r := range rows[1:] {
		tk, err := ticket.Verify(r[4], pub)
		if err != nil {
			t.Fatalf("manifest payload does not verify: %v", err)
		}
		if tk.ID.String() != r[0] || tk.Event != ev.Hash() || tk.Type != ev.TicketType("visitor").Hash ||
			strings.Join(tk.Days, ",") != "2025-09-18" {
			t.Errorf("ticket %+v does not match its manifest row %q", tk, r)
		}
		if got := decodePNG(t, filepath.Join(out, r[5])); got != r[4] {
			t.Errorf("PNG of %s decodes to %q, want its payload %q", r[0], got, r[4])
		}
		ids = append(ids, r[0])
	}

	code, stdout, stderr := runCLI(t, env, append([]string{"tickets", "revoke"}, ids[:2]...)...)
	if code != exitOK || !strings.Contains(stdout, "revoked 2") {
		t.Fatalf("revoke: exit %d, %q %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, env, "tickets", "revoke", ids[0], strings.ToUpper(ids[2]))
	if code != exitOK || !strings.Contains(stdout, "revoked 1") || !strings.Contains(stdout, "1 were already") {
		t.Fatalf("second revoke: exit %d, %q: want one new, one already revoked (it persisted)", code, stdout)
	}

	if code, _, _ := runCLI(t, env, "tickets", "issue", "--type", "visitor", "--count", "1", "--out", out); code != exitFailure {
		t.Errorf("issuing over an existing manifest: exit %d, want %d", code, exitFailure)
	}
	if code, _, _ := runCLI(t, env, "tickets", "issue", "--type", "visitor", "--days", "2025-09-30",
		"--count", "1", "--out", t.TempDir()); code != exitUsage {
		t.Errorf("a day outside the event: exit %d, want %d", code, exitUsage)
	}
}
