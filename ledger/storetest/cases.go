package storetest

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/ledger"
)

// testConcurrency races many gates for the places of one small zone, with
// exits and tallies interleaved, and a reader watching the counters: no
// verdict and no reading may ever show the zone past its capacity or a
// counter below zero, and the end figures must add up.
func testConcurrency(t *testing.T, open func(t *testing.T) ledger.Engine) {
	const (
		capacity = 10
		workers  = 32 // the first tallyWorkers of them tally, the rest scan tickets
		tallyers = 4
		rounds   = 12
	)
	zones := []ledger.Zone{{ID: "site", Capacity: 100000}, {ID: "hall", Parent: "site", Capacity: capacity}}
	st := MustStore(t, open, zones)
	at := time.Date(2025, 9, 17, 12, 0, 0, 0, MustLocation(t))
	ctx := t.Context()

	// Each worker keeps its own tallies and problems; they are summed after Wait.
	type result struct {
		entered, left, full, notInside, ops int
		tallyIn, tallyOut                   int
		places                              map[string]string // ticket -> where it must be
		problems                            []string
	}
	results := make([]result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			res := &results[w]
			res.places = map[string]string{}
			bad := func(format string, args ...any) { res.problems = append(res.problems, fmt.Sprintf(format, args...)) }
			var held, refused []string
			for r := range rounds {
				if w < tallyers {
					delta := 1
					if r%2 == 1 {
						delta = -1
					}
					v, err := st.Tally(ctx, ledger.Tally{ID: fmt.Sprintf("tally-%d-%d", w, r), Zone: "hall", Delta: delta, At: at})
					res.ops++
					switch {
					case err != nil:
						bad("tally: %v", err)
					case v.Occupancy > capacity || v.Occupancy < 0:
						bad("tally %+d: occupancy %d of %d", delta, v.Occupancy, capacity)
					case delta > 0 && v.Code == checkin.Accepted:
						res.tallyIn++
					case delta > 0 && v.Code == checkin.ZoneFull:
						res.full++
					case delta < 0 && v.Code == checkin.Accepted && !v.Flags.Has(checkin.Clamped):
						res.tallyOut++
					case delta < 0 && v.Code == checkin.Accepted:
					default:
						bad("tally %+d: verdict %s", delta, formatVerdict(v))
					}
					continue
				}
				tk := fmt.Sprintf("w%02d-%02d", w, r)
				v, err := st.Scan(ctx, ledger.Scan{ID: "in-" + tk, Gate: "g-hall", Zone: "hall", Direction: checkin.In,
					Ticket: tk, Type: "visitor", Reentry: true, Precheck: checkin.Accepted, At: at})
				res.ops++
				switch {
				case err != nil:
					bad("scan in %s: %v", tk, err)
				case v.Code == checkin.Accepted && v.Occupancy >= 1 && v.Occupancy <= capacity:
					res.entered++
					held = append(held, tk)
					res.places[tk] = "hall"
				case v.Code == checkin.ZoneFull && v.Zone == "hall" && v.Occupancy == capacity:
					res.full++
					refused = append(refused, tk)
					res.places[tk] = ""
				default:
					bad("scan in %s: verdict %s", tk, formatVerdict(v))
				}
				if r%3 == 2 && len(held) > 0 {
					tk, held = held[0], held[1:]
					v, err := st.Scan(ctx, ledger.Scan{ID: "out-" + tk, Gate: "g-hall", Zone: "hall", Direction: checkin.Out,
						Ticket: tk, Type: "visitor", Precheck: checkin.Accepted, At: at})
					res.ops++
					if err != nil || v.Code != checkin.Accepted || len(v.Flags) != 0 || v.Occupancy < 0 || v.Occupancy >= capacity {
						bad("scan out %s: verdict %s, %v", tk, formatVerdict(v), err)
					}
					res.left++
					res.places[tk] = "site"
				}
				if r%4 == 3 && len(refused) > 0 {
					tk, refused = refused[0], refused[1:]
					v, err := st.Scan(ctx, ledger.Scan{ID: "out-" + tk, Gate: "g-hall", Zone: "hall", Direction: checkin.Out,
						Ticket: tk, Type: "visitor", Precheck: checkin.Accepted, At: at})
					res.ops++
					if err != nil || v.Code != checkin.Accepted || !v.Flags.Has(checkin.NotInside) || v.Occupancy > capacity {
						bad("scan out %s, never let in: verdict %s, %v", tk, formatVerdict(v), err)
					}
					res.notInside++
				}
			}
		})
	}

	// A reader watches the counters while the gates scan.
	stop := make(chan struct{})
	var watched []string
	var reads int
	var watcher sync.WaitGroup
	watcher.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			cs, err := st.Counters(ctx)
			reads++
			if err != nil {
				watched = append(watched, err.Error())
				return
			}
			if c := cs["hall"]; c.Occupancy > capacity {
				watched = append(watched, "hall: "+formatCounters(c))
			}
			for z, c := range cs {
				if neg := negatives(c); neg != "" {
					watched = append(watched, fmt.Sprintf("%s: negative %s: %s", z, neg, formatCounters(c)))
				}
			}
		}
	})
	wg.Wait()
	close(stop)
	watcher.Wait()

	var sum result
	places := map[string]string{}
	for _, r := range results {
		sum.entered += r.entered
		sum.left += r.left
		sum.full += r.full
		sum.ops += r.ops
		sum.tallyIn += r.tallyIn
		sum.tallyOut += r.tallyOut
		for _, p := range r.problems {
			t.Error(p)
		}
		maps.Copy(places, r.places)
	}
	for _, p := range watched {
		t.Errorf("counters read during the race: %s", p)
	}
	if sum.full == 0 {
		t.Errorf("no entry was refused: the race never reached the capacity")
	}
	cs, log := MustRecountAgrees(t, st, zones)
	hall, site := cs["hall"], cs["site"]
	want := fmt.Sprintf("occ=%d in=%d out=%d tin=%d tout=%d tally=%d", sum.entered-sum.left+sum.tallyIn-sum.tallyOut,
		sum.entered, sum.left, sum.tallyIn, sum.tallyOut, sum.tallyIn-sum.tallyOut)
	if got := fmt.Sprintf("occ=%d in=%d out=%d tin=%d tout=%d tally=%d", hall.Occupancy, hall.Entries,
		hall.Exits, hall.TallyIn, hall.TallyOut, hall.Tally); got != want {
		t.Errorf("hall: got %s, want %s (from the verdicts)", got, want)
	}
	if hall.Occupancy > capacity {
		t.Errorf("hall: occupancy %d past its capacity %d", hall.Occupancy, capacity)
	}
	// Hall tallies move people between the hall and the site's tally balance;
	// those the site's balance did not hold entered the site too (its tin).
	if site.Occupancy != sum.entered+site.TallyIn || site.Entries != sum.entered || site.Exits != 0 ||
		site.TallyOut != 0 || site.Tally+hall.Tally != site.TallyIn {
		t.Errorf("site: got %s, want entries %d, no exit, occupancy entries + tally in, and the tally balances of site and hall adding up to its tally in",
			formatCounters(site), sum.entered)
	}
	if len(log) != sum.ops {
		t.Errorf("log: %d entries, want one per operation, %d", len(log), sum.ops)
	}
	for tk, want := range places {
		if got := MustPlace(t, st, tk); got != want {
			t.Errorf("place of %s: got %q, want %q", tk, got, want)
		}
	}
	t.Logf("%d operations: %d let in, %d out, %d refused as full; %d counter reads during the race",
		sum.ops, sum.entered, sum.left, sum.full, reads)
}

