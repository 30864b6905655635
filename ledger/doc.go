// Package ledger is the scan ledger: where every scan and tally of an event is
// decided, counted and logged, atomically, by one Lua script per operation.
//
// The scripts live in lua/*.lua and are embedded. Store builds their keys and
// arguments and decodes their replies; an Engine runs them. Two engines run
// the very same scripts: redisengine on Redis, embedded in process. So the
// rules are written once, in Lua, and both stores agree by construction —
// and the store test suite (storetest) checks that they do.
//
// Every key of an event carries the hash tag {event-id}, so the scripts run
// on Redis Cluster too.
package ledger
