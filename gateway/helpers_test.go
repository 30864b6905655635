package gateway_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/gateway"
	"crowdflow/internal/redistest"
	"crowdflow/internal/syncbuf"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/ledger/redisengine"
	"crowdflow/ticket"
	"crowdflow/token"
	"crowdflow/wire"
)

// The event files of the tests.
const (
	ouarzazate = "../configs/ouarzazate-2025.yaml"
	tinyFair   = "testdata/tiny.yaml"
)

// wallStart is the wall clock of every test gateway: tokens are issued on it
// and expire on it, and rate limits refill only when a test moves it.
var wallStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// readTimeout bounds every wait of a test client for a frame: a deadline, not
// a sleep.
const readTimeout = 15 * time.Second

// Engines are the two ledger engines every behaviour test runs on.
var engines = []string{"redis", "embedded"}

// Options shape a test gateway.
type Options struct {
	Config      string // event file; ouarzazate by default
	Engine      string // "redis" (default) or "embedded"
	AppendFsync string // Redis AOF policy; "" is "always"
	Tune        func(*gateway.Config)
	Wrap        func(gateway.Store) gateway.Store // wraps the store the gateway sees
	Listener    func(net.Listener) net.Listener   // wraps the listener Run serves
	// Peer, when set, makes this gateway a second instance beside Peer: the
	// same event file, keys, secret and clocks, and a store of its own on
	// Peer's Redis (Peer must run on Redis).
	Peer *Env
}

// Env is one gateway under test, served by Run on a loopback :0 listener,
// with everything it was built from.
type Env struct {
	Event  *event.Event
	Key    ed25519.PrivateKey
	Secret []byte
	Clock  *clock.Manual // the event clock: 2025-09-17 11:00, Ouarzazate
	Wall   *clock.Manual // the wall clock: wallStart
	Ledger *ledger.Store
	Redis  *redistest.Server // nil on the embedded engine
	Server *gateway.Server
	Addr   string // host:port
	URL    string // http://host:port

	logs     *syncBuffer
	cancel   context.CancelFunc
	stopOnce sync.Once
	runErr   error
	done     chan error

	mu          sync.Mutex
	secrets     []string // tokens and ticket payloads handed out: never to be logged
	stopChecked bool     // the test called Stop and checks Run's result itself
}

