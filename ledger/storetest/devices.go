package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"crowdflow/ledger"
)

// testDevices checks the devices' queue reports every gateway shares: the
// newest report of each device stands, and a report the store cannot hold
// is refused and changes nothing.
func testDevices(t *testing.T, open func(t *testing.T) ledger.Engine) {
	st := MustStore(t, open, fairZones)
	ctx := t.Context()
	at := time.Date(2025, 9, 17, 11, 0, 0, 0, MustLocation(t))
	reports := []ledger.DeviceReport{
		{Gate: "g-site", Device: "tab-1", Queued: 3, Oldest: at.Add(-8 * time.Minute), Connected: true, At: at, Gateway: "gw-a"},
		{Gate: "g-site", Device: "tab-2", Connected: true, At: at, Gateway: "gw-b"},
		{Gate: "g-stage", Device: "tab-1|x", Queued: 1, Oldest: at, At: at, Gateway: "gw-a"},
		// tab-1 again: it left gw-a with one scan left.
		{Gate: "g-site", Device: "tab-1", Queued: 1, Oldest: at.Add(-2 * time.Minute), At: at.Add(time.Minute), Gateway: "gw-a"},
	}
	for _, r := range reports {
		if err := st.ReportDevice(ctx, r); err != nil {
			t.Fatalf("report %+v: %v", r, err)
		}
	}
	for _, bad := range []ledger.DeviceReport{
		{Gate: "", Device: "tab-9", At: at},
		{Gate: "g-site", Device: "", At: at},
		{Gate: "g|site", Device: "tab-9", At: at},
		{Gate: "g-site", Device: "tab-9", Queued: -1, At: at},
	} {
		if err := st.ReportDevice(ctx, bad); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("report %+v: got %v, want ErrInvalid", bad, err)
		}
	}
	got, err := st.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	format := func(rs []ledger.DeviceReport) []string {
		var out []string
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%s|%s %d %d %v %d %s", r.Gate, r.Device, r.Queued, r.Oldest.UnixMilli(),
				r.Connected, r.At.UnixMilli(), r.Gateway))
		}
		slices.Sort(out)
		return out
	}
	want := format([]ledger.DeviceReport{reports[1], reports[2], reports[3]})
	if g, w := format(got), want; !slices.Equal(g, w) {
		t.Errorf("devices:\n got  %v\n want %v", g, w)
	}
}
