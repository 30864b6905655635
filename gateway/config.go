package gateway

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"crowdflow/clock"
	"crowdflow/report"
)

// The defaults of Config. The websocket timings follow the usual gorilla
// pattern: the server pings every PingPeriod and expects a pong (or any
// frame) within PongWait, so a silent, half-open connection is found and
// dropped within a minute; one write may take at most WriteWait.
const (
	// DefaultListen is where the gateway listens without --listen.
	DefaultListen = "127.0.0.1:8080"
	// DefaultRate is the frames per second one device may send on average:
	// a busy lane scans one person every two seconds, and an offline
	// queue uploads at 20/s, which empties ten minutes of queue in a
	// minute without letting one device monopolise the store.
	DefaultRate = 20
	// DefaultBurst is how many frames one device may send at once before
	// DefaultRate applies.
	DefaultBurst = 40
	// DefaultWriteWait bounds one write to a device; a device that does not
	// take a frame within it is considered gone.
	DefaultWriteWait = 10 * time.Second
	// DefaultPongWait is the idle timeout: a device that sends nothing, not
	// even a pong, for this long is disconnected.
	DefaultPongWait = 60 * time.Second
	// DefaultPingPeriod is how often the writer pings; well below PongWait,
	// so that a live device always answers in time.
	DefaultPingPeriod = 20 * time.Second
	// DefaultDrainWait: once shutdown begins, a connection reads on until
	// its device has been quiet this long, so that the frames already on
	// their way (scans the device sent before the shutdown) are still read
	// and answered. A device that goes on sending is cut at ShutdownTimeout;
	// what it did not get an answer for, it resends elsewhere with the same id.
	DefaultDrainWait = 250 * time.Millisecond
	// DefaultCloseWait is how long the gateway waits, after its close frame,
	// for the device to close its side, reading and discarding what it
	// still sends; closing at once with unread input would reset the
	// connection and could destroy the close frame before the device reads it.
	DefaultCloseWait = time.Second
	// DefaultShutdownTimeout bounds the whole graceful shutdown; what is
	// still open then is cut.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultStoreTimeout bounds one store call for a scan; past it the
	// device gets "unavailable" and resends the scan later with its id.
	DefaultStoreTimeout = 3 * time.Second
	// DefaultReadyTimeout is how long /readyz waits for the store's ping.
	DefaultReadyTimeout = time.Second
	// DefaultSendBuffer is how many replies may wait for the writer of one
	// connection before its reader waits (at most WriteWait) for the writer.
	DefaultSendBuffer = 256
	// DefaultLivePoll is how often the live stream checks the store without
	// being told: the store says when its log grows (ledger.Watcher), so
	// this is only the fallback for a store that cannot, and how soon a
	// wiped or replaced store is noticed.
	DefaultLivePoll = time.Second
	// DefaultLiveTick is the live stream's coalescing window: the first
	// change after a quiet window goes out at once, the changes within the
	// window after it go out as one update at its end (at most 4 per second
	// per client; a dashboard needs no more, DESIGN G3/G4). Time alone
	// (flows, silent gates) is looked at as often.
	DefaultLiveTick = 250 * time.Millisecond
	// DefaultLiveRing is how many updates the live stream keeps for clients
	// that reconnect with ?since=SEQ: 2 minutes of a busy fair at 4 per
	// second; a client away longer gets a new snapshot.
	DefaultLiveRing = 512
	// DefaultLiveSendBuffer is how many updates may wait for one live
	// client's writer; a client that falls further behind is dropped (it
	// reconnects with ?since and catches up).
	DefaultLiveSendBuffer = 32
	// DefaultMaxScannersPerToken caps the /ws/scan connections of one
	// token: a gate team may share one token over a dozen phones and a few
	// laptops (CONTRACT §3: at least 32), while a leaked token cannot open
	// hundreds.
	DefaultMaxScannersPerToken = 64
	// DefaultMaxScannersPerAddress caps the /ws/scan connections from one
	// remote address: generous, since a venue's phones may all come
	// through one NAT or reverse proxy, but a bound on one machine.
	DefaultMaxScannersPerAddress = 512
	// DefaultSilentAfter: a gate with no scan for this long while the event
	// is open is silent (an alert: a scanner down, a lane closed).
	DefaultSilentAfter = 10 * time.Minute
	// DefaultCloseCheck is how often (wall time) the gateway asks the ledger
	// to close the event days that are due (CONTRACT §8), so that a day
	// closes on time even when nobody scans after it: a scan arriving
	// first closes it too.
	DefaultCloseCheck = 5 * time.Second
)

