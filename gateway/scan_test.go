package gateway_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"crowdflow/checkin"
	"crowdflow/gateway"
	"crowdflow/ledger"
	"crowdflow/token"
	"crowdflow/wire"
)

var _ gateway.Store = (*ledger.Store)(nil)

// step is one frame of a scanner and what it must get back.
type step struct {
	ticket  string            // which of the case's tickets
	gate    string            // the scan's own gate; "" is hello's
	dir     checkin.Direction // "" is in
	skew    time.Duration     // the device clock minus the event clock
	offline bool
	decided checkin.Code  // with offline: the verdict the device showed
	advance time.Duration // the event clock moves on this much before the step (then back after the case)
	force   bool
	id      string // a name: steps with the same name reuse one scan id

	code     string   // the verdict code, or "error:<code>"
	flags    []string // the verdict's flags, when not nil
	replayed bool
}

// TestCodes produces every verdict code of CONTRACT §3, and the flags,
// replays and forced entries, over a real websocket, on both engines.
func TestCodes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		role    token.Role // scanner by default
		gates   []string   // the token's gates; none: every gate
		hello   string     // hello's gate; MAIN-1 by default
		tickets map[string]TicketSpec
		revoke  []string // tickets revoked before the steps
		steps   []step
	}{
		"accepted": {steps: []step{{ticket: "a", code: "accepted", flags: []string{}}}},
		"exit": {steps: []step{
			{ticket: "a", code: "accepted"},
			{ticket: "a", gate: "EXIT-1", dir: checkin.Out, code: "accepted", flags: []string{}}}},
		"exit of a ticket not inside": {steps: []step{
			{ticket: "a", gate: "EXIT-1", dir: checkin.Out, code: "accepted", flags: []string{"not_inside"}}}},
		"exit of a forged ticket": {tickets: map[string]TicketSpec{"f": {Forged: true}}, steps: []step{
			{ticket: "f", gate: "EXIT-1", dir: checkin.Out, code: "accepted", flags: []string{"not_inside", "unverified"}}}},
		"already_inside": {steps: []step{
			{ticket: "a", code: "accepted"},
			{ticket: "a", code: "already_inside"}}},
		"already_used": {tickets: map[string]TicketSpec{"once": {NoReentry: true}}, steps: []step{
			{ticket: "once", code: "accepted"},
			{ticket: "once", gate: "EXIT-1", dir: checkin.Out, code: "accepted"},
			{ticket: "once", code: "already_used"}}},
		"invalid_ticket: forged": {tickets: map[string]TicketSpec{"f": {Forged: true}}, steps: []step{
			{ticket: "f", code: "invalid_ticket"}}},
		"invalid_ticket: another event's": {tickets: map[string]TicketSpec{"x": {Event: "another-fair"}}, steps: []step{
			{ticket: "x", code: "invalid_ticket"}}},
		"invalid_ticket: not a ticket": {steps: []step{{ticket: "garbage", code: "invalid_ticket"}}},
		"revoked":                      {revoke: []string{"a"}, steps: []step{{ticket: "a", code: "revoked"}}},
		"not_valid_today": {tickets: map[string]TicketSpec{"tomorrow": {Days: []string{"2025-09-18"}}}, steps: []step{
			{ticket: "tomorrow", code: "not_valid_today"}}},
		"closed: an upload of a scan before opening": {steps: []step{
			{ticket: "a", skew: -3 * time.Hour, offline: true, code: "closed", flags: []string{"offline"}}}},
		"no_access":                       {steps: []step{{ticket: "a", gate: "WORKSHOPS", code: "no_access"}}},
		"unknown_gate: not in the config": {steps: []step{{ticket: "a", gate: "NOPE", code: "unknown_gate"}}},
		"unknown_gate: a gate the token does not allow": {gates: []string{"MAIN-1"}, steps: []step{
			{ticket: "a", gate: "HALL-CRAFTS", code: "unknown_gate"}}},
		"unknown_gate: welcomed at a gate the token does not allow": {gates: []string{"EXIT-1"}, hello: "MAIN-1",
			steps: []step{{ticket: "a", code: "unknown_gate"}}},
		"a scan at another gate the token allows": {gates: []string{"MAIN-1", "HALL-CRAFTS"}, steps: []step{
			{ticket: "a", code: "accepted"},
			{ticket: "a", gate: "HALL-CRAFTS", code: "accepted", flags: []string{}}}},
		"implicit entry": {steps: []step{
			{ticket: "a", gate: "HALL-CRAFTS", code: "accepted", flags: []string{"implicit_entry"}}}},
		"moved from a sibling hall": {steps: []step{
			{ticket: "a", gate: "HALL-CRAFTS", code: "accepted"},
			{ticket: "a", gate: "HALL-TERROIR", code: "accepted", flags: []string{"moved_from_sibling"}}}},
		"replayed": {steps: []step{
			{ticket: "a", id: "first", code: "accepted"},
			{ticket: "a", id: "first", code: "accepted", replayed: true}}},
		"a replayed refusal": {steps: []step{
			{ticket: "a", gate: "WORKSHOPS", id: "r", code: "no_access"},
			{ticket: "a", gate: "WORKSHOPS", id: "r", code: "no_access", replayed: true}}},
		"forced by a supervisor": {role: token.Supervisor, steps: []step{
			{ticket: "a", code: "accepted"},
			{ticket: "a", force: true, code: "accepted", flags: []string{"forced"}}}},
		"force refused to a scanner, nothing changed": {steps: []step{
			{ticket: "a", force: true, code: "error:forbidden"},
			{ticket: "a", code: "accepted"}}},
		"a role that does not scan": {role: token.Security, steps: []step{
			{ticket: "a", code: "error:forbidden"}}},
		"offline upload": {steps: []step{
			{ticket: "a", skew: -30 * time.Minute, offline: true, code: "accepted", flags: []string{"offline"}}}},
		"offline upload from a clock ahead": {steps: []step{
			{ticket: "a", skew: 90 * time.Second, offline: true, code: "accepted", flags: []string{"offline"}}}},
		"bad_time: an upload from the future, nothing changed": {steps: []step{
			{ticket: "a", skew: time.Hour, offline: true, code: "error:bad_time"},
			{ticket: "a", code: "accepted"}}},
		"bad_time: an upload from 1999, nothing changed": {steps: []step{
			{ticket: "a", skew: -26 * 365 * 24 * time.Hour, offline: true, decided: "accepted", code: "error:bad_time"},
			{ticket: "a", code: "accepted"}}},
		"bad_time: an upload from the day before the fair": {steps: []step{
			{ticket: "a", skew: -24 * time.Hour, offline: true, code: "error:bad_time"}}},
		"an offline exit from the future is no refusal: judged live, now, clock_skew": {steps: []step{
			{ticket: "a", code: "accepted"},
			{ticket: "a", gate: "EXIT-1", dir: checkin.Out, skew: time.Hour, offline: true, code: "accepted",
				flags: []string{"clock_skew"}},
			{ticket: "a", code: "accepted", flags: []string{}}}},
		"an offline exit from 1999 is no refusal: judged now, clock_skew": {steps: []step{
			{ticket: "a", code: "accepted"},
			{ticket: "a", gate: "EXIT-1", dir: checkin.Out, skew: -26 * 365 * 24 * time.Hour, offline: true,
				decided: "accepted", code: "accepted", flags: []string{"clock_skew", "offline"}},
			{ticket: "a", code: "accepted", flags: []string{}}}},
		"id_conflict: an id reused for another ticket, nothing changed": {steps: []step{
			{ticket: "a", id: "x", code: "accepted"},
			{ticket: "b", id: "x", code: "error:id_conflict"},
			{ticket: "b", code: "accepted", flags: []string{}}}},
		"id_conflict: an id reused on an exit is no refusal": {steps: []step{
			{ticket: "a", gate: "WORKSHOPS", id: "x", code: "no_access"},
			{ticket: "a", gate: "EXIT-1", dir: checkin.Out, id: "x", code: "error:id_conflict"},
			{ticket: "a", gate: "EXIT-1", dir: checkin.Out, code: "accepted"}}},
		"an offline verdict stands when recorded before the connection": {revoke: []string{"a"}, steps: []step{
			{ticket: "a", skew: -10 * time.Minute, offline: true, decided: "accepted", code: "accepted",
				flags: []string{"offline", "offline_override"}}}},
		"decided_ignored: an offline verdict recorded while connected": {revoke: []string{"a"}, steps: []step{
			{ticket: "a", advance: 10 * time.Minute, offline: true, decided: "accepted", code: "revoked",
				flags: []string{"decided_ignored"}},
			{ticket: "a", skew: -9 * time.Minute, offline: true, decided: "accepted", code: "accepted",
				flags: []string{"offline", "offline_override"}}}},
		"clock_skew": {steps: []step{
			{ticket: "a", skew: time.Hour, code: "accepted", flags: []string{"clock_skew"}}}},
		"lower-case payload": {steps: []step{{ticket: "lower", code: "accepted"}}},
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := MustEnv(t, Options{Engine: engine})
			for name, tc := range tests {
				t.Run(name, func(t *testing.T) {
					payloads := map[string]string{"garbage": "HELLO-WORLD"}
					ids := map[string]string{}
					payload := func(name string) string {
						if p, ok := payloads[name]; ok {
							return p
						}
						if name == "lower" {
							p, id := env.MustTicket(t, TicketSpec{})
							payloads[name], ids[name] = strings.ToLower(p), id
							return payloads[name]
						}
						spec := tc.tickets[name]
						p, id := env.MustTicket(t, spec)
						payloads[name] = p
						if !spec.Forged && spec.Event == "" {
							ids[name] = id // a ticket that does not verify has no id to show
						}
						return p
					}
					for _, name := range tc.revoke {
						payload(name)
						if _, err := env.Ledger.Revoke(context.Background(), env.Clock.Now(), "test", ids[name]); err != nil {
							t.Fatal(err)
						}
					}
					role := tc.role
					if role == "" {
						role = token.Scanner
					}
					hello := tc.hello
					if hello == "" {
						hello = "MAIN-1"
					}
					c := env.MustScanner(t, role, hello, tc.gates...)
					scanIDs := map[string]string{}
					defer env.Clock.Set(env.Clock.Now())
					for i, st := range tc.steps {
						env.Clock.Advance(st.advance)
						s := env.ScanOf(t, payload(st.ticket), checkin.In)
						s.Gate, s.Offline, s.Force, s.At = st.gate, st.offline, st.force, s.At.Add(st.skew)
						s.Decided = st.decided
						if st.dir != "" {
							s.Direction = st.dir
						}
						if st.id != "" {
							if id, ok := scanIDs[st.id]; ok {
								s.ID = id
							}
							scanIDs[st.id] = s.ID
						}
						r := c.Scan(s)
						got := r.Code
						if r.Type == wire.TypeError {
							got = "error:" + r.Code
						}
						if got != st.code {
							t.Fatalf("step %d: got %s, want %s: %s", i, got, st.code, r.Raw)
						}
						if r.Type != wire.TypeVerdict {
							continue
						}
						if r.OK != (st.code == "accepted") || r.Replayed != st.replayed {
							t.Errorf("step %d: ok %v replayed %v: %s", i, r.OK, r.Replayed, r.Raw)
						}
						if st.flags != nil && !slices.Equal(r.Flags, st.flags) {
							t.Errorf("step %d: flags %q, want %q", i, r.Flags, st.flags)
						}
						if id := ids[st.ticket]; r.Ticket != id {
							t.Errorf("step %d: ticket %q, want %q", i, r.Ticket, id)
						}
						if r.Message == "" || !strings.Contains(r.Raw, `"flags":[`) {
							t.Errorf("step %d: no message or no flags array: %s", i, r.Raw)
						}
					}
				})
			}
		})
	}
}

