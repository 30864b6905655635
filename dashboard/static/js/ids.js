// Identifiers made in the page.

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

// ulid is a new ULID: 48 bits of the device's time in milliseconds, then 80
// random bits, in Crockford base32 (26 characters). Scan ids sort by time,
// and two devices never make the same one (CONTRACT §3: at least 64
// random bits).
export function ulid(now = Date.now()) {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const r = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 0; i < 16; i++) out += CROCKFORD[r[i] % 32];
  return out;
}

// deviceId names this browser to the gateway (hello's "device"), made once
// and remembered.
export function deviceId() {
  const key = 'cf.device';
  let id = null;
  try { id = localStorage.getItem(key); } catch { /* storage off */ }
  if (!id) {
    id = 'phone-' + ulid().slice(-8).toLowerCase();
    try { localStorage.setItem(key, id); } catch { /* storage off */ }
  }
  return id;
}
