package storetest

import (
	"maps"
	"slices"
	"testing"
	"time"

	"approvald/approval"
)

// admin may edit any request, its policy included.
var admin = approval.Principal{ID: "user:root", Scopes: []approval.Scope{approval.ScopeAdmin}}

// createDependent stores a new request by p under pol that depends on deps,
// stored requests whose statuses in the test's copies are current, and
// returns the test's copy of it. The statuses of the dependencies are not
// stored, so the copy forgets them too.
func createDependent(t *testing.T, s Store, p approval.Principal, pol approval.Policy, deps ...*approval.Request) *approval.Request {
	t.Helper()
	d := approval.Draft{Dependencies: approval.Deps{}}
	for _, dep := range deps {
		d.DependsOn = append(d.DependsOn, dep.ID)
		d.Dependencies[dep.ID] = dep.Status
	}
	r := create(t, s, p, d, pol)
	r.SetDependencies(nil)
	return r
}

// resolveOp resolves a request by the statuses deps of its dependencies.
func resolveOp(deps approval.Deps, now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) {
		r.SetDependencies(deps)
		ch := r.Resolve(now)
		r.SetDependencies(nil) // not stored: the test's copy must not keep them either
		return ch, nil
	}
}

func remindOp(now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) { return r.Remind(now), nil }
}

// sortedIDs returns the ids of rs in ascending order.
func sortedIDs(rs ...*approval.Request) []string {
	out := ids(rs)
	slices.Sort(out)
	return out
}

// testNewFieldsRoundTrip stores requests with every field of stored
// policies, dependencies and reminders set, and changes them.
func testNewFieldsRoundTrip(t *testing.T, s Store) {
	dep := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	staged := approval.Policy{Stages: []approval.Stage{
		{Name: "owners", Rules: []approval.Rule{{Name: "owner", MinApprovals: 1, Principals: []string{"user:dave"}, RejectThreshold: 1}}},
		{Name: "finance", Rules: []approval.Rule{{Name: "finance", MinApprovals: 1, Groups: []string{"finance"}, RejectThreshold: 1}}},
	}}
	r, ch, err := approval.New(newID(t), approval.Draft{
		Title: "Release 2.0", DependsOn: []string{dep.ID}, Dependencies: approval.Deps{dep.ID: dep.Status},
		RemindAfter: approval.Duration(90 * time.Minute),
	}, alice, approval.Mandate{Policy: staged, Source: "policy:release"}, t0)
	if err != nil {
		t.Fatalf("approval.New: %v", err)
	}
	r.SetDependencies(nil)
	if r.NextReminderAt == nil {
		t.Fatal("the new request has no reminder scheduled")
	}
	if _, err := s.CreateApproval(t.Context(), r.Clone(), ch, nil); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	equalRequest(t, "GetApproval", get(t, s, r.ID), r)

	step(t, s, r, remindOp(at(2*time.Hour))) // next reminder moves
	step(t, s, r, reviewOp(reviewer("dave"), approval.DecisionApprove, at(3*time.Hour)))
	step(t, s, r, reviewOp(reviewer("erin", "finance"), approval.DecisionApprove, at(4*time.Hour)))
	if got := get(t, s, r.ID); len(got.Reviews) != 2 || got.Reviews[0].Stage != 0 || got.Reviews[1].Stage != 1 ||
		got.Status != approval.StatusPending || got.NextReminderAt != nil {
		t.Errorf("after a review in each stage the request is %s, want pending, without a reminder, with reviews in stages 0 and 1", dump(got))
	}
	step(t, s, dep, cancelOp(bob, at(5*time.Hour)))
	step(t, s, r, resolveOp(approval.Deps{dep.ID: approval.StatusCancelled}, at(6*time.Hour)))
	if got := get(t, s, r.ID); got.Status != approval.StatusRejected || got.Reason == "" {
		t.Errorf("after its dependency was cancelled the request is %s, want rejected with a reason", dump(got))
	}

	// An admin's policy edit is an override; a deadline's expiry gives a reason.
	deadline := at(time.Hour)
	other := create(t, s, alice, approval.Draft{Deadline: &deadline, RemindAfter: approval.Duration(time.Hour)}, approval.DefaultPolicy())
	step(t, s, other, editOp(admin, approval.Patch{Policy: approval.Some(twoApprovals), RemindAfter: approval.Some(approval.Duration(2 * time.Hour))}, at(time.Minute)))
	step(t, s, other, expireOp(at(2*time.Hour)))
	if got := get(t, s, other.ID); got.PolicySource != "override:"+admin.ID || got.Reason == "" || got.RemindAfter != approval.Duration(2*time.Hour) {
		t.Errorf("the edited and expired request is %s, want an overridden policy, a reason and remind_after 2h", dump(got))
	}

	// What the requester asked of the policy, and the content digest, are
	// kept as written (the digest as of the last change).
	extra := approval.Policy{Rules: []approval.Rule{{Name: "sec", MinApprovals: 1, Groups: []string{"security"}}}}
	asked := create(t, s, alice, approval.Draft{PolicyName: "release", Policy: &extra}, approval.DefaultPolicy())
	got := get(t, s, asked.ID)
	if got.PolicyRequest.Name != "release" || got.PolicyRequest.Policy == nil || len(got.PolicyRequest.Policy.Rules) != 1 ||
		got.PolicyRequest.Policy.Rules[0].Groups[0] != "security" || got.Digest == "" || got.Digest != got.ContentDigest() {
		t.Errorf("the request is %s with policy request %+v, want the policy request as created and its content digest", dump(got), got.PolicyRequest)
	}
	if plain := get(t, s, other.ID); !plain.PolicyRequest.IsZero() || plain.Digest != plain.ContentDigest() {
		t.Errorf("a request that asked nothing of its policy reads back with %+v and digest %q", plain.PolicyRequest, plain.Digest)
	}
}

