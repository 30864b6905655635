package scanner

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"crowdflow/admission"
	"crowdflow/checkin"
	"crowdflow/clock"
	"crowdflow/wire"
)

// Defaults of Config.
const (
	// DefaultVerdictTimeout is how long a person waits at the gate for the
	// gateway before the scanner decides offline (pretix's "3 seconds or
	// errors", shorter): with the scanner's 50 ms tick and the offline
	// check, the offline verdict shows within 2 s of the read, as the phone
	// page's does.
	DefaultVerdictTimeout = 1700 * time.Millisecond
	// DefaultDrainTimeout is how long the scanner waits, at the end of its
	// input, for the gateway to acknowledge what is queued.
	DefaultDrainTimeout = 30 * time.Second
	// DefaultRevokedEvery is how often the revocation list is downloaded
	// again while online (reliability anchors, S2: within a minute or so
	// of a revocation is the target; five is the staleness that matters).
	DefaultRevokedEvery = time.Minute
	// DefaultStatusEvery is how often a connected scanner reports its
	// unsynced scans (CONTRACT §3 status).
	DefaultStatusEvery = 30 * time.Second
	// DefaultWindow is how many scans may await their verdicts at once.
	DefaultWindow = 32
	// DefaultUploadRate is how many queued scans a second the scanner
	// uploads: below the gateway's per-device limit (20/s, bursts of 40),
	// so a backlog drains without being refused as rate_limited, and with
	// room left for the people at the gate.
	DefaultUploadRate = 15
)

// liveReserve is how much of the window an upload of queued scans leaves
// free, so a person at the gate never waits behind a backlog.
const liveReserve = 4

// maxLine bounds a line of input; a longer one is refused (no ticket is
// near that long).
const maxLine = 8 << 10

// Config is what a Scanner needs to know. See DefaultConfig.
type Config struct {
	// Gateway is the gateway's base URL (http://host:port) or its scan
	// socket (ws://host:port/ws/scan).
	Gateway string
	// Token is the device's staff token (crowdflow token --role scanner).
	Token string
	// Gate is the gate this scanner stands at; Direction the way people
	// pass it.
	Gate      string
	Direction checkin.Direction
	// Device names the device in hello and in the event log.
	Device string
	// Dir holds the queue and the local knowledge (see Queue, Offline).
	Dir string
	// QueueLimit bounds the queue (DefaultQueueLimit).
	QueueLimit int
	// VerdictTimeout: with no verdict this long after a scan, the scanner
	// decides it offline; with nothing at all from the gateway this long
	// while verdicts are awaited, it drops the connection and reconnects.
	VerdictTimeout time.Duration
	// DrainTimeout bounds the wait for acknowledgements at the end of the
	// input.
	DrainTimeout time.Duration
	// RevokedEvery is how often the revocation list is refreshed online.
	RevokedEvery time.Duration
	// StatusEvery is how often a connected scanner reports its unsynced
	// scans to the gateway (DefaultStatusEvery).
	StatusEvery time.Duration
	// BackoffMin and BackoffMax bound the reconnection delays.
	BackoffMin, BackoffMax time.Duration
	// Window is how many scans may await verdicts at once.
	Window int
	// UploadRate is how many queued scans a second are uploaded.
	UploadRate float64
	// TicketKeys are the keys the judge verifies tickets with; when set,
	// they are compared with the gateway's, to warn of a wrong ticket.pub.
	TicketKeys []ed25519.PublicKey
	// Color colours the verdict lines (ANSI), for a terminal.
	Color bool
}

