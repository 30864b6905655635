// The phone scanner page (/scan): a gate worker picks the gate and the
// direction, then scans tickets with a keyboard-wedge reader or the camera,
// or counts people without tickets (tally). Each scan is written to the
// outbox (IndexedDB) before it is sent; the verdict fills the screen.
import * as i18n from './i18n.js';
import { t, tIn, words, flag, num, name } from './i18n.js';
import { ulid, deviceId } from './ids.js';
import { Outbox } from './outbox.js';
import { Link } from './link.js';
import { signal, unlock } from './feedback.js';
import { OfflineJudge } from './offline.js';

// Timings.
// A person at the gate has an answer within DECIDE_BY of the read, as at a
// CLI scanner (its verdict timeout): the gateway's verdict, or else the
// offline decision, for which OFFLINE_CHECK of it is kept (the signature
// check and the outbox write).
const DECIDE_BY = 2000; // ms after the read
const OFFLINE_CHECK = 300; // ms
const VERDICT_WAIT = DECIDE_BY - OFFLINE_CHECK; // ms after the read: no verdict by then → the link is lost; the scan is saved offline
const UPLOAD_WAIT = 5000; // ms to wait for the verdict of one upload
const UPLOAD_GAP = 100; // ms between two uploads: 10 a second, half the gateway's limit
const GREEN_CLEAR = 1200; // ms a green screen stays
const SAME_CODE_QUIET = 4000; // ms the camera ignores the code it just read
const STATUS_EVERY = 30 * 1000; // ms between two reports of the unsynced scans (CONTRACT §3 status)
const REVOKED_EVERY = 60 * 1000; // ms between two downloads of the revocation list (CONTRACT §5: within a minute)

const $ = (id) => document.getElementById(id);

// saved reads and writes the page's settings and caches in localStorage.
const saved = {
  get(key, fallback = null) {
    try { return JSON.parse(localStorage.getItem('cf.' + key)) ?? fallback; } catch { return fallback; }
  },
  set(key, v) {
    try { localStorage.setItem('cf.' + key, JSON.stringify(v)); } catch { /* full or off */ }
  },
};

const state = {
  session: null,
  event: null,
  gates: [],
  gate: null, // the gate object of the event
  dir: saved.get('dir', 'in'),
  mode: saved.get('mode', 'tickets'),
  occ: saved.get('occ'), // the last verdict's zone figures
  queued: 0,
  camera: null,
  lastCode: '',
  lastCodeAt: 0,
};

let outbox;
let link;
let judge;
// waiting holds the messages sent and not yet answered, by id: {live,
// msg, read, timer, resolve}. live: its verdict goes on screen (read: when
// the worker scanned it, performance.now()); else an upload.
const waiting = new Map();
let resultTimer = 0;

// ---- start ----

async function getJSON(path) {
  const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401) {
    location.assign('/login?next=' + encodeURIComponent(location.pathname));
    throw new Error('login');
  }
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

// load gets the session and the event, or their last copies when the
// gateway cannot be reached (a reload while the network is down).
async function load() {
  try {
    state.session = await getJSON('/api/v1/session');
    saved.set('session', state.session);
  } catch (e) {
    if (e.message === 'login') return false;
    state.session = saved.get('session');
  }
  try {
    state.event = await getJSON('/api/v1/event');
    saved.set('event', state.event);
  } catch (e) {
    if (e.message === 'login') return false;
    state.event = saved.get('event');
  }
  if (!state.session || !state.event) {
    notice(t('login_offline'));
    return false;
  }
  return true;
}

async function main() {
  i18n.langSwitcher($('langs'));
  document.addEventListener('langchange', render);
  document.addEventListener('pointerdown', unlock, { passive: true });
  document.addEventListener('keydown', unlock);
  if (!(await load())) return;

  const { session, event } = state;
  if (!(session.can || []).includes('scan')) return notice(t('no_scan_role'));
  const allowed = session.gates || [];
  state.gates = (event.gates || []).filter((g) => allowed.length === 0 || allowed.includes(g.id));
  if (state.gates.length === 0) return notice(t('no_gate'));
  state.gate = state.gates.find((g) => g.id === saved.get('gate')) || state.gates[0];

  outbox = await Outbox.open();
  const revoked = new Set(saved.get('revoked', []));
  judge = new OfflineJudge(event, revoked);
  link = new Link({ device: deviceId(), gate: state.gate.id });
  link.addEventListener('state', () => { if (!link.online) lostAll(); render(); });
  link.addEventListener('welcome', () => { drain(); refreshRevoked(); });
  link.addEventListener('message', (e) => onMessage(e.detail));
  link.addEventListener('auth', () => location.assign('/login?next=/scan'));

  wire();
  // The result screen starts below the status bar, which stays visible.
  const status = document.querySelector('.status');
  new ResizeObserver(() => {
    document.documentElement.style.setProperty('--status-h', status.offsetHeight + 'px');
  }).observe(status);
  $('setup').hidden = false;
  await refreshQueued();
  render();
  link.start();
  setInterval(() => { if (link.online) refreshRevoked(); }, REVOKED_EVERY);
  setInterval(() => link.status(), STATUS_EVERY);
}

