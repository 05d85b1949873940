package storetest

import (
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"approvald/approval"
)

// lease is how long the suite's workers lease what they claim.
const lease = 30 * time.Second

// claim calls ClaimDeliveries with a limit of 10 and returns what it claimed.
func claim(t *testing.T, s Store, now, leaseUntil time.Time, skip ...string) []approval.Claim {
	t.Helper()
	got, err := s.ClaimDeliveries(t.Context(), now, leaseUntil, skip, 10)
	if err != nil {
		t.Fatalf("ClaimDeliveries(%v): %v", now, err)
	}
	return got
}

// claimOne claims at now and fails the test unless that yields exactly the
// delivery of event rec, after attempts attempts.
func claimOne(t *testing.T, s Store, now time.Time, rec approval.OutboxRecord, attempts int) approval.Claim {
	t.Helper()
	got := claim(t, s, now, now.Add(lease))
	want := []approval.Claim{{OutboxRecord: rec, Rule: rec.Webhook, Attempts: attempts}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ClaimDeliveries at %v:\n got %+v\nwant %+v", now, got, want)
	}
	return got[0]
}

// claimNone fails the test unless a claim at now yields nothing.
func claimNone(t *testing.T, s Store, what string, now time.Time, skip ...string) {
	t.Helper()
	if got := claim(t, s, now, now.Add(lease), skip...); len(got) != 0 {
		t.Errorf("ClaimDeliveries %s returned %+v, want nothing", what, got)
	}
}

// finish calls FinishDelivery and returns the request.
func finish(t *testing.T, s Store, res approval.DeliveryResult, fn op) *approval.Request {
	t.Helper()
	r, err := s.FinishDelivery(t.Context(), res, fn)
	if err != nil {
		t.Fatalf("FinishDelivery(%+v): %v", res, err)
	}
	return r
}

// decided creates a request naming rule r1 and has it approved, which
// acknowledges it; it returns the test's copy and the event to deliver.
func decided(t *testing.T, s Store, fns ...op) (*approval.Request, approval.OutboxRecord) {
	t.Helper()
	r := create(t, s, alice, approval.Draft{ServiceRule: "r1"}, approval.DefaultPolicy())
	for _, fn := range fns {
		step(t, s, r, fn)
	}
	ch := step(t, s, r, reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)))
	if r.Status != approval.StatusAcknowledgedApproved {
		t.Fatalf("the approved request is %v, want acknowledged_approved", r.Status)
	}
	recs := outbox(t, s, r.ID)
	last := recs[len(recs)-1]
	checkRecord(t, last, ch)
	for _, rec := range recs[:len(recs)-1] {
		if rec.Webhook != "" {
			t.Errorf("event %s of a request not yet decided is delivered to %q", rec.Type, rec.Webhook)
		}
	}
	if last.Webhook != "r1" {
		t.Fatalf("the decision's event has webhook %q, want r1", last.Webhook)
	}
	return r, last
}

// lastEvent checks that the latest event of local is that of ch, without a
// webhook, and that ch's entry ends local's history.
func lastEvent(t *testing.T, s Store, local *approval.Request, ch approval.Change) {
	t.Helper()
	recs := outbox(t, s, local.ID)
	checkRecord(t, recs[len(recs)-1], ch)
	if w := recs[len(recs)-1].Webhook; w != "" {
		t.Errorf("event %s is delivered to %q, want no webhook", ch.Event.Type, w)
	}
	h := history(t, s, local.ID)
	if !reflect.DeepEqual(h[len(h)-1], ch.Entry) {
		t.Errorf("last history entry = %+v, want %+v", h[len(h)-1], ch.Entry)
	}
}

