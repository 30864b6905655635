package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/gateway"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
	"crowdflow/ticket"
	"crowdflow/token"
	"crowdflow/wire"
)

// The gateway under test and its scanners.
const (
	// benchGate is where every scanner says hello: the main entrance,
	// whose scans enter the site, the root zone.
	benchGate = "MAIN-1"
	// benchCapacity is the capacity of every zone in the gateway's ledger:
	// the Ouarzazate site holds 1,621 people, and every scan of the
	// benchmark is a new visitor who stays, so the real capacities would
	// turn all but the first 1,621 scans into zone_full.
	benchCapacity = 1 << 30
	// gatewayRate and gatewayBurst replace the per-device limit of the
	// gateway (20 frames/s, 40 at once) for the whole run: the closed-loop
	// row must measure the gateway, not the limiter. The paced rows stay
	// at or under 10 scans/s per connection, within the default limit.
	gatewayRate  = 1e6
	gatewayBurst = 1 << 20
	// replyWait bounds each wait of a scanner for its verdict: a deadline,
	// so that a lost verdict fails the run instead of hanging it.
	replyWait = 15 * time.Second
)

// fairDay is the event time of the run: a Wednesday of the fair, open.
func fairDay(loc *time.Location) time.Time { return time.Date(2025, 9, 17, 11, 0, 0, 0, loc) }

// gatewayBench is one real gateway (gateway.New, served by Run on a loopback
// listener) on a ledger engine, with the keys to sign its tickets and its
// scanners' tokens.
type gatewayBench struct {
	ev     *event.Event
	key    ed25519.PrivateKey // signs the tickets
	secret []byte             // signs the scanner tokens
	clk    clock.Clock        // the event clock: the fair day, running at real speed
	store  *ledger.Store
	addr   string
	// redis is the engine's Redis client, for its processor time; nil on
	// another engine.
	redis redis.UniversalClient

	cancel context.CancelFunc
	done   chan error // Run's result
}

