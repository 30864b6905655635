package ticket_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"crowdflow/ticket"
)

// MustKeys creates a key pair in a fresh directory and returns the directory.
func MustKeys(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "data")
	created, err := ticket.CreateKeys(dir)
	if err != nil || !created {
		tb.Fatalf("CreateKeys(%s) = %v, %v; want true, nil", dir, created, err)
	}
	return dir
}

func TestCreateKeysFiles(t *testing.T) {
	dir := MustKeys(t)
	tests := map[string]struct {
		name string
		mode fs.FileMode
		head string
	}{
		"private": {ticket.PrivateKeyFile, 0o600, "-----BEGIN PRIVATE KEY-----\n"},
		"public":  {ticket.PublicKeyFile, 0o644, "-----BEGIN PUBLIC KEY-----\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode(); got != tc.mode {
				t.Errorf("mode %v, want %v", got, tc.mode)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte(tc.head)) {
				t.Errorf("file starts %q, want %q", b[:min(len(b), 40)], tc.head)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("data dir holds %d entries, want the 2 key files (no temporary files left)", len(entries))
	}
}

func TestCreateKeysNeverOverwrites(t *testing.T) {
	tests := map[string]struct {
		remove  string // file removed before the second call
		created bool
		fails   bool
	}{
		"both present":   {"", false, false},
		"public missing": {ticket.PublicKeyFile, false, true},
		"key missing":    {ticket.PrivateKeyFile, false, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := MustKeys(t)
			before := map[string][]byte{}
			for _, f := range []string{ticket.PrivateKeyFile, ticket.PublicKeyFile} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				before[f] = b
			}
			if tc.remove != "" {
				if err := os.Remove(filepath.Join(dir, tc.remove)); err != nil {
					t.Fatal(err)
				}
				delete(before, tc.remove)
			}
			created, err := ticket.CreateKeys(dir)
			if created != tc.created || (err != nil) != tc.fails {
				t.Fatalf("CreateKeys = %v, %v; want %v, error %v", created, err, tc.created, tc.fails)
			}
			for f, want := range before {
				got, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s changed or vanished: %v", f, err)
				}
			}
			if tc.remove != "" {
				if _, err := os.Stat(filepath.Join(dir, tc.remove)); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("%s was recreated: %v", tc.remove, err)
				}
			}
		})
	}
}

// TestCreateKeysConcurrent: operators may start two "crowdflow keys" at
// once; one makes the pair, the others make nothing and break nothing.
func TestCreateKeysConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const n = 8
	type result struct {
		created bool
		err     error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			created, err := ticket.CreateKeys(dir)
			results <- result{created, err}
		})
	}
	wg.Wait()
	close(results)
	made := 0
	for r := range results {
		if r.created {
			made++
			if r.err != nil {
				t.Errorf("created, with error %v", r.err)
			}
		}
	}
	if made != 1 {
		t.Fatalf("%d calls created keys, want exactly 1", made)
	}
	priv, err := ticket.LoadPrivateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ticket.LoadPublicKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("the key files are not one pair")
	}
}

func TestLoadKeysRoundTrip(t *testing.T) {
	dir := MustKeys(t)
	priv, err := ticket.LoadPrivateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ticket.LoadPublicKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("ticket.pub does not hold the public half of ticket.key")
	}
	p := MustSign(t, flips()["full"], priv)
	if _, err := ticket.Verify(p, pub); err != nil {
		t.Fatalf("Verify with the loaded key: %v", err)
	}
	// Another CreateKeys elsewhere makes another key.
	other, err := ticket.LoadPublicKey(MustKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	if other.Equal(pub) {
		t.Fatal("two CreateKeys calls made the same key")
	}
}

func TestLoadKeysErrors(t *testing.T) {
	good := MustKeys(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(good, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rsaLike := []byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n")
	tests := map[string]struct {
		key, pub []byte // file contents; nil: no file
	}{
		"no files":          {nil, nil},
		"not pem":           {[]byte("hello"), []byte("hello")},
		"swapped":           {read(ticket.PublicKeyFile), read(ticket.PrivateKeyFile)},
		"bad der":           {rsaLike, bytes.ReplaceAll(rsaLike, []byte("PRIVATE"), []byte("PUBLIC"))},
		"truncated":         {read(ticket.PrivateKeyFile)[:40], read(ticket.PublicKeyFile)[:40]},
		"empty files":       {[]byte{}, []byte{}},
		"certificate block": {[]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"), nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, b := range map[string][]byte{ticket.PrivateKeyFile: tc.key, ticket.PublicKeyFile: tc.pub} {
				if b != nil {
					if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			if k, err := ticket.LoadPrivateKey(dir); err == nil {
				t.Errorf("LoadPrivateKey = %d bytes, want an error", len(k))
			}
			if k, err := ticket.LoadPublicKey(dir); err == nil {
				t.Errorf("LoadPublicKey = %x, want an error", k)
			}
		})
	}
}

func TestLoadKeysMissingIsNotExist(t *testing.T) {
	dir := t.TempDir()
	if _, err := ticket.LoadPrivateKey(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadPrivateKey error %v, want fs.ErrNotExist", err)
	}
	if _, err := ticket.LoadPublicKey(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadPublicKey error %v, want fs.ErrNotExist", err)
	}
}