// Config configures a Server. Build it with DefaultConfig and change what
// differs; New checks it with Validate.
type Config struct {
	// Listen is the address the CLI listens on, host:port. Run takes a
	// listener, so the Server itself does not read it.
	Listen string
	// Origins are the browser origins allowed besides the gateway's own,
	// each "scheme://host[:port]", exactly: no wildcards, no paths. A
	// request without an Origin header (a CLI scanner) is not a browser's
	// and is not checked.
	Origins []string
	// Hosts are the names (DNS names, no port) under which browsers and
	// clients reach the gateway, besides what is always served: an IP
	// address, "localhost", and the host of Listen. A request with another
	// Host header is refused (421), so a page whose name was re-pointed at
	// the gateway (DNS rebinding) cannot read it.
	Hosts []string
	// SeparateMetrics takes /metrics off Handler: the CLI then serves
	// MetricsHandler on an internal address of its own (--metrics-listen).
	SeparateMetrics bool
	// Rate is the frames per second one connection (one device) may send
	// on average, and Burst how many at once. A frame over the limit is
	// answered with the error rate_limited and not acted on.
	Rate  float64
	Burst int
	// MaxScannersPerToken and MaxScannersPerAddress cap the concurrent
	// /ws/scan connections of one token and from one remote address (its
	// IP); a handshake past either gets HTTP 429.
	MaxScannersPerToken, MaxScannersPerAddress int
	// Websocket timings; see the Default constants.
	WriteWait, PongWait, PingPeriod, DrainWait, CloseWait time.Duration
	// ShutdownTimeout bounds Run's graceful shutdown.
	ShutdownTimeout time.Duration
	// StoreTimeout bounds one store call on behalf of a device.
	StoreTimeout time.Duration
	// ReadyTimeout bounds the store ping of /readyz.
	ReadyTimeout time.Duration
	// StoreMode says in /readyz what the store keeps across a crash:
	// "embedded", "redis aof everysec", "redis volatile"... (the CLI
	// checks it at start); "" leaves it out.
	StoreMode string
	// SendBuffer is the number of replies queued per connection.
	SendBuffer int
	// The live stream: the store check period and the coalescing window,
	// the updates kept for resuming clients, the updates queued per live
	// client, and the quiet time after which a gate is silent. See the
	// Default constants.
	LivePoll, LiveTick time.Duration
	LiveRing           int
	LiveSendBuffer     int
	SilentAfter        time.Duration
	// CloseCheck is how often the gateway closes the days that are due.
	CloseCheck time.Duration
	// UI serves the web pages (GET /, /scan, /login, /static/...) when set;
	// the CLI sets it to the dashboard's handler. Without it those paths
	// answer 404.
	UI http.Handler
	// ReportPage draws the reports page (GET /reports) of a report the
	// gateway has read for an organizer; the CLI sets it to the
	// dashboard's. Without it /reports answers 404.
	ReportPage func(w http.ResponseWriter, r *http.Request, rep *report.Report)
	// TicketKeys are the event's ticket verifying keys, published in
	// /api/v1/event so that a scanner can check tickets while offline.
	// Public keys only: never a private key.
	TicketKeys []ed25519.PublicKey
	// Wall is real time, for what must not follow a shifted event clock:
	// token expiry (tokens are issued on the wall clock), rate limits and
	// the gates' last-scan timestamps that Prometheus compares with its own
	// time. nil means the system clock; tests inject a clock.Manual.
	Wall clock.Clock
	// LiveClock paces the live stream's coalescing window (LiveTick). nil
	// means the system clock; tests inject a clock.Manual to see a burst
	// coalesced without waiting.
	LiveClock clock.Clock
}

