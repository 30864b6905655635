// Package gateway is the crowdflow service that gate devices and browsers
// talk to: the scanner websocket /ws/scan (CONTRACT §3), the staff session
// (POST /login, /logout, /api/v1/session), what a scanner needs to work
// offline (/api/v1/event, /api/v1/revoked), health and readiness probes and
// the Prometheus metrics (CONTRACT §6).
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
// # Shutdown
//
// Run stops accepting connections when its context ends, lets every
// connection read what its device had already sent (until the device has
// been quiet for DrainWait), answers each of those frames, closes every
// websocket with 1001 (going away), and returns; a connection that has not
// finished by ShutdownTimeout is cut.
package gateway
