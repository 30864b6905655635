package embedded

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"crowdflow/ledger"
)

// chunkName is the name Redis gives every script, which appears in Lua's
// error messages ("user_script:3: ...") and in the suffix Redis appends to a
// raised error ("on @user_script:3.").
const chunkName = "user_script"

// maxReplyDepth bounds the nesting of a script's reply, which may be a
// table that contains itself. Redis stops at its Lua stack limit.
const maxReplyDepth = 1000

// scriptError is an error reply of a script: the message exactly as Redis
// sends it, without the leading '-'. It wraps ledger.ErrScript; Eval adds
// the script's name in front of a top-level one.
type scriptError struct{ msg string }

func (e *scriptError) Error() string { return e.msg }
func (e *scriptError) Unwrap() error { return ledger.ErrScript }

// machine runs scripts against a keyspace: one Lua state, the compiled
// scripts and the Redis API that scripts see. It is not safe for concurrent
// use: Engine serialises calls with its mutex, and replay runs before the
// Engine is shared.
type machine struct {
	L       *lua.LState
	db      *keyspace
	scripts map[string]*compiled // by SHA-1
	logger  *slog.Logger

	// The shared, read-only part of every call's environment, which no
	// script can reach: base holds the base functions; libs the real
	// library tables; the metatables are marked with hidden, which
	// getmetatable reports as nil and setmetatable refuses to replace.
	base    *lua.LTable
	libs    []library
	envMeta *lua.LTable // __index: base; __newindex: an error
	hidden  *lua.LTable
	handler *lua.LFunction // the message handler of the script's pcall
	ro      *lua.LFunction // __newindex that refuses: Redis' read-only tables
	pcall   lua.LGFunction // gopher-lua's own pcall, which ours wraps

	// State of the running call.
	x       execContext
	clock   func() time.Time
	now     time.Time
	nowUsed bool
	rand    uint64   // Redis' lrand48 state, reseeded at every call
	argv    []string // reused for the arguments of redis.call
	quiet   bool     // replaying the journal: redis.log stays silent
}

type namedValue struct {
	name  string
	value lua.LValue
}

// library is a library table and the metatable of its per-call proxies.
type library struct {
	name string
	meta *lua.LTable // __index: the library; __newindex: an error
}

type compiled struct {
	source string
	proto  *lua.FunctionProto
}

// baseGlobals are the functions of Lua's base library that Redis keeps.
// Redis removes loadfile and dofile; print, getfenv, setfenv, module,
// require and newproxy are not in its allow-list either.
var baseGlobals = []string{
	"assert", "error", "getmetatable", "ipairs", "load", "loadstring", "next", "pairs",
	"pcall", "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber",
	"tostring", "type", "unpack", "xpcall",
}

