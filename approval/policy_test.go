package approval

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// reviewer returns a principal with the review scope in the given groups.
func reviewer(id string, groups ...string) Principal {
	return Principal{ID: id, Groups: groups, Scopes: []Scope{ScopeReview}}
}

// step is one review in a policy scenario and what it must lead to.
type step struct {
	who      Principal
	decision Decision
	code     string // expected error code, "" for success
	status   Status // expected status after the step (when code is "")
}

func approve(p Principal, want Status) step {
	return step{who: p, decision: DecisionApprove, status: want}
}
func reject(p Principal, want Status) step {
	return step{who: p, decision: DecisionReject, status: want}
}
func refused(p Principal, d Decision, code string) step {
	return step{who: p, decision: d, code: code}
}

func TestPolicy_Evaluator(t *testing.T) {
	var (
		owner1   = reviewer("user:o1", "data-owners")
		owner2   = reviewer("user:o2", "data-owners")
		owner3   = reviewer("user:o3", "data-owners")
		sec      = reviewer("user:s1", "security")
		both     = reviewer("user:b1", "data-owners", "security")
		svcA     = reviewer("svc:a")
		svcB     = reviewer("svc:b")
		svcC     = reviewer("svc:c")
		outsider = reviewer("user:eve", "marketing")
		self     = Principal{ID: alice.ID, Scopes: []Scope{ScopeCreate, ScopeReview}}
	)
	owners := Rule{Name: "owners", MinApprovals: 2, Groups: []string{"data-owners"}}
	security := Rule{Name: "security", MinApprovals: 1, Groups: []string{"security"}}
	P, R := StatusPending, StatusRejected
	A := StatusApproved
	cases := []struct {
		name   string
		policy Policy
		steps  []step
	}{
		{"one of anyone", DefaultPolicy(), []step{approve(owner1, A)}},
		{"N of M principals: two different services",
			Policy{Rules: []Rule{{Name: "services", MinApprovals: 2, Principals: []string{"svc:a", "svc:b", "svc:c"}}}},
			[]step{approve(svcA, P), refused(svcA, DecisionApprove, CodeAlreadyReviewed), refused(outsider, DecisionApprove, CodeNotEligible), approve(svcC, A), refused(svcB, DecisionApprove, CodeInvalidTransition)}},
		{"AND across groups: two data owners and one security reviewer",
			Policy{Rules: []Rule{owners, security}},
			[]step{approve(owner1, P), approve(sec, P), refused(outsider, DecisionApprove, CodeNotEligible), approve(owner2, A)}},
		{"AND across groups: owners alone are not enough",
			Policy{Rules: []Rule{owners, security}},
			[]step{approve(owner1, P), approve(owner2, P), approve(owner3, P)}},
		{"one reviewer eligible for two rules counts for both",
			Policy{Rules: []Rule{{Name: "owner", MinApprovals: 1, Groups: []string{"data-owners"}}, security}},
			[]step{approve(both, A)}},
		{"a reviewer eligible for two rules counts once toward a rule",
			Policy{Rules: []Rule{owners, security}},
			[]step{approve(both, P), refused(both, DecisionApprove, CodeAlreadyReviewed), approve(owner1, A)}},
		{"stages: security waits for the owners",
			Policy{Stages: []Stage{{Name: "owners", Rules: []Rule{owners}}, {Name: "security", Rules: []Rule{security}}}},
			[]step{refused(sec, DecisionApprove, CodeStageNotOpen), approve(owner1, P), approve(owner2, P), approve(sec, A)}},
		{"stages: a later-stage reviewer cannot reject early either",
			Policy{Stages: []Stage{{Name: "owners", Rules: []Rule{owners}}, {Name: "security", Rules: []Rule{security}}}},
			[]step{refused(sec, DecisionReject, CodeStageNotOpen), approve(owner1, P)}},
		{"stages: a rejection in stage 2 rejects",
			Policy{Stages: []Stage{{Name: "owners", Rules: []Rule{owners}}, {Name: "security", Rules: []Rule{security}}}},
			[]step{approve(owner1, P), approve(owner2, P), reject(sec, R)}},
		{"stages: a stage-1 reviewer is not needed in stage 2",
			Policy{Stages: []Stage{{Name: "owners", Rules: []Rule{{Name: "owner", MinApprovals: 1, Groups: []string{"data-owners"}}}}, {Name: "security", Rules: []Rule{security}}}},
			[]step{approve(owner1, P), refused(owner2, DecisionApprove, CodeNotEligible), approve(sec, A)}},
		{"self-review refused by default",
			Policy{Rules: []Rule{{Name: "any", MinApprovals: 1}}},
			[]step{refused(self, DecisionApprove, CodeSelfReview), approve(owner1, A)}},
		{"self-review allowed",
			Policy{Rules: []Rule{{Name: "any", MinApprovals: 1}}, AllowSelfReview: true},
			[]step{approve(self, A)}},
		{"one rejection rejects by default",
			Policy{Rules: []Rule{owners}},
			[]step{approve(owner1, P), reject(owner2, R)}},
		{"reject threshold of two",
			Policy{Rules: []Rule{{Name: "owners", MinApprovals: 3, Groups: []string{"data-owners", "security"}, RejectThreshold: 2}}},
			[]step{reject(owner1, P), approve(owner2, P), reject(sec, R)}},
		{"an ineligible rejection does not count",
			Policy{Rules: []Rule{owners}},
			[]step{refused(outsider, DecisionReject, CodeNotEligible), approve(owner1, P), approve(owner2, A)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRequest(t, "")
			r.Policy = c.policy
			r.Policy.Normalize()
			for i, s := range c.steps {
				_, err := r.Review(s.who, ReviewInput{Decision: s.decision}, nil, t0)
				if got := CodeOf(err); got != s.code {
					t.Fatalf("step %d (%s %s): err = %v, want code %q", i, s.who.ID, s.decision, err, s.code)
				}
				if s.code == "" && r.Status != s.status {
					t.Fatalf("step %d (%s %s): status = %s, want %s (progress %+v)", i, s.who.ID, s.decision, r.Status, s.status, r.Progress())
				}
			}
		})
	}
}

