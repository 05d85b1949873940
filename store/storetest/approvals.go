package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"approvald/approval"
)

func testCreateGet(t *testing.T, s Store) {
	deadline := at(48*time.Hour + 123*time.Microsecond)
	pol := approval.Policy{Rules: []approval.Rule{
		{Name: "finance", MinApprovals: 2, Groups: []string{"finance", "audit"}, RejectThreshold: 2},
		{Name: "owner", MinApprovals: 1, Principals: []string{"user:carol"}},
	}}
	r, ch := newRequest(t, alice, approval.Draft{
		Title:       "Publish dataset X",
		Description: "Quarterly numbers ✓",
		Payload:     json.RawMessage(`{ "dataset": "x", "rows": [1, 2.50, 3], "note": "caf\u00e9 é", "nested": {"z": null, "a": true} }`),
		ServiceRule: "publisher",
		Deadline:    &deadline,
	}, pol)
	want := r.Clone()

	found, err := s.CreateApproval(t.Context(), r, ch, nil)
	if err != nil || found != nil {
		t.Fatalf("CreateApproval = %v, %v; want nil, nil", found, err)
	}
	got := get(t, s, r.ID)
	equalRequest(t, "GetApproval", got, want)
	if string(got.Payload) != string(want.Payload) {
		t.Errorf("payload bytes = %s, want %s", got.Payload, want.Payload)
	}
	if got.Deadline == nil || !got.Deadline.Equal(deadline) {
		t.Errorf("deadline = %v, want %v", got.Deadline, deadline)
	}

	h := history(t, s, r.ID)
	if !reflect.DeepEqual(h, []approval.HistoryEntry{ch.Entry}) {
		t.Errorf("History = %+v, want the creation entry %+v", h, ch.Entry)
	}
	recs := outbox(t, s, "")
	if len(recs) != 1 {
		t.Fatalf("outbox has %d records, want 1", len(recs))
	}
	checkRecord(t, recs[0], ch)
}

// testEveryField moves a request through changes that set every optional
// field — reviews with groups, delivery, previous status, decision time —
// and checks that each reads back exactly.
func testEveryField(t *testing.T, s Store) {
	deadline := at(24 * time.Hour)
	r := create(t, s, alice, approval.Draft{ServiceRule: "publisher", Deadline: &deadline}, approval.DefaultPolicy())

	// The delivery package sets Delivery; here it rides on a comment.
	next := at(5*time.Minute + 7*time.Microsecond)
	step(t, s, r, func(r *approval.Request) (approval.Change, error) {
		r.Delivery = &approval.Delivery{Attempts: 2, LastError: "503 Service Unavailable", NextAttempt: &next}
		return r.Edit(alice, approval.Patch{Comment: approval.Some("delivery noted")}, nil, at(time.Minute))
	})
	step(t, s, r, reviewOp(reviewer("dave", "finance", "ops"), approval.DecisionApprove, at(2*time.Minute)))

	got := get(t, s, r.ID)
	switch {
	case got.Status != approval.StatusAcknowledgedApproved:
		t.Errorf("status = %v, want %v", got.Status, approval.StatusAcknowledgedApproved)
	case got.PreviousStatus == nil || *got.PreviousStatus != approval.StatusPending:
		t.Errorf("previous status = %v, want pending", got.PreviousStatus)
	case got.DecidedAt == nil || !got.DecidedAt.Equal(at(2*time.Minute)):
		t.Errorf("decided at = %v, want %v", got.DecidedAt, at(2*time.Minute))
	case len(got.Reviews) != 1 || !slices.Equal(got.Reviews[0].Groups, []string{"finance", "ops"}):
		t.Errorf("reviews = %+v, want one by dave with his groups", got.Reviews)
	case got.Delivery == nil || got.Delivery.NextAttempt == nil || !got.Delivery.NextAttempt.Equal(next):
		t.Errorf("delivery = %+v, want next attempt %v", got.Delivery, next)
	}
}

func testUnknownID(t *testing.T, s Store) {
	create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	id := newID(t)

	_, err := s.GetApproval(t.Context(), id)
	wantKind(t, "GetApproval", err, approval.KindNotFound)

	called := false
	_, err = s.UpdateApproval(t.Context(), id, func(r *approval.Request) (approval.Change, error) {
		called = true
		return r.Edit(alice, approval.Patch{Comment: approval.Some("x")}, nil, at(time.Minute))
	})
	wantKind(t, "UpdateApproval", err, approval.KindNotFound)
	if called {
		t.Error("UpdateApproval called fn for an unknown id")
	}

	_, err = s.History(t.Context(), id)
	wantKind(t, "History", err, approval.KindNotFound)
}