func newMachine(db *keyspace, logger *slog.Logger) (*machine, error) {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:    true,
		RegistrySize:    1024 * 20,
		RegistryMaxSize: 1024 * 1024,
	})
	m := &machine{L: L, db: db, scripts: make(map[string]*compiled), logger: logger}
	m.x.now = m.nowMillis
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			L.Close()
			return nil, fmt.Errorf("open lua library %q: %w", lib.name, err)
		}
	}
	g := L.G.Global
	pcall, ok := g.RawGetString("pcall").(*lua.LFunction)
	if !ok {
		L.Close()
		return nil, errors.New("lua base library has no pcall")
	}
	m.pcall = pcall.GFunction

	m.hidden = L.CreateTable(0, 0)
	m.ro = L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Attempt to modify a readonly table")
		return 0
	})
	protect := func(t *lua.LTable) *lua.LTable {
		t.RawSetString("__metatable", m.hidden)
		return t
	}

	overrides := map[string]lua.LGFunction{
		"error":        m.luaError,
		"getmetatable": m.luaGetmetatable,
		"pcall":        m.luaPcall,
		"tostring":     m.luaTostring,
		"tonumber":     luaTonumber,
	}
	globals := map[string]lua.LValue{
		"_VERSION":       lua.LString("Lua 5.1"),
		"collectgarbage": L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(0)); return 1 }),
		"gcinfo":         L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(0)); return 1 }),
	}
	for _, name := range baseGlobals {
		var v lua.LValue = g.RawGetString(name)
		if f, ok := overrides[name]; ok {
			v = L.NewFunction(f)
		}
		if v == lua.LNil {
			L.Close()
			return nil, fmt.Errorf("lua base library has no %s", name)
		}
		globals[name] = v
	}
	m.base = L.CreateTable(0, len(globals))
	for _, f := range sortedFields(globals) {
		m.base.RawSetString(f.name, f.value)
	}
	// Reading a global that does not exist is an error, as in Redis.
	baseMeta := protect(L.CreateTable(0, 2))
	baseMeta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Script attempted to access nonexistent global variable '%s'", luaToString(L.Get(2)))
		return 0
	}))
	m.base.Metatable = baseMeta
	m.envMeta = protect(L.CreateTable(0, 3))
	m.envMeta.RawSetString("__index", m.base)
	m.envMeta.RawSetString("__newindex", m.ro)

	libs := map[string]map[string]lua.LValue{}
	for _, name := range []string{lua.TabLibName, lua.StringLibName, lua.MathLibName} {
		t, ok := g.RawGetString(name).(*lua.LTable)
		if !ok {
			L.Close()
			return nil, fmt.Errorf("lua library %s not loaded", name)
		}
		fields := map[string]lua.LValue{}
		t.ForEach(func(k, v lua.LValue) {
			if s, ok := k.(lua.LString); ok {
				fields[string(s)] = v
			}
		})
		libs[name] = fields
	}
	libs[lua.StringLibName]["gfind"] = libs[lua.StringLibName]["gmatch"] // Lua 5.1's old name, which Redis keeps
	libs[lua.MathLibName]["huge"] = lua.LNumber(math.Inf(1))
	libs[lua.MathLibName]["random"] = L.NewFunction(m.mathRandom)
	libs[lua.MathLibName]["randomseed"] = L.NewFunction(m.mathRandomseed)
	libs["redis"] = map[string]lua.LValue{
		"call":               L.NewFunction(func(L *lua.LState) int { return m.redisCommand(L, true) }),
		"pcall":              L.NewFunction(func(L *lua.LState) int { return m.redisCommand(L, false) }),
		"error_reply":        L.NewFunction(redisErrorReply),
		"status_reply":       L.NewFunction(redisStatusReply),
		"sha1hex":            L.NewFunction(redisSha1hex),
		"log":                L.NewFunction(m.redisLog),
		"setresp":            L.NewFunction(redisSetresp),
		"replicate_commands": L.NewFunction(func(L *lua.LState) int { L.Push(lua.LTrue); return 1 }),
		"set_repl":           L.NewFunction(redisSetRepl),
		"LOG_DEBUG":          lua.LNumber(0),
		"LOG_VERBOSE":        lua.LNumber(1),
		"LOG_NOTICE":         lua.LNumber(2),
		"LOG_WARNING":        lua.LNumber(3),
		"REPL_NONE":          lua.LNumber(0),
		"REPL_AOF":           lua.LNumber(1),
		"REPL_SLAVE":         lua.LNumber(2),
		"REPL_REPLICA":       lua.LNumber(2),
		"REPL_ALL":           lua.LNumber(3),
	}
	for _, name := range []string{"math", "redis", "string", "table"} {
		lib := L.CreateTable(0, len(libs[name]))
		for _, f := range sortedFields(libs[name]) {
			lib.RawSetString(f.name, f.value)
		}
		meta := protect(L.CreateTable(0, 3))
		meta.RawSetString("__index", lib)
		meta.RawSetString("__newindex", m.ro)
		m.libs = append(m.libs, library{name: name, meta: meta})
		if name == lua.StringLibName {
			// The metatable of every string: ("x"):upper().
			strMeta := protect(L.CreateTable(0, 2))
			strMeta.RawSetString("__index", lib)
			L.SetMetatable(lua.LString(""), strMeta)
		}
	}
	m.handler = L.NewFunction(m.errorHandler)
	return m, nil
}

func sortedFields(m map[string]lua.LValue) []namedValue {
	out := make([]namedValue, 0, len(m))
	for k, v := range m {
		out = append(out, namedValue{k, v})
	}
	slices.SortFunc(out, func(a, b namedValue) int { return strings.Compare(a.name, b.name) })
	return out
}

func (m *machine) close() { m.L.Close() }

