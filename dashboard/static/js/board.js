// The live board (security's control room, CONTRACT §4): the site's total,
// a card per zone, the gates and the alerts, fed by /ws/live. Each zone's
// 60-minute trend comes whole with the snapshot (from the ledger), and grows
// with every message. When the
// link drops, or no figure has been confirmed for 30 s, the board goes grey
// under a banner and reconnects with backoff and jitter, resuming with
// ?since=<last seq>.
//
// URL parameters: kiosk=1 (a wall screen: no chrome, larger type),
// view=evacuation (the headcount per zone and ticket type), lang=ar|fr|en.
import { apply, dayName, langSwitcher, lang, name, num, setLang, t, time, LANGS } from './i18n.js';
import { BACKOFF_MAX, BACKOFF_MIN } from './link.js';

// STALE_AFTER: figures older than this are not trusted (U5).
export const STALE_AFTER = 30000;
// PROBE_AFTER: with the socket open but quiet this long (a quiet fair sends
// nothing), ask GET /api/v1/occupancy whether the figures still hold.
const PROBE_AFTER = 15000;
// HISTORY: the span of the trend lines.
const HISTORY = 60 * 60 * 1000;
const LEVELS = ['ok', 'warn', 'critical', 'full'];
const ICONS = { ok: '✓', warn: '▲', critical: '⚠', full: '⛔', none: '…' };

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const body = document.body;

const state = {
  event: null, // GET /api/v1/event: names of gates and ticket types, time zone
  seq: null, // the last message's seq
  at: null, // the last message's event time
  zones: new Map(), // id -> zone, in the snapshot's order
  gates: [],
  alerts: [],
  closed: null, // the latest day closing, from the live stream (CONTRACT §8)
  fresh: 0, // performance.now() of the last message or confirmed probe
  atMs: null, // state.at in ms, and performance.now() when it came
  atLocal: 0,
  history: new Map(), // id -> [[event ms, occupancy], ...]
  view: params.get('view') === 'evacuation' ? 'evacuation' : 'live',
  hasTypes: false,
};

// ---- the trend ----
// Points are [event ms, occupancy]. A snapshot brings the last hour from the
// ledger (its trend: the occupancy at the start of every minute), so a
// screen opened mid-day draws it at once; every message adds a point.

// eventNow is the event clock's present: the last message's time, moved on
// by the time since it came.
function eventNow() {
  return state.atMs === null ? Date.now() : state.atMs + (performance.now() - state.atLocal);
}

function record(z, at) {
  let pts = state.history.get(z.id);
  if (!pts) state.history.set(z.id, pts = []);
  const last = pts[pts.length - 1];
  // One point a second at most: a burst of updates is one step.
  if (last && at - last[0] < 1000) last[1] = z.occupancy;
  else if (!last || at > last[0]) pts.push([at, z.occupancy]);
  // Keep the last point older than the span: the step it starts reaches
  // the left edge.
  while (pts.length > 1 && pts[1][0] <= at - HISTORY) pts.shift();
}

// seed replaces the trend of every zone the snapshot's trend has.
function seed(tr) {
  const from = Date.parse(tr?.from);
  if (!tr || Number.isNaN(from) || typeof tr.step !== 'number' || !tr.zones) return;
  for (const [id, vals] of Object.entries(tr.zones)) {
    if (Array.isArray(vals)) state.history.set(id, vals.map((n, i) => [from + i * tr.step * 1000, n]));
  }
}

