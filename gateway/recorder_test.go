package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/gateway/calllog"
)

// batchStore is the part of a store StoreRecorder uses: it keeps the
// batches it was given, and its first write waits for release.
type batchStore struct {
	approval.Store // nil: only RecordGatewayCalls is used

	release chan struct{}
	fail    bool

	mu      sync.Mutex
	batches [][]string
	nextID  int64
}

func (s *batchStore) RecordGatewayCalls(_ context.Context, calls []*calllog.Record) error {
	s.mu.Lock()
	first := len(s.batches) == 0
	s.mu.Unlock()
	if first && s.release != nil {
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, c := range calls {
		names = append(names, c.ProjectName)
		s.nextID++
		c.ID = s.nextID
	}
	s.batches = append(s.batches, names)
	if s.fail {
		return errors.New("disk full")
	}
	return nil
}

// committed reports whether project's call is in a batch written.
func (s *batchStore) committed(project string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		for _, n := range b {
			if n == project {
				return true
			}
		}
	}
	return false
}

func TestStoreRecorder_CallsDuringAWriteAreWrittenTogether(t *testing.T) {
	t.Parallel()
	store := &batchStore{release: make(chan struct{})}
	r := &StoreRecorder{Store: store}
	record := func(project string, wg *sync.WaitGroup) {
		wg.Go(func() {
			r.Record(t.Context(), Call{Run: Run{ProjectName: project}, At: time.Now()})
			if !store.committed(project) {
				t.Errorf("Record(%s) returned before its call was committed", project)
			}
		})
	}
	var first, rest sync.WaitGroup
	record("first", &first)
	// Wait until the first call's write is under way, then pile up more.
	for !r.isWriting() {
		time.Sleep(time.Millisecond)
	}
	const waiting = 40
	for i := range waiting {
		record(fmt.Sprint("p", i), &rest)
	}
	for r.waiting() < waiting {
		time.Sleep(time.Millisecond)
	}
	close(store.release)
	first.Wait()
	rest.Wait()

	if len(store.batches) != 2 || len(store.batches[0]) != 1 || len(store.batches[1]) != waiting {
		t.Errorf("batches written: %v; want the first call alone, then the %d that waited together", store.batches, waiting)
	}
	if r.isWriting() {
		t.Error("the recorder still thinks a write is in progress")
	}
	// It goes on working once idle.
	var again sync.WaitGroup
	record("again", &again)
	again.Wait()
}

func TestStoreRecorder_ManyConcurrentCallsEachRecordedOnce(t *testing.T) {
	t.Parallel()
	store := &batchStore{}
	r := &StoreRecorder{Store: store}
	var wg sync.WaitGroup
	const n = 500
	for i := range n {
		wg.Go(func() { r.Record(t.Context(), Call{Run: Run{ProjectName: fmt.Sprint(i)}}) })
	}
	wg.Wait()
	seen := map[string]int{}
	for _, b := range store.batches {
		for _, name := range b {
			seen[name]++
		}
	}
	for i := range n {
		if seen[fmt.Sprint(i)] != 1 {
			t.Errorf("call %d recorded %d times", i, seen[fmt.Sprint(i)])
		}
	}
}

func TestStoreRecorder_FailureIsLoggedAndTheNextWriteProceeds(t *testing.T) {
	t.Parallel()
	store := &batchStore{fail: true}
	var logs logRecorder
	r := &StoreRecorder{Store: store, Logger: &logs}
	r.Record(t.Context(), Call{Run: Run{ProjectName: "a"}})
	if logs.count() != 1 {
		t.Fatalf("logged %d errors, want 1", logs.count())
	}
	store.mu.Lock()
	store.fail = false
	store.mu.Unlock()
	r.Record(t.Context(), Call{Run: Run{ProjectName: "b"}})
	if logs.count() != 1 || !store.committed("b") {
		t.Errorf("after a failure: logged %d errors, b committed %v", logs.count(), store.committed("b"))
	}
}

type logRecorder struct {
	mu sync.Mutex
	n  int
}

func (l *logRecorder) Error(string, ...any) { l.mu.Lock(); l.n++; l.mu.Unlock() }
func (l *logRecorder) count() int           { l.mu.Lock(); defer l.mu.Unlock(); return l.n }

func (s *StoreRecorder) isWriting() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.writing }

func (s *StoreRecorder) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		return 0
	}
	return len(s.next.calls)
}
