package event

import (
	"crypto/sha256"
	"encoding/binary"
)

// eventHash is the event's identity inside a ticket: the first 4 bytes of
// SHA-256 of its id. It must stay byte-for-byte the same as ticket.EventHash;
// it is repeated here so that event does not depend on the ticket format.
func eventHash(id string) [4]byte {
	sum := sha256.Sum256([]byte(id))
	return [4]byte(sum[:4])
}

// nameHash is how a ticket names a zone or a ticket type in two bytes: the
// first 2 bytes of SHA-256 of the id, big-endian. It must stay the same as
// ticket.NameHash. Parse refuses an event where two zones, or two ticket
// types, share a hash, so a hash always names exactly one of them.
func nameHash(id string) uint16 {
	sum := sha256.Sum256([]byte(id))
	return binary.BigEndian.Uint16(sum[:2])
}