// inbox returns the ids of p's inbox after the cursor after, at most limit.
func inbox(t *testing.T, s Store, p approval.Principal, after string, limit int) []string {
	t.Helper()
	got, err := s.Inbox(t.Context(), approval.InboxQuery{Principal: p, After: after, Limit: limit})
	if err != nil {
		t.Fatalf("Inbox(%s, after %q, limit %d): %v", p.ID, after, limit, err)
	}
	return ids(got)
}

// wantInbox checks that p's inbox holds exactly want, oldest first, as the
// test's copies of those requests.
func wantInbox(t *testing.T, s Store, what string, p approval.Principal, want ...*approval.Request) {
	t.Helper()
	got, err := s.Inbox(t.Context(), approval.InboxQuery{Principal: p})
	if err != nil {
		t.Fatalf("%s: Inbox(%s): %v", what, p.ID, err)
	}
	if w := sortedIDs(want...); !slices.Equal(ids(got), w) {
		t.Errorf("%s: Inbox(%s) = %v, want %v", what, p.ID, ids(got), w)
		return
	}
	byID := map[string]*approval.Request{}
	for _, r := range want {
		byID[r.ID] = r
	}
	for _, r := range got {
		equalRequest(t, what+": inbox request", r, byID[r.ID])
	}
}

