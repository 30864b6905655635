package token_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crowdflow/token"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestSignVerify(t *testing.T) {
	now := time.Date(2025, 9, 17, 9, 0, 0, 0, time.UTC)
	c := token.Claims{Role: token.Scanner, Gates: []string{"MAIN-1"}, Subject: "gate-laptop-3",
		Issued: now.Unix(), Expires: now.Add(24 * time.Hour).Unix()}
	tok, err := token.Sign(secret, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := token.Verify(secret, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != c.Role || got.Subject != c.Subject || !got.AllowsGate("MAIN-1") || got.AllowsGate("MAIN-2") {
		t.Fatalf("got %+v, want %+v", got, c)
	}

	tests := map[string]struct {
		tok  string
		at   time.Time
		want error
	}{
		"expired":        {tok, now.Add(24 * time.Hour), token.ErrExpired},
		"other secret":   {mustSign(t, []byte("another secret, 32 bytes long!!!"), c), now, token.ErrSignature},
		"claims changed": {strings.Replace(tok, "CFT1.", "CFT1.e", 1), now, token.ErrSignature},
		"mac cut":        {tok[:len(tok)-3], now, token.ErrSignature}, // 40 characters: 30 bytes, no trailing bits
		"no prefix":      {strings.TrimPrefix(tok, "CFT1."), now, token.ErrMalformed},
		"empty":          {"", now, token.ErrMalformed},
		"huge":           {"CFT1." + strings.Repeat("a", 5000), now, token.ErrMalformed},
		"bad base64 mac": {tok[:strings.LastIndexByte(tok, '.')] + ".!!", now, token.ErrMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := token.Verify(secret, tc.tok, tc.at)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func mustSign(tb testing.TB, secret []byte, c token.Claims) string {
	tb.Helper()
	tok, err := token.Sign(secret, c)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestRoles(t *testing.T) {
	tests := map[token.Role][]token.Action{
		token.Scanner:    {token.Scan},
		token.Security:   {token.Live},
		token.Organizer:  {token.Live, token.Reports},
		token.Supervisor: {token.Scan, token.Force, token.Live, token.Reports},
	}
	all := []token.Action{token.Scan, token.Force, token.Live, token.Reports}
	for role, allowed := range tests {
		for _, a := range all {
			want := false
			for _, b := range allowed {
				want = want || a == b
			}
			if got := role.Can(a); got != want {
				t.Errorf("%s can %s: got %v, want %v", role, a, got, want)
			}
		}
	}
	if _, err := token.Sign(secret, token.Claims{Role: "admin"}); err == nil {
		t.Error("signed a token for an unknown role")
	}
	if (token.Claims{Role: token.Security}).AllowsGate("MAIN-1") {
		t.Error("a security token may scan")
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	if _, err := token.LoadSecret(dir); err == nil {
		t.Fatal("loaded a missing secret")
	}
	if err := os.WriteFile(filepath.Join(dir, token.SecretFile), []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := token.LoadSecret(dir); err == nil {
		t.Fatal("loaded a 2-byte secret")
	}
	if err := os.WriteFile(filepath.Join(dir, token.SecretFile), []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := token.LoadSecret(dir)
	if err != nil || len(s) != 32 {
		t.Fatalf("got %d bytes, %v; want 32", len(s), err)
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Date(2025, 9, 17, 9, 0, 0, 0, time.UTC)
	f.Add(mustSign(f, secret, token.Claims{Role: token.Supervisor, Expires: now.Add(time.Hour).Unix()}))
	f.Add("CFT1..")
	f.Add("CFT1.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := token.Verify(secret, tok, now)
		if err == nil {
			if again := mustSign(t, secret, c); again == "" {
				t.Fatal("verified claims do not sign")
			}
		}
	})
}

// TestOneSpelling: a token verifies in the one spelling Sign made, and in no
// other that a lenient base64 decoder would read as the same bytes.
func TestOneSpelling(t *testing.T) {
	now := time.Date(2025, 9, 17, 9, 0, 0, 0, time.UTC)
	c := token.Claims{Role: token.Organizer, Subject: "ops", Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()}
	// A subject that makes the token hold - or _, which the standard
	// alphabet spells + and /.
	var tok string
	for i := 0; !strings.ContainsAny(tok, "-_"); i++ {
		c.Subject = fmt.Sprintf("ops-%d", i)
		tok = mustSign(t, secret, c)
	}
	if _, err := token.Verify(secret, tok, now); err != nil {
		t.Fatalf("the token as signed: %v", err)
	}
	dot := strings.LastIndexByte(tok, '.')
	head, sig := tok[:dot], tok[dot+1:]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	// A 32-byte mac is 43 characters: the last carries 4 bits of the mac
	// and 2 unused ones. The three other values of those 2 bits decode to
	// the same mac under a lenient decoder.
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	variants := map[string]string{
		"padding":           tok + "=",
		"standard alphabet": strings.NewReplacer("-", "+", "_", "/").Replace(tok),
		"line break in mac": head + "." + sig[:10] + "\n" + sig[10:],
		"CR in claims":      head[:8] + "\r" + head[8:] + "." + sig,
		"trailing space":    tok + " ",
	}
	for bits := 1; bits < 4; bits++ {
		variants[fmt.Sprintf("trailing bits %02b", bits)] = head + "." + sig[:len(sig)-1] + string(alphabet[last^bits])
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			if v == tok {
				t.Fatalf("the variant is the token itself")
			}
			if _, err := token.Verify(secret, v, now); err == nil {
				t.Errorf("%q verifies: want only %q", v, tok)
			}
		})
	}
}
