// The service worker of the phone scanner page (scope /scan): it keeps the
// page, its modules, styles and the WebAssembly QR reader in a cache, so a
// reload at a gate without network still opens the page, which then decides
// offline. The gateway serves this file with two constants put in front:
//   VERSION  a hash of the files below and this worker: a new binary's files
//            go into a new cache, and the old cache is deleted;
//   PRECACHE the paths to keep: /scan and the static files.
//
// Static files and the page: cache first (the cache is versioned, so a page
// never meets another version's scripts). /api/v1/event and
// /api/v1/revoked: network first, the last good answer when the network
// fails. Nothing else is cached: not the session, not the login or logout
// POSTs (only GETs are kept), and websockets never pass through a worker.
// A logout deletes the API's copies.
/* global VERSION, PRECACHE */

const STATIC = 'cf-scan-' + VERSION;
const API = 'cf-scan-api';
const API_PATHS = ['/api/v1/event', '/api/v1/revoked'];
// logouts counts the logouts this worker has seen: an answer asked for
// before one (the page refreshes the revocation list when it reconnects)
// must not come back into the cache after the logout deleted it.
let logouts = 0;

self.addEventListener('install', (e) => {
  e.waitUntil((async () => {
    const c = await caches.open(STATIC);
    // no-cache: revalidate with the gateway, never take a stale HTTP copy.
    await c.addAll(PRECACHE.map((p) => new Request(p, { cache: 'no-cache' })));
    // The API's answers need the session: best effort, the page fetches
    // them again through this worker.
    await Promise.all(API_PATHS.map((p) => refresh(new Request(p, { credentials: 'same-origin' })).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('cf-scan-') && name !== STATIC && name !== API) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === 'POST' && url.pathname === '/logout') {
    logouts++;
    e.waitUntil(caches.delete(API));
    return;
  }
  if (req.method !== 'GET') return;
  if (API_PATHS.includes(url.pathname)) {
    e.respondWith(refresh(req).catch(async (err) => (await caches.match(url.pathname, { cacheName: API })) || Promise.reject(err)));
    return;
  }
  // The page under any query (?lang=...) is the one page: match the path.
  if (PRECACHE.includes(url.pathname)) {
    e.respondWith((async () => (await caches.match(url.pathname, { cacheName: STATIC })) || fetch(req))());
  }
});

// refresh fetches an API answer and keeps it when it is a good one (a 401
// or a 5xx is passed on, not kept) and no logout came since it was asked
// for. A logout during the write deletes the copies again.
async function refresh(req) {
  const asked = logouts;
  const r = await fetch(req);
  if (r.ok && asked === logouts) {
    const c = await caches.open(API);
    await c.put(new URL(req.url).pathname, r.clone());
    if (asked !== logouts) await caches.delete(API);
  }
  return r;
}