func testHistoryAndOutbox(t *testing.T, s Store) {
	r, created := newRequest(t, alice, approval.Draft{}, twoApprovals)
	if _, err := s.CreateApproval(t.Context(), r.Clone(), created, nil); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	changes := []approval.Change{
		created,
		step(t, s, r, editOp(alice, approval.Patch{Title: approval.Some("Publish dataset Y")}, at(time.Minute))),
		step(t, s, r, commentOp(alice, "please hurry", at(2*time.Minute))),
		step(t, s, r, reviewOp(reviewer("dave"), approval.DecisionApprove, at(3*time.Minute))),
		step(t, s, r, reviewOp(reviewer("erin"), approval.DecisionApprove, at(4*time.Minute))),
	}
	if r.Status != approval.StatusApproved {
		t.Fatalf("the test's copy is %v, want approved", r.Status)
	}

	h := history(t, s, r.ID)
	var want []approval.HistoryEntry
	for _, ch := range changes {
		want = append(want, ch.Entry)
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("History:\n got %+v\nwant %+v", h, want)
	}
	if err := approval.VerifyChain(h); err != nil {
		t.Errorf("VerifyChain(History): %v", err)
	}
	var actions []approval.Action
	for _, e := range h {
		actions = append(actions, e.Action)
	}
	wantActions := []approval.Action{approval.ActionCreate, approval.ActionEdit, approval.ActionComment, approval.ActionReview, approval.ActionApprove}
	if !slices.Equal(actions, wantActions) {
		t.Errorf("history actions = %v, want %v", actions, wantActions)
	}

	recs := outbox(t, s, "")
	if len(recs) != len(changes) {
		t.Fatalf("outbox has %d records, want %d", len(recs), len(changes))
	}
	eventIDs := map[string]bool{}
	for i, rec := range recs {
		checkRecord(t, rec, changes[i])
		if eventIDs[rec.ID] {
			t.Errorf("event id %q appears twice", rec.ID)
		}
		eventIDs[rec.ID] = true
	}
	wantTypes := []string{approval.EventCreated, approval.EventUpdated, approval.EventCommented, approval.EventReviewed, approval.EventDecided}
	var types []string
	for _, rec := range recs {
		types = append(types, rec.Type)
	}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("event types = %v, want %v", types, wantTypes)
	}

	// Paging through the outbox from a cursor.
	page, err := s.Outbox(t.Context(), recs[1].Seq, 2)
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	if !reflect.DeepEqual(page, recs[2:4]) {
		t.Errorf("Outbox(after %d, 2) = %+v, want %+v", recs[1].Seq, page, recs[2:4])
	}
}

// checkRecord checks that rec is the outbox record of ch.
func checkRecord(t *testing.T, rec approval.OutboxRecord, ch approval.Change) {
	t.Helper()
	ev := ch.Event
	switch {
	case rec.ID == "":
		t.Errorf("outbox record %d has no event id", rec.Seq)
	case rec.Type != ev.Type || rec.RequestID != ev.RequestID || rec.Version != ev.Version:
		t.Errorf("outbox record %d is %s of %s v%d, want %s of %s v%d",
			rec.Seq, rec.Type, rec.RequestID, rec.Version, ev.Type, ev.RequestID, ev.Version)
	case string(rec.Data) != string(ev.Data):
		t.Errorf("outbox record %d data:\n got %s\nwant %s", rec.Seq, rec.Data, ev.Data)
	case !rec.CreatedAt.Equal(ch.Entry.At) || rec.CreatedAt.Location() != time.UTC:
		t.Errorf("outbox record %d created at %v, want %v in UTC", rec.Seq, rec.CreatedAt, ch.Entry.At)
	}
}

// unchanged checks that request want is stored as it is, with its history
// and outbox at the given lengths.
func unchanged(t *testing.T, s Store, want *approval.Request, entries, events int) {
	t.Helper()
	equalRequest(t, "GetApproval", get(t, s, want.ID), want)
	if h := history(t, s, want.ID); len(h) != entries {
		t.Errorf("history has %d entries, want %d", len(h), entries)
	}
	if recs := outbox(t, s, ""); len(recs) != events {
		t.Errorf("outbox has %d records, want %d", len(recs), events)
	}
}