// spark draws the trend of a zone into svg (viewBox 600×100): the last 60
// minutes left to right, 0 at the bottom and the capacity at the top, with
// the 80 % and 90 % lines.
function spark(svg, z) {
  const pts = state.history.get(z.id) || [];
  const now = eventNow();
  const cap = Math.max(z.capacity || 1, ...pts.map((p) => p[1]));
  // The span: what the screen has seen, from 5 to 60 minutes, so that a
  // fresh screen shows a line rather than a dot at its edge.
  const span = Math.min(HISTORY, Math.max(5 * 60000, pts.length ? now - pts[0][0] : 0));
  const x = (ms) => Math.max(0, Math.min(600, 600 - (now - ms) / span * 600));
  const y = (n) => (100 - Math.max(0, n) / cap * 98).toFixed(1);
  let d = '';
  for (let i = 0; i < pts.length; i++) {
    const [ms, n] = pts[i];
    const px = x(ms).toFixed(1);
    if (i === 0) d += `M${px} ${y(n)}`;
    else d += `H${px}V${y(n)}`; // a step: the count holds until it changes
  }
  if (pts.length) d += `H600`;
  const area = pts.length ? `${d}V100H${x(pts[0][0]).toFixed(1)}Z` : '';
  const y80 = y(z.capacity * 0.8);
  svg.innerHTML = `<line class="t80" x1="0" x2="600" y1="${y80}" y2="${y80}"/>` +
    `<line class="t90" x1="0" x2="600" y1="${y(z.capacity * 0.9)}" y2="${y(z.capacity * 0.9)}"/>` +
    (area ? `<path class="area" d="${area}"/><path class="line" d="${d}"/>` +
      `<line class="now" x1="596" x2="596" y1="${y(pts[pts.length - 1][1])}" y2="${y(pts[pts.length - 1][1])}"/>` : '');
}

// ---- formatting ----

function levelOf(z) { return LEVELS.includes(z.level) ? z.level : 'none'; }
function pct(z) { return z.capacity > 0 ? Math.floor(z.occupancy * 100 / z.capacity) : 0; }
function rate(n) { return typeof n === 'number' ? num(n, { maximumFractionDigits: 1 }) : '–'; }
// MTF_FAR: a forecast further than this is noise on a control-room screen.
const MTF_FAR = 240;
function mtf(m) {
  if (m === null || m === undefined) return '—';
  if (m < 1) return t('mtf_now');
  if (m > MTF_FAR) return t('mtf_far');
  return t('minutes', { n: num(Math.round(m)) });
}
function zoneName(id) {
  const z = state.zones.get(id);
  if (z) return name(z.name, id);
  const ez = state.event?.zones?.find((e) => e.id === id);
  return name(ez?.name, id);
}
function gateName(id) {
  const g = state.event?.gates?.find((e) => e.id === id);
  return name(g?.name, id);
}
function typeName(id) {
  const tt = state.event?.ticket_types?.find((e) => e.id === id);
  return name(tt?.name, id);
}
function clock(at) {
  if (!at) return '';
  return time(new Date(at), state.event?.time_zone);
}
function badge(el, level) {
  el.dataset.level = level;
  el.textContent = `${ICONS[level]} ${level === 'none' ? '' : t('level_' + level)}`.trim();
}

// ---- rendering ----

function root() {
  for (const z of state.zones.values()) if (!z.parent) return z;
  return null;
}

function renderSite() {
  const z = root();
  const el = $('site');
  if (!z) return;
  const level = levelOf(z);
  el.dataset.level = level;
  $('site-name').textContent = name(z.name, z.id);
  badge($('site-badge'), level);
  $('site-occ').textContent = num(z.occupancy);
  atLeast($('site-atleast'), $('site-ge'), z);
  $('site-cap').textContent = num(z.capacity);
  $('site-pct').textContent = t('pct', { n: num(pct(z)) });
  $('site-in').textContent = rate(z.in_per_min);
  $('site-out').textContent = rate(z.out_per_min);
  $('site-mtf').textContent = mtf(z.minutes_to_full);
  $('site-fill').style.inlineSize = Math.min(100, pct(z)) + '%';
  spark($('site-spark'), z);
}

