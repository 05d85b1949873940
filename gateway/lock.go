package gateway

import (
	"context"
	"sync"
)

// Locker grants at most one holder per run across everything that shares
// it: LocalLocker within one process, a database lock (such as a
// PostgreSQL advisory lock) across instances.
type Locker interface {
	// TryLock takes the lock of run without waiting. It returns ok false
	// when another holder has it, and an error when it cannot tell (the
	// gateway answers 500). unlock releases the lock; it is called once.
	TryLock(ctx context.Context, run Run) (unlock func(), ok bool, err error)
}

// LocalLocker is the in-process Locker. The zero value is ready to use.
type LocalLocker struct {
	mu   sync.Mutex
	held map[Run]struct{}
}

// TryLock takes the lock of run unless it is held; it never returns an
// error. Calling unlock more than once releases the lock once.
func (l *LocalLocker) TryLock(_ context.Context, run Run) (unlock func(), ok bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, busy := l.held[run]; busy {
		return nil, false, nil
	}
	if l.held == nil {
		l.held = make(map[Run]struct{})
	}
	l.held[run] = struct{}{}
	return sync.OnceFunc(func() {
		l.mu.Lock()
		delete(l.held, run)
		l.mu.Unlock()
	}), true, nil
}
