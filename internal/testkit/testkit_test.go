package testkit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClock_AdvanceAndSetFromManyGoroutines(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(start.Add(800 * time.Second)) {
		t.Fatalf("Now = %v", got)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Fatalf("after Set: %v", c.Now())
	}
}

func TestEventually_ReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		time.Sleep(3 * Poll)
		n.Store(1)
	}()
	Eventually(t, 5*time.Second, func() (bool, string) { return n.Load() == 1, "still 0" })
}
