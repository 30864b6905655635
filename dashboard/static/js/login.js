// The login page: a staff token becomes the session cookie (POST /login),
// then the page the user came for (?next=, same site only), else /scan.
import { apply, langSwitcher, t } from './i18n.js';

const form = document.getElementById('login');
const field = document.getElementById('token');
const error = document.getElementById('error');

langSwitcher(document.getElementById('langs'));
apply();

// next is where to go after login: ?next= resolved the way the browser
// will resolve it (which drops tabs and newlines, reads \ as /, and takes
// //host as another site), kept only when it lands on this origin. The
// result is absolute, so nothing is left for the browser to resolve again.
function next() {
  const n = new URLSearchParams(location.search).get('next');
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

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.hidden = true;
  const token = field.value.trim();
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
  location.assign(next());
});
