package wire_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"crowdflow/checkin"
	"crowdflow/wire"
)

func TestDecode(t *testing.T) {
	good := map[string]struct {
		frame string
		want  any
	}{
		"hello": {`{"type":"hello","protocol":1,"device":"gate-laptop-3","gate":"MAIN-1"}`,
			&wire.Hello{Type: "hello", Protocol: 1, Device: "gate-laptop-3", Gate: "MAIN-1"}},
		"scan":                            {`{"type":"scan","id":"01J8Z4R7Y6Q3T9K2M5N8P0W4XC","ticket":"CF1:AB:CD","direction":"in","at":"2025-09-17T10:03:11.120Z"}`, nil},
		"offline scan":                    {`{"type":"scan","id":"x","ticket":"CF1:AB:CD","direction":"out","at":"2025-09-17T10:03:11Z","offline":true}`, nil},
		"offline upload with its verdict": {`{"type":"scan","id":"x","ticket":"CF1:AB:CD","direction":"in","at":"2025-09-17T10:03:11Z","offline":true,"decided":"already_inside"}`, nil},
		"hello with its queue": {`{"type":"hello","protocol":1,"device":"d","gate":"MAIN-1","queued":3,"oldest":"2025-09-17T10:01:07Z"}`,
			&wire.Hello{Type: "hello", Protocol: 1, Device: "d", Gate: "MAIN-1", Queued: 3, Oldest: mustTime(t, "2025-09-17T10:01:07Z")}},
		"status": {`{"type":"status","queued":12,"oldest":"2025-09-17T10:01:07Z"}`,
			&wire.Status{Type: "status", Queued: 12, Oldest: mustTime(t, "2025-09-17T10:01:07Z")}},
		"status empty queue": {`{"type":"status","queued":0}`, &wire.Status{Type: "status"}},
		"tally":              {`{"type":"tally","id":"t1","zone":"stage","delta":-3,"at":"2025-09-17T10:03:11Z"}`, nil},
	}
	for name, tc := range good {
		t.Run(name, func(t *testing.T) {
			got, err := wire.Decode([]byte(tc.frame))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if tc.want != nil {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tc.want)
				if string(g) != string(w) {
					t.Errorf("got %s, want %s", g, w)
				}
			}
		})
	}
	bad := map[string]struct{ frame, mentions string }{
		"not json":              {`{"type":"scan",`, "JSON"},
		"no type":               {`{"id":"x"}`, "type"},
		"unknown type":          {`{"type":"dance"}`, "dance"},
		"unknown field":         {`{"type":"scan","id":"x","ticket":"t","direction":"in","at":"2025-09-17T10:03:11Z","evil":1}`, "evil"},
		"no id":                 {`{"type":"scan","ticket":"t","direction":"in","at":"2025-09-17T10:03:11Z"}`, "id"},
		"long id":               {`{"type":"scan","id":"` + strings.Repeat("x", 65) + `","ticket":"t","direction":"in","at":"2025-09-17T10:03:11Z"}`, "id"},
		"bad direction":         {`{"type":"scan","id":"x","ticket":"t","direction":"up","at":"2025-09-17T10:03:11Z"}`, "direction"},
		"no time":               {`{"type":"scan","id":"x","ticket":"t","direction":"in"}`, "at"},
		"bad time":              {`{"type":"scan","id":"x","ticket":"t","direction":"in","at":"yesterday"}`, "yesterday"},
		"zero delta":            {`{"type":"tally","id":"x","zone":"stage","delta":0,"at":"2025-09-17T10:03:11Z"}`, "delta"},
		"huge delta":            {`{"type":"tally","id":"x","zone":"stage","delta":100000,"at":"2025-09-17T10:03:11Z"}`, "delta"},
		"old protocol":          {`{"type":"hello","protocol":0,"device":"d"}`, "protocol"},
		"control chars":         {`{"type":"hello","protocol":1,"device":"a\nb"}`, "device"},
		"two values":            {`{"type":"hello","protocol":1,"device":"d"} {}`, "JSON"},
		"array":                 {`[1,2]`, "JSON"},
		"decided online":        {`{"type":"scan","id":"x","ticket":"t","direction":"in","at":"2025-09-17T10:03:11Z","decided":"accepted"}`, "decided"},
		"decided what":          {`{"type":"scan","id":"x","ticket":"t","direction":"in","at":"2025-09-17T10:03:11Z","offline":true,"decided":"maybe"}`, "decided"},
		"status no queued":      {`{"type":"status"}`, "queued"},
		"status negative":       {`{"type":"status","queued":-1}`, "queued"},
		"status huge":           {`{"type":"status","queued":1000001,"oldest":"2025-09-17T10:01:07Z"}`, "queued"},
		"status queued no time": {`{"type":"status","queued":2}`, "oldest"},
		"status time no queue":  {`{"type":"status","queued":0,"oldest":"2025-09-17T10:01:07Z"}`, "oldest"},
		"status epoch":          {`{"type":"status","queued":1,"oldest":"1970-01-01T00:00:00Z"}`, "oldest"},
		"status far future":     {`{"type":"status","queued":1,"oldest":"9999-01-01T00:00:00Z"}`, "oldest"},
		"status bad time":       {`{"type":"status","queued":1,"oldest":"soon"}`, "soon"},
		"status float":          {`{"type":"status","queued":1.5,"oldest":"2025-09-17T10:01:07Z"}`, "queued"},
		"status extra":          {`{"type":"status","queued":0,"gate":"MAIN-1"}`, "gate"},
		"hello negative queue":  {`{"type":"hello","protocol":1,"device":"d","queued":-4}`, "queued"},
		"hello queue no time":   {`{"type":"hello","protocol":1,"device":"d","queued":4}`, "oldest"},
		"wrong type int":        {`{"type":"tally","id":"x","zone":"stage","delta":"1","at":"2025-09-17T10:03:11Z"}`, "delta"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := wire.Decode([]byte(tc.frame))
			if !errors.Is(err, wire.ErrBadFrame) {
				t.Fatalf("got %v, want ErrBadFrame", err)
			}
			if !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("error %q does not mention %q", err, tc.mentions)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"hello","protocol":1,"device":"gate-laptop-3","gate":"MAIN-1"}`))
	f.Add([]byte(`{"type":"scan","id":"01J8","ticket":"CF1:AB:CD","direction":"in","at":"2025-09-17T10:03:11.120Z","force":true}`))
	f.Add([]byte(`{"type":"tally","id":"t1","zone":"stage","delta":1,"at":"2025-09-17T10:03:11Z"}`))
	f.Add([]byte(`{"type":"hello","protocol":1,"device":"d","gate":"MAIN-1","queued":3,"oldest":"2025-09-17T10:01:07Z"}`))
	f.Add([]byte(`{"type":"status","queued":12,"oldest":"2025-09-17T10:01:07Z"}`))
	f.Add([]byte(`{"type":"status","queued":0}`))
	f.Add([]byte(`{"type":"status","queued":-1,"oldest":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"type":"scan","ticket":"CF1:AB:CD","direction":"in","at":"2025-09-17T10:03:11Z"}`)) // no id: an error only
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := wire.Decode(frame)
		if err != nil {
			if m != nil {
				t.Fatal("a message and an error")
			}
			return
		}
		switch m := m.(type) {
		case *wire.Scan:
			if m.ID == "" || len(m.ID) > wire.MaxID || m.At.IsZero() ||
				(m.Direction != checkin.In && m.Direction != checkin.Out) {
				t.Fatalf("accepted an invalid scan %+v", m)
			}
		case *wire.Tally:
			if m.Delta == 0 || m.Zone == "" {
				t.Fatalf("accepted an invalid tally %+v", m)
			}
		case *wire.Hello:
			if m.Device == "" || m.Protocol != wire.Protocol || !queueOK(m.Queued, m.Oldest) {
				t.Fatalf("accepted an invalid hello %+v", m)
			}
		case *wire.Status:
			if !queueOK(m.Queued, m.Oldest) {
				t.Fatalf("accepted an invalid status %+v", m)
			}
		default:
			t.Fatalf("unexpected message %T", m)
		}
	})
}

// queueOK is what a decoded queue must be: a count in range, and a
// plausible oldest time exactly when the count is not zero.
func queueOK(queued int, oldest *time.Time) bool {
	if queued < 0 || queued > wire.MaxQueued || (queued > 0) != (oldest != nil) {
		return false
	}
	return oldest == nil || (oldest.UTC().Year() >= 2000 && oldest.UTC().Year() < 2100)
}

func mustTime(tb testing.TB, s string) *time.Time {
	tb.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return &at
}

// FuzzDecodeScanShortcut: Decode's shortcut for frames that start as a
// scan answers exactly as the general way does: the same message, or the
// same error.
func FuzzDecodeScanShortcut(f *testing.F) {
	const scan = `{"type":"scan","id":"01J8","ticket":"CF1:AB:CD","direction":"in","at":"2025-09-17T10:03:11.120Z"`
	for _, tail := range []string{`}`, `,"force":true}`, `} `, `} }`, `}{}`, `}]`, `,"type":"hello"}`,
		`,"TYPE":"scan"}`, `,"type":1}`, `,"protocol":1}`, `,"evil":1}`, `,"offline":true,"decided":"accepted"}`,
		`,"decided":"accepted"}`, `,"gate":""}`, `,"id":""}`, "}\n\t"} {
		f.Add([]byte(scan + tail))
	}
	f.Add([]byte(`{"type":"scan",}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		got, gotErr := wire.Decode(frame)
		want, wantErr := wire.DecodeGeneral(frame)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) = %+v, %v; the general way gives %+v, %v", frame, got, gotErr, want, wantErr)
		}
	})
}

