package event

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxProblems bounds the problems Parse lists: past a hundred, the file is
// not an event file, and a longer list helps nobody (and an alias-laden file
// could make millions).
const maxProblems = 100

// MaxFileSize bounds an event file. A real one is a few kilobytes; the bound
// keeps a wrong path (a log, a binary) from being read whole.
const MaxFileSize = 1 << 20

// FieldError is one problem in an event file, at a field path such as
// "zones[2].parent" (indexes count from 0, in file order).
type FieldError struct {
	File  string // the file as named to Load or Parse
	Field string // the path of the field; "" for the file as a whole
	Msg   string // what is wrong, for a human
}

// Error reads "FILE: FIELD: MSG", leaving out what is empty.
func (e *FieldError) Error() string {
	var b strings.Builder
	for _, s := range []string{e.File, e.Field} {
		if s != "" {
			b.WriteString(s)
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Msg)
	return b.String()
}

// FieldErrors returns every *FieldError in err, which Parse builds with
// errors.Join, in the order of the file.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// Load reads and parses the event file at path (see Parse).
func Load(path string) (*Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load event: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load event %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse decodes an event file, computes the zones' capacities and checks
// everything. file names the data in error messages. On any problem it
// returns no event and an error that lists every problem found, each a
// *FieldError (see FieldErrors): unknown and mistyped fields, bad ids,
// dates and hours, a zone tree that is not a tree, dangling references,
// missing translations, impossible capacities, and ids whose ticket hashes
// collide.
func Parse(data []byte, file string) (*Event, error) {
	p := &problems{file: file}
	if len(data) > MaxFileSize {
		p.fail("", "file is over %d bytes; an event file is a few kilobytes", MaxFileSize)
		return nil, p.err()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.fail("", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, p.err()
	}
	if doc.Kind == 0 {
		p.fail("", "empty file")
		return nil, p.err()
	}
	var raw rawEvent
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&raw)
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		// The decoder went on past each of these, so raw holds everything
		// else and the checks below still report every other problem.
		idx := indexNodes(&doc)
		for i, msg := range te.Errors {
			if i == maxProblems {
				p.hidden = len(te.Errors) - i
				break
			}
			field, text := idx.locate(msg)
			p.decodeFailed(field, text)
		}
	case err != nil:
		p.fail("", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, p.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		p.fail("", "more than one YAML document; an event file holds one event")
	}
	e := build(&raw, p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return e, nil
}

// The file's shape. Optional numbers are pointers so that "not given" (take
// the kind's default) differs from an explicit 0.
type (
	rawEvent struct {
		ID          string          `yaml:"id"`
		Name        Text            `yaml:"name"`
		Venue       string          `yaml:"venue"`
		TimeZone    string          `yaml:"time_zone"`
		CloseGrace  string          `yaml:"close_grace"`
		Days        []rawDay        `yaml:"days"`
		Zones       []rawZone       `yaml:"zones"`
		Gates       []rawGate       `yaml:"gates"`
		TicketTypes []rawTicketType `yaml:"ticket_types"`
	}
	rawDay struct {
		Date  string `yaml:"date"`
		Open  string `yaml:"open"`
		Close string `yaml:"close"`
	}
	rawZone struct {
		ID            string   `yaml:"id"`
		Parent        string   `yaml:"parent"`
		Name          Text     `yaml:"name"`
		Kind          string   `yaml:"kind"`
		NetArea       float64  `yaml:"net_area"`
		AreaPerPerson *float64 `yaml:"area_per_person"`
		DesignDensity *float64 `yaml:"design_density"`
		ExitWidth     float64  `yaml:"exit_width"`
		Authority     int      `yaml:"authority"`
	}
	rawGate struct {
		ID    string `yaml:"id"`
		Name  Text   `yaml:"name"`
		Zone  string `yaml:"zone"`
		Lanes *int   `yaml:"lanes"`
	}
	rawTicketType struct {
		ID      string   `yaml:"id"`
		Name    Text     `yaml:"name"`
		Zones   []string `yaml:"zones"`
		Days    []string `yaml:"days"`
		Reentry bool     `yaml:"reentry"`
	}
)

// problems collects what is wrong with a file.
type problems struct {
	file string
	// undecoded are the paths the decoder could not fill: the checks below
	// would only repeat the problem there ("net area required" after
	// "net_area: want a number"), so they stay quiet about them.
	undecoded []string
	errs      []error
	hidden    int // problems counted but not kept (see maxProblems)
}

func (p *problems) fail(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) decodeFailed(field, msg string) {
	p.fail(field, "%s", msg)
	p.undecoded = append(p.undecoded, field)
}

// add reports a problem found by a check, unless the decoder already
// reported the field or a field that holds it.
func (p *problems) add(field, format string, args ...any) {
	for _, u := range p.undecoded {
		if u == "" || field == u || strings.HasPrefix(field, u+".") || strings.HasPrefix(field, u+"[") {
			return
		}
	}
	p.fail(field, format, args...)
}

// undecodedUnder reports whether the decoder failed on a field inside path.
func (p *problems) undecodedUnder(path string) bool {
	for _, u := range p.undecoded {
		if strings.HasPrefix(u, path+".") || strings.HasPrefix(u, path+"[") {
			return true
		}
	}
	return false
}

// err joins the problems in the order of the file's sections, then of the
// items in each list, so a reader can fix them top to bottom.
func (p *problems) err() error {
	// An alias repeats its anchor's problems, at the anchor's place: say
	// each once.
	seen := map[FieldError]bool{}
	p.errs = slices.DeleteFunc(p.errs, func(err error) bool {
		fe := *err.(*FieldError)
		dup := seen[fe]
		seen[fe] = true
		return dup
	})
	slices.SortStableFunc(p.errs, func(a, b error) int {
		ka, kb := sortKey(a.(*FieldError).Field), sortKey(b.(*FieldError).Field)
		return cmp.Or(cmp.Compare(ka.section, kb.section), cmp.Compare(ka.item, kb.item))
	})
	if n := len(p.errs) + p.hidden; n > maxProblems {
		p.errs = append(p.errs[:min(len(p.errs), maxProblems)],
			&FieldError{File: p.file, Msg: fmt.Sprintf("%d more problems not shown", n-maxProblems)})
	}
	return errors.Join(p.errs...)
}

// sections are the file's top-level fields in the order they are written.
var sections = []string{"id", "name", "venue", "time_zone", "close_grace", "days", "zones", "gates", "ticket_types"}

func sortKey(field string) (k struct{ section, item int }) {
	head, _, _ := strings.Cut(field, ".")
	name, idx, _ := strings.Cut(head, "[")
	k.section = slices.Index(sections, name) // -1 for the file as a whole
	k.item = -1
	if n, err := strconv.Atoi(strings.TrimSuffix(idx, "]")); err == nil {
		k.item = n
	}
	return k
}

// nodeIndex finds the field path of a decoder message, which gives only a
// line number, the offending text and the Go type it was decoded into.
type nodeIndex struct {
	nodes  []indexed
	byLine map[int][]int // line → indexes into nodes
	// types maps a path with its list indexes blanked ("zones[].net_area")
	// to the Go type the file's shape decodes it into.
	types map[string]string
	// used are the nodes already blamed, so that two alike problems on one
	// line (a flow list) go to two nodes.
	used map[int]bool
}

type indexed struct {
	line  int
	key   bool   // a mapping key rather than a value
	value string // the scalar text, or the key's name
	kind  yaml.Kind
	path  string
}

func indexNodes(doc *yaml.Node) *nodeIndex {
	idx := &nodeIndex{byLine: map[int][]int{}, types: map[string]string{}, used: map[int]bool{}}
	add := func(x indexed) {
		idx.byLine[x.line] = append(idx.byLine[x.line], len(idx.nodes))
		idx.nodes = append(idx.nodes, x)
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		add(indexed{line: n.Line, value: n.Value, kind: n.Kind, path: path})
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				kp := k.Value
				if path != "" {
					kp = path + "." + k.Value
				}
				add(indexed{line: k.Line, key: true, value: k.Value, path: kp})
				walk(n.Content[i+1], kp)
			}
		}
	}
	walk(doc, "")
	var shape func(t reflect.Type, path string)
	shape = func(t reflect.Type, path string) {
		idx.types[path] = t.String()
		switch t.Kind() {
		case reflect.Pointer:
			shape(t.Elem(), path)
		case reflect.Slice:
			shape(t.Elem(), path+"[]")
		case reflect.Struct:
			for i := range t.NumField() {
				name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
				if name == "" {
					continue
				}
				if path != "" {
					name = path + "." + name
				}
				shape(t.Field(i).Type, name)
			}
		}
	}
	shape(reflect.TypeFor[rawEvent](), "")
	return idx
}

var (
	reUnknownField = regexp.MustCompile("^line ([0-9]+): field (.*) not found in type ")
	reFieldTwice   = regexp.MustCompile("^line ([0-9]+): field (.*) already set in type ")
	reCannot       = regexp.MustCompile("^line ([0-9]+): cannot unmarshal !!([a-z]+)(?: `(.*)`)? into (.*)$")
	reListIndex    = regexp.MustCompile(`\[[0-9]+\]`)
)

// locate turns a decoder message into a field path and a plain message.
func (idx *nodeIndex) locate(msg string) (field, text string) {
	if m := reUnknownField.FindStringSubmatch(msg); m != nil {
		return idx.key(m[1], m[2]), "unknown field"
	}
	if m := reFieldTwice.FindStringSubmatch(msg); m != nil {
		return idx.key(m[1], m[2]), "given twice"
	}
	if m := reCannot.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		got := map[string]string{"str": "text", "int": "a whole number", "float": "a number",
			"bool": "true or false", "seq": "a list", "map": "a mapping", "null": "nothing",
			"timestamp": "a date"}[m[2]]
		if got == "" {
			got = "!!" + m[2]
		}
		if m[3] != "" {
			got += fmt.Sprintf(" %q", m[3])
		}
		return idx.value(line, m[2], m[3], m[4]), fmt.Sprintf("want %s, got %s", want(m[4]), got)
	}
	return "", msg
}

