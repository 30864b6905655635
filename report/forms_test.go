package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"crowdflow/internal/ledgertest"
	"crowdflow/report"
	"crowdflow/token"
)

func get(t *testing.T, url, tok string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, body
}

// TestSameEverywhere: the same two days fed into the embedded store and
// into Redis give byte-identical JSON reports, read directly and through a
// gateway, for one day and for the whole event.
func TestSameEverywhere(t *testing.T) {
	t.Parallel()
	ev := MustEvent(t)
	first, third := MustPlan(t, ev, "2025-09-17", 11), MustPlan(t, ev, "2025-09-19", 12)
	emb := MustStore(t, ev, ledgertest.MustEmbedded(t))
	red := MustStore(t, ev, ledgertest.MustRedis(t))
	MustFeed(t, ev, emb, first, third)
	MustFeed(t, ev, red, first, third)
	gw := MustGateway(t, ev, red)
	tok := MustToken(t, token.Organizer)
	for _, scope := range []string{"2025-09-17", "2025-09-18", report.All} {
		want := MustJSON(t, emb, ev, scope)
		if got := MustJSON(t, red, ev, scope); !bytes.Equal(got, want) {
			t.Errorf("%s: the report from Redis differs from the embedded store's:\n%s", scope, firstDiff(got, want))
		}
		status, hdr, got := get(t, gw.URL+"/api/v1/report?format=json&day="+scope, tok)
		if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Fatalf("%s through the gateway: %d %s %s", scope, status, hdr.Get("Content-Type"), got)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the report through the gateway differs:\n%s", scope, firstDiff(got, want))
		}
		var r report.Report
		if err := json.Unmarshal(want, &r); err != nil {
			t.Fatalf("%s: %v", scope, err)
		}
		if scope == report.All && (len(r.Days) != len(ev.Days) || r.Total == nil) {
			t.Errorf("all: %d days and total %v, want %d days and a total", len(r.Days), r.Total != nil, len(ev.Days))
		}
	}
}

// firstDiff shows where two reports part.
func firstDiff(got, want []byte) string {
	n := 0
	for n < len(got) && n < len(want) && got[n] == want[n] {
		n++
	}
	from := max(n-200, 0)
	return "got  ..." + string(got[from:min(n+100, len(got))]) + "\nwant ..." + string(want[from:min(n+100, len(want))])
}