// DefaultConfig returns a Config with every default set; the caller fills
// in Gateway, Token, Gate, Direction, Device and Dir.
func DefaultConfig() Config {
	return Config{QueueLimit: DefaultQueueLimit, VerdictTimeout: DefaultVerdictTimeout,
		DrainTimeout: DefaultDrainTimeout, RevokedEvery: DefaultRevokedEvery, StatusEvery: DefaultStatusEvery,
		BackoffMin: DefaultBackoffMin, BackoffMax: DefaultBackoffMax, Window: DefaultWindow,
		UploadRate: DefaultUploadRate}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := endpoints(c.Gateway); err != nil {
		errs = append(errs, err)
	}
	if c.Token == "" {
		errs = append(errs, errors.New("no token"))
	}
	if err := validName("gate", c.Gate); err != nil {
		errs = append(errs, err)
	}
	if err := validName("device", c.Device); err != nil {
		errs = append(errs, err)
	}
	if _, err := checkin.ParseDirection(string(c.Direction)); err != nil {
		errs = append(errs, err)
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("no queue directory"))
	}
	if c.VerdictTimeout <= 0 || c.DrainTimeout < 0 || c.RevokedEvery <= 0 || c.StatusEvery <= 0 {
		errs = append(errs, errors.New("timeouts must be positive"))
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		errs = append(errs, fmt.Errorf("backoff %s..%s: want 0 < min <= max", c.BackoffMin, c.BackoffMax))
	}
	if c.UploadRate <= 0 {
		errs = append(errs, fmt.Errorf("upload rate %g: want more than 0", c.UploadRate))
	}
	if c.Window < liveReserve+1 || c.Window > 1024 {
		errs = append(errs, fmt.Errorf("window %d: want %d to 1024", c.Window, liveReserve+1))
	}
	return errors.Join(errs...)
}

func validName(what, v string) error {
	if v == "" || len(v) > wire.MaxID {
		return fmt.Errorf("%s %q: want 1 to %d characters", what, v, wire.MaxID)
	}
	for _, r := range v {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("%s %q: printable ASCII only", what, v)
		}
	}
	return nil
}

// PendingError is Run's error when it stops with scans still queued: they
// stay on disk and are sent first the next time the scanner starts.
type PendingError struct{ Count int }

func (e *PendingError) Error() string {
	return fmt.Sprintf("%d scan(s) remain queued; they are sent the next time the scanner starts", e.Count)
}

// Scanner is the gate client. Build it with New, call Run once, then Close.
type Scanner struct {
	cfg     Config
	off     *Offline // nil: no event file and key, so no offline decisions
	q       *Queue
	clk     clock.Clock
	log     *slog.Logger
	in      io.Reader
	out     io.Writer
	backoff *Backoff
	http    *http.Client
	wsURL   string
	apiBase string
	zone    string // the gate's zone, from the event file; else from the welcome

	idMu    sync.Mutex // guards entropy
	entropy *ulid.MonotonicEntropy
}

// New opens the scanner's queue and local knowledge in cfg.Dir. judge (nil
// when the scanner has no event file and ticket key) decides scans while
// the gateway is unreachable; clk is the event clock that stamps each scan;
// lines are read from in and verdicts written to out.
func New(cfg Config, judge *admission.Judge, clk clock.Clock, log *slog.Logger, in io.Reader, out io.Writer) (*Scanner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scanner config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wsURL, apiBase, _ := endpoints(cfg.Gateway)
	s := &Scanner{cfg: cfg, clk: clk, log: log, in: in, out: out,
		backoff: NewBackoff(cfg.BackoffMin, cfg.BackoffMax, nil),
		http:    &http.Client{Timeout: 5 * time.Second},
		wsURL:   wsURL, apiBase: apiBase,
		entropy: ulid.Monotonic(rand.Reader, 0)}
	if judge != nil {
		g := judge.Event().Gate(cfg.Gate)
		if g == nil {
			return nil, fmt.Errorf("gate %q is not in the event file of %s", cfg.Gate, judge.Event().ID)
		}
		s.zone = g.Zone
	}
	q, err := OpenQueue(cfg.Dir, cfg.QueueLimit, log)
	if err != nil {
		return nil, err
	}
	s.q = q
	if judge != nil {
		off, err := OpenOffline(cfg.Dir, judge, log)
		if err != nil {
			_ = q.Close()
			return nil, err
		}
		s.off = off
	}
	return s, nil
}

// Close releases the queue and the local knowledge. Call it after Run.
func (s *Scanner) Close() error {
	var err error
	if s.off != nil {
		err = s.off.Close()
	}
	return errors.Join(err, s.q.Close())
}

// Queue is the scanner's queue (for inspection).
func (s *Scanner) Queue() *Queue { return s.q }

// newID makes a scan id: a ULID stamped with the event clock, monotonic
// within the process so that ids sort in scan order.
func (s *Scanner) newID(t time.Time) string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	id, err := ulid.New(ulid.Timestamp(t), s.entropy)
	if err != nil { // the monotonic counter overflowed within one millisecond
		id = ulid.MustNew(ulid.Timestamp(t), rand.Reader)
	}
	return id.String()
}

// lineIn is one line read from the input.
type lineIn struct {
	text    string
	tooLong bool
}