// TestVerdictShape checks one verdict field by field, as CONTRACT §3 shows it.
func TestVerdictShape(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{})
	c := env.MustDial(t, env.MustToken(t, token.Scanner, "MAIN-1"), nil)
	w := c.Hello("gate-laptop-3", "MAIN-1")
	if w.Type != "welcome" || w.Protocol != 1 || w.Gate != "MAIN-1" || w.Zone != "site" ||
		!w.ServerTime.Equal(env.Clock.Now()) {
		t.Errorf("welcome: %s", w.Raw)
	}
	p, id := env.MustTicket(t, TicketSpec{})
	s := env.ScanOf(t, p, checkin.In)
	r := c.Scan(s)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.Raw), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "verdict", "id": s.ID, "ok": true, "code": "accepted", "ticket": id,
		"ticket_type": "visitor", "zone": "site", "occupancy": 1.0, "capacity": 1621.0, "level": "ok",
		"flags": []any{}, "replayed": false, "message": "Entry accepted."}
	for k, v := range want {
		g, _ := json.Marshal(got[k])
		w, _ := json.Marshal(v)
		if string(g) != string(w) {
			t.Errorf("%s: got %s, want %s", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields: got %d, want %d: %s", len(got), len(want), r.Raw)
	}
}

// TestZoneFull fills the tiny fair: the site holds 3, the room 2.
func TestZoneFull(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := MustEnv(t, Options{Config: tinyFair, Engine: engine})
			c := env.MustScanner(t, token.Scanner, "MAIN")
			for i := range 3 {
				p, _ := env.MustTicket(t, TicketSpec{})
				if r := c.Scan(env.ScanOf(t, p, checkin.In)); r.Code != "accepted" || r.Occupancy != i+1 {
					t.Fatalf("entry %d: %s", i, r.Raw)
				}
			}
			fourth, _ := env.MustTicket(t, TicketSpec{})
			r := c.Scan(env.ScanOf(t, fourth, checkin.In))
			if r.Code != "zone_full" || r.OK || r.Zone != "site" || r.Occupancy != 3 || r.Capacity != 3 || r.Level != "full" {
				t.Errorf("fourth entry: %s", r.Raw)
			}
			if r := c.Scan(wire.Scan{Type: "scan", ID: NewID(t), Ticket: fourth, Direction: checkin.In,
				At: env.Clock.Now(), Force: true}); r.Type != "error" || r.Code != "forbidden" {
				t.Errorf("a scanner forcing: %s", r.Raw)
			}

			sup := env.MustScanner(t, token.Supervisor, "MAIN")
			s := env.ScanOf(t, fourth, checkin.In)
			s.Force = true
			r = sup.Scan(s)
			if r.Code != "accepted" || !slices.Equal(r.Flags, []string{"forced"}) || r.Occupancy != 4 || r.Level != "full" {
				t.Errorf("forced entry: %s", r.Raw)
			}

			tally := func(c *Client, delta int, force bool) Reply {
				t.Helper()
				m := wire.Tally{Type: "tally", ID: NewID(t), Zone: "room", Delta: delta, At: env.Clock.Now(),
					Gate: "ROOM", Force: force}
				c.Send(m)
				r := c.Read()
				if r.ID != m.ID {
					t.Fatalf("tally %s: answer about %s", m.ID, r.Raw)
				}
				return r
			}
			// Tallies into the room count people the site did not count (its
			// tally balance is empty), so they fill the site too: the full
			// site refuses them, naming itself; a supervisor forces one; -5
			// is clamped to the room's 1, who goes back to the site's balance.
			if r := tally(c, 2, false); r.Code != "zone_full" || r.OK || r.Zone != "site" {
				t.Errorf("tally +2 while the site is full: %s", r.Raw)
			}
			if r := tally(sup, 1, true); r.Code != "accepted" || r.Occupancy != 1 || r.Zone != "room" ||
				!slices.Equal(r.Flags, []string{"forced", "implicit_entry"}) {
				t.Errorf("forced tally: %s", r.Raw)
			}
			if r := tally(c, -5, false); r.Code != "accepted" || r.Occupancy != 0 || !slices.Contains(r.Flags, "clamped") {
				t.Errorf("tally -5: %s", r.Raw)
			}
			counters, err := env.Ledger.Counters(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := counters["site"].Occupancy; got != 5 {
				t.Errorf("site occupancy in the store: %d, want 5 (4 tickets and the 1 counted in by tally)", got)
			}
		})
	}
}

