package ticket

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Keyboard layouts Layout reports. A keyboard-wedge reader types a code by
// sending the key presses a US keyboard would need; when the host runs
// another layout, the same keys give other characters. These are the layouts
// met at a Moroccan fair.
const (
	// LayoutUS means the text is the payload itself, in any letter case.
	LayoutUS = "us"
	// LayoutAZERTY means the host runs the Windows French (AZERTY) layout.
	LayoutAZERTY = "azerty"
	// LayoutArabic means the host runs the Windows Arabic (101) layout.
	LayoutArabic = "arabic"
)

// Limits on the work done for one typed text, so a hostile or broken input
// cannot make Normalize (which runs on every scan) expensive.
const (
	// maxTypedLen: Arabic letters take 2 bytes in UTF-8 and the lam-alef
	// keys 4, so typed text may be up to 4 times the payload length.
	maxTypedLen = 4 * maxPayloadLen
	// maxReadings bounds, beyond one step per character, the steps of the
	// search for the readings of a part of an Arabic text.
	maxReadings = 1 << 14
	// maxCandidates bounds the payloads NormalizeAll returns.
	maxCandidates = 64
)

// azertyToUS maps what the Windows French layout types, for the keys a US
// reader presses to send a payload, back to the payload character.
//
// Digit row: unshifted it gives & é " ' ( - è _ ç à; a reader sends digits
// unshifted. With caps lock on, Windows French gives the digits themselves
// on some of those keys, hence the identity entries for digits.
// Letters: A and Q, Z and W are swapped; the US ";" key is the French M key,
// so ":" (Shift+;) arrives as "M", or "m" under caps lock; the US "m" key is
// the French ",?" key, so "m" arrives as "," and "M" as "?". Every other
// letter is where it is on a US keyboard. The result is upper-cased: the
// payload is upper case whatever case the reader typed it in.
var azertyToUS = func() map[rune]byte {
	m := map[rune]byte{
		'&': '1', 'é': '2', '"': '3', '\'': '4', '(': '5',
		'-': '6', 'è': '7', '_': '8', 'ç': '9', 'à': '0',
		'a': 'Q', 'A': 'Q', 'q': 'A', 'Q': 'A',
		'z': 'W', 'Z': 'W', 'w': 'Z', 'W': 'Z',
		'm': ':', 'M': ':', ',': 'M', '?': 'M',
	}
	for c := '0'; c <= '9'; c++ {
		m[c] = byte(c)
	}
	for c := 'A'; c <= 'Z'; c++ {
		if _, ok := m[c]; !ok {
			m[c] = byte(c)
			m[c+'a'-'A'] = byte(c)
		}
	}
	return m
}()

// Arabic letters that take part in the lam-alef ligatures.
const (
	arLam        = 'ل' // U+0644, the unshifted G key
	arAlef       = 'ا' // U+0627, the unshifted H key
	arAlefMadda  = 'آ' // U+0622, Shift+N
	arAlefHamza  = 'أ' // U+0623, Shift+H
	arAlefHamzaB = 'إ' // U+0625, Shift+Y
)

