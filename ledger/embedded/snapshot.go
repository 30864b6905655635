package embedded

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
)

// A snapshot is the whole keyspace and the journal generation that follows
// it: Open loads it and replays that generation and later ones.
//
//	magic
//	uvarint generation
//	uvarint number of keys, then per key (in key order):
//	  string key, byte type, and
//	  string: string
//	  hash:   uvarint n, n × (field, value) in insertion order
//	  set:    strings (members)
//	  stream: last ID, uvarint n, n × (ID, strings fields)
//	u32 CRC32C of everything before it
//
// It is written to a temporary file, fsynced and renamed into place, so it
// is either the old one or the new one, whole.
const (
	snapshotMagic = "CFSNAP1\n"
	snapshotName  = "snapshot.db"
	snapshotTemp  = "snapshot.db.tmp"

	typeString = 1
	typeHash   = 2
	typeSet    = 3
	typeStream = 4
)

func encodeSnapshot(gen uint64, db *keyspace) []byte {
	var e encoder
	e.raw([]byte(snapshotMagic))
	e.uvarint(gen)
	keys := make([]string, 0, len(db.keys))
	for k := range db.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		switch v := db.keys[k].(type) {
		case string:
			e.byte(typeString)
			e.str(v)
		case *hash:
			e.byte(typeHash)
			e.uvarint(uint64(v.len()))
			v.each(func(f, val string) { e.str(f); e.str(val) })
		case set:
			e.byte(typeSet)
			e.strs(v.members())
		case *stream:
			e.byte(typeStream)
			e.streamID(v.last)
			e.uvarint(uint64(len(v.entries)))
			for _, en := range v.entries {
				e.streamID(en.id)
				e.strs(en.fields)
			}
		}
	}
	e.u32(crc32.Checksum(e.bytes(), castagnoli))
	return e.bytes()
}

// decodeSnapshot loads a snapshot into db, which must be empty, and returns
// its generation.
func decodeSnapshot(data []byte, db *keyspace) (uint64, error) {
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return 0, fmt.Errorf("%w: not a snapshot", ErrCorrupt)
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return 0, fmt.Errorf("%w: snapshot checksum", ErrCorrupt)
	}
	d := decoder{b: body[len(snapshotMagic):]}
	gen := d.uvarint()
	n := d.count(2)
	for range n {
		k := d.str()
		switch d.byte() {
		case typeString:
			db.keys[k] = d.str()
		case typeHash:
			h := newHash()
			for range d.count(2) {
				f := d.str()
				h.set(f, d.str())
			}
			db.keys[k] = h
		case typeSet:
			s := make(set)
			for _, m := range d.strs() {
				s[m] = struct{}{}
			}
			db.keys[k] = s
		case typeStream:
			s := &stream{last: d.streamID()}
			for range d.count(3) {
				s.entries = append(s.entries, streamEntry{id: d.streamID(), fields: d.strs()})
			}
			db.keys[k] = s
		default:
			d.fail()
		}
		if d.err != nil {
			break
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errShort
	}
	if d.err != nil {
		return 0, fmt.Errorf("%w: snapshot: %w", ErrCorrupt, d.err)
	}
	return gen, nil
}

// writeSnapshot replaces the snapshot in dir, durably.
func writeSnapshot(dir string, gen uint64, db *keyspace) error {
	tmp := filepath.Join(dir, snapshotTemp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	if _, err := f.Write(encodeSnapshot(gen, db)); err != nil {
		f.Close()
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close snapshot: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, snapshotName)); err != nil {
		return fmt.Errorf("install snapshot: %w", err)
	}
	return syncDir(dir)
}
