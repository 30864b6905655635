package dashboard_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"crowdflow/admission"
	"crowdflow/clock"
	"crowdflow/dashboard"
	"crowdflow/event"
	"crowdflow/gateway"
	"crowdflow/internal/pageclock"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
	"crowdflow/pdf"
	"crowdflow/ticket"
	"crowdflow/token"
)

// The event of every test, and its clock: the first day of the fair, an
// hour after opening.
const ouarzazate = "../configs/ouarzazate-2025.yaml"

var fairTime = time.Date(2025, 9, 17, 11, 0, 0, 0, time.FixedZone("+01", 3600))

// waitFor bounds every wait for the page: a deadline, not a sleep. Generous,
// for busy shared cores and a race-enabled gateway.
const waitFor = 20 * time.Second

// The ticket keys of the test run. They are made once, before the browser
// starts, because the fake camera's video (a browser flag) shows a ticket
// signed with them; every test gateway trusts them.
var (
	ticketPub  ed25519.PublicKey
	ticketKey  ed25519.PrivateKey
	cameraTick string // the payload the fake camera shows
)

func TestMain(m *testing.M) {
	var err error
	if ticketPub, ticketKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	browser.close()
	os.Exit(code)
}

// ---- the gateway ----

// fair is one gateway under test with the embedded store, reached through
// a cuttable link.
type fair struct {
	Event  *event.Event
	Secret []byte
	Ledger *ledger.Store
	Clock  *clock.Manual // the gateway's event clock: fairTime
	Link   *cable
	URL    string // the page's origin: through the cable
}

