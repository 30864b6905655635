package storetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"crowdflow/ledger"
)

// testEngine checks the Engine contract the store relies on: Lua values
// converted as Redis converts them, errors as ErrScript, state kept between
// scripts, scripts run one at a time, and Close.
func testEngine(t *testing.T, open func(t *testing.T) ledger.Engine) {
	t.Run("Conversions", func(t *testing.T) { testConversions(t, open) })
	t.Run("Errors", func(t *testing.T) { testScriptErrors(t, open) })
	t.Run("StateBetweenScripts", func(t *testing.T) {
		eng := open(t)
		keys := []string{"{fair}:h"}
		set := ledger.NewScript("set", "return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])")
		get := ledger.NewScript("get", "return redis.call('HGET', KEYS[1], ARGV[1])")
		if got, err := eng.Eval(t.Context(), set, keys, "zone", "hall-a"); err != nil || got != int64(1) {
			t.Fatalf("HSET: got %#v, %v; want 1", got, err)
		}
		if got, err := eng.Eval(t.Context(), get, keys, "zone"); err != nil || got != "hall-a" {
			t.Fatalf("HGET after HSET: got %#v, %v; want \"hall-a\"", got, err)
		}
	})
	t.Run("OneScriptAtATime", func(t *testing.T) {
		// Each run reads a counter, idles, and writes it back plus one: any
		// interleaving of two runs loses an increment.
		eng := open(t)
		incr := ledger.NewScript("incr", `
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local spin = 0
for i = 1, 2000 do spin = spin + i end
redis.call('HSET', KEYS[1], 'n', n + 1)
return n + 1`)
		const workers, runs = 16, 40
		var wg sync.WaitGroup
		results := make([][]int64, workers)
		errs := make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				for range runs {
					res, err := eng.Eval(t.Context(), incr, []string{"{fair}:n"})
					if err != nil {
						errs[w] = err
						return
					}
					n, _ := res.(int64)
					results[w] = append(results[w], n)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("eval: %v", err)
		}
		seen := map[int64]bool{}
		for _, rs := range results {
			for _, n := range rs {
				if seen[n] || n < 1 || n > workers*runs {
					t.Fatalf("run returned %d twice or out of 1..%d: two scripts interleaved", n, workers*runs)
				}
				seen[n] = true
			}
		}
	})
	t.Run("Close", func(t *testing.T) {
		eng := open(t)
		if err := eng.Ping(t.Context()); err != nil {
			t.Fatalf("ping: %v", err)
		}
		if err := eng.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if _, err := eng.Eval(t.Context(), ledger.NewScript("one", "return 1"), nil); err == nil {
			t.Errorf("eval after close: no error")
		}
	})
}

func testConversions(t *testing.T, open func(t *testing.T) ledger.Engine) {
	tests := map[string]struct {
		src  string
		keys []string
		args []string
		want any
	}{
		"an integer":                       {src: "return 42", want: int64(42)},
		"a negative integer":               {src: "return -7", want: int64(-7)},
		"a fraction, truncated":            {src: "return 3.9", want: int64(3)},
		"a negative fraction, toward zero": {src: "return -3.9", want: int64(-3)},
		"a string":                         {src: "return 'crowd'", want: "crowd"},
		"a number in a string stays one":   {src: "return '42'", want: "42"},
		"an empty string":                  {src: "return ''", want: ""},
		"a table, nested": {src: "return {1, 'two', {3, 'four'}}",
			want: []any{int64(1), "two", []any{int64(3), "four"}}},
		"a table, up to its first nil": {src: "return {1, 'two', nil, 4}", want: []any{int64(1), "two"}},
		"an empty table":               {src: "return {}", want: []any{}},
		"true is one":                  {src: "return true", want: int64(1)},
		"false is nil":                 {src: "return false", want: nil},
		"nil is nil":                   {src: "return nil", want: nil},
		"true in a table is one":       {src: "return {true, 2}", want: []any{int64(1), int64(2)}},
		"false in a table is nil":      {src: "return {1, false, 3}", want: []any{int64(1), nil, int64(3)}},
		"a status reply is its text":   {src: "return {ok = 'fine'}", want: "fine"},
		"keys and arguments": {src: "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}",
			keys: []string{"{fair}:a", "{fair}:b"}, args: []string{"x", ""},
			want: []any{"{fair}:a", "{fair}:b", "x", "", int64(2), int64(2)}},
		"a missing hash field is false": {src: "return redis.call('HGET', KEYS[1], 'none') == false",
			keys: []string{"{fair}:h"}, want: int64(1)},
		"a missing hash field returned is nil": {src: "return redis.call('HGET', KEYS[1], 'none')",
			keys: []string{"{fair}:h"}, want: nil},
		"replies of the commands the ledger uses": {src: `
redis.call('HSET', KEYS[1], 'f', 5)
return {redis.call('HINCRBY', KEYS[1], 'f', 2), redis.call('HGET', KEYS[1], 'f'),
  redis.call('HEXISTS', KEYS[1], 'f'), redis.call('HSETNX', KEYS[1], 'f', 1),
  redis.call('SADD', KEYS[2], 'a'), redis.call('SISMEMBER', KEYS[2], 'b'),
  redis.call('HDEL', KEYS[1], 'f'), redis.call('HGETALL', KEYS[1])}`,
			keys: []string{"{fair}:h", "{fair}:s"},
			want: []any{int64(7), "7", int64(1), int64(0), int64(1), int64(0), int64(1), []any{}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			eng := open(t)
			got, err := eng.Eval(t.Context(), ledger.NewScript("conv", tc.src), tc.keys, tc.args...)
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			if !reflect.DeepEqual(normalize(got), normalize(tc.want)) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// normalize makes an empty []any and a nil one compare equal, at any depth:
// the contract says "a table becomes an []any", not which empty one.
func normalize(v any) any {
	a, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, len(a))
	for i, x := range a {
		out[i] = normalize(x)
	}
	return out
}

func testScriptErrors(t *testing.T, open func(t *testing.T) ledger.Engine) {
	tests := map[string]string{
		"an error table":         "return {err = 'boom'}",
		"an error reply":         "return redis.error_reply('boom')",
		"a runtime error":        "error('boom')",
		"a Lua type error":       "return 1 + {}",
		"a call to no command":   "return redis.call('NOSUCHCOMMAND')",
		"a call with wrong args": "return redis.call('HINCRBY', KEYS[1], 'f', 'not a number')",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			eng := open(t)
			got, err := eng.Eval(t.Context(), ledger.NewScript("fails", src), []string{"{fair}:h"})
			if !errors.Is(err, ledger.ErrScript) {
				t.Fatalf("got %#v, %v; want an error wrapping %v", got, err, ledger.ErrScript)
			}
			// The engine still works after a failed script.
			if got, err := eng.Eval(t.Context(), ledger.NewScript("one", "return 1"), nil); err != nil || got != int64(1) {
				t.Fatalf("eval after a failed script: got %#v, %v", got, err)
			}
		})
	}
}
