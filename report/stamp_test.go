package report_test

import (
	"testing"

	"crowdflow/report"
)

// TestFormatStamp: a report time shows in its own offset (local time), a
// missing one as the given mark, and text that is not a time as it is.
func TestFormatStamp(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		in           *string
		layout, want string
	}{
		{s("2025-09-17T14:05:00+01:00"), "15:04", "14:05"},
		{s("2025-09-17T14:05:00+01:00"), "2006-01-02 15:04", "2025-09-17 14:05"},
		{nil, "15:04", "—"},
		{s("later"), "15:04", "later"},
	} {
		if got := report.FormatStamp(tc.in, tc.layout, "—"); got != tc.want {
			t.Errorf("FormatStamp(%v, %q) = %q, want %q", tc.in, tc.layout, got, tc.want)
		}
	}
}