// TestTallyRules: tallies need hello and a scanning role, name a zone of the
// event, and a token of some gates counts only those gates' zones.
func TestTallyRules(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	tests := map[string]struct {
		gates []string // the token's
		hello string
		tally wire.Tally
		want  string // a verdict code or "error:<code>"
	}{
		"stage from an unrestricted token": {hello: "MAIN-1", tally: wire.Tally{Zone: "stage", Delta: 3}, want: "accepted"},
		"unknown zone":                     {hello: "MAIN-1", tally: wire.Tally{Zone: "roof", Delta: 1}, want: "error:malformed"},
		"the zone of the token's gate":     {gates: []string{"STAGE"}, hello: "STAGE", tally: wire.Tally{Zone: "stage", Delta: 1}, want: "accepted"},
		"another zone than the token's":    {gates: []string{"STAGE"}, hello: "STAGE", tally: wire.Tally{Zone: "pavilion", Delta: 1}, want: "error:forbidden"},
		"at a gate the token does not allow": {gates: []string{"STAGE"}, hello: "STAGE",
			tally: wire.Tally{Zone: "stage", Delta: 1, Gate: "MAIN-1"}, want: "unknown_gate"},
		"forced by a scanner": {hello: "MAIN-1", tally: wire.Tally{Zone: "stage", Delta: 1, Force: true}, want: "error:forbidden"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := env.MustScanner(t, token.Scanner, tc.hello, tc.gates...)
			m := tc.tally
			m.Type, m.ID, m.At = "tally", NewID(t), env.Clock.Now()
			c.Send(m)
			r := c.Read()
			got := r.Code
			if r.Type == "error" {
				got = "error:" + r.Code
			}
			if got != tc.want || r.ID != m.ID {
				t.Errorf("got %s, want %s for %s", r.Raw, tc.want, m.ID)
			}
		})
	}
}