// arabicUnshifted and arabicShifted map what the Windows Arabic (101) layout
// (KBDA1) types, for the keys a US reader presses to send a payload, back to
// the (upper-case) payload character. Both layers are needed: readers send
// Shift for upper case, so an upper-case payload arrives from the shifted
// layer and a lower-case one from the unshifted layer; the layer a text
// comes from also decides how its lam-alef pairs read (see below). Caps lock
// changes nothing on this layout. The digit row gives Western digits, and
// ":" is Shift+; as on a US keyboard; Arabic-Indic digits are accepted too,
// in case some other input path substitutes them.
//
// Keys whose characters are ambiguous or fragile:
//   - B, Shift+B, Shift+G and Shift+T type two characters, lam followed by
//     an alef form (لا, لآ, لأ, لإ), and lam alone is the unshifted G key.
//     So لا is "b" or "gh", لآ is "B" or "gN", لأ is "G" or "gH", لإ is "T"
//     or "gY". Text with no unshifted-layer character at all (an upper-case
//     payload) holds no lone lam, so every pair is one key; otherwise
//     arabicReadings tries the pairs both ways, and VerifyTyped lets the
//     signature choose. The Unicode presentation forms U+FEF5..U+FEFC of
//     these ligatures are read like the two-character sequences.
//   - Shift+U and Shift+M give the curly quotes ‘ (U+2018) and ’ (U+2019),
//     which many fonts draw alike and some software turns into ASCII '; an
//     ASCII apostrophe could be either, so it is not accepted.
//   - Shift+Q, W, E, R, A, S, X give harakat (fatha, fathatan, damma,
//     dammatan, kasra, kasratan, sukun): combining marks that show on the
//     previous letter or not at all. They are distinct code points and map
//     back exactly, but a person cannot read them off a screen.
//   - Shift+D, F, C, V give ] [ } { : bidi mirroring draws them the other
//     way round in right-to-left text; the code points are as listed.
//   - Shift+J gives tatweel (U+0640), drawn as a bare joining stroke.
var (
	arabicUnshifted = map[rune]byte{
		'ض': 'Q', 'ص': 'W', 'ث': 'E', 'ق': 'R', 'ف': 'T', 'غ': 'Y', 'ع': 'U',
		'ه': 'I', 'خ': 'O', 'ح': 'P', 'ش': 'A', 'س': 'S', 'ي': 'D', 'ب': 'F',
		arLam: 'G', arAlef: 'H', 'ت': 'J', 'ن': 'K', 'م': 'L', 'ئ': 'Z', 'ء': 'X',
		'ؤ': 'C', 'ر': 'V', 'ى': 'N', 'ة': 'M',
	}
	arabicShifted = map[rune]byte{
		'\u064e': 'Q', '\u064b': 'W', '\u064f': 'E', '\u064c': 'R', arAlefHamzaB: 'Y',
		'\u2018': 'U', '÷': 'I', '×': 'O', '؛': 'P', '\u0650': 'A', '\u064d': 'S',
		']': 'D', '[': 'F', arAlefHamza: 'H', 'ـ': 'J', '،': 'K', '/': 'L',
		'~': 'Z', '\u0652': 'X', '}': 'C', '{': 'V', arAlefMadda: 'N', '\u2019': 'M',
	}
	// arabicNeutral are the keys typed the same whatever the letter case.
	arabicNeutral = func() map[rune]byte {
		m := map[rune]byte{':': ':'}
		for i := range rune(10) {
			m['0'+i] = byte('0' + i)
			m['٠'+i] = byte('0' + i) // U+0660 Arabic-Indic
			m['۰'+i] = byte('0' + i) // U+06F0 Extended Arabic-Indic
		}
		return m
	}()
)

// arLigature is the key read when lam and this alef form are one key press.
var arLigature = map[rune]byte{
	arAlef: 'B', arAlefMadda: 'B', arAlefHamza: 'G', arAlefHamzaB: 'T',
}

// arSplit is what the pair reads as when lam (unshifted G) and the alef
// form were two key presses.
var arSplit = map[rune]string{
	arAlef: "GH", arAlefMadda: "GN", arAlefHamza: "GH", arAlefHamzaB: "GY",
}

// arPresentation expands the presentation-form ligatures (isolated and final
// forms) into the lam + alef sequences the keyboard types.
var arPresentation = map[rune]rune{
	'\ufef5': arAlefMadda, '\ufef6': arAlefMadda,
	'\ufef7': arAlefHamza, '\ufef8': arAlefHamza,
	'\ufef9': arAlefHamzaB, '\ufefa': arAlefHamzaB,
	'\ufefb': arAlef, '\ufefc': arAlef,
}

// Layout tells which keyboard layout the text was typed under, from how the
// known prefix "CF1:" came out, so a scanner UI can say "set the keyboard to
// US" instead of just "invalid". It returns LayoutUS, LayoutAZERTY,
// LayoutArabic, or "" when the text starts like none of them.
func Layout(typed string) string {
	if len(typed) > maxTypedLen {
		return ""
	}
	return layoutOf(clean(typed))
}