func testInbox(t *testing.T, s Store) {
	dave := reviewer("dave", "finance")
	erin := reviewer("erin")
	frank := reviewer("frank", "ops")
	// dave also makes requests, and may not review his own.
	daveRequests := approval.Principal{ID: dave.ID, Groups: dave.Groups, Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeReview}}

	anyone := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	finance := create(t, s, alice, approval.Draft{}, approval.Policy{Rules: []approval.Rule{
		{Name: "finance", MinApprovals: 1, Groups: []string{"finance"}}}})
	erinOnly := create(t, s, bob, approval.Draft{}, approval.Policy{Rules: []approval.Rule{
		{Name: "erin", MinApprovals: 1, Principals: []string{erin.ID}}}})
	// dave matches this one under three keys: "*", g:finance and p:user:dave.
	several := create(t, s, bob, approval.Draft{}, approval.Policy{Rules: []approval.Rule{
		{Name: "two", MinApprovals: 2},
		{Name: "finance", MinApprovals: 1, Groups: []string{"finance"}},
		{Name: "dave", MinApprovals: 1, Principals: []string{dave.ID}},
	}})
	davesOwn := create(t, s, daveRequests, approval.Draft{}, approval.DefaultPolicy())
	reviewed := create(t, s, alice, approval.Draft{}, twoApprovals)
	step(t, s, reviewed, reviewOp(erin, approval.DecisionApprove, at(time.Minute)))
	staged := create(t, s, bob, approval.Draft{}, approval.Policy{Stages: []approval.Stage{
		{Name: "dave", Rules: []approval.Rule{{Name: "dave", MinApprovals: 1, Principals: []string{dave.ID}}}},
		{Name: "ops", Rules: []approval.Rule{{Name: "ops", MinApprovals: 1, Groups: []string{"ops"}}}},
	}})
	decided := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	step(t, s, decided, reviewOp(frank, approval.DecisionApprove, at(time.Minute)))
	cancelled := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	step(t, s, cancelled, cancelOp(alice, at(time.Minute)))

	wantInbox(t, s, "at first", dave, anyone, finance, several, reviewed, staged)
	wantInbox(t, s, "at first", erin, anyone, erinOnly, several, davesOwn)
	wantInbox(t, s, "at first", frank, anyone, several, davesOwn, reviewed)
	wantInbox(t, s, "at first", reviewer("grace", "legal"), anyone, several, davesOwn, reviewed)
	wantInbox(t, s, "at first", approval.Principal{ID: "user:nobody-else"}, anyone, several, davesOwn, reviewed)

	// A review moves the staged request to its next stage's reviewers; one
	// that decides takes it out of every inbox.
	step(t, s, staged, reviewOp(dave, approval.DecisionApprove, at(2*time.Minute)))
	step(t, s, anyone, reviewOp(erin, approval.DecisionApprove, at(2*time.Minute)))
	wantInbox(t, s, "after reviews", dave, finance, several, reviewed)
	wantInbox(t, s, "after reviews", frank, several, davesOwn, reviewed, staged)
	wantInbox(t, s, "after reviews", erin, erinOnly, several, davesOwn)

	// dave's approval of several satisfies the rules of his group and his
	// name, not the rule of anyone: he leaves, the others stay.
	step(t, s, several, reviewOp(dave, approval.DecisionApprove, at(3*time.Minute)))
	wantInbox(t, s, "after dave's review", dave, finance, reviewed)
	wantInbox(t, s, "after dave's review", erin, erinOnly, several, davesOwn)

	// A new policy voids the reviews: erin may review again.
	threeApprovals := approval.Policy{Rules: []approval.Rule{{Name: "three", MinApprovals: 3, RejectThreshold: 1}}}
	step(t, s, reviewed, editOp(admin, approval.Patch{Policy: approval.Some(threeApprovals)}, at(4*time.Minute)))
	wantInbox(t, s, "after the policy edit", erin, erinOnly, several, davesOwn, reviewed)
}

