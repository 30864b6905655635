package gateway_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/checkin"
	"crowdflow/gateway"
	"crowdflow/token"
)

// TestHandshake: who may open /ws/scan. Unauthenticated → 401, a foreign
// browser origin → 403, both as JSON errors.
func TestHandshake(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	valid := env.MustToken(t, token.Scanner)
	other, err := token.Sign(MustRandom(t, 32), token.Claims{Role: token.Scanner, Expires: env.Wall.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		token  string
		header http.Header
		status int // 101 when the upgrade must succeed
		code   string
	}{
		"no token":             {status: 401, code: "unauthenticated"},
		"not a token":          {token: "hello", status: 401, code: "unauthenticated"},
		"another secret's":     {token: other, status: 401, code: "unauthenticated"},
		"expired":              {token: env.MustTokenUntil(t, token.Scanner, env.Wall.Now()), status: 401, code: "unauthenticated"},
		"not a bearer":         {header: http.Header{"Authorization": {"Basic " + valid}}, status: 401, code: "unauthenticated"},
		"an evil origin":       {token: valid, header: http.Header{"Origin": {"https://evil.example"}}, status: 403, code: "forbidden"},
		"origin null":          {token: valid, header: http.Header{"Origin": {"null"}}, status: 403, code: "forbidden"},
		"a look-alike origin":  {token: valid, header: http.Header{"Origin": {"https://fair.example.evil.example"}}, status: 403, code: "forbidden"},
		"the gateway's origin": {token: valid, header: http.Header{"Origin": {"http://" + env.Addr}}, status: 101},
		"an allowed origin":    {token: valid, header: http.Header{"Origin": {"https://FAIR.example:443"}}, status: 101},
		"no origin (a CLI)":    {token: valid, status: 101},
		"a security token":     {token: env.MustToken(t, token.Security), status: 101},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ws, resp, err := env.Dial(tc.token, tc.header)
			if tc.status == 101 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				ws.Close()
				return
			}
			if err == nil {
				ws.Close()
				t.Fatalf("the upgrade succeeded, want %d", tc.status)
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v, want HTTP %d", resp, tc.status)
			}
			var body ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error.Code != tc.code || body.Error.Message == "" {
				t.Errorf("body: %+v (%v), want code %s", body, err, tc.code)
			}
		})
	}
	if code := env.Get(t, "/ws/scan", valid, nil); code != http.StatusBadRequest {
		t.Errorf("a plain GET of /ws/scan: %d, want 400", code)
	}
}

