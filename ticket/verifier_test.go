package ticket_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"crowdflow/ticket"
)

// TestVerifierAgreesWithVerifyTyped: for every spelling of valid, forged
// and broken payloads, the first and the remembered answers of a Verifier
// are what VerifyTyped answers.
func TestVerifierAgreesWithVerifyTyped(t *testing.T) {
	_, pub := MustKey(t, 1)
	other, _ := MustKey(t, 2)
	valid := fuzzPayloads(t)
	forged := MustSign(t, &ticket.Ticket{Days: []string{"2025-09-17"}}, other)
	inputs := []string{forged, "", "CF1::", "not a ticket", valid[0][:len(valid[0])-1]}
	for i, p := range valid {
		for name, v := range variants() {
			r := rand.New(rand.NewPCG(uint64(i), uint64(len(name))))
			inputs = append(inputs, p, v.typed(r, p))
		}
	}
	v := ticket.NewVerifier(0, pub)
	for round := range 2 { // the second round answers from memory
		for _, in := range inputs {
			wantT, wantP, wantErr := ticket.VerifyTyped(in, pub)
			gotT, gotP, gotErr := v.VerifyTyped(in)
			if gotP != wantP || !reflect.DeepEqual(gotT, wantT) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("round %d, %q: got %+v %q %v, want %+v %q %v", round, in, gotT, gotP, gotErr, wantT, wantP, wantErr)
			}
		}
	}
}

// TestVerifierRemembersOnlyExactText: a remembered ticket whose signature or
// body is altered by one character is checked in full and refused; refused
// text is never remembered.
func TestVerifierRemembersOnlyExactText(t *testing.T) {
	key, pub := MustKey(t, 1)
	p := MustSign(t, &ticket.Ticket{Days: []string{"2025-09-17"}, Zones: []uint16{7}}, key)
	v := ticket.NewVerifier(16, pub)
	if _, _, err := v.VerifyTyped(p); err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(strings.TrimPrefix(p, ticket.Prefix), ":")
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	tests := map[string]string{
		"signature altered": ticket.Prefix + body + ":" + flip(sig, 10),
		"body altered":      ticket.Prefix + flip(body, 12) + ":" + sig,
		"last character":    flip(p, len(p)-1),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			for range 2 {
				_, _, err := v.VerifyTyped(in)
				if !errors.Is(err, ticket.ErrSignature) && !errors.Is(err, ticket.ErrMalformed) {
					t.Fatalf("VerifyTyped(%q) = %v, want a refusal", in, err)
				}
			}
		})
	}
	if got := v.Remembered(); got != 1 {
		t.Errorf("remembered %d texts, want only the one that verified", got)
	}
}

// TestVerifierIsBounded: however many tickets pass, the memory holds at most
// its size, and a forgotten ticket still verifies.
func TestVerifierIsBounded(t *testing.T) {
	key, pub := MustKey(t, 1)
	const size = 8
	v := ticket.NewVerifier(size, pub)
	r := rand.New(rand.NewPCG(3, 4))
	var ps []string
	for range 5 * size {
		p := MustSign(t, randomTicket(r), key)
		ps = append(ps, p)
		if _, _, err := v.VerifyTyped(p); err != nil {
			t.Fatal(err)
		}
		if got := v.Remembered(); got > size {
			t.Fatalf("remembered %d texts, want at most %d", got, size)
		}
	}
	for _, p := range ps {
		want, _, _ := ticket.VerifyTyped(p, pub)
		got, _, err := v.VerifyTyped(p)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("VerifyTyped(%q) = %+v, %v; want %+v", p, got, err, want)
		}
	}
}

// TestVerifierTicketIsACopy: a caller that changes the ticket it got does
// not change what the next caller gets.
func TestVerifierTicketIsACopy(t *testing.T) {
	key, pub := MustKey(t, 1)
	p := MustSign(t, &ticket.Ticket{Days: []string{"2025-09-17"}, Zones: []uint16{7}}, key)
	v := ticket.NewVerifier(4, pub)
	first, _, _ := v.VerifyTyped(p)
	first.Days[0], first.Zones[0], first.Reentry = "1999-01-01", 1, true
	again, _, err := v.VerifyTyped(p)
	if err != nil || again.Days[0] != "2025-09-17" || again.Zones[0] != 7 || again.Reentry {
		t.Fatalf("after the first caller changed its ticket, got %+v, %v", again, err)
	}
}

// BenchmarkVerifyTyped: a full check against a remembered one.
func BenchmarkVerifyTyped(b *testing.B) {
	key, pub := MustKey(b, 1)
	p := MustSign(b, &ticket.Ticket{Days: []string{"2025-09-17"}}, key)
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := ticket.VerifyTyped(p, pub); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remembered", func(b *testing.B) {
		v := ticket.NewVerifier(0, pub)
		for b.Loop() {
			if _, _, err := v.VerifyTyped(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