// DefaultConfig returns the configuration of a gateway on DefaultListen with
// the default limits and timings.
func DefaultConfig() Config {
	return Config{
		Listen:                DefaultListen,
		Rate:                  DefaultRate,
		Burst:                 DefaultBurst,
		MaxScannersPerToken:   DefaultMaxScannersPerToken,
		MaxScannersPerAddress: DefaultMaxScannersPerAddress,
		WriteWait:             DefaultWriteWait,
		PongWait:              DefaultPongWait,
		PingPeriod:            DefaultPingPeriod,
		DrainWait:             DefaultDrainWait,
		CloseWait:             DefaultCloseWait,
		ShutdownTimeout:       DefaultShutdownTimeout,
		StoreTimeout:          DefaultStoreTimeout,
		ReadyTimeout:          DefaultReadyTimeout,
		SendBuffer:            DefaultSendBuffer,
		LivePoll:              DefaultLivePoll,
		LiveTick:              DefaultLiveTick,
		LiveRing:              DefaultLiveRing,
		LiveSendBuffer:        DefaultLiveSendBuffer,
		SilentAfter:           DefaultSilentAfter,
		CloseCheck:            DefaultCloseCheck,
	}
}

// Validate reports every problem of c at once, each naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("gateway config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			bad("listen", "%q: want host:port", c.Listen)
		}
	}
	for i, h := range c.Hosts {
		if _, err := canonicalHost(h); err != nil {
			bad(fmt.Sprintf("hosts[%d]", i), "%v", err)
		}
	}
	for i, o := range c.Origins {
		if _, err := parseOrigin(o); err != nil {
			bad(fmt.Sprintf("origins[%d]", i), "%v", err)
		}
	}
	if c.Rate <= 0 {
		bad("rate", "%g: want more than 0 frames per second", c.Rate)
	}
	if c.Burst < 1 {
		bad("burst", "%d: want at least 1", c.Burst)
	}
	if c.MaxScannersPerToken < 1 {
		bad("max_scanners_per_token", "%d: want at least 1", c.MaxScannersPerToken)
	}
	if c.MaxScannersPerAddress < 1 {
		bad("max_scanners_per_address", "%d: want at least 1", c.MaxScannersPerAddress)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"write_wait", c.WriteWait}, {"pong_wait", c.PongWait}, {"ping_period", c.PingPeriod},
		{"drain_wait", c.DrainWait}, {"close_wait", c.CloseWait}, {"shutdown_timeout", c.ShutdownTimeout},
		{"store_timeout", c.StoreTimeout}, {"ready_timeout", c.ReadyTimeout},
		{"live_poll", c.LivePoll}, {"live_tick", c.LiveTick}, {"silent_after", c.SilentAfter},
		{"close_check", c.CloseCheck}} {
		if d.v <= 0 {
			bad(d.field, "%s: want more than 0", d.v)
		}
	}
	if c.PingPeriod > 0 && c.PongWait > 0 && c.PingPeriod >= c.PongWait {
		bad("ping_period", "%s: want less than pong_wait (%s), or live devices time out", c.PingPeriod, c.PongWait)
	}
	if c.DrainWait > 0 && c.ShutdownTimeout > 0 && c.DrainWait >= c.ShutdownTimeout {
		bad("drain_wait", "%s: want less than shutdown_timeout (%s)", c.DrainWait, c.ShutdownTimeout)
	}
	if c.SendBuffer < 1 {
		bad("send_buffer", "%d: want at least 1", c.SendBuffer)
	}
	if c.LiveRing < 1 {
		bad("live_ring", "%d: want at least 1", c.LiveRing)
	}
	if c.LiveSendBuffer < 1 {
		bad("live_send_buffer", "%d: want at least 1", c.LiveSendBuffer)
	}
	for i, k := range c.TicketKeys {
		if len(k) != ed25519.PublicKeySize {
			bad(fmt.Sprintf("ticket_keys[%d]", i), "%d bytes: want an Ed25519 public key of %d", len(k), ed25519.PublicKeySize)
		}
	}
	return errors.Join(errs...)
}

// parseOrigin returns the canonical form of a browser origin: lower-case
// scheme and host, and no port when it is the scheme's default, as browsers
// send it.
func parseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("origin %q: %v", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", fmt.Errorf("origin %q: want an http:// or https:// origin", s)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return "", fmt.Errorf("origin %q: want scheme://host[:port] and nothing more", s)
	case strings.Contains(u.Host, "*"):
		return "", fmt.Errorf("origin %q: wildcards are not allowed", s)
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "http" && p == "80") || (scheme == "https" && p == "443") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return scheme + "://" + host, nil
}
