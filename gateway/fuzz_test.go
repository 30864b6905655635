package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"crowdflow/gateway"
	"crowdflow/token"
	"crowdflow/wire"
)

// FuzzFrame sends arbitrary frames over a real websocket: each gets exactly
// one answer (welcome, verdict or error), about the frame's id when it has
// one, and the connection stays open.
func FuzzFrame(f *testing.F) {
	env := MustEnv(f, Options{Engine: "embedded", Tune: func(c *gateway.Config) { c.Rate, c.Burst = 1e9, 1e9 }})
	tok := env.MustToken(f, token.Scanner, "MAIN-1", "EXIT-1")
	p, _ := env.MustTicket(f, TicketSpec{})
	for _, seed := range []string{
		`{"type":"hello","protocol":1,"device":"gate-laptop-3","gate":"MAIN-1"}`,
		`{"type":"scan","id":"01J8Z4R7Y6Q3T9K2M5N8P0W4XC","ticket":"` + p + `","direction":"in","at":"2025-09-17T10:03:11.120Z"}`,
		`{"type":"scan","id":"o1","ticket":"` + p + `","direction":"out","at":"2025-09-17T10:03:11Z","gate":"EXIT-1","offline":true}`,
		`{"type":"scan","id":"f1","ticket":"CF1:AB:CD","direction":"in","at":"2025-09-17T10:03:11Z","force":true}`,
		`{"type":"tally","id":"t1","zone":"stage","delta":-3,"at":"2025-09-17T10:03:11Z"}`,
		`{"type":"tally","id":"t2","zone":"roof","delta":1,"at":"2025-09-17T10:03:11Z"}`,
		`{"type":"dance"}`, `[]`, `null`, `{"type":"scan",`, "",
	} {
		f.Add([]byte(seed))
	}
	// One connection for every input: inputs run one at a time, and none
	// may close it.
	c := env.MustDial(f, tok, nil)
	c.Hello("fuzz", "MAIN-1")
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > wire.MaxFrame {
			return // closes the connection with 1009: TestOversizedFrame
		}
		c.tb = t
		defer func() { c.tb = f }()
		c.SendText(string(frame))
		r := c.Read()
		switch r.Type {
		case wire.TypeWelcome, wire.TypeVerdict, wire.TypeError:
		default:
			t.Fatalf("answer %s", r.Raw)
		}
		var head struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if json.Unmarshal(frame, &head) == nil && r.Type != wire.TypeWelcome && len(head.ID) <= wire.MaxID && r.ID != head.ID {
			t.Errorf("answer about %q to a frame with id %q: %s", r.ID, head.ID, r.Raw)
		}
		if r.Type == wire.TypeVerdict && (r.Message == "" || !strings.Contains(r.Raw, `"flags":[`)) {
			t.Errorf("verdict without a message or flags: %s", r.Raw)
		}
	})
}

// FuzzLogin posts arbitrary bodies to /login: never a server error, always
// a JSON answer, and a cookie only for a valid token.
func FuzzLogin(f *testing.F) {
	env := MustEnv(f, Options{Engine: "embedded"})
	tok := env.MustToken(f, token.Supervisor)
	f.Add("application/json", `{"token":"`+tok+`"}`)
	f.Add("application/x-www-form-urlencoded", "token="+tok)
	f.Add("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n"+tok+"\r\n--x--\r\n")
	f.Add("application/json", `{"token":"CFT1.e30.AAAA"}`)
	f.Add("application/json", `{"token":1}`)
	f.Add("text/plain", tok)
	f.Add("application/json; charset=\"", "{")
	h := env.Server.Handler()
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON: %q", rec.Body)
		}
		cookies := rec.Result().Cookies()
		if (len(cookies) > 0) != (rec.Code == http.StatusOK) {
			t.Fatalf("status %d with %d cookies", rec.Code, len(cookies))
		}
		if rec.Code == http.StatusOK {
			if _, err := token.Verify(env.Secret, cookies[0].Value, env.Wall.Now()); err != nil {
				t.Fatalf("a session cookie of an invalid token: %v", err)
			}
		}
	})
}