// testRetries sends every scan and tally 1 to 5 times at once from as many
// goroutines (so over several connections), all of them together: each
// counts once, and every reply carries its first verdict.
func testRetries(t *testing.T, open func(t *testing.T) ledger.Engine) {
	const capacity = 6
	zones := []ledger.Zone{{ID: "site", Capacity: 100000}, {ID: "hall", Parent: "site", Capacity: capacity}}
	st := MustStore(t, open, zones)
	at := time.Date(2025, 9, 17, 12, 0, 0, 0, MustLocation(t))
	ctx := t.Context()

	type request struct {
		id    string
		scan  *ledger.Scan
		tally *ledger.Tally
		times int
	}
	var reqs []request
	for i := range 32 {
		id := fmt.Sprintf("r%02d", i)
		r := request{id: id, times: 1 + i%5}
		if i%4 == 3 {
			r.tally = &ledger.Tally{ID: id, Device: "counter", Zone: "hall", Delta: 1, At: at}
		} else {
			r.scan = &ledger.Scan{ID: id, Device: "dev-" + strconv.Itoa(i%3), Gate: "g-hall", Zone: "hall",
				Direction: checkin.In, Ticket: "tk-" + id, Type: "visitor", Precheck: checkin.Accepted, At: at}
		}
		reqs = append(reqs, r)
	}
	send := func(r request) (ledger.Verdict, error) {
		if r.scan != nil {
			return st.Scan(ctx, *r.scan)
		}
		return st.Tally(ctx, *r.tally)
	}

	replies := make([][]ledger.Verdict, len(reqs))
	errs := make([][]error, len(reqs))
	var mu sync.Mutex // guards replies and errs
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range reqs {
		for range r.times {
			wg.Go(func() {
				<-start
				v, err := send(r)
				mu.Lock()
				defer mu.Unlock()
				replies[i] = append(replies[i], v)
				errs[i] = append(errs[i], err)
			})
		}
	}
	close(start)
	wg.Wait()

	first := map[string]ledger.Verdict{}
	entered, tallied, full := 0, 0, 0
	for i, r := range reqs {
		if err := errors.Join(errs[i]...); err != nil {
			t.Fatalf("%s: %v", r.id, err)
		}
		fresh := 0
		for _, v := range replies[i] {
			if !v.Replayed {
				fresh++
				first[r.id] = v
			}
		}
		if fresh != 1 {
			t.Errorf("%s sent %d times: %d replies not replayed, want exactly 1", r.id, r.times, fresh)
			continue
		}
		for _, v := range replies[i] {
			v.Replayed = false
			if g, w := formatVerdict(v), formatVerdict(first[r.id]); g != w {
				t.Errorf("%s: a retry got %s, the first %s", r.id, g, w)
			}
		}
		switch v := first[r.id]; {
		case v.Code == checkin.Accepted && r.scan != nil:
			entered++
		case v.Code == checkin.Accepted:
			tallied++
		case v.Code == checkin.ZoneFull:
			full++
		default:
			t.Errorf("%s: verdict %s", r.id, formatVerdict(v))
		}
	}
	if full == 0 {
		t.Errorf("no request was refused as full: the retries never raced for the last place")
	}
	cs, log := MustRecountAgrees(t, st, zones)
	if got, want := fmt.Sprintf("occ=%d in=%d tin=%d", cs["hall"].Occupancy, cs["hall"].Entries, cs["hall"].TallyIn),
		fmt.Sprintf("occ=%d in=%d tin=%d", entered+tallied, entered, tallied); got != want {
		t.Errorf("hall: got %s, want %s (each request counted once)", got, want)
	}
	if cs["hall"].Occupancy > capacity {
		t.Errorf("hall: occupancy %d past its capacity %d", cs["hall"].Occupancy, capacity)
	}
	logged := map[string]int{}
	for _, e := range log {
		logged[e.ScanID]++
		if v, ok := first[e.ScanID]; ok && e.Code != v.Code {
			t.Errorf("log: %s logged as %s, answered %s", e.ScanID, e.Code, v.Code)
		}
	}
	for _, r := range reqs {
		if logged[r.id] != 1 {
			t.Errorf("log: %s logged %d times, want once", r.id, logged[r.id])
		}
	}
	if len(log) != len(reqs) {
		t.Errorf("log: %d entries, want %d", len(log), len(reqs))
	}

	// A late retry, after everything settled, changes nothing either.
	var tickets []string
	for _, r := range reqs {
		if r.scan != nil {
			tickets = append(tickets, r.scan.Ticket)
		}
	}
	before := mustState(t, st, []string{"2025-09-17"}, tickets)
	for _, r := range reqs {
		v, err := send(r)
		if err != nil {
			t.Fatalf("late retry of %s: %v", r.id, err)
		}
		if g, w := formatVerdict(v), formatVerdict(replayed(first[r.id])); g != w {
			t.Errorf("late retry of %s: got %s, want %s", r.id, g, w)
		}
	}
	if d := diffState(before, mustState(t, st, []string{"2025-09-17"}, tickets)); d != "" {
		t.Errorf("late retries changed the store:\n%s", d)
	}
}

