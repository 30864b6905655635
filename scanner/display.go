package scanner

import (
	"fmt"
	"strings"

	"crowdflow/checkin"
	"crowdflow/wire"
)

// Class is how a verdict looks at the gate.
type Class int

// The classes, as traffic lights (reliability-ux anchors, C).
const (
	// Green: let the person through.
	Green Class = iota
	// Amber: look — already inside or already used, or let through with a
	// flag that needs a person's attention.
	Amber
	// Red: refused.
	Red
)

// Symbols, one per class, so that colour is never the only signal.
const (
	SymbolGreen = "✔"
	SymbolAmber = "⚠"
	SymbolRed   = "✘"
)

// ANSI colours for a terminal.
const (
	ansiGreen = "\x1b[1;32m"
	ansiAmber = "\x1b[1;33m"
	ansiRed   = "\x1b[1;31m"
	ansiDim   = "\x1b[2m"
	ansiReset = "\x1b[0m"
)

// attention are the flags that turn a green verdict amber: the person goes
// through, but something about the ticket's whereabouts or the device is off.
var attention = []checkin.Flag{checkin.NotInside, checkin.MovedFromSibling, checkin.ImplicitEntry,
	checkin.ClockSkew, checkin.Unverified, checkin.Forced, checkin.Clamped, checkin.OfflineOverride}

// ClassOf is the class of a verdict: red for a refusal, amber for
// already_inside and already_used (the ticket is genuine: a person decides)
// and for an accepted verdict with an attention flag, else green. An offline
// decision alone is no reason for amber: its signature was verified.
func ClassOf(v wire.Verdict) Class {
	switch {
	case v.Code == checkin.AlreadyInside || v.Code == checkin.AlreadyUsed || v.Code == Undecided:
		return Amber
	case !v.OK:
		return Red
	}
	for _, f := range attention {
		if v.Flags.Has(f) {
			return Amber
		}
	}
	return Green
}

// Undecided is the code the scanner shows, never sends, for an entry it
// could not judge: the gateway is unreachable and the scanner has no event
// file and ticket key to decide with. The scan is queued all the same, and
// the staff check the ticket by eye.
const Undecided checkin.Code = "undecided"

// Result is a verdict to show, with the scan it answers.
type Result struct {
	Item    Item
	Verdict wire.Verdict
	// Local marks a verdict the scanner decided itself, offline.
	Local bool
	// Synced marks the gateway's verdict on a scan that was uploaded after
	// the fact (decided offline, or queued by an earlier run): the person
	// was shown a verdict already, this is what the ledger made of it.
	Synced bool
}

// Format is the verdict line for r (see the package documentation), without
// a newline; with color, wrapped in the ANSI colour of its class. Fields are
// separated by two spaces:
//
//	SYMBOL [SYNCED ]CODE  WHO  WHERE[  flags=F1,F2][  OFFLINE][  replayed]  id=ID[  MESSAGE]
//
// CODE is the verdict code in capitals; WHO is "TYPE TICKET-ID" for a
// ticket, "-" when the ticket did not verify, or "tally +N" / "tally -N";
// WHERE is "ZONE OCCUPANCY/CAPACITY LEVEL" from the gateway, or
// "ZONE ?/CAPACITY" for an offline decision, which cannot know the count.
func Format(r Result, color bool) string {
	v := r.Verdict
	cl := ClassOf(v)
	var b strings.Builder
	b.WriteString([...]string{SymbolGreen, SymbolAmber, SymbolRed}[cl])
	b.WriteByte(' ')
	if r.Synced {
		b.WriteString("SYNCED ")
	}
	b.WriteString(strings.ToUpper(oneLine(string(v.Code))))
	b.WriteString("  ")
	switch {
	case r.Item.Tally != nil:
		fmt.Fprintf(&b, "tally %+d", r.Item.Tally.Delta)
	case v.Ticket != "":
		typ := v.TicketType
		if typ == "" {
			typ = "ticket"
		}
		b.WriteString(oneLine(typ) + " " + oneLine(v.Ticket))
	default:
		b.WriteString("-")
	}
	b.WriteString("  ")
	zone := oneLine(v.Zone)
	if zone == "" {
		zone = "-"
	}
	if r.Local {
		fmt.Fprintf(&b, "%s ?/%d", zone, v.Capacity)
	} else {
		fmt.Fprintf(&b, "%s %d/%d %s", zone, v.Occupancy, v.Capacity, oneLine(v.Level))
	}
	if len(v.Flags) > 0 {
		b.WriteString("  flags=" + v.Flags.String())
	}
	if r.Local {
		b.WriteString("  OFFLINE")
	}
	if v.Replayed {
		b.WriteString("  replayed")
	}
	b.WriteString("  id=" + oneLine(v.ID))
	if msg := oneLine(v.Message); msg != "" {
		b.WriteString("  " + msg)
	}
	if !color {
		return b.String()
	}
	return [...]string{ansiGreen, ansiAmber, ansiRed}[cl] + b.String() + ansiReset
}

// ANSI backgrounds of the banner, with black or white text for contrast.
const (
	bannerGreen = "\x1b[1;30;42m"
	bannerAmber = "\x1b[1;30;43m"
	bannerRed   = "\x1b[1;97;41m"
)

// bannerWidth is the banner's width in columns: wide enough to read across a
// gate lane, narrow enough for an 80-column terminal.
const bannerWidth = 48

// bannerWords are the banner's words per class, in the languages the gate
// staff read: French, Arabic, and English.
var bannerWords = [...]string{
	Green: "✔  ENTREZ · تفضل · GO",
	Amber: "⚠  ATTENTION · انتباه · CHECK",
	Red:   "✘  REFUSÉ · مرفوض · STOP",
}

// Banner is the large status shown on a terminal with a person's verdict: a
// block three lines tall in the colour of the verdict's class, its words in
// French, Arabic and English, readable from a step away. It is for a
// terminal only (it is made of colour); Format's line says the same in text.
func Banner(v wire.Verdict) string {
	cl := ClassOf(v)
	bg := [...]string{bannerGreen, bannerAmber, bannerRed}[cl]
	words := bannerWords[cl]
	pad := bannerWidth - len([]rune(words))
	blank := bg + strings.Repeat(" ", bannerWidth) + ansiReset
	mid := bg + strings.Repeat(" ", pad/2) + words + strings.Repeat(" ", pad-pad/2) + ansiReset
	return blank + "\n" + mid + "\n" + blank
}

// Status is a status line: "· WORD  detail", dimmed on a terminal, amber
// when warn.
func Status(word, detail string, warn, color bool) string {
	s := "· " + word
	if detail != "" {
		s += "  " + oneLine(detail)
	}
	switch {
	case !color:
		return s
	case warn:
		return ansiAmber + s + ansiReset
	}
	return ansiDim + s + ansiReset
}

// oneLine keeps a text from the network on one line and free of terminal
// control sequences.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
}