// testDeliveries follows the delivery of a decision: due at once, leased to
// one claim, due again when the lease runs out, retried when the attempt
// says so, and finished with the request settling in one transaction.
func testDeliveries(t *testing.T, s Store) {
	createRule(t, s, newRule("r1"))
	r, rec := decided(t, s)
	pending := func(what string, want *approval.Delivery) {
		t.Helper()
		got, err := s.PendingDelivery(t.Context(), r.ID)
		if err != nil {
			t.Fatalf("PendingDelivery: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("PendingDelivery %s = %+v, want %+v", what, got, want)
		}
	}
	due := rec.CreatedAt
	pending("before any attempt", &approval.Delivery{NextAttempt: &due})

	claimNone(t, s, "before the decision", at(time.Minute-time.Microsecond))
	claimOne(t, s, at(time.Minute), rec, 0)
	claimNone(t, s, "during the lease", at(time.Minute+lease-time.Microsecond))
	claimNone(t, s, "skipping its rule", at(time.Hour), "other", "r1")
	// The worker died: at the end of its lease the delivery is due again.
	c := claimOne(t, s, at(time.Minute+lease), rec, 0)

	// A failed attempt: try again later.
	res := approval.DeliveryResult{Seq: c.Seq, Attempts: 1, NextAttempt: at(5 * time.Minute), LastError: "HTTP 503"}
	if got := finish(t, s, res, nil); got != nil {
		t.Errorf("FinishDelivery without fn returned %+v, want nil", got)
	}
	equalRequest(t, "the request after a failed attempt", get(t, s, r.ID), r)
	next := at(5 * time.Minute)
	pending("after a failed attempt", &approval.Delivery{Attempts: 1, LastError: "HTTP 503", NextAttempt: &next})
	claimNone(t, s, "before the next attempt", at(5*time.Minute-time.Microsecond))
	c = claimOne(t, s, at(5*time.Minute), rec, 1)

	// Delivered: the request settles, in the same transaction.
	fn := deliveredOp(at(6 * time.Minute))
	ch, _ := fn(r)
	got := finish(t, s, approval.DeliveryResult{Seq: c.Seq, Attempts: 2, Done: true}, fn)
	equalRequest(t, "FinishDelivery result", got, r)
	equalRequest(t, "GetApproval after FinishDelivery", get(t, s, r.ID), r)
	if r.Status != approval.StatusApproved {
		t.Errorf("the delivered request is %v, want approved", r.Status)
	}
	lastEvent(t, s, r, ch)
	if recs := outbox(t, s, r.ID); len(recs) != 3 || recs[2].Type != approval.EventCompleted {
		t.Errorf("outbox of the request = %+v, want created, decided, completed", recs)
	}
	claimNone(t, s, "after delivery", at(time.Hour))
	pending("after delivery", nil)

	// A late outcome neither reopens the delivery nor changes the request.
	late := approval.DeliveryResult{Seq: c.Seq, Attempts: 3, NextAttempt: at(7 * time.Minute), LastError: "timeout"}
	finish(t, s, late, nil)
	got = finish(t, s, approval.DeliveryResult{Seq: c.Seq, Attempts: 3, Done: true}, deliveredOp(at(8*time.Minute)))
	equalRequest(t, "FinishDelivery with a zero change", got, r)
	unchanged(t, s, r, 3, 3)
	claimNone(t, s, "after a late outcome", at(time.Hour))

	called := false
	_, err := s.FinishDelivery(t.Context(), approval.DeliveryResult{Seq: c.Seq + 1000, Attempts: 1, Done: true},
		func(r *approval.Request) (approval.Change, error) {
			called = true
			return r.Delivered(1, at(time.Hour)), nil
		})
	wantKind(t, "FinishDelivery of an unknown event", err, approval.KindNotFound)
	if called {
		t.Error("FinishDelivery of an unknown event called fn")
	}
}

// testDeliveryFailed gives up on a delivery: the request moves to error,
// keeping where it was in previous_status and its comment as it was.
func testDeliveryFailed(t *testing.T, s Store) {
	r, rec := decided(t, s, commentOp(alice, "keep me", at(30*time.Second)))
	c := claimOne(t, s, at(time.Minute), rec, 0)

	// fn fails: nothing is written, not even the outcome.
	errBoom := errors.New("boom")
	_, err := s.FinishDelivery(t.Context(), approval.DeliveryResult{Seq: c.Seq, Attempts: 1, Done: true},
		func(*approval.Request) (approval.Change, error) { return approval.Change{}, errBoom })
	if !errors.Is(err, errBoom) {
		t.Errorf("FinishDelivery with a failing fn = %v, want its error", err)
	}
	equalRequest(t, "the request after a failing fn", get(t, s, r.ID), r)
	c = claimOne(t, s, at(time.Minute+lease), rec, 0)

	fn := failedOp("HTTP 500", at(2*time.Minute))
	ch, _ := fn(r)
	res := approval.DeliveryResult{Seq: c.Seq, Attempts: 3, Done: true, LastError: "HTTP 500"}
	got := finish(t, s, res, fn)
	equalRequest(t, "FinishDelivery result", got, r)
	switch {
	case got.Status != approval.StatusError:
		t.Errorf("status = %v, want error", got.Status)
	case got.PreviousStatus == nil || *got.PreviousStatus != approval.StatusAcknowledgedApproved:
		t.Errorf("previous status = %v, want acknowledged_approved", got.PreviousStatus)
	case got.Comment != "keep me":
		t.Errorf("comment = %q, want it untouched", got.Comment)
	case got.Delivery == nil || got.Delivery.LastError != "HTTP 500" || got.Delivery.Attempts != 3:
		t.Errorf("delivery = %+v, want 3 attempts and the last error", got.Delivery)
	}
	lastEvent(t, s, r, ch)
	claimNone(t, s, "after giving up", at(time.Hour))
}

// testClaimDeliveriesConcurrent has 8 workers claim 100 due deliveries at
// once: each is claimed exactly once.
func testClaimDeliveriesConcurrent(t *testing.T, s Store) {
	const n, workers = 100, 8
	for range n {
		r, ch := newRequest(t, alice, approval.Draft{ServiceRule: "r1"}, approval.DefaultPolicy())
		ch.Event.Webhook = "r1" // the store delivers any event that names a webhook
		if _, err := s.CreateApproval(t.Context(), r, ch, nil); err != nil {
			t.Fatalf("CreateApproval: %v", err)
		}
	}
	var want []int64
	for _, rec := range outbox(t, s, "") {
		want = append(want, rec.Seq)
	}

	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		claimed []int64
		errs    = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			<-start
			for {
				got, err := s.ClaimDeliveries(t.Context(), at(time.Hour), at(2*time.Hour), nil, 7)
				if err != nil || len(got) == 0 {
					errs <- err
					return
				}
				mu.Lock()
				for _, c := range got {
					claimed = append(claimed, c.Seq)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("ClaimDeliveries: %v", err)
		}
	}
	slices.Sort(claimed)
	if !slices.Equal(claimed, want) {
		t.Errorf("the workers claimed %d deliveries %v,\nwant each of %d once: %v", len(claimed), claimed, len(want), want)
	}
}

// testClaimUnpublished leases events to the publisher, oldest first, until
// they are marked published.
func testClaimUnpublished(t *testing.T, s Store) {
	for range 3 {
		create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	}
	recs := outbox(t, s, "")
	unpublished := func(now time.Time, limit int, want []approval.OutboxRecord) {
		t.Helper()
		got, err := s.ClaimUnpublished(t.Context(), now, now.Add(time.Minute), limit)
		if err != nil {
			t.Fatalf("ClaimUnpublished: %v", err)
		}
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("ClaimUnpublished(%v, limit %d):\n got %+v\nwant %+v", now, limit, got, want)
		}
	}
	publish := func(recs ...approval.OutboxRecord) {
		t.Helper()
		var seqs []int64
		for _, rec := range recs {
			seqs = append(seqs, rec.Seq)
		}
		if err := s.MarkPublished(t.Context(), seqs, at(30*time.Second)); err != nil {
			t.Fatalf("MarkPublished: %v", err)
		}
	}
	unpublished(t0, 2, recs[:2])
	unpublished(t0, 10, recs[2:])
	unpublished(at(time.Minute-time.Microsecond), 10, nil) // all leased
	publish(recs[0], recs[1])
	publish()
	unpublished(at(time.Minute), 10, recs[2:]) // its lease ran out
	publish(recs[2])
	unpublished(at(time.Hour), 10, nil)
}

