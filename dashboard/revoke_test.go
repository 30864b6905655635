package dashboard_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"crowdflow/ticket"
	"crowdflow/token"
)

// recordIntervals makes the tab's pages note every setInterval, so that
// the test can make a period pass for them (intervalsUpTo).
const recordIntervals = `(() => {
  const set = window.setInterval.bind(window);
  window.__intervals = [];
  window.setInterval = (fn, ms, ...args) => { window.__intervals.push({ fn, ms, args }); return set(fn, ms, ...args); };
})();`

// TestPhoneGetsRevocationsWithinAMinute: a ticket revoked through the
// gateway while the phone is online is in the phone's list once a minute
// has passed for the page, and the phone, offline, refuses it.
func TestPhoneGetsRevocationsWithinAMinute(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	if _, err := chromedp.Call(p.ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: recordIntervals}); err != nil {
		t.Fatal(err)
	}
	p.login(f.token(t, token.Scanner))
	p.lang("en")

	stolen := mustTicket(t, f.Event, ticketSpec{})
	tk, err := ticket.Verify(stolen, ticketPub)
	if err != nil {
		t.Fatal(err)
	}
	id := tk.ID.String()
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/api/v1/revoke",
		strings.NewReader(`{"tickets":["`+id+`"],"reason":"reported stolen"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.token(t, token.Organizer))
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/revoke: %s", resp.Status)
	}

	// A minute passes for the page: every interval of at most a minute fires.
	if n := eval[int](p, `(() => { const due = window.__intervals.filter((i) => i.ms <= 60000);
		due.forEach((i) => i.fn(...i.args)); return due.length; })()`); n == 0 {
		t.Fatal("the page runs nothing at least once a minute")
	}
	p.waitUntil("the revoked ticket in the page's list", `(JSON.parse(localStorage.getItem('cf.revoked')) || []).includes(`+jsString(id)+`)`)

	p.cutLink()
	p.scan(stolen)
	if r := p.waitResult("stop"); r.Outcome != "revoked" || r.EN != "Ticket revoked" {
		t.Errorf("the revoked ticket offline: got %+v", r)
	}
	p.dismiss()
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	if r := p.waitResult("warn"); r.Outcome != "offline" {
		t.Errorf("another ticket offline: got %+v, want saved offline", r)
	}
}
