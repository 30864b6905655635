package dashboard_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"crowdflow/dashboard"
	"crowdflow/gateway"
	"crowdflow/token"
)

// TestLoginStaysOnTheGatewaysOrigin: after login the page goes to ?next=
// only when it lands on the gateway's own origin, however the address is
// spelled to fool a check that reads it differently from the browser.
func TestLoginStaysOnTheGatewaysOrigin(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	tok := f.token(t, token.Supervisor)
	tests := map[string]struct {
		next string // the raw query value, as an attacker writes it in a link
		want string // path and query the browser ends on
	}{
		"tab after the slash":           {"/%09/evil.example/phish", "/scan"},
		"tab, all encoded":              {"%2F%09%2Fevil.example%2Fphish", "/scan"},
		"newline":                       {"/%0A/evil.example/phish", "/scan"},
		"carriage return":               {"/%0D/evil.example/phish", "/scan"},
		"two slashes":                   {"//evil.example/phish", "/scan"},
		"two slashes, encoded":          {"%2F%2Fevil.example%2Fphish", "/scan"},
		"slash backslash":               {"/%5Cevil.example/phish", "/scan"},
		"backslash slash":               {"%5C/evil.example/phish", "/scan"},
		"two backslashes":               {"%5C%5Cevil.example/phish", "/scan"},
		"leading space":                 {"%20//evil.example/phish", "/scan"},
		"scheme":                        {"https://evil.example/phish", "/scan"},
		"scheme without slashes":        {"https:evil.example/phish", "/scan"},
		"javascript":                    {"javascript:alert(document.domain)", "/scan"},
		"user info":                     {"//" + url.QueryEscape(f.URL[len("http://"):]) + "@evil.example/phish", "/scan"},
		"double encoded stays a path":   {"/%252F%252Fevil.example", "/%2F%2Fevil.example"},
		"dot segment stays on the host": {"/.//evil.example/phish", "/evil.example/phish"}, // the gateway cleans the path,
		"a page of the gateway":         {"/?view=evacuation", "/?view=evacuation"},
		"the scanner page":              {"/scan", "/scan"},
		"none":                          {"", "/scan"},
	}
	defer func() { p.tb = t }()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p.tb = t
			p.do(chromedp.Navigate(f.URL + "/login?next=" + tc.next))
			p.submitLogin(tok)
			p.waitUntil("the page after login", `!location.href.startsWith(`+jsString(f.URL+"/login")+`)`)
			got := eval[string](p, `location.origin + ' ' + location.pathname + location.search`)
			if want := f.URL + " " + tc.want; got != want {
				t.Errorf("after login with next=%s the browser is at %q, want %q", tc.next, got, want)
			}
		})
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestLoginLink: a login link (as `crowdflow demo` prints, the token in the
// fragment) logs in with one click and lands on the role's page, and the
// token is gone from the address bar and from every entry of the tab's
// history. A link opened over the login page already open (only the
// fragment changes) does the same; a link's next that leaves the gateway's
// origin is refused as ?next= is.
func TestLoginLink(t *testing.T) {
	f := mustFair(t)
	tests := map[string]struct {
		role token.Role
		over bool   // open the link over /login already open
		next string // a next of the test's own instead of the role's
		want string // JavaScript: the role's page, ready
	}{
		"scanner": {role: token.Scanner,
			want: `location.pathname === '/scan' && document.getElementById('net').dataset.state === 'online'`},
		"security": {role: token.Security,
			want: `location.pathname === '/' && document.body.dataset.conn === 'live' && document.querySelectorAll('#zones .zone').length > 0`},
		"security, over the login page": {role: token.Security, over: true,
			want: `location.pathname === '/' && document.body.dataset.conn === 'live' && document.querySelectorAll('#zones .zone').length > 0`},
		"a next on another site": {role: token.Security, next: "%2F%09%2Fevil.example%2Fphish",
			want: `location.origin + location.pathname === ` + jsString(f.URL+"/scan")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := mustTab(t, f)
			tok := f.token(t, tc.role)
			link := dashboard.LoginLink(f.URL, tok, tc.role)
			if tc.next != "" {
				link = f.URL + "/login#token=" + tok + "&next=" + tc.next
			}
			if tc.over {
				p.do(chromedp.Navigate(f.URL + "/login"))
				p.waitUntil("the login page's script", `document.querySelectorAll('#langs button').length > 0`)
				eval[bool](p, `(() => { location.href = `+jsString(link)+`; return true; })()`)
			} else {
				p.do(chromedp.Navigate(link))
			}
			p.waitUntil("the "+string(tc.role)+" page after the link", tc.want)
			p.noTokenLeft(tok)
		})
	}
}

// TestLoginLinkBadToken: a link with a token the gateway refuses shows the
// login page's error and leaves nothing behind: no token in the address
// bar, the history or the form, no session.
func TestLoginLinkBadToken(t *testing.T) {
	f := mustFair(t)
	other := &fair{Secret: []byte("not the gateway's secret, 32 by.")}
	tests := map[string]string{
		"another gateway's": other.token(t, token.Security),
		"not a token":       "CFT1.hello",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			p := mustTab(t, f)
			p.do(chromedp.Navigate(dashboard.LoginLink(f.URL, tok, token.Security)))
			p.waitUntil("the login error", `!document.getElementById('error').hidden`)
			got := eval[string](p, `document.getElementById('error').textContent`)
			want := eval[string](p, `import('/static/js/i18n.js').then((m) => m.t('login_bad'))`, chromedp.EvalAwaitPromise)
			if got != want || want == "" {
				t.Errorf("the login page says %q, want %q", got, want)
			}
			if got := eval[string](p, `location.pathname + location.search + location.hash`); got != "/login" {
				t.Errorf("the page is at %q, want /login", got)
			}
			if v := eval[string](p, `document.getElementById('token').value`); v != "" {
				t.Errorf("the token field holds %q, want it empty", v)
			}
			if s := eval[bool](p, `localStorage.getItem('cf.session') !== null`); s {
				t.Error("a session is kept in localStorage")
			}
			cookies, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{f.URL}})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cookies.Cookies {
				if c.Name == gateway.SessionCookie {
					t.Errorf("a session cookie was set: %+v", c)
				}
			}
			p.noTokenLeft(tok)
		})
	}
}

// noTokenLeft fails the test if tok is in the tab's address or any entry
// of its history.
func (t *tab) noTokenLeft(tok string) {
	t.tb.Helper()
	if href := eval[string](t, `location.href`); strings.Contains(href, tok) || strings.Contains(href, "token=") {
		t.tb.Errorf("the address bar still holds the token: %s", href)
	}
	h, err := chromedp.Call(t.ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		t.tb.Fatal(err)
	}
	if len(h.Entries) == 0 {
		t.tb.Fatal("the tab has no history")
	}
	for _, e := range h.Entries {
		if strings.Contains(e.URL, tok) || strings.Contains(e.URL, "token=") {
			t.tb.Errorf("history entry %d still holds the token: %s", e.ID, e.URL)
		}
	}
}