// TestLogin walks the browser's way in: POST /login sets the session cookie,
// the cookie opens the websocket from the gateway's own origin, and logout
// clears it.
func TestLogin(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{})
	tok := env.MustToken(t, token.Scanner, "MAIN-1")
	origin := "http://" + env.Addr

	resp := postForm(t, env.URL+"/login", origin, url.Values{"token": {tok}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == gateway.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != tok {
		t.Fatalf("no session cookie in %q", resp.Header["Set-Cookie"])
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || cookie.MaxAge != 24*3600 || cookie.Path != "/" {
		t.Errorf("cookie attributes: %q", resp.Header["Set-Cookie"])
	}

	// The websocket with the cookie, from the gateway's own page.
	hdr := http.Header{"Cookie": {cookie.String()}, "Origin": {origin}}
	c := env.MustDial(t, "", hdr)
	c.Hello("phone-1", "MAIN-1")
	p, _ := env.MustTicket(t, TicketSpec{})
	if r := c.Scan(env.ScanOf(t, p, checkin.In)); r.Code != "accepted" {
		t.Errorf("scan over the cookie session: %s", r.Raw)
	}
	// The same cookie from another site's page is refused.
	if _, resp, err := env.Dial("", http.Header{"Cookie": {cookie.String()}, "Origin": {"https://evil.example"}}); err == nil || resp.StatusCode != 403 {
		t.Errorf("the cookie from another origin: %v", err)
	}

	var s struct {
		Role    string    `json:"role"`
		Gates   []string  `json:"gates"`
		Expires time.Time `json:"expires"`
		Can     []string  `json:"can"`
	}
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/v1/session", nil)
	req.AddCookie(cookie)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	if err := json.NewDecoder(sresp.Body).Decode(&s); err != nil || sresp.StatusCode != 200 {
		t.Fatalf("session: %s %v", sresp.Status, err)
	}
	if s.Role != "scanner" || strings.Join(s.Gates, ",") != "MAIN-1" || !s.Expires.Equal(wallStart.Add(24*time.Hour)) ||
		strings.Join(s.Can, ",") != "scan" {
		t.Errorf("session: %+v", s)
	}

	out := postForm(t, env.URL+"/logout", origin, nil)
	if out.StatusCode != http.StatusNoContent || !strings.Contains(strings.Join(out.Header["Set-Cookie"], ";"), "Max-Age=0") {
		t.Errorf("logout: %s %q", out.Status, out.Header["Set-Cookie"])
	}
}

// TestLoginRequests: what POST /login accepts and refuses.
func TestLoginRequests(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	tok := env.MustToken(t, token.Organizer)
	tests := map[string]struct {
		contentType, body, origin string
		status                    int
		code                      string
	}{
		"form":              {contentType: "application/x-www-form-urlencoded", body: "token=" + url.QueryEscape(tok), status: 200},
		"JSON":              {contentType: "application/json", body: `{"token":"` + tok + `"}`, status: 200},
		"bad token":         {contentType: "application/json", body: `{"token":"CFT1.e30.AAAA"}`, status: 401, code: "unauthenticated"},
		"expired":           {contentType: "application/json", body: `{"token":"` + env.MustTokenUntil(t, token.Scanner, wallStart) + `"}`, status: 401, code: "unauthenticated"},
		"no token":          {contentType: "application/x-www-form-urlencoded", body: "user=me", status: 400, code: "malformed"},
		"broken JSON":       {contentType: "application/json", body: `{"token":`, status: 400, code: "malformed"},
		"plain text":        {contentType: "text/plain", body: tok, status: 400, code: "malformed"},
		"too large":         {contentType: "application/json", body: `{"token":"` + strings.Repeat("A", 10000) + `"}`, status: 413, code: "too_large"},
		"from another site": {contentType: "application/json", body: `{"token":"` + tok + `"}`, origin: "https://evil.example", status: 403, code: "forbidden"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/login", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := len(resp.Cookies()) > 0; got != (tc.status == 200) {
				t.Errorf("cookie set: %v, status %d", got, tc.status)
			}
			if tc.code != "" {
				var body ErrorBody
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error.Code != tc.code {
					t.Errorf("error %+v, want %s", body, tc.code)
				}
			}
		})
	}
	if code := env.Get(t, "/api/v1/session", "", nil); code != 401 {
		t.Errorf("session without a token: %d", code)
	}
}

// TestLoginOverTLS: behind TLS the cookie is Secure. The gateway is served
// here by httptest, through Handler alone.
func TestLoginOverTLS(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	ts := httptest.NewTLSServer(env.Server.Handler())
	t.Cleanup(ts.Close)
	tok := env.MustToken(t, token.Supervisor)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/login", strings.NewReader(`{"token":"`+tok+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != 200 || len(cookies) != 1 || !cookies[0].Secure {
		t.Fatalf("login over TLS: %s %q", resp.Status, resp.Header["Set-Cookie"])
	}
	// And the websocket over wss:// with that cookie.
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}}
	ws, _, err := d.Dial("wss"+strings.TrimPrefix(ts.URL, "https")+"/ws/scan",
		http.Header{"Cookie": {cookies[0].String()}, "Origin": {ts.URL}})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	c := &Client{tb: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	if r := c.Hello("phone", "MAIN-1"); r.Type != "welcome" {
		t.Errorf("hello over wss: %s", r.Raw)
	}
}

func postForm(tb testing.TB, u, origin string, form url.Values) *http.Response {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
