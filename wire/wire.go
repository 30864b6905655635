// Package wire is the scanner websocket protocol of CONTRACT §3: the JSON
// messages a gate device and the gateway exchange on /ws/scan, and their
// strict decoding. The gateway, the scanner client and the tests share it.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"crowdflow/checkin"
)

// Protocol is the version both sides announce in hello and welcome.
const Protocol = 1

// MaxFrame is the largest frame the gateway reads (CONTRACT §3); a larger one
// closes the connection with status 1009.
const MaxFrame = 4096

// MaxID bounds scan ids, devices and gates.
const MaxID = 64

// Message types.
const (
	TypeHello   = "hello"
	TypeWelcome = "welcome"
	TypeScan    = "scan"
	TypeTally   = "tally"
	TypeVerdict = "verdict"
	TypeError   = "error"
	TypeStatus  = "status"
)

// MaxQueued bounds the unsynced scans a device may report: far more than a
// gate decides in a day, so a larger figure is a broken device.
const MaxQueued = 1_000_000

// The oldest unsynced scan a device reports lies in this span; outside it
// the figure is malformed (a clock at zero, a year typed wrong).
var (
	oldestMin = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	oldestMax = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Error codes of an error message.
const (
	ErrMalformed   = "malformed"    // not JSON, or a field missing or wrong
	ErrUnsupported = "unsupported"  // unknown type or protocol version
	ErrForbidden   = "forbidden"    // the token's role may not do this
	ErrRateLimited = "rate_limited" // too many messages from this device
	ErrUnavailable = "unavailable"  // the store did not answer: resend later with the same id
	ErrIDConflict  = "id_conflict"  // the id was used before for another scan: send it under a new id
	ErrBadTime     = "bad_time"     // an offline upload's time is outside the event or in the future
)

// Hello opens a session: which device, at which gate.
type Hello struct {
	Type     string `json:"type"`
	Protocol int    `json:"protocol"`
	Device   string `json:"device"`
	Gate     string `json:"gate"`
	// Queued and Oldest are the device's unsynced scans, as in Status;
	// absent means none.
	Queued int        `json:"queued,omitempty"`
	Oldest *time.Time `json:"oldest,omitempty"`
}

// Status reports a device's unsynced scans: how many it decided offline
// and holds, and when the oldest of them was scanned (absent when none).
type Status struct {
	Type   string     `json:"type"`
	Queued int        `json:"queued"`
	Oldest *time.Time `json:"oldest,omitempty"`
}

// Welcome answers hello.
type Welcome struct {
	Type       string    `json:"type"`
	Protocol   int       `json:"protocol"`
	Gate       string    `json:"gate"`
	Zone       string    `json:"zone"`
	ServerTime time.Time `json:"server_time"`
}

// Scan is one ticket scanned at a gate.
type Scan struct {
	Type      string            `json:"type"`
	ID        string            `json:"id"`
	Ticket    string            `json:"ticket"`
	Direction checkin.Direction `json:"direction"`
	At        time.Time         `json:"at"`
	Gate      string            `json:"gate,omitempty"`    // another gate the token allows; default: hello's
	Offline   bool              `json:"offline,omitempty"` // decided offline, uploaded now
	// Decided is the verdict an offline gate gave, with Offline: it stands
	// (the person already went through, or was turned away).
	Decided checkin.Code `json:"decided,omitempty"`
	Force   bool         `json:"force,omitempty"` // supervisor override
}

// Tally is +n / −n people without tickets on a zone.
type Tally struct {
	Type  string    `json:"type"`
	ID    string    `json:"id"`
	Zone  string    `json:"zone"`
	Delta int       `json:"delta"`
	At    time.Time `json:"at"`
	Gate  string    `json:"gate,omitempty"`
	Force bool      `json:"force,omitempty"`
	// Offline marks a tally counted offline and uploaded now.
	Offline bool `json:"offline,omitempty"`
}

// Verdict answers a scan or a tally.
type Verdict struct {
	Type       string        `json:"type"`
	ID         string        `json:"id"`
	OK         bool          `json:"ok"`
	Code       checkin.Code  `json:"code"`
	Ticket     string        `json:"ticket,omitempty"`
	TicketType string        `json:"ticket_type,omitempty"`
	Zone       string        `json:"zone"`
	Occupancy  int           `json:"occupancy"`
	Capacity   int           `json:"capacity"`
	Level      string        `json:"level"`
	Flags      checkin.Flags `json:"flags"`
	Replayed   bool          `json:"replayed"`
	Message    string        `json:"message"`
}

// Error reports a frame the gateway could not act on; the connection stays open.
type Error struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	ID      string `json:"id,omitempty"` // the scan's id, when one could be read
	Message string `json:"message"`
}