// readLines sends each line of r on lines and closes lines at the end of r.
// It cannot be interrupted while r blocks (a terminal's stdin): it is left
// to end with the process, and only ever blocks on r or on lines.
func readLines(ctx context.Context, r io.Reader, lines chan<- lineIn) {
	defer close(lines)
	br := bufio.NewReaderSize(r, 4096)
	for {
		var buf []byte
		tooLong := false
		for {
			chunk, isPrefix, err := br.ReadLine()
			if len(buf)+len(chunk) <= maxLine {
				buf = append(buf, chunk...)
			} else {
				tooLong = true
			}
			if err != nil {
				if len(buf) > 0 || tooLong {
					select {
					case lines <- lineIn{text: string(buf), tooLong: tooLong}:
					case <-ctx.Done():
					}
				}
				return
			}
			if !isPrefix {
				break
			}
		}
		select {
		case lines <- lineIn{text: string(buf), tooLong: tooLong}:
		case <-ctx.Done():
			return
		}
	}
}

// liveScan is a scan typed in this run whose verdict the person at the gate
// still waits for.
type liveScan struct {
	typed time.Time // wall clock
}

// loop is the state of Run; only Run's goroutine touches it.
type loop struct {
	s      *Scanner
	ctx    context.Context
	events chan connEvent
	wg     *sync.WaitGroup

	sess         *session
	dialing      bool
	attempt      int       // failed dials since the last welcome
	nextDial     time.Time // wall clock
	offlineShown bool      // the OFFLINE status was printed for this outage
	authShown    bool      // the token's refusal was printed for this outage
	inflight     map[string]time.Time
	waitingSince time.Time // last progress while verdicts are awaited
	live         map[string]liveScan
	pauseUntil   time.Time // after unavailable or rate_limited
	retries      int
	nextRevoked  time.Time
	fetching     bool
	eventChecked bool      // the gateway's event was compared with ours on this session
	tokens       float64   // upload bucket: queued scans that may be sent now
	refilled     time.Time // when tokens was last topped up
	backlogShown bool      // the queue was non-empty while online: say when it empties
	nextStatus   time.Time // when the next status frame is due (wall clock)
	reported     int       // the unsynced count last reported to the gateway

	draining      bool
	drainDeadline time.Time
}

// Run reads lines until the end of the input, then waits up to
// DrainTimeout for the gateway to acknowledge everything queued. It returns
// nil when nothing is left queued, a *PendingError when something is, and
// the same when ctx ends first. Run owns all the scanner's state; it starts
// and stops the connection goroutines itself.
func (s *Scanner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	l := &loop{s: s, ctx: ctx, events: make(chan connEvent, 16), wg: &wg,
		inflight: map[string]time.Time{}, live: map[string]liveScan{}}
	defer func() {
		cancel()
		if l.sess != nil {
			l.sess.close()
		}
		wg.Wait()
	}()
	lines := make(chan lineIn)
	go readLines(ctx, s.in, lines)
	l.start()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if done, err := l.finished(); done {
			return err
		}
		select {
		case <-ctx.Done():
			if n := s.q.Len(); n > 0 {
				return &PendingError{Count: n}
			}
			return nil
		case ln, ok := <-lines:
			if !ok {
				lines = nil
				l.startDrain()
				continue
			}
			l.onLine(ln)
		case ev := <-l.events:
			l.onEvent(ev)
		case <-tick.C:
			l.onTick()
		}
	}
}

func (l *loop) println(s string) { fmt.Fprintln(l.s.out, s) }

func (l *loop) status(word, detail string, warn bool) {
	l.println(Status(word, detail, warn, l.s.cfg.Color))
}

func (l *loop) start() {
	s := l.s
	if n := s.q.Len(); n > 0 {
		l.status("QUEUE", fmt.Sprintf("%d scan(s) from an earlier run are sent first", n), true)
	}
	if s.off == nil {
		l.status("NO OFFLINE CHECKS", "no event file and ticket key (--config, --data): while the gateway is unreachable, entries are queued undecided", true)
	} else {
		n, at := s.off.Revoked()
		when := "never downloaded"
		if !at.IsZero() {
			when = "downloaded " + at.Format(time.RFC3339)
		}
		l.status("OFFLINE READY", fmt.Sprintf("event %s, gate %s → %s, revocation list %s (%d)", s.off.Event().ID, s.cfg.Gate, s.zone, when, n), false)
	}
	l.maybeDial(time.Now())
}