// BenchmarkDecodeScan: a scan frame as the scanners write it.
func BenchmarkDecodeScan(b *testing.B) {
	frame := []byte(`{"type":"scan","id":"bench-001-1a2b3c4d-17","ticket":"CF1:AEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:` +
		`AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",` +
		`"direction":"in","at":"2025-09-17T11:00:00.123+01:00"}`)
	for _, name := range []string{"Decode", "general"} {
		decode := wire.Decode
		if name == "general" {
			decode = wire.DecodeGeneral
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzVerdictAppendJSON: AppendJSON writes what json.Marshal writes, byte
// for byte, whatever the strings hold.
func FuzzVerdictAppendJSON(f *testing.F) {
	f.Add("s1", "k3f", "visitor", "site", "Entry accepted.", "not_inside", 812, 2400, true, false)
	f.Add("", "", "", "", "", "", 0, 0, false, true)
	f.Add(`a"b\c`, "<t>&", "\u2028", "z\x00\x1f\x7f", "Zone é full: \xff no entry.", "", -1, 1<<40, false, false)
	f.Fuzz(func(t *testing.T, id, tk, typ, zone, msg, flag string, occ, capacity int, ok, replayed bool) {
		for _, flags := range []checkin.Flags{nil, {}, {checkin.Flag(flag)}, {checkin.Offline, checkin.Flag(flag)}} {
			v := wire.Verdict{Type: wire.TypeVerdict, ID: id, OK: ok, Code: checkin.Code(msg), Ticket: tk, TicketType: typ,
				Zone: zone, Occupancy: occ, Capacity: capacity, Level: flag, Flags: flags, Replayed: replayed, Message: msg}
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.AppendJSON([]byte("x")); string(got) != "x"+string(want) {
				t.Fatalf("AppendJSON(%+v) = %s, want x%s", v, got, want)
			}
		}
	})
}

// BenchmarkVerdict: a verdict of an accepted entry, encoded.
func BenchmarkVerdict(b *testing.B) {
	v := wire.Verdict{Type: wire.TypeVerdict, ID: "bench-001-1a2b3c4d-17", OK: true, Code: checkin.Accepted,
		Ticket: "k3fabcdefghijklm", TicketType: "visitor", Zone: "site", Occupancy: 812, Capacity: 2400,
		Level: "ok", Flags: checkin.Flags{}, Message: "Entry accepted."}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = v.AppendJSON(make([]byte, 0, 512))
		}
	})
}
