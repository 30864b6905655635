package embedded_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"crowdflow/internal/redistest"
	"crowdflow/ledger"
	"crowdflow/ledger/embedded"
)

var (
	diffSeed = flag.Uint64("diff.seed", 0, "seed of TestDifferential (0: a new one)")
	diffOps  = flag.Int("diff.ops", 5000, "random operations in TestDifferential")
)

// The scripts of the differential test. Every command's arguments come in
// ARGV, so one script can run any command.
const (
	// callScript raises command errors.
	callScript = "return redis.call(unpack(ARGV))"
	// pcallScript returns them.
	pcallScript = "return redis.pcall(unpack(ARGV))"
	// wrapScript catches a raised error with Lua's pcall, which Redis
	// turns into the error's text.
	wrapScript = "local ok, r = pcall(redis.call, unpack(ARGV)) return {ok and 1 or 0, r}"
	// describeScript shows the reply as the script sees it: the Lua types
	// that the Go conversion would blur (a status and a bulk string, false
	// and nil). SMEMBERS' order is unspecified, so it sorts.
	describeScript = `
local function describe(v)
  local t = type(v)
  if t == 'table' then
    if v.ok then return 'status(' .. v.ok .. ')' end
    if v.err then return 'error(' .. v.err .. ')' end
    local parts = {}
    for i = 1, #v do parts[#parts + 1] = describe(v[i]) end
    return '[' .. table.concat(parts, ',') .. ']'
  end
  return t .. '(' .. tostring(v) .. ')'
end
local r = redis.pcall(unpack(ARGV))
if string.lower(ARGV[1]) == 'smembers' and type(r) == 'table' and not r.err then table.sort(r) end
return describe(r)`
	// scanScript is shaped like a ledger script: check, count, log. It may
	// fail half-way (WRONGTYPE), keeping what it wrote.
	scanScript = `
if redis.call('sismember', KEYS[3], ARGV[3]) == 1 then
  return {'dup', redis.call('hget', KEYS[1], ARGV[1]) or 'none'}
end
redis.call('sadd', KEYS[3], ARGV[3])
local n = redis.call('hincrby', KEYS[1], ARGV[1], ARGV[2])
if n < 0 then
  redis.call('hincrby', KEYS[1], ARGV[1], -n)
  n = 0
end
local id = redis.call('xadd', KEYS[2], ARGV[4], 'zone', ARGV[1], 'delta', ARGV[2], 'scan', ARGV[3], 'n', n)
return {'ok', n, id, redis.call('hlen', KEYS[1]), redis.call('scard', KEYS[3])}`
	// convScript returns Lua values and errors of every kind.
	convScript = `
local c, a = ARGV[1], ARGV[2]
if c == 'num' then return tonumber(a) end
if c == 'tonumber' then local n = tonumber(a) if n == nil then return 'nil' end return tostring(n) end
if c == 'tostring' then return tostring(tonumber(a)) end
if c == 'true' then return true end
if c == 'false' then return false end
if c == 'nil' then return nil end
if c == 'nested' then return {1, 'two', {3, {4, false, 5}}, true, false, 6, {}} end
if c == 'holes' then return {1, 2, nil, 4} end
if c == 'status' then return {ok = a} end
if c == 'err' then return {err = a} end
if c == 'error_reply' then return redis.error_reply(a) end
if c == 'status_reply' then return redis.status_reply(a) end
if c == 'nested_err' then return {1, {err = 'NESTED ' .. a}, {ok = a}, redis.error_reply(a)} end
if c == 'double' then return {double = tonumber(a)} end
if c == 'callnum' then redis.call('set', 'conv:n', tonumber(a)) return redis.call('get', 'conv:n') end
if c == 'sha' then return redis.sha1hex(a) end
if c == 'raise' then error(a) end
if c == 'raise0' then error(a, 0) end
if c == 'raisetable' then error({err = a}) end
if c == 'raisenum' then error(tonumber(a)) end
if c == 'assert' then assert(false, a) end
if c == 'assert0' then assert(false) end
if c == 'badarg' then return redis.call('get', {}) end
if c == 'badarg_p' then return redis.pcall('get', {}) end
if c == 'noargs' then return redis.call() end
if c == 'noargs_p' then return redis.pcall() end
if c == 'setglobal' then newglobal = 1 return 1 end
if c == 'getglobal' then return undefinedglobal end
if c == 'libwrite' then string.foo = 1 return 1 end
if c == 'pcallerr' then local ok, e = pcall(redis.call, 'nosuchcmd') return {tostring(ok), e} end
if c == 'rethrow' then redis.call('set', 'conv:s', 'x') local ok, e = pcall(redis.call, 'hget', 'conv:s', 'f') error(e) end
if c == 'writefail' then redis.call('incr', 'conv:w') error('after write') end
if c == 'log' then redis.log(redis.LOG_WARNING, 'hello', 3) return 1 end
if c == 'logbad' then redis.log(9, 'x') end
if c == 'arith' then local x = nil return x + 1 end
if c == 'methods' then return ('abc'):upper() .. string.rep('x', 3) .. string.format('%d-%s', 5, 'y') .. table.concat({1, 2}, ',') end
if c == 'xpcall' then local ok, e = xpcall(function() redis.call('nosuchcmd') end, function(m) return type(m) end) return {tostring(ok), e} end
if c == 'deep' then local function f() error('deep ' .. a) end f() end
return redis.error_reply('unknown case ' .. c)`
)