// compile returns the compiled script, compiling it the first time its
// SHA-1 is seen. The caller has checked that sha is the SHA-1 of source.
func (m *machine) compile(sha, source string) (*lua.FunctionProto, error) {
	if c, ok := m.scripts[sha]; ok {
		return c.proto, nil
	}
	chunk, err := parse.Parse(strings.NewReader(source), chunkName)
	if err != nil {
		return nil, &scriptError{msg: "ERR Error compiling script (new function): " + compileMessage(err, source)}
	}
	proto, err := lua.Compile(chunk, chunkName)
	if err != nil {
		return nil, &scriptError{msg: "ERR Error compiling script (new function): " + compileMessage(err, source)}
	}
	// The chunk's "arg" is a global, as in Lua 5.1; gopher-lua would build
	// a table for it at every call.
	proto.IsVarArg &^= lua.VarArgNeedsArg
	m.scripts[sha] = &compiled{source: source, proto: proto}
	return proto, nil
}

// known reports whether the script with this SHA-1 is compiled and has
// exactly this source.
func (m *machine) known(sha, source string) bool {
	c, ok := m.scripts[sha]
	return ok && c.source == source
}

// compileMessage words a gopher-lua syntax error as Lua does: "chunk:line:
// message near 'token'".
func compileMessage(err error, source string) string {
	var perr *parse.Error
	if errors.As(err, &perr) {
		line, token := perr.Pos.Line, perr.Token
		if line == parse.EOF {
			line, token = strings.Count(source, "\n")+1, "<eof>"
		}
		msg := fmt.Sprintf("%s:%d: %s", chunkName, line, strings.TrimSpace(perr.Message))
		if token != "" {
			msg += " near '" + token + "'"
		}
		return msg
	}
	return strings.TrimSpace(err.Error())
}

// eval runs a compiled script with KEYS and ARGV in a fresh environment and
// converts its result as Redis does. clock gives the server time, read at
// most once (see nowMillis).
func (m *machine) eval(sha, source string, keys, args []string, clock func() time.Time) (any, error) {
	proto, err := m.compile(sha, source)
	if err != nil {
		return nil, err
	}
	m.clock, m.nowUsed = clock, false
	m.seedRandom(0) // Redis gives every script the same random sequence
	L := m.L
	env := m.newEnv(keys, args)
	L.Env = env // the environment of chunks made by load and loadstring
	fn := L.NewFunctionFromProto(proto)
	fn.Env = env
	L.Push(fn)
	perr := L.PCall(0, 1, m.handler)
	var ret lua.LValue = lua.LNil
	if perr == nil {
		ret = L.Get(-1)
	}
	L.SetTop(0)
	if perr != nil {
		return nil, m.raised(sha, perr)
	}
	r := m.fromLua(ret, 0)
	if err, ok := r.(*scriptError); ok {
		return nil, err
	}
	return r, nil
}

// newEnv builds the globals of one call. What a script can change is made
// for this call only: the table of globals (where KEYS and ARGV live) and
// empty proxies of the libraries. Everything else is behind metatables the
// script cannot reach. So nothing a script does survives it, and, as in
// Redis, writing a global or a library field, or reading a global that does
// not exist, is an error.
func (m *machine) newEnv(keys, args []string) *lua.LTable {
	L := m.L
	env := L.CreateTable(0, len(m.libs)+3)
	for _, lib := range m.libs {
		proxy := L.CreateTable(0, 0)
		proxy.Metatable = lib.meta
		env.RawSetString(lib.name, proxy)
	}
	env.RawSetString("_G", env)
	env.RawSetString("KEYS", stringsTable(L, keys))
	env.RawSetString("ARGV", stringsTable(L, args))
	env.Metatable = m.envMeta
	return env
}

func stringsTable(L *lua.LState, ss []string) *lua.LTable {
	t := L.CreateTable(len(ss), 0)
	for i, s := range ss {
		t.RawSetInt(i+1, lua.LString(s))
	}
	return t
}

// nowMillis is the server time of the running call in milliseconds, read
// from the clock once per call and remembered so the journal can record it.
func (m *machine) nowMillis() uint64 {
	if !m.nowUsed {
		m.now, m.nowUsed = m.clock(), true
	}
	return uint64(max(m.now.UnixMilli(), 0))
}

// errorHandler is the message handler of the script's pcall, Redis'
// __redis__err__handler: it turns any error into a table {err=...} and notes
// where in the script it happened.
func (m *machine) errorHandler(L *lua.LState) int {
	v := L.Get(1)
	t, ok := v.(*lua.LTable)
	if !ok {
		t = L.CreateTable(0, 3)
		t.RawSetString("err", lua.LString("ERR "+luaToString(v)))
	}
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		fn, err := L.GetInfo("fSl", dbg, lua.LNil)
		if err != nil {
			break
		}
		if f, ok := fn.(*lua.LFunction); ok && !f.IsG {
			t.RawSetString("source", lua.LString("@"+dbg.Source))
			t.RawSetString("line", lua.LNumber(dbg.CurrentLine))
			break
		}
	}
	L.Push(t)
	return 1
}

