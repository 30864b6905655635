package board

import (
	"encoding/json"
	"math"
	"slices"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ledger"
)

// The board's fixed figures (DESIGN "Capacity and safety").
const (
	// FlowWindow is the window of in_per_min, out_per_min and scans_per_min.
	FlowWindow = time.Minute
	// FillWindow is the window of the net inflow behind minutes_to_full.
	FillWindow = 5 * time.Minute
	// ForecastAlert: a zone forecast to be full within this many minutes
	// raises a forecast alert (the Prometheus rule uses the same horizon).
	ForecastAlert = 10.0
	// GateSeenOnline: a gate that no scanner of this instance is on counts
	// as online when the log shows a scan there within this long (a scanner
	// on another instance).
	GateSeenOnline = 2 * time.Minute
)

// Alert kinds.
const (
	AlertLevel    = "zone_level"
	AlertForecast = "zone_forecast"
	AlertSilent   = "gate_silent"
)

// Message types.
const (
	TypeSnapshot = "snapshot"
	TypeUpdate   = "update"
)

// Text is a name in the event's three languages.
type Text struct {
	AR string `json:"ar"`
	FR string `json:"fr"`
	EN string `json:"en"`
}

// Zone is one zone in a live message (CONTRACT §4, plus tally and by_type
// for the evacuation view).
type Zone struct {
	ID            string         `json:"id"`
	Name          Text           `json:"name"`
	Parent        string         `json:"parent"`
	Occupancy     int            `json:"occupancy"`
	Capacity      int            `json:"capacity"`
	Level         checkin.Level  `json:"level"`
	Entries       int            `json:"entries"`
	Exits         int            `json:"exits"`
	InPerMin      float64        `json:"in_per_min"`
	OutPerMin     float64        `json:"out_per_min"`
	MinutesToFull *float64       `json:"minutes_to_full"` // null when the zone is not filling
	Tally         int            `json:"tally"`
	TallyIn       int            `json:"tally_in"`
	TallyOut      int            `json:"tally_out"`
	ByType        map[string]int `json:"by_type"` // occupants with a ticket, by ticket type
	// AtLeast: a gate that feeds the zone (one of its own or of a zone
	// inside it) is offline or holds unsynced scans, so the figures are a
	// lower bound until it syncs.
	AtLeast bool `json:"at_least"`
}

// Gate is one gate in a live message.
type Gate struct {
	ID          string     `json:"id"`
	Zone        string     `json:"zone"`
	Online      bool       `json:"online"`
	LastSeen    *time.Time `json:"last_seen"` // null: no scan seen yet
	ScansPerMin int        `json:"scans_per_min"`
	Silent      bool       `json:"silent"`
	// Unsynced is the scans the gate's devices last reported as decided
	// offline and not yet uploaded; UnsyncedOldest the oldest one's time
	// (null when none).
	Unsynced       int        `json:"unsynced"`
	UnsyncedOldest *time.Time `json:"unsynced_oldest"`
}

// Reported is what the devices of one gate last told this instance about
// their queues (CONTRACT §3 hello and status), summed over the devices.
// The figures stay when the devices disconnect: an offline gate shows its
// last known queue.
type Reported struct {
	Unsynced int
	Oldest   time.Time // the oldest unsynced scan; zero when none
	// Left is when the last device of this instance left the gate; zero
	// while one is on it. A scan logged there since counts it online again
	// (a device on another instance).
	Left time.Time
}

// Alert is one active alert. Its id is stable while it lasts, so a screen
// can tell a new alert from one it shows already.
type Alert struct {
	ID    string    `json:"id"`
	Kind  string    `json:"kind"` // zone_level, zone_forecast, gate_silent
	Zone  string    `json:"zone,omitempty"`
	Gate  string    `json:"gate,omitempty"`
	Level string    `json:"level"` // warn, critical or full
	Since time.Time `json:"since"` // event clock
}

// Closing is an event day's closing as the log records it (CONTRACT §8):
// the tickets swept out of each zone, and the tally people zeroed in each.
type Closing struct {
	Day        string         `json:"day"`
	At         time.Time      `json:"at"`
	Swept      map[string]int `json:"swept"`
	SweptTally map[string]int `json:"swept_tally"`
}

// Trend is every zone's occupancy over the last hour, for a screen that
// opens mid-day to draw its trend at once: Zones[id][i] is the occupancy
// at From + i×Step seconds (the start of each minute, the present one
// last); the zone's occupancy field is its value now.
type Trend struct {
	From  time.Time        `json:"from"`
	Step  int              `json:"step"`
	Zones map[string][]int `json:"zones"`
}

