package ticket

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Key file names in the data directory.
const (
	// PrivateKeyFile holds the signing key, PKCS#8 PEM, mode 0600: only
	// the issuing machine needs it.
	PrivateKeyFile = "ticket.key"
	// PublicKeyFile holds the verifying key, PKIX PEM, mode 0644: it is
	// copied to every gateway and scanner.
	PublicKeyFile = "ticket.pub"
)

// CreateKeys creates the event's ticket key pair in dir (made, mode 0700, if
// absent) unless it is already there. It never overwrites a key: replacing
// the key would invalidate every ticket already printed. It returns true when
// it created the pair, false (and no error) when both files exist, and an
// error when only one exists, since half a pair means something went wrong
// that an operator must look at.
func CreateKeys(dir string) (created bool, err error) {
	keyPath := filepath.Join(dir, PrivateKeyFile)
	pubPath := filepath.Join(dir, PublicKeyFile)
	keyExists, err := exists(keyPath)
	if err != nil {
		return false, err
	}
	pubExists, err := exists(pubPath)
	if err != nil {
		return false, err
	}
	switch {
	case keyExists && pubExists:
		return false, nil
	case keyExists:
		return false, fmt.Errorf("create ticket keys: %s exists without %s; restore it or remove both", keyPath, pubPath)
	case pubExists:
		return false, fmt.Errorf("create ticket keys: %s exists without %s; restore it or remove both", pubPath, keyPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("create ticket keys: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false, fmt.Errorf("create ticket keys: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return false, fmt.Errorf("create ticket keys: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return false, fmt.Errorf("create ticket keys: %w", err)
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return false, fmt.Errorf("create ticket keys: %w", err)
	}
	if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		// The private key is ours, written a moment ago; leaving it alone
		// would make every later call fail on half a pair.
		_ = os.Remove(keyPath)
		return false, fmt.Errorf("create ticket keys: %w", err)
	}
	return true, syncDir(dir)
}

// LoadPrivateKey reads the signing key CreateKeys wrote in dir.
func LoadPrivateKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, PrivateKeyFile)
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("load ticket key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load ticket key %s: a %T, want an Ed25519 key", path, k)
	}
	return priv, nil
}

// LoadPublicKey reads the verifying key CreateKeys wrote in dir.
func LoadPublicKey(dir string) (ed25519.PublicKey, error) {
	path := filepath.Join(dir, PublicKeyFile)
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("load ticket key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("load ticket key %s: a %T, want an Ed25519 key", path, k)
	}
	return pub, nil
}

func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load ticket key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return nil, fmt.Errorf("load ticket key %s: no %q PEM block", path, typ)
	}
	return blk.Bytes, nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("create ticket keys: %w", err)
}

// writeNew writes a file that must not exist yet, atomically: the data goes
// to a temporary file that is then hard-linked to its name, which fails
// rather than replaces if another process created the file meanwhile, and
// never leaves a half-written key under the real name after a crash. The
// mode is set explicitly so a restrictive or loose umask changes nothing.
func writeNew(path string, data []byte, mode fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		_ = os.Remove(tmp) // the link, if made, keeps the data
	}()
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir makes the new directory entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("create ticket keys: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("create ticket keys: sync %s: %w", dir, err)
	}
	return nil
}