// finished reports whether Run should return, and with what.
func (l *loop) finished() (bool, error) {
	if !l.draining {
		return false, nil
	}
	n := l.s.q.Len()
	if n == 0 && len(l.live) == 0 {
		return true, nil
	}
	if !time.Now().Before(l.drainDeadline) {
		l.decideLive() // nobody leaves the gate without a verdict
		return true, &PendingError{Count: l.s.q.Len()}
	}
	return false, nil
}

func (l *loop) startDrain() {
	l.draining = true
	l.drainDeadline = time.Now().Add(l.s.cfg.DrainTimeout)
	if n := l.s.q.Len(); n > 0 {
		l.status("DRAINING", fmt.Sprintf("end of input; waiting up to %s for %d queued scan(s)", l.s.cfg.DrainTimeout, n), false)
	}
}

// maybeDial starts a dial when there is no connection, none is being made,
// and the backoff delay has passed.
func (l *loop) maybeDial(now time.Time) {
	if l.sess != nil || l.dialing || now.Before(l.nextDial) {
		return
	}
	l.dialing = true
	queued, oldest := l.unsynced()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.s.dial(l.ctx, l.events, l.s.cfg.Window, queued, oldest)
	}()
}

func (l *loop) onTick() {
	now := time.Now()
	l.maybeDial(now)
	// A person waiting longer than VerdictTimeout gets an offline verdict.
	var late []string
	for id, lv := range l.live {
		if now.Sub(lv.typed) >= l.s.cfg.VerdictTimeout {
			late = append(late, id)
		}
	}
	slices.Sort(late)
	for _, id := range late {
		l.decideOffline(id)
	}
	// A gateway silent for VerdictTimeout while verdicts are awaited is
	// stuck: drop the connection and redial.
	if l.sess != nil && len(l.inflight) > 0 && now.Sub(l.waitingSince) >= l.s.cfg.VerdictTimeout {
		l.lostSession(fmt.Sprintf("no answer from the gateway within %s", l.s.cfg.VerdictTimeout))
	}
	if l.sess != nil && l.s.off != nil && !l.fetching && !now.Before(l.nextRevoked) {
		l.fetchRevoked(!l.eventChecked)
		l.eventChecked = true
	}
	if l.sess != nil && !now.Before(l.nextStatus) {
		l.sendStatus()
	}
	l.pump()
}

// unsynced is what the scanner holds that the gateway has not acknowledged,
// scans a person waits for now aside: how many, and the oldest's time (nil
// when none, or when no time in it is plausible).
func (l *loop) unsynced() (int, *time.Time) {
	n := 0
	var oldest *time.Time
	for _, it := range l.s.q.Items() {
		if _, waiting := l.live[it.ID()]; waiting {
			continue
		}
		n++
		if at := it.At(); wire.PlausibleOldest(at) && (oldest == nil || at.Before(*oldest)) {
			oldest = &at
		}
	}
	if oldest == nil {
		n = 0 // the gateway needs a time with a count; these are not worth one
	}
	return n, oldest
}

// sendStatus reports the unsynced scans to the gateway (CONTRACT §3); the
// next one is due StatusEvery later.
func (l *loop) sendStatus() {
	n, oldest := l.unsynced()
	b, err := jsonMarshal(wire.Status{Type: wire.TypeStatus, Queued: n, Oldest: oldest})
	if err != nil {
		return
	}
	select {
	case l.sess.out <- b:
		l.reported = n
		l.nextStatus = time.Now().Add(l.s.cfg.StatusEvery)
	default:
		// The window is full of scans: the next tick tries again, also
		// when this was the emptied queue's report, not the periodic one.
		l.nextStatus = time.Now()
	}
}

