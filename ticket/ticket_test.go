package ticket_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"crowdflow/ticket"
)

func TestIDString(t *testing.T) {
	id := ticket.ID{0xff, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	got := id.String()
	if want := "74aacaqdaqcqmbyi"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	for _, s := range []string{got, strings.ToUpper(got)} {
		back, err := ticket.ParseID(s)
		if err != nil || back != id {
			t.Errorf("ParseID(%q) = %v, %v; want %v", s, back, err, id)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var id ticket.ID
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		s := id.String()
		if len(s) != 16 || s != strings.ToLower(s) {
			t.Fatalf("String() = %q, want 16 lower-case characters", s)
		}
		back, err := ticket.ParseID(s)
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", s, back, err, id)
		}
	}
}

func TestParseIDRejects(t *testing.T) {
	tests := map[string]string{
		"empty":        "",
		"short":        "74aacaqdaqcqmby",
		"long":         "74aacaqdaqcqmbyia",
		"padding":      "74aacaqdaqcqmby=",
		"digit 1":      "14aacaqdaqcqmbyi",
		"digit 0":      "04aacaqdaqcqmbyi",
		"space":        " 4aacaqdaqcqmbyi",
		"newline":      "74aacaqdaqcqmby\n",
		"non-ascii":    "74aacaqdaqcqmbé",
		"payload-like": "CF1:AAAAAAAAAAAA",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ticket.ParseID(in); !errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("ParseID(%q) error = %v, want ErrMalformed", in, err)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	src := bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	id, err := ticket.NewID(src)
	if err != nil || id != (ticket.ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Fatalf("NewID = %v, %v", id, err)
	}
	if _, err := ticket.NewID(bytes.NewReader([]byte{1, 2, 3})); err == nil {
		t.Fatal("NewID from 3 bytes: no error")
	}
	if _, err := ticket.NewID(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Fatal("NewID from a failing reader: no error")
	}
	a, err := ticket.NewID(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ticket.NewID(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a == (ticket.ID{}) {
		t.Fatalf("NewID(nil) gave %v then %v, want two random ids", a, b)
	}
}

func TestHashes(t *testing.T) {
	// SHA-256("abc") = ba7816bf 8f01cfea ... (FIPS 180-2 test vector).
	if got, want := ticket.EventHash("abc"), [4]byte{0xba, 0x78, 0x16, 0xbf}; got != want {
		t.Errorf("EventHash(abc) = %x, want %x", got, want)
	}
	if got, want := ticket.NameHash("abc"), uint16(0xba78); got != want {
		t.Errorf("NameHash(abc) = %#04x, want %#04x", got, want)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	tests := map[string]struct {
		in   ticket.Ticket
		size int
	}{
		"minimal": {ticket.Ticket{}, 22},
		"reentry": {ticket.Ticket{Reentry: true, Type: 0xffff}, 22},
		"one day": {ticket.Ticket{Days: []string{"2025-09-17"}}, 23},
		"epoch":   {ticket.Ticket{Days: []string{"1970-01-01"}}, 23},
		"last representable base": {
			ticket.Ticket{Days: []string{"2149-06-06", "2149-08-08"}}, 22 + 8,
		},
		"fair days": {
			ticket.Ticket{Days: []string{"2025-09-17", "2025-09-18", "2025-09-20"}, Zones: []uint16{1, 0x8000}}, 23 + 4,
		},
		"full span": {ticket.Ticket{Days: []string{"2024-02-28", "2024-05-01"}}, 22 + 8},
		"byte edge": {ticket.Ticket{Days: []string{"2025-01-01", "2025-01-09"}}, 22 + 2},
		"max zones": {ticket.Ticket{Zones: seq(255)}, 22 + 510},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := tc.in.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.size {
				t.Errorf("len(body) = %d, want %d", len(b), tc.size)
			}
			var got ticket.Ticket
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !sameTicket(&got, &tc.in) {
				t.Fatalf("round trip: got %+v, want %+v", got, tc.in)
			}
		})
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		in := randomTicket(r)
		b, err := in.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(%+v): %v", in, err)
		}
		var got ticket.Ticket
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(%x): %v", b, err)
		}
		if !sameTicket(&got, in) {
			t.Fatalf("round trip: got %+v, want %+v", got, *in)
		}
	}
}

func seq(n int) []uint16 {
	z := make([]uint16, n)
	for i := range z {
		z[i] = uint16(i * 200)
	}
	return z
}

func TestMarshalInvalid(t *testing.T) {
	tests := map[string]ticket.Ticket{
		"unsorted days":    {Days: []string{"2025-09-18", "2025-09-17"}},
		"duplicate day":    {Days: []string{"2025-09-17", "2025-09-17"}},
		"no such date":     {Days: []string{"2025-02-30"}},
		"short month":      {Days: []string{"2025-9-17"}},
		"time of day":      {Days: []string{"2025-09-17T10:00:00Z"}},
		"empty day":        {Days: []string{""}},
		"before 1970":      {Days: []string{"1969-12-31"}},
		"after 2149-06-06": {Days: []string{"2149-06-07"}},
		"span of 65 days":  {Days: []string{"2025-01-01", "2025-03-06"}},
		"unsorted zones":   {Zones: []uint16{5, 4}},
		"duplicate zone":   {Zones: []uint16{4, 4}},
		"too many zones":   {Zones: make([]uint16, 256)},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if b, err := in.MarshalBinary(); !errors.Is(err, ticket.ErrInvalid) {
				t.Fatalf("MarshalBinary = %x, %v; want ErrInvalid", b, err)
			}
			key, _ := MustKey(t, 1)
			if _, err := ticket.Sign(&in, key); !errors.Is(err, ticket.ErrInvalid) {
				t.Fatalf("Sign error = %v, want ErrInvalid", err)
			}
		})
	}
}

