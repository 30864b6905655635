package embedded

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// castagnoli is the CRC32C table that checksums journal frames and
// snapshots.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errShort is the decoding error of a truncated or malformed encoding.
var errShort = errors.New("truncated or malformed encoding")

// encoder appends the journal's and the snapshot's binary encoding:
// unsigned varints, and strings as a varint length and the bytes.
type encoder struct{ b []byte }

func (e *encoder) byte(c byte)      { e.b = append(e.b, c) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) raw(p []byte)     { e.b = append(e.b, p...) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) strs(ss []string) {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}
func (e *encoder) u32(v uint32)         { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) reset()               { e.b = e.b[:0] }
func (e *encoder) bytes() []byte        { return e.b }
func (e *encoder) streamID(id streamID) { e.uvarint(id.ms); e.uvarint(id.seq) }

// decoder reads what encoder wrote. The first error sticks: later reads
// return zero values, and err reports it.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err = errShort; d.b = nil }

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) raw(n int) []byte {
	if d.err != nil || n < 0 || len(d.b) < n {
		d.fail()
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	return string(d.raw(int(n)))
}

// count reads a length that announces at least min bytes per element, and
// refuses one the remaining input cannot hold, so a corrupt length cannot
// make a decoder allocate without bound.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/max(min, 1)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count(1)
	ss := make([]string, 0, n)
	for range n {
		ss = append(ss, d.str())
	}
	return ss
}

func (d *decoder) streamID() streamID {
	return streamID{ms: d.uvarint(), seq: d.uvarint()}
}
