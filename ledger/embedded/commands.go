package embedded

import (
	"math"
	"strconv"
	"strings"
)

// The values a command replies with, as RESP2 knows them: int64 (integer),
// string (bulk string), []any (array), and the types below.
type (
	// statusReply is a simple string such as OK.
	statusReply string
	// errorReply is an error as Redis sends it, without the leading '-':
	// "CODE message".
	errorReply string
	// nullBulk is the nil bulk string (GET of a missing key).
	nullBulk struct{}
	// nullArray is the nil array (XRANGE with COUNT 0).
	nullArray struct{}
)

// The errors Redis replies with, word for word.
const (
	errWrongType        errorReply = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errNotInteger       errorReply = "ERR value is not an integer or out of range"
	errSyntax           errorReply = "ERR syntax error"
	errOverflow         errorReply = "ERR increment or decrement would overflow"
	errHashNotInteger   errorReply = "ERR hash value is not an integer"
	errScriptArity      errorReply = "ERR Wrong number of args calling Redis command from script"
	errUnknownCommand   errorReply = "ERR Unknown Redis command called from script"
	errInvalidStreamID  errorReply = "ERR Invalid stream ID specified as stream command argument"
	errXaddZeroID       errorReply = "ERR The ID specified in XADD must be greater than 0-0"
	errXaddNotGreater   errorReply = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
	errXaddTooLarge     errorReply = "ERR Elements are too large to be stored"
	errStreamExhausted  errorReply = "ERR The stream has exhausted the last possible ID, unable to add more items"
	errInvalidStartID   errorReply = "ERR invalid start ID for the interval"
	errInvalidEndID     errorReply = "ERR invalid end ID for the interval"
	errSetUnsupported   errorReply = "ERR the embedded engine does not support SET with EX, PX, EXAT or PXAT (keys never expire)"
	errXaddUnsupported  errorReply = "ERR the embedded engine does not support XADD with MAXLEN, MINID or LIMIT"
	errNotEnoughForHSET errorReply = "ERR wrong number of arguments for 'hset' command"
	errNotEnoughForXADD errorReply = "ERR wrong number of arguments for 'xadd' command"
)

// command is one Redis command: its arity as in Redis' command table
// (negative: at least that many arguments, the name included) and its
// implementation, which gets the arguments with argv[0] the command name.
type command struct {
	arity int
	run   func(db *keyspace, x *execContext, argv []string) any
}

// execContext is what a command may need beyond the data: the server clock,
// read at most once per script so that every XADD '*' of a script sees the
// same time, as the journal records it.
type execContext struct {
	now func() uint64 // milliseconds since the epoch
}

// commands is the command table, by lower-case name. It is never written
// after initialisation.
var commands = map[string]command{
	"get":       {2, cmdGet},
	"set":       {-3, cmdSet},
	"del":       {-2, cmdDel},
	"exists":    {-2, cmdExists},
	"incr":      {2, cmdIncr},
	"incrby":    {3, cmdIncrBy},
	"hget":      {3, cmdHget},
	"hset":      {-4, cmdHset},
	"hsetnx":    {4, cmdHsetnx},
	"hmget":     {-3, cmdHmget},
	"hincrby":   {4, cmdHincrBy},
	"hgetall":   {2, cmdHgetall},
	"hdel":      {-3, cmdHdel},
	"hlen":      {2, cmdHlen},
	"hexists":   {3, cmdHexists},
	"sadd":      {-3, cmdSadd},
	"srem":      {-3, cmdSrem},
	"sismember": {3, cmdSismember},
	"smembers":  {2, cmdSmembers},
	"scard":     {2, cmdScard},
	"xadd":      {-5, cmdXadd},
	"xrange":    {-4, cmdXrange},
	"xrevrange": {-4, cmdXrevrange},
	"xlen":      {2, cmdXlen},
}

// lookupCommand finds the command named name, in any case.
func lookupCommand(name string) (command, bool) {
	c, ok := commands[name]
	if !ok {
		c, ok = commands[strings.ToLower(name)]
	}
	return c, ok
}

// exec runs one command as a script's redis.call does, arity check
// included, and returns its reply.
func exec(db *keyspace, x *execContext, argv []string) any {
	cmd, ok := lookupCommand(argv[0])
	if !ok {
		return errUnknownCommand
	}
	if (cmd.arity > 0 && cmd.arity != len(argv)) || len(argv) < -cmd.arity {
		return errScriptArity
	}
	return cmd.run(db, x, argv)
}

