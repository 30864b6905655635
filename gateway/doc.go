// Package gateway is the crowdflow service that gate devices and browsers
// talk to: the scanner websocket /ws/scan (CONTRACT §3), the staff session
// (POST /login, /logout, /api/v1/session), what a scanner needs to work
// offline (/api/v1/event, /api/v1/revoked), revocations (POST
// /api/v1/revoke), the live occupancy stream /ws/live and its snapshot
// /api/v1/occupancy (CONTRACT §4, §5), the attendance reports
// (/api/v1/report, /reports), health and readiness probes and the
// Prometheus metrics (CONTRACT §6).
//
// A Server holds no state of its own beyond its connections: every decision
// is one call of the ledger (Store), so any number of gateways can run
// behind a load balancer.
//
// # Connections
//
// Each scanner websocket has exactly one reader and one writer goroutine,
// as in gorilla's examples/chat. The reader reads a frame, decides it (one
// store call for a scan or a tally) and queues the reply; so the scans of one
// connection are decided in the order they were sent. The writer owns every
// data write to the connection, sends pings, and says goodbye with a close
// frame. The reader waits for the writer only when SendBuffer replies are
// pending, and at most WriteWait: that slows this device alone, and a device
// that does not read its replies is dropped.
//
// # Live stream
//
// Run starts the live hub (live.go). A tailer goroutine (livetail.go)
// follows the store without polling it: it waits on the event log (which
// holds the scans of every gateway on the store) through ledger.Watcher — a
// blocking XREAD on a connection of its own on Redis, a signal from the
// engine in the embedded store — and reads what was appended the moment it
// is. It starts from the store's snapshot and the last minutes of the log,
// not from the log's first entry. The figures come from package board: the
// counters are re-read from Store.Snapshot for every update, so they are
// always the store's, never counted in Go; the log gives only what the
// counters do not: flows per minute, minutes to full, the gates' activity.
// Updates are coalesced on the leading edge (board.Pacer): the first change
// after a quiet LiveTick goes out at once, the changes within the window
// after it go out as one update at its end. The update is encoded once
// (websocket.PreparedMessage). Every LivePoll the tailer also checks the
// store unprompted: the fallback for a store that cannot watch, and how a
// store that went back (wiped, replaced: its seq fell) is noticed — the
// tailer then starts again and every client gets a fresh snapshot.
//
// The hub goroutine alone owns the live clients and the ring of the last
// LiveRing updates: it hands each client its snapshot or, on ?since=SEQ, the
// updates it missed, and broadcasts: it writes a small update itself to
// every idle client (nothing queued, nothing unacknowledged in its socket)
// and hands it to the others' writers; a client whose LiveSendBuffer is
// full is dropped. Every fanOutChunk clients it gives way, at most
// fanOutPause per update, while a scanner's frame is being handled, and
// yields (fanOutYield). On Linux it runs on a thread of its own at a lower
// priority (fanOutThread), so that the kernel runs the scan path and Redis
// first. Each
// live connection (liveconn.go) has one reader (pongs and the close only)
// and one writer goroutine, which writes all but those direct updates.
//
// # Shutdown
//
// Run stops accepting connections when its context ends, lets every
// connection read what its device had already sent (until the device has
// been quiet for DrainWait), answers each of those frames, closes every
// websocket (live clients at once) with 1001 (going away), and returns; a connection that has not
// finished by ShutdownTimeout is cut.
package gateway
