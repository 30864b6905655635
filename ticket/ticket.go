package ticket

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Prefix starts every ticket payload. The "1" is the text format version;
// the body carries its own version byte too, so a later body layout can ship
// without changing what scanners look for.
const Prefix = "CF1:"

// Version is the body layout version this package writes and reads.
const Version = 1

// Sentinel errors; every error this package returns about a ticket wraps one
// of them with the detail, so callers map them to protocol codes with
// errors.Is and show the detail to operators.
var (
	// ErrMalformed means the text or body is not a canonical ticket
	// (wrong prefix, alphabet, length, version, reserved bits, order...).
	ErrMalformed = errors.New("malformed ticket")
	// ErrSignature means the ticket is well formed but none of the given
	// keys signed it: forged, altered, or another event's.
	ErrSignature = errors.New("bad ticket signature")
	// ErrInvalid means a Ticket value cannot be encoded (bad day, span
	// too long, zones out of order...). It is the issuer's mistake, not a
	// scanned ticket's, hence a sentinel of its own.
	ErrInvalid = errors.New("invalid ticket")
)

// Limits of the version 1 body.
const (
	// MaxDaySpan is the most days a day list may span, first to last
	// inclusive: 8 bitmask bytes.
	MaxDaySpan = 64
	// MaxZones is the most zones a ticket may list: the count is one byte.
	MaxZones = 255

	headerLen  = 21 // version .. n
	maxMaskLen = MaxDaySpan / 8
	minBodyLen = headerLen + 1
	maxBodyLen = headerLen + maxMaskLen + 1 + 2*MaxZones
	sigTextLen = 103 // ed25519.SignatureSize bytes in unpadded base32
	dayLayout  = "2006-01-02"
	secsPerDay = 24 * 60 * 60
	flagReentr = 0x01
)

// b32 is the payload alphabet. Its decoder accepts non-zero trailing bits
// and skips CR and LF, so decoding goes through decode32, which refuses
// every spelling but the one the encoder writes.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ID is the random part of a ticket: 80 bits, enough that guessing a valid
// id is hopeless even before the signature, and short enough for a QR v6.
type ID [10]byte

// String returns the id as printed in manifests and reports: lower-case
// base32 without padding, 16 characters (lower case so people do not read it
// as a payload, which is upper case).
func (id ID) String() string {
	return strings.ToLower(b32.EncodeToString(id[:]))
}

// ParseID parses the form String prints. Upper case is accepted too, so an id
// cut out of a payload or typed by hand with caps lock on still parses.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 16 {
		return id, fmt.Errorf("%w: ticket id %q has %d characters, want 16", ErrMalformed, s, len(s))
	}
	b, err := decode32(strings.ToUpper(s))
	if err != nil {
		return id, fmt.Errorf("%w: ticket id %q: %v", ErrMalformed, s, err)
	}
	return ID(b), nil
}

// NewID draws an id from r, which should be crypto/rand.Reader outside
// tests; nil means crypto/rand.Reader.
func NewID(r io.Reader) (ID, error) {
	var id ID
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return ID{}, fmt.Errorf("read ticket id: %w", err)
	}
	return id, nil
}

// EventHash is the body's event field: the first 4 bytes of SHA-256 of the
// event id. Four bytes tell events apart for a scanner (the signature key
// is what really binds a ticket to its event).
func EventHash(eventID string) [4]byte {
	sum := sha256.Sum256([]byte(eventID))
	return [4]byte(sum[:4])
}

// NameHash is the body's field for a ticket type or a zone: the first 2 bytes
// of SHA-256 of its id, big-endian. The event config must check that its
// types and its zones do not collide (1 in 65536 per pair).
func NameHash(name string) uint16 {
	sum := sha256.Sum256([]byte(name))
	return binary.BigEndian.Uint16(sum[:2])
}

// Ticket is a decoded body. Days and Zones use nil (or empty) for "all that
// the type allows"; UnmarshalBinary returns nil, never an empty slice.
type Ticket struct {
	// Event is EventHash of the event id.
	Event [4]byte
	// ID is the random ticket id.
	ID ID
	// Type is NameHash of the ticket type id.
	Type uint16
	// Days are the days the ticket is valid on, "2006-01-02", sorted and
	// unique, spanning at most MaxDaySpan days; empty: all days its type
	// allows.
	Days []string
	// Zones are NameHash of the zone ids the ticket may enter, sorted and
	// unique, at most MaxZones; empty: all zones its type allows.
	Zones []uint16
	// Reentry allows a second entry after an exit.
	Reentry bool
}

