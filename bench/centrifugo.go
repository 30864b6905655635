package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/event"
)

// Centrifugo side by side (issue 10): the same live clients (watcher), the
// same number of them, the same rate and message size, against Centrifugo
// publishing to unidirectional websockets.
const (
	centrifugoModule  = "github.com/centrifugal/centrifugo/v6"
	centrifugoVersion = "v6.9.1"
	// centrifugoKey is both the API key and the token secret of the bench's
	// own Centrifugo (bench/centrifugo.json): a loopback process that lives
	// for one row.
	centrifugoKey     = "crowdflow-bench-only-not-a-secret"
	centrifugoChannel = "board"
	// liveMessageSize is the size of each message Centrifugo delivers, about
	// that of a crowdflow update of a scan (its zone, gates and alerts).
	liveMessageSize = 1536
)

// centrifugoPush is how a publication on the board channel reaches a
// unidirectional client; the data after it is shaped like a crowdflow
// update, so the same watcher reads both.
var centrifugoPush = []byte(`{"channel":"` + centrifugoChannel + `","pub":{"data":`)

// centrifugoBinary returns Centrifugo's binary, installed with go install
// into the user's cache the first time.
func centrifugoBinary() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "crowdflow-bench", "centrifugo-"+centrifugoVersion)
	bin := filepath.Join(dir, "centrifugo")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench: installing Centrifugo %s into %s (once)\n", centrifugoVersion, dir)
	cmd := exec.Command("go", "install", centrifugoModule+"@"+centrifugoVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w: %s", centrifugoModule, centrifugoVersion, err, lastLine(out))
	}
	return bin, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// centrifugo is one running Centrifugo.
type centrifugo struct {
	cmd  *exec.Cmd
	addr string
	out  bytes.Buffer
}

// startCentrifugo starts bin with bench/centrifugo.json on a free loopback
// port and waits for it to answer.
func startCentrifugo(bin string) (*centrifugo, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	c := &centrifugo{addr: "127.0.0.1:" + port}
	c.cmd = exec.Command(bin, "--config", "bench/centrifugo.json")
	c.cmd.Env = append(os.Environ(), "CENTRIFUGO_HTTP_SERVER_ADDRESS=127.0.0.1", "CENTRIFUGO_HTTP_SERVER_PORT="+port)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start centrifugo: %w", err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + c.addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
			err = fmt.Errorf("GET /health: HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("centrifugo did not start: %v: %s", err, lastLine(c.out.Bytes()))
		}
	}
}

func (c *centrifugo) stop() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// rss is Centrifugo's resident set, in bytes.
func (c *centrifugo) rss() (int64, error) {
	return vmRSS(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
}

// centrifugoToken is a connection JWT (HS256) that subscribes its client to
// the board channel on the server side.
func centrifugoToken() string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body := enc.EncodeToString(fmt.Appendf(nil, `{"sub":"bench","channels":[%q],"exp":%d}`,
		centrifugoChannel, time.Now().Add(time.Hour).Unix()))
	mac := hmac.New(sha256.New, []byte(centrifugoKey))
	mac.Write([]byte(head + "." + body))
	return head + "." + body + "." + enc.EncodeToString(mac.Sum(nil))
}