function zoneCard(z) {
  let card = document.getElementById('zone-' + z.id);
  if (!card) {
    card = document.createElement('article');
    card.className = 'zone';
    card.id = 'zone-' + z.id;
    card.dataset.zone = z.id;
    card.innerHTML = `<header><h3 class="z-name"></h3><span class="badge z-badge"></span></header>
<div class="z-main"><span class="atleast z-atleast" hidden></span><span class="big" dir="ltr"><span class="ge z-ge" hidden>≥ </span><b class="z-occ"></b><span class="of"> / <span class="z-cap"></span></span></span>
<span class="pct z-pct" dir="ltr"></span></div>
<div class="meter" aria-hidden="true"><span class="fill"></span><span class="mark m80"></span><span class="mark m90"></span></div>
<dl class="z-flow">
<div><dt><span aria-hidden="true">↓</span> <span class="k-in"></span></dt><dd class="z-in" dir="ltr"></dd></div>
<div><dt><span aria-hidden="true">↑</span> <span class="k-out"></span></dt><dd class="z-out" dir="ltr"></dd></div>
<div><dt><span aria-hidden="true">◔</span> <span class="k-mtf"></span></dt><dd class="z-mtf"></dd></div>
</dl>
<svg class="spark" viewBox="0 0 600 100" preserveAspectRatio="none" aria-hidden="true"></svg>`;
  }
  const q = (c) => card.querySelector('.' + c);
  const level = levelOf(z);
  card.dataset.level = level;
  q('z-name').textContent = name(z.name, z.id);
  badge(q('z-badge'), level);
  q('z-occ').textContent = num(z.occupancy);
  atLeast(q('z-atleast'), q('z-ge'), z);
  card.toggleAttribute('data-atleast', z.at_least === true);
  q('z-cap').textContent = num(z.capacity);
  q('z-pct').textContent = t('pct', { n: num(pct(z)) });
  q('fill').style.inlineSize = Math.min(100, pct(z)) + '%';
  q('k-in').textContent = t('in_per_min');
  q('k-out').textContent = t('out_per_min');
  q('k-mtf').textContent = t('minutes_to_full');
  q('z-in').textContent = rate(z.in_per_min);
  q('z-out').textContent = rate(z.out_per_min);
  q('z-mtf').textContent = mtf(z.minutes_to_full);
  spark(card.querySelector('svg'), z);
  return card;
}

// atLeast marks a zone's figure as a lower bound while a gate that feeds
// it is offline or holds scans not yet synced (the gateway's at_least).
function atLeast(label, ge, z) {
  const on = z.at_least === true;
  label.hidden = !on;
  ge.hidden = !on;
  label.textContent = on ? t('at_least') : '';
  label.title = on ? t('at_least_why') : '';
}

// unsynced is a gate's queue of scans decided offline, in words.
function unsynced(g) {
  if (!(g.unsynced > 0)) return '';
  const now = Date.parse(state.at || '') || Date.now();
  const old = Date.parse(g.unsynced_oldest || '');
  const m = Number.isNaN(old) ? 0 : Math.max(0, Math.floor((now - old) / 60000));
  return t('unsynced', { n: num(g.unsynced), m: num(m) });
}

function renderZones() {
  const box = $('zones');
  const want = [];
  for (const z of state.zones.values()) if (z.parent) want.push(zoneCard(z));
  // Keep the snapshot's order; move nodes only when it differs.
  want.forEach((card, i) => { if (box.children[i] !== card) box.insertBefore(card, box.children[i] || null); });
  while (box.children.length > want.length) box.lastElementChild.remove();
}