// startGateway loads the event file at config and serves its gateway on a
// free loopback port, deciding scans on eng with every zone's capacity
// raised to benchCapacity.
func startGateway(config string, eng ledger.Engine, liveTick time.Duration) (*gatewayBench, error) {
	ev, err := event.Load(config)
	if err != nil {
		return nil, err
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	zs := make([]ledger.Zone, len(ev.Zones))
	for i, z := range ev.Zones {
		zs[i] = ledger.Zone{ID: z.ID, Parent: z.Parent, Capacity: benchCapacity}
	}
	st, err := ledger.New(ledger.Config{Event: ev.ID, Location: ev.Location, Zones: zs}, eng)
	if err != nil {
		return nil, fmt.Errorf("ledger of %s: %w", ev.ID, err)
	}
	clk, err := clock.New(fairDay(ev.Location), 1, nil)
	if err != nil {
		return nil, err
	}
	cfg := gateway.DefaultConfig()
	cfg.Rate, cfg.Burst = gatewayRate, gatewayBurst
	cfg.TicketKeys = []ed25519.PublicKey{pub}
	cfg.LiveTick = liveTick
	srv, err := gateway.New(cfg, ev, admission.New(ev, pub), st, secret, clk, nil)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gatewayBench{ev: ev, key: key, secret: secret, clk: clk, store: st, addr: ln.Addr().String(),
		cancel: cancel, done: make(chan error, 1)}
	if re, ok := eng.(*redisengine.Engine); ok {
		g.redis = re.Client()
	}
	go func() { g.done <- srv.Run(ctx, ln) }()
	return g, nil
}

// stop shuts the gateway down gracefully and returns what Run returned.
// Close the scanners first, or Run waits for them.
func (g *gatewayBench) stop() error {
	g.cancel()
	return <-g.done
}

// tickets signs n visitor tickets of the event, each with a new id, so that
// every scan of the benchmark is a first entry.
func (g *gatewayBench) tickets(n int) ([]string, error) {
	typ := g.ev.TicketType("visitor")
	if typ == nil {
		return nil, fmt.Errorf("event %s: no ticket type visitor", g.ev.ID)
	}
	ps := make([]string, n)
	for i := range ps {
		id, err := ticket.NewID(rand.Reader)
		if err != nil {
			return nil, err
		}
		p, err := ticket.Sign(&ticket.Ticket{Event: g.ev.Hash(), ID: id, Type: typ.Hash, Reentry: true}, g.key)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	return ps, nil
}

// scanner is one gate device: a gorilla websocket client on /ws/scan with
// its own scanner token, greeted at benchGate. It sends one scan at a time
// and waits for its verdict, as a gate does. Not safe for concurrent use.
type scanner struct {
	ws  *websocket.Conn
	clk clock.Clock
	id  string // prefix of its scan ids
	n   int    // scans sent
}

// dial connects scanner number i and says hello.
func (g *gatewayBench) dial(i int) (*scanner, error) {
	device := fmt.Sprintf("bench-%03d", i)
	now := time.Now()
	tok, err := token.Sign(g.secret, token.Claims{Role: token.Scanner, Gates: []string{benchGate},
		Subject: device, Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: replyWait}
	ws, _, err := d.Dial("ws://"+g.addr+"/ws/scan", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", device, err)
	}
	s := &scanner{ws: ws, clk: g.clk, id: device + "-" + randomHex(4)}
	if err := s.send(wire.Hello{Type: wire.TypeHello, Protocol: wire.Protocol, Device: device, Gate: benchGate}); err != nil {
		ws.Close()
		return nil, err
	}
	r, err := s.read()
	if err != nil || r.Type != wire.TypeWelcome {
		ws.Close()
		return nil, fmt.Errorf("hello %s: %v %s %s", device, err, r.Type, r.Message)
	}
	return s, nil
}

// reply is what the bench reads of a gateway message.
type reply struct {
	Type    string       `json:"type"`
	ID      string       `json:"id"`
	Code    checkin.Code `json:"code"`
	Message string       `json:"message"`
}

func (s *scanner) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = s.ws.SetWriteDeadline(time.Now().Add(replyWait))
	return s.ws.WriteMessage(websocket.TextMessage, b)
}

func (s *scanner) read() (reply, error) {
	_ = s.ws.SetReadDeadline(time.Now().Add(replyWait))
	_, b, err := s.ws.ReadMessage()
	if err != nil {
		return reply{}, err
	}
	var r reply
	err = json.Unmarshal(b, &r)
	return r, err
}

// scan sends one entry with payload and waits for its verdict, which must
// be accepted.
func (s *scanner) scan(payload string) error { return s.scanDir(payload, checkin.In) }

// scanDir sends one scan of payload in direction dir and waits for its
// verdict, which must be accepted.
func (s *scanner) scanDir(payload string, dir checkin.Direction) error {
	s.n++
	id := fmt.Sprintf("%s-%d", s.id, s.n)
	if err := s.send(wire.Scan{Type: wire.TypeScan, ID: id, Ticket: payload, Direction: dir,
		At: s.clk.Now()}); err != nil {
		return fmt.Errorf("scan %s: %w", id, err)
	}
	r, err := s.read()
	switch {
	case err != nil:
		return fmt.Errorf("scan %s: %w", id, err)
	case r.Type != wire.TypeVerdict || r.ID != id || r.Code != checkin.Accepted:
		return fmt.Errorf("scan %s: got %s %s %q (%s), want an accepted verdict", id, r.Type, r.Code, r.ID, r.Message)
	}
	return nil
}

// close says goodbye as a device does and closes the connection.
func (s *scanner) close() {
	_ = s.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = s.ws.Close()
}

// scanners dials conns scanners; on error it closes those it opened.
func (g *gatewayBench) scanners(conns int) ([]*scanner, error) {
	ss := make([]*scanner, 0, conns)
	for i := range conns {
		s, err := g.dial(i)
		if err != nil {
			closeAll(ss)
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, nil
}

func closeAll(ss []*scanner) {
	for _, s := range ss {
		s.close()
	}
}

// paced offers rate scans/s for d, open loop, spread over conns scanners:
// scan k of the run is due at start + k/rate and goes to scanner k mod
// conns, which sends it when it is due or, when its previous verdict came
// late, as soon as that verdict is in. Latency runs from when the scan was
// due to when its verdict was read, so a slow verdict also counts against
// the scans queued behind it (no coordinated omission). scans/s is the
// scans decided over the time from start to the last verdict.
//
// It also returns how late the scanners woke for their scans (the Go
// timer's and the scheduler's delay, p50 and p99): that is part of the
// latency, and what a gate's own device would add too.
func (g *gatewayBench) paced(rate float64, conns int, d time.Duration) (got, late result, err error) {
	n := max(int(rate*d.Seconds()), 1)
	return g.drive(n, conns, func(k int) time.Duration { return time.Duration(float64(k) / rate * float64(time.Second)) })
}

// closed sends n scans from conns scanners as fast as verdicts come back:
// each scanner sends its next scan as soon as it has the verdict of the last
// one. Its scans/s is the most the gateway sustains with conns devices.
func (g *gatewayBench) closed(n, conns int) (result, error) {
	got, _, err := g.drive(n, conns, nil)
	return got, err
}

// closedThrice is closed, then the same again with the exits of those
// tickets, then with their re-entries: a gate's second and third scans of
// a ticket, whose signature the gateway has checked already
// (ticket.Verifier remembers it), as at a fair where visitors come and go.
func (g *gatewayBench) closedThrice(n, conns int) (in, out, again result, err error) {
	payloads, err := g.tickets(n)
	if err != nil {
		return result{}, result{}, result{}, err
	}
	for _, pass := range []struct {
		dir checkin.Direction
		got *result
	}{{checkin.In, &in}, {checkin.Out, &out}, {checkin.In, &again}} {
		if *pass.got, _, err = g.driveWith(payloads, conns, pass.dir, nil); err != nil {
			return result{}, result{}, result{}, err
		}
	}
	return in, out, again, nil
}

// drive runs n scans over conns fresh scanners. With due, scan k (of
// scanner k mod conns) waits until start+due(k) and is timed from then;
// without, it is sent at once and timed from its send. Paced, scans/s is
// counted over the offered window (n/rate) or, when the verdicts fell
// behind, up to the last verdict; late is how long after its due time
// each scan was sent.
func (g *gatewayBench) drive(n, conns int, due func(k int) time.Duration) (got, late result, err error) {
	payloads, err := g.tickets(n)
	if err != nil {
		return result{}, result{}, err
	}
	return g.driveWith(payloads, conns, checkin.In, due)
}

// driveWith is drive with the tickets signed already: one scan of each in
// direction dir, which must be accepted.
func (g *gatewayBench) driveWith(payloads []string, conns int, dir checkin.Direction, due func(k int) time.Duration) (got, late result, err error) {
	n := len(payloads)
	conns = min(conns, n)
	ss, err := g.scanners(conns)
	if err != nil {
		return result{}, result{}, err
	}
	defer closeAll(ss)
	lat := make([]time.Duration, n)
	wake := make([]time.Duration, n)
	var decided atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	ctx := context.Background()
	use := cpuUse{load0: loadAvg(), client: -selfCPU(), redis: -redisCPU(ctx, g.redis)}
	start := time.Now().Add(20 * time.Millisecond) // every scanner is ready by then
	for j, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(start))
			for k := j; k < n; k += conns {
				t0 := time.Now()
				if due != nil {
					t0 = start.Add(due(k))
					time.Sleep(time.Until(t0))
					wake[k] = time.Since(t0)
				}
				if err := s.scanDir(payloads[k], dir); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[k] = time.Since(t0)
				decided.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	use.client += selfCPU()
	use.redis += redisCPU(ctx, g.redis)
	use.load1 = loadAvg()
	if g.redis == nil {
		use = cpuUse{}
	}
	if firstErr != nil {
		return result{}, result{}, firstErr
	}
	if got := int(decided.Load()); got != n {
		return result{}, result{}, fmt.Errorf("%d of %d scans decided", got, n)
	}
	if due != nil {
		elapsed = max(elapsed, due(n)) // due(n): the end of the offered window
	}
	got = percentiles(lat, elapsed, conns)
	got.cpu = use
	return got, percentiles(wake, elapsed, conns), nil
}

// percentiles sorts lat and summarises it: len(lat) calls over elapsed from
// conns clients.
func percentiles(lat []time.Duration, elapsed time.Duration, conns int) result {
	n := len(lat)
	slices.Sort(lat)
	return result{rps: float64(n) / elapsed.Seconds(), p50: lat[n/2], p99: lat[n*99/100], n: n, concurrent: conns}
}

// entries is the number of accepted entries the gateway's ledger holds for
// the root zone (the site).
func (g *gatewayBench) entries(ctx context.Context) (int, error) {
	in, _, err := g.moves(ctx)
	return in, err
}

// moves is the number of accepted entries and exits the gateway's ledger
// holds for the root zone (the site).
func (g *gatewayBench) moves(ctx context.Context) (in, out int, err error) {
	cs, err := g.store.Counters(ctx)
	if err != nil {
		return 0, 0, err
	}
	c, ok := cs[g.ev.Root().ID]
	if !ok {
		return 0, 0, errors.New("no counters for the site")
	}
	return c.Entries, c.Exits, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
