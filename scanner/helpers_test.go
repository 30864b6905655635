package scanner_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"strings"
	"testing"
	"time"

	"crowdflow/event"
	"crowdflow/internal/syncbuf"
	"crowdflow/ticket"
)

const configFile = "../configs/ouarzazate-2025.yaml"

// fairDay is 11:00 on the first day of the Ouarzazate fair.
func fairDay(tb testing.TB, ev *event.Event) time.Time {
	tb.Helper()
	return time.Date(2025, 9, 17, 11, 0, 0, 0, ev.Location)
}

// MustEvent loads the Ouarzazate event file.
func MustEvent(tb testing.TB) *event.Event {
	tb.Helper()
	ev, err := event.Load(configFile)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// MustKeys makes a ticket key pair.
func MustKeys(tb testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	tb.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return pub, key
}

// MustTicket signs a ticket of type typ for ev and returns its payload and id.
func MustTicket(tb testing.TB, ev *event.Event, key ed25519.PrivateKey, typ string, reentry bool, days ...string) (string, string) {
	tb.Helper()
	id, err := ticket.NewID(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	t := &ticket.Ticket{Event: ev.Hash(), ID: id, Type: ev.TicketType(typ).Hash, Days: days, Reentry: reentry}
	p, err := ticket.Sign(t, key)
	if err != nil {
		tb.Fatal(err)
	}
	return p, id.String()
}

// azerty is what a US-configured reader types on a host with the French
// AZERTY layout, for the characters of a payload.
func azerty(payload string) string {
	digits := map[rune]string{'1': "&", '2': "é", '3': "\"", '4': "'", '5': "(", '6': "-", '7': "è", '8': "_", '9': "ç", '0': "à"}
	var b strings.Builder
	for _, r := range payload {
		switch {
		case digits[r] != "":
			b.WriteString(digits[r])
		case r == 'A':
			b.WriteRune('Q')
		case r == 'Q':
			b.WriteRune('A')
		case r == 'Z':
			b.WriteRune('W')
		case r == 'W':
			b.WriteRune('Z')
		case r == 'M':
			b.WriteRune(',')
		case r == ':':
			b.WriteRune('M')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// syncBuffer is a log that goroutines write while the test reads it.
type syncBuffer struct{ syncbuf.Buffer }

// Lines returns the complete lines written so far.
func (s *syncBuffer) Lines() []string {
	out := s.String()
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[:i]
	} else {
		return nil
	}
	return strings.Split(out, "\n")
}

// MustLogger returns a logger that writes into a buffer the test can read.
func MustLogger(tb testing.TB) (*slog.Logger, *syncBuffer) {
	tb.Helper()
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
