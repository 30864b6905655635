package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Exit statuses (CONTRACT §1).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env looks up an environment variable; os.Getenv in production, a map in tests.
type env func(string) string

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, c *cli, args []string) error
}

// cli is what every subcommand gets from run: its environment and streams.
type cli struct {
	env            env
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageError marks bad usage: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func commands() []command {
	return []command{
		{"demo", "everything on one machine: gateway, embedded store, a simulated fair day", runDemo},
		{"keys", "create the event's ticket key pair and staff-token secret, if absent", runKeys},
		{"tickets", "issue signed QR tickets, or revoke tickets", runTickets},
		{"token", "print a signed staff token for a device or a person", runToken},
		{"gateway", "the service: scanner websocket, HTTP API and metrics", runGateway},
		{"report", "the attendance report of a day or of the whole event: json, csv, html or pdf", runReport},
		{"scanner", "the gate client: reads ticket payloads on stdin, shows verdicts, queues offline", runScanner},
		{"day", "close an event day by hand: whoever is still inside is swept out", runDay},
	}
}

// run is the whole program but for the process: it parses args, runs one
// subcommand and returns the exit status. Errors go to stderr as one line.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{env: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, cmd := range commands() {
		if cmd.name != args[0] {
			continue
		}
		err := cmd.run(ctx, c, args[1:])
		var ue usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "crowdflow %s: %v (see crowdflow %s -h)\n", cmd.name, err, cmd.name)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "crowdflow %s: %v\n", cmd.name, err)
			return exitFailure
		}
	}
	fmt.Fprintf(stderr, "crowdflow: unknown command %q (see crowdflow -h)\n", args[0])
	return exitUsage
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: crowdflow <command> [flags]\n\ncommands:")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set by the environment variable CROWDFLOW_<FLAG>.")
}

// flags returns a flag set for a subcommand that reports to c.
func (c *cli) flags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stdout, "usage: crowdflow %s\n\n", synopsis)
		fs.SetOutput(c.stdout)
		fs.PrintDefaults()
		fs.SetOutput(c.stderr)
		fmt.Fprintf(c.stdout, "\nEvery flag can also be set by CROWDFLOW_<FLAG> (upper case, - becomes _).\n")
	}
	return fs
}

// parse parses args, then sets every flag not given on the command line
// from its environment variable CROWDFLOW_<FLAG>, if that is set.
func (c *cli) parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard) // parse errors are reported once, by run; -h prints fs.Usage
	err := fs.Parse(args)
	fs.SetOutput(c.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return usageError{err}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v := c.env(name); !given[f.Name] && v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

func envName(flag string) string {
	return "CROWDFLOW_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// required reports, as one usage error, the flags that are still empty.
func required(fs *flag.FlagSet, names ...string) error {
	var missing []string
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// list is a comma-separated flag value; given more than once, the values
// add up.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// maxTokenFile bounds a token file: a token is at most 2 KiB.
const maxTokenFile = 4096

// staffToken is the token of a command that talks to a gateway: --token
// (or CROWDFLOW_TOKEN) or the first line of --token-file, which keeps it out
// of the process list (ps shows every argument to every user).
func staffToken(tok, file string) (string, error) {
	switch {
	case tok != "" && file != "":
		return "", usagef("--token and --token-file: give one")
	case file == "":
		return tok, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", file, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" || len(b) > maxTokenFile {
		return "", fmt.Errorf("token file %s: want one staff token on its first line (crowdflow token > FILE)", file)
	}
	return line, nil
}

// plainTextWarning is the warning for a token sent to gateway in clear text:
// http:// or ws:// to a host that is not this machine, where anyone on the
// network path can read it and use it. "" when there is nothing to say.
func plainTextWarning(gateway string) string {
	u, err := url.Parse(gateway)
	if err != nil || (u.Scheme != "http" && u.Scheme != "ws") {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return ""
	}
	return fmt.Sprintf("warning: the staff token goes to %s in clear text (%s://): anyone on the network can read it; "+
		"use https:// (gateway --tls-cert) outside a closed network", host, u.Scheme)
}

// gatewayHTTPTimeout bounds one request of a command to a running gateway.
const gatewayHTTPTimeout = 30 * time.Second

// gatewayError is the error body of the gateway's HTTP API (CONTRACT §4).
type gatewayError struct {
	Error struct{ Code, Message string } `json:"error"`
}

// callGateway sends one request of a command to a running gateway's HTTP
// API, base + path with query, the staff token as a bearer token, body (if
// not nil) as JSON, and returns the answer's status and at most limit bytes
// of its body. A base that is no http(s)://host[:port] is bad usage.
func callGateway(ctx context.Context, method, base, path string, query url.Values, tok string, body []byte, limit int64) (int, []byte, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, nil, usagef("--gateway %.60q: want http(s)://host:port", base)
	}
	u = u.JoinPath(path)
	u.RawQuery = query.Encode()
	ctx, cancel := context.WithTimeout(ctx, gatewayHTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("gateway %s: %w", u.Host, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, limit))
	if err != nil {
		return 0, nil, fmt.Errorf("gateway %s: %w", u.Host, err)
	}
	return res.StatusCode, b, nil
}

// gatewayRefusal is the error for a gateway's answer other than 200: its
// status and its own code and message when the body is the API's error.
func gatewayRefusal(status int, body []byte) error {
	var e gatewayError
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Code + ": " + e.Error.Message
	}
	return fmt.Errorf("gateway answered %d %s: %s", status, http.StatusText(status), msg)
}
