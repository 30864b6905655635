package ticket_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base32"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"crowdflow/ticket"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func TestSignVerifyRoundTrip(t *testing.T) {
	key, pub := MustKey(t, 1)
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		in := randomTicket(r)
		p := MustSign(t, in, key)
		if !strings.HasPrefix(p, ticket.Prefix) || strings.Trim(p[len(ticket.Prefix):], alphabet+":") != "" {
			t.Fatalf("payload %q is not CF1: and upper-case base32", p)
		}
		got, err := ticket.Verify(p, pub)
		if err != nil {
			t.Fatalf("Verify(%q): %v", p, err)
		}
		if !sameTicket(got, in) {
			t.Fatalf("Verify: got %+v, want %+v", *got, *in)
		}
	}
	// The typical ticket, all days and zones of its type, is 144
	// characters: the size the QR version is chosen for.
	if p := MustSign(t, &ticket.Ticket{}, key); len(p) != 144 {
		t.Errorf("minimal payload has %d characters, want 144", len(p))
	}
}

// flips returns the tickets whose every bit is flipped below.
func flips() map[string]*ticket.Ticket {
	return map[string]*ticket.Ticket{
		"minimal": {},
		"full": {
			Event: ticket.EventHash("ouarzazate-2025"), ID: ticket.ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
			Type: ticket.NameHash("visitor"), Days: []string{"2025-09-17", "2025-09-19"},
			Zones: []uint16{3, 0x8001}, Reentry: true,
		},
	}
}

func TestVerifyRejectsEveryBitFlip(t *testing.T) {
	key, pub := MustKey(t, 1)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for name, in := range flips() {
		t.Run(name, func(t *testing.T) {
			p := MustSign(t, in, key)
			parts := strings.Split(p, ":")
			body, err := enc.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			sig, err := enc.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			for i := range 8 * (len(body) + len(sig)) {
				b, s := bytes.Clone(body), bytes.Clone(sig)
				if i < 8*len(b) {
					b[i/8] ^= 1 << (i % 8)
				} else {
					j := i - 8*len(b)
					s[j/8] ^= 1 << (j % 8)
				}
				q := "CF1:" + enc.EncodeToString(b) + ":" + enc.EncodeToString(s)
				got, err := ticket.Verify(q, pub)
				if err == nil {
					t.Fatalf("bit %d flipped: Verify accepted %+v", i, *got)
				}
				if !errors.Is(err, ticket.ErrMalformed) && !errors.Is(err, ticket.ErrSignature) {
					t.Fatalf("bit %d flipped: error %v is neither ErrMalformed nor ErrSignature", i, err)
				}
			}
		})
	}
}

func TestVerifyRejectsEveryCharacterChange(t *testing.T) {
	key, pub := MustKey(t, 1)
	p := MustSign(t, flips()["full"], key)
	for i := range len(p) {
		for _, c := range alphabet + ":1" {
			if byte(c) == p[i] {
				continue
			}
			q := p[:i] + string(c) + p[i+1:]
			if _, err := ticket.Verify(q, pub); err == nil {
				t.Fatalf("character %d changed to %q: Verify accepted %q", i, c, q)
			}
		}
	}
}

