package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/internal/syncbuf"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
	"crowdflow/ticket"
	"crowdflow/token"
	"crowdflow/wire"
)

// The Redis tests and drills of the CLI share one fair: the Ouarzazate event
// with fresh keys, run at fairClock, gateways started by run() as the binary
// does, and gate devices that speak the scanner protocol (CONTRACT §3).

// fairClock is the event clock of the gateways: 11:00 on the first day.
const fairClock = "2025-09-17T11:00:00+01:00"

// fairGate is where every device scans: the main entrance of the site.
const fairGate = "MAIN-1"

// replyWait bounds one wait for a verdict.
const replyWait = 5 * time.Second

type fair struct {
	data   string
	ev     *event.Event
	key    ed25519.PrivateKey
	secret []byte
}

// mustFair makes the keys of the Ouarzazate event in a directory of t.
func mustFair(t *testing.T) *fair {
	t.Helper()
	f := &fair{data: t.TempDir()}
	if code, _, stderr := runCLI(t, nil, "keys", "--data", f.data); code != exitOK {
		t.Fatalf("keys: %s", stderr)
	}
	var err error
	if f.ev, err = event.Load(ouarzazate); err != nil {
		t.Fatal(err)
	}
	if f.key, err = ticket.LoadPrivateKey(f.data); err != nil {
		t.Fatal(err)
	}
	if f.secret, err = token.LoadSecret(f.data); err != nil {
		t.Fatal(err)
	}
	return f
}

// gateway starts `crowdflow gateway` on a free port with args added, and
// returns its base URL; its log goes to log when log is not nil.
func (f *fair) gateway(t *testing.T, log *syncBuffer, args ...string) (base string, stop func() int) {
	t.Helper()
	args = append([]string{"gateway", "--config", ouarzazate, "--data", f.data, "--listen", "127.0.0.1:0",
		"--clock", fairClock, "--log-level", "warn"}, args...)
	if log == nil {
		return startServing(t, args...)
	}
	return startServingWith(t, io.Discard, log, args...)
}

// ticket signs a visitor ticket that allows re-entry.
func (f *fair) ticket(t testing.TB) string {
	t.Helper()
	id, err := ticket.NewID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ticket.Sign(&ticket.Ticket{Event: f.ev.Hash(), ID: id, Type: f.ev.TicketType("visitor").Hash, Reentry: true}, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ledger opens the fair's ledger on the Redis that o names, as the gateway does.
func (f *fair) ledger(t testing.TB, o redisengine.Options) *ledger.Store {
	t.Helper()
	eng, err := redisengine.Dial(context.Background(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	st, err := ledger.New(admission.LedgerConfig(f.ev), eng)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// device is one gate device on /ws/scan at fairGate. It sends one scan at
// a time and waits for its answer. Not safe for concurrent use.
type device struct {
	ws *websocket.Conn
}

// errUnavailable is the gateway's answer when its store did not answer: the
// device resends later with the same id.
var errUnavailable = errors.New("store unavailable")

// dialDevice connects a device named name to the gateway at base and says hello.
func (f *fair) dialDevice(base, name string) (*device, error) {
	now := time.Now()
	tok, err := token.Sign(f.secret, token.Claims{Role: token.Scanner, Subject: name,
		Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: replyWait}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/scan", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		return nil, err
	}
	dev := &device{ws: ws}
	if err := dev.send(wire.Hello{Type: wire.TypeHello, Protocol: wire.Protocol, Device: name, Gate: fairGate}); err != nil {
		ws.Close()
		return nil, err
	}
	var w wire.Welcome
	if err := dev.read(&w); err != nil || w.Type != wire.TypeWelcome {
		ws.Close()
		return nil, fmt.Errorf("hello: %v (%s)", err, w.Type)
	}
	return dev, nil
}

func (d *device) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = d.ws.SetWriteDeadline(time.Now().Add(replyWait))
	return d.ws.WriteMessage(websocket.TextMessage, b)
}

func (d *device) read(v any) error {
	_ = d.ws.SetReadDeadline(time.Now().Add(replyWait))
	_, b, err := d.ws.ReadMessage()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// scan sends one scan and returns its verdict; errUnavailable when the
// gateway could not reach its store, another error when the connection
// failed (dial again and resend).
func (d *device) scan(id, payload string, dir checkin.Direction, at time.Time) (wire.Verdict, error) {
	if err := d.send(wire.Scan{Type: wire.TypeScan, ID: id, Ticket: payload, Direction: dir, At: at}); err != nil {
		return wire.Verdict{}, err
	}
	var r struct {
		wire.Verdict
		Code string `json:"code"`
	}
	if err := d.read(&r); err != nil {
		return wire.Verdict{}, err
	}
	switch {
	case r.Type == wire.TypeError && r.Code == wire.ErrUnavailable:
		return wire.Verdict{}, errUnavailable
	case r.Type != wire.TypeVerdict || r.ID != id:
		return wire.Verdict{}, fmt.Errorf("scan %s: got %s %s for %q", id, r.Type, r.Code, r.ID)
	}
	r.Verdict.Code = checkin.Code(r.Code)
	return r.Verdict, nil
}

func (d *device) close() { _ = d.ws.Close() }

// quietRedis drops go-redis' own log lines (every refused dial while a
// drill has killed a server, every sentinel switch), which bury the tests'
// output; the gateway's own log says what matters.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }

// syncBuffer is a log that goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer
