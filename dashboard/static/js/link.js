// The link to the gateway: one websocket on /ws/scan (CONTRACT §3), opened
// with the session cookie, greeted with hello, and reopened after every
// loss with exponential backoff and jitter, so that a gateway restart does
// not see every phone of the fair at the same instant.
//
// Events (on the Link, an EventTarget):
//   "state"   detail: "connecting" | "online" | "offline"
//   "welcome" detail: the welcome message (the gate's zone)
//   "message" detail: a verdict or an error message
//   "auth"    the gateway refused the session (log in again)

export const BACKOFF_MIN = 500; // ms, the first retry
export const BACKOFF_MAX = 10000; // ms, the longest wait between tries
// GREET_WAIT bounds a try: a connection not greeted (welcome) by then is
// abandoned and tried again. A handshake on a dead path (a phone that moved
// to another network, a link that went silent) would otherwise hang until
// TCP gives up, many minutes, while the network is back.
export const GREET_WAIT = 5000; // ms

export class Link extends EventTarget {
  constructor({ device, gate }) {
    super();
    this.device = device;
    this.gate = gate;
    this.ws = null;
    this.state = 'connecting';
    this.failures = 0;
    this.timer = 0;
    addEventListener('online', () => this.reconnectNow());
    addEventListener('offline', () => this.drop());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.reconnectNow();
    });
  }

  get online() { return this.state === 'online'; }

  start() { this.connect(); }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: s }));
  }

  connect() {
    clearTimeout(this.timer);
    if (this.ws) return;
    this.setState(this.failures ? 'offline' : 'connecting');
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/scan';
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    const greeting = setTimeout(() => { if (this.ws === ws && !this.online) this.drop(); }, GREET_WAIT);
    ws.onopen = () => this.hello();
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.type === 'welcome') {
        clearTimeout(greeting);
        this.failures = 0;
        this.setState('online');
        this.dispatchEvent(new CustomEvent('welcome', { detail: m }));
      } else {
        this.dispatchEvent(new CustomEvent('message', { detail: m }));
      }
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setState('offline');
      // 1008 (policy violation): the gateway ended the session, the token expired.
      if (e.code === 1008) this.dispatchEvent(new Event('auth'));
      this.retry();
    };
  }

  // hello greets the gateway with the unsynced scans (this.queue, kept by
  // the page: { queued, oldest }), CONTRACT §3.
  hello() {
    this.sendRaw({ type: 'hello', protocol: 1, device: this.device, gate: this.gate, ...queueFields(this.queue) });
  }

  // status reports the unsynced scans on a greeted connection.
  status() {
    return this.send({ type: 'status', queued: 0, ...queueFields(this.queue) });
  }

  // setGate moves the session to another gate: a new hello on the open
  // connection (the gateway allows it), answered by a new welcome.
  setGate(gate) {
    this.gate = gate;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.hello();
  }

  // send sends a message on a greeted connection and reports whether it went.
  send(msg) {
    return this.online && this.sendRaw(msg);
  }

  sendRaw(msg) {
    try {
      this.ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  // drop closes the connection as lost (a verdict that does not come, the
  // system saying the network is gone); reconnection follows.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onclose = null;
    try { ws.close(); } catch { /* already closing */ }
    this.setState('offline');
    this.retry();
  }

  reconnectNow() {
    if (this.ws) return;
    this.failures = Math.min(this.failures, 1);
    this.connect();
  }

  // retry schedules the next try: BACKOFF_MIN doubling up to BACKOFF_MAX,
  // each wait drawn between half and all of it. After a few failures it
  // also asks whether the session is still valid, since a browser does not
  // tell why a websocket handshake failed.
  retry() {
    clearTimeout(this.timer);
    const n = this.failures++;
    const cap = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** n);
    const wait = cap / 2 + Math.random() * cap / 2;
    this.timer = setTimeout(() => this.connect(), wait);
    if (n === 2) this.checkSession();
  }

  async checkSession() {
    try {
      const r = await fetch('/api/v1/session', { credentials: 'same-origin', cache: 'no-store' });
      if (r.status === 401) this.dispatchEvent(new Event('auth'));
    } catch { /* the network is down: nothing to learn */ }
  }
}

// queueFields is a queue as hello and status carry it: a count and the
// oldest scan's time, or nothing when nothing waits.
function queueFields(q) {
  if (!q || !(q.queued > 0) || !q.oldest) return {};
  return { queued: q.queued, oldest: q.oldest };
}