function renderGates() {
  const ul = $('gates');
  ul.replaceChildren();
  for (const g of state.gates) {
    const st = g.silent ? 'silent' : g.online ? 'online' : 'offline';
    const li = document.createElement('li');
    li.className = 'gate';
    li.dataset.gate = g.id;
    li.dataset.state = st;
    const icon = { online: '●', offline: '○', silent: '◌' }[st];
    const seen = g.last_seen ? t('last_seen', { time: clock(g.last_seen) }) : t('never_seen');
    li.innerHTML = `<span class="g-dot" aria-hidden="true"></span><b class="g-name"></b>
<span class="g-state"></span><span class="g-rate"></span><span class="g-seen muted"></span><span class="g-unsynced"></span>`;
    li.querySelector('.g-dot').textContent = icon;
    li.querySelector('.g-name').textContent = gateName(g.id);
    // Silent and offline are two facts: no scan for a while, no device on it.
    li.querySelector('.g-state').textContent = t('gate_' + st) + (g.silent && !g.online ? ' · ' + t('gate_offline') : '');
    li.querySelector('.g-rate').textContent = t('scans_per_min', { n: num(g.scans_per_min ?? 0) });
    li.querySelector('.g-seen').textContent = seen;
    const u = li.querySelector('.g-unsynced');
    u.textContent = unsynced(g);
    u.hidden = !u.textContent;
    ul.append(li);
  }
}

const SEVERITY = { full: 3, critical: 2, warn: 1 };

// renderAlerts lists the zones' alerts, the worst first, then one line for
// all the silent gates (at the opening every gate is silent at once: one
// line each would push the figures off a wall screen).
function renderAlerts() {
  const list = $('alert-list');
  const zoneAlerts = state.alerts.filter((a) => a.kind !== 'gate_silent')
    .sort((a, b) => (SEVERITY[b.level] || 0) - (SEVERITY[a.level] || 0));
  const silent = state.alerts.filter((a) => a.kind === 'gate_silent');
  list.replaceChildren();
  const add = (a, text, since) => {
    const li = document.createElement('li');
    li.className = 'alert';
    li.dataset.level = a.level;
    li.dataset.kind = a.kind;
    li.dataset.id = a.id;
    const icon = document.createElement('span');
    icon.className = 'a-icon';
    icon.setAttribute('aria-hidden', 'true');
    icon.textContent = ICONS[a.level] || '!';
    const txt = document.createElement('span');
    txt.className = 'a-text';
    const msg = document.createElement('b');
    msg.textContent = text;
    txt.append(msg);
    if (since) {
      const s = document.createElement('span');
      s.className = 'a-since';
      s.textContent = t('alert_since', { time: clock(since) });
      txt.append(' ', s);
    }
    li.append(icon, txt);
    list.append(li);
  };
  // On the wall (kiosk) a zone's alerts share one line, its level then its
  // forecast, so that a busy evening's alerts fit beside the figures.
  const wall = document.documentElement.classList.contains('kiosk');
  const lines = new Map(); // zone -> {a, text, since}, the worst alert first
  for (const a of zoneAlerts) {
    const z = state.zones.get(a.zone);
    const m = z?.minutes_to_full;
    const mins = m == null ? '?' : num(Math.max(1, Math.round(m)));
    const line = wall && lines.get(a.zone);
    if (line) {
      line.text += ' · ' + (a.kind === 'zone_forecast' ? t('forecast_short', { m: mins })
        : t('level_' + a.level) + ' — ' + (z ? t('pct', { n: num(pct(z)) }) : ''));
      if (a.since && (!line.since || a.since < line.since)) line.since = a.since;
      continue;
    }
    const text = a.kind === 'zone_forecast' ? t('alert_forecast', { zone: zoneName(a.zone), m: mins })
      : t('alert_level', { zone: zoneName(a.zone), level: t('level_' + a.level), pct: z ? t('pct', { n: num(pct(z)) }) : '' });
    lines.set(wall ? a.zone : a.id, { a, text, since: a.since });
  }
  for (const { a, text, since } of lines.values()) add(a, text, since);
  if (silent.length) {
    const first = silent.map((a) => a.since).sort()[0];
    add({ level: 'warn', kind: 'gate_silent', id: 'gates:silent' },
      t('alert_silent', { gates: silent.map((a) => gateName(a.gate)).join(' · '), n: num(silent.length) }), first);
  }
  $('alerts').hidden = list.children.length === 0;
}

