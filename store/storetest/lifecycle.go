package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// lifecycleOp edits r's comment and then sets its lifecycle fields with set:
// the store keeps whatever the domain decided, so the test need not reach
// each status through the engine.
func lifecycleOp(now time.Time, set func(*approval.Request)) op {
	return func(r *approval.Request) (approval.Change, error) {
		ch, err := r.Edit(alice, approval.Patch{Comment: approval.Some("lifecycle " + now.String())}, nil, now)
		set(r)
		return ch, err
	}
}

// testLifecycleFields checks that the justification, items, item outcome,
// cycle and revocation round-trip on create and update, set and unset (no
// items reads back nil, however given), and the reviews' item decisions and
// automatic decision record with them.
func testLifecycleFields(t *testing.T, s Store) {
	items := []approval.Item{
		{ID: "a", Name: "a.csv ✓", MediaType: "text/csv", Size: 12, Digest: "sha256:" + strings.Repeat("a", 64), Metadata: json.RawMessage(`{"rows":3}`)},
		{ID: "b", Name: "b.bin", Size: 0, Digest: "sha512:" + strings.Repeat("b", 128)},
	}
	r, ch := newRequest(t, alice, approval.Draft{Title: "items"}, twoApprovals)
	r.Justification, r.Items = "quarterly audit", items
	if _, err := s.CreateApproval(t.Context(), r, ch, nil); err != nil {
		t.Fatal(err)
	}
	equalRequest(t, "created with items and a justification", get(t, s, r.ID), r)

	// A cycle, an item outcome, a revocation, and reviews with item
	// decisions and an automatic decision's record.
	step(t, s, r, lifecycleOp(at(time.Minute), func(q *approval.Request) {
		q.Cycle, q.Status = 2, approval.StatusRevoked
		q.ItemOutcome = &approval.ItemOutcome{Approved: []approval.ItemRef{{ID: "a", Name: "a.csv ✓", Digest: items[0].Digest}},
			Rejected: []approval.ItemRef{{ID: "b", Name: "b.bin", Digest: items[1].Digest}}, Partial: true}
		q.Revocation = &approval.Revocation{By: "user:bob", At: at(time.Minute), Reason: "leaked ✓"}
		q.Reviews = append(q.Reviews,
			approval.Review{Reviewer: "user:dave", Decision: approval.DecisionApprove, At: at(time.Minute), Version: q.Version,
				Items: []approval.ItemDecision{{ID: "a", Decision: approval.DecisionApprove}, {ID: "b", Decision: approval.DecisionReject}}},
			approval.Review{Reviewer: approval.AutoPrincipal("small"), Decision: approval.DecisionApprove, At: at(time.Minute), Version: q.Version,
				Auto: &approval.AutoDecision{Policy: "small", Rule: "two", Expression: "size(items) < 3", Inputs: json.RawMessage(`{"items":2}`)}})
	}))
	got := get(t, s, r.ID)
	equalRequest(t, "updated with every lifecycle field", got, r)
	if got.Revocation == nil || !got.Revocation.At.Equal(at(time.Minute)) || got.ItemOutcome == nil || !got.ItemOutcome.Partial ||
		len(got.Reviews) < 2 || len(got.Reviews[len(got.Reviews)-2].Items) != 2 || got.Reviews[len(got.Reviews)-1].Auto == nil {
		t.Errorf("the lifecycle fields read back as %s", dump(got))
	}

	// Unset again: no outcome and no revocation read back nil, an empty
	// list of items nil too.
	got, err := s.UpdateApproval(t.Context(), r.ID, lifecycleOp(at(2*time.Minute), func(q *approval.Request) {
		q.Justification, q.Items, q.ItemOutcome, q.Revocation, q.Cycle = "", []approval.Item{}, nil, nil, 0
	}))
	if err != nil {
		t.Fatal(err)
	}
	got = get(t, s, r.ID)
	if got.Justification != "" || got.Items != nil || got.ItemOutcome != nil || got.Revocation != nil || got.Cycle != 0 || got.Version != r.Version+1 {
		t.Errorf("the cleared lifecycle fields read back as %s", dump(got))
	}
}