// raised turns an error raised by a script into the error Redis replies
// with: the message, then where the script was.
func (m *machine) raised(sha string, err error) error {
	var aerr *lua.ApiError
	if !errors.As(err, &aerr) {
		return &scriptError{msg: sanitizeError("ERR Error running script " + sha + ", " + err.Error())}
	}
	t, ok := aerr.Object.(*lua.LTable)
	if !ok {
		return &scriptError{msg: sanitizeError("ERR Error running script " + sha + ", " + luaToString(aerr.Object))}
	}
	var msg string
	switch v := t.RawGetString("err").(type) {
	case lua.LString:
		msg = string(v)
	case lua.LNumber:
		msg = formatG(float64(v), 14)
	default:
		msg = "ERR error without a message" // Redis crashes on this one
	}
	source, sok := t.RawGetString("source").(lua.LString)
	line := t.RawGetString("line")
	if sok && line != lua.LNil {
		msg += " script: " + sha + ", on " + string(source) + ":" + luaToString(line) + "."
	}
	return &scriptError{msg: sanitizeError(msg)}
}

// sanitizeError does to an error what Redis does before sending it: trailing
// newlines go, inner ones become spaces.
func sanitizeError(s string) string {
	return mapCRLF(strings.TrimRight(s, "\r\n"))
}

func mapCRLF(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// luaToString is Lua 5.1's tostring without metamethods, numbers as %.14g.
func luaToString(v lua.LValue) string {
	if n, ok := v.(lua.LNumber); ok {
		return formatG(float64(n), 14)
	}
	return v.String()
}

// fromLua converts a script's reply as Redis does (luaReplyToRedisReply)
// and as a RESP2 client then reads it: see ledger.Engine.
func (m *machine) fromLua(v lua.LValue, depth int) any {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return int64(float64(v))
	case lua.LBool:
		if v {
			return int64(1)
		}
		return nil
	case *lua.LTable:
		if depth >= maxReplyDepth {
			return &scriptError{msg: "ERR reached lua stack limit"}
		}
		if s, ok := v.RawGetString("err").(lua.LString); ok {
			return &scriptError{msg: sanitizeError(string(s))}
		}
		if s, ok := v.RawGetString("ok").(lua.LString); ok {
			return mapCRLF(string(s))
		}
		if d, ok := v.RawGetString("double").(lua.LNumber); ok {
			return formatG(float64(d), 17)
		}
		if s, ok := v.RawGetString("big_number").(lua.LString); ok {
			return mapCRLF(string(s))
		}
		if vt, ok := v.RawGetString("verbatim_string").(*lua.LTable); ok {
			_, fok := vt.RawGetString("format").(lua.LString)
			s, sok := vt.RawGetString("string").(lua.LString)
			if fok && sok {
				return string(s)
			}
		}
		if mt, ok := v.RawGetString("map").(*lua.LTable); ok {
			out := []any{}
			mt.ForEach(func(k, e lua.LValue) {
				out = append(out, m.fromLua(k, depth+1), m.fromLua(e, depth+1))
			})
			return out
		}
		if st, ok := v.RawGetString("set").(*lua.LTable); ok {
			out := []any{}
			st.ForEach(func(k, _ lua.LValue) { out = append(out, m.fromLua(k, depth+1)) })
			return out
		}
		out := []any{}
		for i := 1; ; i++ {
			e := v.RawGetInt(i)
			if e == lua.LNil {
				break
			}
			out = append(out, m.fromLua(e, depth+1))
		}
		return out
	default:
		return nil
	}
}

// toLua converts a command's reply for the script, as Redis does
// (redisProtocolToLuaType): nil becomes false, a status {ok=...}.
func (m *machine) toLua(r any) lua.LValue {
	switch r := r.(type) {
	case int64:
		return lua.LNumber(r)
	case string:
		return lua.LString(r)
	case statusReply:
		t := m.L.CreateTable(0, 1)
		t.RawSetString("ok", lua.LString(r))
		return t
	case errorReply:
		return errorTable(m.L, string(r))
	case []any:
		t := m.L.CreateTable(len(r), 0)
		for i, e := range r {
			t.RawSetInt(i+1, m.toLua(e))
		}
		return t
	default: // nullBulk, nullArray
		return lua.LFalse
	}
}