// mustFair starts a gateway with the dashboard for tb on a loopback :0
// listener, and stops it when tb ends.
func mustFair(tb testing.TB) *fair {
	tb.Helper()
	ev, err := event.Load(ouarzazate)
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := embedded.Open(embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = eng.Close() })
	st, err := ledger.New(admission.LedgerConfig(ev), eng)
	if err != nil {
		tb.Fatal(err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cfg := gateway.DefaultConfig()
	cfg.TicketKeys = []ed25519.PublicKey{ticketPub}
	cfg.UI = dashboard.Handler()
	cfg.ReportPage = dashboard.ReportPage
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.DrainWait = 50 * time.Millisecond
	cfg.CloseWait = 100 * time.Millisecond
	clk := clock.NewManual(fairTime.In(ev.Location))
	srv, err := gateway.New(cfg, ev, admission.New(ev, ticketPub), st, secret, clk, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	c := mustCable(tb, ln.Addr().String())
	tb.Cleanup(func() {
		cancel()
		c.close()
		if err := <-done; err != nil {
			tb.Logf("gateway Run: %v", err)
		}
	})
	return &fair{Event: ev, Secret: secret, Ledger: st, Clock: clk, Link: c, URL: "http://" + c.addr}
}

// token signs a staff token valid for a day of real time (the gateway
// judges tokens on the wall clock).
func (f *fair) token(tb testing.TB, role token.Role, gates ...string) string {
	tb.Helper()
	now := time.Now()
	tok, err := token.Sign(f.Secret, token.Claims{Role: role, Gates: gates, Subject: "test-" + string(role),
		Issued: now.Add(-time.Hour).Unix(), Expires: now.Add(24 * time.Hour).Unix()})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// ticketSpec describes a ticket to mint.
type ticketSpec struct {
	Type   string   // "visitor" by default
	Days   []string // none: its type's
	Forged bool     // signed with a key that is not the event's
}

// mustTicket mints a ticket of the Ouarzazate fair and returns its payload.
func mustTicket(tb testing.TB, ev *event.Event, spec ticketSpec) string {
	tb.Helper()
	p, err := signTicket(ev, spec)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func signTicket(ev *event.Event, spec ticketSpec) (string, error) {
	if spec.Type == "" {
		spec.Type = "visitor"
	}
	id, err := ticket.NewID(rand.Reader)
	if err != nil {
		return "", err
	}
	t := &ticket.Ticket{Event: ev.Hash(), ID: id, Type: ev.TicketType(spec.Type).Hash, Days: spec.Days, Reentry: true}
	key := ticketKey
	if spec.Forged {
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return "", err
		}
	}
	return ticket.Sign(t, key)
}

// counters reads the live counters of zone from the store.
func (f *fair) counters(tb testing.TB, zone string) ledger.Counters {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all, err := f.Ledger.Counters(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return *all[zone]
}

// ---- a network link that a test can cut ----

// cable forwards TCP connections to the gateway. Cut closes every
// connection and refuses new ones (the phone's network is gone); Silence
// closes every connection and takes new ones into a dead path (accepted,
// never answered, never closed); Mend lets them through again.
type cable struct {
	addr, target string
	ln           net.Listener

	// mu guards what follows.
	mu       sync.Mutex
	cut      bool
	silent   bool
	silenced int // connections taken while silent
	conns    map[net.Conn]struct{}
}

func mustCable(tb testing.TB, target string) *cable {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c := &cable{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	go c.serve()
	return c
}

func (c *cable) serve() {
	for {
		in, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.cut {
			c.mu.Unlock()
			_ = in.Close()
			continue
		}
		c.conns[in] = struct{}{}
		silent := c.silent
		if silent {
			c.silenced++
		}
		c.mu.Unlock()
		if !silent {
			go c.pipe(in)
		}
	}
}

func (c *cable) pipe(in net.Conn) {
	out, err := net.DialTimeout("tcp", c.target, 5*time.Second)
	if err != nil {
		_ = in.Close()
		return
	}
	c.mu.Lock()
	if c.cut {
		c.mu.Unlock()
		_ = in.Close()
		_ = out.Close()
		return
	}
	c.conns[out] = struct{}{}
	c.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = io.Copy(out, in); _ = out.Close() }()
	go func() { defer wg.Done(); _, _ = io.Copy(in, out); _ = in.Close() }()
	wg.Wait()
	c.mu.Lock()
	delete(c.conns, in)
	delete(c.conns, out)
	c.mu.Unlock()
}

// Cut drops every connection and refuses new ones until Mend.
func (c *cable) Cut() {
	c.drop(&c.cut)
}

// Silence closes every connection, then takes new ones and never answers
// until Mend.
func (c *cable) Silence() {
	c.drop(&c.silent)
}

// drop sets mode and closes every connection.
func (c *cable) drop(mode *bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*mode = true
	for k := range c.conns {
		_ = k.Close()
		delete(c.conns, k)
	}
}

// Silenced is how many connections the cable took while silent.
func (c *cable) Silenced() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.silenced
}

// Mend lets new connections through again; those taken while silent stay
// dead, as on a path that is gone.
func (c *cable) Mend() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut, c.silent = false, false
}

func (c *cable) close() {
	_ = c.ln.Close()
	c.Cut()
}

// ---- the browser ----

// chromium is the one headless Chromium of the test run, started by the
// first test that needs it and closed by TestMain. Each test gets a fresh
// browser context (its own cookies and storage) in it.
type chromium struct {
	once   sync.Once
	err    error
	ctx    context.Context // the browser's chromedp context
	cancel func()
	dir    string // the user data dir and the camera's video
}

var browser chromium

func findChromium() (string, error) {
	exe, err := pdf.Find("")
	if err != nil {
		return "", fmt.Errorf("the browser tests need Chromium: run `make test`, which installs it: %w", err)
	}
	return exe, nil
}

func (b *chromium) close() {
	if b.cancel != nil {
		b.cancel()
	}
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

func startBrowser() error {
	exe, err := findChromium()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "crowdflow-dashboard-test-")
	if err != nil {
		return err
	}
	browser.dir = dir
	// The fake camera films a ticket of this run's key.
	ev, err := event.Load(ouarzazate)
	if err != nil {
		return err
	}
	if cameraTick, err = signTicket(ev, ticketSpec{}); err != nil {
		return err
	}
	video := filepath.Join(dir, "ticket.y4m")
	if err := writeTicketVideo(video, cameraTick); err != nil {
		return err
	}
	opts := append(pdf.Headless(exe, filepath.Join(dir, "profile")),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", video),
		chromedp.Flag("lang", "en-US"),
		// Every name but loopback resolves to nothing: a page that goes
		// astray (the open-redirect test) reaches no other host.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	browser.ctx = ctx
	browser.cancel = func() { cancelCtx(); cancelAlloc() }
	// The first Do starts the browser; its context must be the browser's
	// own, which lives until TestMain closes it.
	if err := chromedp.Do(ctx); err != nil {
		return fmt.Errorf("start %s: %w", exe, err)
	}
	return nil
}

// tab is one page of a test in a fresh browser context.
type tab struct {
	tb       testing.TB
	ctx      context.Context
	fair     *fair
	mu       sync.Mutex
	problems []string // uncaught exceptions of the page
	console  []string // everything the page logged
}

// mustTab opens a tab on a phone-sized screen, with the device's clock at
// the fair's time, and closes it when tb ends, failing tb if the page threw
// an exception that nothing caught.
func mustTab(tb testing.TB, f *fair) *tab {
	tb.Helper()
	browser.once.Do(func() { browser.err = startBrowser() })
	if browser.err != nil {
		tb.Fatal(browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t := &tab{tb: tb, ctx: ctx, fair: f}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			t.mu.Lock()
			line := fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text)
			t.console = append(t.console, line)
			if m.IsException() {
				t.problems = append(t.problems, line)
			}
			t.mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		cancel()
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, p := range t.problems {
			tb.Errorf("the page threw: %s", p)
		}
		if tb.Failed() {
			tb.Logf("console of the page:\n%s", strings.Join(t.console, "\n"))
		}
	})
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: pageclock.Script(fairTime)}); err != nil {
		tb.Fatal(err)
	}
	t.do(chromedp.EmulateViewport(412, 860))
	return t
}