// testInboxPaging pages through an inbox whose requests match the
// principal under several keys each.
func testInboxPaging(t *testing.T, s Store) {
	dave := reviewer("dave", "finance", "ops")
	daveRequests := approval.Principal{ID: dave.ID, Scopes: []approval.Scope{approval.ScopeCreate}}
	policies := []approval.Policy{
		approval.DefaultPolicy(),
		{Rules: []approval.Rule{{Name: "finance", MinApprovals: 1, Groups: []string{"finance"}}}},
		{Rules: []approval.Rule{{Name: "dave", MinApprovals: 1, Principals: []string{dave.ID}}}},
		{Rules: []approval.Rule{
			{Name: "anyone", MinApprovals: 1},
			{Name: "ops", MinApprovals: 1, Groups: []string{"ops", "finance"}},
			{Name: "dave", MinApprovals: 1, Principals: []string{dave.ID, "user:erin"}},
		}},
	}
	const n = 23
	var all []string
	for i := range n {
		r := create(t, s, alice, approval.Draft{}, policies[i%len(policies)])
		all = append(all, r.ID)
		create(t, s, daveRequests, approval.Draft{}, approval.DefaultPolicy()) // not in dave's inbox
	}
	slices.Sort(all)

	if got := inbox(t, s, dave, "", 0); !slices.Equal(got, all) {
		t.Errorf("Inbox without a limit = %v, want all %d: %v", got, n, all)
	}
	for _, limit := range []int{1, 3, 7, n, n + 5} {
		var seen []string
		after := ""
		for range n + 1 {
			page := inbox(t, s, dave, after, limit)
			if len(page) > limit {
				t.Fatalf("Inbox(limit %d) returned %d requests", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			seen = append(seen, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(seen, all) {
			t.Errorf("paging by %d gave %v,\nwant %v", limit, seen, all)
		}
	}
	if got := inbox(t, s, dave, all[n-1], 10); len(got) != 0 {
		t.Errorf("Inbox after the last id = %v, want nothing", got)
	}
	if got := inbox(t, s, dave, all[4], 3); !slices.Equal(got, all[5:8]) {
		t.Errorf("Inbox after the fifth id, limit 3 = %v, want %v", got, all[5:8])
	}
	if got := inbox(t, s, dave, "ffffffff-ffff-ffff-ffff-ffffffffffff", 10); len(got) != 0 {
		t.Errorf("Inbox after the highest id = %v, want nothing", got)
	}
}

func testStatuses(t *testing.T, s Store) {
	pending := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	cancelled := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	step(t, s, cancelled, cancelOp(alice, at(time.Minute)))
	acknowledged := create(t, s, alice, approval.Draft{ServiceRule: "publisher"}, approval.DefaultPolicy())
	step(t, s, acknowledged, reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)))

	for _, ids := range [][]string{nil, {}} {
		got, err := s.Statuses(t.Context(), ids)
		if err != nil || len(got) != 0 {
			t.Errorf("Statuses(%#v) = %v, %v; want nothing", ids, got, err)
		}
	}
	got, err := s.Statuses(t.Context(), []string{
		pending.ID, cancelled.ID, acknowledged.ID, newID(t), "not-a-uuid", "", pending.ID,
	})
	want := approval.Deps{
		pending.ID:      approval.StatusPending,
		cancelled.ID:    approval.StatusCancelled,
		acknowledged.ID: approval.StatusAcknowledgedApproved,
	}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("Statuses = %v, %v; want %v", got, err, want)
	}
}

func testDependents(t *testing.T, s Store) {
	dependents := func(id string) []string {
		t.Helper()
		got, err := s.Dependents(t.Context(), id)
		if err != nil {
			t.Fatalf("Dependents(%s): %v", id, err)
		}
		return got
	}
	d := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	other := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	a := createDependent(t, s, alice, approval.DefaultPolicy(), d)
	b := createDependent(t, s, alice, approval.DefaultPolicy(), other, d)
	c := createDependent(t, s, alice, approval.DefaultPolicy(), other)

	if got, want := dependents(d.ID), sortedIDs(a, b); !slices.Equal(got, want) {
		t.Errorf("Dependents = %v, want %v", got, want)
	}
	if got, want := dependents(other.ID), sortedIDs(b, c); !slices.Equal(got, want) {
		t.Errorf("Dependents of the other = %v, want %v", got, want)
	}
	// Only pending dependents count.
	step(t, s, a, cancelOp(alice, at(time.Minute)))
	if got, want := dependents(d.ID), sortedIDs(b); !slices.Equal(got, want) {
		t.Errorf("Dependents after cancelling one = %v, want %v", got, want)
	}
	for _, id := range []string{a.ID, newID(t), "not-a-uuid"} {
		if got := dependents(id); len(got) != 0 {
			t.Errorf("Dependents(%s) = %v, want none", id, got)
		}
	}
}

func testUnresolved(t *testing.T, s Store) {
	unresolved := func(limit int) []string {
		t.Helper()
		got, err := s.Unresolved(t.Context(), limit)
		if err != nil {
			t.Fatalf("Unresolved: %v", err)
		}
		return got
	}
	dave := reviewer("dave")
	deadline := at(time.Hour)
	d1 := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	d2 := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	d3 := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	d4 := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	d5 := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	d6 := create(t, s, bob, approval.Draft{Deadline: &deadline}, approval.DefaultPolicy())

	cancelledDep := createDependent(t, s, alice, approval.DefaultPolicy(), d1, d2)
	blocked := createDependent(t, s, alice, approval.DefaultPolicy(), d2, d3)
	step(t, s, blocked, reviewOp(dave, approval.DecisionApprove, at(time.Minute))) // satisfied: only d2 and d3 hold it
	waiting := createDependent(t, s, alice, twoApprovals, d4)                      // its policy is not satisfied
	rejectedDep := createDependent(t, s, alice, twoApprovals, d4, d5)
	expiredDep := createDependent(t, s, alice, approval.DefaultPolicy(), d6)
	if got := unresolved(10); len(got) != 0 {
		t.Fatalf("Unresolved before any dependency settled = %v, want none", got)
	}

	step(t, s, d1, cancelOp(bob, at(2*time.Minute)))
	step(t, s, d2, reviewOp(dave, approval.DecisionApprove, at(2*time.Minute)))
	step(t, s, d4, reviewOp(dave, approval.DecisionApprove, at(2*time.Minute)))
	// cancelledDep: d1 failed. blocked: d3 is still pending. waiting and
	// rejectedDep: d4 is approved, but their policy is not satisfied and d5
	// is pending.
	if got, want := unresolved(10), sortedIDs(cancelledDep); !slices.Equal(got, want) {
		t.Errorf("Unresolved with a cancelled dependency = %v, want %v", got, want)
	}

	step(t, s, d3, reviewOp(dave, approval.DecisionApprove, at(3*time.Minute)))
	step(t, s, d5, reviewOp(dave, approval.DecisionReject, at(3*time.Minute)))
	step(t, s, d6, expireOp(at(2*time.Hour)))
	all := sortedIDs(cancelledDep, blocked, rejectedDep, expiredDep)
	if got := unresolved(10); !slices.Equal(got, all) {
		t.Errorf("Unresolved once every dependency of the blocked one is approved and more failed = %v, want %v", got, all)
	}
	if got := unresolved(2); !slices.Equal(got, all[:2]) {
		t.Errorf("Unresolved(2) = %v, want the oldest, %v", got, all[:2])
	}

	// Resolved, they are no longer pending.
	step(t, s, cancelledDep, resolveOp(approval.Deps{d1.ID: approval.StatusCancelled, d2.ID: approval.StatusApproved}, at(4*time.Minute)))
	step(t, s, blocked, resolveOp(approval.Deps{d2.ID: approval.StatusApproved, d3.ID: approval.StatusApproved}, at(4*time.Minute)))
	if cancelledDep.Status != approval.StatusRejected || blocked.Status != approval.StatusApproved {
		t.Fatalf("resolving made the requests %v and %v, want rejected and approved", cancelledDep.Status, blocked.Status)
	}
	if got, want := unresolved(10), sortedIDs(rejectedDep, expiredDep); !slices.Equal(got, want) {
		t.Errorf("Unresolved after resolving two = %v, want %v", got, want)
	}
	if waiting.Status != approval.StatusPending {
		t.Errorf("the waiting request is %v, want pending", waiting.Status)
	}
}

func testDueReminders(t *testing.T, s Store) {
	due := func(now time.Time, limit int) []string {
		t.Helper()
		got, err := s.DueReminders(t.Context(), now, limit)
		if err != nil {
			t.Fatalf("DueReminders: %v", err)
		}
		return got
	}
	remindAfter := func(d time.Duration) approval.Draft {
		return approval.Draft{RemindAfter: approval.Duration(d)}
	}
	hourly := create(t, s, alice, remindAfter(time.Hour), approval.DefaultPolicy())
	twoHourly := create(t, s, alice, remindAfter(2*time.Hour), approval.DefaultPolicy())
	halfHourly := create(t, s, bob, remindAfter(30*time.Minute), approval.DefaultPolicy())
	create(t, s, alice, approval.Draft{}, approval.DefaultPolicy()) // no reminders
	cancelled := create(t, s, alice, remindAfter(10*time.Minute), approval.DefaultPolicy())
	step(t, s, cancelled, cancelOp(alice, at(time.Minute)))
	// blocked is held only by its dependency; its requester asks for
	// reminders all the same.
	dep := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	blocked := createDependent(t, s, alice, approval.DefaultPolicy(), dep)
	step(t, s, blocked, reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)))
	step(t, s, blocked, editOp(alice, approval.Patch{RemindAfter: approval.Some(approval.Duration(10 * time.Minute))}, at(2*time.Minute)))
	if blocked.NextReminderAt == nil {
		t.Fatal("the blocked request has no reminder scheduled")
	}

	tests := []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{at(29 * time.Minute), 10, nil},
		{at(30 * time.Minute), 10, []string{halfHourly.ID}},
		{at(time.Hour), 10, []string{halfHourly.ID, hourly.ID}},
		{at(3 * time.Hour), 10, []string{halfHourly.ID, hourly.ID, twoHourly.ID}},
		{at(3 * time.Hour), 2, []string{halfHourly.ID, hourly.ID}},
	}
	for _, tc := range tests {
		if got := due(tc.now, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("DueReminders(+%v, %d) = %v, want %v", tc.now.Sub(t0), tc.limit, got, tc.want)
		}
	}

	// A reminder schedules the next; hourly is now due first.
	step(t, s, halfHourly, remindOp(at(40*time.Minute)))
	if got, want := due(at(time.Hour), 10), []string{hourly.ID}; !slices.Equal(got, want) {
		t.Errorf("DueReminders(+1h) after a reminder = %v, want %v", got, want)
	}
	if got, want := due(at(80*time.Minute), 10), []string{hourly.ID, halfHourly.ID}; !slices.Equal(got, want) {
		t.Errorf("DueReminders(+80m) after a reminder = %v, want %v", got, want)
	}
}