func testFnError(t *testing.T, s Store) {
	r := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())

	errBoom := errors.New("boom")
	_, err := s.UpdateApproval(t.Context(), r.ID, func(r *approval.Request) (approval.Change, error) {
		ch, err := r.Edit(alice, approval.Patch{Title: approval.Some("changed")}, nil, at(time.Minute))
		if err != nil {
			t.Errorf("Edit: %v", err)
		}
		return ch, errBoom // a change was made, and then fn failed
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("UpdateApproval = %v, want fn's error", err)
	}
	unchanged(t, s, r, 1, 1)

	// A domain error comes back as it is: the requester may not review.
	_, err = s.UpdateApproval(t.Context(), r.ID, reviewOp(alice, approval.DecisionApprove, at(time.Minute)))
	wantKind(t, "UpdateApproval with a forbidden review", err, approval.KindForbidden)
	unchanged(t, s, r, 1, 1)
}

func testZeroChange(t *testing.T, s Store) {
	deadline := at(time.Hour)
	r := create(t, s, alice, approval.Draft{Title: "Same", Deadline: &deadline}, approval.DefaultPolicy())

	zero := map[string]op{
		"edit to the same value": editOp(alice, approval.Patch{Title: approval.Some("Same")}, at(time.Minute)),
		"empty patch":            editOp(alice, approval.Patch{}, at(time.Minute)),
		"expire before deadline": expireOp(at(time.Minute)),
		"fn changes the request but returns no change": func(r *approval.Request) (approval.Change, error) {
			r.Title = "changed behind the domain's back"
			r.Version++
			return approval.Change{}, nil
		},
	}
	for name, fn := range zero {
		got, err := s.UpdateApproval(t.Context(), r.ID, fn)
		if err != nil {
			t.Fatalf("%s: UpdateApproval: %v", name, err)
		}
		equalRequest(t, name+": UpdateApproval result", got, r)
		unchanged(t, s, r, 1, 1)
	}
}

func testTransitions(t *testing.T, s Store) {
	deadline := at(time.Hour)
	tests := []struct {
		name   string
		draft  approval.Draft
		policy approval.Policy
		fn     op
		status approval.Status
		action approval.Action
		event  string
	}{
		{"edit", approval.Draft{}, approval.DefaultPolicy(),
			editOp(alice, approval.Patch{Payload: approval.Some(json.RawMessage(`{"v": 2}`))}, at(time.Minute)),
			approval.StatusPending, approval.ActionEdit, approval.EventUpdated},
		{"comment", approval.Draft{}, approval.DefaultPolicy(),
			commentOp(alice, "ping", at(time.Minute)),
			approval.StatusPending, approval.ActionComment, approval.EventCommented},
		{"review", approval.Draft{}, twoApprovals,
			reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)),
			approval.StatusPending, approval.ActionReview, approval.EventReviewed},
		{"approve", approval.Draft{}, approval.DefaultPolicy(),
			reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)),
			approval.StatusApproved, approval.ActionApprove, approval.EventDecided},
		{"approve with a service rule", approval.Draft{ServiceRule: "publisher"}, approval.DefaultPolicy(),
			reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)),
			approval.StatusAcknowledgedApproved, approval.ActionApprove, approval.EventDecided},
		{"reject", approval.Draft{}, twoApprovals,
			reviewOp(reviewer("dave"), approval.DecisionReject, at(time.Minute)),
			approval.StatusRejected, approval.ActionReject, approval.EventDecided},
		{"cancel", approval.Draft{}, approval.DefaultPolicy(),
			cancelOp(alice, at(time.Minute)),
			approval.StatusCancelled, approval.ActionCancel, approval.EventDecided},
		{"expire", approval.Draft{Deadline: &deadline}, approval.DefaultPolicy(),
			expireOp(at(2 * time.Hour)),
			approval.StatusExpired, approval.ActionExpire, approval.EventExpired},
	}
	for _, tc := range tests {
		r := create(t, s, alice, tc.draft, tc.policy)
		step(t, s, r, tc.fn)
		got := get(t, s, r.ID)
		if got.Status != tc.status || got.Version != 2 {
			t.Errorf("%s: status %v at version %d, want %v at version 2", tc.name, got.Status, got.Version, tc.status)
		}
		h := history(t, s, r.ID)
		if len(h) != 2 || h[1].Action != tc.action {
			t.Errorf("%s: history %+v, want a second entry for %s", tc.name, h, tc.action)
		}
		if err := approval.VerifyChain(h); err != nil {
			t.Errorf("%s: VerifyChain: %v", tc.name, err)
		}
		recs := outbox(t, s, r.ID)
		if len(recs) != 2 || recs[1].Type != tc.event || recs[1].Version != 2 {
			t.Errorf("%s: outbox %+v, want a second event %s at version 2", tc.name, recs, tc.event)
		}
	}
}

