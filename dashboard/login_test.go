package dashboard_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

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