// TestProtocolErrors: a frame the gateway cannot act on gets an error, and
// the connection stays open: a valid scan right after is decided.
func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	tests := map[string]struct {
		hello  bool // say hello first
		frame  string
		binary bool
		code   string
		id     string // the id the error must carry
	}{
		"scan before hello": {frame: `{"type":"scan","id":"s1","ticket":"CF1:AB:CD","direction":"in","at":"2025-09-17T10:03:11Z"}`,
			code: "malformed", id: "s1"},
		"not JSON":       {hello: true, frame: `{"type":"scan",`, code: "malformed"},
		"missing field":  {hello: true, frame: `{"type":"scan","id":"s2","direction":"in","at":"2025-09-17T10:03:11Z"}`, code: "malformed", id: "s2"},
		"unknown field":  {hello: true, frame: `{"type":"scan","id":"s3","ticket":"x","direction":"in","at":"2025-09-17T10:03:11Z","evil":1}`, code: "malformed", id: "s3"},
		"bad direction":  {hello: true, frame: `{"type":"scan","id":"s4","ticket":"x","direction":"up","at":"2025-09-17T10:03:11Z"}`, code: "malformed", id: "s4"},
		"unknown type":   {hello: true, frame: `{"type":"dance","id":"d1"}`, code: "unsupported", id: "d1"},
		"no type":        {hello: true, frame: `{"id":"x"}`, code: "malformed", id: "x"},
		"a new protocol": {frame: `{"type":"hello","protocol":2,"device":"d"}`, code: "unsupported"},
		"binary frame":   {hello: true, frame: `{"type":"hello"}`, binary: true, code: "malformed"},
		"JSON array":     {hello: true, frame: `[1,2,3]`, code: "malformed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := env.MustDial(t, env.MustToken(t, token.Scanner), nil)
			if tc.hello {
				c.Hello("d", "MAIN-1")
			}
			if tc.binary {
				if err := c.ws.WriteMessage(2, []byte(tc.frame)); err != nil {
					t.Fatal(err)
				}
			} else {
				c.SendText(tc.frame)
			}
			r := c.Read()
			if r.Type != "error" || r.Code != tc.code || r.ID != tc.id || r.Message == "" {
				t.Errorf("got %s, want error %s about %q", r.Raw, tc.code, tc.id)
			}
			if !tc.hello {
				c.Hello("d", "MAIN-1")
			}
			p, _ := env.MustTicket(t, TicketSpec{})
			if r := c.Scan(env.ScanOf(t, p, checkin.In)); r.Code != "accepted" {
				t.Errorf("a valid scan afterwards: %s", r.Raw)
			}
		})
	}
}

