package approval

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// escalating returns a pending request by alice whose policy has pol.
func escalating(t *testing.T, pol Policy) *Request {
	t.Helper()
	r, _, err := New("0190a4e0-0000-7000-8000-000000000002", Draft{Title: "Deploy", Payload: json.RawMessage(`{"v":1}`)}, alice, Mandate{Policy: pol, Source: "inline"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// bobOrAfterAnHourCarol is one rule: bob approves, or, an hour after the
// stage opened, carol too.
func bobOrAfterAnHourCarol() Policy {
	return Policy{Rules: []Rule{{Name: "owner", MinApprovals: 1, Principals: []string{"user:bob"},
		EscalateAfter: Duration(time.Hour), EscalateTo: Reviewers{Principals: []string{"user:carol"}}}}}
}

func TestEscalate_AfterTheTimeTheEscalationReviewersMayApprove(t *testing.T) {
	r := escalating(t, bobOrAfterAnHourCarol())
	if r.StageOpenedAt == nil || !r.StageOpenedAt.Equal(t0) || r.NextEscalationAt == nil || !r.NextEscalationAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("stage opened %v, next escalation %v; want %v and an hour later", r.StageOpenedAt, r.NextEscalationAt, t0)
	}
	if err := r.Eligible(carol, nil, t0); CodeOf(err) != CodeNotEligible {
		t.Fatalf("carol before the escalation: %v, want not_eligible", err)
	}
	if ch := r.Escalate(t0.Add(59 * time.Minute)); !ch.IsZero() {
		t.Fatalf("escalated before it was due: %+v", ch.Entry)
	}
	ch := r.Escalate(t0.Add(time.Hour))
	if ch.IsZero() || ch.Entry.Action != ActionEscalate || ch.Entry.Actor != System.ID || ch.Event.Type != EventEscalated || ch.Event.Notify != NotifyEscalation {
		t.Fatalf("escalation change = %+v / %+v", ch.Entry, ch.Event)
	}
	if r.Status != StatusPending || r.NextEscalationAt != nil || len(r.Escalations) != 1 || r.Escalations[0].Rule != "owner" {
		t.Fatalf("after escalating: %s, next %v, escalations %+v", r.Status, r.NextEscalationAt, r.Escalations)
	}
	if got := r.Recipients(NotifyEscalation); !slices.Equal(got.Principals, []string{"user:carol"}) {
		t.Fatalf("escalation recipients = %+v", got)
	}
	rp := r.Progress().Rules[0]
	if !rp.Escalated || !slices.Equal(rp.MayApprove.Principals, []string{"user:bob", "user:carol"}) || rp.Approvals != 0 {
		t.Fatalf("progress = %+v", rp)
	}
	if !slices.Contains(r.Index().Inbox, "p:user:carol") {
		t.Fatalf("carol's inbox key missing: %v", r.Index().Inbox)
	}
	if ch := r.Escalate(t0.Add(2 * time.Hour)); !ch.IsZero() {
		t.Fatal("escalated twice")
	}
	if _, err := r.Review(carol, ReviewInput{Decision: DecisionApprove}, nil, t0.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusApproved || r.NextEscalationAt != nil {
		t.Fatalf("after carol's approval: %s, next escalation %v", r.Status, r.NextEscalationAt)
	}
}

// An escalation names who else may review; it changes no count: a
// reviewer who approved for another rule before, and is among the
// escalation reviewers, does not count for the escalated rule.
func TestEscalate_NeverApprovesOrCountsByItself(t *testing.T) {
	o1, o2 := reviewer("user:o1"), reviewer("user:o2")
	r := escalating(t, Policy{Rules: []Rule{
		{Name: "a", MinApprovals: 1, Principals: []string{"user:o1"}},
		{Name: "b", MinApprovals: 1, Principals: []string{"user:o2"}, EscalateAfter: Duration(time.Hour), EscalateTo: Reviewers{Principals: []string{"user:o1"}}},
	}})
	if _, err := r.Review(o1, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if ch := r.Escalate(t0.Add(time.Hour)); ch.IsZero() {
		t.Fatal("not escalated")
	}
	if p := r.Progress(); r.Status != StatusPending || p.Satisfied || p.Rules[1].Approvals != 0 {
		t.Fatalf("escalation changed the count: %s %+v", r.Status, p.Rules[1])
	}
	if _, err := r.Review(o1, ReviewInput{Decision: DecisionApprove}, nil, t0.Add(time.Hour)); CodeOf(err) != CodeAlreadyReviewed {
		t.Fatalf("o1 again: %v, want already_reviewed", err)
	}
	if _, err := r.Review(o2, ReviewInput{Decision: DecisionApprove}, nil, t0.Add(time.Hour)); err != nil || r.Status != StatusApproved {
		t.Fatalf("o2: %v %s", err, r.Status)
	}
}

// The escalation clock restarts when a stage opens and when an edit voids
// the reviews, and forgets the escalations of the stages reopened.
func TestEscalate_ClockRestartsWithTheOpenStage(t *testing.T) {
	dave := reviewer("user:dave")
	r := escalating(t, Policy{Stages: []Stage{
		{Name: "one", Rules: []Rule{{Name: "one", MinApprovals: 1, Principals: []string{"user:bob"}}}},
		{Name: "two", Rules: []Rule{{Name: "two", MinApprovals: 1, Principals: []string{"user:carol"},
			EscalateAfter: Duration(2 * time.Hour), EscalateTo: Reviewers{Principals: []string{"user:dave"}}}}},
	}})
	if r.NextEscalationAt != nil {
		t.Fatalf("stage one escalates nothing, next = %v", r.NextEscalationAt)
	}
	at := t0.Add(5 * time.Hour)
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, at); err != nil {
		t.Fatal(err)
	}
	if !r.StageOpenedAt.Equal(at) || r.NextEscalationAt == nil || !r.NextEscalationAt.Equal(at.Add(2*time.Hour)) {
		t.Fatalf("stage two opened %v, next %v", r.StageOpenedAt, r.NextEscalationAt)
	}
	if !r.Escalate(at.Add(time.Hour)).IsZero() {
		t.Fatal("escalated before it was due")
	}
	if r.Escalate(at.Add(2 * time.Hour)).IsZero() {
		t.Fatal("not escalated when due")
	}
	if err := r.Eligible(dave, nil, at.Add(2*time.Hour)); err != nil {
		t.Fatalf("dave after the escalation: %v", err)
	}
	edit := at.Add(3 * time.Hour)
	if _, err := r.Edit(alice, Patch{Payload: Some(json.RawMessage(`{"v":2}`))}, nil, edit); err != nil {
		t.Fatal(err)
	}
	if !r.StageOpenedAt.Equal(edit) || len(r.Escalations) != 0 || r.NextEscalationAt != nil {
		t.Fatalf("after the voiding edit: opened %v, escalations %+v, next %v", r.StageOpenedAt, r.Escalations, r.NextEscalationAt)
	}
	if err := r.Eligible(dave, nil, edit); CodeOf(err) != CodeNotEligible {
		t.Fatalf("dave after the edit: %v, want not_eligible", err)
	}
	// A comment changes no stage: the clock keeps running.
	if _, err := r.Edit(alice, Patch{Comment: Some("ping")}, nil, edit.Add(time.Minute)); err != nil || !r.StageOpenedAt.Equal(edit) {
		t.Fatalf("comment: %v, opened %v", err, r.StageOpenedAt)
	}
}

func TestEscalate_NothingWhenNotPendingOrOverdue(t *testing.T) {
	r := escalating(t, bobOrAfterAnHourCarol())
	dl := t0.Add(30 * time.Minute)
	r.Deadline = &dl
	if !r.Escalate(t0.Add(time.Hour)).IsZero() {
		t.Fatal("an overdue request escalated")
	}
	r = escalating(t, bobOrAfterAnHourCarol())
	if _, err := r.Cancel(alice, "", nil, t0); err != nil {
		t.Fatal(err)
	}
	if r.NextEscalationAt != nil || !r.Escalate(t0.Add(time.Hour)).IsZero() {
		t.Fatalf("a cancelled request escalates: next %v", r.NextEscalationAt)
	}
}

func TestPolicy_EscalationValidation(t *testing.T) {
	rule := func(after time.Duration, to Reviewers) Policy {
		return Policy{Rules: []Rule{{MinApprovals: 1, EscalateAfter: Duration(after), EscalateTo: to}}}
	}
	carolOnly := Reviewers{Principals: []string{"user:carol"}}
	cases := []struct {
		name   string
		policy Policy
		field  string
	}{
		{"valid", rule(time.Hour, carolOnly), ""},
		{"group", rule(time.Hour, Reviewers{Groups: []string{"leads"}}), ""},
		{"after without to", rule(time.Hour, Reviewers{}), "policy.rules[0].escalate_to"},
		{"to without after", rule(0, carolOnly), "policy.rules[0].escalate_after"},
		{"too soon", rule(30*time.Second, carolOnly), "policy.rules[0].escalate_after"},
		{"negative", rule(-time.Hour, carolOnly), "policy.rules[0].escalate_after"},
		{"too late", rule(MaxDeadlineAhead+time.Hour, carolOnly), "policy.rules[0].escalate_after"},
		{"bad principal", rule(time.Hour, Reviewers{Principals: []string{"carol"}}), "policy.rules[0].escalate_to.principals[0]"},
		{"twice", rule(time.Hour, Reviewers{Principals: []string{"user:c", "user:c"}}), "policy.rules[0].escalate_to.principals[1]"},
		{"bad group", rule(time.Hour, Reviewers{Groups: []string{"a b"}}), "policy.rules[0].escalate_to.groups[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := New("id", Draft{Title: "t"}, alice, Mandate{Policy: c.policy, Source: "inline"}, t0)
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fields []string
			for _, f := range AsError(err).Fields {
				fields = append(fields, f.Field)
			}
			if !slices.Contains(fields, c.field) {
				t.Fatalf("fields = %v, want %s (%v)", fields, c.field, err)
			}
		})
	}
}

// Policies without escalation encode as before, so their digests and the
// content digests of requests under them do not change.
func TestPolicy_WithoutEscalationEncodesAsBefore(t *testing.T) {
	b, err := json.Marshal(Policy{Rules: []Rule{{Name: "r", MinApprovals: 1, Principals: []string{"user:b"}, RejectThreshold: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rules":[{"name":"r","min_approvals":1,"principals":["user:b"],"reject_threshold":1}],"allow_self_review":false}`; string(b) != want {
		t.Fatalf("policy JSON = %s, want %s", b, want)
	}
	b, _ = json.Marshal(bobOrAfterAnHourCarol())
	if !strings.Contains(string(b), `"escalate_after":"1h","escalate_to":{"principals":["user:carol"]}`) {
		t.Fatalf("escalation JSON = %s", b)
	}
}

// ———— delegation ————

var dan = Principal{ID: "user:dan", Scopes: []Scope{ScopeReview}}

// delegation returns bob's delegation to dan for the day after t0.
func delegation(from, to string, groups ...string) *Delegation {
	return &Delegation{ID: "d1", Delegator: from, Delegate: to, DelegatorGroups: groups, Starts: t0, Ends: t0.Add(24 * time.Hour)}
}

func onlyBob() Policy {
	return Policy{Rules: []Rule{{Name: "owner", MinApprovals: 1, Principals: []string{"user:bob"}, RejectThreshold: 1}}}
}

func TestReview_DelegateReviewsForTheDelegator(t *testing.T) {
	r := escalating(t, onlyBob())
	if _, err := r.Review(dan, ReviewInput{Decision: DecisionApprove}, nil, t0); CodeOf(err) != CodeNotEligible {
		t.Fatalf("dan for himself: %v, want not_eligible", err)
	}
	ch, err := r.Review(dan, ReviewInput{Decision: DecisionApprove, OnBehalfOf: "user:bob", Delegation: delegation("user:bob", "user:dan")}, nil, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rv := r.Reviews[0]
	if r.Status != StatusApproved || rv.Reviewer != "user:bob" || rv.By != "user:dan" || ch.Entry.Actor != "user:dan" {
		t.Fatalf("status %s, review %+v, actor %s", r.Status, rv, ch.Entry.Actor)
	}
	if !strings.Contains(string(ch.Entry.Changes), `"by":"user:dan"`) {
		t.Fatalf("the history does not record the delegate: %s", ch.Entry.Changes)
	}
}

// The delegate counts with the groups the delegation recorded for the
// delegator, not with its own.
func TestReview_DelegateCountsWithTheDelegatorsRecordedGroups(t *testing.T) {
	r := escalating(t, Policy{Rules: []Rule{{Name: "owners", MinApprovals: 1, Groups: []string{"owners"}, RejectThreshold: 1}}})
	danOwner := Principal{ID: "user:dan", Groups: []string{"owners"}, Scopes: []Scope{ScopeReview}}
	if err := r.Eligible(danOwner, delegation("user:bob", "user:dan"), t0); CodeOf(err) != CodeNotEligible {
		t.Fatalf("bob's delegation without the group: %v, want not_eligible", err)
	}
	if _, err := r.Review(dan, ReviewInput{Decision: DecisionApprove, Delegation: delegation("user:bob", "user:dan", "owners")}, nil, t0); err != nil || r.Status != StatusApproved {
		t.Fatalf("%v %s", err, r.Status)
	}
}

func TestReview_DelegationRefusals(t *testing.T) {
	ended := delegation("user:bob", "user:dan")
	ended.Ends = t0.Add(time.Hour)
	revoked := delegation("user:bob", "user:dan")
	revoked.RevokedAt = &t0
	cases := []struct {
		name string
		r    func() *Request
		who  Principal
		in   ReviewInput
		code string
	}{
		{"no delegation", func() *Request { return escalating(t, onlyBob()) }, dan, ReviewInput{OnBehalfOf: "user:bob"}, CodeNotDelegated},
		{"for someone else", func() *Request { return escalating(t, onlyBob()) }, dan, ReviewInput{OnBehalfOf: "user:carol", Delegation: delegation("user:bob", "user:dan")}, CodeNotDelegated},
		{"to someone else", func() *Request { return escalating(t, onlyBob()) }, carol, ReviewInput{Delegation: delegation("user:bob", "user:dan")}, CodeNotDelegated},
		{"ended", func() *Request { return escalating(t, onlyBob()) }, dan, ReviewInput{Delegation: ended}, CodeNotDelegated},
		{"revoked", func() *Request { return escalating(t, onlyBob()) }, dan, ReviewInput{Delegation: revoked}, CodeNotDelegated},
		{"the delegator's own request", func() *Request {
			r, _, err := New("id", Draft{Title: "t"}, Principal{ID: "user:bob", Scopes: []Scope{ScopeCreate}}, Mandate{Policy: Policy{Rules: []Rule{{Name: "any", MinApprovals: 1}}}}, t0)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, dan, ReviewInput{Delegation: delegation("user:bob", "user:dan")}, CodeSelfReview},
		{"the delegate's own request", func() *Request {
			return escalating(t, Policy{Rules: []Rule{{Name: "any", MinApprovals: 1}}})
		}, Principal{ID: "user:alice", Scopes: []Scope{ScopeReview}}, ReviewInput{Delegation: delegation("user:bob", "user:alice")}, CodeSelfReview},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.r()
			c.in.Decision = DecisionApprove
			_, err := r.Review(c.who, c.in, nil, t0.Add(2*time.Hour))
			if CodeOf(err) != c.code {
				t.Fatalf("err = %v, want %s", err, c.code)
			}
			if len(r.Reviews) != 0 {
				t.Fatalf("a refused review was recorded: %+v", r.Reviews)
			}
		})
	}
}

// One human counts once per request, whether they review themselves or
// for someone else.
func TestReview_OneHumanCountsOnce(t *testing.T) {
	anyTwo := Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}
	bobReviewer := reviewer("user:bob")
	cases := []struct {
		name          string
		first, second func(r *Request) error
	}{
		{"delegate for X, then as themselves",
			func(r *Request) error { return review(r, dan, delegation("user:bob", "user:dan")) },
			func(r *Request) error { return review(r, dan, nil) }},
		{"delegate as themselves, then for X",
			func(r *Request) error { return review(r, dan, nil) },
			func(r *Request) error { return review(r, dan, delegation("user:bob", "user:dan")) }},
		{"X, then a delegate for X",
			func(r *Request) error { return review(r, bobReviewer, nil) },
			func(r *Request) error { return review(r, dan, delegation("user:bob", "user:dan")) }},
		{"a delegate for X, then X",
			func(r *Request) error { return review(r, dan, delegation("user:bob", "user:dan")) },
			func(r *Request) error { return review(r, bobReviewer, nil) }},
		{"two delegates for X",
			func(r *Request) error { return review(r, dan, delegation("user:bob", "user:dan")) },
			func(r *Request) error { return review(r, carol, delegation("user:bob", "user:carol")) }},
		{"a delegate for two",
			func(r *Request) error { return review(r, dan, delegation("user:bob", "user:dan")) },
			func(r *Request) error { return review(r, dan, delegation("user:carol", "user:dan")) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := escalating(t, anyTwo)
			if err := c.first(r); err != nil {
				t.Fatal(err)
			}
			if err := c.second(r); CodeOf(err) != CodeAlreadyReviewed {
				t.Fatalf("second review: %v, want already_reviewed", err)
			}
			if r.Status != StatusPending || r.Progress().Rules[0].Approvals != 1 {
				t.Fatalf("%s with %d approvals", r.Status, r.Progress().Rules[0].Approvals)
			}
		})
	}
}

// Delegations do not transit: dan, to whom bob delegated, delegated to
// erin; erin may act only with dan's own eligibility.
func TestReview_DelegationChainsDoNotTransit(t *testing.T) {
	erin := reviewer("user:erin")
	r := escalating(t, onlyBob())
	if err := r.Eligible(erin, delegation("user:dan", "user:erin"), t0); CodeOf(err) != CodeNotEligible {
		t.Fatalf("erin for dan: %v, want not_eligible", err)
	}
	_, err := r.Review(erin, ReviewInput{Decision: DecisionApprove, OnBehalfOf: "user:bob", Delegation: delegation("user:dan", "user:erin")}, nil, t0)
	if CodeOf(err) != CodeNotDelegated {
		t.Fatalf("erin for bob through dan: %v, want not_delegated", err)
	}
}

func TestIndex_ExcludesTheDelegateWhoReviewed(t *testing.T) {
	r := escalating(t, Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}})
	if err := review(r, dan, delegation("user:bob", "user:dan")); err != nil {
		t.Fatal(err)
	}
	if ix := r.Index(); !slices.Contains(ix.Excluded, "user:dan") || !slices.Contains(ix.Excluded, "user:bob") {
		t.Fatalf("excluded = %v", ix.Excluded)
	}
}

// review approves r as p, for d's delegator when d is set, an hour after t0.
func review(r *Request, p Principal, d *Delegation) error {
	_, err := r.Review(p, ReviewInput{Decision: DecisionApprove, Delegation: d}, nil, t0.Add(time.Hour))
	return err
}
