package delivery

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/engine"
	"approvald/internal/testkit"
	"approvald/store/sqlite"
)

// startHub runs a hub on s, polling every 10ms and woken by wake, until the
// test ends, and returns it once it has found the end of the outbox.
func startHub(t *testing.T, s approval.Store, wake <-chan struct{}) *Hub {
	t.Helper()
	h := NewHub(s, wake, 10*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-h.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not become ready")
	}
	return h
}

// receive reads n events from sub, failing if they do not come in time or
// the subscription ends first.
func receive(t *testing.T, sub *Subscription, n int) []approval.OutboxRecord {
	t.Helper()
	var got []approval.OutboxRecord
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case rec, ok := <-sub.C:
			if !ok {
				t.Fatalf("the subscription ended after %d of %d events", len(got), n)
			}
			got = append(got, rec)
		case <-deadline:
			t.Fatalf("received %d of %d events: %v", len(got), n, seqs(got))
		}
	}
	return got
}

// waitCursor waits until the hub has handed out every event up to seq: by
// then every matching subscriber has been sent its share.
func waitCursor(t *testing.T, h *Hub, seq int64) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		c := h.Cursor()
		return c >= seq, fmt.Sprintf("the hub's cursor is %d, want %d", c, seq)
	})
}

// assertNothingMore fails if sub holds an event beyond the ones received.
func assertNothingMore(t *testing.T, name string, sub *Subscription) {
	t.Helper()
	select {
	case rec, ok := <-sub.C:
		if ok {
			t.Errorf("%s: got an extra event %d (%s of %s)", name, rec.Seq, rec.Type, rec.RequestID)
		}
	default:
	}
}

