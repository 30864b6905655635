package ticket_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"crowdflow/ticket"
)

func TestTypeOnPrefix(t *testing.T) {
	// The test keymaps themselves, on the one string everyone can check by
	// hand against a keyboard: "CF1:" and "cf1:".
	tests := map[string]struct {
		layout string
		in     string
		caps   bool
		want   string
	}{
		"us":                    {ticket.LayoutUS, "CF1:", false, "CF1:"},
		"azerty":                {ticket.LayoutAZERTY, "CF1:", false, "CF&M"},
		"azerty lower case":     {ticket.LayoutAZERTY, "cf1:", false, "cf&M"},
		"azerty caps lock":      {ticket.LayoutAZERTY, "CF1:", true, "cf&m"},
		"azerty letters":        {ticket.LayoutAZERTY, "AQZWM2", false, "QAWZ?é"},
		"azerty digits":         {ticket.LayoutAZERTY, "234567", false, `é"'(-è`},
		"azerty digits caps":    {ticket.LayoutAZERTY, "234567", true, `2"'567`},
		"arabic":                {ticket.LayoutArabic, "CF1:", false, "}[1:"},
		"arabic lower case":     {ticket.LayoutArabic, "cf1:", false, "\u0624\u06281:"},
		"arabic ligature keys":  {ticket.LayoutArabic, "BGTb", false, "\u0644\u0622\u0644\u0623\u0644\u0625\u0644\u0627"},
		"arabic caps lock idle": {ticket.LayoutArabic, "CF1:", true, "}[1:"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := typeOn(tc.layout, tc.in, tc.caps); got != tc.want {
				t.Fatalf("typeOn = %q, want %q", got, tc.want)
			}
		})
	}
}

// variant is one way a reader may deliver a payload.
type variant struct {
	layout string
	typed  func(r *rand.Rand, p string) string
	// exact: the text reads as one payload only. Lower- and mixed-case
	// Arabic can read as several (lam-alef), which VerifyTyped resolves.
	exact bool
}

func variants() map[string]variant {
	on := func(layout string, caps bool, f func(*rand.Rand, string) string) func(*rand.Rand, string) string {
		return func(r *rand.Rand, p string) string { return typeOn(layout, f(r, p), caps) }
	}
	upper := func(_ *rand.Rand, p string) string { return p }
	lower := func(_ *rand.Rand, p string) string { return strings.ToLower(p) }
	return map[string]variant{
		"us upper":          {ticket.LayoutUS, on(ticket.LayoutUS, false, upper), true},
		"us lower":          {ticket.LayoutUS, on(ticket.LayoutUS, false, lower), true},
		"us mixed":          {ticket.LayoutUS, on(ticket.LayoutUS, false, mixCase), true},
		"us caps lock":      {ticket.LayoutUS, on(ticket.LayoutUS, true, upper), true},
		"azerty upper":      {ticket.LayoutAZERTY, on(ticket.LayoutAZERTY, false, upper), true},
		"azerty lower":      {ticket.LayoutAZERTY, on(ticket.LayoutAZERTY, false, lower), true},
		"azerty mixed":      {ticket.LayoutAZERTY, on(ticket.LayoutAZERTY, false, mixCase), true},
		"azerty caps lock":  {ticket.LayoutAZERTY, on(ticket.LayoutAZERTY, true, upper), true},
		"azerty caps lower": {ticket.LayoutAZERTY, on(ticket.LayoutAZERTY, true, lower), true},
		"arabic upper":      {ticket.LayoutArabic, on(ticket.LayoutArabic, false, upper), true},
		"arabic lower":      {ticket.LayoutArabic, on(ticket.LayoutArabic, false, lower), false},
		"arabic mixed":      {ticket.LayoutArabic, on(ticket.LayoutArabic, false, mixCase), false},
	}
}

// wrappers are what the reader or the text field adds around the code.
var wrappers = map[string]func(string) string{
	"bare":       func(s string) string { return s },
	"enter":      func(s string) string { return s + "\r\n" },
	"spaces":     func(s string) string { return "  \t" + s + " \n" },
	"bidi marks": func(s string) string { return "\u200f" + s + "\u200e\n" },
	"bom":        func(s string) string { return "\ufeff" + s },
}

func TestNormalizeRecovers(t *testing.T) {
	key, pub := MustKey(t, 1)
	for name, v := range variants() {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(len(name))))
			ambiguous := 0
			for i := range 300 {
				in := randomTicket(r)
				p := MustSign(t, in, key)
				wrap := wrappers[slices.Sorted(mapKeys(wrappers))[i%len(wrappers)]]
				typed := wrap(v.typed(r, p))
				if got := ticket.Layout(typed); got != v.layout {
					t.Fatalf("Layout(%q) = %q, want %q", typed, got, v.layout)
				}
				all, err := ticket.NormalizeAll(typed)
				if err != nil {
					t.Fatalf("NormalizeAll(%q): %v", typed, err)
				}
				if !slices.Contains(all, p) {
					t.Fatalf("NormalizeAll(%q) = %q, does not hold %q", typed, all, p)
				}
				got, err := ticket.Normalize(typed)
				if err != nil || got != all[0] {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", typed, got, err, all[0])
				}
				if len(all) > 1 {
					ambiguous++
				}
				if v.exact && (len(all) != 1 || got != p) {
					t.Fatalf("Normalize(%q) = %q (of %q), want exactly %q", typed, got, all, p)
				}
				tk, canon, err := ticket.VerifyTyped(typed, pub)
				if err != nil || canon != p || !sameTicket(tk, in) {
					t.Fatalf("VerifyTyped(%q) = %+v, %q, %v; want %+v, %q", typed, tk, canon, err, *in, p)
				}
			}
			t.Logf("%d of 300 texts read as more than one payload", ambiguous)
		})
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestVerifyRefusesLowerCaseNormalizeRecovers(t *testing.T) {
	key, pub := MustKey(t, 1)
	p := MustSign(t, flips()["full"], key)
	lower := strings.ToLower(p)
	if _, err := ticket.Verify(lower, pub); !errors.Is(err, ticket.ErrMalformed) {
		t.Fatalf("Verify(lower case) error = %v, want ErrMalformed", err)
	}
	got, err := ticket.Normalize(lower)
	if err != nil || got != p {
		t.Fatalf("Normalize(lower case) = %q, %v; want %q", got, err, p)
	}
	if _, err := ticket.Verify(got, pub); err != nil {
		t.Fatalf("Verify(Normalize(lower case)): %v", err)
	}
}

