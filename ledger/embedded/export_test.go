package embedded

import "slices"

// Stream is the dump of a stream: its last ID and its entries, each the ID
// then the fields and values.
type Stream struct {
	Last    string
	Entries [][]string
}

// Dump returns the data of e for tests to compare: key → string,
// map[string]string (hash), sorted []string (set) or Stream.
func Dump(e *Engine) map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]any, len(e.m.db.keys))
	for k, v := range e.m.db.keys {
		switch v := v.(type) {
		case string:
			out[k] = v
		case *hash:
			h := map[string]string{}
			v.each(func(f, val string) { h[f] = val })
			out[k] = h
		case set:
			ms := v.members()
			slices.Sort(ms)
			out[k] = ms
		case *stream:
			s := Stream{Last: v.last.String()}
			for _, en := range v.entries {
				s.Entries = append(s.Entries, append([]string{en.id.String()}, en.fields...))
			}
			out[k] = s
		}
	}
	return out
}