func seqs(recs []approval.OutboxRecord) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func TestHub_DeliversInSequenceOrderToMatchingSubscribersOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st)
	a, err := eng.Create(ctx, requester, approval.Draft{Title: "a"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := eng.Create(ctx, requester, approval.Draft{Title: "b"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The creations came before the hub started: they are not handed out.
	h := startHub(t, st, st.Changes())
	start := h.Cursor()
	subs := map[string]*Subscription{
		"all":          h.Subscribe("", nil),
		"request a":    h.Subscribe(a.Request.ID, nil),
		"decided":      h.Subscribe("", []string{approval.EventDecided}),
		"a, 2 types":   h.Subscribe(a.Request.ID, []string{approval.EventDecided, approval.EventCreated}),
		"no such type": h.Subscribe("", []string{"approval.nothing"}),
	}
	for _, s := range subs {
		defer s.Close()
	}
	// Interleave changes to both requests.
	for _, change := range []func() (*approval.Request, error){
		func() (*approval.Request, error) {
			return eng.Edit(ctx, requester, a.Request.ID, approval.Patch{Title: approval.Some("a2")}, nil)
		},
		func() (*approval.Request, error) {
			return eng.Edit(ctx, requester, b.Request.ID, approval.Patch{Title: approval.Some("b2")}, nil)
		},
		func() (*approval.Request, error) {
			return eng.Review(ctx, reviewer, b.Request.ID, approval.ReviewInput{Decision: approval.DecisionReject, Comment: ""}, nil)
		},
		func() (*approval.Request, error) {
			return eng.Review(ctx, reviewer, a.Request.ID, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: ""}, nil)
		},
	} {
		if _, err := change(); err != nil {
			t.Fatal(err)
		}
	}

	all, err := st.Outbox(ctx, start, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]approval.OutboxRecord{}
	for name, s := range subs {
		for _, rec := range all {
			if s.matches(rec) {
				want[name] = append(want[name], rec)
			}
		}
	}
	// The filters are not vacuous: each selects a different share.
	if len(all) != 4 || len(want["request a"]) != 2 || len(want["decided"]) != 2 || len(want["a, 2 types"]) != 1 || len(want["no such type"]) != 0 {
		t.Fatalf("outbox %v after %d; shares %d %d %d", seqs(all), start, len(want["request a"]), len(want["decided"]), len(want["a, 2 types"]))
	}
	for name, s := range subs {
		got := receive(t, s, len(want[name]))
		if !slices.Equal(seqs(got), seqs(want[name])) {
			t.Errorf("%s: got events %v, want %v", name, seqs(got), seqs(want[name]))
		}
		for i, rec := range got {
			if w := want[name][i]; rec.ID != w.ID || rec.Type != w.Type || rec.RequestID != w.RequestID || rec.Version != w.Version {
				t.Errorf("%s: event %d is %+v, want %+v", name, rec.Seq, rec, w)
			}
		}
	}
	waitCursor(t, h, all[len(all)-1].Seq)
	for name, s := range subs {
		assertNothingMore(t, name, s)
	}
}

// fakeOutbox is a store with only an outbox, which the test fills in any
// order, as concurrent transactions commit. The hub needs nothing else.
type fakeOutbox struct {
	approval.Store // nil: the hub calls no other method

	mu   sync.Mutex
	recs []approval.OutboxRecord
	wake chan struct{}
}

func newFakeOutbox() *fakeOutbox { return &fakeOutbox{wake: make(chan struct{}, 1)} }

// commit adds events with these sequence numbers and wakes the hub.
func (s *fakeOutbox) commit(seqs ...int64) {
	s.mu.Lock()
	for _, seq := range seqs {
		s.recs = append(s.recs, approval.OutboxRecord{
			Seq: seq, ID: fmt.Sprintf("evt-%d", seq), Type: approval.EventUpdated,
			RequestID: "req", Version: seq, Data: []byte(`{}`),
		})
	}
	slices.SortFunc(s.recs, func(a, b approval.OutboxRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *fakeOutbox) LatestOutboxSeq(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recs) == 0 {
		return 0, nil
	}
	return s.recs[len(s.recs)-1].Seq, nil
}

func (s *fakeOutbox) Outbox(_ context.Context, after int64, limit int) ([]approval.OutboxRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []approval.OutboxRecord
	for _, rec := range s.recs {
		if rec.Seq > after && len(out) < limit {
			out = append(out, rec)
		}
	}
	return out, nil
}

func TestHub_HoldsLaterEventsUntilAnEarlierOneCommits(t *testing.T) {
	t.Parallel()
	s := newFakeOutbox()
	h := startHub(t, s, s.wake)
	sub := h.Subscribe("", nil)
	defer sub.Close()

	s.commit(1, 3) // 2 is taken by a transaction that has not committed yet
	if got := receive(t, sub, 1); got[0].Seq != 1 {
		t.Fatalf("first event %d, want 1", got[0].Seq)
	}
	s.commit(2)
	if got := receive(t, sub, 2); !slices.Equal(seqs(got), []int64{2, 3}) {
		t.Fatalf("after the late commit: %v, want [2 3]", seqs(got))
	}
}

func TestHub_SkipsANumberThatNeverCommits(t *testing.T) {
	t.Parallel()
	s := newFakeOutbox()
	h := startHub(t, s, s.wake)
	sub := h.Subscribe("", nil)
	defer sub.Close()

	s.commit(1, 3, 4) // 2 was rolled back
	got := receive(t, sub, 3)
	if !slices.Equal(seqs(got), []int64{1, 3, 4}) {
		t.Fatalf("events %v, want [1 3 4]", seqs(got))
	}
}

func TestHub_DropsASubscriberTooFarBehindWithoutBlockingOthers(t *testing.T) {
	t.Parallel()
	s := newFakeOutbox()
	h := startHub(t, s, s.wake)
	slow := h.Subscribe("", nil) // never reads
	fast := h.Subscribe("", nil)
	defer fast.Close()

	const batch, batches = 100, 3 // 300 events, more than subBuffer
	var got []approval.OutboxRecord
	for b := range batches {
		var next []int64
		for i := range batch {
			next = append(next, int64(b*batch+i+1))
		}
		s.commit(next...)
		got = append(got, receive(t, fast, batch)...)
	}
	for i, rec := range got {
		if rec.Seq != int64(i+1) {
			t.Fatalf("the fast subscriber got %d as event %d", rec.Seq, i+1)
		}
	}

	// The slow one kept what fitted in its buffer, in order, and then its
	// channel was closed.
	var kept []int64
	deadline := time.After(10 * time.Second)
	for closed := false; !closed; {
		select {
		case rec, ok := <-slow.C:
			if !ok {
				closed = true
				continue
			}
			kept = append(kept, rec.Seq)
		case <-deadline:
			t.Fatalf("the slow subscriber was not dropped; it holds %d events", len(kept))
		}
	}
	if len(kept) != subBuffer || kept[0] != 1 || kept[len(kept)-1] != subBuffer {
		t.Fatalf("the slow subscriber kept %d events (%v … %v), want 1 … %d", len(kept), kept[:1], kept[len(kept)-1:], subBuffer)
	}
	slow.Close() // closing a dropped subscription is harmless

	// The hub goes on serving the others.
	s.commit(batch*batches + 1)
	if rec := receive(t, fast, 1)[0]; rec.Seq != batch*batches+1 {
		t.Fatalf("after the drop: event %d", rec.Seq)
	}
}