// latest checks that LatestOutboxSeq returns want.
func latest(t *testing.T, s Store, when string, want int64) {
	t.Helper()
	if got, err := s.LatestOutboxSeq(t.Context()); err != nil || got != want {
		t.Errorf("LatestOutboxSeq %s = %d, %v; want %d", when, got, err, want)
	}
}

// testDeleteOutboxBefore deletes old events, but never one whose delivery
// is pending, nor, when asked, one not yet published. The latest sequence
// number survives the deletion of every event, so that the next event
// follows it.
func testDeleteOutboxBefore(t *testing.T, s Store) {
	latest(t, s, "of an empty outbox", 0)
	a := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	step(t, s, a, commentOp(alice, "noted", at(time.Minute)))
	_, pending := decided(t, s)
	recs := outbox(t, s, "") // a created at t0, a commented, r1 created at t0, r1 decided
	if len(recs) != 4 {
		t.Fatalf("outbox has %d events, want 4", len(recs))
	}
	latest(t, s, "", recs[3].Seq)
	if err := s.MarkPublished(t.Context(), []int64{recs[0].Seq, recs[2].Seq, recs[3].Seq}, at(time.Hour)); err != nil {
		t.Fatalf("MarkPublished: %v", err)
	}
	deleteBefore := func(before time.Time, published bool, want int64, left ...approval.OutboxRecord) {
		t.Helper()
		n, err := s.DeleteOutboxBefore(t.Context(), before, published)
		if err != nil || n != want {
			t.Errorf("DeleteOutboxBefore(%v, %v) = %d, %v; want %d", before, published, n, err, want)
		}
		if got := outbox(t, s, ""); len(got) != len(left) || (len(left) > 0 && !reflect.DeepEqual(got, left)) {
			t.Errorf("after DeleteOutboxBefore(%v, %v) the outbox holds\n %+v\nwant %+v", before, published, got, left)
		}
	}
	// Events whose notification is not planned yet stay, whatever else:
	// the creations call for one, the comment for none.
	if recs[0].Notify != approval.NotifyReviewRequested || recs[1].Notify != "" || recs[2].Notify != approval.NotifyReviewRequested ||
		recs[3].Notify != approval.NotifyDecision {
		t.Fatalf("the events call for notifications %q, %q, %q, %q; want review_requested, none, review_requested, decision",
			recs[0].Notify, recs[1].Notify, recs[2].Notify, recs[3].Notify)
	}
	deleteBefore(at(time.Minute), true, 0, recs...)
	if err := s.PlanNotifications(t.Context(), []int64{recs[0].Seq, recs[2].Seq, recs[3].Seq}, nil, at(time.Hour)); err != nil {
		t.Fatalf("PlanNotifications: %v", err)
	}
	deleteBefore(at(time.Minute), true, 2, recs[1], recs[3]) // the creations; the others are not older
	deleteBefore(at(time.Hour), true, 0, recs[1], recs[3])   // unpublished; delivery pending
	deleteBefore(at(time.Hour), false, 1, recs[3])
	c := claimOne(t, s, at(time.Minute), pending, 0)
	finish(t, s, approval.DeliveryResult{Seq: c.Seq, Attempts: 1, Done: true}, nil)
	deleteBefore(at(time.Minute), false, 0, recs[3])
	deleteBefore(at(time.Hour), true, 1)
	latest(t, s, "after every event was deleted", recs[3].Seq)
	create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	if next := outbox(t, s, ""); len(next) != 1 || next[0].Seq != recs[3].Seq+1 {
		t.Errorf("after deleting every event the next is %+v, want one at seq %d", next, recs[3].Seq+1)
	}
}