// Message is a snapshot or an update. In a snapshot every field is there;
// an update carries the zones that changed, and gates and alerts only when
// they changed (the whole list then). Closed, when present, is the latest
// day closing seen: in the update that follows it, and in snapshots. Trend
// is in snapshots only (a screen draws the rest from what it receives).
type Message struct {
	Type   string    `json:"type"`
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Zones  []Zone    `json:"zones"`
	Gates  any       `json:"gates,omitempty"`
	Alerts any       `json:"alerts,omitempty"`
	Closed *Closing  `json:"closed,omitempty"`
	Trend  *Trend    `json:"trend,omitempty"`
}

// State is the whole board at one store seq and one time; read-only once
// built, so it may be shared between goroutines.
type State struct {
	Seq    int64
	At     time.Time
	Zones  []Zone
	Gates  []Gate
	Alerts []Alert
	Closed *Closing // the latest closing seen, nil for none
	Trend  *Trend   // the last hour, nil before the store gave it
}

// Snapshot is the message that gives the whole state.
func (st *State) Snapshot() Message {
	return Message{Type: TypeSnapshot, Seq: st.Seq, At: st.At, Zones: st.Zones, Gates: st.Gates, Alerts: st.Alerts,
		Closed: st.Closed, Trend: st.Trend}
}

// MinutesToFull is each filling zone's forecast, by zone id (the zones
// that are not filling are absent).
func (st *State) MinutesToFull() map[string]float64 {
	out := map[string]float64{}
	for _, z := range st.Zones {
		if z.MinutesToFull != nil {
			out[z.ID] = *z.MinutesToFull
		}
	}
	return out
}

// flow is people moving into (in) or out of a zone at a time, from the log.
type flow struct {
	at      time.Time
	zone    string
	in, out int
}

// gateHit is one scan or tally at a gate.
type gateHit struct {
	at   time.Time
	gate string
}

// Board follows one event: the counters the store last gave, the log
// entries of the last FillWindow, and the previous state, which the next
// update is the difference from. It is not safe for concurrent use: one
// goroutine (the live stream's tailer) owns it.
type Board struct {
	ev          *event.Event
	silentAfter time.Duration

	flows    []flow
	hits     []gateHit
	lastSeen map[string]time.Time
	logSeq   int64 // the highest seq noted from the log
	counters map[string]*ledger.Counters
	seq      int64 // the seq of counters
	closed   *Closing
	newClose bool // closed is not in an update yet
	trend    *Trend

	prev                  *State
	lastSent              int64             // the seq of the last update, or of the first state
	prevJSON              map[string]string // zone id -> its JSON in prev
	gatesJSON, alertsJSON string
	since                 map[string]Alert // active alerts by id, with their since
}

// New returns the board of ev; a gate with no scan for silentAfter while
// the event is open is silent.
func New(ev *event.Event, silentAfter time.Duration) *Board {
	return &Board{ev: ev, silentAfter: silentAfter, lastSeen: map[string]time.Time{},
		prevJSON: map[string]string{}, since: map[string]Alert{}}
}

// Note takes one log entry into the flows and the gates' activity, and a
// day's closing into the next update. Sweeps move nobody through a gate:
// they are no flow (the closing's counters say what they did).
func (b *Board) Note(e ledger.Entry) {
	b.logSeq = max(b.logSeq, e.Seq)
	if e.Kind == "close" {
		b.closed = &Closing{Day: e.Day, At: e.At.In(b.ev.Location), Swept: nonNil(e.Swept), SweptTally: nonNil(e.SweptTally)}
		b.newClose = true
		return
	}
	if e.Kind != "scan" && e.Kind != "tally" {
		return
	}
	if b.ev.Gate(e.Gate) != nil && !e.At.IsZero() {
		b.hits = append(b.hits, gateHit{at: e.At, gate: e.Gate})
		if e.At.After(b.lastSeen[e.Gate]) {
			b.lastSeen[e.Gate] = e.At.In(b.ev.Location) // as the event clock shows it
		}
	}
	for _, x := range ledger.Crossings(e, b.parentOf) {
		b.flows = append(b.flows, flow{at: e.At, zone: x.Zone, in: x.In, out: x.Out})
	}
}