// TestOversizedFrame: a frame over 4 KiB closes the connection with 1009.
func TestOversizedFrame(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	for name, size := range map[string]int{"just over": wire.MaxFrame + 1, "1 MiB": 1 << 20} {
		t.Run(name, func(t *testing.T) {
			c := env.MustScanner(t, token.Scanner, "MAIN-1")
			frame := `{"type":"scan","id":"big","ticket":"` + strings.Repeat("A", size) + `"}`
			_ = c.ws.SetWriteDeadline(time.Now().Add(readTimeout))
			_ = c.ws.WriteMessage(1, []byte(frame)) // the gateway may close before it has all of it
			if got := c.CloseCode(); got != 1009 {
				t.Errorf("close code %d, want 1009", got)
			}
		})
	}
	// A frame of exactly the limit is read, and answered.
	c := env.MustScanner(t, token.Scanner, "MAIN-1")
	head := `{"type":"scan","id":"edge","ticket":"`
	tail := `","direction":"in","at":"2025-09-17T10:00:00Z"}`
	c.SendText(head + strings.Repeat("A", wire.MaxFrame-len(head)-len(tail)) + tail)
	if r := c.Read(); r.Type != "error" || r.ID != "edge" {
		t.Errorf("a frame of exactly %d bytes: %s", wire.MaxFrame, r.Raw)
	}
}

