// The login page: a staff token becomes the session cookie (POST /login),
// then the page the user came for (?next=, same site only), else /scan.
import { apply, langSwitcher, t } from './i18n.js';

const form = document.getElementById('login');
const field = document.getElementById('token');
const error = document.getElementById('error');

langSwitcher(document.getElementById('langs'));
apply();

function next() {
  const n = new URLSearchParams(location.search).get('next') || '';
  // Only a path of this site: never //host or a scheme.
  return /^\/(?![/\\])/.test(n) ? n : '/scan';
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
