// Package scanner is the gate client of CONTRACT §1 (`crowdflow scanner`):
// it reads what a keyboard-wedge QR reader types, one payload per line, sends
// each scan to the gateway's /ws/scan websocket, shows the verdict, and keeps
// working when the network does not.
//
// The parts, each usable and tested on its own:
//
//   - Queue: the durable on-disk queue. Every scan is written to disk and
//     fsynced before it is sent, and removed only when the gateway has
//     answered it, so neither a crash of the scanner nor one of the gateway
//     loses a scan, and the gateway's de-duplication by scan id makes every
//     resend harmless.
//   - Offline: the local judge. While the gateway is unreachable it decides
//     with admission.Judge (the very ticket reading the gateway does), the
//     revocation list downloaded while online, and what this scanner itself
//     has seen (anti-passback, single entry), all kept on disk.
//   - Backoff: reconnection delays, exponential with full jitter.
//   - ParseLine and Format: the line a reader typed, and the verdict line
//     printed for it.
//   - Scanner: the client itself, with a Run(ctx) lifecycle. One goroutine
//     (Run's) owns every piece of state; each websocket session has one
//     reader and one writer goroutine that talk to it through channels.
//
// # The verdict line
//
// One line per scan on the output, stable so that scripts and tests can read
// it (see Format): a symbol and the code in capitals, who, where, then
// optional markers, the scan id, and the gateway's message:
//
//	✔ ACCEPTED  visitor k3fq7m2ab4x6c5dz  site 812/1621 ok  id=01J8Z4R7Y6Q3T9K2M5N8P0W4XC
//	⚠ ALREADY_INSIDE  visitor k3fq7m2ab4x6c5dz  site ?/1621  flags=offline  OFFLINE  id=01J8Z4…
//	✘ INVALID_TICKET  -  site 812/1621 ok  id=01J8Z4…  bad ticket signature
//	⚠ SYNCED ACCEPTED  visitor k3fq7m2ab4x6c5dz  hall-terroir 3/414 ok  flags=moved_from_sibling,offline  id=…
//
// A line with SYNCED is the gateway's verdict on a scan the person was
// already shown a verdict for (decided offline, or queued by an earlier
// run): what the ledger made of it.
//
// ✔ is green (let the person through), ⚠ amber (look: already inside or
// used, or let through with a flag that needs attention), ✘ red (refused).
// Colours are ANSI escapes, only when the output is a terminal; the symbol
// and the word always say the same thing, so colour is never the only
// signal. Lines that start with "· " are status lines, not verdicts: ONLINE,
// OFFLINE (once per outage, with its cause), SYNCED (the queue is empty
// again), LAYOUT (the reader's keyboard layout does not match the
// computer's), QUEUE, DRAINING, CONFIG, CLOCK, NOT A SCAN, NOT RECORDED.
// Two red lines name a scan that got no verdict at all:
//
//	✘ NOT RECORDED  id=ID  queue full: 100000 scans are waiting to be sent
//	✘ GATEWAY ERROR forbidden  id=ID  MESSAGE (scan dropped)
//
// # Order and priority
//
// The queue is uploaded in the order it was written, at most UploadRate
// scans a second (under the gateway's per-device limit), and never more
// than Window awaiting verdicts. A scan typed while a backlog uploads goes
// ahead of it, so that the person at the gate gets the gateway's verdict
// rather than waiting behind minutes of uploads; the gateway de-duplicates
// by id and a second entry of a ticket is already_inside whatever the
// order, so the counts come out the same.
package scanner