// ErrBadFrame wraps every decoding error.
var ErrBadFrame = errors.New("bad frame")

// Decode reads one client frame strictly: known type, known fields only,
// every required field present and well-formed. It returns *Hello, *Scan or
// *Tally or *Status. The error says which field is wrong, for the error message.
func Decode(frame []byte) (any, error) {
	if bytes.HasPrefix(frame, scanPrefix) {
		// Nearly every frame is a scan, and the scanners write its type
		// first: decode it as one at once, instead of reading the type
		// first and the whole frame again. Only a frame that decodes
		// cleanly as a scan and still says scan at the end (a later
		// "type" key wins, as below) is taken; any other goes the general
		// way, so the answer is the same either way.
		var m Scan
		if strict(frame, &m) == nil && m.Type == TypeScan {
			if err := checkScan(&m); err != nil {
				return nil, err
			}
			return &m, nil
		}
	}
	return decode(frame)
}

// decode is Decode the general way: the type first, then the message.
func decode(frame []byte) (any, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(frame, &head); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrBadFrame, err)
	}
	switch head.Type {
	case TypeHello:
		var m Hello
		if err := strict(frame, &m); err != nil {
			return nil, err
		}
		if m.Protocol != Protocol {
			return nil, fmt.Errorf("%w: protocol %d: this gateway speaks %d", ErrBadFrame, m.Protocol, Protocol)
		}
		if err := checkID("device", m.Device, true); err != nil {
			return nil, err
		}
		if err := checkID("gate", m.Gate, false); err != nil {
			return nil, err
		}
		if err := checkQueue(m.Queued, m.Oldest); err != nil {
			return nil, err
		}
		return &m, nil
	case TypeStatus:
		var m Status
		if err := strict(frame, &m); err != nil {
			return nil, err
		}
		var has struct {
			Queued *int `json:"queued"`
		}
		if err := json.Unmarshal(frame, &has); err != nil || has.Queued == nil {
			return nil, fmt.Errorf("%w: queued: missing", ErrBadFrame)
		}
		if err := checkQueue(m.Queued, m.Oldest); err != nil {
			return nil, err
		}
		return &m, nil
	case TypeScan:
		var m Scan
		if err := strict(frame, &m); err != nil {
			return nil, err
		}
		if err := checkScan(&m); err != nil {
			return nil, err
		}
		return &m, nil
	case TypeTally:
		var m Tally
		if err := strict(frame, &m); err != nil {
			return nil, err
		}
		if err := checkID("id", m.ID, true); err != nil {
			return nil, err
		}
		if err := checkID("zone", m.Zone, true); err != nil {
			return nil, err
		}
		if m.Delta == 0 || m.Delta > 1000 || m.Delta < -1000 {
			return nil, fmt.Errorf("%w: delta %d: want a non-zero count of at most 1000", ErrBadFrame, m.Delta)
		}
		if m.At.IsZero() {
			return nil, fmt.Errorf("%w: at: missing", ErrBadFrame)
		}
		if err := checkID("gate", m.Gate, false); err != nil {
			return nil, err
		}
		return &m, nil
	case "":
		return nil, fmt.Errorf("%w: type: missing", ErrBadFrame)
	}
	return nil, fmt.Errorf("%w: type %q: want hello, scan, tally or status", ErrBadFrame, head.Type)
}

// scanPrefix starts a scan frame as the scanners write it.
var scanPrefix = []byte(`{"type":"scan",`)

