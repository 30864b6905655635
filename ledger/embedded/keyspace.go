package embedded

import (
	"slices"
	"strings"
)

// keyspace is the data of an engine: every key with its value, which is a
// string, a *hash, a set or a *stream. It is not safe for concurrent use;
// only the holder of Engine.mu touches it.
type keyspace struct {
	keys map[string]any
	// dirty counts the changes made to keys; Engine journals an Eval when
	// it moved, as Redis propagates a script only when it changed data.
	dirty uint64
}

func newKeyspace() *keyspace {
	return &keyspace{keys: make(map[string]any)}
}

// hash is a Redis hash that remembers the order in which fields were first
// set, as a small Redis hash (a listpack) does. The order makes HGETALL, and
// so the scripts that read it, deterministic, which the journal's replay
// needs.
type hash struct {
	index   map[string]int // field → position in entries
	entries []hashEntry    // in insertion order; deleted ones are tombstones
	dead    int            // number of tombstones in entries
}

type hashEntry struct {
	field, value string
	live         bool
}

func newHash() *hash {
	return &hash{index: make(map[string]int)}
}

func (h *hash) len() int { return len(h.index) }

func (h *hash) get(field string) (string, bool) {
	i, ok := h.index[field]
	if !ok {
		return "", false
	}
	return h.entries[i].value, true
}

// set sets field to value and reports whether the field is new.
func (h *hash) set(field, value string) bool {
	if i, ok := h.index[field]; ok {
		h.entries[i].value = value
		return false
	}
	h.index[field] = len(h.entries)
	h.entries = append(h.entries, hashEntry{field: field, value: value, live: true})
	return true
}

// del removes field and reports whether it was there.
func (h *hash) del(field string) bool {
	i, ok := h.index[field]
	if !ok {
		return false
	}
	delete(h.index, field)
	h.entries[i] = hashEntry{}
	h.dead++
	if h.dead > 16 && h.dead > len(h.entries)/2 {
		h.compact()
	}
	return true
}

// compact drops the tombstones, keeping the order of the live fields.
func (h *hash) compact() {
	live := h.entries[:0]
	for _, e := range h.entries {
		if e.live {
			h.index[e.field] = len(live)
			live = append(live, e)
		}
	}
	clear(h.entries[len(live):])
	h.entries = live
	h.dead = 0
}

// each calls fn for every field in insertion order.
func (h *hash) each(fn func(field, value string)) {
	for _, e := range h.entries {
		if e.live {
			fn(e.field, e.value)
		}
	}
}

// set is a Redis set.
type set map[string]struct{}

// members returns the members in a deterministic order (the journal's
// replay needs scripts that read a set to see the same order every time):
// numeric order when every member is an integer, as a Redis intset gives,
// byte order otherwise.
func (s set) members() []string {
	out := make([]string, 0, len(s))
	allInts := true
	for m := range s {
		out = append(out, m)
		if allInts {
			_, allInts = string2ll(m)
		}
	}
	if allInts {
		slices.SortFunc(out, func(a, b string) int {
			x, _ := string2ll(a)
			y, _ := string2ll(b)
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
	} else {
		slices.SortFunc(out, strings.Compare)
	}
	return out
}