function notice(text) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = false;
}

async function refreshRevoked() {
  try {
    const r = await getJSON('/api/v1/revoked');
    saved.set('revoked', r.revoked);
    judge.revoked = new Set(r.revoked);
  } catch { /* keep the last list */ }
}

// ---- the controls ----

function wire() {
  const gate = $('gate');
  gate.addEventListener('change', () => {
    state.gate = state.gates.find((g) => g.id === gate.value) || state.gate;
    saved.set('gate', state.gate.id);
    link.setGate(state.gate.id);
    render();
    focusCode();
  });
  for (const b of [$('dir-in'), $('dir-out')]) {
    b.addEventListener('click', () => { state.dir = b.value; saved.set('dir', b.value); render(); focusCode(); });
  }
  for (const b of [$('mode-tickets'), $('mode-tally')]) {
    b.addEventListener('click', () => {
      state.mode = b.value;
      saved.set('mode', b.value);
      if (state.mode === 'tally') stopCamera();
      render();
      focusCode();
    });
  }

  const code = $('code');
  $('wedge').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = code.value;
    code.value = '';
    if (text.trim()) scan(text);
    else if (!$('result').hidden) hideResult();
  });
  code.addEventListener('input', () => { if (code.value) layoutHint(code.value); });

  // A reader types wherever the focus is: bring stray keys to the code field.
  document.addEventListener('keydown', (e) => {
    const el = document.activeElement;
    const typing = el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT');
    // Escape, or Enter with nothing typed, is a tap on the result screen.
    if (!$('result').hidden && (e.key === 'Escape' || (e.key === 'Enter' && !code.value))) {
      e.preventDefault();
      hideResult();
      return;
    }
    if (!typing && state.mode === 'tickets' && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
      code.focus();
    }
  });

  $('result').addEventListener('click', hideResult);
  $('camera-btn').addEventListener('click', toggleCamera);
  $('torch').addEventListener('click', async () => {
    state.torch = !state.torch;
    try { await state.camera.torch(state.torch); } catch { /* not supported after all */ }
  });
  $('tally-plus').addEventListener('click', () => tally(1));
  $('tally-minus').addEventListener('click', () => tally(-1));
  $('logout').addEventListener('click', async () => {
    try { await fetch('/logout', { method: 'POST', credentials: 'same-origin' }); } catch { /* go anyway */ }
    location.assign('/login');
  });
}

function focusCode() {
  // On a touch screen, focusing would open the on-screen keyboard over the
  // camera; keyboard-wedge readers are used on laptops.
  if (state.mode === 'tickets' && matchMedia('(pointer: fine)').matches) $('code').focus();
}