// TestCSV: UTF-8 with a BOM, the columns, Arabic names as they are, and
// the semicolon for French spreadsheets; the same from the gateway.
func TestCSV(t *testing.T) {
	t.Parallel()
	ev := MustEvent(t)
	st := MustStore(t, ev, ledgertest.MustEmbedded(t))
	MustFeed(t, ev, st, MustPlan(t, ev, "2025-09-17", 13))
	r, err := report.Build(t.Context(), st, ev, report.All)
	if err != nil {
		t.Fatal(err)
	}
	gw := MustGateway(t, ev, st)
	tok := MustToken(t, token.Organizer)
	for name, tc := range map[string]struct {
		sep   rune
		query string
	}{
		"comma":     {sep: ',', query: ""},
		"semicolon": {sep: ';', query: "&sep=%3B"},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.WriteCSV(&b, r, tc.sep); err != nil {
				t.Fatal(err)
			}
			status, hdr, body := get(t, gw.URL+"/api/v1/report?day=all&format=csv"+tc.query, tok)
			if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
				t.Fatalf("gateway: %d %s", status, hdr.Get("Content-Type"))
			}
			if !bytes.Equal(body, b.Bytes()) {
				t.Errorf("the CSV through the gateway differs from WriteCSV's")
			}
			if !bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
				t.Fatalf("no UTF-8 BOM: starts %q", body[:min(8, len(body))])
			}
			cr := csv.NewReader(bytes.NewReader(body[3:]))
			cr.Comma = tc.sep
			rows, err := cr.ReadAll()
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			if !slices.Equal(rows[0], report.CSVColumns()) {
				t.Fatalf("header: got %v", rows[0])
			}
			col := map[string]int{}
			for i, c := range rows[0] {
				col[c] = i
			}
			for _, c := range []string{"record", "date", "hour", "zone", "zone_name_ar", "entries", "exits",
				"unique_visitors", "peak_occupancy", "peak_at", "tally_in", "tally_out", "dwell_median_minutes",
				"dwell_p90_minutes", "swept", "refused_closed", "occupancy", "scans", "busiest_minute",
				"busiest_minute_scans", "offline_uploads", "offline_overrides"} {
				if _, ok := col[c]; !ok {
					t.Errorf("no column %s", c)
				}
			}
			// The first day's row of the crafts hall holds its Arabic name
			// and the report's figures.
			var found bool
			for _, row := range rows[1:] {
				if row[col["record"]] != "zone_day" || row[col["date"]] != "2025-09-17" || row[col["zone"]] != "hall-crafts" {
					continue
				}
				found = true
				if got, want := row[col["zone_name_ar"]], ev.Zone("hall-crafts").Name.AR; got != want || want == "" {
					t.Errorf("Arabic name: got %q, want %q", got, want)
				}
				zf := r.Days[0].Zones[1]
				if zf.Zone != "hall-crafts" {
					t.Fatalf("zone order: %s", zf.Zone)
				}
				if row[col["entries"]] != itoa(zf.Entries) || row[col["unique_visitors"]] != itoa(zf.UniqueVisitors) ||
					row[col["peak_occupancy"]] != itoa(zf.PeakOccupancy) || zf.Entries == 0 {
					t.Errorf("crafts hall row %v, want entries %d, unique %d, peak %d", row, zf.Entries, zf.UniqueVisitors, zf.PeakOccupancy)
				}
			}
			if !found {
				t.Error("no zone_day row of the crafts hall on 2025-09-17")
			}
			want := len(ev.Days)*(len(ev.Zones)+len(ev.Gates)) + len(ev.Zones) + len(ev.Gates)
			for _, d := range r.Days {
				want += len(d.Hours) * len(ev.Zones)
			}
			if got := len(rows) - 1; got != want {
				t.Errorf("rows: got %d, want %d", got, want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestBadRequests: each bad request gets its status and a JSON error, and
// changes nothing in the ledger.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	ev := MustEvent(t)
	st := MustStore(t, ev, ledgertest.MustEmbedded(t))
	MustFeed(t, ev, st, MustPlan(t, ev, "2025-09-17", 14))
	gw := MustGateway(t, ev, st)
	before, err := st.EventFields(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	org := MustToken(t, token.Organizer)
	for name, tc := range map[string]struct {
		query, tok string
		status     int
		code       string
	}{
		"no token":          {query: "day=all", status: 401, code: "unauthenticated"},
		"bad token":         {query: "day=all", tok: "nope", status: 401, code: "unauthenticated"},
		"scanner role":      {query: "day=all", tok: MustToken(t, token.Scanner), status: 403, code: "forbidden"},
		"security role":     {query: "day=all", tok: MustToken(t, token.Security), status: 403, code: "forbidden"},
		"malformed day":     {query: "day=17-09-2025", tok: org, status: 400, code: "malformed"},
		"impossible day":    {query: "day=2025-02-30", tok: org, status: 400, code: "malformed"},
		"day not in event":  {query: "day=2025-09-23", tok: org, status: 404, code: "not_found"},
		"unknown format":    {query: "day=all&format=xlsx", tok: org, status: 400, code: "malformed"},
		"pdf is not an API": {query: "day=all&format=pdf", tok: org, status: 400, code: "malformed"},
		"bad separator":     {query: "day=all&format=csv&sep=ab", tok: org, status: 400, code: "malformed"},
	} {
		t.Run(name, func(t *testing.T) {
			status, _, body := get(t, gw.URL+"/api/v1/report?"+tc.query, tc.tok)
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil || status != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("got %d %s, want %d with code %s", status, body, tc.status, tc.code)
			}
		})
	}
	after, err := st.EventFields(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sortedMap(atoiMap(t, before)) != sortedMap(atoiMap(t, after)) {
		t.Error("a bad request changed the ledger")
	}
}

func atoiMap(t *testing.T, m map[string]string) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		var n int
		if err := json.Unmarshal([]byte(v), &n); err != nil {
			t.Fatalf("field %s=%q", k, v)
		}
		out[k] = n
	}
	return out
}

// TestParseScope: "all", the event's days, and clear errors for the rest.
func TestParseScope(t *testing.T) {
	ev := MustEvent(t)
	for name, tc := range map[string]struct {
		in      string
		ok      bool
		notADay bool
	}{
		"all":          {in: "all", ok: true},
		"first day":    {in: "2025-09-17", ok: true},
		"last day":     {in: "2025-09-22", ok: true},
		"day before":   {in: "2025-09-16", notADay: true},
		"day after":    {in: "2025-09-23", notADay: true},
		"empty":        {in: ""},
		"All":          {in: "All"},
		"no padding":   {in: "2025-9-17"},
		"time":         {in: "2025-09-17T10:00:00Z"},
		"not a date":   {in: "2025-13-01"},
		"injection":    {in: "2025-09-17\n"},
		"long garbage": {in: strings.Repeat("x", 500)},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := report.ParseScope(ev, tc.in)
			switch {
			case tc.ok && (err != nil || got != tc.in):
				t.Errorf("got %q, %v; want %q", got, err, tc.in)
			case !tc.ok && (err == nil || !errors.Is(err, report.ErrScope)):
				t.Errorf("got %q, %v; want an ErrScope", got, err)
			case !tc.ok && errors.Is(err, report.ErrNoDay) != tc.notADay:
				t.Errorf("%v: ErrNoDay %v, want %v", err, errors.Is(err, report.ErrNoDay), tc.notADay)
			case !tc.ok && len(err.Error()) > 200:
				t.Errorf("error too long: %s", err)
			}
		})
	}
}
