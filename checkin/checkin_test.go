package checkin_test

import (
	"encoding/json"
	"testing"

	"crowdflow/checkin"
)

func TestLevelOf(t *testing.T) {
	tests := map[string]struct {
		occ, cap int
		want     checkin.Level
	}{
		"empty":             {0, 485, checkin.LevelOK},
		"just below warn":   {387, 485, checkin.LevelOK},
		"warn at 80 %":      {388, 485, checkin.LevelWarn},
		"just below crit":   {436, 485, checkin.LevelWarn},
		"critical at 90 %":  {437, 485, checkin.LevelCritical},
		"one place left":    {484, 485, checkin.LevelCritical},
		"full":              {485, 485, checkin.LevelFull},
		"forced past full":  {490, 485, checkin.LevelFull},
		"no capacity known": {10, 0, checkin.LevelOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := checkin.LevelOf(tc.occ, tc.cap); got != tc.want {
				t.Errorf("LevelOf(%d, %d) = %s, want %s", tc.occ, tc.cap, got, tc.want)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	fs := checkin.ParseFlags("offline,forced,offline")
	if got, want := fs.String(), "forced,offline"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !fs.Has(checkin.Offline) || fs.Has(checkin.ClockSkew) {
		t.Errorf("Has is wrong for %q", fs)
	}
	if got := checkin.ParseFlags("").String(); got != "" {
		t.Errorf("empty flags: got %q", got)
	}
	for _, c := range checkin.Codes {
		if c.OK() != (c == checkin.Accepted) || !c.Valid() {
			t.Errorf("code %s: OK %v Valid %v", c, c.OK(), c.Valid())
		}
	}
	if checkin.Code("maybe").Valid() {
		t.Error("an unknown code is valid")
	}
}

func TestFlagsJSON(t *testing.T) {
	for _, tc := range []struct {
		flags checkin.Flags
		want  string
	}{{nil, "[]"}, {checkin.Flags{}, "[]"}, {checkin.ParseFlags("offline,forced"), `["forced","offline"]`}} {
		b, err := json.Marshal(tc.flags)
		if err != nil || string(b) != tc.want {
			t.Errorf("marshal %v: got %s, %v; want %s", tc.flags, b, err, tc.want)
		}
		var back checkin.Flags
		if err := json.Unmarshal(b, &back); err != nil || back.String() != tc.flags.String() {
			t.Errorf("round trip of %s: got %v, %v", b, back, err)
		}
	}
}
