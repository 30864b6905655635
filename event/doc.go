// Package event is the event file: what a fair is made of and the rules of a
// single scan that need no state.
//
// An event has days with opening hours, a tree of zones rooted at the site,
// gates that join a zone to its parent, and ticket types with their
// entitlements. Load reads and checks a YAML file, computes every zone's
// capacity from its area and exits (see Zone), and reports every problem in
// the file at once, each with its field path, so an organiser fixes the file
// in one pass rather than one error per run.
//
// Check and Allows are the stateless half of a gate decision: days, hours and
// zones. What needs the ledger (already inside, zone full) is decided
// elsewhere, in one atomic step with the count.
//
// An *Event is never changed after Parse returns it, so it is safe for use by
// many goroutines at once. The package imports no network or storage library.
package event
