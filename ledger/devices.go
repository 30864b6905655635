package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DeviceReport is what a gate device last told a gateway of its queue of
// scans decided offline and not yet uploaded (CONTRACT §3: hello and
// status), kept in the store so that every gateway of the event shows every
// gate's queue, whichever gateway the device is on.
type DeviceReport struct {
	Gate, Device string
	Queued       int
	Oldest       time.Time // the oldest unsynced scan; zero when none
	// Connected: the device was on the gateway when it reported; a report
	// with Connected false is its last one before it left.
	Connected bool
	At        time.Time // when the gateway noted it (event clock)
	Gateway   string    // the gateway instance that noted it
}

// ReportDevice records r as its device's newest report at its gate.
func (s *Store) ReportDevice(ctx context.Context, r DeviceReport) error {
	if r.Gate == "" || r.Device == "" || strings.Contains(r.Gate, "|") || r.Queued < 0 {
		return fmt.Errorf("%w: device report %q at %q, %d queued", ErrInvalid, r.Device, r.Gate, r.Queued)
	}
	value := strings.Join([]string{strconv.Itoa(r.Queued), millis(r.Oldest), flag01(r.Connected), millis(r.At),
		r.Gateway}, "\t")
	if _, err := s.eng.Eval(ctx, DeviceScript, []string{s.keys.devices}, r.Gate+"|"+r.Device, value); err != nil {
		return fmt.Errorf("report device: %w", err)
	}
	return nil
}

// Devices reads the newest report of every device, in no particular order.
// A value it cannot read is left out.
func (s *Store) Devices(ctx context.Context) ([]DeviceReport, error) {
	fields, err := s.readHash(ctx, s.keys.devices, "day")
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	out := make([]DeviceReport, 0, len(fields))
	for k, v := range fields {
		gate, device, ok := strings.Cut(k, "|")
		f := strings.Split(v, "\t")
		if !ok || len(f) != 5 {
			continue
		}
		queued, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		out = append(out, DeviceReport{Gate: gate, Device: device, Queued: queued, Oldest: fromMillis(f[1]),
			Connected: f[2] == "1", At: fromMillis(f[3]), Gateway: f[4]})
	}
	return out, nil
}