// dialCentrifugo connects one unidirectional websocket client and reads its
// connect push (its first message); its reader then runs as a crowdflow
// client's does.
func dialCentrifugo(addr, tok, root string) (*watcher, error) {
	d := websocket.Dialer{HandshakeTimeout: replyWait}
	ws, _, err := d.Dial("ws://"+addr+"/connection/uni_websocket", nil)
	if err != nil {
		return nil, fmt.Errorf("dial centrifugo: %w", err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"token":%q}`, tok)); err != nil {
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(replyWait))
	_, b, err := ws.ReadMessage()
	if err == nil && !bytes.HasPrefix(b, []byte(`{"connect":`)) {
		err = fmt.Errorf("first message %.80q, want the connect push", b)
	}
	if err == nil && !bytes.Contains(b, []byte(`"`+centrifugoChannel+`"`)) {
		err = fmt.Errorf("connect push %.200q: not subscribed to %s", b, centrifugoChannel)
	}
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("centrifugo connect: %w", err)
	}
	w := &watcher{ws: ws, root: root, wrap: centrifugoPush, done: make(chan struct{})}
	_ = ws.SetReadDeadline(time.Time{})
	go w.read(0)
	return w, nil
}

// centrifugoUpdate is publication k's data: an update of the root zone's
// entries to k+1, padded to liveMessageSize.
func centrifugoUpdate(root string, k int) []byte {
	b := fmt.Appendf(nil, `{"type":"update","seq":%d,"at":%q,"zones":[{"id":%q,"entries":%d}],"pad":"`,
		k+1, time.Now().UTC().Format(time.RFC3339Nano), root, k+1)
	b = append(b, bytes.Repeat([]byte("x"), max(liveMessageSize-len(b)-2, 0))...)
	return append(b, `"}`...)
}

// centrifugoResult is one load of the Centrifugo rows.
type centrifugoResult struct {
	clients  int
	delivery result // publish sent → publication read, over every client
	publish  result // the publish calls themselves
	rss      int64  // Centrifugo's resident set growth once every client has its connect push
}

// centrifugoLive runs one load: a fresh Centrifugo, clients clients (in a
// child process unless inproc), a publication every 1/liveRate for d, each
// timed to every client.
func centrifugoLive(bin, root string, clients int, d time.Duration, inproc bool) (centrifugoResult, error) {
	res := centrifugoResult{clients: clients}
	c, err := startCentrifugo(bin)
	if err != nil {
		return res, err
	}
	defer c.stop()
	before, err := c.rss()
	if err != nil {
		return res, err
	}
	tok := centrifugoToken()
	var cs clientSet
	if inproc {
		ws, err := dialMany(clients, func() (*watcher, error) { return dialCentrifugo(c.addr, tok, root) })
		if err != nil {
			return res, err
		}
		cs = localClients(ws)
	} else if cs, err = startClients(kindCentrifugo, c.addr, tok, root, clients); err != nil {
		return res, err
	}
	closed := false
	defer func() {
		if !closed {
			cs.close()
		}
	}()
	after, err := c.rss()
	if err != nil {
		return res, err
	}
	res.rss = after - before

	n := max(int(liveRate*d.Seconds()), 1)
	sent := make([]int64, n)
	calls := make([]time.Duration, n)
	hc := &http.Client{Timeout: replyWait}
	start := time.Now().Add(20 * time.Millisecond)
	for k := range n {
		time.Sleep(time.Until(start.Add(time.Duration(float64(k) / liveRate * float64(time.Second)))))
		body, _ := json.Marshal(map[string]any{"channel": centrifugoChannel, "data": json.RawMessage(centrifugoUpdate(root, k))})
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+c.addr+"/api/publish", bytes.NewReader(body))
		req.Header.Set("X-API-Key", centrifugoKey)
		req.Header.Set("Content-Type", "application/json")
		t := time.Now()
		sent[k] = t.UnixNano()
		resp, err := hc.Do(req)
		if err != nil {
			return res, fmt.Errorf("centrifugo publish: %w", err)
		}
		var out struct {
			Error *struct{ Message string } `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != http.StatusOK || out.Error != nil) {
			err = fmt.Errorf("HTTP %d %+v", resp.StatusCode, out.Error)
		}
		if err != nil {
			return res, fmt.Errorf("centrifugo publish: %w", err)
		}
		calls[k] = time.Since(t)
	}
	elapsed := max(time.Since(start), time.Duration(float64(n)/liveRate*float64(time.Second)))
	res.publish = percentiles(calls, elapsed, 1)
	closed = true
	arrivals, err := cs.collect(n)
	if err != nil {
		return res, fmt.Errorf("centrifugo clients: %w", err)
	}
	lat, err := deliveries(arrivals, 0, sent)
	if err != nil {
		return res, fmt.Errorf("centrifugo clients: %w", err)
	}
	res.delivery = percentiles(lat, elapsed, clients)
	res.delivery.rps = float64(n) / elapsed.Seconds()
	return res, nil
}

// centrifugoRows measures Centrifugo with each number of live clients and
// returns its rows beside crowdflow's (live), or, when it cannot be
// installed or started, a note that says so.
func centrifugoRows(o options, root string, live []liveResult) ([]row, []centrifugoResult, string) {
	bin, err := centrifugoBinary()
	if err != nil {
		return nil, nil, fmt.Sprintf("Centrifugo: not measured: %v", err)
	}
	var rows []row
	var res []centrifugoResult
	i := 0 // live[i] is crowdflow's result with as many clients
	for _, clients := range o.live {
		if clients == 0 {
			continue
		}
		r, err := centrifugoLive(bin, root, clients, o.liveFor, o.liveInproc)
		if err != nil {
			return rows, res, fmt.Sprintf("Centrifugo with %d clients: not measured: %v", clients, err)
		}
		res = append(res, r)
		what := fmt.Sprintf("Centrifugo %s publish → uni_websocket client, %g/s, %d clients", centrifugoVersion, liveRate, clients)
		rows = append(rows, row{what: what, ref: "its HTTP publish call", got: r.delivery, base: r.publish})
		if i < len(live) && live[i].clients == clients {
			rows = append(rows, row{what: fmt.Sprintf("Scan → /ws/live update, %d live clients, against Centrifugo", clients),
				ref: what, got: live[i].dashboard, base: r.delivery})
		}
		i++
	}
	return rows, res, ""
}

// centrifugoSide measures Centrifugo with the live rows' client counts and
// returns its rows and its memory table beside crowdflow's.
func centrifugoSide(o options, live []liveResult) ([]row, string, error) {
	if !o.cf {
		return nil, "", nil
	}
	ev, err := event.Load(o.config)
	if err != nil {
		return nil, "", err
	}
	rows, res, note := centrifugoRows(o, ev.Root().ID, live)
	var b strings.Builder
	b.WriteString("\n| live clients | crowdflow gateway: RSS / client (no forced GC) | Centrifugo: RSS / client (no forced GC) | ratio |\n")
	b.WriteString("| ---: | ---: | ---: | ---: |\n")
	for _, r := range res {
		for _, l := range live {
			if l.clients != r.clients {
				continue
			}
			fmt.Fprintf(&b, "| %d | %.1f KiB | %.1f KiB | %.2f |\n", r.clients, float64(l.plain)/float64(r.clients)/1024,
				float64(r.rss)/float64(r.clients)/1024, float64(l.plain)/float64(r.rss))
		}
	}
	b.WriteString("\n- Memory per client, both the same way: the server's resident set after every client has its first " +
		"message (crowdflow: the snapshot; Centrifugo: the connect push) minus before they connected, no collection " +
		"forced in between; the clients run in another process.\n")
	if note != "" {
		fmt.Fprintf(&b, "- %s\n", note)
	}
	return rows, b.String(), nil
}