func layoutOf(s string) string {
	var p [4]rune
	for i := range p {
		r, n := utf8.DecodeRuneInString(s)
		if n == 0 {
			return ""
		}
		p[i], s = r, s[n:]
	}
	c, f := unicode.ToUpper(p[0]), unicode.ToUpper(p[1])
	switch {
	case c == 'C' && f == 'F' && p[2] == '1' && p[3] == ':':
		return LayoutUS
	case c == 'C' && f == 'F' && p[2] == '&' && (p[3] == 'M' || p[3] == 'm'):
		return LayoutAZERTY
	case (p[0] == '}' || p[0] == 'ؤ') && (p[1] == '[' || p[1] == 'ب') && p[2] == '1' && p[3] == ':':
		return LayoutArabic
	}
	return ""
}

// clean drops what a reader or a text field adds around a code: surrounding
// white space (the reader's Enter, CR LF, a tab) and, anywhere, invisible
// format characters (bidi marks that right-to-left text fields insert,
// zero-width joiners, a byte-order mark). A payload never holds either.
func clean(typed string) string {
	s := strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, typed)
	return strings.TrimSpace(s)
}

// Normalize turns the text a keyboard-wedge reader typed into the canonical
// payload: surrounding white space removed, any letter case, and the
// characters of a French AZERTY or Arabic (101) host layout mapped back to
// the keys the reader pressed. The layout is recognised from how "CF1:" came
// out (see Layout). The result is well formed but not verified: the caller
// verifies it, or uses VerifyTyped.
//
// Lower-case text typed under the Arabic layout can read as more than one
// well-formed payload, because the B key and G-then-H type the same two
// letters (لا); in tests about one such text in ten does. Normalize then
// returns the likeliest reading, and NormalizeAll all of them for
// VerifyTyped to try. Upper-case text, what readers send, always reads in
// one way.
func Normalize(typed string) (string, error) {
	c, err := NormalizeAll(typed)
	if err != nil {
		return "", err
	}
	return c[0], nil
}

// NormalizeAll is Normalize returning every well-formed payload the text can
// be read as, most likely first: always exactly one, except for lower- or
// mixed-case text typed under the Arabic layout. It never returns an empty
// list without an error.
func NormalizeAll(typed string) ([]string, error) {
	if len(typed) > maxTypedLen {
		return nil, fmt.Errorf("%w: %d bytes of typed text, at most %d", ErrMalformed, len(typed), maxTypedLen)
	}
	s := clean(typed)
	layout := layoutOf(s)
	var p string
	switch layout {
	case LayoutUS:
		p = strings.ToUpper(s)
	case LayoutAZERTY:
		b := make([]byte, 0, len(s))
		for i, r := range s {
			c, ok := azertyToUS[r]
			if !ok {
				return nil, fmt.Errorf("%w: typed on an AZERTY keyboard, but %q at byte %d is no key of a ticket",
					ErrMalformed, r, i)
			}
			b = append(b, c)
		}
		p = string(b)
	case LayoutArabic:
		c, err := arabicReadings(s)
		if err != nil {
			return nil, fmt.Errorf("typed on an Arabic keyboard: %w", err)
		}
		return c, nil
	default:
		return nil, fmt.Errorf("%w: text does not start with %q as typed on a US, AZERTY or Arabic keyboard",
			ErrMalformed, Prefix)
	}
	if _, _, _, err := parse(p); err != nil {
		if layout == LayoutUS {
			return nil, err
		}
		return nil, fmt.Errorf("typed on an AZERTY keyboard: %w", err)
	}
	return []string{p}, nil
}

