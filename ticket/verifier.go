package ticket

import (
	"crypto/ed25519"
	"slices"
	"sync"
)

// DefaultVerified is how many verified payloads a Verifier made by
// NewVerifier remembers at most: more than the tickets a big event's gates
// see in a day, so that each is checked once. A visitor's payload is about
// 170 characters: some 25 MB when full (the text, its ticket and the
// map's own), and at most 512 characters of text each (maxCachedLen)
// however the tickets were issued.
const DefaultVerified = 1 << 16

// maxCachedLen is the longest typed text a Verifier remembers: the scanner
// protocol's limit for a ticket field. Longer text is checked every time.
const maxCachedLen = 512

// Verifier is VerifyTyped with fixed keys and a memory: a typed text that
// verified once is not checked again, which spares an Ed25519 verification
// (by far the costliest step of a scan) each time a ticket comes back — a
// hall entry after the site entry, an exit, a re-entry, a resent scan.
//
// Only texts that verified are remembered, keyed by their exact bytes, so a
// hit means this very text was signed by one of the Verifier's keys; a text
// that differs in any byte (a forged signature on a known body, another
// spelling) is checked in full. Nothing that fails is remembered, so junk
// cannot fill the memory with refusals or replay one. The memory is
// bounded: two generations of at most size/2 texts each; when the newer is
// full the older is dropped, and a text found in the older one moves to the
// newer, so tickets in use stay.
//
// A Verifier is safe for concurrent use. Its keys do not change: a key
// rotation makes a new Verifier, and with it a new memory.
type Verifier struct {
	keys []ed25519.PublicKey
	half int // the most texts one generation holds

	mu       sync.Mutex // guards cur and old
	cur, old map[string]verified
}

// verified is what the memory keeps of a text that verified: its ticket and
// canonical payload.
type verified struct {
	t         Ticket
	canonical string
}

// NewVerifier returns a Verifier of keys that remembers at most size
// verified texts (DefaultVerified when size ≤ 0; at least 2).
func NewVerifier(size int, keys ...ed25519.PublicKey) *Verifier {
	if size <= 0 {
		size = DefaultVerified
	}
	half := max(size/2, 1)
	return &Verifier{keys: slices.Clone(keys), half: half, cur: make(map[string]verified)}
}

// VerifyTyped is VerifyTyped(typed, keys...) of the Verifier's keys: the
// same ticket, canonical payload and errors, from memory when typed
// verified before. The ticket returned is the caller's own copy.
func (v *Verifier) VerifyTyped(typed string) (*Ticket, string, error) {
	if e, ok := v.lookup(typed); ok {
		return e.ticket(), e.canonical, nil
	}
	t, canonical, err := VerifyTyped(typed, v.keys...)
	if err != nil || len(typed) > maxCachedLen {
		return t, canonical, err
	}
	e := verified{t: *t, canonical: canonical}
	e.t.Days, e.t.Zones = slices.Clone(t.Days), slices.Clone(t.Zones)
	v.mu.Lock()
	v.store(typed, e)
	v.mu.Unlock()
	return t, canonical, nil
}

// lookup finds typed in memory, moving it to the newer generation.
func (v *Verifier) lookup(typed string) (verified, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.cur[typed]; ok {
		return e, true
	}
	e, ok := v.old[typed]
	if ok {
		delete(v.old, typed)
		v.store(typed, e)
	}
	return e, ok
}

// store remembers e under typed in the newer generation, which becomes the
// older one first when it is full. The caller holds mu.
func (v *Verifier) store(typed string, e verified) {
	if len(v.cur) >= v.half {
		v.old, v.cur = v.cur, make(map[string]verified, v.half)
	}
	v.cur[typed] = e
}

// ticket is a copy of the remembered ticket that the caller may change.
func (e verified) ticket() *Ticket {
	t := e.t
	t.Days, t.Zones = slices.Clone(t.Days), slices.Clone(t.Zones)
	return &t
}