func (l *loop) onEvent(ev connEvent) {
	now := time.Now()
	switch ev.kind {
	case evDialFailed:
		l.dialing = false
		l.nextDial = now.Add(l.s.backoff.Next(l.attempt))
		l.attempt++
		reason := "gateway unreachable: " + oneLine(ev.err.Error())
		if ev.status == http.StatusUnauthorized || ev.status == http.StatusForbidden {
			reason = fmt.Sprintf("the gateway refused this scanner's token (HTTP %d): a new token is needed", ev.status)
			if !l.authShown { // a person must act: say it even in an outage already announced
				l.authShown, l.offlineShown = true, false
			}
		}
		l.goneOffline(reason)
		l.decideLive()
	case evConnected:
		l.dialing = false
		if l.ctx.Err() != nil {
			ev.sess.close()
			return
		}
		l.online(ev.sess)
	case evVerdict:
		if ev.sess == l.sess {
			l.onVerdict(ev.verdict)
		}
	case evError:
		if ev.sess == l.sess {
			l.onError(ev.werr)
		}
	case evClosed:
		if ev.sess == l.sess {
			l.lostSession(closeReason(ev.err))
		}
	case evRevoked:
		l.fetching = false
		l.nextRevoked = now.Add(l.s.cfg.RevokedEvery)
		if ev.warning != "" {
			l.status("CONFIG", ev.warning, true)
		}
		if ev.err != nil {
			l.s.log.Warn("revocation list not refreshed", "err", ev.err)
			return
		}
		if err := l.s.off.SetRevoked(ev.revoked, ev.at); err != nil {
			l.s.log.Error("revocation list not cached", "err", err)
			return
		}
		l.s.log.Info("revocation list refreshed", "count", len(ev.revoked))
	}
}

func (l *loop) online(sess *session) {
	s := l.s
	l.sess, l.attempt, l.offlineShown, l.authShown = sess, 0, false, false
	l.inflight = map[string]time.Time{}
	l.pauseUntil, l.retries = time.Time{}, 0
	w := sess.welcome
	switch {
	case w.Zone == "":
		l.status("CONFIG", fmt.Sprintf("the gateway does not know gate %s: it will refuse every scan here (unknown_gate)", s.cfg.Gate), true)
	case s.zone == "":
		s.zone = w.Zone
	case w.Zone != s.zone:
		l.status("CONFIG", fmt.Sprintf("the gateway puts gate %s in zone %s, the event file here in %s: update the event file", s.cfg.Gate, oneLine(w.Zone), s.zone), true)
	}
	n := s.q.Len()
	l.status("ONLINE", fmt.Sprintf("gate %s → %s, %d queued", s.cfg.Gate, s.zone, n), false)
	if !w.ServerTime.IsZero() {
		if skew := s.clk.Now().Sub(w.ServerTime); skew > admission.SkewTolerance || skew < -admission.SkewTolerance {
			l.status("CLOCK", fmt.Sprintf("this scanner's clock is %s off the gateway's: set it right", skew.Round(time.Second)), true)
		}
	}
	l.backlogShown = n > 0
	l.reported, _ = l.unsynced() // as hello said
	l.nextStatus = time.Now().Add(s.cfg.StatusEvery)
	l.nextRevoked, l.eventChecked = time.Time{}, false
	l.tokens, l.refilled = 1, time.Now()
	l.pump()
}

// goneOffline prints the OFFLINE status once per outage.
func (l *loop) goneOffline(reason string) {
	if l.offlineShown {
		return
	}
	l.offlineShown = true
	what := "scans are decided here and queued"
	if l.s.off == nil {
		what = "entries are queued undecided"
	}
	l.status("OFFLINE", fmt.Sprintf("%s; %s (%d queued)", reason, what, l.s.q.Len()), true)
}

// lostSession ends the current session: every scan a person still waits for
// is decided offline now, and a redial is scheduled.
func (l *loop) lostSession(reason string) {
	if l.sess == nil {
		return
	}
	l.sess.close()
	l.sess = nil
	l.inflight = map[string]time.Time{}
	l.s.log.Info("disconnected", "reason", reason)
	l.goneOffline(reason)
	l.nextDial = time.Now().Add(l.s.backoff.Next(l.attempt))
	l.attempt++
	l.decideLive()
}

// decideLive decides offline, in the order they were scanned, every scan a
// person still waits for.
func (l *loop) decideLive() {
	ids := make([]string, 0, len(l.live))
	for id := range l.live {
		ids = append(ids, id)
	}
	slices.Sort(ids) // ULIDs of one run sort in scan order
	for _, id := range ids {
		l.decideOffline(id)
	}
}