func boolReply(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Strings.

func cmdGet(db *keyspace, _ *execContext, argv []string) any {
	switch v := db.keys[argv[1]].(type) {
	case nil:
		return nullBulk{}
	case string:
		return v
	default:
		return errWrongType
	}
}

func cmdSet(db *keyspace, _ *execContext, argv []string) any {
	const (
		nx = 1 << iota
		xx
		get
	)
	flags := 0
	for _, opt := range argv[3:] {
		switch {
		case strings.EqualFold(opt, "nx") && flags&xx == 0:
			flags |= nx
		case strings.EqualFold(opt, "xx") && flags&nx == 0:
			flags |= xx
		case strings.EqualFold(opt, "get"):
			flags |= get
		case strings.EqualFold(opt, "keepttl"):
			// Keys never expire here: keeping a TTL is keeping nothing.
		case strings.EqualFold(opt, "ex"), strings.EqualFold(opt, "px"),
			strings.EqualFold(opt, "exat"), strings.EqualFold(opt, "pxat"):
			return errSetUnsupported
		default:
			return errSyntax
		}
	}
	key := argv[1]
	old, found := db.keys[key]
	var reply any = statusReply("OK")
	if flags&get != 0 {
		switch v := old.(type) {
		case nil:
			reply = nullBulk{}
		case string:
			reply = v
		default:
			return errWrongType
		}
	}
	if (flags&nx != 0 && found) || (flags&xx != 0 && !found) {
		if flags&get != 0 {
			return reply
		}
		return nullBulk{}
	}
	db.keys[key] = argv[2]
	db.dirty++
	return reply
}

func cmdDel(db *keyspace, _ *execContext, argv []string) any {
	var n int64
	for _, k := range argv[1:] {
		if _, ok := db.keys[k]; ok {
			delete(db.keys, k)
			db.dirty++
			n++
		}
	}
	return n
}

func cmdExists(db *keyspace, _ *execContext, argv []string) any {
	var n int64
	for _, k := range argv[1:] {
		if _, ok := db.keys[k]; ok {
			n++
		}
	}
	return n
}

func cmdIncr(db *keyspace, _ *execContext, argv []string) any {
	return incrBy(db, argv[1], 1)
}

func cmdIncrBy(db *keyspace, _ *execContext, argv []string) any {
	incr, ok := string2ll(argv[2])
	if !ok {
		return errNotInteger
	}
	return incrBy(db, argv[1], incr)
}

func incrBy(db *keyspace, key string, incr int64) any {
	var value int64
	switch v := db.keys[key].(type) {
	case nil:
	case string:
		var ok bool
		if value, ok = string2ll(v); !ok {
			return errNotInteger
		}
	default:
		return errWrongType
	}
	if overflows(value, incr) {
		return errOverflow
	}
	value += incr
	db.keys[key] = strconv.FormatInt(value, 10)
	db.dirty++
	return value
}

// overflows reports whether value+incr leaves the int64 range.
func overflows(value, incr int64) bool {
	return (incr < 0 && value < 0 && incr < math.MinInt64-value) ||
		(incr > 0 && value > 0 && incr > math.MaxInt64-value)
}

// Hashes.

// hashFor returns the hash at key, nil if there is none, or errWrongType.
func hashFor(db *keyspace, key string) (*hash, any) {
	switch v := db.keys[key].(type) {
	case nil:
		return nil, nil
	case *hash:
		return v, nil
	default:
		return nil, errWrongType
	}
}

// hashForWrite returns the hash at key, created when missing.
func hashForWrite(db *keyspace, key string) (*hash, any) {
	h, errReply := hashFor(db, key)
	if errReply != nil {
		return nil, errReply
	}
	if h == nil {
		h = newHash()
		db.keys[key] = h
	}
	return h, nil
}

func cmdHget(db *keyspace, _ *execContext, argv []string) any {
	h, errReply := hashFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if h != nil {
		if v, ok := h.get(argv[2]); ok {
			return v
		}
	}
	return nullBulk{}
}

func cmdHset(db *keyspace, _ *execContext, argv []string) any {
	if len(argv)%2 == 1 {
		return errNotEnoughForHSET
	}
	h, errReply := hashForWrite(db, argv[1])
	if errReply != nil {
		return errReply
	}
	var created int64
	for i := 2; i < len(argv); i += 2 {
		if h.set(argv[i], argv[i+1]) {
			created++
		}
	}
	db.dirty++
	return created
}

func cmdHsetnx(db *keyspace, _ *execContext, argv []string) any {
	h, errReply := hashForWrite(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if _, ok := h.get(argv[2]); ok {
		return int64(0)
	}
	h.set(argv[2], argv[3])
	db.dirty++
	return int64(1)
}

func cmdHmget(db *keyspace, _ *execContext, argv []string) any {
	h, errReply := hashFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	out := make([]any, 0, len(argv)-2)
	for _, f := range argv[2:] {
		if h != nil {
			if v, ok := h.get(f); ok {
				out = append(out, v)
				continue
			}
		}
		out = append(out, nullBulk{})
	}
	return out
}

func cmdHincrBy(db *keyspace, _ *execContext, argv []string) any {
	incr, ok := string2ll(argv[3])
	if !ok {
		return errNotInteger
	}
	h, errReply := hashForWrite(db, argv[1])
	if errReply != nil {
		return errReply
	}
	var value int64
	if v, ok := h.get(argv[2]); ok {
		if value, ok = string2ll(v); !ok {
			return errHashNotInteger
		}
	}
	if overflows(value, incr) {
		return errOverflow
	}
	value += incr
	h.set(argv[2], strconv.FormatInt(value, 10))
	db.dirty++
	return value
}

func cmdHgetall(db *keyspace, _ *execContext, argv []string) any {
	h, errReply := hashFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if h == nil {
		return []any{}
	}
	out := make([]any, 0, 2*h.len())
	h.each(func(f, v string) { out = append(out, f, v) })
	return out
}

func cmdHdel(db *keyspace, _ *execContext, argv []string) any {
	h, errReply := hashFor(db, argv[1])
	if errReply != nil || h == nil {
		if errReply != nil {
			return errReply
		}
		return int64(0)
	}
	var n int64
	for _, f := range argv[2:] {
		if h.del(f) {
			n++
		}
	}
	if n > 0 {
		db.dirty++
		if h.len() == 0 {
			delete(db.keys, argv[1])
		}
	}
	return n
}

func cmdHlen(db *keyspace, _ *execContext, argv []string) any {
	h, errReply := hashFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if h == nil {
		return int64(0)
	}
	return int64(h.len())
}

func cmdHexists(db *keyspace, _ *execContext, argv []string) any {
	h, errReply := hashFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if h == nil {
		return int64(0)
	}
	_, ok := h.get(argv[2])
	return boolReply(ok)
}

// Sets.

// setFor returns the set at key, nil if there is none, or errWrongType.
func setFor(db *keyspace, key string) (set, any) {
	switch v := db.keys[key].(type) {
	case nil:
		return nil, nil
	case set:
		return v, nil
	default:
		return nil, errWrongType
	}
}

func cmdSadd(db *keyspace, _ *execContext, argv []string) any {
	s, errReply := setFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if s == nil {
		s = make(set)
		db.keys[argv[1]] = s
	}
	var n int64
	for _, m := range argv[2:] {
		if _, ok := s[m]; !ok {
			s[m] = struct{}{}
			n++
		}
	}
	if n > 0 {
		db.dirty++
	}
	return n
}

func cmdSrem(db *keyspace, _ *execContext, argv []string) any {
	s, errReply := setFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	var n int64
	for _, m := range argv[2:] {
		if _, ok := s[m]; ok {
			delete(s, m)
			n++
		}
	}
	if n > 0 {
		db.dirty++
		if len(s) == 0 {
			delete(db.keys, argv[1])
		}
	}
	return n
}

func cmdSismember(db *keyspace, _ *execContext, argv []string) any {
	s, errReply := setFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	_, ok := s[argv[2]]
	return boolReply(ok)
}

func cmdSmembers(db *keyspace, _ *execContext, argv []string) any {
	s, errReply := setFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	ms := s.members()
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func cmdScard(db *keyspace, _ *execContext, argv []string) any {
	s, errReply := setFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	return int64(len(s))
}