// MustEnv starts a gateway for tb and stops it when tb ends; it then also
// checks that the logs hold no token or ticket payload.
func MustEnv(tb testing.TB, opts Options) *Env {
	tb.Helper()
	if opts.Config == "" {
		opts.Config = ouarzazate
	}
	ev, err := event.Load(opts.Config)
	if err != nil {
		tb.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	e := &Env{Event: ev, Key: key, Secret: MustRandom(tb, 32),
		Clock: clock.NewManual(time.Date(2025, 9, 17, 11, 0, 0, 0, ev.Location)),
		Wall:  clock.NewManual(wallStart), logs: &syncBuffer{}, done: make(chan error, 1)}
	if p := opts.Peer; p != nil {
		if p.Redis == nil {
			tb.Fatal("a peer gateway needs a gateway on Redis")
		}
		ev, e.Event, e.Key, e.Secret, e.Clock, e.Wall = p.Event, p.Event, p.Key, p.Secret, p.Clock, p.Wall
		pub = p.Key.Public().(ed25519.PublicKey)
		e.Ledger, e.Redis = MustLedgerOn(tb, ev, p.Redis), p.Redis
	} else {
		e.Ledger, e.Redis = MustLedger(tb, ev, opts.Engine, opts.AppendFsync)
	}

	cfg := gateway.DefaultConfig()
	cfg.Origins = []string{"https://fair.example"}
	cfg.TicketKeys = []ed25519.PublicKey{pub}
	cfg.Wall = e.Wall
	cfg.CloseWait = 2 * time.Second
	if opts.Tune != nil {
		opts.Tune(&cfg)
	}
	var store gateway.Store = e.Ledger
	if opts.Wrap != nil {
		store = opts.Wrap(store)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.Server, err = gateway.New(cfg, ev, admission.New(ev, pub), store, e.Secret, e.Clock, logger)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e.Addr, e.URL = ln.Addr().String(), "http://"+ln.Addr().String()
	if opts.Listener != nil {
		ln = opts.Listener(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- e.Server.Run(ctx, ln) }()
	tb.Cleanup(func() {
		e.mu.Lock()
		checked := e.stopChecked
		e.mu.Unlock()
		if err := e.stop(); err != nil && !checked {
			tb.Errorf("gateway Run: %v", err)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		logs := e.logs.String()
		for _, s := range e.secrets {
			if strings.Contains(logs, s) {
				tb.Errorf("the logs hold a token or a ticket payload: %.24s...", s)
			}
		}
		if tb.Failed() {
			lines := strings.Split(strings.TrimSpace(logs), "\n")
			tb.Logf("gateway logs (the last %d lines):\n%s", min(len(lines), 40),
				strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	return e
}

// Stop cancels Run's context and returns what Run returned, which the
// caller then checks. It may be called more than once.
func (e *Env) Stop() error {
	e.mu.Lock()
	e.stopChecked = true
	e.mu.Unlock()
	return e.stop()
}

func (e *Env) stop() error {
	e.stopOnce.Do(func() {
		e.cancel()
		select {
		case e.runErr = <-e.done:
		case <-time.After(time.Minute):
			e.runErr = errors.New("Run did not return within a minute of its context ending")
		}
	})
	return e.runErr
}

// Logs is what the gateway has logged so far.
func (e *Env) Logs() string { return e.logs.String() }

func (e *Env) remember(secret string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, secret)
}

// MustLedger opens the event's ledger on engine: a fresh redis-server (AOF
// with appendfsync, "always" by default) or the embedded engine in a
// temporary directory.
func MustLedger(tb testing.TB, ev *event.Event, engine, appendFsync string) (*ledger.Store, *redistest.Server) {
	tb.Helper()
	var eng ledger.Engine
	var srv *redistest.Server
	switch engine {
	case "", "redis":
		if appendFsync == "" {
			appendFsync = "always"
		}
		srv = redistest.Start(tb, redistest.Options{AppendFsync: appendFsync})
		e, err := redisengine.Open(redistest.Context(tb), srv.URL())
		if err != nil {
			tb.Fatal(err)
		}
		eng = e
	case "embedded":
		e, err := embedded.Open(embedded.Options{Dir: tb.TempDir()})
		if err != nil {
			tb.Fatal(err)
		}
		eng = e
	default:
		tb.Fatalf("unknown engine %q", engine)
	}
	tb.Cleanup(func() { _ = eng.Close() })
	return storeOn(tb, ev, eng), srv
}

// MustLedgerOn opens another store of the event on a running redis-server,
// as a second gateway instance does.
func MustLedgerOn(tb testing.TB, ev *event.Event, srv *redistest.Server) *ledger.Store {
	tb.Helper()
	eng, err := redisengine.Open(redistest.Context(tb), srv.URL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = eng.Close() })
	return storeOn(tb, ev, eng)
}

func storeOn(tb testing.TB, ev *event.Event, eng ledger.Engine) *ledger.Store {
	tb.Helper()
	st, err := ledger.New(admission.LedgerConfig(ev), eng)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// MustRandom returns n random bytes.
func MustRandom(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// NewID returns a fresh scan id.
func NewID(tb testing.TB) string { return hex.EncodeToString(MustRandom(tb, 12)) }

// MustToken signs a staff token valid for a day of the wall clock.
func (e *Env) MustToken(tb testing.TB, role token.Role, gates ...string) string {
	tb.Helper()
	now := e.Wall.Now()
	return e.MustTokenUntil(tb, role, now.Add(24*time.Hour), gates...)
}

// MustTokenUntil signs a staff token that expires at exp.
func (e *Env) MustTokenUntil(tb testing.TB, role token.Role, exp time.Time, gates ...string) string {
	tb.Helper()
	tok, err := token.Sign(e.Secret, token.Claims{Role: role, Gates: gates, Subject: "test-" + string(role),
		Issued: e.Wall.Now().Add(-time.Hour).Unix(), Expires: exp.Unix()})
	if err != nil {
		tb.Fatal(err)
	}
	e.remember(tok)
	return tok
}

// TicketSpec describes a ticket to mint.
type TicketSpec struct {
	Type      string   // a ticket type of the event; "visitor" by default
	Days      []string // its own days; none: its type's
	Zones     []string // its own zones; none: its type's
	NoReentry bool
	Forged    bool   // signed with a key that is not the event's
	Event     string // another event's id, for a foreign ticket
}

// MustTicket mints a ticket and returns its payload and id.
func (e *Env) MustTicket(tb testing.TB, spec TicketSpec) (payload, id string) {
	tb.Helper()
	if spec.Type == "" {
		spec.Type = "visitor"
	}
	tid, err := ticket.NewID(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	t := &ticket.Ticket{Event: e.Event.Hash(), ID: tid, Type: e.Event.TicketType(spec.Type).Hash,
		Days: spec.Days, Reentry: !spec.NoReentry}
	if spec.Event != "" {
		t.Event = ticket.EventHash(spec.Event)
	}
	for _, z := range spec.Zones {
		t.Zones = append(t.Zones, e.Event.Zone(z).Hash)
	}
	key := e.Key
	if spec.Forged {
		_, key, _ = ed25519.GenerateKey(rand.Reader)
	}
	p, err := ticket.Sign(t, key)
	if err != nil {
		tb.Fatal(err)
	}
	e.remember(p)
	return p, tid.String()
}

// Client is a scanner: a real websocket client dialled over the loopback.
type Client struct {
	tb testing.TB
	ws *websocket.Conn
}

// Dial opens /ws/scan with the token as a Bearer header (none when tok is
// empty) and the extra headers.
func (e *Env) Dial(tok string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	for k, v := range hdr {
		h[k] = v
	}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	d := websocket.Dialer{HandshakeTimeout: readTimeout}
	return d.Dial("ws://"+e.Addr+"/ws/scan", h)
}

// MustDial opens /ws/scan and closes it when tb ends.
func (e *Env) MustDial(tb testing.TB, tok string, hdr http.Header) *Client {
	tb.Helper()
	ws, resp, err := e.Dial(tok, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		tb.Fatalf("dial /ws/scan: %v (HTTP %d)", err, status)
	}
	tb.Cleanup(func() { _ = ws.Close() })
	return &Client{tb: tb, ws: ws}
}

// MustScanner dials with a fresh token of role and says hello at gate.
func (e *Env) MustScanner(tb testing.TB, role token.Role, gate string, gates ...string) *Client {
	tb.Helper()
	c := e.MustDial(tb, e.MustToken(tb, role, gates...), nil)
	if r := c.Hello("device-"+NewID(tb)[:6], gate); r.Type != wire.TypeWelcome {
		tb.Fatalf("hello: got %s", r.Raw)
	}
	return c
}

// Send writes v as one JSON text frame.
func (c *Client) Send(v any) {
	c.tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.SendText(string(b))
}

// SendText writes one text frame.
func (c *Client) SendText(s string) {
	c.tb.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(readTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
}

// Reply is any message of the gateway, decoded.
type Reply struct {
	Type       string    `json:"type"`
	ID         string    `json:"id"`
	OK         bool      `json:"ok"`
	Code       string    `json:"code"`
	Ticket     string    `json:"ticket"`
	TicketType string    `json:"ticket_type"`
	Zone       string    `json:"zone"`
	Occupancy  int       `json:"occupancy"`
	Capacity   int       `json:"capacity"`
	Level      string    `json:"level"`
	Flags      []string  `json:"flags"`
	Replayed   bool      `json:"replayed"`
	Message    string    `json:"message"`
	Gate       string    `json:"gate"`
	Protocol   int       `json:"protocol"`
	ServerTime time.Time `json:"server_time"`
	Raw        string    `json:"-"`
}

// Next reads the next message, or returns the error that ended the
// connection.
func (c *Client) Next() (Reply, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(readTimeout))
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		return Reply{}, err
	}
	if typ != websocket.TextMessage {
		return Reply{}, errors.New("a binary frame from the gateway")
	}
	var r Reply
	if err := json.Unmarshal(b, &r); err != nil {
		return Reply{}, err
	}
	r.Raw = string(b)
	return r, nil
}

// Read reads the next message; the connection must still be open.
func (c *Client) Read() Reply {
	c.tb.Helper()
	r, err := c.Next()
	if err != nil {
		c.tb.Fatalf("read: %v", err)
	}
	return r
}

// Hello says hello and returns the answer.
func (c *Client) Hello(device, gate string) Reply {
	c.tb.Helper()
	c.Send(wire.Hello{Type: wire.TypeHello, Protocol: wire.Protocol, Device: device, Gate: gate})
	return c.Read()
}

// Scan sends a scan and returns the answer, which must be about it.
func (c *Client) Scan(s wire.Scan) Reply {
	c.tb.Helper()
	c.Send(s)
	r := c.Read()
	if r.ID != s.ID {
		c.tb.Fatalf("scan %s: the answer is about %q: %s", s.ID, r.ID, r.Raw)
	}
	return r
}

// ScanOf is a scan of payload at the event clock's now, with a fresh id.
func (e *Env) ScanOf(tb testing.TB, payload string, dir checkin.Direction) wire.Scan {
	return wire.Scan{Type: wire.TypeScan, ID: NewID(tb), Ticket: payload, Direction: dir, At: e.Clock.Now()}
}

// CloseCode waits for the connection to end, closes it, and returns its
// close code (-1 when it ended without a close frame), skipping messages
// before it.
func (c *Client) CloseCode() int {
	c.tb.Helper()
	for {
		if _, err := c.Next(); err != nil {
			_ = c.ws.Close() // as a device does once the gateway has said goodbye
			return closeCode(err)
		}
	}
}

// closeCode is the close code of the error that ended a connection, -1 when
// it carried none.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// Get sends a GET with the token (none when empty) and decodes the JSON
// answer into v (when not nil); it returns the status.
func (e *Env) Get(tb testing.TB, path, tok string, v any) int {
	tb.Helper()
	return e.Do(tb, http.MethodGet, path, tok, "", "", nil, v)
}

// Do sends a request with the token (none when empty), the headers, and
// the body of contentType (none when ""), and decodes the JSON answer into
// v (when not nil); it returns the status.
func (e *Env) Do(tb testing.TB, method, path, tok, contentType, body string, hdr http.Header, v any) int {
	tb.Helper()
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			tb.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// ErrorBody is the JSON form of an HTTP error.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Eventually polls cond until it holds or the deadline passes.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(readTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, readTimeout)
		}
		<-tick.C
	}
}

// syncBuffer is a log that goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer
