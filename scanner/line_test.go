package scanner_test

import (
	"errors"
	"strings"
	"testing"

	"crowdflow/scanner"
	"crowdflow/ticket"
)

func TestParseLine(t *testing.T) {
	ev := MustEvent(t)
	_, key := MustKeys(t)
	payload, _ := MustTicket(t, ev, key, "visitor", true)
	tests := map[string]struct {
		in      string
		kind    scanner.LineKind
		payload string
		delta   int
		layout  string
		wrong   bool
		err     bool
	}{
		"payload":                {in: payload, kind: scanner.Payload, payload: payload, layout: ticket.LayoutUS},
		"payload with CR LF":     {in: payload + "\r\n", kind: scanner.Payload, payload: payload, layout: ticket.LayoutUS},
		"lower case":             {in: strings.ToLower(payload), kind: scanner.Payload, payload: payload, layout: ticket.LayoutUS},
		"typed on AZERTY":        {in: azerty(payload), kind: scanner.Payload, payload: payload, layout: ticket.LayoutAZERTY, wrong: true},
		"bidi marks of a field":  {in: "\u200f" + payload + "\u200e", kind: scanner.Payload, payload: payload, layout: ticket.LayoutUS},
		"not a ticket":           {in: "hello", kind: scanner.Payload, payload: "hello"},
		"blank":                  {in: "", kind: scanner.Blank},
		"spaces":                 {in: " \t \r", kind: scanner.Blank},
		"tally in":               {in: "+3", kind: scanner.Tally, delta: 3},
		"tally out":              {in: "-1", kind: scanner.Tally, delta: -1},
		"tally with a space":     {in: "+ 12 ", kind: scanner.Tally, delta: 12},
		"tally at the limit":     {in: "-1000", kind: scanner.Tally, delta: -1000},
		"tally on AZERTY digits": {in: "+&à", kind: scanner.Tally, delta: 10},
		"tally too large":        {in: "+1001", err: true},
		"tally of zero":          {in: "+0", err: true},
		"sign alone":             {in: "+", err: true},
		"double sign":            {in: "--1", err: true},
		"tally of words":         {in: "+three", err: true},
		"longer than any ticket": {in: "CF1:" + strings.Repeat("A", 600), err: true},
		"AZERTY text not a code": {in: azerty("CF1:") + "!!!", kind: scanner.Payload, payload: azerty("CF1:") + "!!!", layout: ticket.LayoutAZERTY, wrong: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := scanner.ParseLine(tc.in)
			if tc.err {
				if !errors.Is(err, scanner.ErrBadLine) {
					t.Fatalf("ParseLine(%q) = %+v, %v; want ErrBadLine", tc.in, l, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLine(%q): %v", tc.in, err)
			}
			if l.Kind != tc.kind || l.Payload != tc.payload || l.Delta != tc.delta || l.Layout != tc.layout || l.WrongLayout() != tc.wrong {
				t.Errorf("ParseLine(%q) = kind %d payload %q delta %d layout %q wrong %v\nwant kind %d payload %q delta %d layout %q wrong %v",
					tc.in, l.Kind, l.Payload, l.Delta, l.Layout, l.WrongLayout(), tc.kind, tc.payload, tc.delta, tc.layout, tc.wrong)
			}
		})
	}
}