// checkScan checks the fields of a decoded scan.
func checkScan(m *Scan) error {
	if err := checkID("id", m.ID, true); err != nil {
		return err
	}
	if m.Ticket == "" || len(m.Ticket) > 512 {
		return fmt.Errorf("%w: ticket: want 1 to 512 characters", ErrBadFrame)
	}
	if _, err := checkin.ParseDirection(string(m.Direction)); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	if m.At.IsZero() {
		return fmt.Errorf("%w: at: missing", ErrBadFrame)
	}
	if err := checkID("gate", m.Gate, false); err != nil {
		return err
	}
	if m.Decided != "" && (!m.Offline || !m.Decided.Valid()) {
		return fmt.Errorf("%w: decided %q: want a verdict code, on an offline upload only", ErrBadFrame, m.Decided)
	}
	return nil
}

// strict decodes the one JSON value of frame into v, refusing unknown
// fields and anything but white space after the value (what json.Unmarshal
// refuses there too).
func strict(frame []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(frame))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	if len(bytes.TrimLeft(frame[d.InputOffset():], " \t\r\n")) != 0 {
		return fmt.Errorf("%w: more than one JSON value in the frame", ErrBadFrame)
	}
	return nil
}

// checkQueue checks a device's unsynced figures: a count in 0..MaxQueued,
// and the oldest scan's time exactly when the count is not zero, in a
// plausible span.
func checkQueue(queued int, oldest *time.Time) error {
	switch {
	case queued < 0 || queued > MaxQueued:
		return fmt.Errorf("%w: queued %d: want 0 to %d", ErrBadFrame, queued, MaxQueued)
	case queued > 0 && oldest == nil:
		return fmt.Errorf("%w: oldest: missing while %d scans are queued", ErrBadFrame, queued)
	case queued == 0 && oldest != nil:
		return fmt.Errorf("%w: oldest: given while nothing is queued", ErrBadFrame)
	case oldest != nil && !PlausibleOldest(*oldest):
		return fmt.Errorf("%w: oldest %s: want a time from %d to %d", ErrBadFrame,
			oldest.UTC().Format(time.RFC3339), oldestMin.Year(), oldestMax.Year()-1)
	}
	return nil
}

// PlausibleOldest reports whether t may be the oldest unsynced scan's time
// in hello or status (from 2000 to 2099).
func PlausibleOldest(t time.Time) bool {
	return !t.Before(oldestMin) && t.Before(oldestMax)
}

func checkID(field, v string, required bool) error {
	if v == "" {
		if required {
			return fmt.Errorf("%w: %s: missing", ErrBadFrame, field)
		}
		return nil
	}
	if len(v) > MaxID {
		return fmt.Errorf("%w: %s: longer than %d characters", ErrBadFrame, field, MaxID)
	}
	for _, r := range v {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("%w: %s: printable ASCII only", ErrBadFrame, field)
		}
	}
	return nil
}

// AppendJSON appends v as json.Marshal writes it, byte for byte, without
// reflection: a verdict is encoded for every scan.
func (v Verdict) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, v.Type)
	b = append(b, `,"id":`...)
	b = appendString(b, v.ID)
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, v.OK)
	b = append(b, `,"code":`...)
	b = appendString(b, string(v.Code))
	if v.Ticket != "" {
		b = append(b, `,"ticket":`...)
		b = appendString(b, v.Ticket)
	}
	if v.TicketType != "" {
		b = append(b, `,"ticket_type":`...)
		b = appendString(b, v.TicketType)
	}
	b = append(b, `,"zone":`...)
	b = appendString(b, v.Zone)
	b = append(b, `,"occupancy":`...)
	b = strconv.AppendInt(b, int64(v.Occupancy), 10)
	b = append(b, `,"capacity":`...)
	b = strconv.AppendInt(b, int64(v.Capacity), 10)
	b = append(b, `,"level":`...)
	b = appendString(b, v.Level)
	b = append(b, `,"flags":[`...) // as checkin.Flags.MarshalJSON: [] when none
	for i, f := range v.Flags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(f))
	}
	b = append(b, ']')
	b = append(b, `,"replayed":`...)
	b = strconv.AppendBool(b, v.Replayed)
	b = append(b, `,"message":`...)
	b = appendString(b, v.Message)
	return append(b, '}')
}

// appendString appends s as a JSON string as json.Marshal writes it: as it
// is when it is printable ASCII that needs no escape (ids, codes, zones, the
// sentences), else through json.Marshal itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
