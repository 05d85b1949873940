package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"approvald/approval"
)

// note returns a notification of request r (version 1) to recipient at
// address on channel "mail", created at t0+created and due at t0+due.
func note(r *approval.Request, recipient, address string, created, due time.Duration) approval.Notification {
	return approval.Notification{Key: approval.NotificationKey(r.ID, 1, recipient, approval.NotifyReviewRequested),
		RequestID: r.ID, Version: 1, Kind: approval.NotifyReviewRequested, Recipient: recipient, Channel: "mail",
		Address: address, Data: []byte(`{"title":"` + recipient + `"}`), CreatedAt: at(created), DueAt: at(due)}
}

// plan queues ns and fails the test if it cannot.
func plan(t *testing.T, s Store, seqs []int64, ns ...approval.Notification) {
	t.Helper()
	if err := s.PlanNotifications(t.Context(), seqs, ns, at(time.Minute)); err != nil {
		t.Fatalf("PlanNotifications: %v", err)
	}
}

// queued returns every notification, oldest first.
func queued(t *testing.T, s Store) []approval.Notification {
	t.Helper()
	ns, err := s.ListNotifications(t.Context(), approval.NotificationFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("ListNotifications: %v", err)
	}
	slices.Reverse(ns)
	return ns
}

// recipients returns the recipients of ns, in order.
func recipients(ns []approval.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Recipient
	}
	return out
}

// testClaimUnplanned: the events that call for a notification are offered
// to the notifier, oldest first, with their kind, once per lease, until
// they are planned.
func testClaimUnplanned(t *testing.T, s Store) {
	ctx := t.Context()
	a := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())                // review_requested
	step(t, s, a, commentOp(alice, "noted", at(time.Minute)))                           // none
	b := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())                  // review_requested
	step(t, s, b, reviewOp(reviewer("dave"), approval.DecisionReject, at(time.Minute))) // decision
	recs := outbox(t, s, "")
	claimAt := func(now time.Time, limit int) []approval.OutboxRecord {
		t.Helper()
		got, err := s.ClaimUnplanned(ctx, now, now.Add(lease), limit)
		if err != nil {
			t.Fatalf("ClaimUnplanned: %v", err)
		}
		return got
	}
	want := []approval.OutboxRecord{recs[0], recs[2], recs[3]}
	if got := claimAt(at(time.Hour), 2); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("ClaimUnplanned(limit 2) =\n %+v\nwant %+v", got, want[:2])
	}
	if got := claimAt(at(time.Hour), 10); !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("ClaimUnplanned during the lease = %+v, want only the one not leased", got)
	}
	if want[2].Notify != approval.NotifyDecision || want[0].Notify != approval.NotifyReviewRequested {
		t.Errorf("the claimed events call for %q and %q, want review_requested and decision", want[0].Notify, want[2].Notify)
	}
	plan(t, s, []int64{recs[0].Seq})
	if got := claimAt(at(time.Hour).Add(lease), 10); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("ClaimUnplanned after the lease = %+v, want the events not planned, %+v", got, want[1:])
	}
}

// testPlanNotifications: planning queues the notifications and marks the
// events planned in one go; a notification whose key is queued is skipped.
func testPlanNotifications(t *testing.T, s Store) {
	r := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	recs := outbox(t, s, r.ID)
	carol, dave := note(r, "user:carol", "carol@example.com", 0, time.Minute), note(r, "user:dave", "dave@example.com", 0, time.Minute)
	plan(t, s, []int64{recs[0].Seq}, carol, dave)
	again := carol
	again.Address, again.Data = "other@example.com", []byte("{}")
	plan(t, s, nil, again, note(r, "user:erin", "erin@example.com", time.Second, time.Minute))
	got := queued(t, s)
	if !slices.Equal(recipients(got), []string{"user:carol", "user:dave", "user:erin"}) {
		t.Fatalf("queued %v, want carol, dave and erin once each", recipients(got))
	}
	want := carol
	want.ID, want.NextAttempt = got[0].ID, carol.CreatedAt // due for batching at once
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("the first notification reads back as\n %+v\nwant %+v (the duplicate skipped)", got[0], want)
	}
	if got[0].ID >= got[1].ID || got[1].ID >= got[2].ID {
		t.Errorf("ids %d, %d, %d, want increasing", got[0].ID, got[1].ID, got[2].ID)
	}
	if unplanned, err := s.ClaimUnplanned(t.Context(), at(time.Hour), at(2*time.Hour), 10); err != nil || len(unplanned) != 0 {
		t.Errorf("ClaimUnplanned after planning = %+v, %v; want none", unplanned, err)
	}
}

