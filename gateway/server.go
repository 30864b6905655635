package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/event"
	"crowdflow/gateway/board"
	"crowdflow/wire"
)

// HTTP server limits for the plain routes; websockets set their own
// deadlines once upgraded.
const (
	readHeaderTimeout = 10 * time.Second
	httpReadTimeout   = 30 * time.Second
	httpWriteTimeout  = 30 * time.Second
	httpIdleTimeout   = 2 * time.Minute
)

// Server is the gateway of one event. Build it with New, then either serve
// Handler with an http.Server of your own or call Run, which adds the
// graceful shutdown of websockets.
type Server struct {
	cfg     Config
	ev      *event.Event
	judge   *admission.Judge
	store   Store
	secret  []byte
	clk     clock.Clock // the event clock: verdicts and welcome's server_time
	wall    clock.Clock // real time: token expiry, rate limits, last-scan timestamps
	log     *slog.Logger
	metrics *metrics
	origins map[string]bool // canonical allowed origins
	handler http.Handler
	up      websocket.Upgrader
	liveUp  websocket.Upgrader // /ws/live's: smaller buffers
	hub     *liveHub           // the live stream; Run starts and stops it
	// instance names this gateway among those of the event, in the device
	// reports it shares through the store.
	instance string
	// scanners counts the /ws/scan connections per token and address.
	scanners *connLimits
	liveGate *liveGate // /ws/live handshakes, a few at a time
	// scanning counts the scanners' frames being handled (read, judged,
	// stored, the answer queued): the live fan-out gives way while it is
	// above 0.
	scanning atomic.Int64

	// storeCtx is the parent of every store call made for a device. It
	// outlives Run's context, so scans read before a shutdown are still
	// decided, and ends when the shutdown deadline passes.
	storeCtx  context.Context
	storeStop context.CancelFunc

	// mu guards conns and draining. conns holds every open scanner
	// connection; draining is set once, when shutdown begins, after which
	// no connection is added.
	mu       sync.Mutex
	conns    map[*conn]struct{}
	draining bool
	// live counts the running connection handlers; Run waits for it.
	live sync.WaitGroup
}

// New returns a gateway for ev that decides scans with judge and store,
// checks staff tokens with secret, and judges days and hours on the event
// clock clk. It does not listen yet.
func New(cfg Config, ev *event.Event, judge *admission.Judge, store Store, secret []byte,
	clk clock.Clock, logger *slog.Logger) (*Server, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case ev == nil:
		errs = append(errs, errors.New("gateway: no event"))
	case judge == nil:
		errs = append(errs, errors.New("gateway: no judge"))
	case judge.Event() != ev:
		errs = append(errs, errors.New("gateway: the judge reads tickets of another event"))
	}
	if store == nil {
		errs = append(errs, errors.New("gateway: no store"))
	}
	if len(secret) < 16 {
		errs = append(errs, errors.New("gateway: token secret shorter than 16 bytes"))
	}
	if clk == nil {
		errs = append(errs, errors.New("gateway: no clock"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	wall := cfg.Wall
	if wall == nil {
		wall = clock.Real{}
	}
	s := &Server{cfg: cfg, ev: ev, judge: judge, store: store, secret: secret, clk: clk, wall: wall,
		log: logger, origins: map[string]bool{}, conns: map[*conn]struct{}{}, instance: newInstanceID()}
	for _, o := range cfg.Origins {
		c, _ := parseOrigin(o) // Validate checked it
		s.origins[c] = true
	}
	s.storeCtx, s.storeStop = context.WithCancel(context.Background())
	s.metrics = newMetrics(ev, store, cfg.StoreTimeout, clk, func() *board.State { return s.hub.figures() }, logger)
	s.up = websocket.Upgrader{
		ReadBufferSize:    wire.MaxFrame,
		WriteBufferSize:   wire.MaxFrame,
		HandshakeTimeout:  cfg.WriteWait,
		EnableCompression: false, // OWASP: no permessage-deflate
		CheckOrigin:       s.originAllowed,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			writeError(w, newProblem(handshakeKind(status), "Websocket handshake: %v.", reason))
		},
	}
	// A live client writes only prepared messages and control frames,
	// which gorilla writes without its write buffer, and reads only pongs
	// and the close: no write buffer held per client (a pool, never
	// drawn from), and a read buffer the size of its read limit.
	s.liveUp = s.up
	s.liveUp.ReadBufferSize = liveReadLimit
	s.liveUp.WriteBufferSize = 0
	s.liveUp.WriteBufferPool = &sync.Pool{}
	s.hub = newLiveHub(s)
	s.scanners = newConnLimits(cfg.MaxScannersPerToken, cfg.MaxScannersPerAddress)
	s.liveGate = newLiveGate(liveHandshakes)
	s.handler = s.routes()
	return s, nil
}

// handshakeKind is the kind of a failed websocket handshake by the status
// gorilla chose.
func handshakeKind(status int) error {
	switch status {
	case http.StatusForbidden:
		return errForbidden
	case http.StatusMethodNotAllowed:
		return errMethod
	case http.StatusBadRequest:
		return errMalformed
	}
	return errors.New("handshake")
}

// routes builds the handler. Every route answers errors as JSON: a known
// path asked with another method 405, any other path 404.
func (s *Server) routes() http.Handler {
	routes := []struct {
		method, path string
		h            http.Handler
	}{
		{"GET", "/ws/scan", http.HandlerFunc(s.serveScan)},
		{"GET", "/ws/live", http.HandlerFunc(s.serveLive)},
		{"GET", "/api/v1/occupancy", http.HandlerFunc(s.serveOccupancy)},
		{"POST", "/login", http.HandlerFunc(s.serveLogin)},
		{"POST", "/logout", http.HandlerFunc(s.serveLogout)},
		{"GET", "/api/v1/session", http.HandlerFunc(s.serveSession)},
		{"GET", "/api/v1/event", http.HandlerFunc(s.serveEvent)},
		{"GET", "/api/v1/revoked", http.HandlerFunc(s.serveRevoked)},
		{"POST", "/api/v1/revoke", http.HandlerFunc(s.serveRevoke)},
		{"GET", "/api/v1/report", http.HandlerFunc(s.serveReport)},
		{"GET", "/reports", http.HandlerFunc(s.serveReportsPage)},
		{"GET", "/healthz", http.HandlerFunc(s.serveHealth)},
		{"GET", "/readyz", http.HandlerFunc(s.serveReady)},
	}
	if !s.cfg.SeparateMetrics {
		routes = append(routes, struct {
			method, path string
			h            http.Handler
		}{"GET", "/metrics", s.MetricsHandler()})
	}
	mux := http.NewServeMux()
	methods := map[string][]string{} // path -> the methods it answers
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, rt.h)
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	if s.cfg.UI != nil {
		for _, p := range []string{"GET /{$}", "GET /scan", "GET /login", "GET /static/"} {
			mux.Handle(p, s.cfg.UI)
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if ms, ok := methods[r.URL.Path]; ok {
			w.Header().Set("Allow", strings.Join(ms, ", "))
			writeError(w, newProblem(errMethod, "%s %s: use %s.", r.Method, r.URL.Path, strings.Join(ms, " or ")))
			return
		}
		writeError(w, newProblem(errNotFound, "Nothing at %s.", r.URL.Path))
	})
	return s.guard(mux)
}