// testLifecycleStatuses checks that changes_requested and revoked are
// stored, listed and filtered on, and that DeleteServiceRule counts a
// request sent back for changes (not final) but not a revoked one (final).
func testLifecycleStatuses(t *testing.T, s Store) {
	ctx := t.Context()
	createRule(t, s, newRule("r1"))
	sentBack := create(t, s, alice, approval.Draft{ServiceRule: "r1"}, approval.DefaultPolicy())
	revoked := create(t, s, alice, approval.Draft{ServiceRule: "r1"}, approval.DefaultPolicy())
	pending := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	step(t, s, sentBack, lifecycleOp(at(time.Minute), func(q *approval.Request) { q.Status, q.Cycle = approval.StatusChangesRequested, 1 }))
	step(t, s, revoked, lifecycleOp(at(time.Minute), func(q *approval.Request) {
		q.Status, q.Revocation = approval.StatusRevoked, &approval.Revocation{By: "user:bob", At: at(time.Minute), Reason: "no"}
	}))
	list := func(want []string, statuses ...approval.Status) {
		t.Helper()
		got, err := s.ListApprovals(ctx, approval.Filter{Statuses: statuses, Limit: 10})
		if g := ids(got); err != nil || !slices.Equal(g, want) {
			t.Errorf("ListApprovals(%v) = %v, %v; want %v", statuses, g, err, want)
		}
	}
	list([]string{sentBack.ID}, approval.StatusChangesRequested)
	list([]string{revoked.ID}, approval.StatusRevoked)
	list([]string{revoked.ID, sentBack.ID}, approval.StatusChangesRequested, approval.StatusRevoked)
	list([]string{pending.ID, revoked.ID, sentBack.ID})
	if got := get(t, s, sentBack.ID); got.Status != approval.StatusChangesRequested || got.Cycle != 1 {
		t.Errorf("the request sent back reads back %v, cycle %d", got.Status, got.Cycle)
	}
	byDeadline, err := s.ListByDeadline(ctx, []approval.Status{approval.StatusRevoked}, 0, 10)
	if g := ids(byDeadline); err != nil || !slices.Equal(g, []string{revoked.ID}) {
		t.Errorf("ListByDeadline(revoked) = %v, %v; want %v", g, err, revoked.ID)
	}

	err = s.DeleteServiceRule(ctx, "r1")
	wantKind(t, "DeleteServiceRule while a request sent back for changes names it", err, approval.KindConflict)
	if err != nil && !strings.Contains(err.Error(), "1 request") {
		t.Errorf("DeleteServiceRule counted the revoked request too: %q", err)
	}
	step(t, s, sentBack, cancelOp(alice, at(2*time.Minute)))
	step(t, s, sentBack, deliveredOp(at(3*time.Minute)))
	if err := s.DeleteServiceRule(ctx, "r1"); err != nil {
		t.Errorf("DeleteServiceRule once only final (revoked, cancelled) requests name it: %v", err)
	}
}

// testPolicyMatchPriority checks that a stored policy's match and priority
// round-trip on create, update and list, and that none reads back empty.
func testPolicyMatchPriority(t *testing.T, s Store) {
	ctx := t.Context()
	plain := newPolicy("plain")
	if err := s.CreatePolicy(ctx, plain); err != nil {
		t.Fatal(err)
	}
	matched := newPolicy("matched")
	matched.Match, matched.Priority = `payload.amount > 1000 && "finance" in groups`, -3
	if err := s.CreatePolicy(ctx, matched); err != nil {
		t.Fatal(err)
	}
	policyIs(t, s, plain)
	policyIs(t, s, matched)
	updated, err := s.UpdatePolicy(ctx, "matched", func(p *approval.StoredPolicy) error {
		p.Match, p.Priority, p.UpdatedAt = "size(items) > 0", 42, at(time.Hour)
		return nil
	})
	if err != nil || updated.Match != "size(items) > 0" || updated.Priority != 42 {
		t.Fatalf("UpdatePolicy = %+v, %v", updated, err)
	}
	policyIs(t, s, updated)
	policies(t, s, *updated, *plain)
}