func testListFilters(t *testing.T, s Store) {
	local := map[string]*approval.Request{}
	add := func(p approval.Principal, rule string, fns ...op) string {
		r := create(t, s, p, approval.Draft{ServiceRule: rule}, approval.DefaultPolicy())
		for _, fn := range fns {
			step(t, s, r, fn)
		}
		local[r.ID] = r
		return r.ID
	}
	a1 := add(alice, "")
	a2 := add(alice, "", cancelOp(alice, at(time.Minute)))
	b1 := add(bob, "publisher")
	b2 := add(bob, "", reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)))
	a3 := add(alice, "publisher")
	b3 := add(bob, "billing", reviewOp(reviewer("dave"), approval.DecisionReject, at(time.Minute))) // acknowledged_rejected

	newestFirst := func(ids ...string) []string {
		slices.Sort(ids)
		slices.Reverse(ids)
		return ids
	}
	all := newestFirst(a1, a2, a3, b1, b2, b3)
	tests := []struct {
		name   string
		filter approval.Filter
		want   []string
	}{
		{"all", approval.Filter{}, all},
		{"pending", approval.Filter{Statuses: []approval.Status{approval.StatusPending}}, newestFirst(a1, b1, a3)},
		{"approved or cancelled", approval.Filter{Statuses: []approval.Status{approval.StatusApproved, approval.StatusCancelled}}, newestFirst(a2, b2)},
		{"acknowledged", approval.Filter{Statuses: []approval.Status{approval.StatusAcknowledgedRejected}}, []string{b3}},
		{"expired", approval.Filter{Statuses: []approval.Status{approval.StatusExpired}}, nil},
		{"requester", approval.Filter{Requester: alice.ID}, newestFirst(a1, a2, a3)},
		{"unknown requester", approval.Filter{Requester: "user:nobody"}, nil},
		{"service rule", approval.Filter{ServiceRule: "publisher"}, newestFirst(b1, a3)},
		{"all filters", approval.Filter{
			Statuses: []approval.Status{approval.StatusPending, approval.StatusAcknowledgedRejected}, Requester: bob.ID, ServiceRule: "billing",
		}, []string{b3}},
		{"before", approval.Filter{Before: all[2]}, all[3:]},
		{"before and limit", approval.Filter{Before: all[0], Limit: 2}, all[1:3]},
		{"several statuses, before and limit", approval.Filter{
			Statuses: []approval.Status{approval.StatusCancelled, approval.StatusPending, approval.StatusApproved},
			Before:   newestFirst(a1, a2, a3, b1, b2)[0], Limit: 3,
		}, newestFirst(a1, a2, a3, b1, b2)[1:4]},
	}
	for _, tc := range tests {
		got, err := s.ListApprovals(t.Context(), tc.filter)
		if err != nil {
			t.Fatalf("%s: ListApprovals: %v", tc.name, err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("%s: ListApprovals(%+v) = %v, want %v", tc.name, tc.filter, ids(got), tc.want)
		}
		for _, r := range got {
			equalRequest(t, tc.name+": listed request", r, local[r.ID])
		}
	}
}