func TestPolicy_VoidedReviewsDoNotCount(t *testing.T) {
	r := newRequest(t, "")
	r.Policy = Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}
	o1, o2 := reviewer("user:o1"), reviewer("user:o2")
	if _, err := r.Review(o1, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Edit(alice, Patch{Payload: Some(json.RawMessage(`{"v":2}`))}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Review(o2, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusPending {
		t.Fatalf("o2 after the edit: %v %s — the void review of o1 must not count", err, r.Status)
	}
	pr := r.Progress().Rules[0]
	if pr.Approvals != 1 || !slices.Equal(pr.ApprovedBy, []string{"user:o2"}) {
		t.Fatalf("progress = %+v", pr)
	}
	if _, err := r.Review(o1, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusApproved {
		t.Fatalf("o1 again: %v %s", err, r.Status)
	}
}

func TestPolicy_EditByAdminVoidsReviews(t *testing.T) {
	r := newRequest(t, "")
	r.Policy = Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	strict := Policy{Rules: []Rule{{Name: "sec", MinApprovals: 1, Groups: []string{"security"}}}}
	if _, err := r.Edit(alice, Patch{Policy: Some(strict)}, nil, t0); CodeOf(err) != CodeNotOwner {
		t.Fatalf("requester changing the policy: err = %v, want not_owner", err)
	}
	ch, err := r.Edit(root, Patch{Policy: Some(strict)}, nil, t0)
	if err != nil || ch.IsZero() {
		t.Fatalf("admin edit: %v", err)
	}
	if !r.Reviews[0].Void || r.PolicySource != "override:"+root.ID || r.Policy.Rules[0].RejectThreshold != 1 {
		t.Fatalf("after the policy edit: reviews %+v, source %q, policy %+v", r.Reviews, r.PolicySource, r.Policy)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); CodeOf(err) != CodeNotEligible {
		t.Fatalf("bob under the new policy: err = %v", err)
	}
}

func TestPolicy_StaleVersion(t *testing.T) {
	r := newRequest(t, "")
	seen := r.Version
	if _, err := r.Edit(alice, Patch{Title: Some("Pay invoice 43")}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove, Seen: &seen}, nil, t0); CodeOf(err) != CodeStaleVersion || KindOf(err) != KindConflict {
		t.Fatalf("stale review: err = %v", err)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, &seen, t0); KindOf(err) != KindPrecondition {
		t.Fatalf("stale If-Match: err = %v", err)
	}
	now := r.Version
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove, Seen: &now}, nil, t0); err != nil || r.Reviews[0].Version != now {
		t.Fatalf("current review: %v %+v", err, r.Reviews)
	}
}