// setUp gives a store a little state: t1 in the site, t2 in hall-a, two
// tallied people on the stage and one refusal. It returns the ticket ids.
func setUp(t *testing.T, st *ledger.Store, at time.Time) []string {
	t.Helper()
	for i, sc := range []*ledger.Scan{in("t1", site), in("t2", hallA), in("t3", hallB, pre(checkin.Closed))} {
		sc.ID, sc.At = fmt.Sprintf("setup-%d", i), at
		MustScan(t, st, *sc)
	}
	MustTally(t, st, ledger.Tally{ID: "setup-tally", Zone: stage, Delta: 2, At: at})
	return []string{"t1", "t2", "t3"}
}

// testBadInput sends scans and tallies the store must refuse with ErrInvalid,
// and checks that each changed nothing: not the counters, the log, the day's
// fields, the places, nor the memory of ids (the id is still free after).
func testBadInput(t *testing.T, open func(t *testing.T) ledger.Engine) {
	long := strings.Repeat("x", ledger.MaxIDLength+1)
	tests := map[string]struct {
		scan  func(*ledger.Scan)
		tally func(*ledger.Tally)
	}{
		"scan: empty id":                     {scan: func(s *ledger.Scan) { s.ID = "" }},
		"scan: id of 65 characters":          {scan: func(s *ledger.Scan) { s.ID = long }},
		"scan: unknown direction":            {scan: func(s *ledger.Scan) { s.Direction = "sideways" }},
		"scan: no direction":                 {scan: func(s *ledger.Scan) { s.Direction = "" }},
		"scan: direction in capitals":        {scan: func(s *ledger.Scan) { s.Direction = "IN" }},
		"scan: unknown precheck":             {scan: func(s *ledger.Scan) { s.Precheck = "maybe" }},
		"scan: no precheck":                  {scan: func(s *ledger.Scan) { s.Precheck = "" }},
		"scan: a ledger verdict as precheck": {scan: func(s *ledger.Scan) { s.Precheck = checkin.ZoneFull }},
		"scan: already_inside as precheck":   {scan: func(s *ledger.Scan) { s.Precheck = checkin.AlreadyInside }},
		"scan: zero time":                    {scan: func(s *ledger.Scan) { s.At = time.Time{} }},
		"scan: accepted precheck, no ticket": {scan: func(s *ledger.Scan) { s.Ticket = "" }},
		"scan: accepted precheck, no type":   {scan: func(s *ledger.Scan) { s.Type = "" }},
		"scan: closed exit, ticket, no type": {scan: func(s *ledger.Scan) {
			s.Direction, s.Precheck, s.Type = checkin.Out, checkin.Closed, ""
		}},
		"scan: exit, accepted, no ticket":     {scan: func(s *ledger.Scan) { s.Direction, s.Ticket = checkin.Out, "" }},
		"tally: empty id":                     {tally: func(tl *ledger.Tally) { tl.ID = "" }},
		"tally: id of 65 characters":          {tally: func(tl *ledger.Tally) { tl.ID = long }},
		"tally: zero delta":                   {tally: func(tl *ledger.Tally) { tl.Delta = 0 }},
		"tally: huge delta":                   {tally: func(tl *ledger.Tally) { tl.Delta = 1001 }},
		"tally: huge negative delta":          {tally: func(tl *ledger.Tally) { tl.Delta = -1001 }},
		"tally: unknown zone":                 {tally: func(tl *ledger.Tally) { tl.Zone = "annex" }},
		"tally: no zone":                      {tally: func(tl *ledger.Tally) { tl.Zone = "" }},
		"tally: zero time":                    {tally: func(tl *ledger.Tally) { tl.At = time.Time{} }},
		"tally: huge delta on an unknown one": {tally: func(tl *ledger.Tally) { tl.Delta, tl.Zone = 5000, "annex" }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := MustStore(t, open, fairZones)
			at := time.Date(2025, 9, 17, 11, 0, 0, 0, MustLocation(t))
			tickets := setUp(t, st, at)
			good := ledger.Scan{ID: "bad-1", Device: "dev-1", Gate: "g-hall-b", Zone: hallB, Direction: checkin.In,
				Ticket: "t4", Type: "visitor", Reentry: true, Precheck: checkin.Accepted, At: at}
			goodTally := ledger.Tally{ID: "bad-1", Device: "counter", Zone: stage, Delta: 1, At: at}
			before := mustState(t, st, []string{"2025-09-17"}, append(tickets, "t4"))

			var err error
			var id string
			if tc.scan != nil {
				sc := good
				tc.scan(&sc)
				id = sc.ID
				_, err = st.Scan(t.Context(), sc)
			} else {
				tl := goodTally
				tc.tally(&tl)
				id = tl.ID
				_, err = st.Tally(t.Context(), tl)
			}
			if !errors.Is(err, ledger.ErrInvalid) {
				t.Fatalf("got error %v, want one wrapping %v", err, ledger.ErrInvalid)
			}
			if d := diffState(before, mustState(t, st, []string{"2025-09-17"}, append(tickets, "t4"))); d != "" {
				t.Fatalf("a refused request changed the store:\n%s", d)
			}
			if id == "" || len(id) > ledger.MaxIDLength {
				return
			}
			// The id was not taken: a good request with it is decided afresh.
			var v ledger.Verdict
			if tc.scan != nil {
				good.ID = id
				v = MustScan(t, st, good)
			} else {
				goodTally.ID = id
				v = MustTally(t, st, goodTally)
			}
			if v.Replayed || v.Code != checkin.Accepted {
				t.Errorf("a good request with the refused one's id: got %s, want a fresh acceptance", formatVerdict(v))
			}
		})
	}

	// The limits themselves are good input.
	limits := map[string]struct {
		scan  *ledger.Scan
		tally *ledger.Tally
		want  ledger.Verdict
	}{
		"scan: id of 64 characters": {scan: in("t4", hallB, withID(strings.Repeat("y", ledger.MaxIDLength))),
			want: verdict(accepted, hallB, 1, 3, checkin.ImplicitEntry)},
		"tally: delta 1000": {tally: &ledger.Tally{ID: "big", Zone: stage, Delta: 1000},
			want: verdict(checkin.ZoneFull, stage, 2, 3)},
		"tally: delta -1000": {tally: &ledger.Tally{ID: "big", Zone: stage, Delta: -1000},
			want: verdict(accepted, stage, 0, 3, checkin.Clamped)},
		"tally: id of 64 characters": {tally: &ledger.Tally{ID: strings.Repeat("z", ledger.MaxIDLength), Zone: stage, Delta: -1},
			want: verdict(accepted, stage, 1, 3)},
	}
	for name, tc := range limits {
		t.Run(name, func(t *testing.T) {
			st := MustStore(t, open, fairZones)
			at := time.Date(2025, 9, 17, 11, 0, 0, 0, MustLocation(t))
			setUp(t, st, at)
			var got ledger.Verdict
			if tc.scan != nil {
				sc := *tc.scan
				sc.At = at
				got = MustScan(t, st, sc)
			} else {
				tl := *tc.tally
				tl.At = at
				got = MustTally(t, st, tl)
			}
			if g, w := formatVerdict(got), formatVerdict(tc.want); g != w {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

// testForgedAndUnknownGate sends scans with forged tickets and from unknown
// gates: each is decided and logged, but moves nobody and changes no count
// but, for a refused entry at a known zone, that zone's refusals.
func testForgedAndUnknownGate(t *testing.T, open func(t *testing.T) ledger.Engine) {
	tests := map[string]struct {
		scan        *ledger.Scan
		want        ledger.Verdict
		refusalZone string // the zone that counts the refusal, "" for none
	}{
		"forged entry, no ticket id": {scan: in("", hallA, forged),
			want: verdict(checkin.InvalidTicket, hallA, 1, 4), refusalZone: hallA},
		"forged entry naming a ticket inside": {scan: in("t2", hallB, forged),
			want: verdict(checkin.InvalidTicket, hallB, 0, 3), refusalZone: hallB},
		"forged entry naming a ticket outside": {scan: in("t9", site, forged),
			want: verdict(checkin.InvalidTicket, site, 4, 8), refusalZone: site}, // 2 tickets and the 2 tallied on the stage
		"forged exit naming a ticket inside": {scan: out("t2", hallA, forged),
			want: verdict(accepted, hallA, 1, 4, checkin.NotInside, checkin.Unverified)},
		"forged exit, no ticket id": {scan: out("", site, forged),
			want: verdict(accepted, site, 4, 8, checkin.NotInside, checkin.Unverified)},
		"exit without a ticket id, whatever the precheck": {scan: out("", site, pre(checkin.Closed)),
			want: verdict(accepted, site, 4, 8, checkin.NotInside, checkin.Unverified)},
		"unknown gate, entry":  {scan: in("t3", ""), want: verdict(checkin.UnknownGate, "", 0, 0)},
		"unknown gate, exit":   {scan: out("t1", ""), want: verdict(checkin.UnknownGate, "", 0, 0)},
		"unknown gate, forced": {scan: in("t3", "", force), want: verdict(checkin.UnknownGate, "", 0, 0)},
		"a gate in a zone the event lacks": {scan: in("t3", "annex"),
			want: verdict(checkin.UnknownGate, "", 0, 0)},
		"an exit at a gate in a zone the event lacks": {scan: out("t2", "annex"),
			want: verdict(checkin.UnknownGate, "", 0, 0)},
		"unknown gate, forged ticket": {scan: in("", "", forged), want: verdict(checkin.UnknownGate, "", 0, 0)},
		"a gate the device may not use, exit": {scan: out("t2", hallA, pre(checkin.UnknownGate)),
			want: verdict(checkin.UnknownGate, "", 0, 0), refusalZone: hallA},
		"a gate the device may not use, entry": {scan: in("t3", hallB, pre(checkin.UnknownGate)),
			want: verdict(checkin.UnknownGate, "", 0, 0), refusalZone: hallB},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := MustStore(t, open, fairZones)
			at := time.Date(2025, 9, 17, 11, 0, 0, 0, MustLocation(t))
			tickets := append(setUp(t, st, at), "t9")
			date := "2025-09-17"
			before := mustState(t, st, []string{date}, tickets)

			sc := *tc.scan
			sc.ID, sc.At, sc.DeviceAt = "odd-1", at.Add(time.Minute), at.Add(time.Minute)
			got := MustScan(t, st, sc)
			if g, w := formatVerdict(got), formatVerdict(tc.want); g != w {
				t.Errorf("got %s, want %s", g, w)
			}

			// What must have changed: one log entry, and perhaps one refusal.
			want := before
			want.counters = cloneCounters(before.counters)
			want.days = map[string]map[string]string{date: maps.Clone(before.days[date])}
			inc := func(k string) {
				n, _ := strconv.Atoi(want.days[date][k])
				want.days[date][k] = strconv.Itoa(n + 1)
			}
			if z := tc.refusalZone; z != "" {
				want.counters[z].Refusals[tc.want.Code]++
				inc(z + "|r:" + string(tc.want.Code))
			}
			gz := sc.Zone
			if gz == "annex" {
				gz = ""
			}
			if gz != "" && sc.Precheck != checkin.UnknownGate { // the gate's report counters
				inc("|g|" + sc.Gate + "|scans")
				inc("|g|" + sc.Gate + "|m" + sc.At.In(MustLocation(t)).Format("1504"))
			}
			place := before.places[sc.Ticket]
			want.log = append(before.log[:len(before.log):len(before.log)], ledger.Entry{Kind: "scan",
				ScanID: sc.ID, Device: sc.Device, Gate: sc.Gate, Zone: gz, Direction: sc.Direction,
				Ticket: sc.Ticket, Type: sc.Type, Code: tc.want.Code, Flags: tc.want.Flags, From: place, To: place,
				At: sc.At, DeviceAt: sc.DeviceAt})
			after := mustState(t, st, []string{date}, tickets)
			if len(after.log) == len(want.log) {
				want.log[len(want.log)-1].ID = after.log[len(after.log)-1].ID // a new id, whatever it is
			}
			if d := diffState(want, after); d != "" {
				t.Errorf("the store changed otherwise than by one log entry and its refusal:\n%s", d)
			}
		})
	}
}

// testDayCounters checks the report fields of a day after a few scans and
// tallies at known local hours: Africa/Casablanca is UTC+1 in September 2025,
// so 09:05 UTC counts in hour 10 and 23:30 UTC in hour 00 of the next day.
func testDayCounters(t *testing.T, open func(t *testing.T) ledger.Engine) {
	st := MustStore(t, open, fairZones)
	utc := func(day, hh, mm int) time.Time { return time.Date(2025, 9, day, hh, mm, 0, 0, time.UTC) }
	ms := func(at time.Time) string { return strconv.FormatInt(at.UnixMilli(), 10) }
	ops := []struct {
		scan  *ledger.Scan
		tally *ledger.Tally
		at    time.Time // local: one hour later
	}{
		{scan: in("t1", site), at: utc(17, 9, 5)},                               // 10:05 site 1
		{scan: in("t2", hallA), at: utc(17, 9, 10)},                             // 10:10 site 2, hall-a 1
		{scan: out("t1", site), at: utc(17, 10, 20)},                            // 11:20 site 1
		{scan: in("t1", site), at: utc(17, 10, 30)},                             // 11:30 site 2: t1 again
		{tally: &ledger.Tally{Zone: stage, Delta: 2}, at: utc(17, 10, 40)},      // 11:40 stage 2, site 4: uncounted in the site before
		{scan: in("", hallA, forged), at: utc(17, 10, 50)},                      // 11:50 refused
		{tally: &ledger.Tally{Zone: stage, Delta: -3}, at: utc(17, 10, 55)},     // 11:55 stage 0, clamped; the 2 stay in the site
		{scan: in("t3", site), at: utc(17, 23, 30)},                             // 00:30 on the 18th: site 5
		{tally: &ledger.Tally{Zone: hallB, Delta: 4}, at: utc(17, 23, 40)},      // 00:40 refused: hall-b holds 3
		{scan: in("t3", hallB, pre(checkin.NotValidToday)), at: utc(18, 0, 10)}, // 01:10 refused
		{scan: out("t3", site, pre(checkin.NotValidToday)), at: utc(18, 0, 15)}, // 01:15 site 4
		{scan: out("t2", hallA), at: utc(18, 0, 20)},                            // 01:20 hall-a 0: its first change today
	}
	for i, o := range ops {
		if o.scan != nil {
			sc := *o.scan
			sc.ID, sc.At, sc.DeviceAt = fmt.Sprintf("s%d", i), o.at, o.at
			MustScan(t, st, sc)
		} else {
			tl := *o.tally
			tl.ID, tl.At, tl.DeviceAt = fmt.Sprintf("t%d", i), o.at, o.at
			MustTally(t, st, tl)
		}
	}
	tests := map[string]map[string]string{
		"2025-09-16": {},
		"2025-09-17": {
			"site|in":      "3",
			"site|out":     "1",
			"site|uv":      "2",
			"site|tin":     "2",
			"site|peak":    "4",
			"site|peak_at": ms(utc(17, 10, 40)),
			"site|h10|in":  "2",
			"site|h10|occ": "2",
			"site|h11|in":  "1",
			"site|h11|out": "1",
			"site|h11|tin": "2",
			"site|h11|occ": "4",

			"hall-a|in":               "1",
			"hall-a|uv":               "1",
			"hall-a|peak":             "1",
			"hall-a|peak_at":          ms(utc(17, 9, 10)),
			"hall-a|h10|in":           "1",
			"hall-a|h10|occ":          "1",
			"hall-a|r:invalid_ticket": "1",

			"stage|tin":      "2",
			"stage|tout":     "2",
			"stage|peak":     "2",
			"stage|peak_at":  ms(utc(17, 10, 40)),
			"stage|h11|tin":  "2",
			"stage|h11|tout": "2",
			"stage|h11|occ":  "0",

			"site|dw:75": "1", // a stay of 75 minutes in the site

			"|g|g-site|scans":   "3",
			"|g|g-site|m1005":   "1",
			"|g|g-site|m1120":   "1",
			"|g|g-site|m1130":   "1",
			"|g|g-hall-a|scans": "2",
			"|g|g-hall-a|m1010": "1",
			"|g|g-hall-a|m1150": "1",
		},
		"2025-09-18": {
			"site|in":      "1",
			"site|out":     "1",
			"site|uv":      "1",
			"site|peak":    "5",
			"site|peak_at": ms(utc(17, 23, 30)),
			"site|h00|in":  "1",
			"site|h00|occ": "5",
			"site|h01|out": "1",
			"site|h01|occ": "4",

			"hall-a|out":     "1",
			"hall-a|peak":    "1", // who was still inside from yesterday counts towards today's peak
			"hall-a|peak_at": ms(utc(18, 0, 20)),
			"hall-a|h01|out": "1",
			"hall-a|h01|occ": "0",

			"hall-b|r:zone_full":       "1",
			"hall-b|r:not_valid_today": "1",

			"site|dw:45": "1", // t3, 00:30 to 01:15 (t2's stay in hall-a began on another day: none)

			"|g|g-site|scans":   "2",
			"|g|g-site|m0030":   "1",
			"|g|g-site|m0115":   "1",
			"|g|g-hall-a|scans": "1",
			"|g|g-hall-a|m0120": "1",
			"|g|g-hall-b|scans": "1",
			"|g|g-hall-b|m0110": "1",
		},
	}
	for date, want := range tests {
		t.Run(date, func(t *testing.T) {
			if d := diffFields(want, MustDay(t, st, date)); d != "" {
				t.Errorf("day %s:\n%s", date, d)
			}
		})
	}
}

// testSeq checks that every decided scan and tally carries the next sequence
// number, that replays and revocations take none, and that Snapshot reads the
// counters together with the last one.
func testSeq(t *testing.T, open func(t *testing.T) ledger.Engine) {
	st := MustStore(t, open, fairZones)
	ctx := t.Context()
	at := time.Date(2025, 9, 17, 9, 0, 0, 0, time.UTC)
	steps := []func() error{
		func() error {
			_, err := st.Scan(ctx, ledger.Scan{ID: "a", Gate: "g", Zone: site, Direction: checkin.In, Ticket: "t1", Type: "visitor", Precheck: checkin.Accepted, At: at})
			return err
		},
		func() error {
			_, err := st.Scan(ctx, ledger.Scan{ID: "a", Gate: "g", Zone: site, Direction: checkin.In, Ticket: "t1", Type: "visitor", Precheck: checkin.Accepted, At: at})
			return err
		},
		func() error { _, err := st.Revoke(ctx, at, "test", "t9"); return err },
		func() error {
			_, err := st.Tally(ctx, ledger.Tally{ID: "b", Zone: stage, Delta: 2, At: at})
			return err
		},
		func() error {
			_, err := st.Scan(ctx, ledger.Scan{ID: "c", Gate: "g", Zone: hallA, Direction: checkin.In, Ticket: "", Precheck: checkin.InvalidTicket, At: at})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	cs, seq, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 3 || cs[site].Occupancy != 3 || cs[stage].Occupancy != 2 {
		t.Errorf("snapshot: seq %d, site %d, stage %d; want 3, 3 (a ticket and the stage's 2), 2", seq, cs[site].Occupancy, cs[stage].Occupancy)
	}
	log, err := st.ReadLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range log {
		got = append(got, e.Seq)
	}
	if fmt.Sprint(got) != "[1 0 2 3]" { // scan, revoke (no seq), tally, forged scan
		t.Errorf("log seqs %v, want [1 0 2 3]", got)
	}
}
