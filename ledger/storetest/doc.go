// Package storetest is the test suite every ledger engine must pass: Run
// drives a ledger.Store on the engine under test and checks every verdict,
// counter and log entry against docs/rules.md.
//
// Its centre is a model test: a reference model of the rule book, written in
// plain Go apart from the Lua scripts, runs beside the store through
// thousands of random operations, and the two must agree after every one.
// Around it: hand-written rule examples, concurrent gates racing for the last
// places of a zone, retries of one scan over several connections, bad input
// that must change nothing, the day's report counters, and the conversions of
// Lua values that the Engine interface promises.
//
// The model test draws a fresh seed each run and logs it; STORETEST_SEED=<n>
// replays one run, STORETEST_OPS=<n> changes its length (4000 by default).
//
// The package is imported by the engines' tests only (redisengine, embedded).
package storetest
