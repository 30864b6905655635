package wire

// DecodeGeneral is Decode without its shortcut for scan frames, for the
// fuzz test that both answer alike.
var DecodeGeneral = decode
