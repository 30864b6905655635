// Package board computes what the live board shows (CONTRACT §4): each
// zone's figures from the store's counters, the flows per minute and the
// minutes to full from the log's recent entries, the levels and alerts, the
// gates' activity and silence, and the update that carries only what changed
// since the previous state. It is plain code driven by the times it is
// given: no goroutine, no socket, no store call, so a test runs a whole
// morning of a fair in microseconds.
//
// Pacer is the live stream's leading-edge coalescing: the first change
// after a quiet window goes out at once, the changes that follow within the
// window go out together at its end.
package board