// TestTokenExpiresOnTheConnection: every message is authorised; once the
// token has expired the connection is closed with 1008.
func TestTokenExpiresOnTheConnection(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded"})
	c := env.MustDial(t, env.MustTokenUntil(t, token.Scanner, env.Wall.Now().Add(time.Hour)), nil)
	c.Hello("d", "MAIN-1")
	p, _ := env.MustTicket(t, TicketSpec{})
	if r := c.Scan(env.ScanOf(t, p, checkin.In)); r.Code != "accepted" {
		t.Fatalf("scan: %s", r.Raw)
	}
	env.Wall.Advance(time.Hour)
	c.Send(env.ScanOf(t, p, checkin.Out))
	if got := c.CloseCode(); got != 1008 {
		t.Errorf("close code %d, want 1008 (policy violation)", got)
	}
}

// TestRateLimit: a device flooding far over its rate gets rate_limited for
// every frame over it, while another device's scans are all decided. The
// wall clock stands still, so exactly the burst passes.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{})
	flooder := env.MustScanner(t, token.Scanner, "EXIT-1") // hello takes one token of the burst
	calm := env.MustScanner(t, token.Scanner, "MAIN-1")
	p, _ := env.MustTicket(t, TicketSpec{})

	const flood = 300
	type outcome struct{ verdicts, limited, other int }
	done := make(chan outcome, 1)
	sent := make([]string, flood)
	for i := range sent {
		sent[i] = NewID(t)
	}
	go func() {
		var o outcome
		for range flood {
			r, err := flooder.Next()
			switch {
			case err != nil:
				o.other++
				done <- o
				return
			case r.Type == "verdict":
				o.verdicts++
			case r.Type == "error" && r.Code == "rate_limited" && slices.Contains(sent, r.ID):
				o.limited++
			default:
				o.other++
			}
		}
		done <- o
	}()
	for _, id := range sent {
		flooder.Send(wire.Scan{Type: "scan", ID: id, Ticket: p, Direction: checkin.Out, At: env.Clock.Now()})
	}
	for range 10 {
		q, _ := env.MustTicket(t, TicketSpec{})
		if r := calm.Scan(env.ScanOf(t, q, checkin.In)); r.Code != "accepted" {
			t.Errorf("the calm device: %s", r.Raw)
		}
	}
	o := <-done
	want := outcome{verdicts: gateway.DefaultBurst - 1, limited: flood - (gateway.DefaultBurst - 1)}
	if o != want {
		t.Errorf("flooder: got %+v, want %+v", o, want)
	}
	// Time refills the bucket.
	env.Wall.Advance(time.Second)
	if r := flooder.Scan(env.ScanOf(t, p, checkin.Out)); r.Type != "verdict" {
		t.Errorf("after a second: %s", r.Raw)
	}
}

// TestDeviceNotReading: a device that sends and never reads its replies is
// dropped once the gateway cannot write to it for WriteWait; it is not
// waited for forever. The gateway's socket buffers are made small, so its
// writes back up after a few hundred replies.
func TestDeviceNotReading(t *testing.T) {
	t.Parallel()
	env := MustEnv(t, Options{Engine: "embedded",
		Listener: func(ln net.Listener) net.Listener { return smallBuffers{ln} },
		Tune: func(c *gateway.Config) {
			c.Rate, c.Burst, c.WriteWait, c.SendBuffer = 1e9, 1e9, 300*time.Millisecond, 4
		}})
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(4096) // the device's writes block soon, not after megabytes
		}
		return c, err
	}}
	ws, _, err := d.Dial("ws://"+env.Addr+"/ws/scan",
		http.Header{"Authorization": {"Bearer " + env.MustToken(t, token.Scanner)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	frame := []byte(`{"type":"scan","id":"` + strings.Repeat("x", 64) + `","direction":"in"}`)
	for sent := 0; ; sent++ {
		_ = ws.SetWriteDeadline(time.Now().Add(readTimeout))
		if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			break // the gateway has dropped the device
		}
		if sent > 1_000_000 {
			t.Fatal("a million frames and the device is still connected")
		}
	}
	Eventually(t, "the device dropped", func() bool {
		return strings.Contains(env.Logs(), `"msg":"scanner disconnected"`)
	})
}

// smallBuffers gives every accepted connection small socket buffers.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
		_ = tc.SetReadBuffer(4096)
	}
	return c, err
}
