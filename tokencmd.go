package main

import (
	"context"
	"fmt"
	"time"

	"crowdflow/token"
)

// maxTTL bounds a token's life: a lost phone should not open gates for a year.
const maxTTL = 31 * 24 * time.Hour

func runToken(_ context.Context, c *cli, args []string) error {
	fs := c.flags("token", "token --data DIR --role scanner|security|organizer|supervisor [--gate ID,...] [--ttl 24h] [--subject NAME]")
	data := fs.String("data", "./data", "data directory holding token.secret (see crowdflow keys)")
	role := fs.String("role", "", "scanner, security, organizer or supervisor")
	var gates list
	fs.Var(&gates, "gate", "gates the token may scan at, ID,... (default: every gate)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	subject := fs.String("subject", "", "the device or person it is for, shown in logs")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "role"); err != nil {
		return err
	}
	r, err := token.ParseRole(*role)
	if err != nil {
		return usageError{err}
	}
	if *ttl <= 0 || *ttl > maxTTL {
		return usagef("--ttl %s: want more than 0 and at most %s", *ttl, maxTTL)
	}
	secret, err := token.LoadSecret(*data)
	if err != nil {
		return err
	}
	now := time.Now()
	tok, err := token.Sign(secret, token.Claims{Role: r, Gates: gates, Subject: *subject,
		Issued: now.Unix(), Expires: now.Add(*ttl).Unix()})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, tok)
	return nil
}
