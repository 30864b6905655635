// Package simulate plans a fair day, person by person, with its ground
// truth: every scan and tally the gates would see, the verdict docs/rules.md
// gives each one, and the counters a correct ledger shows at any time.
//
// NewPlan runs the day as a discrete-event simulation. Each person (or
// walk-in group) has an agenda; their next step waits in a queue ordered by
// time, and each step makes at most one Action, judged on the state that all
// earlier actions left (a model of the rules written afresh from
// docs/rules.md, not taken from the ledger's script). A refusal changes what
// the person does next: refused at a full zone, they stay where the ledger
// has them; refused at a full site, they wait outside and try again, then go
// home. So the plan never contradicts itself, and Plan.Truth, which replays
// the wanted verdicts with the moves the rules imply, is what the ledger must
// show. The same seed, event, key and config give the same plan, byte for
// byte (math/rand/v2 PCG for behaviour, ChaCha8 for ticket ids, Ed25519
// signatures being deterministic).
//
// Feed plays a plan to a Sink on an event clock: instantly on a clock.Manual
// (it moves the clock), or paced on a clock.Shifted. StoreSink applies the
// actions to a ledger.Store through admission, as the gateway would, and
// fails on the first verdict that is not the plan's.
//
// # What a day holds
//
// Every figure is an ASSUMPTION for the Ouarzazate fair (17–22 September
// 2025, free entry, ~320 exhibitors); the code marks each where it is used.
//
//   - Visitors (2,500, a free day pass for the day) arrive with a late-morning
//     bump (15 % around opening+1h30), an afternoon peak (30 % around
//     opening+6h30, as the heat eases) and an evening peak (45 % around 2h30
//     before closing, the cool of the evening and the shows), 10 % at any
//     time; nobody arrives in the last 75 minutes. They enter at an entrance
//     (a random lane of its scanners), visit one to four zones their ticket
//     opens (halls in proportion to their capacity, the stage between shows
//     as 15 % of the halls), scanning in and out of each, with dwell times of
//     minutes to an hour (a hall of 80 stands about 20 minutes, the pavilion of
//     15 about 8), walking one to six minutes between, and stay about two
//     hours (45 minutes to five). 12 % go out once for 20 to 90 minutes and
//     come back (re-entry). They leave by an exit, one in seven by the
//     entrance, at the latest 10 to 35 minutes before closing.
//   - 5 % of the moves from one zone to another zone of the site skip the
//     scan out: the entry is flagged moved_from_sibling and the ledger moves
//     the count; if that zone is full, the person stays in the first zone
//     and scans out of it a minute or two later.
//   - Shows draw a crowd onto the stage: Show.Draw visitors who are on the
//     fair in the 2h30 before (or come for it) head for the stage from 20
//     minutes before to 12 after the start, most just before; 85 % stay to
//     the end, and 60 % go home after. By default two evening shows take the
//     stage into warn and then critical, not to full.
//   - Exhibitors (320, all-days badges) are spread over the halls by stands
//     (80 handicraft, 80 terroir, 15 institutional), arrive from opening (not
//     before: an entry before opening is refused closed) and stay at their
//     stand until 10 to 40 minutes before closing, with one to three breaks:
//     in the alleys, out of the site (re-entry), or in another zone.
//   - Staff (40) go round every zone, workshops included, all day; guests
//     (25) take the morning tour and 40 % come back for the last show; press
//     (12) see two to four zones and half of them the next show.
//   - Workshop participants (90) attend one of the sessions; they are the
//     only public in the workshop space, which the others' tickets do not
//     open.
//   - Walk-ins (600 people, no ticket) come in groups of one to five and are
//     counted by the steward at an entrance, +n on the site, and out at an
//     exit, −n. A tally counts only in its own zone (rules.md), so they are
//     in the site's figure and in no hall's.
//   - Slips, so that every refusal a normal day gives is in the truth: early
//     arrivals refused closed (then let in at opening), tickets scanned twice
//     (already_inside), forged or foreign payloads (invalid_ticket) and
//     yesterday's day passes (not_valid_today), both then counted in by tally
//     since entry is free, and people trying a door their ticket does not
//     open (no_access).
//
// # A fair of several days
//
// NewFair plans several days (DefaultFair: the six of the Ouarzazate fair),
// each on its own, since each starts empty once the day before has closed.
// Exhibitors, staff, guests and press keep the same badge every day (their
// ids come from a stream of the seed and the event, not of the day), so the
// event's unique visitors are fewer than the sum of the days'. Two things
// that happen on every real day are in DefaultFair and off in
// DefaultConfig:
//
//   - UnscannedExitShare: visitors who leave for the day by a door without
//     a scanner. The ledger keeps them inside until the closing sweeps them
//     out; DayFigures counts them as swept in their place and every zone
//     above it.
//   - Outages: an exit's scanner offline for a while. It lets people out on
//     its own and uploads its scans a minute after it is back, newest
//     first, with their device times; one offline exit in five is scanned
//     twice, so the older twin arrives after the newer one and is
//     superseded: counted in the exits of the gate's zone, moving nobody.
//
// Plan.Figures is the ground truth of a day's attendance report
// (CONTRACT §7): per zone entries, exits, unique visitors, peak and when,
// tallies, refusals by code, the completed stays in whole minutes (dwell),
// the sweep; per hour and zone the crossings and the occupancy; per gate
// the scans per minute and offline uploads. It replays the actions in the
// order the ledger gets them, each counted at its own (device) time.
//
// # Verdicts and flags
//
// Want is every code the rules can give to what the plan does: accepted,
// closed, not_valid_today, no_access, invalid_ticket, already_inside and
// zone_full (scans and tallies). The plan never makes already_used (every
// type allows re-entry), revoked or unknown_gate. WantFlags are exact for
// what the plan does: moved_from_sibling. The model would also give
// not_inside, unverified, implicit_entry and clamped, but nobody in the plan
// does what gives them, and offline, clock_skew and forced come from the
// device and the supervisor, not from the plan.
package simulate