// VerifyTyped normalizes typed text and verifies it, trying each reading
// NormalizeAll gives, and returns the ticket with its canonical payload.
// It is what a scanner calls on a line from a keyboard wedge.
func VerifyTyped(typed string, keys ...ed25519.PublicKey) (*Ticket, string, error) {
	cands, err := NormalizeAll(typed)
	if err != nil {
		return nil, "", err
	}
	var first error
	for _, c := range cands {
		t, err := Verify(c, keys...)
		if err == nil {
			return t, c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, "", first
}

// arUnit is one key press, or a lam-alef pair that may be one key press (a
// ligature key) or two.
type arUnit struct {
	one  string // the reading as one key; the only reading when two is ""
	two  string // the reading as lam then the alef key
	size int    // len(one)
}

// arabicReadings maps Arabic-layout text back to the payloads it can be.
func arabicReadings(s string) ([]string, error) {
	rs := make([]rune, 0, len(s)/2)
	for _, r := range s {
		if a, ok := arPresentation[r]; ok {
			rs = append(rs, arLam, a)
			continue
		}
		rs = append(rs, r)
	}
	var parts [][]arUnit
	var cur []arUnit
	unshifted := false // any unshifted-layer letter: lower case was typed
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r == arLam && i+1 < len(rs) {
			if lig, ok := arLigature[rs[i+1]]; ok {
				// لا is unshifted read either way; the other pairs hold a
				// shifted alef form read either way.
				unshifted = unshifted || rs[i+1] == arAlef
				cur = append(cur, arUnit{one: string(lig), two: arSplit[rs[i+1]], size: 1})
				i++
				continue
			}
		}
		c, ok := arabicNeutral[r]
		if !ok {
			if c, ok = arabicUnshifted[r]; ok {
				unshifted = true
			} else if c, ok = arabicShifted[r]; !ok {
				return nil, fmt.Errorf("%w: %q at character %d is no key of a ticket", ErrMalformed, r, i)
			}
		}
		if c == ':' {
			parts = append(parts, cur)
			cur = nil
			continue
		}
		cur = append(cur, arUnit{one: string(c), size: 1})
	}
	parts = append(parts, cur)
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d ':'-separated parts, want 3", ErrMalformed, len(parts))
	}
	if !unshifted {
		// Upper case only: a split pair would need a lone, unshifted lam.
		for _, p := range parts {
			for i := range p {
				p[i].two = ""
			}
		}
	}
	// layoutOf has checked the prefix part, which holds no lam.
	bodies, err := readings(parts[1], bodyPart)
	if err != nil {
		return nil, err
	}
	sigs, err := readings(parts[2], sigPart)
	if err != nil {
		return nil, err
	}
	if len(bodies)*len(sigs) > maxCandidates {
		return nil, fmt.Errorf("%w: text reads as %d different tickets", ErrMalformed, len(bodies)*len(sigs))
	}
	var out []string
	for _, b := range bodies {
		for _, g := range sigs {
			out = append(out, Prefix+b+":"+g)
		}
	}
	return out, nil
}

// part is what one ':'-separated part of a payload must look like, for the
// search in readings.
type part struct {
	// prefix checks the bytes decoded so far (whole 5-byte groups) and
	// returns how many characters the part must have in all, or -1 while
	// that is not yet known; ok false prunes the reading.
	prefix func(b []byte) (need int, ok bool)
	// final checks a complete reading.
	final func(s string) error
	// maxLen is the most characters the part can have.
	maxLen int
}

var bodyPart = part{
	prefix: func(b []byte) (int, bool) {
		if len(b) >= 1 && b[0] != Version {
			return 0, false
		}
		if len(b) >= 18 && b[17]&^flagReentr != 0 {
			return 0, false
		}
		if len(b) < headerLen {
			return -1, true
		}
		n := int(b[20])
		switch {
		case n > maxMaskLen, n == 0 && (b[18] != 0 || b[19] != 0):
			return 0, false
		case n > 0 && len(b) > headerLen && b[headerLen]&1 == 0:
			return 0, false
		case n > 0 && len(b) >= headerLen+n && b[headerLen+n-1] == 0:
			return 0, false
		case len(b) <= headerLen+n:
			return -1, true
		}
		m := int(b[headerLen+n])
		for i := headerLen + n + 3; i+1 < len(b); i += 2 {
			if binary.BigEndian.Uint16(b[i:]) <= binary.BigEndian.Uint16(b[i-2:]) {
				return 0, false // zones must increase
			}
		}
		return b32.EncodedLen(headerLen + n + 1 + 2*m), true
	},
	final: func(s string) error {
		b, err := decodeBody(s)
		if err != nil {
			return err
		}
		var t Ticket
		return t.UnmarshalBinary(b)
	},
	maxLen: b32.EncodedLen(maxBodyLen),
}

