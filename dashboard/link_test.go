package dashboard_test

import (
	"testing"
	"time"

	"crowdflow/token"
)

// TestLinkAbandonsADeadHandshake: the phone's connection dies, and its next
// try goes into a dead path (accepted, never answered: a phone that moved
// to another network, a link gone silent); then the network is back. The
// page abandons the hanging try (link.js GREET_WAIT) and is online at the
// next, instead of waiting the many minutes TCP takes to give up.
func TestLinkAbandonsADeadHandshake(t *testing.T) {
	f := mustFair(t)
	p := mustTab(t, f)
	p.login(f.token(t, token.Scanner))
	p.recordTimers()
	f.Link.Silence()
	p.waitUntil("the offline light", `document.getElementById('net').dataset.state === 'offline'`)
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for f.Link.Silenced() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the page did not try again within %s", waitFor)
		}
		<-tick.C
	}
	f.Link.Mend()
	// Time passes for the page: every timer it armed fires, again and
	// again, until it is online (or the test gives up).
	fired := 0
	for !eval[bool](p, `document.getElementById('net').dataset.state === 'online'`) {
		if time.Now().After(deadline) {
			t.Fatalf("still offline %s after the network came back (%d of the page's timers fired): a try into a dead path hangs", waitFor, fired)
		}
		fired += p.elapse()
		<-tick.C
	}
	p.scan(mustTicket(t, f.Event, ticketSpec{}))
	if r := p.waitResult("ok"); r.Outcome != "accepted_in" {
		t.Errorf("a scan once online again: got %+v", r)
	}
}
