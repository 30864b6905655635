// The offline check: while the gateway cannot be reached, a ticket is
// judged here on what the page knows (DESIGN: "signature + local
// knowledge"): the Ed25519 signature with the event's public keys from
// /api/v1/event, the event, the revocation list from /api/v1/revoked, the
// day and the zone. What it cannot know (is the ticket already inside?)
// the gateway decides when the scan is uploaded. Exits are never refused.
//
// check returns one of: "valid", "unchecked" (no keys, no WebCrypto
// Ed25519, or text typed under another keyboard layout, which the gateway
// recovers), or a refusal code of CONTRACT §3.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(s) {
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) return null;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) return null; // not canonical
  return new Uint8Array(out);
}

// encode32 is unpadded base32: the ticket id of the manifest, upper case.
function encode32(bytes) {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function b64(s) {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

// nameHash is ticket.NameHash: the first two bytes of SHA-256, big-endian.
async function nameHash(id) {
  const h = await sha256(id);
  return (h[0] << 8) | h[1];
}

// localDate is the calendar date of t in timeZone, "YYYY-MM-DD".
function localDate(t, timeZone) {
  const p = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(t);
  const get = (type) => p.find((x) => x.type === type).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export class OfflineJudge {
  // event is /api/v1/event; revoked a Set of ticket ids.
  constructor(event, revoked) {
    this.event = event;
    this.revoked = revoked || new Set();
    this.keys = null;
  }

  async importKeys() {
    if (this.keys) return this.keys;
    const keys = [];
    for (const k of this.event?.ticket_keys || []) {
      try {
        keys.push(await crypto.subtle.importKey('raw', b64(k), { name: 'Ed25519' }, false, ['verify']));
      } catch { /* no Ed25519 in this browser: unchecked */ }
    }
    this.keys = keys;
    return keys;
  }

  async check(payload, gateId, direction, now = new Date()) {
    try {
      return await this.judge(payload, gateId, direction, now);
    } catch (e) {
      console.warn('offline check', e);
      return 'unchecked';
    }
  }

  async judge(payload, gateId, direction, now) {
    const ev = this.event;
    if (!ev || !globalThis.crypto?.subtle) return 'unchecked';
    const text = payload.trim().toUpperCase();
    if (!text.startsWith('CF1:')) return /^CF&/i.test(text) || /[\u0600-\u06ff]/.test(text) ? 'unchecked' : 'invalid_ticket';
    const parts = text.split(':');
    if (parts.length !== 3) return 'invalid_ticket';
    const body = base32(parts[1]);
    const sig = base32(parts[2]);
    if (!body || !sig || body.length < 22 || sig.length !== 64 || body[0] !== 1) return 'invalid_ticket';
    const keys = await this.importKeys();
    if (keys.length === 0) return 'unchecked';
    let signed = false;
    for (const k of keys) {
      if (await crypto.subtle.verify({ name: 'Ed25519' }, k, sig, body)) { signed = true; break; }
    }
    if (!signed) return 'invalid_ticket';
    const eh = await sha256(ev.id);
    if (eh.slice(0, 4).some((b, i) => b !== body[1 + i])) return 'invalid_ticket';
    if (this.revoked.has(encode32(body.slice(5, 15)).toLowerCase())) return 'revoked';
    if (direction === 'out') return 'valid';

    const typeHash = (body[15] << 8) | body[16];
    let type = null;
    for (const tt of ev.ticket_types || []) if (await nameHash(tt.id) === typeHash) type = tt;
    if (!type) return 'invalid_ticket';
    const n = body[20];
    const base = (body[18] << 8) | body[19];
    let days = [];
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < 8; i++) {
        if (body[21 + j] & (1 << i)) days.push(new Date((base + 8 * j + i) * 86400000).toISOString().slice(0, 10));
      }
    }
    if (days.length === 0) days = type.days || [];
    const open = (ev.days || []).find((d) => new Date(d.open) <= now && now < new Date(d.close));
    const today = open ? open.date : localDate(now, ev.time_zone);
    if (!open && !(ev.days || []).some((d) => d.date === today)) return 'closed';
    if (days.length > 0 && !days.includes(today)) return 'not_valid_today';
    if (!open) return 'closed';

    const gate = (ev.gates || []).find((g) => g.id === gateId);
    if (!gate) return 'unknown_gate';
    const zoneOf = new Map((ev.zones || []).map((z) => [z.id, z]));
    let allowed = [];
    const m = body[21 + n];
    for (let i = 0; i < m; i++) {
      const h = (body[22 + n + 2 * i] << 8) | body[23 + n + 2 * i];
      for (const z of ev.zones || []) if (await nameHash(z.id) === h) allowed.push(z.id);
    }
    if (allowed.length === 0) allowed = type.zones || [];
    if (allowed.length === 0) return 'valid';
    // A zone is allowed when it is one of them or holds one of them.
    for (let z of allowed) {
      for (; z; z = zoneOf.get(z)?.parent) if (z === gate.zone) return 'valid';
    }
    return 'no_access';
  }
}
