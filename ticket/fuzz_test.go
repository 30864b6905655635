package ticket_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"crowdflow/ticket"
)

// fuzzPayloads are valid payloads, signed with MustKey(1), of every shape.
func fuzzPayloads(tb testing.TB) []string {
	key, _ := MustKey(tb, 1)
	out := []string{
		MustSign(tb, &ticket.Ticket{}, key),
		MustSign(tb, flips()["full"], key),
		MustSign(tb, &ticket.Ticket{Days: []string{"2025-09-17"}, Zones: []uint16{1}}, key),
	}
	r := rand.New(rand.NewPCG(21, 22))
	for range 3 {
		out = append(out, MustSign(tb, randomTicket(r), key))
	}
	return out
}

// FuzzVerify: Verify never panics, fails only with its sentinels, and
// accepts only canonical text: whatever it accepts is exactly what Sign
// writes for the ticket it returns (Ed25519 signing is deterministic). A
// Verifier answers as VerifyTyped does, from memory or not.
func FuzzVerify(f *testing.F) {
	key, pub := MustKey(f, 1)
	for _, p := range fuzzPayloads(f) {
		f.Add(p)
		f.Add(strings.ToLower(p))
		f.Add(p[:len(p)-1])
		f.Add(p + "=")
	}
	f.Add("")
	f.Add(ticket.Prefix)
	f.Add("CF1::")
	v := ticket.NewVerifier(8, pub) // shared by the inputs: a small memory that turns over
	f.Fuzz(func(t *testing.T, s string) {
		wantT, wantP, wantErr := ticket.VerifyTyped(s, pub)
		for range 2 { // the second answer may come from memory
			gotT, gotP, gotErr := v.VerifyTyped(s)
			if gotP != wantP || !reflect.DeepEqual(gotT, wantT) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("Verifier.VerifyTyped(%q) = %+v %q %v; VerifyTyped gives %+v %q %v", s, gotT, gotP, gotErr, wantT, wantP, wantErr)
			}
		}
		tk, err := ticket.Verify(s, pub)
		if err != nil {
			if !errors.Is(err, ticket.ErrMalformed) && !errors.Is(err, ticket.ErrSignature) {
				t.Fatalf("Verify(%q) error %v wraps no sentinel", s, err)
			}
			return
		}
		again, err := ticket.Sign(tk, key)
		if err != nil {
			t.Fatalf("Verify accepted %q but Sign refuses its ticket: %v", s, err)
		}
		if again != s {
			t.Fatalf("Verify accepted %q, which re-encodes to %q", s, again)
		}
	})
}

// FuzzNormalize: Normalize never panics, fails only with ErrMalformed,
// recognises a layout whenever it succeeds, and returns well-formed
// canonical payloads that are fixed points of Normalize.
func FuzzNormalize(f *testing.F) {
	_, pub := MustKey(f, 1)
	for i, p := range fuzzPayloads(f) {
		for name, v := range variants() {
			r := rand.New(rand.NewPCG(uint64(i), uint64(len(name))))
			f.Add(v.typed(r, p))
		}
	}
	f.Add("")
	f.Add("}[1:\u0644\u0627:\u0644\u0627")
	f.Add("cf&m")
	f.Fuzz(func(t *testing.T, s string) {
		all, err := ticket.NormalizeAll(s)
		if err != nil {
			if !errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("NormalizeAll(%q) error %v is not ErrMalformed", s, err)
			}
			return
		}
		if len(all) == 0 {
			t.Fatalf("NormalizeAll(%q) returned nothing and no error", s)
		}
		if ticket.Layout(s) == "" {
			t.Fatalf("NormalizeAll(%q) = %q, but Layout finds no layout", s, all)
		}
		if one, err := ticket.Normalize(s); err != nil || one != all[0] {
			t.Fatalf("Normalize(%q) = %q, %v; NormalizeAll gives %q first", s, one, err, all[0])
		}
		if len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(all) {
			t.Fatalf("NormalizeAll(%q) = %q has duplicates", s, all)
		}
		for _, p := range all {
			if again, err := ticket.Normalize(p); err != nil || again != p {
				t.Fatalf("Normalize(%q) = %q, %v; a payload should be its own normal form", p, again, err)
			}
			if _, err := ticket.Verify(p, pub); errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("NormalizeAll(%q) gave %q, which Verify finds malformed: %v", s, p, err)
			}
		}
	})
}

// FuzzUnmarshalBinary: any body UnmarshalBinary accepts marshals back to
// the same bytes, the property that makes signed bodies unambiguous.
func FuzzUnmarshalBinary(f *testing.F) {
	r := rand.New(rand.NewPCG(23, 24))
	for range 8 {
		b, err := randomTicket(r).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var tk ticket.Ticket
		if err := tk.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("UnmarshalBinary(%x) error %v is not ErrMalformed", b, err)
			}
			return
		}
		again, err := tk.MarshalBinary()
		if err != nil {
			t.Fatalf("UnmarshalBinary accepted %x but MarshalBinary refuses %+v: %v", b, tk, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("UnmarshalBinary accepted %x, which re-encodes to %x", b, again)
		}
	})
}
