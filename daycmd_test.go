package main

import (
	"strings"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/event"
	"crowdflow/ledger"
	"crowdflow/ledger/redisengine"
)

// TestDayClose closes a day by hand on the embedded store: the ticket still
// inside is swept out, a second closing changes nothing, and bad days are
// usage errors that change nothing.
func TestDayClose(t *testing.T) {
	data := t.TempDir()
	ev, err := event.Load(ouarzazate)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 9, 18, 11, 0, 0, 0, ev.Location)
	func() {
		st, closeStore, err := openLedger(t.Context(), ev, redisengine.Options{}, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer closeStore()
		for i, zone := range []string{"site", "hall-crafts"} {
			v, err := st.Scan(t.Context(), ledger.Scan{ID: "s" + zone, Device: "test", Gate: "g", Zone: zone,
				Direction: checkin.In, Ticket: "tk" + zone, Type: "visitor", Reentry: true,
				Precheck: checkin.Accepted, At: at.Add(time.Duration(i) * time.Minute)})
			if err != nil || v.Code != checkin.Accepted {
				t.Fatalf("scan: %v %v", v, err)
			}
		}
	}()

	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"not a day of the event", []string{"--day", "2025-09-30"}, exitUsage, ""},
		{"not a date", []string{"--day", "tomorrow"}, exitUsage, ""},
		{"no day", nil, exitUsage, ""},
		// The 17th closed already: the first scan of the 18th closed it.
		{"the 18th", []string{"--day", "2025-09-18"}, exitOK, "closed 2025-09-18: swept site 2, hall-crafts 1\n"},
		{"again", []string{"--day", "2025-09-18"}, exitOK, "2025-09-18 was already closed at 2025-09-18 22:30:00; nothing changed\n"},
		{"a clock that is not a time", []string{"--day", "2025-09-19", "--clock", "15:00"}, exitUsage, ""},
		// The 19th under way at 15:00 on the event clock: an early closing,
		// at that moment.
		{"the 19th, early", []string{"--day", "2025-09-19", "--clock", "2025-09-19T15:00:00+01:00"}, exitOK,
			"closed 2025-09-19: swept nobody\n"},
		{"the 19th again", []string{"--day", "2025-09-19"}, exitOK,
			"2025-09-19 was already closed at 2025-09-19 15:00:00; nothing changed\n"},
	}
	for _, tc := range tests {
		args := append([]string{"day", "close", "--config", ouarzazate, "--data", data}, tc.args...)
		code, out, stderr := runCLI(t, nil, args...)
		if code != tc.code || (tc.out != "" && out != tc.out) {
			t.Errorf("%s: exit %d, out %q (stderr %q); want exit %d, out %q", tc.name, code, out, stderr, tc.code, tc.out)
		}
		if code == exitUsage && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: error is not one line: %q", tc.name, stderr)
		}
	}

	st, closeStore, err := openLedger(t.Context(), ev, redisengine.Options{}, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	cs, err := st.Counters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cs["site"].Occupancy != 0 || cs["site"].Swept != 2 || cs["hall-crafts"].Swept != 1 {
		t.Errorf("after closing: site %d inside, %d swept; hall-crafts %d swept; want 0, 2, 1",
			cs["site"].Occupancy, cs["site"].Swept, cs["hall-crafts"].Swept)
	}
}
