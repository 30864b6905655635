package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"crowdflow/checkin"
	"crowdflow/token"
)

// Post sends a POST; see Do.
func (e *Env) Post(tb testing.TB, path, tok, contentType, body string, hdr http.Header, v any) int {
	tb.Helper()
	return e.Do(tb, http.MethodPost, path, tok, contentType, body, hdr, v)
}

// TestRevokeWhileRunning: POST /api/v1/revoke puts tickets on the list of
// a running gateway: the next scan is refused and the list scanners
// download has them. A request with any fault changes nothing.
func TestRevokeWhileRunning(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	organizer := env.MustToken(t, token.Organizer)
	payload, id := env.MustTicket(t, TicketSpec{})
	_, other := env.MustTicket(t, TicketSpec{})
	const jsonType = "application/json"
	body := func(ids ...string) string {
		b, _ := json.Marshal(map[string]any{"tickets": ids, "reason": "reported stolen"})
		return string(b)
	}

	refused := map[string]struct {
		tok, contentType, body, origin string
		status                         int
		code                           string
	}{
		"no token":             {"", jsonType, body(id), "", http.StatusUnauthorized, "unauthenticated"},
		"a scanner":            {env.MustToken(t, token.Scanner), jsonType, body(id), "", http.StatusForbidden, "forbidden"},
		"security":             {env.MustToken(t, token.Security), jsonType, body(id), "", http.StatusForbidden, "forbidden"},
		"another site's page":  {organizer, jsonType, body(id), "https://evil.example", http.StatusForbidden, "forbidden"},
		"a form":               {organizer, "application/x-www-form-urlencoded", "tickets=" + id, "", http.StatusBadRequest, "malformed"},
		"not JSON":             {organizer, jsonType, "tickets", "", http.StatusBadRequest, "malformed"},
		"no tickets":           {organizer, jsonType, body(), "", http.StatusBadRequest, "malformed"},
		"a bad id among good":  {organizer, jsonType, body(id, "not-a-ticket-id!", other), "", http.StatusBadRequest, "malformed"},
		"a payload, not an id": {organizer, jsonType, body(payload), "", http.StatusBadRequest, "malformed"},
		"unknown field":        {organizer, jsonType, `{"tickets":["` + id + `"],"all":true}`, "", http.StatusBadRequest, "malformed"},
		"reason on two lines":  {organizer, jsonType, `{"tickets":["` + id + `"],"reason":"a\nb"}`, "", http.StatusBadRequest, "malformed"},
		"two objects":          {organizer, jsonType, body(id) + body(other), "", http.StatusBadRequest, "malformed"},
		"a stray brace after":  {organizer, jsonType, body(id) + "}", "", http.StatusBadRequest, "malformed"},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			var got ErrorBody
			if status := env.Post(t, "/api/v1/revoke", tc.tok, tc.contentType, tc.body, hdr, &got); status != tc.status ||
				got.Error.Code != tc.code || got.Error.Message == "" {
				t.Errorf("got %d %+v, want %d %s", status, got, tc.status, tc.code)
			}
		})
	}
	if ids, err := env.Ledger.Revoked(context.Background()); err != nil || len(ids) != 0 {
		t.Fatalf("after refused requests the list holds %q (%v): want nothing", ids, err)
	}

	var ans struct {
		Tickets []string `json:"tickets"`
		Revoked int      `json:"revoked"`
		Already int      `json:"already"`
	}
	hdr := http.Header{"Origin": {env.URL}} // the gateway's own page may
	if status := env.Post(t, "/api/v1/revoke", organizer, jsonType, body(strings.ToUpper(id)), hdr, &ans); status != http.StatusOK ||
		ans.Revoked != 1 || ans.Already != 0 || !slices.Equal(ans.Tickets, []string{id}) {
		t.Fatalf("revoke: %d %+v", status, ans)
	}
	if status := env.Post(t, "/api/v1/revoke", env.MustToken(t, token.Supervisor), jsonType, body(id, other), nil, &ans); status != http.StatusOK ||
		ans.Revoked != 1 || ans.Already != 1 {
		t.Fatalf("revoke again with another: %d %+v", status, ans)
	}

	sc := env.MustScanner(t, token.Scanner, "MAIN-1")
	if r := sc.Scan(env.ScanOf(t, payload, checkin.In)); r.Code != "revoked" || r.OK {
		t.Errorf("scan of the revoked ticket: %s", r.Raw)
	}
	var list struct {
		Revoked []string `json:"revoked"`
	}
	if status := env.Get(t, "/api/v1/revoked", env.MustToken(t, token.Scanner), &list); status != http.StatusOK ||
		!slices.Contains(list.Revoked, id) || !slices.Contains(list.Revoked, other) {
		t.Errorf("GET /api/v1/revoked: %d %q, want %s and %s", status, list.Revoked, id, other)
	}
	if !strings.Contains(env.Logs(), `"msg":"tickets revoked"`) || !strings.Contains(env.Logs(), "reported stolen") {
		t.Errorf("the revocation and its reason are not in the log")
	}
}