func TestPolicy_Validation(t *testing.T) {
	cases := []struct {
		name   string
		policy Policy
		field  string // "" when valid
	}{
		{"default", DefaultPolicy(), ""},
		{"no rules", Policy{}, "policy.rules"},
		{"rules and stages", Policy{Rules: []Rule{{MinApprovals: 1}}, Stages: []Stage{{Rules: []Rule{{MinApprovals: 1}}}}}, "policy"},
		{"zero approvals", Policy{Rules: []Rule{{MinApprovals: 0}}}, "policy.rules[0].min_approvals"},
		{"too many approvals", Policy{Rules: []Rule{{MinApprovals: 51}}}, "policy.rules[0].min_approvals"},
		{"impossible N of M", Policy{Rules: []Rule{{MinApprovals: 3, Principals: []string{"user:a", "user:b"}}}}, "policy.rules[0].min_approvals"},
		{"requester listed does not count", Policy{Rules: []Rule{{MinApprovals: 2, Principals: []string{"user:alice", "user:b"}}}}, "policy.rules[0].min_approvals"},
		{"requester counts with self-review", Policy{AllowSelfReview: true, Rules: []Rule{{MinApprovals: 2, Principals: []string{"user:alice", "user:b"}}}}, ""},
		{"unknown groups are fine", Policy{Rules: []Rule{{MinApprovals: 5, Groups: []string{"nobody-knows"}}}}, ""},
		{"groups make N of principals possible", Policy{Rules: []Rule{{MinApprovals: 3, Principals: []string{"user:a"}, Groups: []string{"g"}}}}, ""},
		{"impossible reject threshold", Policy{Rules: []Rule{{MinApprovals: 1, RejectThreshold: 3, Principals: []string{"user:a", "user:b"}}}}, "policy.rules[0].reject_threshold"},
		{"bad principal", Policy{Rules: []Rule{{MinApprovals: 1, Principals: []string{"alice"}}}}, "policy.rules[0].principals[0]"},
		{"duplicate principal", Policy{Rules: []Rule{{MinApprovals: 1, Principals: []string{"user:a", "user:a"}}}}, "policy.rules[0].principals[1]"},
		{"duplicate rule names", Policy{Rules: []Rule{{Name: "x", MinApprovals: 1}, {Name: "x", MinApprovals: 1}}}, "policy.rules[1].name"},
		{"bad rule name", Policy{Rules: []Rule{{Name: "no spaces", MinApprovals: 1}}}, "policy.rules[0].name"},
		{"empty stage", Policy{Stages: []Stage{{Name: "one"}}}, "policy.stages[0].rules"},
		{"stage rule", Policy{Stages: []Stage{{Rules: []Rule{{MinApprovals: 0}}}}}, "policy.stages[0].rules[0].min_approvals"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := New("id", Draft{Title: "t"}, alice, Mandate{Policy: c.policy, Source: "inline"}, t0)
			if c.field == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			e := AsError(err)
			if e == nil || e.Code != CodeValidation {
				t.Fatalf("err = %v, want validation_failed", err)
			}
			var fields []string
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
			if !slices.Contains(fields, c.field) {
				t.Fatalf("fields = %v, want %s (%v)", fields, c.field, err)
			}
		})
	}
}

func TestPolicy_NormalizeNamesRules(t *testing.T) {
	p := Policy{Stages: []Stage{{Rules: []Rule{{MinApprovals: 1}}}, {Rules: []Rule{{MinApprovals: 1}, {MinApprovals: 2}}}}}
	p.Normalize()
	got := []string{p.Stages[0].Name, p.Stages[0].Rules[0].Name, p.Stages[1].Name, p.Stages[1].Rules[1].Name}
	if !slices.Equal(got, []string{"stage-1", "rule-1", "stage-2", "rule-3"}) || p.Stages[1].Rules[1].RejectThreshold != 1 {
		t.Fatalf("normalized = %+v", p)
	}
}