var sigPart = part{
	prefix: func([]byte) (int, bool) { return sigTextLen, true },
	final: func(s string) error {
		_, err := decodeSig(s)
		return err
	},
	maxLen: sigTextLen,
}

// readings returns the distinct strings that units can read as and that
// p accepts, fewest split lam-alef pairs first: a ligature key is far
// likelier than lam then alef (one letter in 32 against a pair in 1024).
//
// It is a depth-first search over the ambiguous pairs, pruned as soon as a
// reading cannot be right: every 8 characters the decoded bytes are checked
// against the body's rules (version, flags, day mask, increasing zones), and
// once the length is known (the signature's is fixed; a body's follows from
// its header) a reading that cannot reach it is dropped. A wrong split
// shifts every later character by 5 bits, so it dies within a few groups
// and the search stays close to linear. It gives up after a work budget,
// so a hostile text costs little.
func readings(units []arUnit, p part) ([]string, error) {
	// minRest[i], maxRest[i]: the fewest and most characters units[i:]
	// can read as.
	minRest := make([]int, len(units)+1)
	maxRest := make([]int, len(units)+1)
	for i := len(units) - 1; i >= 0; i-- {
		minRest[i], maxRest[i] = minRest[i+1]+units[i].size, maxRest[i+1]+units[i].size
		if units[i].two != "" {
			maxRest[i] = maxRest[i+1] + len(units[i].two)
		}
	}
	type reading struct {
		s      string
		splits int
	}
	var (
		found  []reading
		seen   = map[string]bool{}
		text   = make([]byte, 0, maxRest[0])
		bytes  = make([]byte, 0, maxRest[0]*5/8+5)
		budget = 16*len(units) + maxReadings
	)
	var walk func(i, splits int) bool
	walk = func(i, splits int) bool {
		if budget--; budget < 0 {
			return false
		}
		for 8*(len(bytes)/5+1) <= len(text) {
			g := len(bytes) / 5 * 8
			dec, err := decode32(string(text[g : g+8]))
			if err != nil {
				return true
			}
			bytes = append(bytes, dec...)
		}
		need, ok := p.prefix(bytes)
		if !ok || len(text)+minRest[i] > p.maxLen ||
			need >= 0 && (len(text)+minRest[i] > need || len(text)+maxRest[i] < need) {
			return true
		}
		if i == len(units) {
			if s := string(text); !seen[s] && p.final(s) == nil {
				seen[s] = true
				found = append(found, reading{s, splits})
			}
			return true
		}
		nt, nb := len(text), len(bytes)
		text = append(text, units[i].one...)
		if !walk(i+1, splits) {
			return false
		}
		text, bytes = text[:nt], bytes[:nb]
		if units[i].two != "" {
			text = append(text, units[i].two...)
			if !walk(i+1, splits+1) {
				return false
			}
			text, bytes = text[:nt], bytes[:nb]
		}
		return true
	}
	if !walk(0, 0) {
		return nil, fmt.Errorf("%w: too many ways to read the lam-alef pairs", ErrMalformed)
	}
	if len(found) == 0 {
		// Say why the likeliest reading, every pair one key, fails.
		var sb strings.Builder
		for _, u := range units {
			sb.WriteString(u.one)
		}
		if err := p.final(sb.String()); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: no reading of the lam-alef pairs is well formed", ErrMalformed)
	}
	slices.SortStableFunc(found, func(a, b reading) int { return a.splits - b.splits })
	out := make([]string, len(found))
	for i, r := range found {
		out[i] = r.s
	}
	return out, nil
}