// testClaimNotifications: a claim takes the targets with a notification
// due, each with all its queued notifications whose next attempt is due
// (up to perTarget, oldest first), and leases them.
func testClaimNotifications(t *testing.T, s Store) {
	ctx := t.Context()
	r := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	r2 := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	// carol: one due at 1m and one that joins its batch though due later;
	// dave: due at 2m; erin: not due before 10m; three to chat channels
	// of one target (chat, no address), due at 2m10s.
	c1, c2 := note(r, "user:carol", "carol@example.com", 0, time.Minute), note(r2, "user:carol", "carol@example.com", 30*time.Second, 10*time.Minute)
	d1 := note(r, "user:dave", "dave@example.com", 0, 2*time.Minute)
	e1 := note(r, "user:erin", "erin@example.com", 0, 10*time.Minute)
	var fs []approval.Notification
	for i := range 3 {
		f := note(r, fmt.Sprintf("channel:chat%d", i), "", time.Duration(i)*time.Second, 2*time.Minute+10*time.Second)
		f.Channel = "chat"
		fs = append(fs, f)
	}
	plan(t, s, nil, append([]approval.Notification{c1, c2, d1, e1}, fs...)...)
	all := queued(t, s)
	byID := map[int64]approval.Notification{}
	for _, n := range all {
		byID[n.ID] = n
	}
	claimAt := func(now time.Time, targets, perTarget int) []string {
		t.Helper()
		got, err := s.ClaimNotifications(ctx, now, now.Add(lease), targets, perTarget)
		if err != nil {
			t.Fatalf("ClaimNotifications: %v", err)
		}
		for i, n := range got {
			want := byID[n.ID]
			want.NextAttempt = now.Add(lease)
			if !reflect.DeepEqual(n, want) {
				t.Errorf("claimed\n %+v\nwant %+v", n, want)
			}
			if i > 0 && got[i-1].ID >= n.ID {
				t.Errorf("claimed ids out of order: %d then %d", got[i-1].ID, n.ID)
			}
		}
		return recipients(got)
	}
	if got := claimAt(at(30*time.Second), 10, 10); len(got) != 0 {
		t.Errorf("a claim before anything is due took %v", got)
	}
	// At 2m carol and dave are due: carol first (due earlier), with both of hers.
	if got := claimAt(at(2*time.Minute), 1, 10); !slices.Equal(got, []string{"user:carol", "user:carol"}) {
		t.Errorf("claiming one target at 2m took %v, want carol's two", got)
	}
	if got := claimAt(at(2*time.Minute), 10, 10); !slices.Equal(got, []string{"user:dave"}) {
		t.Errorf("claiming again at 2m took %v, want dave's (carol's are leased)", got)
	}
	// At 2m20s the chat target is due: two of its three, oldest first.
	if got := claimAt(at(2*time.Minute+20*time.Second), 10, 2); !slices.Equal(got, []string{"channel:chat0", "channel:chat1"}) {
		t.Errorf("claiming at 2m20s, 2 per target, took %v, want chat0 and chat1", got)
	}
	// The lease of carol's ends: they are due again, erin's is not yet.
	got, err := s.ClaimNotifications(ctx, at(2*time.Minute).Add(lease), at(2*time.Minute).Add(2*lease), 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := recipients(got); !slices.Contains(ids, "user:carol") || slices.Contains(ids, "user:erin") {
		t.Errorf("after the lease the claim took %v, want carol's again and not erin's", ids)
	}
}

// testFinishNotifications: the outcomes of sending, the admin's list, the
// stats and the clean-up.
func testFinishNotifications(t *testing.T, s Store) {
	ctx := t.Context()
	r := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	r2 := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	plan(t, s, nil, note(r, "user:carol", "carol@example.com", 0, 0), note(r, "user:dave", "dave@example.com", time.Second, 0),
		note(r2, "user:erin", "erin@example.com", 2*time.Second, 0), note(r2, "user:frank", "frank@example.com", 3*time.Second, 0))
	ns := queued(t, s) // carol, dave, erin, frank
	finishNotes := func(res approval.NotificationResult) {
		t.Helper()
		if err := s.FinishNotifications(ctx, res); err != nil {
			t.Fatalf("FinishNotifications(%+v): %v", res, err)
		}
	}
	finishNotes(approval.NotificationResult{IDs: []int64{ns[0].ID}, Sent: true, At: at(time.Minute)})
	finishNotes(approval.NotificationResult{IDs: []int64{ns[1].ID}, GiveUp: true, LastError: "550 no such user", At: at(time.Minute)})
	finishNotes(approval.NotificationResult{IDs: []int64{ns[2].ID}, NextAttempt: at(time.Hour), LastError: "connection refused", At: at(time.Minute)})
	// A late outcome does not change a finished notification.
	finishNotes(approval.NotificationResult{IDs: []int64{ns[0].ID, ns[1].ID}, NextAttempt: at(time.Hour), LastError: "late", At: at(2 * time.Minute)})

	got := queued(t, s)
	want := slices.Clone(ns)
	want[0].Attempts, want[0].SentAt = 1, new(at(time.Minute))
	want[1].Attempts, want[1].FailedAt, want[1].LastError = 1, new(at(time.Minute)), "550 no such user"
	want[2].Attempts, want[2].NextAttempt, want[2].LastError = 1, at(time.Hour), "connection refused"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after FinishNotifications:\n got %+v\nwant %+v", got, want)
	}

	list := func(f approval.NotificationFilter, want ...string) {
		t.Helper()
		got, err := s.ListNotifications(ctx, f)
		if err != nil || !slices.Equal(recipients(got), want) {
			t.Errorf("ListNotifications(%+v) = %v, %v; want %v", f, recipients(got), err, want)
		}
	}
	list(approval.NotificationFilter{}, "user:frank", "user:erin", "user:dave", "user:carol")
	list(approval.NotificationFilter{Limit: 2}, "user:frank", "user:erin")
	list(approval.NotificationFilter{Before: ns[2].ID}, "user:dave", "user:carol")
	list(approval.NotificationFilter{RequestID: r.ID}, "user:dave", "user:carol")
	list(approval.NotificationFilter{RequestID: newID(t)})
	list(approval.NotificationFilter{RequestID: "not-an-id"})
	list(approval.NotificationFilter{Failed: true}, "user:dave")
	list(approval.NotificationFilter{Pending: true}, "user:frank", "user:erin")

	st, err := s.NotificationStats(ctx)
	if want := (approval.NotificationStats{Pending: 2, Failed: 1, OldestPending: ns[2].CreatedAt}); err != nil || st != want {
		t.Errorf("NotificationStats = %+v, %v; want %+v", st, err, want)
	}
	n, err := s.DeleteNotificationsBefore(ctx, at(time.Minute))
	if err != nil || n != 0 {
		t.Errorf("DeleteNotificationsBefore(1m) = %d, %v; want 0 (none finished before)", n, err)
	}
	n, err = s.DeleteNotificationsBefore(ctx, at(time.Hour))
	if err != nil || n != 2 {
		t.Errorf("DeleteNotificationsBefore(1h) = %d, %v; want 2, the sent and the failed", n, err)
	}
	list(approval.NotificationFilter{}, "user:frank", "user:erin")
	if st, err := s.NotificationStats(ctx); err != nil || st.Failed != 0 || st.Pending != 2 {
		t.Errorf("NotificationStats after the delete = %+v, %v", st, err)
	}
}