func TestVerifyKeys(t *testing.T) {
	oldKey, oldPub := MustKey(t, 1)
	_, newPub := MustKey(t, 2)
	p := MustSign(t, flips()["full"], oldKey)
	tests := map[string]struct {
		keys []ed25519.PublicKey
		want error
	}{
		"right key":              {[]ed25519.PublicKey{oldPub}, nil},
		"wrong key":              {[]ed25519.PublicKey{newPub}, ticket.ErrSignature},
		"no key":                 {nil, ticket.ErrSignature},
		"rotation, new first":    {[]ed25519.PublicKey{newPub, oldPub}, nil},
		"rotation, old first":    {[]ed25519.PublicKey{oldPub, newPub}, nil},
		"short key":              {[]ed25519.PublicKey{oldPub[:31]}, ticket.ErrSignature},
		"short key then good":    {[]ed25519.PublicKey{oldPub[:31], oldPub}, nil},
		"private key bytes":      {[]ed25519.PublicKey{ed25519.PublicKey(oldKey)}, ticket.ErrSignature},
		"empty key":              {[]ed25519.PublicKey{{}}, ticket.ErrSignature},
		"all-zero key (invalid)": {[]ed25519.PublicKey{make(ed25519.PublicKey, 32)}, ticket.ErrSignature},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ticket.Verify(p, tc.keys...)
			if tc.want == nil {
				if err != nil || !sameTicket(got, flips()["full"]) {
					t.Fatalf("Verify = %+v, %v; want the ticket", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyRejectsNonCanonical(t *testing.T) {
	key, pub := MustKey(t, 1)
	p := MustSign(t, &ticket.Ticket{ID: ticket.ID{9, 9, 9}}, key)
	parts := strings.Split(p, ":")
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	// trailing turns on an unused low bit of the last character: the
	// standard decoder still yields the same bytes (checked below), so only
	// the canonical-spelling rule refuses it.
	trailing := func(s string) string {
		i := strings.IndexByte(alphabet, s[len(s)-1])
		out := s[:len(s)-1] + string(alphabet[i^1])
		a, errA := enc.DecodeString(s)
		b, errB := enc.DecodeString(out)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("test setup: %q and %q do not decode alike", s, out)
		}
		return out
	}
	tests := map[string]string{
		"lower case":             strings.ToLower(p),
		"lower-case prefix":      "cf1:" + parts[1] + ":" + parts[2],
		"lower-case body":        "CF1:" + strings.ToLower(parts[1]) + ":" + parts[2],
		"other version":          "CF2:" + parts[1] + ":" + parts[2],
		"no prefix":              parts[1] + ":" + parts[2],
		"padded body":            "CF1:" + parts[1] + "====:" + parts[2],
		"padded signature":       p + "=====",
		"trailing bits in body":  "CF1:" + trailing(parts[1]) + ":" + parts[2],
		"trailing bits in sig":   "CF1:" + parts[1] + ":" + trailing(parts[2]),
		"trailing newline":       p + "\n",
		"trailing CR LF":         p + "\r\n",
		"leading space":          " " + p,
		"newline inside body":    "CF1:" + parts[1][:8] + "\n" + parts[1][8:] + ":" + parts[2],
		"newline inside sig":     "CF1:" + parts[1] + ":" + parts[2][:8] + "\r" + parts[2][8:],
		"extra part":             p + ":AAAA",
		"no signature":           "CF1:" + parts[1],
		"empty signature":        "CF1:" + parts[1] + ":",
		"short signature":        p[:len(p)-8],
		"signature plus 8 chars": p + "AAAAAAAA",
		"empty":                  "",
		"prefix only":            ticket.Prefix,
		"digit 1 in body":        "CF1:1" + parts[1][1:] + ":" + parts[2],
		"too long":               p + strings.Repeat("A", 5000),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if got, err := ticket.Verify(in, pub); !errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("Verify = %+v, %v; want ErrMalformed", got, err)
			}
		})
	}
}

func TestSignBadKey(t *testing.T) {
	for name, key := range map[string]ed25519.PrivateKey{
		"nil":   nil,
		"short": make(ed25519.PrivateKey, 32),
	} {
		t.Run(name, func(t *testing.T) {
			if p, err := ticket.Sign(&ticket.Ticket{}, key); err == nil {
				t.Fatalf("Sign = %q, want an error", p)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	key, pub := MustKey(b, 1)
	_, other := MustKey(b, 2)
	p := MustSign(b, flips()["full"], key)
	b.Run("one key", func(b *testing.B) {
		for b.Loop() {
			if _, err := ticket.Verify(p, pub); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rotation, second key", func(b *testing.B) {
		for b.Loop() {
			if _, err := ticket.Verify(p, other, pub); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed lower case", func(b *testing.B) {
		typed := strings.ToLower(p) + "\r\n"
		for b.Loop() {
			if _, _, err := ticket.VerifyTyped(typed, pub); err != nil {
				b.Fatal(err)
			}
		}
	})
}
