package delivery

import (
	"context"
	"sync"
)

// Waker fans one wake-up channel (a store's Changes) out to many listeners.
// Wake-ups are hints: each listener gets at most one pending value.
type Waker struct {
	mu   sync.Mutex
	subs []chan struct{}
}

// NewWaker returns a Waker; Run feeds it.
func NewWaker() *Waker { return &Waker{} }

// Run forwards every value from src to all listeners until ctx ends.
func (w *Waker) Run(ctx context.Context, src <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-src:
			w.Wake()
		}
	}
}

// Wake wakes every listener.
func (w *Waker) Wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Listen returns a new listener channel.
func (w *Waker) Listen() <-chan struct{} {
	c := make(chan struct{}, 1)
	w.mu.Lock()
	w.subs = append(w.subs, c)
	w.mu.Unlock()
	return c
}
