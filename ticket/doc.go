// Package ticket is the ticket format of CONTRACT §2: a compact binary body
// naming the event, a random ticket id, the ticket type, the days and zones it
// is valid for and whether re-entry is allowed, signed with the event's
// Ed25519 key and printed as the text
//
//	CF1:<body>:<signature>
//
// with body and signature in upper-case RFC 4648 base32 without padding.
// Base32 keeps the whole payload inside the QR alphanumeric set (so a ticket
// fits a version 6 code) and inside the letters, digits and colon that a
// keyboard-wedge reader types reliably.
//
// Verify accepts only the canonical text: a payload has exactly one valid
// spelling, so a ticket id or a payload can be used as a key for
// de-duplication and revocation. Text typed by a reader whose keyboard layout
// does not match the host's (lower case, French AZERTY, Arabic 101) is first
// brought back to that spelling by Normalize; VerifyTyped does both.
//
// Body layout, version 1, big-endian:
//
//	0      version            0x01
//	1..4   event hash         first 4 bytes of SHA-256(event id)
//	5..14  ticket id          10 random bytes
//	15..16 type hash          first 2 bytes of SHA-256(ticket type id)
//	17     flags              bit 0: re-entry allowed; other bits zero
//	18..19 base day           days since 1970-01-01 (0 when no day list)
//	20     n                  day-bitmask bytes, 0..8 (0: all days of the type)
//	...    n bytes            bit i of byte j set: day base+8j+i is valid;
//	                          bit 0 of byte 0 set and byte n-1 non-zero
//	...    m                  number of zones (0: all zones of the type)
//	...    m × 2 bytes        zone hashes, strictly increasing
//
// The package is pure computation plus the two key files of CreateKeys; it
// imports no network or storage library, and every function is safe for
// concurrent use.
package ticket
