package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
)

// MustOpen opens an engine and closes it when tb ends.
func MustOpen(tb testing.TB, opts embedded.Options) *embedded.Engine {
	tb.Helper()
	e, err := embedded.Open(opts)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return e
}

// MustEval runs src and fails tb on an error.
func MustEval(tb testing.TB, e *embedded.Engine, src string, keys []string, args ...string) any {
	tb.Helper()
	got, err := e.Eval(context.Background(), ledger.NewScript("test", src), keys, args...)
	if err != nil {
		tb.Fatalf("eval %q: %v", src, err)
	}
	return got
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(ms int64) *clock { return &clock{now: time.UnixMilli(ms)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(ms int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = time.UnixMilli(ms)
}

// The replies and errors below are what redis-server 7.0 answers to the same
// scripts, word for word.
func TestEvalReplies(t *testing.T) {
	tests := map[string]struct {
		src     string
		keys    []string
		args    []string
		want    any
		wantErr string
	}{
		"status":           {src: "return redis.call('set','k','v')", want: "OK"},
		"bulk":             {src: "redis.call('set','k','v') return redis.call('get','k')", want: "v"},
		"nil bulk":         {src: "return redis.call('get','missing')", want: nil},
		"nil is false":     {src: "return {redis.call('get','missing') == false}", want: []any{int64(1)}},
		"integer":          {src: "return redis.call('incr','n')", want: int64(1)},
		"number truncated": {src: "return {3.9, -3.9, 0.5}", want: []any{int64(3), int64(-3), int64(0)}},
		"true":             {src: "return true", want: int64(1)},
		"false":            {src: "return false", want: nil},
		"nothing":          {src: "local x = 1", want: nil},
		"array to first nil": {
			src:  "return {1, 2, nil, 4}",
			want: []any{int64(1), int64(2)},
		},
		"nested": {
			src:  "return {1, {err='x y'}, {ok='fine'}, true, false, 'a', {2, {3}}}",
			want: []any{int64(1), errors.New("x y"), "fine", int64(1), nil, "a", []any{int64(2), []any{int64(3)}}},
		},
		"KEYS and ARGV": {
			src: "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", keys: []string{"k1", "k2"}, args: []string{"a1", "a2", "a3"},
			want: []any{"k1", "k2", "a1", int64(3)},
		},
		"status_reply":         {src: "return redis.status_reply('fine')", want: "fine"},
		"status newlines":      {src: "return {ok='a\\r\\nb'}", want: "a  b"},
		"double":               {src: "return {double=1.5}", want: "1.5"},
		"error_reply no code":  {src: "return redis.error_reply('boom')", wantErr: "ERR boom"},
		"error_reply code":     {src: "return redis.error_reply('BAD gate x')", wantErr: "BAD gate x"},
		"error_reply dash":     {src: "return redis.error_reply('-BAD gate')", wantErr: "BAD gate"},
		"error_reply newlines": {src: "return redis.error_reply('a\\nb\\n')", wantErr: "ERR a b"},
		"err table":            {src: "return {err='boom'}", wantErr: "boom"},
		"status_reply bad arg": {src: "return redis.status_reply(5)", wantErr: "ERR wrong number or type of arguments"},
		"number argument":      {src: "redis.call('set','n', 0.1) return redis.call('get','n')", want: "0.10000000000000001"},
		"big number argument":  {src: "redis.call('set','n', 1e21) return redis.call('get','n')", want: "1e+21"},
		"tostring is %.14g": {
			src:  "return {tostring(1/3), tostring(1e15), tostring(0/0), tostring(-(0/0)), tostring(1/0)}",
			want: []any{"0.33333333333333", "1e+15", "-nan", "nan", "inf"},
		},
		"sha1hex":        {src: "return {redis.sha1hex('abc'), redis.sha1hex(12)}", want: []any{"a9993e364706816aba3e25717850c26c9cd0d89d", "7b52009b64fd0a2a49e6d8a939753077792b0554"}},
		"sha1hex no arg": {src: "return redis.sha1hex()", wantErr: "ERR wrong number of arguments script: 3c7ce947ae74a835cc575b6ee87fb27503cb7ba4, on @user_script:1."},
		"log":            {src: "return redis.log(redis.LOG_WARNING, 'hi', 3)", want: nil},
		"log bad level":  {src: "return redis.log(9, 'hi')", wantErr: "ERR Invalid debug level. script: b9379a22ebdab773fad1e13da86109534c272c97, on @user_script:1."},
		"log one arg":    {src: "return redis.log(1)", wantErr: "ERR redis.log() requires two arguments or more. script: f5438245431406aa19fc387d93c6d03a0d5bcb0f, on @user_script:1."},
		"error string":   {src: "error('boom')", wantErr: "ERR user_script:1: boom script: 82903a0434f1503e152f89c03c9acd881a0e8150, on @user_script:1."},
		"error level 0":  {src: "error('boom', 0)", wantErr: "ERR boom script: 90724e16396e5864c1184910ba6d7440461cee4f, on @user_script:1."},
		"error number":   {src: "error(5)", wantErr: "ERR user_script:1: 5 script: 007feaf5de074afe3398416376e34525ad911752, on @user_script:1."},
		"error nil":      {src: "error(nil)", wantErr: "ERR nil script: c402aa49952c86c38f35fb311d54977d08f3bf01, on @user_script:1."},
		"error table": {
			src: "\nlocal a = 1\nerror({err='X y'})", wantErr: "X y script: 175e0e43da83ee0cd5dfec974b546ffd60b77a86, on @user_script:3.",
		},
		"error in function": {
			src: "local function f() error('deep') end\nf()", wantErr: "ERR user_script:1: deep script: 5534f9391a35c19fc34744875ed4a820d7666369, on @user_script:1.",
		},
		"assert":          {src: "assert(false)", wantErr: "ERR user_script:1: assertion failed! script: 2878c2ae3cafd05c022d4f19e4b521d97df409a2, on @user_script:1."},
		"unknown command": {src: "return redis.call('nosuch')", wantErr: "ERR Unknown Redis command called from script script: 206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1."},
		"pcall unknown":   {src: "return redis.pcall('nosuch')", wantErr: "ERR Unknown Redis command called from script"},
		"wrong arity":     {src: "return redis.call('get')", wantErr: "ERR Wrong number of args calling Redis command from script script: f187dee77f607f7cff00bbabc9df38507582c78d, on @user_script:1."},
		"no arguments":    {src: "return redis.call()", wantErr: "ERR Please specify at least one argument for this redis lib call script: 0a907e1429221a4d85516cab7fd219a82a9439d8, on @user_script:1."},
		"pcall no args":   {src: "return redis.pcall()", wantErr: "ERR Please specify at least one argument for this redis lib call"},
		"table argument":  {src: "return redis.call('get', {})", wantErr: "ERR Lua redis lib command arguments must be strings or integers script: 4368e88f98d93af9caf358186e5fbf273374ee91, on @user_script:1."},
		"bool argument":   {src: "return redis.pcall('get', true)", wantErr: "ERR Lua redis lib command arguments must be strings or integers"},
		"wrong type": {
			src: "redis.call('set','s','x') \nreturn redis.call('hget','s','a')", wantErr: "WRONGTYPE Operation against a key holding the wrong kind of value script: 48ec2a1e267050069f5ffb4b97d4f416355648ea, on @user_script:2.",
		},
		"pcall catches as string": {
			src:  "local ok, e = pcall(redis.call, 'nosuch') return {type(e), e}",
			want: []any{"string", "ERR Unknown Redis command called from script"},
		},
		"rethrown": {
			src: "local ok, e = pcall(redis.call, 'nosuch') error(e)", wantErr: "ERR user_script:1: ERR Unknown Redis command called from script script: 7bc6bcfc0c9d2c2f49a0315888ac5320edd40539, on @user_script:1.",
		},
		"pcall in function": {
			src: "local function f() redis.call('get') end\npcall(f) return redis.call('get')", wantErr: "ERR Wrong number of args calling Redis command from script script: 8d7bf7785a34aa25da7bca7d2601420f15415a0d, on @user_script:2.",
		},
		"write global":  {src: "x=1", wantErr: "ERR user_script:1: Attempt to modify a readonly table script: 7caf6056913504f0508c65faf2dc3f94ff65bcfd, on @user_script:1."},
		"global func":   {src: "function f() end", wantErr: "ERR user_script:1: Attempt to modify a readonly table script: f37995b1d7c626139c9a239b83b074295e82ad29, on @user_script:1."},
		"read global":   {src: "return x", wantErr: "ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: 03c387736bb5cc009ff35151572cee04677aa374, on @user_script:1."},
		"write library": {src: "string.foo=1", wantErr: "ERR user_script:1: Attempt to modify a readonly table script: 430e58f82d10fb9c20c167012c39650705856070, on @user_script:1."},
		"no print":      {src: "return type(print)", wantErr: "ERR user_script:1: Script attempted to access nonexistent global variable 'print' script: 296aa29e565df267b5e30e498f3872c9f9e8e8cc, on @user_script:1."},
		"local table":   {src: "local x = {} x.a = 1 return x.a", want: int64(1)},
		"loadstring":    {src: "return loadstring('return 1')()", want: int64(1)},
		"compile error": {src: "return 1 +", wantErr: "ERR Error compiling script (new function): user_script:1: syntax error near '<eof>'"},
		"xrange count 0": {
			src:  "redis.call('xadd','s','1-1','a','b') return {type(redis.call('xrange','s','-','+','count',0)), type(redis.call('xrange','none','-','+','count',0))}",
			want: []any{"boolean", "table"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := MustOpen(t, embedded.Options{})
			got, err := e.Eval(context.Background(), ledger.NewScript(name, tc.src), tc.keys, tc.args...)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("got %#v, want error %q", got, tc.wantErr)
				}
				if !errors.Is(err, ledger.ErrScript) {
					t.Errorf("error %v does not wrap ledger.ErrScript", err)
				}
				// The prefix is redisengine's; the rest is Redis' own text.
				if want := "script error: " + name + ": " + tc.wantErr; err.Error() != want {
					t.Errorf("got error\n  %q\nwant\n  %q", err.Error(), want)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %#v", err, tc.want)
			}
			if !reflect.DeepEqual(errorsToText(got), errorsToText(tc.want)) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// errorsToText replaces the errors in a reply by their text, to compare.
func errorsToText(v any) any {
	switch v := v.(type) {
	case error:
		return "error: " + v.Error()
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = errorsToText(e)
		}
		return out
	}
	return v
}

func TestScriptErrorKeepsWrites(t *testing.T) {
	e := MustOpen(t, embedded.Options{})
	_, err := e.Eval(context.Background(), ledger.NewScript("w", "redis.call('incr', KEYS[1]) error('after write')"), []string{"n"})
	if !errors.Is(err, ledger.ErrScript) {
		t.Fatalf("got %v, want a script error", err)
	}
	if got, want := MustEval(t, e, "return redis.call('get', KEYS[1])", []string{"n"}), "1"; got != want {
		t.Errorf("got %v, want %v: the write before the error is kept, as in Redis", got, want)
	}
}

// Nothing a script does to its environment survives it.
func TestNoStateLeaksBetweenCalls(t *testing.T) {
	tests := map[string]struct {
		first, then string
		want        any
	}{
		"rawset on _G":       {"rawset(_G, 'x', 1)", "return rawget(_G, 'x') == nil", int64(1)},
		"library field":      {"string.upper = nil", "return string.upper('a')", "A"},
		"string metatable":   {"getmetatable('').__index = {}", "return ('a'):upper()", "A"},
		"string method":      {"getmetatable('').__index.upper = nil", "return ('a'):upper()", "A"},
		"globals metatable":  {"setmetatable(_G, nil) rawset(_G, 'y', 2)", "return rawget(_G, 'y') == nil", int64(1)},
		"KEYS":               {"KEYS[1] = 'changed'", "return #KEYS", int64(0)},
		"random seed":        {"math.randomseed(42) math.random()", "return math.random(1000000)", nil},
		"redis table":        {"redis.call = nil", "return redis.call('ping') ", nil},
		"loadstring globals": {"loadstring('rawset(_G, \"z\", 3)')()", "return rawget(_G, 'z') == nil", int64(1)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := MustOpen(t, embedded.Options{})
			want := tc.want
			if want == nil {
				// The reply a fresh engine gives, whatever it is.
				fresh := MustOpen(t, embedded.Options{})
				var err error
				want, err = fresh.Eval(context.Background(), ledger.NewScript("then", tc.then), nil)
				if err != nil {
					want = "error: " + err.Error()
				}
			}
			_, _ = e.Eval(context.Background(), ledger.NewScript("first", tc.first), nil)
			got, err := e.Eval(context.Background(), ledger.NewScript("then", tc.then), nil)
			if err != nil {
				got = "error: " + err.Error()
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after %q, %q gave %#v, want %#v", tc.first, tc.then, got, want)
			}
		})
	}
}

func TestConcurrentIncr(t *testing.T) {
	tests := map[string]struct{ dir bool }{
		"memory":  {false},
		"journal": {true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := embedded.Options{}
			if tc.dir {
				opts.Dir = t.TempDir()
			}
			e := MustOpen(t, opts)
			const goroutines, each = 16, 50
			incr := ledger.NewScript("incr", "return redis.call('incr', KEYS[1])")
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for range goroutines {
				wg.Go(func() {
					for range each {
						if _, err := e.Eval(context.Background(), incr, []string{"n"}); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if got, want := MustEval(t, e, "return redis.call('get', 'n')", nil), fmt.Sprint(goroutines*each); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestXaddAutoID(t *testing.T) {
	xadd := "local r = {} for i = 2, #ARGV do r[#r+1] = redis.call('xadd', KEYS[1], ARGV[i], 'f', 'v') end return r"
	tests := map[string]struct {
		steps []struct {
			clock int64
			ids   []string
		}
		want []string
	}{
		"clock ahead": {steps: []struct {
			clock int64
			ids   []string
		}{{1000, []string{"*"}}, {2000, []string{"*"}}}, want: []string{"1000-0", "2000-0"}},
		"same millisecond": {steps: []struct {
			clock int64
			ids   []string
		}{{1000, []string{"*"}}, {1000, []string{"*"}}}, want: []string{"1000-0", "1000-1"}},
		"clock behind": {steps: []struct {
			clock int64
			ids   []string
		}{{1000, []string{"*"}}, {500, []string{"*"}}}, want: []string{"1000-0", "1000-1"}},
		"one time per script": {steps: []struct {
			clock int64
			ids   []string
		}{{1000, []string{"*", "*", "*"}}}, want: []string{"1000-0", "1000-1", "1000-2"}},
		"after explicit": {steps: []struct {
			clock int64
			ids   []string
		}{{1000, []string{"3000-5", "*", "3000-*", "4000-*", "4000-*"}}}, want: []string{"3000-5", "3000-6", "3000-7", "4000-0", "4000-1"}},
		"last sequence": {steps: []struct {
			clock int64
			ids   []string
		}{{6000, []string{"6000-18446744073709551615", "*"}}}, want: []string{"6000-18446744073709551615", "6001-0"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newClock(0)
			e := MustOpen(t, embedded.Options{Now: c.Now})
			var got []string
			for _, s := range tc.steps {
				c.Set(s.clock)
				r := MustEval(t, e, xadd, []string{"s"}, append([]string{""}, s.ids...)...)
				for _, id := range r.([]any) {
					got = append(got, id.(string))
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMathRandomIsDeterministic(t *testing.T) {
	e := MustOpen(t, embedded.Options{})
	src := "return {math.random(1000000), math.random(1000000), math.random(5, 10)}"
	first := MustEval(t, e, src, nil)
	second := MustEval(t, e, src, nil)
	if !reflect.DeepEqual(first, second) {
		t.Errorf("first call %v, second %v: every call starts from the same seed", first, second)
	}
	for _, v := range first.([]any)[:2] {
		if n := v.(int64); n < 1 || n > 1000000 {
			t.Errorf("math.random(1000000) = %d", n)
		}
	}
}

func TestWrongSHA(t *testing.T) {
	e := MustOpen(t, embedded.Options{})
	s := ledger.NewScript("s", "return 1")
	s.SHA1 = ledger.NewScript("other", "return 2").SHA1
	if _, err := e.Eval(context.Background(), s, nil); err == nil {
		t.Fatal("got no error for a script whose SHA1 is not its source's")
	}
}

func TestClosed(t *testing.T) {
	e, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := e.Eval(context.Background(), ledger.NewScript("s", "return 1"), nil); !errors.Is(err, embedded.ErrClosed) {
		t.Errorf("eval after close: got %v, want ErrClosed", err)
	}
	if err := e.Ping(context.Background()); !errors.Is(err, embedded.ErrClosed) {
		t.Errorf("ping after close: got %v, want ErrClosed", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	e := MustOpen(t, embedded.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Eval(ctx, ledger.NewScript("s", "return redis.call('incr', 'n')"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if got := MustEval(t, e, "return redis.call('get', 'n')", nil); got != nil {
		t.Errorf("a canceled Eval ran: n = %v", got)
	}
}

// HGETALL gives fields in the order they were first set, as Redis does for
// the small hashes (listpacks) the ledger keeps.
func TestHashKeepsInsertionOrder(t *testing.T) {
	e := MustOpen(t, embedded.Options{})
	got := MustEval(t, e, `
for i = 1, 100 do redis.call('hset', 'h', 'f' .. i, i) end
for i = 2, 100, 2 do redis.call('hdel', 'h', 'f' .. i) end
redis.call('hset', 'h', 'f4', 'again', 'f1', 'changed')
local r = {}
local all = redis.call('hgetall', 'h')
for i = 1, #all, 2 do r[#r + 1] = all[i] .. '=' .. all[i + 1] end
return r`, nil)
	var want []any
	for i := 1; i < 100; i += 2 {
		v := fmt.Sprint(i)
		if i == 1 {
			v = "changed"
		}
		want = append(want, fmt.Sprintf("f%d=%s", i, v))
	}
	want = append(want, "f4=again")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestUnknownCommandIsLogged(t *testing.T) {
	var logs strings.Builder
	e := MustOpen(t, embedded.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	_, err := e.Eval(context.Background(), ledger.NewScript("s", "return redis.call('lpush', 'l', 'x')"), nil)
	if !errors.Is(err, ledger.ErrScript) {
		t.Fatalf("got %v, want a script error", err)
	}
	if !strings.Contains(logs.String(), "command=lpush") {
		t.Errorf("log %q does not name the command", logs.String())
	}
}