// convCases are the first arguments convScript knows.
var convCases = []string{
	"num", "tonumber", "tostring", "true", "false", "nil", "nested", "holes", "status", "err",
	"error_reply", "status_reply", "nested_err", "double", "callnum", "sha", "raise", "raise0",
	"raisetable", "raisenum", "assert", "assert0", "badarg", "badarg_p", "noargs", "noargs_p",
	"setglobal", "getglobal", "libwrite", "pcallerr", "rethrow", "writefail", "log", "logbad",
	"arith", "methods", "xpcall", "deep",
}

// Values that exercise Redis' parsing of integers and IDs.
var (
	// Each type has its home keys, and commands now and then stray to
	// another type's (WRONGTYPE).
	stringKeys = []string{"s1", "s2"}
	hashKeys   = []string{"h1", "h2"}
	setKeys    = []string{"z1", "z2"}
	streamKeys = []string{"x1", "x2", "x3"} // x3 is the scan script's log
	allKeys    = slices.Concat(stringKeys, hashKeys, setKeys, streamKeys, []string{"none"})
	valuePool  = []string{
		"", "0", "1", "-1", "42", "007", "-0", " 5", "+5", "9223372036854775807", "-9223372036854775808",
		"9223372036854775806", "9223372036854775808", "x", "hello world", "3.5", "1e3", "12345678901234567890",
		"-", "+", "*", "OK", "nx",
	}
	fieldPool  = []string{"f1", "f2", "f3", "f4", "F1"}
	memberPool = []string{"1", "2", "10", "-3", "m1", "x", ""}
	numPool    = []string{
		"3.7", "-3.7", "0", "1e3", "123456789", "-0.5", "0.1", "2.5", "1e20", "-1e20", "1e15", "0.5",
		"10", " 10 ", "0x10", "abc", "-5", "", "1e", "5 x", "1/3", "42",
	}
	textPool = []string{"boom", "BAD gate x", "-CODE msg", "", "a\nb", "two words", "x\r\n", "OK", "-"}
)

// op is one random operation.
type op struct {
	name   string // the script's name, for messages
	script string
	keys   []string
	args   []string
	// sortTop sorts the top-level reply (SMEMBERS).
	sortTop bool
}