// withoutTicket is how many people in the zone (and the zones inside it)
// were counted by tally: its occupancy less its ticket holders by type.
function withoutTicket(z) {
  if (!z.by_type || typeof z.by_type !== 'object') return typeof z.tally === 'number' ? num(z.tally) : '—';
  const withTicket = Object.values(z.by_type).reduce((n, k) => n + Math.max(0, k), 0);
  return num(Math.max(0, z.occupancy - withTicket));
}

function renderEvac() {
  const rows = $('evac-rows');
  rows.replaceChildren();
  const r = root();
  $('evac-total').textContent = r ? num(r.occupancy) : '–';
  // A zone's occupancy holds everyone inside it, counted by ticket or by
  // tally (docs/rules.md, "Tallies"); the site's is the whole headcount.
  state.hasTypes = [...state.zones.values()].some((z) => z.by_type && typeof z.by_type === 'object');
  $('evac-note').hidden = state.hasTypes;
  const zones = [...state.zones.values()].sort((a, b) => (a.parent ? 1 : 0) - (b.parent ? 1 : 0));
  for (const z of zones) {
    const tr = document.createElement('tr');
    tr.dataset.zone = z.id;
    tr.dataset.level = levelOf(z);
    if (!z.parent) tr.className = 'root';
    const types = Object.entries(z.by_type || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const cells = [name(z.name, z.id), num(z.occupancy),
      types.length ? types.map(([k, n]) => `${typeName(k)} ${num(n)}`).join(' · ') : (state.hasTypes ? '—' : ''),
      withoutTicket(z)];
    cells.forEach((c, i) => {
      const td = document.createElement(i === 0 ? 'th' : 'td');
      td.textContent = c;
      if (i === 1) { td.className = 'n'; td.dir = 'ltr'; }
      if (i === 2) {
        td.className = 'types-cell';
        td.replaceChildren();
        for (const [k, n] of types) {
          const s = document.createElement('span');
          s.className = 'type';
          s.dataset.type = k;
          s.innerHTML = '<span class="t-name"></span> <b class="t-n" dir="ltr"></b>';
          s.querySelector('.t-name').textContent = typeName(k);
          s.querySelector('.t-n').textContent = num(n);
          td.append(s);
        }
        if (!types.length) td.textContent = c;
      }
      if (i === 3) { td.className = 'n'; td.dir = 'ltr'; }
      tr.append(td);
    });
    rows.append(tr);
  }
}

function renderView() {
  body.dataset.view = state.view;
  $('live').hidden = state.view !== 'live';
  $('evac').hidden = state.view !== 'evacuation';
  $('view-live').setAttribute('aria-pressed', String(state.view === 'live'));
  $('view-evac').setAttribute('aria-pressed', String(state.view === 'evacuation'));
}

// closedNow is the latest day closing while the board is between days: from
// the closing until the next event day opens (by the gateway's clock, as
// the live stream last gave it), or for good after the last day.
function closedNow() {
  const c = state.closed;
  if (!c || !state.at) return null;
  const now = Date.parse(state.at) + (performance.now() - state.fresh);
  const next = (state.event?.days || []).find((d) => d.date > c.day);
  return next && now >= Date.parse(next.open) ? null : c;
}

// renderClosed says that the day is over, and how many each zone swept out
// at closing: people who left through a door without a scanner.
function renderClosed() {
  const c = closedNow();
  $('closed').hidden = !c;
  body.dataset.day = c ? 'closed' : 'open';
  if (!c) return;
  $('closed-title').textContent = t('closed_title', { day: dayName(c.day), time: clock(c.at) });
  const parts = [];
  for (const z of state.zones.values()) {
    const n = c.swept?.[z.id] || 0;
    const k = c.swept_tally?.[z.id] || 0;
    if (!n && !k) continue;
    parts.push(`${zoneName(z.id)} ${num(n)}` + (k ? ' ' + t('closed_tally', { n: num(k) }) : ''));
  }
  $('closed-swept').textContent = parts.length ? t('closed_swept', { list: parts.join(' · ') }) : t('closed_none');
}

function render() {
  renderClosed();
  renderSite();
  renderZones();
  renderGates();
  renderAlerts();
  renderEvac();
  renderView();
  tick();
}

// ---- freshness ----

let probing = false;
let retryAt = 0;

// tick refreshes "updated N s ago" and the stale state, every second.
function tick() {
  const now = performance.now();
  const age = state.fresh ? now - state.fresh : Infinity;
  const open = live.ws && live.ws.readyState === WebSocket.OPEN && state.seq !== null;
  const stale = !open || age > STALE_AFTER;
  body.dataset.conn = stale ? 'stale' : 'live';
  $('stale').hidden = !stale || state.seq === null && live.failures === 0;
  if (state.fresh) {
    $('updated').textContent = t('updated_ago', { s: num(Math.max(0, Math.floor(age / 1000))) });
    $('updated').dataset.age = String(Math.floor(age / 1000));
  }
  if (stale) {
    const parts = [];
    if (!open && retryAt > now) parts.push(t('stale_reconnecting', { s: num(Math.ceil((retryAt - now) / 1000)) }));
    else if (!open) parts.push(t('stale_connecting'));
    if (state.fresh) parts.push(t('stale_no_data', { s: num(Math.floor(age / 1000)) }));
    $('stale-detail').textContent = parts.join(' ');
  }
  if (open && age > PROBE_AFTER && !probing) probe();
  // Open but nothing confirmed for 30 s, the probe failing too: the socket
  // is likely half-open (a cable pulled somewhere). Drop it and reconnect,
  // with backoff, at most once per STALE_AFTER / 3 of open socket.
  if (open && age > STALE_AFTER && now - live.openedAt > STALE_AFTER / 3) live.drop();
}

// probe asks for the snapshot over HTTP when the socket has been quiet: the
// hub sends nothing while nothing changes, and a half-open socket tells
// nothing either. A newer seq than ours means the socket missed updates:
// take the snapshot and reconnect.
async function probe() {
  probing = true;
  try {
    const r = await fetch('/api/v1/occupancy', { credentials: 'same-origin', cache: 'no-store' });
    if (r.status === 401) return toLogin();
    if (!r.ok) return;
    const m = await r.json();
    if (typeof m.seq !== 'number' || m.seq < state.seq) return;
    const newer = m.seq > state.seq;
    snapshot(m);
    if (newer) live.restart();
  } catch { /* the socket's close will tell */ } finally {
    probing = false;
  }
}

// ---- messages ----

function snapshot(m) {
  state.closed = m.closed || null;
  state.zones = new Map();
  for (const z of m.zones || []) state.zones.set(z.id, z);
  seed(m.trend);
  state.gates = m.gates || [];
  state.alerts = m.alerts || [];
  took(m);
}

function update(m) {
  for (const z of m.zones || []) {
    state.zones.set(z.id, z);
  }
  if (Array.isArray(m.gates)) state.gates = m.gates;
  if (Array.isArray(m.alerts)) state.alerts = m.alerts;
  if (m.closed) state.closed = m.closed;
  took(m);
}

function took(m) {
  state.seq = m.seq;
  state.at = m.at;
  const at = Date.parse(m.at);
  if (!Number.isNaN(at)) [state.atMs, state.atLocal] = [at, performance.now()];
  body.dataset.seq = String(m.seq);
  state.fresh = performance.now();
  // Every zone gets a point, so a flat trend reaches the present.
  for (const z of state.zones.values()) record(z, eventNow());
  render();
}

// ---- the link: /ws/live with backoff, jitter and resume ----

const live = {
  ws: null,
  openedAt: 0,
  failures: 0,
  timer: 0,
  connect() {
    clearTimeout(this.timer);
    retryAt = 0;
    if (this.ws) return;
    let url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/live';
    if (state.seq !== null) {
      url += '?since=' + encodeURIComponent(state.seq);
      body.dataset.since = String(state.seq);
    }
    let ws;
    try { ws = new WebSocket(url); } catch { this.retry(); return; }
    this.ws = ws;
    ws.onopen = () => { this.openedAt = performance.now(); tick(); };
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      this.failures = 0;
      if (m.type === 'snapshot') snapshot(m);
      else if (m.type === 'update') update(m);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 1008) return toLogin();
      this.retry();
      tick();
    };
  },
  // retry: BACKOFF_MIN doubling to BACKOFF_MAX, each wait drawn between half
  // and all of it, so the screens of a control room do not all knock at once.
  retry() {
    clearTimeout(this.timer);
    const n = this.failures++;
    const cap = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** n);
    const wait = cap / 2 + Math.random() * cap / 2;
    retryAt = performance.now() + wait;
    this.timer = setTimeout(() => this.connect(), wait);
    if (n === 2) checkSession();
  },
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onclose = null;
    try { ws.close(); } catch { /* closing */ }
    this.retry();
    tick();
  },
  restart() {
    const ws = this.ws;
    if (ws) { this.ws = null; ws.onclose = null; try { ws.close(); } catch { /* closing */ } }
    this.failures = 0;
    this.connect();
  },
  now() {
    if (this.ws) return;
    this.failures = Math.min(this.failures, 1);
    this.connect();
  },
};

