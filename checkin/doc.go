// Package checkin is the vocabulary of a gate decision: the directions a
// person can pass a gate in, the verdict codes of CONTRACT §3, and the flags
// a verdict may carry.
//
// It holds no logic that needs a clock, a store or a network, so every other
// package (the event rules, the ledger, the gateway, the scanner) can share it.
package checkin