// MarshalBinary encodes the body, refusing (ErrInvalid) any ticket that has
// no canonical encoding rather than silently sorting or dropping fields: an
// issuer bug should surface at issue time, not at the gate.
func (t *Ticket) MarshalBinary() ([]byte, error) {
	base, mask, err := encodeDays(t.Days)
	if err != nil {
		return nil, err
	}
	if len(t.Zones) > MaxZones {
		return nil, fmt.Errorf("%w: %d zones, at most %d", ErrInvalid, len(t.Zones), MaxZones)
	}
	for i := 1; i < len(t.Zones); i++ {
		if t.Zones[i] <= t.Zones[i-1] {
			return nil, fmt.Errorf("%w: zones not sorted and unique at index %d (%#04x after %#04x)",
				ErrInvalid, i, t.Zones[i], t.Zones[i-1])
		}
	}
	b := make([]byte, 0, headerLen+len(mask)+1+2*len(t.Zones))
	b = append(b, Version)
	b = append(b, t.Event[:]...)
	b = append(b, t.ID[:]...)
	b = binary.BigEndian.AppendUint16(b, t.Type)
	var flags byte
	if t.Reentry {
		flags |= flagReentr
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint16(b, base)
	b = append(b, byte(len(mask)))
	b = append(b, mask...)
	b = append(b, byte(len(t.Zones)))
	for _, z := range t.Zones {
		b = binary.BigEndian.AppendUint16(b, z)
	}
	return b, nil
}

// encodeDays turns the day list into base day and bitmask, minimal length.
func encodeDays(days []string) (uint16, []byte, error) {
	if len(days) == 0 {
		return 0, nil, nil
	}
	nums := make([]int64, len(days))
	for i, s := range days {
		d, err := time.Parse(dayLayout, s)
		if err != nil || d.Format(dayLayout) != s {
			return 0, nil, fmt.Errorf("%w: day %q is not a date like 2006-01-02", ErrInvalid, s)
		}
		nums[i] = d.Unix() / secsPerDay
		if d.Unix() < 0 {
			return 0, nil, fmt.Errorf("%w: day %q is before 1970-01-01", ErrInvalid, s)
		}
		if i > 0 && nums[i] <= nums[i-1] {
			return 0, nil, fmt.Errorf("%w: days not sorted and unique: %q after %q", ErrInvalid, s, days[i-1])
		}
	}
	if nums[0] > 0xffff {
		// The base day is a uint16.
		return 0, nil, fmt.Errorf("%w: first day %q is after 2149-06-06", ErrInvalid, days[0])
	}
	span := nums[len(nums)-1] - nums[0] + 1
	if span > MaxDaySpan {
		return 0, nil, fmt.Errorf("%w: days %s..%s span %d days, at most %d",
			ErrInvalid, days[0], days[len(days)-1], span, MaxDaySpan)
	}
	mask := make([]byte, (span+7)/8)
	for _, n := range nums {
		off := n - nums[0]
		mask[off/8] |= 1 << (off % 8)
	}
	return uint16(nums[0]), mask, nil
}

// UnmarshalBinary decodes a body, accepting only the canonical encoding
// MarshalBinary writes: exact length, version 1, reserved bits zero, minimal
// day mask, zones strictly increasing. Strictness makes a signed body
// re-encode to the very same bytes, so nothing can be smuggled past the
// signature in an alternative spelling. On error t is left unchanged.
func (t *Ticket) UnmarshalBinary(b []byte) error {
	if len(b) < minBodyLen {
		return fmt.Errorf("%w: body has %d bytes, want at least %d", ErrMalformed, len(b), minBodyLen)
	}
	if b[0] != Version {
		return fmt.Errorf("%w: body version %d, want %d", ErrMalformed, b[0], Version)
	}
	var out Ticket
	copy(out.Event[:], b[1:5])
	copy(out.ID[:], b[5:15])
	out.Type = binary.BigEndian.Uint16(b[15:17])
	flags := b[17]
	if flags&^flagReentr != 0 {
		return fmt.Errorf("%w: reserved flag bits set (%#02x)", ErrMalformed, flags)
	}
	out.Reentry = flags&flagReentr != 0
	base := binary.BigEndian.Uint16(b[18:20])
	n := int(b[20])
	if n > maxMaskLen {
		return fmt.Errorf("%w: day mask of %d bytes, at most %d", ErrMalformed, n, maxMaskLen)
	}
	if len(b) < headerLen+n+1 {
		return fmt.Errorf("%w: body ends inside the day mask", ErrMalformed)
	}
	mask := b[headerLen : headerLen+n]
	switch {
	case n == 0 && base != 0:
		return fmt.Errorf("%w: base day %d without a day mask", ErrMalformed, base)
	case n > 0 && mask[0]&1 == 0:
		return fmt.Errorf("%w: base day not in the day mask", ErrMalformed)
	case n > 0 && mask[n-1] == 0:
		return fmt.Errorf("%w: day mask ends in a zero byte", ErrMalformed)
	}
	for j, m := range mask {
		for i := range 8 {
			if m&(1<<i) != 0 {
				day := int64(base) + int64(8*j+i)
				out.Days = append(out.Days, time.Unix(day*secsPerDay, 0).UTC().Format(dayLayout))
			}
		}
	}
	rest := b[headerLen+n:]
	m := int(rest[0])
	if len(rest) != 1+2*m {
		return fmt.Errorf("%w: %d zones need %d bytes after the day mask, body has %d",
			ErrMalformed, m, 1+2*m, len(rest))
	}
	for i := range m {
		z := binary.BigEndian.Uint16(rest[1+2*i:])
		if i > 0 && z <= out.Zones[i-1] {
			return fmt.Errorf("%w: zones not strictly increasing at index %d", ErrMalformed, i)
		}
		out.Zones = append(out.Zones, z)
	}
	*t = out
	return nil
}

// decode32 decodes upper-case unpadded base32 in its one canonical spelling:
// the alphabet only (the standard decoder would skip CR and LF) and zero
// trailing bits (it would ignore them), so that one byte string has exactly
// one text and a signed payload cannot be re-spelled.
func decode32(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return nil, errors.New("not upper-case base32 (A-Z, 2-7)")
		}
	}
	b, err := b32.DecodeString(s)
	if err != nil || b32.EncodeToString(b) != s {
		return nil, errors.New("not canonical base32")
	}
	return b, nil
}
