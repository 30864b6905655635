// Package embedded runs the ledger's Lua scripts in process: a tiny
// Redis-compatible script engine for `make run` and for small venues that run
// the whole system on one laptop.
//
// It is gopher-lua (Lua 5.1, as Redis) plus an in-memory implementation of
// exactly the Redis commands the scripts use (GET SET DEL EXISTS INCR INCRBY,
// HGET HSET HSETNX HMGET HINCRBY HGETALL HDEL HLEN HEXISTS, SADD SREM
// SISMEMBER SMEMBERS SCARD, XADD XRANGE XREVRANGE XLEN), with the replies,
// errors and edge cases of Redis 7. The same scripts give the same replies
// here and on Redis; a differential test against a real redis-server keeps it
// so.
//
// # Durability
//
// With Options.Dir set, every Eval that changed data is appended to a
// journal in Dir and fsynced before Eval returns, so an acknowledged write is
// never lost. A journal record holds what is needed to run the script again:
// its SHA-1 (and its source, the first time the SHA appears in a journal
// file, so a later binary with changed scripts replays history with the
// original code), the keys, the arguments and the server time the script
// used. Open replays the journal: the scripts are deterministic given their
// arguments and that time. Records are grouped in frames, one frame per
// fsync, each length-prefixed and checksummed with CRC32C. A torn or corrupt
// last frame (a crash in the middle of a write, which was never
// acknowledged) is cut off with a warning; a corrupt frame followed by valid
// ones is an error that needs a human. Compact writes a snapshot of the data
// and starts a new journal, so start-up does not replay a whole fair.
//
// # Where it differs from Redis
//
// Commands other than those above fail as an unknown command does in Redis
// ("ERR Unknown Redis command called from script"), with a warning in the
// log that names the command. Keys never expire: SET with EX, PX, EXAT or
// PXAT, and XADD with MAXLEN, MINID or LIMIT, are errors. Scripts speak
// RESP2 (redis.setresp(3) is an error).
//
// SMEMBERS lists members in numeric order when all are integers, in byte
// order otherwise (Redis: numeric, or hash order); HGETALL lists fields in
// insertion order, as Redis does for small hashes. Ordering is
// deterministic on purpose: the journal's replay needs it.
//
// math.random starts from the same seed in every script, so that replay
// sees the same numbers; Redis 7 carries one sequence across scripts.
//
// The Lua is gopher-lua. Number-to-string conversion by tostring and in
// redis.call arguments is Redis' (%.14g, %.17g), but the .. operator and
// string.format use Go's: they turn 1e15 into "1000000000000000", not
// "1e+15", and show fractions with up to 17 digits. Lua's own runtime
// errors are worded differently ("cannot perform add operation between
// number and nil"), as are syntax errors; their position and the " script:
// <sha>, on @user_script:<line>." suffix are Redis'. The globals are Redis' minus
// coroutine, bit, cjson, cmsgpack and struct. Libraries are read-only as in
// Redis, but pairs over _G or a library lists only what the script itself
// set, and getmetatable("") is nil.
//
// # Concurrency
//
// Scripts run one at a time, as in Redis: Engine.Eval is safe for concurrent
// use and serialises the scripts on one mutex. Concurrent writers share
// fsyncs (group commit). Only one process may open a data directory at a
// time; Open takes an exclusive lock on it.
package embedded