func (idx *nodeIndex) key(line, name string) string {
	n, _ := strconv.Atoi(line)
	for _, i := range idx.byLine[n] {
		if x := idx.nodes[i]; x.key && x.value == name && !idx.used[i] {
			idx.used[i] = true
			return x.path
		}
	}
	return "line " + line
}

// value finds the value node the decoder complained about: on the line, of
// the kind, with the text (which the decoder cuts to 7 characters and
// "..."), at a place of the file's shape that decodes into goType.
func (idx *nodeIndex) value(line int, tag, text, goType string) string {
	best, bestScore := -1, 0
	for _, i := range idx.byLine[line] {
		x := idx.nodes[i]
		if x.key || x.kind == yaml.DocumentNode {
			continue
		}
		score := 1
		if tag == "seq" && x.kind == yaml.SequenceNode || tag == "map" && x.kind == yaml.MappingNode ||
			x.kind == yaml.ScalarNode && (x.value == text ||
				strings.HasSuffix(text, "...") && strings.HasPrefix(x.value, strings.TrimSuffix(text, "..."))) {
			score += 2
		}
		if t := idx.types[reListIndex.ReplaceAllString(x.path, "[]")]; strings.TrimPrefix(t, "*") == goType {
			score += 4
		}
		if idx.used[i] {
			score -= 7 // blame another node if one fits as well
		}
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return fmt.Sprintf("line %d", line)
	}
	idx.used[best] = true
	return idx.nodes[best].path
}

// want names a Go type of the file's shape in the file's terms.
func want(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "float64":
		return "a number"
	case "int":
		return "a whole number"
	case "bool":
		return "true or false"
	case "string":
		return "text"
	case "event.Text":
		return "a mapping with ar, fr and en"
	}
	if strings.HasPrefix(goType, "[]") {
		return "a list"
	}
	return "a mapping"
}