// body returns a valid body to be spoiled by the cases below.
func body(t *testing.T) []byte {
	t.Helper()
	in := ticket.Ticket{Days: []string{"2025-09-17", "2025-09-19"}, Zones: []uint16{7, 9}}
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnmarshalRejects(t *testing.T) {
	// Offsets in the body of func body: mask length at 20, mask at 21,
	// zone count at 22, zones at 23.
	tests := map[string]func(b []byte) []byte{
		"empty":               func(b []byte) []byte { return nil },
		"header only":         func(b []byte) []byte { return b[:21] },
		"version 0":           func(b []byte) []byte { b[0] = 0; return b },
		"version 2":           func(b []byte) []byte { b[0] = 2; return b },
		"reserved flag":       func(b []byte) []byte { b[17] |= 0x02; return b },
		"high flag":           func(b []byte) []byte { b[17] |= 0x80; return b },
		"trailing byte":       func(b []byte) []byte { return append(b, 0) },
		"truncated zone":      func(b []byte) []byte { return b[:len(b)-1] },
		"missing zone count":  func(b []byte) []byte { return b[:22] },
		"zones out of order":  func(b []byte) []byte { b[24], b[26] = 9, 7; return b },
		"duplicate zone":      func(b []byte) []byte { b[26] = 7; return b },
		"mask of 9 bytes":     func(b []byte) []byte { b[20] = 9; return b },
		"base day not set":    func(b []byte) []byte { b[21] = 0x04; return b },
		"mask trailing zero":  func(b []byte) []byte { return splice(b, 22, 0) },
		"base day, no mask":   func(b []byte) []byte { return append(b[:20:20], 0, 0) },
		"mask length too big": func(b []byte) []byte { b[20] = 3; return b },
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			b := spoil(body(t))
			var got ticket.Ticket
			if err := got.UnmarshalBinary(b); !errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("UnmarshalBinary(%x) error = %v, want ErrMalformed", b, err)
			}
			if !sameTicket(&got, &ticket.Ticket{}) {
				t.Fatalf("UnmarshalBinary changed the ticket on error: %+v", got)
			}
			// Signed with the right key, the body is still refused: the
			// form is checked, not only the signature.
			key, pub := MustKey(t, 1)
			if _, err := ticket.Verify(rawPayload(key, b), pub); !errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("Verify error = %v, want ErrMalformed", err)
			}
		})
	}
}

// splice adds one byte with value v at offset at, fixing the mask length
// byte so only the canonical-form rule is broken.
func splice(b []byte, at int, v byte) []byte {
	out := append(append(append([]byte{}, b[:at]...), v), b[at:]...)
	out[20]++
	return out
}