// testChanges checks that every kind of change wakes the readers of
// Changes by the time it returns.
func testChanges(t *testing.T, s Store) {
	changes := s.Changes()
	woke := func(what string, do func()) {
		t.Helper()
		for len(changes) > 0 {
			<-changes
		}
		do()
		select {
		case <-changes:
		default:
			t.Errorf("%s did not wake the readers of Changes", what)
		}
	}
	woke("CreateServiceRule", func() { createRule(t, s, newRule("r1")) })
	woke("UpdateServiceRule", func() {
		if _, err := s.UpdateServiceRule(t.Context(), "r1", func(r *approval.ServiceRule) error {
			r.MaxAttempts++
			return nil
		}); err != nil {
			t.Fatalf("UpdateServiceRule: %v", err)
		}
	})
	var r *approval.Request
	woke("CreateApproval", func() { r = create(t, s, alice, approval.Draft{ServiceRule: "r1"}, approval.DefaultPolicy()) })
	woke("UpdateApproval", func() { step(t, s, r, reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute))) })
	c := claim(t, s, at(time.Minute), at(time.Minute+lease))
	if len(c) != 1 {
		t.Fatalf("ClaimDeliveries = %+v, want the decision's delivery", c)
	}
	woke("FinishDelivery", func() {
		finish(t, s, approval.DeliveryResult{Seq: c[0].Seq, Attempts: 1, Done: true}, deliveredOp(at(2*time.Minute)))
	})
	woke("DeleteServiceRule", func() {
		if err := s.DeleteServiceRule(t.Context(), "r1"); err != nil {
			t.Fatalf("DeleteServiceRule: %v", err)
		}
	})
}

// testOutboxStats: an empty outbox has nothing undelivered; a decision to
// deliver counts until its delivery is finished, and the oldest is the
// decision's time.
func testOutboxStats(t *testing.T, s Store) {
	stats := func(what string, want approval.OutboxStats) {
		t.Helper()
		got, err := s.OutboxStats(t.Context())
		if err != nil {
			t.Fatalf("OutboxStats: %v", err)
		}
		if got.Undelivered != want.Undelivered || !got.OldestUndelivered.Equal(want.OldestUndelivered) {
			t.Errorf("OutboxStats %s = %+v, want %+v", what, got, want)
		}
	}
	stats("of an empty outbox", approval.OutboxStats{})
	createRule(t, s, newRule("r1"))
	_, rec := decided(t, s)
	stats("after a decision", approval.OutboxStats{Undelivered: 1, OldestUndelivered: rec.CreatedAt})
	c := claimOne(t, s, at(time.Minute), rec, 0)
	finish(t, s, approval.DeliveryResult{Seq: c.Seq, Attempts: 1, Done: true}, deliveredOp(at(2*time.Minute)))
	stats("after the delivery", approval.OutboxStats{})
}
