package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"crowdflow/ticket"
)

// tokenSecretFile holds the secret that signs staff tokens (hex, 32 bytes).
const tokenSecretFile = "token.secret"

func runKeys(_ context.Context, c *cli, args []string) error {
	fs := c.flags("keys", "keys --data DIR")
	data := fs.String("data", "./data", "data directory for the keys")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	created, err := ticket.CreateKeys(*data)
	if err != nil {
		return err
	}
	sayCreated(c, created, filepath.Join(*data, "ticket.key"), "ticket signing key")
	created, err = createTokenSecret(*data)
	if err != nil {
		return err
	}
	sayCreated(c, created, filepath.Join(*data, tokenSecretFile), "staff token secret")
	return nil
}

func sayCreated(c *cli, created bool, path, what string) {
	if created {
		fmt.Fprintf(c.stdout, "created %s: %s\n", what, path)
	} else {
		fmt.Fprintf(c.stdout, "kept existing %s: %s\n", what, path)
	}
}

// createTokenSecret writes a new random secret unless one exists: a new
// secret would void every staff token already handed out.
func createTokenSecret(dir string) (bool, error) {
	path := filepath.Join(dir, tokenSecretFile)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("token secret: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		f.Close()
		return false, fmt.Errorf("token secret: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, fmt.Errorf("token secret: %w", err)
	}
	return true, f.Close()
}