func errorTable(L *lua.LState, msg string) *lua.LTable {
	t := L.CreateTable(0, 1)
	t.RawSetString("err", lua.LString(msg))
	return t
}

// redisCommand is redis.call (raise) and redis.pcall.
func (m *machine) redisCommand(L *lua.LState, raise bool) int {
	n := L.GetTop()
	if n == 0 {
		return libError(L, "Please specify at least one argument for this redis lib call", raise)
	}
	argv := m.argv[:0]
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			argv = append(argv, string(v))
		case lua.LNumber:
			// Redis formats numbers with %.17g, not Lua's lossy %.14g.
			argv = append(argv, formatG(float64(v), 17))
		default:
			return libError(L, "Lua redis lib command arguments must be strings or integers", raise)
		}
	}
	L.SetTop(0)
	r := exec(m.db, &m.x, argv)
	if r == errUnknownCommand && !m.quiet {
		// Redis may well know it: say which, since the reply cannot.
		m.logger.Warn("script called a command the embedded engine does not implement", "command", argv[0])
	}
	clear(argv)
	m.argv = argv[:0]
	if e, ok := r.(errorReply); ok {
		t := errorTable(L, string(e))
		if raise {
			L.Error(t, 0)
		}
		L.Push(t)
		return 1
	}
	L.Push(m.toLua(r))
	return 1
}

// libError fails a redis.* function as Redis' luaPushError does: an error
// table, raised unless the caller is redis.pcall.
func libError(L *lua.LState, msg string, raise bool) int {
	t := errorTable(L, "ERR "+msg)
	if raise {
		L.Error(t, 0)
	}
	L.Push(t)
	return 1
}

func redisErrorReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		return libError(L, "wrong number or type of arguments", false)
	}
	L.Push(errorTable(L, errorCode(string(s))))
	return 1
}

// errorCode gives an error message a code as Redis' luaPushErrorBuff does:
// "-CODE msg" keeps its code, a message without one gets ERR.
func errorCode(s string) string {
	if !strings.HasPrefix(s, "-") {
		s = "-" + s
	}
	code, msg, found := strings.Cut(s[1:], " ")
	if !found {
		code, msg = "ERR", s[1:]
	}
	return code + " " + strings.Trim(msg, "\r\n")
}

func redisStatusReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		return libError(L, "wrong number or type of arguments", false)
	}
	t := L.CreateTable(0, 1)
	t.RawSetString("ok", s)
	L.Push(t)
	return 1
}

func redisSha1hex(L *lua.LState) int {
	if L.GetTop() != 1 {
		return libError(L, "wrong number of arguments", true)
	}
	var s string
	switch v := L.Get(1).(type) {
	case lua.LString:
		s = string(v)
	case lua.LNumber:
		s = formatG(float64(v), 14)
	}
	sum := sha1.Sum([]byte(s))
	L.Push(lua.LString(hex.EncodeToString(sum[:])))
	return 1
}

func (m *machine) redisLog(L *lua.LState) int {
	n := L.GetTop()
	if n < 2 {
		return libError(L, "redis.log() requires two arguments or more.", true)
	}
	lv, ok := L.Get(1).(lua.LNumber)
	if !ok {
		if s, isStr := L.Get(1).(lua.LString); isStr {
			f, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64)
			lv, ok = lua.LNumber(f), err == nil
		}
	}
	if !ok {
		return libError(L, "First argument must be a number (log level).", true)
	}
	level := int(lv)
	if level < 0 || level > 3 {
		return libError(L, "Invalid debug level.", true)
	}
	if m.quiet {
		return 0
	}
	var b strings.Builder
	for i := 2; i <= n; i++ {
		var s string
		switch v := L.Get(i).(type) {
		case lua.LString:
			s = string(v)
		case lua.LNumber:
			s = formatG(float64(v), 14)
		default:
			continue
		}
		if i != 2 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	slevel := [...]slog.Level{slog.LevelDebug, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn}[level]
	m.logger.Log(context.Background(), slevel, "script log", "text", b.String())
	return 0
}

