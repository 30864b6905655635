package event_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"crowdflow/event"
)

// problems lists a Parse error as "FIELD: MSG" lines.
func problems(tb testing.TB, err error, file string) []string {
	tb.Helper()
	var out []string
	for _, fe := range event.FieldErrors(err) {
		if fe.File != file {
			tb.Errorf("problem %q names file %q, want %q", fe.Msg, fe.File, file)
		}
		out = append(out, fe.Field+": "+fe.Msg)
	}
	return out
}

// TestParseBroken checks that each broken file reports exactly its problems,
// at their field paths, in file order. Each want is the start of a problem.
func TestParseBroken(t *testing.T) {
	tests := map[string][]string{
		"bad-event.yaml": {
			`id: "Ouarzazate 2025": want 1 to 40 of a-z`,
			`name.en: missing translation`,
			`time_zone: unknown time zone "Africa/Ouarzazate"`,
			`close_grace: "half an hour": want a duration`,
		},
		"bad-days.yaml": {
			`days[0].date: "2025-09-31": want a date`,
			`days[1].open: "10h00": want HH:MM`,
			`days[2].close: 10:00 is not after the opening 22:00`,
			`days[4].open: overlaps days[3] (2025-09-19), which closes at 2025-09-20 02:30 (its close plus close_grace)`,
			`days[5].date: 2025-09-19 is already days[3]`,
			`days[6].open: "25:00": an opening is before 24:00`,
		},
		"bad-tree.yaml": {
			`zones[1].parent: unknown zone "hal"`,
			`zones[2].parent: required: only one zone, the site (zones[0]), has no parent`,
			`zones[3].parent: cycle: loop-a → loop-b → loop-a`,
			`zones[5].parent: cycle: self → self`,
		},
		"no-root.yaml": {
			`zones: no root`,
			`zones[0].parent: cycle: a → b → a`,
		},
		"duplicates.yaml": {
			`zones[2].id: "hall" is already zones[1]`,
			`gates[1].id: "MAIN" is already gates[0]`,
			`ticket_types[1].id: "visitor" is already ticket_types[0]`,
		},
		"bad-zones.yaml": {
			`zones[1].kind: "marquee": want site, hall, standing or seated`,
			`zones[2].net_area: required (m², above 0) unless an authority figure is given`,
			`zones[3].exit_width: -2 is negative`,
			`zones[4].area_per_person: 0.1 m²/person is over 5 persons/m²`,
			`zones[4].design_density: 7 is over the limit of 5`,
			`zones[5]: capacity is 0 (0 by load factor: 0.5 m² ÷ 1.4 m²/person`,
			`zones[6].id: "Bad Id": want 1 to 64 of`,
			`zones[7].net_area: want a finite number`,
			`zones[7].authority: -5 is negative`,
		},
		"bad-refs.yaml": {
			`gates[0].zone: unknown zone "hall"`,
			`gates[1].lanes: 0: want 1 to 1000`,
			`gates[2].zone: required`,
			`ticket_types[0].zones[1]: unknown zone "hall"`,
			`ticket_types[0].days[1]: "2025-09-30" is not an event day`,
		},
		"translations.yaml": {
			`name.ar: missing translation`,
			`zones[0].name.ar: missing translation`,
			`gates[0].name: required, in ar, fr and en`,
			`ticket_types[0].name.en: missing translation`,
		},
		"hash-collision.yaml": {
			`zones[2].id: "zone-641" has the same ticket hash (58ee) as zone "zone-207"`,
			`ticket_types[1].id: "zone-641" has the same ticket hash (58ee) as ticket type "zone-207"`,
		},
		"typos.yaml": {
			`name.de: unknown field`,
			`zones[0].net_aera: unknown field`,
			`zones[1].net_area: want a number, got text "large"`,
			`gates[0].lanes: want a whole number, got text "two"`,
			`ticket_types[0].reentry: want true or false, got text "maybe"`,
		},
	}
	for file, want := range tests {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("testdata", file)
			e, err := event.Load(path)
			if e != nil {
				t.Error("got an event from a broken file")
			}
			got := problems(t, err, path)
			if len(got) != len(want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
			}
			for i := range want {
				if !strings.HasPrefix(got[i], want[i]) {
					t.Errorf("problem %d: got %q, want it to start %q", i, got[i], want[i])
				}
			}
		})
	}
}

