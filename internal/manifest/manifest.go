// Package manifest is the manifest.csv that crowdflow tickets issue writes
// next to the tickets' PNGs: its columns in one place, for the command that
// writes it and the tests and drills that read the payloads back.
package manifest

import (
	"encoding/csv"
	"fmt"
	"os"
	"slices"
)

// Header is the manifest's first row.
var Header = []string{"ticket_id", "type", "days", "zones", "payload", "file", "reentry"}

// Payloads returns the ticket payloads (what each QR code holds) of the
// manifest at path, in its order.
func Payloads(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], Header) {
		return nil, fmt.Errorf("manifest %s: not a crowdflow tickets manifest (want the header %v)", path, Header)
	}
	col := slices.Index(Header, "payload")
	ps := make([]string, 0, len(rows)-1)
	for _, r := range rows[1:] {
		ps = append(ps, r[col])
	}
	return ps, nil
}
