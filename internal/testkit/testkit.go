// Package testkit holds what tests of several packages share: a clock that
// tests move by hand and a wait for a condition that becomes true in the
// background. It is for tests only.
package testkit

import (
	"sync"
	"testing"
	"time"
)

// Clock is a settable clock, safe for concurrent use. Its Now is what
// engines, dispatchers and servers take as their clock in tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that reads t until moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock d ahead (back, for a negative d).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Poll is how often Eventually checks its condition.
const Poll = 10 * time.Millisecond

// Eventually checks cond every Poll until it returns true, and fails the
// test with the message of cond's last call when timeout passes first.
// cond returns whether it holds and, when it does not, what it saw.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not so after %s: %s", timeout, saw)
		}
		time.Sleep(Poll)
	}
}
