package scanner_test

import (
	"regexp"
	"strings"
	"testing"

	"crowdflow/checkin"
	"crowdflow/scanner"
	"crowdflow/wire"
)

func TestFormat(t *testing.T) {
	scan := scanItem("01J8Z4R7Y6Q3T9K2M5N8P0W4XC", 1)
	tests := map[string]struct {
		r     scanner.Result
		want  string
		class scanner.Class
	}{
		"accepted": {
			r: scanner.Result{Item: scan, Verdict: wire.Verdict{ID: "01J8Z4R7Y6Q3T9K2M5N8P0W4XC", OK: true, Code: checkin.Accepted,
				Ticket: "k3fq7m2ab4x6c5dz", TicketType: "visitor", Zone: "site", Occupancy: 812, Capacity: 1621, Level: "ok",
				Flags: checkin.Flags{}, Message: "Entry accepted."}},
			want:  "✔ ACCEPTED  visitor k3fq7m2ab4x6c5dz  site 812/1621 ok  id=01J8Z4R7Y6Q3T9K2M5N8P0W4XC  Entry accepted.",
			class: scanner.Green,
		},
		"already inside": {
			r: scanner.Result{Item: scan, Verdict: wire.Verdict{ID: "X", Code: checkin.AlreadyInside,
				Ticket: "k3fq7m2ab4x6c5dz", TicketType: "visitor", Zone: "site", Occupancy: 812, Capacity: 1621, Level: "ok"}},
			want:  "⚠ ALREADY_INSIDE  visitor k3fq7m2ab4x6c5dz  site 812/1621 ok  id=X",
			class: scanner.Amber,
		},
		"accepted, moved from a sibling": {
			r: scanner.Result{Item: scan, Verdict: wire.Verdict{ID: "X", OK: true, Code: checkin.Accepted, Ticket: "k", TicketType: "visitor",
				Zone: "hall-terroir", Occupancy: 3, Capacity: 414, Level: "ok", Flags: checkin.ParseFlags("offline,moved_from_sibling")}, Synced: true},
			want:  "⚠ SYNCED ACCEPTED  visitor k  hall-terroir 3/414 ok  flags=moved_from_sibling,offline  id=X",
			class: scanner.Amber,
		},
		"decided offline": {
			r: scanner.Result{Item: scan, Local: true, Verdict: wire.Verdict{ID: "X", OK: true, Code: checkin.Accepted, Ticket: "k",
				TicketType: "visitor", Zone: "site", Capacity: 1621, Flags: checkin.Flags{checkin.Offline}, Message: "decided offline"}},
			want:  "✔ ACCEPTED  visitor k  site ?/1621  flags=offline  OFFLINE  id=X  decided offline",
			class: scanner.Green,
		},
		"forged": {
			r: scanner.Result{Item: scan, Verdict: wire.Verdict{ID: "X", Code: checkin.InvalidTicket, Zone: "site", Occupancy: 1, Capacity: 1621,
				Level: "ok", Replayed: true, Message: "not\x1b[31m valid\nticket"}},
			want:  "✘ INVALID_TICKET  -  site 1/1621 ok  replayed  id=X  not [31m valid ticket",
			class: scanner.Red,
		},
		"tally": {
			r: scanner.Result{Item: tallyItem("T", -4), Verdict: wire.Verdict{ID: "T", OK: true, Code: checkin.Accepted, Zone: "stage",
				Occupancy: 40, Capacity: 646, Level: "ok"}},
			want:  "✔ ACCEPTED  tally -4  stage 40/646 ok  id=T",
			class: scanner.Green,
		},
		"zone full": {
			r: scanner.Result{Item: scan, Verdict: wire.Verdict{ID: "X", Code: checkin.ZoneFull, Ticket: "k", TicketType: "visitor",
				Zone: "site", Occupancy: 1621, Capacity: 1621, Level: "full"}},
			want:  "✘ ZONE_FULL  visitor k  site 1621/1621 full  id=X",
			class: scanner.Red,
		},
		"undecided": {
			r:     scanner.Result{Item: scan, Local: true, Verdict: wire.Verdict{ID: "X", Code: scanner.Undecided, Zone: "site"}},
			want:  "⚠ UNDECIDED  -  site ?/0  OFFLINE  id=X",
			class: scanner.Amber,
		},
	}
	parse := regexp.MustCompile(`^(✔|⚠|✘) (SYNCED )?([A-Z_]+)  (\S+(?: \S+)?)  (\S+) (\S+)(?: (\S+))?(  flags=\S+)?(  OFFLINE)?(  replayed)?  id=(\S+)`)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := scanner.Format(tc.r, false)
			if got != tc.want {
				t.Errorf("plain:\n got %q\nwant %q", got, tc.want)
			}
			if c := scanner.ClassOf(tc.r.Verdict); c != tc.class {
				t.Errorf("class %d, want %d", c, tc.class)
			}
			m := parse.FindStringSubmatch(got)
			if m == nil || m[3] != strings.ToUpper(string(tc.r.Verdict.Code)) || m[11] != tc.r.Verdict.ID {
				t.Errorf("the documented grammar does not read %q: %q", got, m)
			}
			colored := scanner.Format(tc.r, true)
			if !strings.HasPrefix(colored, "\x1b[") || !strings.HasSuffix(colored, "\x1b[0m") || !strings.Contains(colored, got) {
				t.Errorf("coloured: %q", colored)
			}
		})
	}
	if s := scanner.Status("OFFLINE", "gateway\nunreachable", true, false); s != "· OFFLINE  gateway unreachable" {
		t.Errorf("status line %q", s)
	}
}

func TestBanner(t *testing.T) {
	tests := map[string]struct {
		v         wire.Verdict
		bg, words string
	}{
		"accepted":       {wire.Verdict{OK: true, Code: checkin.Accepted}, "42m", "ENTREZ · تفضل · GO"},
		"already inside": {wire.Verdict{Code: checkin.AlreadyInside}, "43m", "ATTENTION"},
		"override":       {wire.Verdict{OK: true, Code: checkin.Accepted, Flags: checkin.Flags{checkin.OfflineOverride}}, "43m", "ATTENTION"},
		"refused":        {wire.Verdict{Code: checkin.Revoked}, "41m", "REFUSÉ · مرفوض · STOP"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := scanner.Banner(tc.v)
			lines := strings.Split(b, "\n")
			if len(lines) != 3 {
				t.Fatalf("%d lines, want 3: %q", len(lines), b)
			}
			if !strings.Contains(lines[1], tc.words) {
				t.Errorf("middle line %q does not say %q", lines[1], tc.words)
			}
			for _, l := range lines {
				if !strings.Contains(l, tc.bg) || !strings.HasSuffix(l, "\x1b[0m") {
					t.Errorf("line %q: want background %s and a reset", l, tc.bg)
				}
			}
		})
	}
}
