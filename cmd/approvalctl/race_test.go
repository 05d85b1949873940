//go:build race

package main

// raceEnabled builds approvalctl with the race detector for the end-to-end
// tests when they run with -race.
const raceEnabled = true
