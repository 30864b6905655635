package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Formats are the forms of a report; html and pdf are drawn by the
// dashboard's reports page.
var Formats = []string{"json", "csv", "html", "pdf"}

// ErrFormat marks a report form that does not exist.
var ErrFormat = errors.New("unknown report format")

// ParseSep checks a CSV separator: one character that is not a quote, a
// line break or the replacement character; "" is the comma.
func ParseSep(s string) (rune, error) {
	if s == "" {
		return ',', nil
	}
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) || r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
		return 0, fmt.Errorf("%w: separator %.10q: want one character such as , or ;", ErrFormat, s)
	}
	return r, nil
}

// WriteJSON writes r as indented JSON. The same report gives the same
// bytes: struct fields in a fixed order, map keys sorted.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// BOM starts every CSV report, so that spreadsheets read it as UTF-8 and
// show Arabic names.
const BOM = "\uFEFF"

// CSVColumns are the columns of the CSV form: one table whose first column
// says what a row is (zone_day, zone_hour, gate_day, zone_total,
// gate_total); a cell that does not apply to the row is empty.
func CSVColumns() []string {
	cols := []string{"record", "date", "hour", "zone", "zone_name_ar", "zone_name_fr", "zone_name_en", "capacity",
		"gate", "entries", "exits", "unique_visitors", "peak_occupancy", "peak_at", "tally_in", "tally_out",
		"occupancy", "stays", "dwell_median_minutes", "dwell_p90_minutes", "swept", "swept_tally"}
	for _, c := range RefusalCodes() {
		cols = append(cols, "refused_"+c)
	}
	return append(cols, "scans", "busiest_minute", "busiest_minute_scans", "offline_uploads",
		"offline_overrides", "id_conflicts")
}

// WriteCSV writes r as CSV in UTF-8 with a BOM, with sep between cells.
func WriteCSV(w io.Writer, r *Report, sep rune) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	cw.Comma = sep
	cols := CSVColumns()
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[c] = i
	}
	names := map[string]Zone{}
	for _, z := range r.Zones {
		names[z.ID] = z
	}
	if err := cw.Write(cols); err != nil {
		return err
	}
	row := func(set func(put func(col string, v any))) error {
		rec := make([]string, len(cols))
		set(func(col string, v any) {
			i, ok := index[col]
			if !ok {
				panic("report: no CSV column " + col) // a typo in this file
			}
			rec[i] = cell(v)
		})
		return cw.Write(rec)
	}
	zone := func(put func(string, any), id string) {
		z := names[id]
		put("zone", id)
		put("zone_name_ar", z.Name.AR)
		put("zone_name_fr", z.Name.FR)
		put("zone_name_en", z.Name.EN)
		put("capacity", z.Capacity)
	}
	zoneFig := func(put func(string, any), zf ZoneFigure) {
		zone(put, zf.Zone)
		put("entries", zf.Entries)
		put("exits", zf.Exits)
		put("unique_visitors", zf.UniqueVisitors)
		put("peak_occupancy", zf.PeakOccupancy)
		put("peak_at", zf.PeakAt)
		put("tally_in", zf.TallyIn)
		put("tally_out", zf.TallyOut)
		put("stays", zf.Stays)
		put("dwell_median_minutes", zf.DwellMedian)
		put("dwell_p90_minutes", zf.DwellP90)
		put("swept", zf.Swept)
		put("swept_tally", zf.SweptTally)
		for _, c := range RefusalCodes() {
			put("refused_"+c, zf.Refusals[c])
		}
	}
	gateFig := func(put func(string, any), g Gate) {
		put("gate", g.Gate)
		zone(put, g.Zone)
		put("scans", g.Scans)
		put("busiest_minute", g.BusiestMinute)
		put("busiest_minute_scans", g.BusiestScans)
		put("offline_uploads", g.OfflineUploads)
		put("offline_overrides", g.OfflineOverrides)
		put("id_conflicts", g.IDConflicts)
	}
	for _, d := range r.Days {
		for _, zf := range d.Zones {
			if err := row(func(put func(string, any)) { put("record", "zone_day"); put("date", d.Date); zoneFig(put, zf) }); err != nil {
				return err
			}
		}
		for _, h := range d.Hours {
			for _, hz := range h.Zones {
				err := row(func(put func(string, any)) {
					put("record", "zone_hour")
					put("date", d.Date)
					put("hour", h.Hour)
					zone(put, hz.Zone)
					put("entries", hz.Entries)
					put("exits", hz.Exits)
					put("tally_in", hz.TallyIn)
					put("tally_out", hz.TallyOut)
					put("occupancy", hz.Occupancy)
				})
				if err != nil {
					return err
				}
			}
		}
		for _, g := range d.Gates {
			if err := row(func(put func(string, any)) { put("record", "gate_day"); put("date", d.Date); gateFig(put, g) }); err != nil {
				return err
			}
		}
	}
	if r.Total != nil {
		for _, zf := range r.Total.Zones {
			if err := row(func(put func(string, any)) { put("record", "zone_total"); put("date", All); zoneFig(put, zf) }); err != nil {
				return err
			}
		}
		for _, g := range r.Total.Gates {
			if err := row(func(put func(string, any)) { put("record", "gate_total"); put("date", All); gateFig(put, g) }); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func cell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case *int:
		if x == nil {
			return ""
		}
		return strconv.Itoa(*x)
	case *string:
		if x == nil {
			return ""
		}
		return *x
	}
	panic(fmt.Sprintf("report: CSV cell of type %T", v))
}
