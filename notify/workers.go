package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// wakeOf returns the wake-up channel of a worker: cfg.Wake's, or the
// store's changes.
func wakeOf(st Store, cfg Config) <-chan struct{} {
	if cfg.Wake != nil {
		return cfg.Wake()
	}
	return st.Changes()
}

// run is the loop both workers share: work while there is work, then wait.
func run(ctx context.Context, workers int, changes <-chan struct{}, poll time.Duration, once func(context.Context) (int, error), log *slog.Logger, msg string) {
	var wg sync.WaitGroup
	wakes := make([]chan struct{}, max(workers, 1))
	for i := range wakes {
		wakes[i] = make(chan struct{}, 1)
	}
	wg.Add(1)
	go func() { // fan the one wake-up channel out to every worker
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-changes:
				for _, w := range wakes {
					select {
					case w <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	for _, w := range wakes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := once(ctx)
				if err != nil && ctx.Err() == nil {
					log.Error(msg, "err", err)
				}
				if n > 0 && err == nil {
					continue
				}
				if !wait(ctx, w, poll) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// wait blocks until ctx ends (false), a wake-up arrives or poll passes.
func wait(ctx context.Context, wake <-chan struct{}, poll time.Duration) bool {
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}