// cutLink cuts the page's link to the gateway and waits for the page to
// show it is offline.
func (t *tab) cutLink() {
	t.tb.Helper()
	t.fair.Link.Cut()
	t.waitUntil("the offline light", `document.getElementById('net').dataset.state === 'offline'`)
}

// reconnect cuts the link and mends it, and waits for the page to be
// online again: what a page uploads twice, it uploads then.
func (t *tab) reconnect() {
	t.tb.Helper()
	t.cutLink()
	t.fair.Link.Mend()
	t.waitUntil("online again", `document.getElementById('net').dataset.state === 'online'`)
}

// do runs actions, failing the test on an error.
func (t *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, waitFor)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.tb.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](t *tab, expr string, opts ...chromedp.EvaluateOption) T {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, waitFor)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitUntil evaluates a JavaScript expression every 25 ms until it is
// truthy; errors (a navigation in between) count as false until the
// deadline.
func (t *tab) waitUntil(what, expr string) {
	t.tb.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			break
		}
		<-tick.C
	}
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer cancel()
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({net: document.getElementById('net')?.dataset.state,
		result: document.getElementById('result')?.className, hidden: document.getElementById('result')?.hidden,
		outcome: document.getElementById('result')?.dataset.outcome, queued: document.getElementById('queued-n')?.textContent,
		notice: document.getElementById('notice')?.textContent, url: location.href})`))
	t.tb.Fatalf("%s: not within %s (last error: %v); page: %s", what, waitFor, last, state)
}

// login opens /login, pastes the token and waits for the scanner page.
func (t *tab) login(tok string) {
	t.tb.Helper()
	t.do(chromedp.Navigate(t.fair.URL + "/login"))
	t.submitLogin(tok)
	t.waitUntil("the scanner page after login", `location.pathname === '/scan' &&
		document.getElementById('net').dataset.state === 'online'`)
}

// submitLogin fills and submits the login form once its script is running
// (its language buttons are there): a click before that would be the
// browser's own form POST, which the gateway refuses (Origin: null under
// Referrer-Policy no-referrer). It goes through the page's JavaScript, not
// DOM node ids, which a navigation started by the page may invalidate.
func (t *tab) submitLogin(tok string) {
	t.tb.Helper()
	t.waitUntil("the login page's script", `location.pathname === '/login' && document.readyState === 'complete' &&
		document.querySelectorAll('#langs button').length > 0`)
	b, _ := json.Marshal(tok)
	eval[bool](t, `(() => { document.getElementById('token').value = `+string(b)+`;
		document.getElementById('login').requestSubmit(); return true; })()`)
}

// recordTimers hooks the page's setTimeout and clearTimeout, so that elapse
// can make time pass for the page without the test waiting for it.
func (t *tab) recordTimers() {
	t.tb.Helper()
	eval[bool](t, `(() => {
	  const set = window.setTimeout.bind(window), clear = window.clearTimeout.bind(window);
	  window.__armed = new Map();
	  window.setTimeout = (fn, ms, ...args) => {
	    const id = set(fn, ms, ...args);
	    if (typeof fn === 'function') window.__armed.set(id, () => { window.__armed.delete(id); clear(id); fn(...args); });
	    return id;
	  };
	  window.clearTimeout = (id) => { window.__armed.delete(id); clear(id); };
	  return true; })()`)
}

// elapse fires, once and now, every timer the page armed (since
// recordTimers) that has not fired or been cleared, as if their time had
// come; it returns how many.
func (t *tab) elapse() int {
	t.tb.Helper()
	return eval[int](t, `(() => {
	  const due = [...window.__armed.values()];
	  due.forEach((fire) => fire());
	  return due.length; })()`)
}

// lang switches the page's language with its button.
func (t *tab) lang(l string) {
	t.tb.Helper()
	t.do(chromedp.Click(chromedp.CSS(`#langs button[value="` + l + `"]`)))
	t.waitUntil("language "+l, `document.documentElement.lang.startsWith('`+l+`')`)
}

