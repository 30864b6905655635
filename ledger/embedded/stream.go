package embedded

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// streamID is a stream entry ID: milliseconds and a sequence number.
type streamID struct{ ms, seq uint64 }

var maxStreamID = streamID{math.MaxUint64, math.MaxUint64}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || (id.ms == o.ms && id.seq < o.seq)
}

// incr returns the next ID; ok is false past the last possible one.
func (id streamID) incr() (streamID, bool) {
	switch {
	case id.seq < math.MaxUint64:
		return streamID{id.ms, id.seq + 1}, true
	case id.ms < math.MaxUint64:
		return streamID{id.ms + 1, 0}, true
	}
	return id, false
}

// decr returns the previous ID; ok is false before 0-0.
func (id streamID) decr() (streamID, bool) {
	switch {
	case id.seq > 0:
		return streamID{id.ms, id.seq - 1}, true
	case id.ms > 0:
		return streamID{id.ms - 1, math.MaxUint64}, true
	}
	return id, false
}

// stream is a Redis stream: entries in ID order, and the last ID ever
// given, which new IDs must exceed.
type stream struct {
	entries []streamEntry
	last    streamID
}

type streamEntry struct {
	id     streamID
	fields []string // field, value, field, value...
}

// parseStreamID parses an ID as Redis' streamGenericParseIDOrReply does,
// quirks included (the lenient strtoull, a 127-byte limit, a string cut at
// its first NUL as C sees it). missingSeq is the sequence of a bare "ms";
// strict refuses "-" and "+"; seqStar accepts "ms-*" (XADD), reported by
// seqGiven false.
func parseStreamID(s string, missingSeq uint64, strict, seqStar bool) (id streamID, seqGiven, ok bool) {
	if len(s) > 127 {
		return id, false, false
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if strict && (s == "-" || s == "+") {
		return id, false, false
	}
	switch s {
	case "-":
		return streamID{}, true, true
	case "+":
		return maxStreamID, true, true
	}
	msPart, seqPart, hasSeq := strings.Cut(s, "-")
	ms, ok := string2ull(msPart)
	if !ok {
		return id, false, false
	}
	seq, seqGiven := missingSeq, true
	if hasSeq {
		if seqStar && seqPart == "*" {
			seq, seqGiven = 0, false
		} else if seq, ok = string2ull(seqPart); !ok {
			return id, false, false
		}
	}
	return streamID{ms, seq}, seqGiven, true
}

// streamFor returns the stream at key, nil if there is none, or errWrongType.
func streamFor(db *keyspace, key string) (*stream, any) {
	switch v := db.keys[key].(type) {
	case nil:
		return nil, nil
	case *stream:
		return v, nil
	default:
		return nil, errWrongType
	}
}

func cmdXadd(db *keyspace, x *execContext, argv []string) any {
	var (
		id                        streamID
		idGiven, seqGiven, noMake bool
		i                         = 2
	)
	for ; i < len(argv); i++ {
		opt := argv[i]
		moreArgs := len(argv) - 1 - i
		if opt == "*" {
			break
		}
		if moreArgs > 0 && (strings.EqualFold(opt, "maxlen") || strings.EqualFold(opt, "minid") ||
			strings.EqualFold(opt, "limit")) {
			return errXaddUnsupported
		}
		if strings.EqualFold(opt, "nomkstream") {
			noMake = true
			continue
		}
		var ok bool
		if id, seqGiven, ok = parseStreamID(opt, 0, true, true); !ok {
			return errInvalidStreamID
		}
		idGiven = true
		break
	}
	fieldPos := i + 1
	if n := len(argv) - fieldPos; n < 2 || n%2 == 1 {
		return errNotEnoughForXADD
	}
	if idGiven && seqGiven && id == (streamID{}) {
		return errXaddZeroID
	}
	s, errReply := streamFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if s == nil {
		if noMake {
			return nullBulk{}
		}
		s = &stream{}
	}
	if s.last == maxStreamID {
		return errStreamExhausted
	}
	var newID streamID
	switch {
	case idGiven && seqGiven:
		newID = id
	case idGiven:
		// "ms-*": the next sequence within ms, or 0 for a new ms.
		newID = id
		if s.last.ms == id.ms {
			if s.last.seq == math.MaxUint64 {
				// Redis 7.0 fails here without setting errno, so XADD
				// words it as this, not as errXaddNotGreater.
				return errXaddTooLarge
			}
			newID = streamID{id.ms, s.last.seq + 1}
		}
	default:
		// "*": the server time, or just after the last ID when the clock
		// is behind it.
		if ms := x.now(); ms > s.last.ms {
			newID = streamID{ms, 0}
		} else {
			newID, _ = s.last.incr()
		}
	}
	if !s.last.less(newID) {
		return errXaddNotGreater
	}
	fields := make([]string, len(argv)-fieldPos)
	copy(fields, argv[fieldPos:])
	s.entries = append(s.entries, streamEntry{id: newID, fields: fields})
	s.last = newID
	db.keys[argv[1]] = s
	db.dirty++
	return newID.String()
}

func cmdXrange(db *keyspace, _ *execContext, argv []string) any {
	return xrange(db, argv, argv[2], argv[3], false)
}

func cmdXrevrange(db *keyspace, _ *execContext, argv []string) any {
	return xrange(db, argv, argv[3], argv[2], true)
}

// parseRangeID parses an XRANGE bound: an ID, "-", "+", or "(ID" for an
// exclusive bound.
func parseRangeID(s string, missingSeq uint64) (id streamID, exclusive, ok bool) {
	if len(s) > 1 && s[0] == '(' {
		id, _, ok = parseStreamID(s[1:], missingSeq, true, false)
		return id, true, ok
	}
	id, _, ok = parseStreamID(s, missingSeq, false, false)
	return id, false, ok
}

func xrange(db *keyspace, argv []string, startArg, endArg string, rev bool) any {
	start, exclusive, ok := parseRangeID(startArg, 0)
	if !ok {
		return errInvalidStreamID
	}
	if exclusive {
		if start, ok = start.incr(); !ok {
			return errInvalidStartID
		}
	}
	end, exclusive, ok := parseRangeID(endArg, math.MaxUint64)
	if !ok {
		return errInvalidStreamID
	}
	if exclusive {
		if end, ok = end.decr(); !ok {
			return errInvalidEndID
		}
	}
	count := int64(-1)
	for j := 4; j < len(argv); j++ {
		if !strings.EqualFold(argv[j], "count") || j+1 >= len(argv) {
			return errSyntax
		}
		n, ok := string2ll(argv[j+1])
		if !ok {
			return errNotInteger
		}
		count = max(n, 0)
		j++
	}
	s, errReply := streamFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if s == nil {
		return []any{}
	}
	if count == 0 {
		return nullArray{}
	}
	if end.less(start) {
		return []any{}
	}
	lo := sort.Search(len(s.entries), func(i int) bool { return !s.entries[i].id.less(start) })
	hi := sort.Search(len(s.entries), func(i int) bool { return end.less(s.entries[i].id) })
	n := int64(hi - lo)
	if n < 0 {
		n = 0
	}
	if count > 0 && count < n {
		n = count
	}
	out := make([]any, 0, n)
	for k := int64(0); k < n; k++ {
		i := lo + int(k)
		if rev {
			i = hi - 1 - int(k)
		}
		out = append(out, entryReply(s.entries[i]))
	}
	return out
}

func entryReply(e streamEntry) []any {
	fields := make([]any, len(e.fields))
	for i, f := range e.fields {
		fields[i] = f
	}
	return []any{e.id.String(), fields}
}

func cmdXlen(db *keyspace, _ *execContext, argv []string) any {
	s, errReply := streamFor(db, argv[1])
	if errReply != nil {
		return errReply
	}
	if s == nil {
		return int64(0)
	}
	return int64(len(s.entries))
}
