package scanner

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"crowdflow/ticket"
)

// LineKind is what a typed line asks for.
type LineKind int

// The kinds of line.
const (
	Blank   LineKind = iota // nothing: ignored
	Payload                 // a ticket scan
	Tally                   // +N or -N people without tickets
)

// MaxTally is the largest count one tally line may carry (as the gateway's).
const MaxTally = 1000

// maxPayload is the longest text the gateway takes as a ticket (wire.Decode).
const maxPayload = 512

// ErrBadLine means a line is neither a payload, a tally nor blank.
var ErrBadLine = errors.New("bad line")

// Line is one line a reader or a person typed.
type Line struct {
	Kind LineKind
	// Text is the line without its surrounding white space.
	Text string
	// Payload is, for a scan, what to send: the canonical payload when the
	// text reads as exactly one (in any letter case, and typed under a
	// US, AZERTY or Arabic layout), else Text itself, which the gateway
	// reads the same way (ambiguous Arabic text is resolved there, or
	// offline, by trying each reading's signature).
	Payload string
	// Layout is ticket.Layout of the text: LayoutUS, LayoutAZERTY,
	// LayoutArabic, or "" when the text does not start like a ticket.
	Layout string
	// Delta is a tally's count: positive in, negative out.
	Delta int
}

// WrongLayout reports whether the reader typed under a keyboard layout other
// than US: the payload is recovered, but the reader (or the computer) should
// be set to match, since a layout the recovery does not know would garble
// the codes.
func (l Line) WrongLayout() bool {
	return l.Layout == ticket.LayoutAZERTY || l.Layout == ticket.LayoutArabic
}

// azertyDigits maps the unshifted digit row of a French (AZERTY) keyboard
// back to its digits, so "+&" typed by hand on such a laptop tallies +1.
// The 6 key, which gives "-", is left out: "--1" must be an error, not -61.
var azertyDigits = map[rune]int{'&': 1, 'é': 2, '"': 3, '\'': 4, '(': 5, 'è': 7, '_': 8, 'ç': 9, 'à': 0}

// ParseLine reads one line: blank (ignored), a tally "+N" / "-N" with N from
// 1 to MaxTally (digits, or the AZERTY digit row), or else a ticket payload.
// A line that starts with + or - is always a tally (no payload does, in any
// layout), so a mistyped tally is an error, never a scan.
func ParseLine(s string) (Line, error) {
	text := strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) })
	if text == "" {
		return Line{Kind: Blank}, nil
	}
	if text[0] == '+' || text[0] == '-' {
		n, ok := tallyCount(strings.TrimSpace(text[1:]))
		if !ok || n < 1 || n > MaxTally {
			return Line{}, fmt.Errorf("%w: tally %q: want +N or -N with N from 1 to %d", ErrBadLine, text, MaxTally)
		}
		if text[0] == '-' {
			n = -n
		}
		return Line{Kind: Tally, Text: text, Delta: n}, nil
	}
	l := Line{Kind: Payload, Text: text, Payload: text, Layout: ticket.Layout(text)}
	if cands, err := ticket.NormalizeAll(text); err == nil && len(cands) == 1 {
		l.Payload = cands[0]
	}
	if len(l.Payload) > maxPayload {
		return Line{}, fmt.Errorf("%w: %d characters is too long to be a ticket", ErrBadLine, len(l.Payload))
	}
	return l, nil
}

func tallyCount(s string) (int, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	n := 0
	for _, r := range s {
		d, ok := azertyDigits[r]
		if r >= '0' && r <= '9' {
			d, ok = int(r-'0'), true
		}
		if !ok {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