// mistyped reports text that a reader typed under a French (AZERTY) or an
// Arabic keyboard layout: a payload has only A-Z, 2-7, "CF1" and ":".
function mistyped(text) {
  return /[\u0600-\u06ff]/.test(text) || /[&é"'(\-è_çà]/.test(text);
}

function layoutHint(text) {
  const h = $('layout-hint');
  if (mistyped(text)) h.hidden = false;
  else if (/^cf1:/i.test(text)) h.hidden = true;
}

// ---- scanning ----

function iso() { return new Date().toISOString(); }

async function scan(text) {
  const read = performance.now();
  text = text.trim();
  layoutHint(text);
  if (text.length > 512) return showResult('stop', 'unreadable', []);
  const msg = { type: 'scan', id: ulid(), ticket: text, direction: state.dir, at: iso(), gate: state.gate.id };
  await send(msg, read);
}

// hints are the notes every result of msg shows besides its own.
function hints(msg) {
  return msg.type === 'scan' && mistyped(msg.ticket) ? [() => t('layout_hint')] : [];
}

async function tally(delta) {
  const read = performance.now();
  const msg = { type: 'tally', id: ulid(), zone: state.gate.zone, delta, at: iso(), gate: state.gate.id };
  await send(msg, read);
}

// send writes the message to the outbox, then sends it; without a link,
// or when no verdict comes in time, the outbox keeps it for the upload.
async function send(msg, read) {
  try {
    await outbox.add(msg);
  } catch (e) {
    // Storage refused (full, private mode): the scan still goes if it can.
    console.error('outbox', e);
  }
  await refreshQueued();
  sendLive(msg, read);
}

// sendLive sends a message the worker waits for, and gives up on its
// verdict VERDICT_WAIT after the read: the link is taken as lost and the
// message is decided offline.
function sendLive(msg, read) {
  if (!link.send(msg)) return savedOffline(msg);
  waiting.set(msg.id, {
    live: true,
    msg,
    read,
    timer: setTimeout(() => {
      waiting.delete(msg.id);
      link.drop();
      savedOffline(msg);
    }, Math.max(0, VERDICT_WAIT - (performance.now() - read))),
  });
}

// lostAll gives up on every answer still awaited when the link goes: a
// live scan shows "saved offline" at once, an upload stops.
function lostAll() {
  for (const [id, w] of waiting) {
    waiting.delete(id);
    clearTimeout(w.timer);
    if (w.resolve) w.resolve('timeout');
    if (w.live) savedOffline(w.msg);
  }
}

// savedOffline tells the worker the message waits in the outbox. A ticket
// is checked here (signature, event, revocation, day, zone) so that a
// forged or refused ticket still shows red at an entry.
async function savedOffline(msg) {
  link.reconnectNow(); // the worker is busy: try the network now, not at the end of a backoff
  if (msg.type === 'tally') {
    tallyNote(t('tally_saved'), 'warn');
    signal('warn');
    return;
  }
  const r = await judge.check(msg.ticket, msg.gate, msg.direction, new Date(msg.at));
  // What the worker is shown stands on upload; an unchecked ticket is left
  // to the gateway.
  if (r !== 'unchecked') {
    const shown = r === 'valid' || msg.direction === 'out' ? 'accepted' : r;
    await outbox.decide(msg.id, shown).catch((err) => console.warn('offline verdict not kept', err));
  }
  const later = () => t('offline_later');
  if (msg.direction === 'in' && r !== 'valid' && r !== 'unchecked') {
    return showResult('stop', r, [() => flag('offline'), later, ...hints(msg)]);
  }
  showResult('warn', 'offline', [() => t(r === 'valid' ? 'sig_ok' : 'sig_unchecked'), later, ...hints(msg)]);
}

function onMessage(m) {
  if (m.type === 'verdict') onVerdict(m);
  else if (m.type === 'error') onError(m);
}

async function onVerdict(v) {
  const w = waiting.get(v.id);
  waiting.delete(v.id);
  if (w) clearTimeout(w.timer);
  await outbox.remove(v.id);
  await refreshQueued();
  if (v.capacity > 0) {
    state.occ = { zone: v.zone, occupancy: v.occupancy, capacity: v.capacity, level: v.level, at: Date.now() };
    saved.set('occ', state.occ);
    render();
  }
  if (w?.resolve) w.resolve('verdict');
  if (w?.live) showVerdict(v, w.msg);
}

async function onError(e) {
  const w = e.id && waiting.get(e.id);
  if (!w) {
    console.warn('gateway error', e.code, e.message);
    return;
  }
  waiting.delete(e.id);
  clearTimeout(w.timer);
  if (e.code === 'id_conflict') {
    // The id was the gateway's for another scan (a copied outbox, a reused
    // device): the same scan under a new id, in its place in the outbox,
    // so that it counts (an exit is never lost to a reused id), as the CLI
    // scanner does.
    const id = ulid();
    const item = await outbox.renew(e.id, id).catch((err) => console.error('outbox', err));
    console.warn('scan id used before for another scan: sent again under a new id', e.id, id);
    if (w.resolve) w.resolve('renewed');
    // Not in the outbox (storage refused it): the worker still waits.
    if (w.live) sendLive(item ? item.msg : { ...w.msg, id }, w.read);
    return;
  }
  if (e.code === 'unavailable' || e.code === 'rate_limited') {
    // Not decided: it stays in the outbox and goes again later.
    if (w.resolve) w.resolve('retry');
    if (w.live) {
      setTimeout(drain, 2000);
      if (w.msg.type === 'tally') tallyNote(t('retry'), 'warn');
      else showResult('warn', 'offline', [() => t('retry')]);
    }
    return;
  }
  // Malformed or forbidden: it will never be accepted; keeping it would
  // block nothing but would never leave the outbox either.
  await outbox.remove(e.id);
  await refreshQueued();
  if (w.resolve) w.resolve('dropped');
  if (w.live) showResult('stop', e.code === 'forbidden' ? 'forbidden' : 'unreadable', [() => e.message || '', ...hints(w.msg)]);
}

// drain uploads the outbox, oldest first, one at a time, each with its own
// id and time and offline: true; the gateway counts an id once, however
// often it comes.
let draining = false;
async function drain() {
  if (draining || !link.online) return;
  draining = true;
  let sent = 0;
  let renewed = false; // an upload went under a new id: its turn is in the next pass
  try {
    for (const item of await outbox.all()) {
      if (!link.online) break;
      if (waiting.has(item.id) || !(await outbox.get(item.id))) continue;
      const res = await upload({ ...item.msg, offline: true });
      if (res === 'timeout') { link.drop(); break; }
      if (res === 'retry') { setTimeout(drain, 2000); break; }
      if (res === 'verdict') sent++;
      if (res === 'renewed') renewed = true;
      await new Promise((r) => setTimeout(r, UPLOAD_GAP));
    }
  } finally {
    draining = false;
  }
  if (sent) toast(t('uploaded', { n: num(sent) }));
  if (renewed) drain();
}

function upload(msg) {
  return new Promise((resolve) => {
    if (!link.send(msg)) return resolve('timeout');
    const timer = setTimeout(() => { waiting.delete(msg.id); resolve('timeout'); }, UPLOAD_WAIT);
    waiting.set(msg.id, { live: false, msg, timer, resolve });
  });
}

// refreshQueued counts the outbox, shows it, and keeps the link's copy for
// hello and status; the gateway hears at once when the outbox empties.
async function refreshQueued() {
  const queue = await outbox.queue();
  state.queued = queue.queued;
  const before = link?.queue?.queued || 0;
  if (link) {
    link.queue = queue;
    if (before > 0 && state.queued === 0) link.status();
  }
  renderQueue();
}

// ---- the result screen ----

function showVerdict(v, msg) {
  if (msg.type === 'tally') {
    if (v.code === 'accepted') {
      tallyNote(t('tally_counted') + ' ' + (msg.delta > 0 ? '+1' : '−1'), 'ok');
      signal('tick');
      return;
    }
    return showResult('stop', v.code, [], v);
  }
  const attention = (v.flags || []).filter((f) => f !== 'offline');
  const details = attention.map((f) => () => flag(f));
  if (v.replayed) details.push(() => t('replayed'));
  details.push(...hints(msg));
  if (v.code === 'accepted') {
    return showResult(attention.length ? 'warn' : 'ok', msg.direction === 'out' ? 'accepted_out' : 'accepted_in', details, v);
  }
  if (v.code === 'already_inside' || v.code === 'already_used') return showResult('warn', v.code, details, v);
  showResult('stop', v.code, details, v);
}

// showResult fills the screen: ok (green ✔, clears by itself), warn
// (amber !) or stop (red ✖), both of which wait for a tap. details are
// functions giving the notes in the page's language, so that a change of
// language redraws them.
function showResult(kind, outcome, details, v) {
  state.shown = { kind, outcome, details, v };
  fillResult();
  $('result').hidden = false;
  signal(kind);
  clearTimeout(resultTimer);
  if (kind === 'ok') resultTimer = setTimeout(hideResult, GREEN_CLEAR);
}

function fillResult() {
  const { kind, outcome, details, v } = state.shown;
  const el = $('result');
  el.className = 'result ' + kind;
  el.dataset.outcome = outcome;
  $('r-icon').textContent = { ok: '✔', warn: '!', stop: '✖' }[kind];
  const w = words(outcome);
  $('r-ar').textContent = w.ar;
  $('r-fr').textContent = w.fr;
  $('r-en').textContent = w.en;
  const list = $('r-detail');
  list.replaceChildren(...details.map((d) => d()).filter(Boolean).map((d) => {
    const li = document.createElement('li');
    li.textContent = d;
    return li;
  }));
  const occ = v && v.capacity > 0;
  $('r-occ').hidden = !occ;
  $('r-occ-zone').textContent = occ ? zoneName(v.zone) : '';
  $('r-occ-n').textContent = occ ? num(v.occupancy) + ' / ' + num(v.capacity) : '';
  $('r-tap-ar').textContent = tIn('ar', 'tap');
  $('r-tap-fr').textContent = tIn('fr', 'tap');
  $('r-tap').hidden = kind === 'ok';
}

function hideResult() {
  clearTimeout(resultTimer);
  $('result').hidden = true;
  focusCode();
}

function toast(text) {
  $('toast').textContent = text;
}

function tallyNote(text, kind) {
  const n = $('tally-note');
  n.textContent = text;
  n.dataset.kind = kind;
}

// ---- the camera ----

async function toggleCamera() {
  if (state.camera) return stopCamera();
  const { Camera } = await import('./camera.js');
  const box = $('camera-box');
  box.hidden = false;
  const cam = new Camera($('video'), {
    paused: () => !$('result').hidden,
    onStatus: (key) => { $('camera-msg').textContent = t(key); },
    onCode: (text) => {
      const now = Date.now();
      const same = text === state.lastCode && now - state.lastCodeAt < SAME_CODE_QUIET;
      state.lastCode = text;
      state.lastCodeAt = now;
      if (!same) scan(text);
    },
  });
  state.camera = cam;
  $('camera-label').dataset.i18n = 'camera_stop';
  i18n.apply();
  try {
    await cam.start();
    $('torch').hidden = !cam.hasTorch();
  } catch (e) {
    console.warn('camera', e);
    $('camera-msg').textContent = t(e.message === 'insecure' ? 'camera_insecure' : 'camera_denied');
    cam.stop();
    state.camera = null;
    $('camera-label').dataset.i18n = 'camera_start';
    i18n.apply();
  }
}

function stopCamera() {
  if (!state.camera) return;
  state.camera.stop();
  state.camera = null;
  $('camera-box').hidden = true;
  $('torch').hidden = true;
  $('camera-label').dataset.i18n = 'camera_start';
  i18n.apply();
}

// ---- the status bar and the controls ----

function zoneName(id) {
  const z = (state.event?.zones || []).find((x) => x.id === id);
  return z ? name(z.name, id) : id;
}

function renderQueue() {
  $('queued-n').textContent = num(state.queued);
  $('queue').dataset.count = String(state.queued);
}

function render() {
  if (!state.gate) return;
  if (state.shown && !$('result').hidden) fillResult();
  const net = link ? link.state : 'connecting';
  $('net').dataset.state = net;
  $('net-text').textContent = t(net);
  renderQueue();
  $('where-gate').textContent = name(state.gate.name, state.gate.id);
  $('where-dir').textContent = state.mode === 'tally' ? t('mode_tally') : t('dir_' + state.dir);

  const occ = state.occ;
  const box = $('occ');
  if (occ && occ.capacity > 0) {
    $('occ-zone').textContent = zoneName(occ.zone);
    $('occ-n').textContent = num(occ.occupancy);
    $('occ-cap').textContent = num(occ.capacity);
    $('occ-at').textContent = i18n.time(new Date(occ.at), state.event.time_zone);
    $('occ-fill').style.width = Math.min(100, (100 * occ.occupancy) / occ.capacity) + '%';
    box.dataset.level = occ.level || 'ok';
  } else {
    $('occ-zone').textContent = zoneName(state.gate.zone);
    box.dataset.level = 'none';
  }

  const sel = $('gate');
  if (sel.options.length !== state.gates.length) {
    sel.replaceChildren(...state.gates.map((g) => new Option('', g.id)));
  }
  for (const o of sel.options) {
    const g = state.gates.find((x) => x.id === o.value);
    o.textContent = name(g.name, g.id);
  }
  sel.value = state.gate.id;
  sel.disabled = state.gates.length === 1;
  for (const b of [$('dir-in'), $('dir-out')]) b.setAttribute('aria-pressed', String(b.value === state.dir));
  for (const b of [$('mode-tickets'), $('mode-tally')]) b.setAttribute('aria-pressed', String(b.value === state.mode));
  $('tickets').hidden = state.mode !== 'tickets';
  $('tally').hidden = state.mode !== 'tally';
  $('tally-help').textContent = t('tally_help', { zone: zoneName(state.gate.zone) });
  $('hint-ar').textContent = tIn('ar', 'layout_hint');
  $('hint-fr').textContent = tIn('fr', 'layout_hint');
}

// The service worker keeps the page and its files for a reload offline
// (sw.js). Browsers offer it only on https or localhost.
navigator.serviceWorker?.register('/static/js/sw.js', { scope: '/scan', type: 'classic' })
  .catch((e) => console.warn('service worker', e));

main().catch((e) => {
  console.error(e);
  notice(String(e.message || e));
});
