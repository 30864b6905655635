package event

import (
	"time"

	// Embedded time zone data, used only when the host has none (a Windows
	// laptop at the venue, a scratch container): the event's days and hours
	// must not depend on what the machine happens to have installed.
	_ "time/tzdata"
)

// Text is a name in the three languages the staff and visitors read: Arabic
// (shown right-to-left), French and English. The event file must give all
// three for every name.
type Text struct {
	AR string `yaml:"ar"`
	FR string `yaml:"fr"`
	EN string `yaml:"en"`
}

// In returns the text in lang ("ar", "fr" or "en"). An unknown language or a
// missing translation falls back to French, the venue's working language,
// then to English, so a screen never shows an empty name.
func (t Text) In(lang string) string {
	var s string
	switch lang {
	case "ar":
		s = t.AR
	case "fr":
		s = t.FR
	case "en":
		s = t.EN
	}
	if s == "" {
		s = t.FR
	}
	if s == "" {
		s = t.EN
	}
	return s
}

// Event is one event file, checked and resolved: every reference points to
// something that exists, every capacity is computed. Build it with Load or
// Parse; it is read-only afterwards.
type Event struct {
	// ID names the event everywhere: in Redis keys (as the {ID} hash tag),
	// in tickets (as its hash) and in reports. [a-z0-9-]{1,40}.
	ID string
	// Name is the event's public name.
	Name Text
	// Venue is where it takes place, as printed on reports.
	Venue string
	// TimeZone is the IANA name of the venue's zone, e.g. Africa/Casablanca.
	TimeZone string
	// Location is TimeZone, loaded. Dates and hours are local to it.
	Location *time.Location
	// Days are the event days, sorted by date; their hours never overlap,
	// and each closes (Closes) before the next opens.
	Days []Day
	// CloseGrace is how long after a day's last entry the day closes
	// (CONTRACT §8): time for the last visitors to walk out and be counted.
	CloseGrace time.Duration
	// Zones are in pre-order: the root (the site) first, every parent before
	// its children, children in file order. Summing occupancy bottom-up is a
	// walk of this slice backwards.
	Zones []*Zone
	// Gates are in file order.
	Gates []*Gate
	// TicketTypes are in file order.
	TicketTypes []*TicketType

	hash        [4]byte
	zones       map[string]*Zone
	zonesByHash map[uint16]*Zone
	gates       map[string]*Gate
	types       map[string]*TicketType
	typesByHash map[uint16]*TicketType
	daysByDate  map[string]int
}

// Root returns the site, the zone that holds every other.
func (e *Event) Root() *Zone { return e.Zones[0] }

// Zone returns the zone with the given id, or nil.
func (e *Event) Zone(id string) *Zone { return e.zones[id] }

// Gate returns the gate with the given id, or nil.
func (e *Event) Gate(id string) *Gate { return e.gates[id] }

// TicketType returns the ticket type with the given id, or nil.
func (e *Event) TicketType(id string) *TicketType { return e.types[id] }

// ZoneByHash returns the zone a ticket names by its hash, or nil.
func (e *Event) ZoneByHash(h uint16) *Zone { return e.zonesByHash[h] }

// TicketTypeByHash returns the ticket type a ticket names by its hash, or nil.
func (e *Event) TicketTypeByHash(h uint16) *TicketType { return e.typesByHash[h] }

// Hash is the event's identity inside a ticket: the first 4 bytes of
// SHA-256(ID), the same as ticket.EventHash.
func (e *Event) Hash() [4]byte { return e.hash }

// Day is one event day.
type Day struct {
	// Date is the local calendar date, "2006-01-02". Tickets name their days
	// by it.
	Date string
	// Open is when entry starts, an absolute instant (in the event's
	// Location).
	Open time.Time
	// Close is when entry ends; always after Open, and after midnight when
	// the evening runs late (written 24:00 or later in the file).
	Close time.Time
	// Closes is when the day closes in the ledger: Close plus the event's
	// CloseGrace. Whoever is still inside then is swept out.
	Closes time.Time
}

// IsOpen reports whether t is within the day's hours: Open <= t < Close.
func (d Day) IsOpen(t time.Time) bool {
	return !t.Before(d.Open) && t.Before(d.Close)
}

// DayIndex returns the index in Days of the event day dated date
// (YYYY-MM-DD, local to the event), or -1 when the event has no such day.
func (e *Event) DayIndex(date string) int {
	if i, ok := e.daysByDate[date]; ok {
		return i
	}
	return -1
}

// DayOf returns the event day that t belongs to. Within a day's hours that is
// the day itself, even after midnight when the evening runs late, so a late
// visitor on the last night is still on the last day's ticket. Outside every
// day's hours it is the day whose local date (in Location) is t's local
// date, so an early scan is judged as too early (closed) rather than as the
// wrong day. ok is false when t is on no event day.
func (e *Event) DayOf(t time.Time) (Day, bool) {
	for _, d := range e.Days {
		if d.IsOpen(t) {
			return d, true
		}
	}
	i, ok := e.daysByDate[t.In(e.Location).Format(dateLayout)]
	if !ok {
		return Day{}, false
	}
	return e.Days[i], true
}