async function checkSession() {
  try {
    const r = await fetch('/api/v1/session', { credentials: 'same-origin', cache: 'no-store' });
    if (r.status === 401) toLogin();
  } catch { /* down: nothing to learn */ }
}

function toLogin() {
  location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
}

// ---- start ----

async function getJSON(path) {
  const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401) { toLogin(); throw new Error('login'); }
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function notice(key) {
  $('notice').textContent = t(key);
  $('notice').hidden = false;
}

async function start() {
  if (params.get('kiosk') === '1') document.documentElement.classList.add('kiosk');
  const l = params.get('lang');
  if (LANGS.includes(l)) setLang(l);
  langSwitcher($('langs'));
  apply();
  renderView();
  for (const b of [$('view-live'), $('view-evac')]) {
    b.addEventListener('click', () => {
      state.view = b.value;
      const u = new URL(location.href);
      if (state.view === 'live') u.searchParams.delete('view'); else u.searchParams.set('view', state.view);
      history.replaceState(null, '', u);
      renderView();
    });
  }
  $('kiosk-link').href = '/?kiosk=1&lang=' + lang() + (state.view === 'evacuation' ? '&view=evacuation' : '');
  $('logout').addEventListener('click', async () => {
    try { await fetch('/logout', { method: 'POST', credentials: 'same-origin' }); } catch { /* offline */ }
    location.assign('/login?next=/');
  });
  document.addEventListener('langchange', () => {
    $('kiosk-link').href = '/?kiosk=1&lang=' + lang();
    if (state.event) $('event-name').textContent = name(state.event.name);
    if (state.seq !== null) render();
  });

  let session;
  try {
    session = await getJSON('/api/v1/session');
  } catch (e) {
    if (e.message === 'login') return;
  }
  if (session && !session.can?.includes('live')) {
    if (session.can?.includes('scan')) { location.replace('/scan'); return; }
    notice('no_live_role');
    return;
  }
  try {
    state.event = await getJSON('/api/v1/event');
    $('event-name').textContent = name(state.event.name);
  } catch { /* the names fall back to ids; the board still runs */ }

  addEventListener('online', () => live.now());
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') live.now(); });
  setInterval(tick, 1000);
  live.connect();
  tick();
}

start();