func nonNil(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// LogSeq is the highest seq of the entries noted.
func (b *Board) LogSeq() int64 { return b.logSeq }

// Seq is the seq of the counters the board holds (0 before the first).
func (b *Board) Seq() int64 { return b.seq }

// HasCounters reports whether the board holds counters.
func (b *Board) HasCounters() bool { return b.counters != nil }

// SetCounters gives the board the store's counters at seq (Store.Snapshot).
func (b *Board) SetCounters(cs map[string]*ledger.Counters, seq int64) {
	b.counters, b.seq = cs, seq
}

// Forget drops everything the board learnt from the store — counters,
// flows, the gates' activity — for a store that went back (wiped or
// replaced). The previous state stays, so the next Build's state is still
// compared with what clients were last shown.
func (b *Board) Forget() {
	b.flows, b.hits, b.lastSeen = nil, nil, map[string]time.Time{}
	b.logSeq, b.counters, b.seq = 0, nil, 0
	b.closed, b.newClose = nil, false
	b.trend = nil
}

// SetTrend gives the board the store's trend (Store.Trend), which the
// snapshots carry from the next Build on.
func (b *Board) SetTrend(tr ledger.Trend) {
	out := &Trend{From: tr.From.In(b.ev.Location), Step: int(time.Minute / time.Second),
		Zones: make(map[string][]int, len(tr.Occupancy))}
	for z, occ := range tr.Occupancy {
		if len(occ) > 0 {
			out.Zones[z] = occ[:len(occ)-1] // the last is now: the zone's occupancy says it
		}
	}
	b.trend = out
}

// Rebase makes the next update follow seq: after a snapshot was sent to
// every client (a store that went back), updates chain from it.
func (b *Board) Rebase(seq int64) { b.lastSent = seq }

// parentOf is a zone's parent in the event, "" for the root or an unknown zone.
func (b *Board) parentOf(zone string) string {
	if z := b.ev.Zone(zone); z != nil {
		return z.Parent
	}
	return ""
}

// Build makes the state at now from the counters and the windows. online
// names the gates a scanner of this instance is on; reported holds the
// queues the devices of this instance reported, by gate. It returns the state,
// the seq the update follows (the previous update's, or the first state's),
// and the update when something visible changed (nil otherwise, and on the
// first Build).
func (b *Board) Build(now time.Time, online map[string]bool, reported map[string]Reported) (st *State, prev int64, up *Message) {
	ev := b.ev
	// Forget what has left the longest window.
	b.flows = slices.DeleteFunc(b.flows, func(f flow) bool { return !f.at.After(now.Add(-FillWindow)) })
	b.hits = slices.DeleteFunc(b.hits, func(g gateHit) bool { return !g.at.After(now.Add(-FlowWindow)) })

	type sums struct{ in1, out1, in5, out5 int }
	byZone := map[string]*sums{}
	for _, f := range b.flows {
		if f.at.After(now) {
			continue // a device clock ahead: counted when its time comes
		}
		s := byZone[f.zone]
		if s == nil {
			s = &sums{}
			byZone[f.zone] = s
		}
		s.in5 += f.in
		s.out5 += f.out
		if f.at.After(now.Add(-FlowWindow)) {
			s.in1 += f.in
			s.out1 += f.out
		}
	}
	st = &State{Seq: b.seq, At: now, Zones: make([]Zone, 0, len(ev.Zones)),
		Gates: make([]Gate, 0, len(ev.Gates)), Alerts: []Alert{}, Closed: b.closed, Trend: b.trend}
	active := map[string]Alert{}
	raise := func(a Alert, since time.Time) {
		if old, ok := b.since[a.ID]; ok && old.Level == a.Level {
			since = old.Since
		}
		a.Since = since
		active[a.ID] = a
		st.Alerts = append(st.Alerts, a)
	}
	for _, z := range ev.Zones {
		c := b.counters[z.ID]
		if c == nil {
			c = &ledger.Counters{}
		}
		lz := Zone{ID: z.ID, Name: Text{AR: z.Name.AR, FR: z.Name.FR, EN: z.Name.EN}, Parent: z.Parent,
			Occupancy: c.Occupancy, Capacity: z.Capacity, Level: checkin.LevelOf(c.Occupancy, z.Capacity),
			Entries: c.Entries, Exits: c.Exits, Tally: c.Tally, TallyIn: c.TallyIn, TallyOut: c.TallyOut,
			ByType: map[string]int{}}
		for typ, n := range c.ByType {
			if n != 0 {
				lz.ByType[typ] = n
			}
		}
		if s := byZone[z.ID]; s != nil {
			lz.InPerMin, lz.OutPerMin = float64(s.in1), float64(s.out1)
			net := float64(s.in5-s.out5) / FillWindow.Minutes()
			if net > 0 {
				m := math.Round(float64(max(z.Capacity-c.Occupancy, 0))/net*10) / 10
				lz.MinutesToFull = &m
			}
		}
		st.Zones = append(st.Zones, lz)
		if lz.Level != checkin.LevelOK {
			raise(Alert{ID: "zone:" + z.ID + ":level", Kind: AlertLevel, Zone: z.ID, Level: string(lz.Level)}, now)
		}
		if lz.MinutesToFull != nil && *lz.MinutesToFull <= ForecastAlert && lz.Level != checkin.LevelFull {
			level := string(checkin.LevelWarn)
			if *lz.MinutesToFull <= ForecastAlert/2 {
				level = string(checkin.LevelCritical)
			}
			raise(Alert{ID: "zone:" + z.ID + ":forecast", Kind: AlertForecast, Zone: z.ID, Level: level}, now)
		}
	}
	perMin := map[string]int{}
	for _, g := range b.hits {
		if !g.at.After(now) {
			perMin[g.gate]++
		}
	}
	day, open := ev.DayOf(now)
	open = open && day.IsOpen(now)
	for _, g := range ev.Gates {
		lg := Gate{ID: g.ID, Zone: g.Zone, ScansPerMin: perMin[g.ID], Online: online[g.ID]}
		rep, known := reported[g.ID]
		if rep.Unsynced > 0 {
			lg.Unsynced = rep.Unsynced
			oldest := rep.Oldest.In(ev.Location)
			lg.UnsyncedOldest = &oldest
		}
		seen, ok := b.lastSeen[g.ID]
		if ok {
			at := seen
			lg.LastSeen = &at
			if !lg.Online && now.Sub(seen) < GateSeenOnline && seen.After(rep.Left) {
				lg.Online = true // a scanner on another instance
			}
		}
		if open {
			// Silent: no scan for silentAfter while open; a gate quiet
			// since the opening counts from the opening.
			ref := day.Open
			if seen.After(ref) {
				ref = seen
			}
			if silentAt := ref.Add(b.silentAfter); !now.Before(silentAt) {
				lg.Silent = true
				raise(Alert{ID: "gate:" + g.ID + ":silent", Kind: AlertSilent, Gate: g.ID,
					Level: string(checkin.LevelWarn)}, silentAt)
			}
		}
		st.Gates = append(st.Gates, lg)
		if lg.Unsynced > 0 || (known && !lg.Online) {
			b.markAtLeast(st.Zones, g.Zone)
		}
	}
	b.since = active
	prev = b.lastSent // before diff moves it
	return st, prev, b.diff(st)
}

// markAtLeast marks zone and every zone enclosing it as a lower bound.
func (b *Board) markAtLeast(zones []Zone, zone string) {
	for seen := 0; zone != "" && seen < len(zones); seen++ {
		for i := range zones {
			if zones[i].ID == zone {
				zones[i].AtLeast = true
			}
		}
		zone = b.parentOf(zone)
	}
}

// diff returns the update from the previous state to st, nil when nothing
// visible changed, and makes st the previous state.
func (b *Board) diff(st *State) *Message {
	up := &Message{Type: TypeUpdate, Seq: st.Seq, At: st.At, Zones: []Zone{}}
	zoneJSON := make(map[string]string, len(st.Zones))
	for _, z := range st.Zones {
		j, _ := json.Marshal(z)
		zoneJSON[z.ID] = string(j)
		if b.prevJSON[z.ID] != string(j) {
			up.Zones = append(up.Zones, z)
		}
	}
	gj, _ := json.Marshal(st.Gates)
	aj, _ := json.Marshal(st.Alerts)
	if string(gj) != b.gatesJSON {
		up.Gates = st.Gates
	}
	if string(aj) != b.alertsJSON {
		up.Alerts = st.Alerts
	}
	if b.newClose && b.seq >= b.logSeq {
		// The counters include the closing: the update shows both.
		up.Closed, b.newClose = b.closed, false
	}
	first := b.prev == nil
	visible := len(up.Zones) > 0 || up.Gates != nil || up.Alerts != nil || up.Closed != nil
	b.prevJSON, b.gatesJSON, b.alertsJSON = zoneJSON, string(gj), string(aj)
	b.prev = st
	switch {
	case first:
		b.lastSent = st.Seq
		return nil
	case !visible:
		return nil
	}
	b.lastSent = st.Seq
	return up
}