func testListPaging(t *testing.T, s Store) {
	const n = 55
	var all, bobs []string
	for i := range n {
		p := alice
		if i%3 == 0 {
			p = bob
		}
		id := create(t, s, p, approval.Draft{}, approval.DefaultPolicy()).ID
		all = append(all, id)
		if p.ID == bob.ID {
			bobs = append(bobs, id)
		}
	}
	slices.Sort(all)
	slices.Reverse(all)
	slices.Sort(bobs)
	slices.Reverse(bobs)

	got, err := s.ListApprovals(t.Context(), approval.Filter{})
	if err != nil {
		t.Fatalf("ListApprovals: %v", err)
	}
	if !slices.Equal(ids(got), all[:50]) {
		t.Errorf("ListApprovals without a limit returned %d requests, want the newest 50", len(got))
	}

	pages := func(f approval.Filter) []string {
		var seen []string
		for range n {
			page, err := s.ListApprovals(t.Context(), f)
			if err != nil {
				t.Fatalf("ListApprovals(%+v): %v", f, err)
			}
			if len(page) > f.Limit {
				t.Fatalf("ListApprovals(%+v) returned %d requests, over the limit", f, len(page))
			}
			if len(page) == 0 {
				return seen
			}
			seen = append(seen, ids(page)...)
			f.Before = page[len(page)-1].ID
		}
		t.Fatalf("paging with %+v does not end", f)
		return nil
	}
	if got := pages(approval.Filter{Limit: 7}); !slices.Equal(got, all) {
		t.Errorf("paging by 7 gave %d ids %v,\nwant %d ids %v", len(got), got, len(all), all)
	}
	if got := pages(approval.Filter{Requester: bob.ID, Limit: 4}); !slices.Equal(got, bobs) {
		t.Errorf("paging bob's requests by 4 gave %v, want %v", got, bobs)
	}
}

func testOverdue(t *testing.T, s Store) {
	withDeadline := func(d time.Duration) approval.Draft {
		deadline := at(d)
		return approval.Draft{Deadline: &deadline}
	}
	o1 := create(t, s, alice, withDeadline(time.Hour), approval.DefaultPolicy())
	o2 := create(t, s, alice, withDeadline(2*time.Hour), approval.DefaultPolicy())
	o3 := create(t, s, bob, withDeadline(3*time.Hour), approval.DefaultPolicy())
	create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	cancelled := create(t, s, alice, withDeadline(time.Hour), approval.DefaultPolicy())
	step(t, s, cancelled, cancelOp(alice, at(time.Minute)))
	expired := create(t, s, alice, withDeadline(time.Hour), approval.DefaultPolicy())
	step(t, s, expired, expireOp(at(90*time.Minute)))
	// Sent back for changes, a request still expires at its deadline.
	sentBack := create(t, s, alice, withDeadline(100*time.Minute), approval.DefaultPolicy())
	step(t, s, sentBack, func(r *approval.Request) (approval.Change, error) {
		return r.Review(reviewer("carol"), approval.ReviewInput{Decision: approval.DecisionRequestChanges, Comment: "fix the amount"}, nil, at(time.Minute))
	})
	if sentBack.Status != approval.StatusChangesRequested {
		t.Fatalf("the request sent back is %s", sentBack.Status)
	}

	overdue := func(now time.Time, limit int) []string {
		t.Helper()
		got, err := s.Overdue(t.Context(), now, limit)
		if err != nil {
			t.Fatalf("Overdue: %v", err)
		}
		slices.Sort(got)
		return got
	}
	sorted := func(ids ...string) []string {
		slices.Sort(ids)
		return ids
	}
	if got := overdue(at(30*time.Minute), 10); len(got) != 0 {
		t.Errorf("Overdue(+30m) = %v, want none", got)
	}
	if got, want := overdue(at(90*time.Minute), 10), sorted(o1.ID); !slices.Equal(got, want) {
		t.Errorf("Overdue(+90m) = %v, want %v", got, want)
	}
	if got, want := overdue(at(2*time.Hour), 10), sorted(o1.ID, o2.ID, sentBack.ID); !slices.Equal(got, want) {
		t.Errorf("Overdue(+2h), a deadline exactly then included, = %v, want %v", got, want)
	}
	got := overdue(at(4*time.Hour), 2)
	if want := sorted(o1.ID, sentBack.ID); !slices.Equal(got, want) {
		t.Errorf("Overdue(+4h, limit 2) = %v, want the two earliest deadlines %v", got, want)
	}

	step(t, s, sentBack, expireOp(at(4*time.Hour)))
	step(t, s, o1, expireOp(at(4*time.Hour)))
	if got, want := overdue(at(4*time.Hour), 10), sorted(o2.ID, o3.ID); !slices.Equal(got, want) {
		t.Errorf("Overdue(+4h) after expiring one = %v, want %v", got, want)
	}
}
