// Command crowdflow is the visitor check-in and crowd-flow system: one
// binary with a subcommand per part (CONTRACT §1). main only wires signals
// to run; everything else happens below run, where tests can call it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