// TestParseManyProblems checks that one run lists every problem of a file
// with one of each, not only the first.
func TestParseManyProblems(t *testing.T) {
	path := filepath.Join("testdata", "many-problems.yaml")
	_, err := event.Load(path)
	got := problems(t, err, path)
	want := []string{
		`id: "Many Problems!"`,
		`name.en: missing translation`,
		`time_zone: unknown time zone "Mars/Olympus"`,
		`days[0].date: "2025-13-01"`,
		`days[1].close: 21:00 is not after the opening 22:00`,
		`zones[1].kind: "tent"`,
		`zones[1].parent: unknown zone "hal"`,
		`zones[2].id: "hall" is already zones[1]`,
		`zones[2].net_area: required`,
		`zones[2].exit_width: -1 is negative`,
		`zones[3].parent: required: only one zone`,
		`zones[5].colour: unknown field`,
		`zones[5].id: "zone-641" has the same ticket hash`,
		`gates[0].zone: unknown zone "nowhere"`,
		`gates[0].lanes: 0`,
		`gates[1].id: "MAIN" is already gates[0]`,
		`ticket_types[0].zones[1]: unknown zone "stage"`,
		`ticket_types[0].days[0]: "2025-09-30" is not an event day`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: got %q, want it to start %q", i, got[i], want[i])
		}
	}
	// The error itself reads as one problem a line, each with the file.
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("error has %d lines, want %d", len(lines), len(want))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, path+": ") {
			t.Errorf("line %q does not start with the file", l)
		}
	}
}

// TestParseWhole covers problems with the file as a whole.
func TestParseWhole(t *testing.T) {
	minimal, err := os.ReadFile(filepath.Join("testdata", "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		data string
		want []string
	}{
		"empty":          {"", []string{": empty file"}},
		"only a comment": {"# nothing yet\n", []string{": empty file"}},
		"not yaml":       {"id: [unclosed\n", []string{": line 1: did not find expected"}},
		"a list":         {"- a\n- b\n", []string{": want a mapping, got a list"}},
		"two documents":  {string(minimal) + "---\nid: second\n", []string{": more than one YAML document"}},
		"too big":        {"id: x\n" + strings.Repeat("#", event.MaxFileSize), []string{": file is over 1048576 bytes"}},
		"a null document": {"~\n", []string{
			"id: required", "name: required", "time_zone: required", "days: no event days", "zones: no zones",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, err := event.Parse([]byte(tc.data), "f.yaml")
			if e != nil {
				t.Error("got an event")
			}
			got := problems(t, err, "f.yaml")
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range tc.want {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("problem %d: got %q, want it to start %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// A file that is not an event file at all gets a bounded list.
func TestParseTooManyProblems(t *testing.T) {
	var b strings.Builder
	for i := range 150 {
		fmt.Fprintf(&b, "unknown-%d: x\n", i)
	}
	_, err := event.Parse([]byte(b.String()), "f.yaml")
	got := problems(t, err, "f.yaml")
	// 150 unknown fields and 5 missing sections, of which 100 are shown.
	if len(got) != 101 {
		t.Fatalf("got %d problems, want 100 and a count of the rest", len(got))
	}
	if want := ": 55 more problems not shown"; got[100] != want {
		t.Errorf("last problem: got %q, want %q", got[100], want)
	}
}

func TestParseMinimal(t *testing.T) {
	e := MustLoad(t, filepath.Join("testdata", "minimal.yaml"))
	if got, want := e.Gate("MAIN").Lanes, 1; got != want {
		t.Errorf("lanes by default: got %d, want %d", got, want)
	}
	tt := e.TicketType("visitor")
	if tt.Reentry || tt.Zones != nil || tt.Days != nil {
		t.Errorf("ticket type by default: got %+v, want no re-entry, every zone, every day", tt)
	}
	if got, want := zoneIDs(e.Zones), []string{"site", "hall"}; !slices.Equal(got, want) {
		t.Errorf("zones: got %v, want %v", got, want)
	}
}

func TestFieldError(t *testing.T) {
	tests := map[string]struct {
		err  event.FieldError
		want string
	}{
		"all":      {event.FieldError{File: "f.yaml", Field: "zones[2].parent", Msg: `unknown zone "hal"`}, `f.yaml: zones[2].parent: unknown zone "hal"`},
		"no field": {event.FieldError{File: "f.yaml", Msg: "empty file"}, "f.yaml: empty file"},
		"no file":  {event.FieldError{Field: "id", Msg: "required"}, "id: required"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// errors.As finds a problem in the joined error.
	_, err := event.Load(filepath.Join("testdata", "bad-refs.yaml"))
	var fe *event.FieldError
	if !errors.As(err, &fe) || fe.Field != "gates[0].zone" {
		t.Errorf("errors.As: got %v, want the gates[0].zone problem", fe)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := event.Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
}