func (l *loop) onLine(in lineIn) {
	s := l.s
	if in.tooLong {
		l.status("NOT A SCAN", fmt.Sprintf("a line of more than %d bytes is no ticket", maxLine), true)
		return
	}
	ln, err := ParseLine(in.text)
	if err != nil {
		l.status("NOT A SCAN", err.Error(), true)
		return
	}
	if ln.Kind == Blank {
		return
	}
	if ln.WrongLayout() {
		l.status("LAYOUT", fmt.Sprintf("the reader types as on a US keyboard but this computer uses the %s layout: ticket recovered; set both to the same layout", ln.Layout), true)
	}
	if l.draining {
		return
	}
	now := s.clk.Now()
	at := now.UTC().Truncate(time.Millisecond)
	var it Item
	switch ln.Kind {
	case Tally:
		if s.zone == "" {
			l.status("NOT RECORDED", fmt.Sprintf("tally: the zone of gate %s is unknown until the gateway answers (or give --config)", s.cfg.Gate), true)
			return
		}
		it = Item{Tally: &wire.Tally{Type: wire.TypeTally, ID: s.newID(now), Zone: s.zone, Delta: ln.Delta, At: at, Gate: s.cfg.Gate}}
	default:
		it = Item{Scan: &wire.Scan{Type: wire.TypeScan, ID: s.newID(now), Ticket: ln.Payload, Direction: s.cfg.Direction, At: at, Gate: s.cfg.Gate}}
	}
	if err := s.q.Put(it); err != nil {
		l.println(errorLine(it.ID(), "NOT RECORDED", err.Error(), s.cfg.Color))
		s.log.Error("scan not queued", "id", it.ID(), "err", err)
		return
	}
	// Offline, decide now. While a first connection (or the first redial
	// after a drop) is being made, wait for it, up to VerdictTimeout.
	if l.sess == nil && (!l.dialing || l.offlineShown) {
		l.decideOffline(it.ID())
		return
	}
	l.live[it.ID()] = liveScan{typed: time.Now()}
	l.pump()
}

// errorLine is the red line for a scan that got no verdict.
func errorLine(id, word, msg string, color bool) string {
	s := SymbolRed + " " + word + "  id=" + id + "  " + oneLine(msg)
	if color {
		return ansiRed + s + ansiReset
	}
	return s
}