func redisSetresp(L *lua.LState) int {
	if L.GetTop() != 1 {
		return libError(L, "redis.setresp() requires one argument.", true)
	}
	switch L.Get(1) {
	case lua.LNumber(2):
		return 0
	case lua.LNumber(3):
		return libError(L, "the embedded engine speaks RESP2 only", true)
	}
	return libError(L, "RESP version must be 2 or 3.", true)
}

func redisSetRepl(L *lua.LState) int {
	if L.GetTop() != 1 {
		return libError(L, "redis.set_repl() requires one argument.", true)
	}
	return 0 // effects replication has no replicas here
}

// luaError is Lua 5.1's error(), which (unlike gopher-lua's) also gives a
// number the position of the error.
func (m *machine) luaError(L *lua.LState) int {
	obj := L.Get(1)
	level := L.OptInt(2, 1)
	if n, ok := obj.(lua.LNumber); ok {
		obj = lua.LString(formatG(float64(n), 14))
	}
	L.Error(obj, level)
	return 0
}

// luaPcall is Redis' pcall: an error raised as a table {err=...}, as
// redis.call raises them, is caught as its message.
func (m *machine) luaPcall(L *lua.LState) int {
	n := m.pcall(L)
	if n == 2 && L.Get(-2) == lua.LFalse {
		if t, ok := L.Get(-1).(*lua.LTable); ok {
			switch e := t.RawGetString("err").(type) {
			case lua.LString, lua.LNumber:
				L.Replace(-1, e)
			}
		}
	}
	return n
}

// luaTonumber is Lua 5.1's tonumber: gopher-lua's refuses "1e3" and
// integers beyond 2^63.
func luaTonumber(L *lua.LState) int {
	base := L.OptInt(2, 10)
	v := L.CheckAny(1)
	if base == 10 {
		switch v := v.(type) {
		case lua.LNumber:
			L.Push(v)
			return 1
		case lua.LString:
			if f, ok := luaStr2d(string(v)); ok {
				L.Push(lua.LNumber(f))
				return 1
			}
		}
		L.Push(lua.LNil)
		return 1
	}
	if base < 2 || base > 36 {
		L.ArgError(2, "base out of range")
	}
	s := L.CheckString(1)
	n, end := strtoul(s, base)
	if end > 0 {
		for end < len(s) && isCSpace(s[end]) {
			end++
		}
		if end == len(s) {
			L.Push(lua.LNumber(float64(n)))
			return 1
		}
	}
	L.Push(lua.LNil)
	return 1
}

// luaGetmetatable is Lua 5.1's getmetatable, which honours __metatable
// (gopher-lua's does not), and hides the engine's own metatables.
func (m *machine) luaGetmetatable(L *lua.LState) int {
	mt := L.GetMetatable(L.CheckAny(1))
	if t, ok := mt.(*lua.LTable); ok {
		if p := t.RawGetString("__metatable"); p != lua.LNil {
			mt = p
			if p == m.hidden {
				mt = lua.LNil
			}
		}
	}
	L.Push(mt)
	return 1
}

// luaTostring is tostring with Lua 5.1's %.14g for numbers.
func (m *machine) luaTostring(L *lua.LState) int {
	v := L.CheckAny(1)
	if n, ok := v.(lua.LNumber); ok {
		L.Push(lua.LString(formatG(float64(n), 14)))
		return 1
	}
	L.Push(L.ToStringMeta(v))
	return 1
}

// Redis replaces math.random with its own lrand48, seeded with 0 before
// every script, so that scripts stay deterministic.

func (m *machine) seedRandom(seed int32) {
	m.rand = uint64(uint32(seed))<<16 | 0x330E
}

func (m *machine) lrand48() int32 {
	m.rand = (0x5DEECE66D*m.rand + 0xB) & (1<<48 - 1)
	return int32(m.rand >> 17)
}

func (m *machine) mathRandom(L *lua.LState) int {
	const lrand48Max = math.MaxInt32
	r := float64(m.lrand48()%lrand48Max) / lrand48Max
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := L.CheckInt(1)
		if u < 1 {
			L.ArgError(1, "interval is empty")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u)) + 1))
	case 2:
		l, u := L.CheckInt(1), L.CheckInt(2)
		if l > u {
			L.ArgError(2, "interval is empty")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u-l+1)) + float64(l)))
	default:
		L.RaiseError("wrong number of arguments")
	}
	return 1
}

func (m *machine) mathRandomseed(L *lua.LState) int {
	m.seedRandom(int32(L.CheckInt(1))) //nolint:gosec // C's (int) truncation, as Redis
	return 0
}