// scan types a payload into the code field as a keyboard-wedge reader
// does, then Enter. The text goes in with one input event (Input.insertText)
// rather than a key event per character, which would take seconds a scan;
// the page reads the field on input and on Enter only.
func (t *tab) scan(payload string) {
	t.tb.Helper()
	t.do(chromedp.Focus(chromedp.ID("code")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: payload})
			return err
		}),
		chromedp.SendKeys(chromedp.ID("code"), "\r"))
}

// result is what the result screen shows.
type result struct {
	Kind    string   `json:"kind"` // ok, warn, stop
	Outcome string   `json:"outcome"`
	AR      string   `json:"ar"`
	FR      string   `json:"fr"`
	EN      string   `json:"en"`
	Icon    string   `json:"icon"`
	Details []string `json:"details"`
	Occ     string   `json:"occ"`
	Tap     bool     `json:"tap"`
}

const readResult = `(() => {
  const r = document.getElementById('result');
  if (r.hidden) return null;
  const txt = (id) => document.getElementById(id).textContent;
  return {kind: r.className.replace('result', '').trim(), outcome: r.dataset.outcome, ar: txt('r-ar'),
    fr: txt('r-fr'), en: txt('r-en'), icon: txt('r-icon'), occ: txt('r-occ'),
    details: [...document.querySelectorAll('#r-detail li')].map((li) => li.textContent),
    tap: !document.getElementById('r-tap').hidden};
})()`

// waitResult waits for a result screen of kind (ok, warn, stop) and returns it.
func (t *tab) waitResult(kind string) result {
	t.tb.Helper()
	t.waitUntil("a "+kind+" result screen", `(() => { const r = document.getElementById('result');
		return !r.hidden && r.classList.contains('`+kind+`'); })()`)
	return eval[result](t, readResult)
}

// dismiss taps the result screen.
func (t *tab) dismiss() {
	t.tb.Helper()
	t.do(chromedp.Click(chromedp.ID("result")))
	t.waitUntil("the result screen to go", `document.getElementById('result').hidden`)
}

// screenshot saves the visible screen as name.png in the artifacts
// directory ($CROWDFLOW_ARTIFACTS, else the test's temporary directory).
func (t *tab) screenshot(name string) string {
	t.tb.Helper()
	dir := os.Getenv("CROWDFLOW_ARTIFACTS")
	if dir == "" {
		dir = t.tb.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.ctx, waitFor)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.tb.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.tb.Fatal(err)
	}
	t.tb.Logf("screenshot: %s", p)
	return p
}

// ---- the fake camera's video ----

// writeTicketVideo writes a YUV4MPEG2 video (the format Chromium's fake
// camera reads) of the ticket's QR code, as printed by ticket.PNG, black on
// white in the middle of a 640×480 frame. Y4M is a text header, then per
// frame "FRAME\n" and the raw Y, U and V planes (4:2:0: U and V at half
// resolution); a grey-level picture has U = V = 128.
func writeTicketVideo(path, payload string) error {
	pngBytes, err := ticket.PNG(payload)
	if err != nil {
		return err
	}
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		return err
	}
	const w, h, frames = 640, 480, 4
	// Scale the code to 440 px, nearest neighbour: its modules stay sharp.
	b := img.Bounds()
	side := 440
	y := make([]byte, w*h)
	for i := range y {
		y[i] = 235 // white
	}
	x0, y0 := (w-side)/2, (h-side)/2
	for j := 0; j < side; j++ {
		for i := 0; i < side; i++ {
			sx := b.Min.X + i*b.Dx()/side
			sy := b.Min.Y + j*b.Dy()/side
			if luma(img, sx, sy) < 128 {
				y[(y0+j)*w+x0+i] = 16 // black
			}
		}
	}
	chroma := bytes.Repeat([]byte{128}, (w/2)*(h/2))
	var out bytes.Buffer
	fmt.Fprintf(&out, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, h)
	for range frames {
		out.WriteString("FRAME\n")
		out.Write(y)
		out.Write(chroma)
		out.Write(chroma)
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

func luma(img image.Image, x, y int) int {
	r, g, b, _ := img.At(x, y).RGBA()
	return int((299*r + 587*g + 114*b) / 1000 >> 8)
}

// ---- plain HTTP, for the tests without a browser ----

// client is an HTTP client with a cookie jar, to log in like a browser.
func client(tb testing.TB) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