func TestDifferential(t *testing.T) {
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -diff.seed=%d)", seed, seed)
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}

	srv := redistest.Start(t, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: 2})
	t.Cleanup(func() { rdb.Close() })
	ctx := redistest.Context(t)
	e := MustOpen(t, embedded.Options{})

	scripts := map[string]*ledger.Script{}
	redisScripts := map[string]*redis.Script{}
	for _, s := range []struct{ name, src string }{
		{"call", callScript}, {"pcall", pcallScript}, {"wrap", wrapScript}, {"describe", describeScript},
		{"scan", scanScript}, {"conv", convScript},
	} {
		scripts[s.src] = ledger.NewScript(s.name, s.src)
		redisScripts[s.src] = redis.NewScript(s.src)
	}

	for i := range *diffOps {
		o := g.op()
		got, gotErr := e.Eval(ctx, scripts[o.script], o.keys, o.args...)
		if gotErr != nil {
			// Compare Redis' text, without the engine's prefix.
			prefix := "script error: " + scripts[o.script].Name + ": "
			if !strings.HasPrefix(gotErr.Error(), prefix) {
				t.Fatalf("error %q does not start with %q", gotErr, prefix)
			}
			gotErr = errors.New(strings.TrimPrefix(gotErr.Error(), prefix))
		}
		want, wantErr := redisScripts[o.script].Run(ctx, rdb, o.keys, toAny(o.args)...).Result()
		if errors.Is(wantErr, redis.Nil) {
			want, wantErr = nil, nil
		}
		var rerr redis.Error
		if wantErr != nil && !errors.As(wantErr, &rerr) {
			t.Fatalf("redis: %v", wantErr)
		}
		g, w := canon(got, gotErr, o.sortTop), canon(want, wantErr, o.sortTop)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("seed %d, op %d: %s keys=%q args=%q\n  redis:    %#v\n  embedded: %#v", seed, i, o.name, o.keys, o.args, w, g)
		}
		if i%250 == 249 || i == *diffOps-1 {
			compareData(t, ctx, rdb, e, fmt.Sprintf("seed %d, after op %d", seed, i))
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func pick(rng *rand.Rand, pool []string) string { return pool[rng.IntN(len(pool))] }

// generator makes random operations. Explicit stream IDs follow a clock
// that ticks with every one made, so that streams grow.
type generator struct {
	rng  *rand.Rand
	tick int
}

// key returns one of home, or now and then any key.
func (g *generator) key(home []string) string {
	if g.rng.IntN(10) == 0 {
		return pick(g.rng, allKeys)
	}
	return pick(g.rng, home)
}

// randomCase returns name in a random case: command names are
// case-insensitive.
func (g *generator) randomCase(name string) string {
	switch g.rng.IntN(4) {
	case 0:
		return strings.ToUpper(name)
	case 1:
		b := []byte(name)
		for i := range b {
			if g.rng.IntN(2) == 0 {
				b[i] = strings.ToUpper(string(b[i]))[0]
			}
		}
		return string(b)
	}
	return name
}

func (g *generator) op() op {
	rng := g.rng
	switch n := rng.IntN(100); {
	case n < 12:
		return op{name: "conv", script: convScript, args: []string{pick(rng, convCases), g.convArg()}}
	case n < 22:
		id := "*"
		if rng.IntN(3) == 0 {
			id = g.streamID(true)
		}
		// The scan log gets '*' IDs from the server clock: x3, mostly.
		return op{name: "scan", script: scanScript, keys: []string{g.key(hashKeys), g.key([]string{"x3"}), g.key(setKeys)},
			args: []string{pick(rng, fieldPool), pick(rng, []string{"1", "-1", "2", "-5", "x"}), pick(rng, memberPool), id}}
	}
	argv, sortTop := g.command()
	scripts := []string{callScript, pcallScript, wrapScript, describeScript}
	if sortTop {
		scripts = []string{callScript, pcallScript, describeScript} // where the members are on top
	}
	s := scripts[rng.IntN(len(scripts))]
	return op{name: "command " + argv[0], script: s, args: argv, sortTop: sortTop}
}

func (g *generator) convArg() string {
	if g.rng.IntN(2) == 0 {
		return pick(g.rng, numPool)
	}
	return pick(g.rng, textPool)
}

// streamID returns an ID for XADD (forXadd) or a bound for XRANGE: mostly
// near the generator's clock, sometimes malformed or extreme.
func (g *generator) streamID(forXadd bool) string {
	rng := g.rng
	g.tick++
	ms, seq := max(g.tick/4+rng.IntN(3)-1, 0), rng.IntN(3)
	if !forXadd {
		// A bound among the recent entries, exclusive a third of the time.
		ms = max(g.tick/4-rng.IntN(12), 0)
		if rng.IntN(3) == 0 {
			return fmt.Sprintf("(%d-%d", ms, seq)
		}
	}
	if rng.IntN(8) > 0 {
		switch {
		case forXadd && rng.IntN(4) == 0:
			return fmt.Sprintf("%d-*", ms)
		case rng.IntN(6) == 0:
			return fmt.Sprintf("%d", ms)
		}
		return fmt.Sprintf("%d-%d", ms, seq)
	}
	forms := []string{
		fmt.Sprintf("%d", ms), "0-0", "0", "abc", "1-2-3", "-", "+", "", " 3-1", "+4", "005-1", "2--01",
		"18446744073709551615-18446744073709551615", "18446744073709551615-18446744073709551614",
		"18446744073709551616-1", "-5",
	}
	if forXadd {
		forms = append(forms, "18446744073709551615-*", "*", "*")
	} else {
		forms = append(forms, "(-", "(+", "(0-0", fmt.Sprintf("(%d-%d", ms, seq), fmt.Sprintf("(%d", ms),
			"(18446744073709551615-18446744073709551615", "18446744073709551615", "-", "+", "-", "+", "3-*")
	}
	return pick(rng, forms)
}

// command returns a command line, now and then with the wrong number of
// arguments, and whether its reply's order is unspecified.
func (g *generator) command() ([]string, bool) {
	rng := g.rng
	v := func() string { return pick(rng, valuePool) }
	f := func() string { return pick(rng, fieldPool) }
	m := func() string { return pick(rng, memberPool) }
	some := func(gen func() string, min int) []string {
		out := []string{}
		for range min + rng.IntN(3) {
			out = append(out, gen())
		}
		return out
	}
	var argv []string
	sortTop := false
	switch name := pick(rng, []string{
		"get", "set", "set", "del", "exists", "incr", "incr", "incrby", "hget", "hset", "hset", "hsetnx", "hmget",
		"hincrby", "hincrby", "hgetall", "hdel", "hlen", "hexists", "sadd", "sadd", "srem", "sismember",
		"smembers", "scard", "xadd", "xadd", "xadd", "xadd", "xrange", "xrange", "xrevrange", "xrevrange",
		"xlen", "nosuch", "exists", "srem", "hdel",
	}); name {
	case "get", "incr":
		argv = []string{name, g.key(stringKeys)}
	case "hgetall", "hlen":
		argv = []string{name, g.key(hashKeys)}
	case "scard":
		argv = []string{name, g.key(setKeys)}
	case "xlen":
		argv = []string{name, g.key(streamKeys)}
	case "smembers":
		argv, sortTop = []string{name, g.key(setKeys)}, true
	case "set":
		argv = []string{name, g.key(stringKeys), v()}
		for range rng.IntN(3) {
			argv = append(argv, pick(rng, []string{"NX", "xx", "nx", "GET", "get", "KEEPTTL", "bogus"}))
		}
	case "del", "exists":
		argv = append([]string{name}, some(func() string { return pick(rng, allKeys) }, 1)...)
		if name == "del" && rng.IntN(3) > 0 {
			argv = argv[:2] // keep the keyspace from emptying too often
		}
	case "incrby":
		argv = []string{name, g.key(stringKeys), pick(rng, []string{"1", "-1", "10", "9223372036854775807", "-9223372036854775808", "x", "1.5", "007"})}
	case "hget", "hexists":
		argv = []string{name, g.key(hashKeys), f()}
	case "hset":
		argv = []string{name, g.key(hashKeys)}
		for range 1 + rng.IntN(3) {
			argv = append(argv, f(), v())
		}
		if rng.IntN(8) == 0 {
			argv = append(argv, f()) // odd: the command's own arity error
		}
	case "hsetnx":
		argv = []string{name, g.key(hashKeys), f(), v()}
	case "hmget":
		argv = append([]string{name, g.key(hashKeys)}, some(f, 1)...)
	case "hincrby":
		argv = []string{name, g.key(hashKeys), f(), pick(rng, []string{"1", "-1", "5", "9223372036854775807", "-9223372036854775808", "x", "2.5"})}
	case "sadd":
		argv = append([]string{name, g.key(setKeys)}, some(m, 1)...)
	case "srem", "hdel":
		// Several at once, so that sets and hashes empty now and then.
		gen := m
		if name == "hdel" {
			gen = f
		}
		argv = append([]string{name, g.key(setKeys)}, some(gen, 2+rng.IntN(3))...)
		if name == "hdel" {
			argv[1] = g.key(hashKeys)
		}
	case "sismember":
		argv = []string{name, g.key(setKeys), m()}
	case "xadd":
		argv = []string{name, g.key(streamKeys)}
		if rng.IntN(6) == 0 {
			argv = append(argv, pick(rng, []string{"NOMKSTREAM", "nomkstream"}))
		}
		argv = append(argv, g.streamID(true))
		for range 1 + rng.IntN(2) {
			argv = append(argv, f(), v())
		}
		if rng.IntN(10) == 0 {
			argv = argv[:len(argv)-1]
		}
	case "xrange", "xrevrange":
		argv = []string{name, g.key(streamKeys), g.streamID(false), g.streamID(false)}
		if rng.IntN(2) == 0 {
			argv[2], argv[3] = "-", "+"
			if name == "xrevrange" {
				argv[2], argv[3] = "+", "-"
			}
		}
		if rng.IntN(3) == 0 {
			argv = append(argv, pick(rng, []string{"COUNT", "count", "LIMIT"}), pick(rng, []string{"0", "1", "2", "-1", "x", "100"}))
		}
		if rng.IntN(12) == 0 {
			argv = append(argv, "COUNT")
		}
	case "nosuch":
		argv = []string{name, pick(rng, allKeys)}
	}
	if rng.IntN(25) == 0 {
		argv = argv[:1+rng.IntN(len(argv))] // the script-level arity error, often
	}
	argv[0] = g.randomCase(argv[0])
	return argv, sortTop
}

var (
	// autoID matches a stream ID that XADD '*' made from a real clock:
	// Redis' and the engine's clocks differ, so such IDs compare equal.
	autoID = regexp.MustCompile(`\b1[0-9]{12}-[0-9]+\b`)
	// luaRuntime matches an error of the Lua VM itself, which gopher-lua
	// words differently from Lua 5.1 ("cannot perform add operation ...").
	luaRuntime = regexp.MustCompile(`^(ERR user_script:[0-9]+: )(attempt to|cannot) .*( script: [0-9a-f]+, on @user_script:[0-9]+\.)$`)
)

func normText(s string) string {
	return autoID.ReplaceAllString(s, "<auto-id>")
}

// canon puts a reply of either engine in one comparable form.
func canon(v any, err error, sortTop bool) any {
	if err != nil {
		return "error: " + normText(luaRuntime.ReplaceAllString(err.Error(), "$1<lua runtime error>$3"))
	}
	c := canonValue(v)
	if s, ok := c.([]any); ok && sortTop {
		slices.SortFunc(s, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	return c
}

func canonValue(v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case error:
		return "error: " + normText(v.Error())
	case string:
		return normText(v)
	case int64:
		return v
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = canonValue(e)
		}
		return out
	default:
		return fmt.Sprintf("unexpected %T %v", v, v)
	}
}

// compareData compares every key of both engines.
func compareData(t *testing.T, ctx context.Context, rdb *redis.Client, e *embedded.Engine, when string) {
	t.Helper()
	want := map[string]any{}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("redis keys: %v", err)
	}
	for _, k := range keys {
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatalf("redis type: %v", err)
		}
		switch typ {
		case "string":
			want[k], err = rdb.Get(ctx, k).Result()
		case "hash":
			want[k], err = rdb.HGetAll(ctx, k).Result()
		case "set":
			var ms []string
			ms, err = rdb.SMembers(ctx, k).Result()
			slices.Sort(ms)
			want[k] = ms
		case "stream":
			var info *redis.XInfoStream
			if info, err = rdb.XInfoStream(ctx, k).Result(); err != nil {
				break
			}
			var entries []redis.XMessage
			entries, err = rdb.XRange(ctx, k, "-", "+").Result()
			s := embedded.Stream{Last: normText(info.LastGeneratedID)}
			for _, en := range entries {
				row := []string{normText(en.ID)}
				// go-redis gives fields as a map: compare them sorted.
				s.Entries = append(s.Entries, append(row, sortedPairs(en.Values)...))
			}
			want[k] = s
		default:
			t.Fatalf("redis key %q has type %s", k, typ)
		}
		if err != nil {
			t.Fatalf("redis read %s: %v", k, err)
		}
	}
	got := embedded.Dump(e)
	for k, v := range got {
		if s, ok := v.(embedded.Stream); ok {
			s.Last = normText(s.Last)
			for i, en := range s.Entries {
				vals := map[string]any{}
				for j := 1; j+1 < len(en); j += 2 {
					vals[en[j]] = en[j+1]
				}
				s.Entries[i] = append([]string{normText(en[0])}, sortedPairs(vals)...)
			}
			got[k] = s
		}
	}
	if !reflect.DeepEqual(got, want) {
		for k := range mergeKeys(got, want) {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s: key %q\n  redis:    %#v\n  embedded: %#v", when, k, want[k], got[k])
			}
		}
		t.FailNow()
	}
}

func sortedPairs(m map[string]any) []string {
	fields := make([]string, 0, len(m))
	for f := range m {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	out := make([]string, 0, 2*len(fields))
	for _, f := range fields {
		out = append(out, f, fmt.Sprint(m[f]))
	}
	return out
}

func mergeKeys(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
