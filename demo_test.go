package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"crowdflow/internal/syncbuf"
	"crowdflow/token"
)

// TestDemo runs `crowdflow demo` (what make run runs) at the fastest clock
// and waits until the simulated crowd shows in the gateway's metrics, then
// stops it as Ctrl-C would. It prints one login link per role, each for the
// gateway's login page with the token in the fragment (dashboard's browser
// tests open such links), the board for a role that may watch it, else the
// scanner page; each token logs in as its role.
func TestDemo(t *testing.T) {
	out := &syncbuf.Buffer{}
	base, stop := startServingTo(t, out, "demo", "--listen", "127.0.0.1:0", "--speed", "10000", "--config", ouarzazate)
	links := demoLinks(t, out)
	for _, role := range token.Roles {
		u, err := url.Parse(links[role])
		if err != nil {
			t.Fatalf("%s login link: %v", role, err)
		}
		frag, err := url.ParseQuery(u.Fragment)
		if err != nil {
			t.Fatalf("%s login link %s: fragment: %v", role, u, err)
		}
		next := "/scan"
		if role.Can(token.Live) {
			next = "/"
		}
		if got := u.Scheme + "://" + u.Host + u.Path; got != base+"/login" || u.RawQuery != "" || frag.Get("next") != next {
			t.Errorf("%s login link %s: want %s/login#token=...&next=%s", role, u, base, next)
		}
		if got := loginRole(t, base, frag.Get("token")); got != role {
			t.Errorf("%s login link: the token logs in as %q", role, got)
		}
	}
	waitUntil(t, 60*time.Second, "the simulated crowd (> 100 entries at the site)", func() bool {
		return metric(t, base, `crowdflow_zone_entries_total{zone="site"}`) > 100
	})
	if code := stop(); code != exitOK {
		t.Errorf("demo exit %d, want 0", code)
	}
}

// demoLinks waits for the demo's login links and returns them by role,
// failing the test if a role has none or more than one.
func demoLinks(t *testing.T, out *syncbuf.Buffer) map[token.Role]string {
	t.Helper()
	waitUntil(t, 30*time.Second, "a login link per role", func() bool {
		return strings.Count(out.String(), " login link: ") >= len(token.Roles)
	})
	links := map[token.Role]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		role, link, ok := strings.Cut(strings.TrimSpace(line), " login link: ")
		if !ok {
			continue
		}
		r := token.Role(strings.TrimSpace(role))
		if _, dup := links[r]; dup {
			t.Errorf("two login links for %q", r)
		}
		links[r] = strings.TrimSpace(link)
	}
	if len(links) != len(token.Roles) {
		t.Errorf("login links for %d roles, want one for each of %v:\n%s", len(links), token.Roles, out.String())
	}
	return links
}

// loginRole posts tok to base's /login as the login page does and returns
// the role of the session it opens.
func loginRole(t *testing.T, base, tok string) token.Role {
	t.Helper()
	resp, err := http.PostForm(base+"/login", url.Values{"token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Role token.Role `json:"role"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s, %v", resp.Status, err)
	}
	return s.Role
}

// metric reads one sample from base's /metrics, -1 when it is absent.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestDemoDays runs `crowdflow demo --days 2` with a small crowd on a fast
// clock: each day closes, the demo prints its figures and who was
// swept out (the visitors who left by a door without a scanner), and the
// second day starts empty.
func TestDemoDays(t *testing.T) {
	out := &syncbuf.Buffer{}
	// The demo's clock waits for the crowd, so however slow the machine no
	// day closes before its crowd has gone through.
	_, stop := startServingTo(t, out, "demo", "--listen", "127.0.0.1:0", "--speed", "10000", "--config", ouarzazate,
		"--days", "2", "--scale", "0.05")
	waitUntil(t, 90*time.Second, "the end of the simulated fair", func() bool {
		return strings.Contains(out.String(), "the simulated fair is over")
	})
	if code := stop(); code != exitOK {
		t.Errorf("demo exit %d, want 0", code)
	}
	text := out.String()
	for _, day := range []string{"2025-09-17", "2025-09-18"} {
		if !strings.Contains(text, "day "+day+" closed: ") {
			t.Errorf("no closing of %s in:\n%s", day, text)
		}
	}
	if n := strings.Count(text, "swept out at closing (left unscanned): Fair site "); n != 2 {
		t.Errorf("%d closings swept people from the site, want 2:\n%s", n, text)
	}
}