// pump sends what can be sent: the scans people wait for first, then the
// queue in order, within the window.
func (l *loop) pump() {
	if l.sess == nil || time.Now().Before(l.pauseUntil) {
		return
	}
	window := l.s.cfg.Window
	ids := make([]string, 0, len(l.live))
	for id := range l.live {
		if _, sent := l.inflight[id]; !sent {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if len(l.inflight) >= window {
			return
		}
		if it, ok := l.s.q.Get(id); ok && !l.send(it) {
			return
		}
	}
	// Queued scans go at UploadRate, from a bucket of one second's worth.
	now := time.Now()
	rate := l.s.cfg.UploadRate
	l.tokens = min(max(rate, 1), l.tokens+now.Sub(l.refilled).Seconds()*rate)
	l.refilled = now
	room := min(window-liveReserve-len(l.inflight), int(l.tokens))
	if room <= 0 {
		return
	}
	for _, it := range l.s.q.Next(room, func(id string) bool {
		_, sent := l.inflight[id]
		_, live := l.live[id]
		return sent || live
	}) {
		if !l.send(it) {
			return
		}
		l.tokens--
	}
}

func (l *loop) send(it Item) bool {
	b, err := it.Frame()
	if err != nil { // cannot happen: Put checked it
		l.s.log.Error("unsendable queue item", "id", it.ID(), "err", err)
		return true
	}
	select {
	case l.sess.out <- b:
	default:
		return false
	}
	now := time.Now()
	if len(l.inflight) == 0 {
		l.waitingSince = now
	}
	l.inflight[it.ID()] = now
	return true
}

// decideOffline shows the person at the gate the scanner's own verdict on a
// queued scan and marks it offline in the queue, so that the gateway judges
// it at the time it happened when it is uploaded.
func (l *loop) decideOffline(id string) {
	s := l.s
	delete(l.live, id)
	it, ok := s.q.Get(id)
	if !ok {
		return
	}
	var v wire.Verdict
	if s.off != nil {
		v = s.off.Decide(it)
	} else {
		v = undecided(it, s.zone)
	}
	if !it.IsOffline() {
		if err := s.q.Put(it.AsOffline(v.Code)); err != nil {
			s.log.Error("scan not marked offline", "id", id, "err", err)
		}
	}
	l.println(Format(Result{Item: it, Verdict: v, Local: true}, s.cfg.Color))
	if s.cfg.Color {
		l.println(Banner(v))
	}
	if s.off != nil {
		if err := s.off.Learn(it, v); err != nil {
			s.log.Error("offline knowledge not saved", "err", err)
		}
	}
}

// undecided is the verdict shown offline without an event file and key.
func undecided(it Item, zone string) wire.Verdict {
	v := wire.Verdict{Type: wire.TypeVerdict, ID: it.ID(), Zone: zone, Flags: checkin.Flags{checkin.Offline}}
	switch {
	case it.Tally != nil:
		v.OK, v.Code, v.Message = true, checkin.Accepted, "counted offline"
	case it.Scan != nil && it.Scan.Direction == checkin.Out:
		v.OK, v.Code, v.Message = true, checkin.Accepted, "exit"
	default:
		v.Code, v.Message = Undecided, "no offline checks here: check the ticket by eye"
	}
	return v
}

func (l *loop) onVerdict(v wire.Verdict) {
	s := l.s
	id := v.ID
	delete(l.inflight, id)
	l.waitingSince = time.Now()
	l.retries = 0
	it, ok := s.q.Get(id)
	if !ok {
		s.log.Debug("verdict for a scan no longer queued", "id", id)
		return
	}
	_, live := l.live[id]
	delete(l.live, id)
	l.println(Format(Result{Item: it, Verdict: v, Synced: !live}, s.cfg.Color))
	if live && s.cfg.Color {
		l.println(Banner(v)) // the person at the gate waits for this one
	}
	if s.off != nil {
		if err := s.off.Learn(it, v); err != nil {
			s.log.Error("offline knowledge not saved", "err", err)
		}
	}
	if err := s.q.Remove(id); err != nil {
		s.log.Error("acknowledged scan not removed from the queue; it will be resent and replayed", "id", id, "err", err)
	}
	if s.q.Len() == 0 && l.backlogShown {
		l.backlogShown = false
		l.status("SYNCED", "every queued scan is acknowledged", false)
	}
	if l.reported > 0 && s.q.Len() <= len(l.live) { // cheap first: only waited-for scans left
		if n, _ := l.unsynced(); n == 0 {
			l.sendStatus() // the queue emptied: say so now, not in 30 s
		}
	}
	l.pump()
}

func (l *loop) onError(e wire.Error) {
	s := l.s
	l.waitingSince = time.Now()
	if e.ID == "" {
		s.log.Warn("gateway error", "code", e.Code, "message", e.Message)
		return
	}
	delete(l.inflight, e.ID)
	switch e.Code {
	case wire.ErrUnavailable, wire.ErrRateLimited:
		// Keep it queued; resend later with the same id.
		l.pauseUntil = time.Now().Add(max(100*time.Millisecond, s.backoff.Next(l.retries)))
		l.retries++
		s.log.Info("gateway deferred a scan", "id", e.ID, "code", e.Code)
		if _, live := l.live[e.ID]; live {
			l.decideOffline(e.ID)
			// The person went by on an offline verdict, which the gateway
			// takes only from a scan recorded before the hello of the
			// connection that uploads it (docs/rules.md): upload it on a
			// new connection, so that the count follows the person.
			l.lostSession("the gateway deferred a scan the person could not wait for (" + e.Code + ")")
		}
		return
	}
	it, ok := s.q.Get(e.ID)
	if !ok {
		return
	}
	if e.Code == wire.ErrIDConflict {
		// The id was the gateway's for another scan (a copied queue, a
		// reused device): the same scan under a new id, so that it counts.
		fresh := it.WithID(s.newID(it.At()))
		if err := s.q.Replace(e.ID, fresh); err != nil {
			s.log.Error("scan not queued under a new id", "id", e.ID, "err", err)
			return
		}
		if lv, live := l.live[e.ID]; live {
			delete(l.live, e.ID)
			l.live[fresh.ID()] = lv
		}
		s.log.Warn("scan id used before for another scan: queued again under a new id", "id", e.ID, "new_id", fresh.ID())
		l.pump()
		return
	}
	// A definitive refusal of the frame itself: resending cannot help.
	delete(l.live, e.ID)
	l.println(errorLine(it.ID(), "GATEWAY ERROR "+oneLine(e.Code), e.Message+" (scan dropped)", s.cfg.Color))
	s.log.Error("gateway refused a scan frame", "id", e.ID, "code", e.Code, "message", e.Message)
	if err := s.q.Remove(e.ID); err != nil {
		s.log.Error("refused scan not removed from the queue", "id", e.ID, "err", err)
	}
}