func TestProgress_SaysWhoMayStillApprove(t *testing.T) {
	r := newRequest(t, "")
	r.Policy = Policy{Rules: []Rule{
		{Name: "leads", MinApprovals: 2, Principals: []string{"user:alice", "user:l1", "user:l2", "user:l3"}, RejectThreshold: 1},
		{Name: "security", MinApprovals: 1, Groups: []string{"security"}, RejectThreshold: 1},
	}}
	if _, err := r.Review(reviewer("user:l1"), ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	p := r.Progress()
	leads := p.Rules[0]
	if leads.Approvals != 1 || leads.Needed != 2 || leads.Satisfied || !leads.Open ||
		!slices.Equal(leads.MayApprove.Principals, []string{"user:l2", "user:l3"}) {
		t.Fatalf("leads = %+v (the requester and l1 may not approve)", leads)
	}
	if sec := p.Rules[1]; !slices.Equal(sec.MayApprove.Groups, []string{"security"}) || sec.MayApprove.Anyone {
		t.Fatalf("security = %+v", sec)
	}
	for _, want := range []string{"1 more approval for rule leads (user:l2, user:l3)", "1 more approval for rule security (members of security)"} {
		if !strings.Contains(p.PendingReason, want) {
			t.Fatalf("pending reason %q lacks %q", p.PendingReason, want)
		}
	}
	ix := r.Index()
	if !slices.Equal(ix.Inbox, []string{"g:security", "p:user:l2", "p:user:l3"}) || !slices.Equal(ix.Excluded, []string{"user:alice", "user:l1"}) {
		t.Fatalf("index = %+v", ix)
	}
}

func TestDependencies_HoldAndResolve(t *testing.T) {
	depA, depB := "0190a4e0-0000-7000-8000-00000000000a", "0190a4e0-0000-7000-8000-00000000000b"
	mk := func(t *testing.T) *Request {
		r, _, err := New("0190a4e0-0000-7000-8000-000000000001", Draft{Title: "t", DependsOn: []string{depA, depB},
			Dependencies: Deps{depA: StatusPending, depB: StatusApproved}}, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("approved once every dependency is", func(t *testing.T) {
		r := mk(t)
		if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusPending {
			t.Fatalf("review: %v %s", err, r.Status)
		}
		p := r.Progress()
		if !p.Satisfied || !strings.Contains(p.PendingReason, "waiting for dependencies to be approved: "+depA+" (pending)") || !r.Index().Blocked {
			t.Fatalf("progress = %+v, index %+v", p, r.Index())
		}
		if ch := r.Resolve(t0); !ch.IsZero() {
			t.Fatal("resolved while a dependency is pending")
		}
		r.SetDependencies(Deps{depA: StatusApproved, depB: StatusApproved})
		ch := r.Resolve(t0)
		if ch.IsZero() || r.Status != StatusApproved || ch.Entry.Actor != System.ID || r.Reason == "" {
			t.Fatalf("resolve: %+v %s %q", ch.Entry, r.Status, r.Reason)
		}
	})
	t.Run("a failed dependency rejects", func(t *testing.T) {
		r := mk(t)
		r.SetDependencies(Deps{depA: StatusCancelled, depB: StatusApproved})
		if ch := r.Resolve(t0); ch.IsZero() || r.Status != StatusRejected || !strings.Contains(r.Reason, depA+" ended cancelled") {
			t.Fatalf("status %s reason %q", r.Status, r.Reason)
		}
	})
	t.Run("refused at create", func(t *testing.T) {
		for name, d := range map[string]Draft{
			"unknown":   {Title: "t", DependsOn: []string{depA}, Dependencies: Deps{}},
			"rejected":  {Title: "t", DependsOn: []string{depA}, Dependencies: Deps{depA: StatusRejected}},
			"duplicate": {Title: "t", DependsOn: []string{depA, depA}, Dependencies: Deps{depA: StatusPending}},
		} {
			if _, _, err := New("id", d, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0); CodeOf(err) != CodeValidation {
				t.Errorf("%s: err = %v", name, err)
			}
		}
	})
}

func TestRemind(t *testing.T) {
	r, _, err := New("0190a4e0-0000-7000-8000-000000000001", Draft{Title: "t", RemindAfter: Duration(time.Hour)}, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.NextReminderAt == nil || !r.NextReminderAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("next reminder = %v", r.NextReminderAt)
	}
	if ch := r.Remind(t0.Add(time.Minute)); !ch.IsZero() {
		t.Fatal("reminded early")
	}
	ch := r.Remind(t0.Add(61 * time.Minute))
	if ch.IsZero() || ch.Event.Type != EventReviewRequested || !r.NextReminderAt.Equal(t0.Add(121*time.Minute)) {
		t.Fatalf("reminder: %+v next %v", ch.Event.Type, r.NextReminderAt)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0.Add(2*time.Hour)); err != nil || r.NextReminderAt != nil {
		t.Fatalf("a decided request keeps reminding: %v %v", err, r.NextReminderAt)
	}
}