// testClaimNotificationsConcurrent: claimers racing over many targets never
// take the same notification twice, and between them take every one.
func testClaimNotificationsConcurrent(t *testing.T, s Store) {
	r := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	var ns []approval.Notification
	for i := range 60 {
		ns = append(ns, note(r, fmt.Sprintf("user:u%02d", i), fmt.Sprintf("u%d@example.com", i%12), time.Duration(i)*time.Millisecond, 0))
	}
	plan(t, s, nil, ns...)
	const claimers = 4
	var (
		mu    sync.Mutex
		taken = map[int64]int{}
		wg    sync.WaitGroup
		errs  = make(chan error, claimers)
	)
	for range claimers {
		wg.Go(func() {
			for range 20 {
				got, err := s.ClaimNotifications(t.Context(), at(time.Minute), at(time.Hour), 2, 3)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, n := range got {
					taken[n.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ClaimNotifications: %v", err)
	}
	for id, n := range taken {
		if n > 1 {
			t.Errorf("notification %d was claimed %d times", id, n)
		}
	}
	if len(taken) != len(ns) {
		t.Errorf("%d notifications claimed, want all %d", len(taken), len(ns))
	}
}

// testEscalationFields: a request's escalation fields round trip, and
// DueEscalations finds the pending requests whose escalation is due,
// earliest first.
func testEscalationFields(t *testing.T, s Store) {
	ctx := t.Context()
	escalate := func(r *approval.Request, next time.Duration) op {
		return func(q *approval.Request) (approval.Change, error) {
			ch, err := q.Edit(alice, approval.Patch{Comment: approval.Some("escalating")}, nil, at(time.Minute))
			q.StageOpenedAt, q.NextEscalationAt = new(t0), new(at(next))
			q.Escalations = append(q.Escalations, approval.Escalation{Stage: 0, Rule: "two", At: at(time.Minute)})
			return ch, err
		}
	}
	a := create(t, s, alice, approval.Draft{}, twoApprovals)
	b := create(t, s, alice, approval.Draft{}, twoApprovals)
	c := create(t, s, alice, approval.Draft{}, twoApprovals)
	step(t, s, a, escalate(a, 2*time.Hour))
	step(t, s, b, escalate(b, time.Hour))
	step(t, s, c, escalate(c, 30*time.Minute))
	step(t, s, c, cancelOp(alice, at(2*time.Minute))) // no longer pending
	due := func(now time.Time, limit int, want ...string) {
		t.Helper()
		got, err := s.DueEscalations(ctx, now, limit)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("DueEscalations(%v, %d) = %v, %v; want %v", now, limit, got, err, want)
		}
	}
	due(at(59*time.Minute), 10)
	due(at(time.Hour), 10, b.ID)
	due(at(3*time.Hour), 10, b.ID, a.ID)
	due(at(3*time.Hour), 1, b.ID)
	// Reviews given for someone else keep who gave them.
	step(t, s, a, func(r *approval.Request) (approval.Change, error) {
		ch, err := r.Review(reviewer("dave"), approval.ReviewInput{Decision: approval.DecisionApprove}, nil, at(3*time.Minute))
		if err == nil {
			r.Reviews[len(r.Reviews)-1].By = "user:erin"
		}
		return ch, err
	})
	if got := get(t, s, a.ID); got.Reviews[len(got.Reviews)-1].By != "user:erin" {
		t.Errorf("the review's By reads back as %q", got.Reviews[len(got.Reviews)-1].By)
	}
}
