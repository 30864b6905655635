// Package report builds the attendance report of CONTRACT §7 for one event
// day or for the whole event, from the ledger's counters only: the per-day
// hash the scripts keep (ledger.Store.DayFields) and the event-wide zones
// hash (ledger.Store.EventFields). It never reads the event log, so a
// report costs a few reads whatever the number of scans, and every gateway
// instance on the same store gives the same report.
//
// Build returns a Report; WriteJSON and WriteCSV encode it
// deterministically (zones, gates and days in the event file's order, hours
// in the day's order, maps with sorted keys), so the same store gives the
// same bytes through the embedded engine, Redis or a gateway.
//
// Definitions (docs/rules.md and the ledger's report counters):
//   - entries, exits: tickets crossing the zone's boundary, every zone of a
//     move counting; tally_in, tally_out: people counted by tally.
//   - unique_visitors: tickets that entered the zone that day; in the
//     event's total, tickets that entered it on any day.
//   - peak_occupancy, peak_at: the highest occupancy of the day and the
//     first time it was reached, in the event's time zone.
//   - dwell_median_minutes, dwell_p90_minutes: nearest-rank percentiles of
//     the completed stays in the zone, in whole minutes (floor of exit time
//     less entry time); stays ended by the closing sweep are not stays but
//     swept. null when no stay ended.
//   - hours: per clock hour of the event time zone, entries, exits and
//     tallies in that hour, and the occupancy at its end (the last change in
//     it, else the previous hour's).
//   - gates: scans decided at the gate (refusals included, replays not),
//     the busiest minute (the earliest of equals) and its scans, offline
//     uploads, decisions flagged offline_override, id conflicts.
package report
