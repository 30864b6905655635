package ticket_test

import (
	"crypto/ed25519"
	"encoding/base32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"crowdflow/ticket"
)

// MustKey returns a deterministic key pair, different per seed, so tests and
// fuzz seeds are reproducible.
func MustKey(tb testing.TB, seed byte) (ed25519.PrivateKey, ed25519.PublicKey) {
	tb.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed + byte(i)
	}
	priv := ed25519.NewKeyFromSeed(s)
	return priv, priv.Public().(ed25519.PublicKey)
}

// MustSign signs t and fails the test on error.
func MustSign(tb testing.TB, t *ticket.Ticket, key ed25519.PrivateKey) string {
	tb.Helper()
	p, err := ticket.Sign(t, key)
	if err != nil {
		tb.Fatalf("Sign(%+v): %v", t, err)
	}
	return p
}

// rawPayload builds a payload around any body bytes with a valid signature,
// so tests can show that a malformed body is refused for its form and not
// merely for its signature.
func rawPayload(key ed25519.PrivateKey, body []byte) string {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	return "CF1:" + enc.EncodeToString(body) + ":" + enc.EncodeToString(ed25519.Sign(key, body))
}

// randomTicket draws a ticket with every field exercised: no days or up to a
// full 64-day span, no zones, a few, or now and then the maximum of 255.
func randomTicket(r *rand.Rand) *ticket.Ticket {
	t := &ticket.Ticket{Type: uint16(r.Uint32()), Reentry: r.IntN(2) == 0}
	for i := range t.Event {
		t.Event[i] = byte(r.Uint32())
	}
	for i := range t.ID {
		t.ID[i] = byte(r.Uint32())
	}
	if r.IntN(4) > 0 {
		base := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(3000)-1500)
		span := 1 + r.IntN(ticket.MaxDaySpan)
		for d := range span {
			if d == 0 || d == span-1 || r.IntN(2) == 0 {
				t.Days = append(t.Days, base.AddDate(0, 0, d).Format("2006-01-02"))
			}
		}
	}
	var nz int
	switch r.IntN(20) {
	case 0:
		nz = ticket.MaxZones
	case 1, 2, 3, 4, 5, 6:
		nz = 0
	default:
		nz = 1 + r.IntN(6)
	}
	seen := map[uint16]bool{}
	for len(t.Zones) < nz {
		z := uint16(r.Uint32())
		if !seen[z] {
			seen[z] = true
			t.Zones = append(t.Zones, z)
		}
	}
	slices.Sort(t.Zones)
	return t
}

// sameTicket compares tickets treating nil and empty lists alike.
func sameTicket(a, b *ticket.Ticket) bool {
	return a.Event == b.Event && a.ID == b.ID && a.Type == b.Type && a.Reentry == b.Reentry &&
		slices.Equal(a.Days, b.Days) && slices.Equal(a.Zones, b.Zones)
}

// The forward keyboard maps: for each physical key, named by what it types
// unshifted on a US keyboard, what it types on the host layout unshifted
// and with Shift. They are written from the layouts' key tables (Windows
// KBDFR and KBDA1), independently of the reverse maps in the package.
var (
	frenchKeys = func() map[rune][2]string {
		m := map[rune][2]string{
			'1': {"&", "1"}, '2': {"é", "2"}, '3': {`"`, "3"}, '4': {"'", "4"}, '5': {"(", "5"},
			'6': {"-", "6"}, '7': {"è", "7"}, '8': {"_", "8"}, '9': {"ç", "9"}, '0': {"à", "0"},
			'q': {"a", "A"}, 'w': {"z", "Z"}, 'a': {"q", "Q"}, 'z': {"w", "W"},
			';': {"m", "M"}, 'm': {",", "?"},
		}
		for c := 'a'; c <= 'z'; c++ {
			if _, ok := m[c]; !ok {
				m[c] = [2]string{string(c), string(unicode.ToUpper(c))}
			}
		}
		return m
	}()
	// frenchCapsKeys are the keys on which caps lock acts as Shift in
	// KBDFR: the letters (the US ';' key is the French M) and the digit
	// keys 2, 5, 6, 7, 8, 9, 0.
	frenchCapsKeys = "abcdefghijklnopqrstuvwxyz;2567890"

	arabicKeys = map[rune][2]string{
		'1': {"1", "!"}, '2': {"2", "@"}, '3': {"3", "#"}, '4': {"4", "$"}, '5': {"5", "%"},
		'6': {"6", "^"}, '7': {"7", "&"}, '8': {"8", "*"}, '9': {"9", ")"}, '0': {"0", "("},
		'q': {"\u0636", "\u064e"}, 'w': {"\u0635", "\u064b"}, 'e': {"\u062b", "\u064f"},
		'r': {"\u0642", "\u064c"}, 't': {"\u0641", "\u0644\u0625"}, 'y': {"\u063a", "\u0625"},
		'u': {"\u0639", "\u2018"}, 'i': {"\u0647", "\u00f7"}, 'o': {"\u062e", "\u00d7"},
		'p': {"\u062d", "\u061b"},
		'a': {"\u0634", "\u0650"}, 's': {"\u0633", "\u064d"}, 'd': {"\u064a", "]"},
		'f': {"\u0628", "["}, 'g': {"\u0644", "\u0644\u0623"}, 'h': {"\u0627", "\u0623"},
		'j': {"\u062a", "\u0640"}, 'k': {"\u0646", "\u060c"}, 'l': {"\u0645", "/"},
		';': {"\u0643", ":"},
		'z': {"\u0626", "~"}, 'x': {"\u0621", "\u0652"}, 'c': {"\u0624", "}"},
		'v': {"\u0631", "{"}, 'b': {"\u0644\u0627", "\u0644\u0622"}, 'n': {"\u0649", "\u0622"},
		'm': {"\u0629", "\u2019"},
	}
)

// typeOn simulates a keyboard-wedge reader configured for US English typing
// text into a host running the given layout: the reader presses, for each
// character, the US key and Shift state that make it, and the host turns
// them into its own characters.
func typeOn(layout, text string, capsLock bool) string {
	var sb strings.Builder
	for _, c := range text {
		key, shift := c, false
		switch {
		case c >= 'A' && c <= 'Z':
			key, shift = unicode.ToLower(c), true
		case c == ':':
			key, shift = ';', true
		}
		switch layout {
		case ticket.LayoutUS:
			if capsLock && unicode.IsLetter(c) {
				c = unicode.SimpleFold(c)
			}
			sb.WriteRune(c)
		case ticket.LayoutAZERTY:
			if capsLock && strings.ContainsRune(frenchCapsKeys, key) {
				shift = !shift
			}
			sb.WriteString(pick(frenchKeys, key, shift))
		case ticket.LayoutArabic: // caps lock does nothing on KBDA1
			sb.WriteString(pick(arabicKeys, key, shift))
		default:
			panic("unknown layout " + layout)
		}
	}
	return sb.String()
}

func pick(m map[rune][2]string, key rune, shift bool) string {
	k, ok := m[key]
	if !ok {
		panic("no key " + string(key))
	}
	if shift {
		return k[1]
	}
	return k[0]
}

// mixCase flips the case of about half the letters.
func mixCase(r *rand.Rand, s string) string {
	b := []rune(s)
	for i, c := range b {
		if unicode.IsLetter(c) && r.IntN(2) == 0 {
			b[i] = unicode.SimpleFold(c)
		}
	}
	return string(b)
}
