package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/engine"
	"approvald/internal/testkit"
	"approvald/store/sqlite"
)

// The principals of the engine's tests.
var (
	engineAdmin = approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}
	requester   = approval.Principal{ID: "svc:billing", Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeRead}}
	ann         = approval.Principal{ID: "user:ann", Groups: []string{"owners"}, Scopes: []approval.Scope{approval.ScopeReview}}
	bob         = approval.Principal{ID: "user:bob", Groups: []string{"security"}, Scopes: []approval.Scope{approval.ScopeReview}}
	auditor     = approval.Principal{ID: "svc:audit", Scopes: []approval.Scope{approval.ScopeAudit, approval.ScopeRead}}
)

// bundle is what setup returns: an engine on a fresh SQLite store, its
// store, and the clock it reads.
type bundle struct {
	t     *testing.T
	ctx   context.Context
	eng   *engine.Engine
	store approval.Store
	clock *testkit.Clock

	mu       sync.Mutex
	observed []approval.Action // the actions of the changes the observer saw
}

func setup(t *testing.T) *bundle {
	t.Helper()
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &bundle{t: t, ctx: context.Background(), store: st,
		clock: testkit.NewClock(time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC))}
	b.eng = engine.New(st, engine.WithClock(b.clock.Now), engine.WithObserver(func(_ context.Context, ch approval.Change, _ *approval.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.observed = append(b.observed, ch.Entry.Action)
	}))
	return b
}

