// The login page: a staff token becomes the session cookie (POST /login),
// then the page the user came for (?next=, same site only), else /scan.
// The token is pasted, or comes in a login link's fragment
// (#token=...&next=..., as `crowdflow demo` prints), which the browser
// never sends to the server.
import { apply, langSwitcher, t } from './i18n.js';

const form = document.getElementById('login');
const field = document.getElementById('token');
const error = document.getElementById('error');

langSwitcher(document.getElementById('langs'));
apply();

// target is where to go after login: n (a ?next= or a link's next)
// resolved the way the browser will resolve it (which drops tabs and
// newlines, reads \ as /, and takes //host as another site), kept only when
// it lands on this origin. The result is absolute, so nothing is left for
// the browser to resolve again.
function target(n) {
  if (n) {
    try {
      const u = new URL(n, location.origin);
      if (u.origin === location.origin && (u.protocol === 'http:' || u.protocol === 'https:')) return u.href;
    } catch { /* not a URL: the default */ }
  }
  return new URL('/scan', location.origin).href;
}

function fail(key) {
  error.textContent = t(key);
  error.hidden = false;
  field.focus();
}

// login posts token and, once it is the session, goes on to next.
async function login(token, next) {
  error.hidden = true;
  if (!token) return fail('login_empty');
  let res;
  try {
    res = await fetch('/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
      credentials: 'same-origin',
    });
  } catch {
    return fail('login_offline');
  }
  if (!res.ok) return fail(res.status >= 500 ? 'login_offline' : 'login_bad');
  try {
    // Keep the session for offline starts of the scanner page.
    localStorage.setItem('cf.session', JSON.stringify(await res.json()));
  } catch { /* not needed to go on */ }
  location.assign(target(next));
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  login(field.value.trim(), new URLSearchParams(location.search).get('next'));
});

// fromLink logs in with a login link's token. The fragment leaves the
// address bar and the current history entry first, whatever comes of the
// login, so neither a bad token nor a good one stays behind to be read over
// a shoulder, bookmarked or shared; the link's next goes through the same
// same-origin check as ?next=.
function fromLink() {
  const h = new URLSearchParams(location.hash.slice(1));
  const token = h.get('token');
  if (token === null) return;
  history.replaceState(history.state, '', location.pathname + location.search);
  login(token.trim(), h.get('next') ?? new URLSearchParams(location.search).get('next'));
}

fromLink();
// A link opened over the login page already open only changes the fragment.
window.addEventListener('hashchange', fromLink);
