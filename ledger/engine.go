package ledger

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
)

// Engine runs the ledger's Lua scripts atomically: one script at a time, as
// Redis does. Implementations: redisengine (Redis through go-redis) and
// embedded (the same scripts in process, with a journal on disk).
//
// Eval is safe for concurrent use. Its result follows Redis' conversion of
// Lua values: a Lua number becomes an int64 (truncated), a string a string,
// a table an []any (up to its first nil), true the int64 1, false and nil a
// nil result with a nil error, {ok=...} the status string and {err=...} an
// error (ErrScript). Key and argument values are strings.
type Engine interface {
	Eval(ctx context.Context, s *Script, keys []string, args ...string) (any, error)
	// Ping reports whether the engine answers.
	Ping(ctx context.Context) error
	// Close releases the engine; Eval after Close returns an error.
	Close() error
}

// ErrScript wraps an error raised by a script (redis.error_reply or a Lua
// runtime error).
var ErrScript = errors.New("script error")

// Script is one Lua script with its SHA-1, as EVALSHA needs it.
type Script struct {
	Name   string
	Source string
	SHA1   string
}

// NewScript returns the script with its hash computed.
func NewScript(name, source string) *Script {
	h := sha1.Sum([]byte(source))
	return &Script{Name: name, Source: source, SHA1: hex.EncodeToString(h[:])}
}