// create makes a request of d by the requester, or fails the test.
func (b *bundle) create(d approval.Draft) *approval.Request {
	b.t.Helper()
	c, err := b.eng.Create(b.ctx, requester, d, "", nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return c.Request
}

// stored returns the request as the store holds it, without the engine.
func (b *bundle) stored(id string) *approval.Request {
	b.t.Helper()
	r, err := b.store.GetApproval(b.ctx, id)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

// history returns the actions of the request's stored history.
func (b *bundle) history(id string) []approval.Action {
	b.t.Helper()
	h, err := b.eng.History(b.ctx, id)
	if err != nil {
		b.t.Fatal(err)
	}
	var out []approval.Action
	for _, e := range h.Entries {
		out = append(out, e.Action)
	}
	return out
}

// rule stores a service rule named name, mandating policy when not "".
func (b *bundle) rule(name, policy string) {
	b.t.Helper()
	if _, err := b.eng.CreateRule(b.ctx, engineAdmin, approval.ServiceRule{Name: name, URL: "http://127.0.0.1:9/" + name,
		Format: approval.FormatStandard, Policy: policy}); err != nil {
		b.t.Fatal(err)
	}
}

// wantError fails the test unless err has kind and, when code is not "", code.
func wantError(t *testing.T, err error, kind approval.Kind, code string) {
	t.Helper()
	if approval.KindOf(err) != kind || (code != "" && approval.AsError(err).Code != code) {
		t.Fatalf("error %v, want kind %v code %q", err, kind, code)
	}
}

func TestCreate(t *testing.T) {
	staged := approval.Policy{Stages: []approval.Stage{{Name: "one", Rules: []approval.Rule{{Name: "r", MinApprovals: 1}}}}}
	tests := []struct {
		name       string
		as         approval.Principal
		draft      func(b *bundle) approval.Draft
		wantSource string
		wantKind   approval.Kind
		wantCode   string
	}{
		{name: "default policy", as: requester, draft: func(*bundle) approval.Draft { return approval.Draft{Title: "t"} }, wantSource: engine.SourceDefault},
		{name: "the rule's mandate", as: requester, draft: func(b *bundle) approval.Draft {
			b.policy("staged", staged)
			b.rule("payments", "staged")
			return approval.Draft{Title: "t", ServiceRule: "payments"}
		}, wantSource: "service_rule:payments"},
		{name: "a stored policy by name", as: requester, draft: func(b *bundle) approval.Draft {
			b.policy("staged", staged)
			return approval.Draft{Title: "t", PolicyName: "staged"}
		}, wantSource: "policy:staged"},
		{name: "another policy than the rule mandates", as: requester, draft: func(b *bundle) approval.Draft {
			b.policy("staged", staged)
			b.policy("other", staged)
			b.rule("payments", "staged")
			return approval.Draft{Title: "t", ServiceRule: "payments", PolicyName: "other"}
		}, wantKind: approval.KindInvalid, wantCode: approval.CodeValidation},
		{name: "unknown service rule", as: requester, draft: func(*bundle) approval.Draft {
			return approval.Draft{Title: "t", ServiceRule: "nope"}
		}, wantKind: approval.KindInvalid, wantCode: approval.CodeValidation},
		{name: "unknown dependency", as: requester, draft: func(*bundle) approval.Draft {
			return approval.Draft{Title: "t", DependsOn: []string{"0190a4e0-0000-7000-8000-000000000001"}}
		}, wantKind: approval.KindInvalid, wantCode: approval.CodeValidation},
		{name: "a dependency that can never be approved", as: requester, draft: func(b *bundle) approval.Draft {
			dep := b.create(approval.Draft{Title: "dep"})
			if _, err := b.eng.Cancel(b.ctx, requester, dep.ID, "", nil); err != nil {
				b.t.Fatal(err)
			}
			return approval.Draft{Title: "t", DependsOn: []string{dep.ID}}
		}, wantKind: approval.KindInvalid, wantCode: approval.CodeValidation},
		{name: "a pending dependency", as: requester, draft: func(b *bundle) approval.Draft {
			return approval.Draft{Title: "t", DependsOn: []string{b.create(approval.Draft{Title: "dep"}).ID}}
		}, wantSource: engine.SourceDefault},
		{name: "without the create scope", as: ann, draft: func(*bundle) approval.Draft { return approval.Draft{Title: "t"} },
			wantKind: approval.KindForbidden, wantCode: approval.CodeMissingScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			c, err := b.eng.Create(b.ctx, tc.as, tc.draft(b), "", nil)
			if tc.wantKind != 0 {
				wantError(t, err, tc.wantKind, tc.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := b.stored(c.Request.ID)
			if got.Status != approval.StatusPending || got.PolicySource != tc.wantSource || got.Requester != tc.as.ID {
				t.Fatalf("created %s by %s from %q", got.Status, got.Requester, got.PolicySource)
			}
		})
	}
}

// policy stores the policy pol as name.
func (b *bundle) policy(name string, pol approval.Policy) {
	b.t.Helper()
	if _, err := b.eng.CreatePolicy(b.ctx, engineAdmin, approval.StoredPolicy{Name: name, Policy: pol}); err != nil {
		b.t.Fatal(err)
	}
}

func TestCreate_IdempotencyKeyReplaysTheFirstResponse(t *testing.T) {
	b := setup(t)
	body := []byte(`{"title":"t","payload":{"a":1}}`)
	first, err := b.eng.Create(b.ctx, requester, approval.Draft{Title: "t"}, "k1", body)
	if err != nil {
		t.Fatal(err)
	}
	// The same JSON, spaced and ordered otherwise, is the same body.
	again, err := b.eng.Create(b.ctx, requester, approval.Draft{Title: "t"}, "k1", []byte(`{ "payload": {"a": 1}, "title": "t" }`))
	if err != nil || !again.Replayed || again.Request.ID != first.Request.ID || string(again.Body) != string(first.Body) {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	_, err = b.eng.Create(b.ctx, requester, approval.Draft{Title: "u"}, "k1", []byte(`{"title":"u"}`))
	wantError(t, err, approval.KindInvalid, approval.CodeIdempotencyMismatch)
	// The key is the requester's: another principal's same key is its own.
	other := approval.Principal{ID: "svc:other", Scopes: []approval.Scope{approval.ScopeCreate}}
	if c, err := b.eng.Create(b.ctx, other, approval.Draft{Title: "u"}, "k1", []byte(`{"title":"u"}`)); err != nil || c.Replayed {
		t.Fatalf("another principal's key: %+v, %v", c, err)
	}
}

func TestReview(t *testing.T) {
	twoStages := approval.Policy{Stages: []approval.Stage{
		{Name: "owners", Rules: []approval.Rule{{Name: "owner", MinApprovals: 1, Groups: []string{"owners"}}}},
		{Name: "security", Rules: []approval.Rule{{Name: "sec", MinApprovals: 1, Groups: []string{"security"}}}},
	}}
	selfReview := approval.Principal{ID: requester.ID, Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeReview}}
	type step struct {
		as       approval.Principal
		decision approval.Decision
		want     approval.Status // after the step, when it succeeds
		kind     approval.Kind   // the error's, when it fails
		code     string
	}
	tests := []struct {
		name   string
		draft  approval.Draft
		rule   bool             // the request names a service rule: decisions are acknowledged
		policy *approval.Policy // stored as "p" and asked for by name
		steps  []step
	}{
		{name: "approve", draft: approval.Draft{Title: "t"}, steps: []step{{as: ann, decision: approval.DecisionApprove, want: approval.StatusApproved}}},
		{name: "reject", draft: approval.Draft{Title: "t"}, steps: []step{{as: ann, decision: approval.DecisionReject, want: approval.StatusRejected}}},
		{name: "approve with a service rule", rule: true, draft: approval.Draft{Title: "t"},
			steps: []step{{as: ann, decision: approval.DecisionApprove, want: approval.StatusAcknowledgedApproved}}},
		{name: "stages in order", draft: approval.Draft{Title: "t"}, policy: &twoStages, steps: []step{
			{as: bob, decision: approval.DecisionApprove, kind: approval.KindConflict, code: approval.CodeStageNotOpen},
			{as: ann, decision: approval.DecisionApprove, want: approval.StatusPending},
			{as: ann, decision: approval.DecisionApprove, kind: approval.KindConflict, code: approval.CodeAlreadyReviewed},
			{as: bob, decision: approval.DecisionApprove, want: approval.StatusApproved},
		}},
		{name: "the requester may not review their own request", draft: approval.Draft{Title: "t"}, steps: []step{
			{as: selfReview, decision: approval.DecisionApprove, kind: approval.KindForbidden, code: approval.CodeSelfReview},
		}},
		{name: "without the review scope", draft: approval.Draft{Title: "t"}, steps: []step{
			{as: requester, decision: approval.DecisionApprove, kind: approval.KindForbidden, code: approval.CodeMissingScope},
		}},
		{name: "a decided request takes no more reviews", draft: approval.Draft{Title: "t"}, steps: []step{
			{as: ann, decision: approval.DecisionReject, want: approval.StatusRejected},
			{as: bob, decision: approval.DecisionApprove, kind: approval.KindConflict, code: approval.CodeInvalidTransition},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			d := tc.draft
			if tc.rule {
				b.rule("payments", "")
				d.ServiceRule = "payments"
			}
			if tc.policy != nil {
				b.policy("p", *tc.policy)
				d.PolicyName = "p"
			}
			r := b.create(d)
			for i, s := range tc.steps {
				got, err := b.eng.Review(b.ctx, s.as, r.ID, approval.ReviewInput{Decision: s.decision}, nil)
				if s.kind != 0 {
					wantError(t, err, s.kind, s.code)
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got.Status != s.want || b.stored(r.ID).Status != s.want {
					t.Fatalf("step %d: %s (stored %s), want %s", i, got.Status, b.stored(r.ID).Status, s.want)
				}
			}
		})
	}
}

func TestEdit_VoidsTheReviewsOfTheContentBefore(t *testing.T) {
	b := setup(t)
	two := &approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2}}}
	r := b.create(approval.Draft{Title: "t", Payload: json.RawMessage(`{"amount":1}`), Policy: two})
	if _, err := b.eng.Review(b.ctx, ann, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	edited, err := b.eng.Edit(b.ctx, requester, r.ID, approval.Patch{Payload: approval.Some(json.RawMessage(`{"amount":1000}`))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(edited.Reviews) != 1 || !edited.Reviews[0].Void || edited.Status != approval.StatusPending {
		t.Fatalf("after the edit: %s %+v", edited.Status, edited.Reviews)
	}
	// Ann's approval of the earlier content no longer counts, so hers and
	// Bob's are two approvals of the current one.
	if _, err := b.eng.Review(b.ctx, bob, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	if s := b.stored(r.ID).Status; s != approval.StatusPending {
		t.Fatalf("one live approval decided it: %s", s)
	}
	got, err := b.eng.Review(b.ctx, ann, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil)
	if err != nil || got.Status != approval.StatusApproved {
		t.Fatalf("second live approval: %v, %v", got, err)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name string
		as   approval.Principal
		kind approval.Kind
		code string
	}{
		{name: "by the requester", as: requester},
		{name: "by an admin", as: engineAdmin},
		{name: "by someone else", as: ann, kind: approval.KindForbidden, code: approval.CodeNotOwner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			r := b.create(approval.Draft{Title: "t"})
			got, err := b.eng.Cancel(b.ctx, tc.as, r.ID, "no longer needed", nil)
			if tc.kind != 0 {
				wantError(t, err, tc.kind, tc.code)
				return
			}
			if err != nil || got.Status != approval.StatusCancelled {
				t.Fatalf("cancel: %v, %v", got, err)
			}
			_, err = b.eng.Cancel(b.ctx, tc.as, r.ID, "", nil)
			wantError(t, err, approval.KindConflict, approval.CodeInvalidTransition)
		})
	}
}

// TestList_LeavesTheCallersStatusesAsTheyAre: List sorts the statuses it
// is given in a copy; sorting the caller's slice was a data race when
// concurrent calls shared one (ghapp's table of open statuses).
func TestList_LeavesTheCallersStatusesAsTheyAre(t *testing.T) {
	b := setup(t)
	r := b.create(approval.Draft{Title: "pending"})
	statuses := []approval.Status{approval.StatusPending, approval.StatusChangesRequested, approval.StatusApproved, approval.StatusPending}
	orig := slices.Clone(statuses)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			rs, _, err := b.eng.List(b.ctx, approval.Filter{Statuses: statuses, Limit: 10})
			if err != nil || len(rs) != 1 || rs[0].ID != r.ID {
				t.Errorf("list %v: %d requests, %v; want %s", statuses, len(rs), err, r.ID)
			}
		})
	}
	wg.Wait()
	if !slices.Equal(statuses, orig) {
		t.Errorf("List reordered the caller's statuses: %v, was %v", statuses, orig)
	}
}

// TestExpiry_ListsShowItTheSweeperWritesIt: a request past its deadline
// reads as expired in every list — by status, by deadline, the inbox —
// while nothing is written; the sweeper writes the expiry. A read of the
// one request records it at once, so that its history and its dependents
// agree with what the read shows.
func TestExpiry_ListsShowItTheSweeperWritesIt(t *testing.T) {
	b := setup(t)
	deadline := b.clock.Now().Add(time.Hour)
	swept := b.create(approval.Draft{Title: "late", Deadline: &deadline})
	read := b.create(approval.Draft{Title: "late too", Deadline: &deadline})
	other := b.create(approval.Draft{Title: "no deadline"})
	dependent := b.create(approval.Draft{Title: "after it", DependsOn: []string{read.ID}})
	b.clock.Advance(2 * time.Hour)

	ids := func(rs []*approval.Request) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tc := range []struct {
		statuses []approval.Status
		want     []string // newest first
	}{
		{[]approval.Status{approval.StatusPending}, []string{dependent.ID, other.ID}},
		{[]approval.Status{approval.StatusExpired}, []string{read.ID, swept.ID}},
		{[]approval.Status{approval.StatusExpired, approval.StatusCancelled}, []string{read.ID, swept.ID}},
		{nil, []string{dependent.ID, other.ID, read.ID, swept.ID}},
	} {
		for _, limit := range []int{1, 10} { // one per store page, and all in one
			var got []*approval.Request
			f := approval.Filter{Statuses: tc.statuses, Limit: limit}
			for {
				rs, next, err := b.eng.List(b.ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rs...)
				if next == "" {
					break
				}
				f.Before = next
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("list %v by %d: %v; want %v", tc.statuses, limit, ids(got), tc.want)
			}
			for _, r := range got {
				if r.Overdue(b.clock.Now()) {
					t.Fatalf("list %v shows the overdue request %s as %s", tc.statuses, r.ID, r.Status)
				}
			}
		}
		byDeadline, err := b.eng.ListByDeadline(b.ctx, tc.statuses, 1, 10)
		if err != nil || len(byDeadline) != len(tc.want)-1 {
			t.Fatalf("by deadline %v from 1: %v, %v; want %d of %v", tc.statuses, ids(byDeadline), err, len(tc.want)-1, tc.want)
		}
	}
	inbox, _, err := b.eng.Inbox(b.ctx, ann, "", 10)
	if err != nil || !slices.Equal(ids(inbox), []string{other.ID, dependent.ID}) {
		t.Fatalf("inbox: %v, %v", ids(inbox), err)
	}
	for _, r := range []*approval.Request{swept, read, dependent} {
		if s := b.stored(r.ID).Status; s != approval.StatusPending {
			t.Fatalf("a list wrote: %s is stored %s", r.Title, s)
		}
	}

	got, err := b.eng.Get(b.ctx, read.ID)
	if err != nil || got.Status != approval.StatusExpired || got.Reason == "" {
		t.Fatalf("read: %v, %v", got, err)
	}
	if h := b.history(read.ID); len(h) != 2 || h[1] != approval.ActionExpire {
		t.Fatalf("history of the request read: %v", h)
	}
	if s := b.stored(dependent.ID).Status; s != approval.StatusRejected {
		t.Fatalf("the dependent of the request read: %s", s)
	}

	if n, err := b.eng.ExpireDue(b.ctx); n != 1 || err != nil {
		t.Fatalf("ExpireDue = %d, %v", n, err)
	}
	if s := b.stored(swept.ID).Status; s != approval.StatusExpired {
		t.Fatalf("after the sweep: stored %s", s)
	}
	if n, _ := b.eng.ExpireDue(b.ctx); n != 0 {
		t.Fatalf("a second sweep expired %d", n)
	}
}

// TestExpiry_AnActionOnAnOverdueRequestExpiresIt: a change meets the
// deadline in its own transaction, records the expiry and is refused.
func TestExpiry_AnActionOnAnOverdueRequestExpiresIt(t *testing.T) {
	actions := map[string]func(b *bundle, id string) error{
		"review": func(b *bundle, id string) error {
			_, err := b.eng.Review(b.ctx, ann, id, approval.ReviewInput{Decision: approval.DecisionApprove}, nil)
			return err
		},
		"edit": func(b *bundle, id string) error {
			_, err := b.eng.Edit(b.ctx, requester, id, approval.Patch{Title: approval.Some("u")}, nil)
			return err
		},
		"cancel": func(b *bundle, id string) error {
			_, err := b.eng.Cancel(b.ctx, requester, id, "", nil)
			return err
		},
	}
	for name, act := range actions {
		t.Run(name, func(t *testing.T) {
			b := setup(t)
			deadline := b.clock.Now().Add(time.Minute)
			r := b.create(approval.Draft{Title: "t", Deadline: &deadline})
			b.clock.Advance(time.Minute)
			wantError(t, act(b, r.ID), approval.KindConflict, approval.CodeInvalidTransition)
			if s := b.stored(r.ID).Status; s != approval.StatusExpired {
				t.Fatalf("stored %s", s)
			}
			if h := b.history(r.ID); len(h) != 2 || h[1] != approval.ActionExpire {
				t.Fatalf("history: %v", h)
			}
		})
	}
}

func TestDependencies(t *testing.T) {
	tests := []struct {
		name   string
		settle func(b *bundle, dep string)
		want   approval.Status
	}{
		{name: "an approved dependency lets the approval decide", want: approval.StatusApproved, settle: func(b *bundle, dep string) {
			if _, err := b.eng.Review(b.ctx, bob, dep, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
				b.t.Fatal(err)
			}
		}},
		{name: "a rejected dependency rejects", want: approval.StatusRejected, settle: func(b *bundle, dep string) {
			if _, err := b.eng.Review(b.ctx, bob, dep, approval.ReviewInput{Decision: approval.DecisionReject}, nil); err != nil {
				b.t.Fatal(err)
			}
		}},
		{name: "an expired dependency rejects", want: approval.StatusRejected, settle: func(b *bundle, dep string) {
			b.clock.Advance(2 * time.Hour)
			if n, err := b.eng.ExpireDue(b.ctx); n != 1 || err != nil {
				b.t.Fatalf("ExpireDue = %d, %v", n, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			deadline := b.clock.Now().Add(time.Hour)
			dep := b.create(approval.Draft{Title: "dep", Deadline: &deadline})
			r := b.create(approval.Draft{Title: "t", DependsOn: []string{dep.ID}})
			got, err := b.eng.Review(b.ctx, ann, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil)
			if err != nil || got.Status != approval.StatusPending || !got.Progress().Satisfied {
				t.Fatalf("approved while the dependency is pending: %v, %v", got, err)
			}
			if p := got.Progress(); len(p.Dependencies) != 1 || p.Dependencies[0].Status != "pending" {
				t.Fatalf("progress of the dependencies: %+v", p.Dependencies)
			}
			tc.settle(b, dep.ID)
			if s := b.stored(r.ID).Status; s != tc.want {
				t.Fatalf("after the dependency settled: %s, want %s", s, tc.want)
			}
		})
	}
}

// claim claims the one due delivery, or fails the test.
func (b *bundle) claim() approval.Claim {
	b.t.Helper()
	now := b.clock.Now()
	claims, err := b.eng.ClaimDeliveries(b.ctx, now, now.Add(time.Minute), nil, 10)
	if err != nil || len(claims) != 1 {
		b.t.Fatalf("claims: %+v, %v", claims, err)
	}
	return claims[0]
}

func TestFinishDelivery(t *testing.T) {
	tests := []struct {
		name       string
		res        approval.DeliveryResult
		want       approval.Status
		changed    bool
		claimAgain bool // the delivery is due again
	}{
		{name: "delivered", res: approval.DeliveryResult{Attempts: 1, Done: true, Delivered: true},
			want: approval.StatusApproved, changed: true},
		{name: "given up", res: approval.DeliveryResult{Attempts: 3, Done: true, LastError: "HTTP 400 from the receiver"},
			want: approval.StatusError, changed: true},
		{name: "to be retried", res: approval.DeliveryResult{Attempts: 1, LastError: "HTTP 503 from the receiver"},
			want: approval.StatusAcknowledgedApproved, claimAgain: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			b.rule("payments", "")
			r := b.create(approval.Draft{Title: "t", ServiceRule: "payments"})
			if _, err := b.eng.Review(b.ctx, ann, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
				t.Fatal(err)
			}
			c := b.claim()
			res := tc.res
			res.NextAttempt = b.clock.Now()
			got, err := b.eng.FinishDelivery(b.ctx, c, res)
			if err != nil || (got != nil) != tc.changed {
				t.Fatalf("FinishDelivery: %v, %v", got, err)
			}
			stored := b.stored(r.ID)
			if stored.Status != tc.want {
				t.Fatalf("stored %s, want %s", stored.Status, tc.want)
			}
			if tc.want == approval.StatusError && (stored.Delivery == nil || stored.Delivery.LastError != tc.res.LastError) {
				t.Fatalf("delivery of the failed request: %+v", stored.Delivery)
			}
			if tc.claimAgain {
				if again := b.claim(); again.Seq != c.Seq || again.Attempts != 1 {
					t.Fatalf("claimed again: %+v", again)
				}
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if last := b.observed[len(b.observed)-1]; tc.changed && last != approval.ActionDelivered && last != approval.ActionDeliveryFailed {
				t.Fatalf("the observer saw %v", b.observed)
			}
		})
	}
}

// TestFinishDelivery_ResolvesDependentsAndIgnoresStaleOutcomes: a delivered
// approval lets a dependent it held be approved, by the engine's own
// follow-up; an outcome for an event the request has moved on from changes
// nothing.
func TestFinishDelivery_ResolvesDependentsAndIgnoresStaleOutcomes(t *testing.T) {
	b := setup(t)
	b.rule("payments", "")
	dep := b.create(approval.Draft{Title: "dep", ServiceRule: "payments"})
	r := b.create(approval.Draft{Title: "t", DependsOn: []string{dep.ID}})
	if _, err := b.eng.Review(b.ctx, ann, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.eng.Review(b.ctx, bob, dep.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	if s := b.stored(r.ID).Status; s != approval.StatusPending {
		t.Fatalf("approved before its dependency was delivered: %s", s)
	}
	c := b.claim()
	stale := c
	stale.Version--
	if got, err := b.eng.FinishDelivery(b.ctx, stale, approval.DeliveryResult{Attempts: 1, Done: true, Delivered: true}); got != nil || err != nil {
		t.Fatalf("a stale outcome: %v, %v", got, err)
	}
	if s := b.stored(dep.ID).Status; s != approval.StatusAcknowledgedApproved {
		t.Fatalf("a stale outcome changed the request: %s", s)
	}
	got, err := b.eng.FinishDelivery(b.ctx, c, approval.DeliveryResult{Attempts: 1, Done: true, Delivered: true})
	if err != nil || got == nil || got.Status != approval.StatusApproved {
		t.Fatalf("delivered: %v, %v", got, err)
	}
	if s := b.stored(r.ID).Status; s != approval.StatusApproved {
		t.Fatalf("the dependent after its dependency was delivered: %s", s)
	}
}

// TestAdmin_OnlyAdminsChangeRulesAndPolicies: the engine refuses the
// changes only admins may make exactly as the API's route table does.
func TestAdmin_OnlyAdminsChangeRulesAndPolicies(t *testing.T) {
	pol := approval.Policy{Rules: []approval.Rule{{Name: "r", MinApprovals: 1}}}
	calls := map[string]func(b *bundle, p approval.Principal) error{
		"create rule": func(b *bundle, p approval.Principal) error {
			_, err := b.eng.CreateRule(b.ctx, p, approval.ServiceRule{Name: "new", URL: "http://127.0.0.1:9/new", Format: approval.FormatStandard})
			return err
		},
		"update rule": func(b *bundle, p approval.Principal) error {
			_, err := b.eng.UpdateRule(b.ctx, p, "existing", func(r *approval.ServiceRule) { r.URL = "http://127.0.0.1:9/other" })
			return err
		},
		"delete rule": func(b *bundle, p approval.Principal) error { return b.eng.DeleteRule(b.ctx, p, "existing") },
		"create policy": func(b *bundle, p approval.Principal) error {
			_, err := b.eng.CreatePolicy(b.ctx, p, approval.StoredPolicy{Name: "new", Policy: pol})
			return err
		},
		"replace policy": func(b *bundle, p approval.Principal) error {
			_, err := b.eng.ReplacePolicy(b.ctx, p, "existing", approval.StoredPolicy{Policy: pol}, nil)
			return err
		},
		"delete policy": func(b *bundle, p approval.Principal) error { return b.eng.DeletePolicy(b.ctx, p, "existing") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			b := setup(t)
			b.policy("existing", pol)
			b.rule("existing", "")
			for _, p := range []approval.Principal{requester, ann, auditor, {ID: "anonymous"}} {
				wantError(t, call(b, p), approval.KindForbidden, approval.CodeMissingScope)
			}
			if err := call(b, engineAdmin); err != nil {
				t.Fatalf("as an admin: %v", err)
			}
		})
	}
}

// TestProperty_OnlyAdminsChangeTheCatalog drives the engine through random
// sequences of rule and policy changes (create, update, delete) by
// principals with random scopes and groups. A change succeeds exactly when
// its principal has the admin scope; a refused one is a missing_scope error
// and leaves the rules and policies as they were.
func TestProperty_OnlyAdminsChangeTheCatalog(t *testing.T) {
	b := setup(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	allScopes := approval.Scopes()
	pol := approval.Policy{Rules: []approval.Rule{{Name: "r", MinApprovals: 1}}}
	catalog := func() string {
		rules, err := b.eng.Rules(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		policies, err := b.eng.Policies(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal([]any{rules, policies})
		return string(j)
	}
	var rules, policies []string // what exists, so that an admin's change is valid
	for step := range 300 {
		var p approval.Principal
		p.ID = fmt.Sprintf("user:p%d", rnd.IntN(5))
		for _, s := range allScopes {
			if rnd.IntN(3) == 0 {
				p.Scopes = append(p.Scopes, s)
			}
		}
		if rnd.IntN(2) == 0 {
			p.Groups = []string{"admins"}
		}
		name := fmt.Sprintf("n%d", step)
		var op string
		var call func() error
		switch k := rnd.IntN(6); {
		case k == 0 || len(rules) == 0:
			op, call = "create rule", func() error {
				_, err := b.eng.CreateRule(b.ctx, p, approval.ServiceRule{Name: name, URL: "http://127.0.0.1:9/" + name, Format: approval.FormatStandard})
				return err
			}
		case k == 1:
			target := rules[rnd.IntN(len(rules))]
			op, call = "update rule "+target, func() error {
				_, err := b.eng.UpdateRule(b.ctx, p, target, func(r *approval.ServiceRule) { r.URL = "http://127.0.0.1:9/" + name })
				return err
			}
		case k == 2:
			target := rules[rnd.IntN(len(rules))]
			op, call = "delete rule "+target, func() error { return b.eng.DeleteRule(b.ctx, p, target) }
		case k == 3 || len(policies) == 0:
			op, call = "create policy", func() error {
				_, err := b.eng.CreatePolicy(b.ctx, p, approval.StoredPolicy{Name: name, Policy: pol})
				return err
			}
		case k == 4:
			target := policies[rnd.IntN(len(policies))]
			op, call = "replace policy "+target, func() error {
				_, err := b.eng.ReplacePolicy(b.ctx, p, target, approval.StoredPolicy{Description: name, Policy: pol}, nil)
				return err
			}
		default:
			target := policies[rnd.IntN(len(policies))]
			op, call = "delete policy "+target, func() error { return b.eng.DeletePolicy(b.ctx, p, target) }
		}
		before := catalog()
		err := call()
		if !p.Has(approval.ScopeAdmin) {
			if approval.KindOf(err) != approval.KindForbidden || approval.AsError(err).Code != approval.CodeMissingScope {
				t.Fatalf("step %d: %s by %+v: %v, want missing_scope", step, op, p, err)
			}
			if after := catalog(); after != before {
				t.Fatalf("step %d: a refused %s by %+v changed the catalog", step, op, p)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %s by an admin %+v: %v", step, op, p, err)
		}
		switch {
		case strings.HasPrefix(op, "create rule"):
			rules = append(rules, name)
		case strings.HasPrefix(op, "delete rule"):
			rules = slices.DeleteFunc(rules, func(n string) bool { return op == "delete rule "+n })
		case strings.HasPrefix(op, "create policy"):
			policies = append(policies, name)
		case strings.HasPrefix(op, "delete policy"):
			policies = slices.DeleteFunc(policies, func(n string) bool { return op == "delete policy "+n })
		}
	}
}