// MetricsHandler serves the Prometheus metrics (GET /metrics). Handler
// serves it too, unless Config.SeparateMetrics is set.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	})
}

// Handler is the gateway's HTTP handler: every route, websockets included.
// Serving it without Run works, but then nothing drains the websockets on
// shutdown.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves on ln until ctx ends, then shuts down gracefully within
// ShutdownTimeout: it stops accepting connections and upgrades, stops
// reading frames once each device has been quiet for DrainWait (so what a
// device sent before the shutdown is still read), answers every frame it
// read, closes each websocket with 1001 (going away), and returns. It
// returns nil after a graceful shutdown, and an error when serving failed
// or the deadline cut connections. Run also runs the live stream (/ws/live,
// /api/v1/occupancy): it follows the store from the start, and at shutdown
// closes every live client with 1001 as well. Run closes ln; call it once.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	hubCtx, hubStop := context.WithCancel(context.Background())
	defer hubStop()
	s.hub.start(hubCtx)
	closer := make(chan struct{})
	go func() { defer close(closer); s.closeDays(hubCtx) }()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	var serveErr error
	select {
	case err := <-served:
		serveErr = fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.log.Info("gateway shutting down", "connections", s.connCount())

	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.drain()
	s.hub.stop()                 // no live client joins any more
	hubStop()                    // the hub says goodbye (1001) to every live client
	httpErr := hs.Shutdown(sctx) // stops accepting; waits for plain requests
	done := make(chan struct{})
	go func() { s.live.Wait(); <-s.hub.done; s.hub.conns.Wait(); <-closer; close(done) }()
	var cut error
	select {
	case <-done:
	case <-sctx.Done():
		n := s.cutAll()
		<-done
		cut = fmt.Errorf("shutdown: %d connection(s) cut after %s", n, s.cfg.ShutdownTimeout)
	}
	s.storeStop()
	if serveErr == nil {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve %s: %w", ln.Addr(), err)
		}
	}
	if httpErr != nil && cut == nil {
		cut = fmt.Errorf("shutdown: %w", httpErr)
	}
	s.log.Info("gateway stopped")
	return errors.Join(serveErr, cut)
}

// closeDays closes the event days as they fall due, until ctx ends: every
// CloseCheck it asks the store, which closes each day once whichever gateway
// asks first (a scan after the closing time closes it too).
func (s *Server) closeDays(ctx context.Context) {
	t := time.NewTicker(s.cfg.CloseCheck)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
		closings, err := s.store.CloseDue(cctx, s.clk.Now(), "gateway")
		cancel()
		for _, c := range closings {
			s.log.Info("day closed", "day", c.Date, "swept", c.Swept, "swept_tally", c.SweptTally)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("days not closed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// add registers a new connection, or reports false when the server is
// shutting down.
func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.conns[c] = struct{}{}
	s.live.Add(1)
	s.metrics.connected.Inc()
	return true
}

// remove forgets a connection whose handler is ending.
func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.metrics.connected.Dec()
	s.live.Done()
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// drain begins the shutdown of every connection: each reads on until its
// device has been quiet for DrainWait, answers what it read, then says
// goodbye.
func (s *Server) drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining = true
	for c := range s.conns {
		c.drain()
	}
}

// cutAll closes every connection at once, then ends the store calls in
// flight (in that order, so that no reader back from the store can still
// say goodbye); it returns how many connections were still open.
func (s *Server) cutAll() int {
	s.mu.Lock()
	n := len(s.conns)
	for c := range s.conns {
		c.cut()
	}
	s.mu.Unlock()
	s.storeStop()
	return n
}