// TestNormalizeArabicAmbiguity types, in lower case on the Arabic layout, a
// payload whose signature holds both "b" and "gh": both come out as lam-alef,
// so the text reads as several payloads, and only the signature tells which.
func TestNormalizeArabicAmbiguity(t *testing.T) {
	key, pub := MustKey(t, 1)
	r := rand.New(rand.NewPCG(11, 12))
	var p string
	var in *ticket.Ticket
	for tries := 0; ; tries++ {
		if tries > 100000 {
			t.Fatal("no payload with both B and GH in its signature")
		}
		in = randomTicket(r)
		p = MustSign(t, in, key)
		sig := p[strings.LastIndexByte(p, ':')+1:]
		if strings.Contains(sig, "GH") && strings.Contains(strings.ReplaceAll(sig, "GH", ""), "B") {
			break
		}
	}
	typed := typeOn(ticket.LayoutArabic, strings.ToLower(p), false)
	all, err := ticket.NormalizeAll(typed)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 || !slices.Contains(all, p) {
		t.Fatalf("NormalizeAll = %q, want several readings including %q", all, p)
	}
	tk, canon, err := ticket.VerifyTyped(typed, pub)
	if err != nil || canon != p || !sameTicket(tk, in) {
		t.Fatalf("VerifyTyped = %+v, %q, %v; want %q", tk, canon, err, p)
	}
	// With the wrong key every reading fails, and the error says why.
	_, other := MustKey(t, 2)
	if _, _, err := ticket.VerifyTyped(typed, other); !errors.Is(err, ticket.ErrSignature) {
		t.Fatalf("VerifyTyped with the wrong key: error %v, want ErrSignature", err)
	}
}

func TestArabicPresentationForms(t *testing.T) {
	key, _ := MustKey(t, 1)
	r := rand.New(rand.NewPCG(13, 14))
	forms := strings.NewReplacer(
		"\u0644\u0627", "\ufefb", "\u0644\u0622", "\ufef5",
		"\u0644\u0623", "\ufef7", "\u0644\u0625", "\ufef9",
	)
	for range 50 {
		p := MustSign(t, randomTicket(r), key)
		typed := forms.Replace(typeOn(ticket.LayoutArabic, p, false))
		if got, err := ticket.Normalize(typed); err != nil || got != p {
			t.Fatalf("Normalize(%q) = %q, %v; want %q", typed, got, err, p)
		}
	}
}

func TestLayout(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"us":                 {"CF1:ABC", ticket.LayoutUS},
		"us lower":           {"cf1:abc", ticket.LayoutUS},
		"us with enter":      {"\r\nCF1:\r\n", ticket.LayoutUS},
		"azerty":             {"CF&MQBC", ticket.LayoutAZERTY},
		"azerty caps lock":   {"cf&m", ticket.LayoutAZERTY},
		"arabic shifted":     {"}[1:", ticket.LayoutArabic},
		"arabic unshifted":   {"\u0624\u06281:", ticket.LayoutArabic},
		"arabic rtl mark":    {"\u200f}[1:", ticket.LayoutArabic},
		"empty":              {"", ""},
		"short":              {"CF1", ""},
		"other text":         {"hello world", ""},
		"other version":      {"CF2:AAAA", ""},
		"azerty, no shift":   {"cf&,", ""},
		"arabic, other key":  {"}]1:", ""},
		"url":                {"https://example.org/t/CF1:AAAA", ""},
		"arabic-indic digit": {"}[\u0661:", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ticket.Layout(tc.in); got != tc.want {
				t.Fatalf("Layout(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	key, _ := MustKey(t, 1)
	p := MustSign(t, flips()["full"], key)
	az := typeOn(ticket.LayoutAZERTY, p, false)
	ar := typeOn(ticket.LayoutArabic, p, false)
	tests := map[string]string{
		"empty":                  "",
		"blank line":             "\r\n",
		"no known prefix":        "hello world",
		"other version":          "CF2:" + p[4:],
		"truncated":              p[:len(p)-1],
		"space inside":           p[:50] + " " + p[50:],
		"us, then arabic":        p[:50] + "\u0636" + p[51:],
		"azerty, unknown key":    az[:20] + "$" + az[21:],
		"azerty, digit 1 inside": az[:10] + "1" + az[11:],
		"arabic, unknown letter": strings.Replace(ar, "}", "\u0630", 2),
		"arabic, extra colon":    ar + ":",
		"arabic, truncated":      ar[:len(ar)-2],
		"lam-alef flood":         "}[1:" + strings.Repeat("\u0644\u0627", 500) + ":" + strings.Repeat("\u0644\u0627", 60),
		"too long":               p + strings.Repeat("A", 20000),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ticket.Normalize(in)
			if !errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("Normalize(%q) = %q, %v; want ErrMalformed", in, got, err)
			}
			if err.Error() == ticket.ErrMalformed.Error() {
				t.Fatalf("error %q says no more than the sentinel", err)
			}
			t.Log(err)
		})
	}
}
