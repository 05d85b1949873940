package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"approvald/approval"
)

func TestRequestChangesThenResubmit_OverSQLite(t *testing.T) {
	b := setup(t)
	b.rule("publish", "")
	r := b.create(approval.Draft{Title: "outputs", ServiceRule: "publish", Payload: json.RawMessage(`{"rows":10}`)})
	got, err := b.eng.Review(b.ctx, ann, r.ID, approval.ReviewInput{Decision: approval.DecisionRequestChanges, Comment: "drop the ssn column"}, nil)
	if err != nil || got.Status != approval.StatusChangesRequested {
		t.Fatalf("request changes: %v %v", got, err)
	}
	if _, err := b.eng.Edit(b.ctx, requester, r.ID, approval.Patch{Payload: approval.Some(json.RawMessage(`{"rows":9}`))}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = b.eng.Resubmit(b.ctx, requester, r.ID, nil)
	if err != nil || got.Status != approval.StatusPending || got.Cycle != 1 {
		t.Fatalf("resubmit: %+v %v", got, err)
	}
	if _, err := b.eng.Review(b.ctx, ann, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	stored := b.stored(r.ID)
	if stored.Status != approval.StatusAcknowledgedApproved || stored.Cycle != 1 || stored.Reviews[0].Comment != "drop the ssn column" || !stored.Reviews[0].Void {
		t.Fatalf("stored: %s cycle %d %+v", stored.Status, stored.Cycle, stored.Reviews)
	}
	want := []approval.Action{approval.ActionCreate, approval.ActionRequestChanges, approval.ActionEdit, approval.ActionResubmit, approval.ActionApprove}
	if h := b.history(r.ID); strings.Join(actionNames(h), ",") != strings.Join(actionNames(want), ",") {
		t.Fatalf("history %v, want %v", h, want)
	}
}

func actionNames(as []approval.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

func TestRevoke_DeliveredAndKeptRevoked(t *testing.T) {
	b := setup(t)
	b.rule("publish", "")
	r := b.create(approval.Draft{Title: "outputs", ServiceRule: "publish"})
	if _, err := b.eng.Review(b.ctx, ann, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	c := b.claim()
	if _, err := b.eng.FinishDelivery(b.ctx, c, approval.DeliveryResult{Attempts: 1, Done: true, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.eng.Revoke(b.ctx, ann, r.ID, "x", nil); approval.KindOf(err) != approval.KindForbidden {
		t.Fatalf("a reviewer of a rule without can_revoke: %v", err)
	}
	got, err := b.eng.Revoke(b.ctx, engineAdmin, r.ID, "the release held identifiers", nil)
	if err != nil || got.Status != approval.StatusRevoked || got.Revocation == nil {
		t.Fatalf("revoke: %+v %v", got, err)
	}
	c = b.claim() // the revocation is delivered to the rule
	if c.RequestID != r.ID || c.Type != approval.EventRevoked || c.Rule != "publish" {
		t.Fatalf("claimed %+v", c)
	}
	if _, err := b.eng.FinishDelivery(b.ctx, c, approval.DeliveryResult{Attempts: 1, Done: true, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	if s := b.stored(r.ID); s.Status != approval.StatusRevoked || s.Delivery == nil || s.Delivery.DeliveredAt == nil {
		t.Fatalf("after the revocation's delivery: %s %+v", s.Status, s.Delivery)
	}
}

func TestPolicies_ExpressionsCheckedWhenSaved(t *testing.T) {
	b := setup(t)
	_, err := b.eng.CreatePolicy(b.ctx, engineAdmin, approval.StoredPolicy{Name: "bad", Match: "payload.amount <",
		Policy: approval.Policy{Rules: []approval.Rule{{Name: "r", MinApprovals: 1, AutoApproveIf: "payload.amount < 'x' +"}}}})
	e := approval.AsError(err)
	if e == nil || e.Kind != approval.KindInvalid || len(e.Fields) != 2 || !strings.Contains(err.Error(), "line 1, column") {
		t.Fatalf("bad expressions: %v", err)
	}
	_, err = b.eng.Create(b.ctx, requester, approval.Draft{Title: "t", Policy: &approval.Policy{Rules: []approval.Rule{
		{Name: "mine", MinApprovals: 1, AutoRejectIf: "payload.("}}}}, "", nil)
	if f := approval.AsError(err); f == nil || len(f.Fields) == 0 || f.Fields[0].Field != "policy.rules[0].auto_reject_if" {
		t.Fatalf("an inline policy's bad expression: %v", err)
	}
}

func TestPolicies_MatchSelectsByPriorityAndFailsClosed(t *testing.T) {
	b := setup(t)
	one := approval.Policy{Rules: []approval.Rule{{Name: "one", MinApprovals: 1}}}
	for _, sp := range []approval.StoredPolicy{
		{Name: "big", Match: "payload.amount > 1000", Priority: 10, Policy: one},
		{Name: "broken", Match: "payload.missing.deeper == 1", Priority: 20, Policy: one},
		{Name: "any", Match: "true", Priority: 1, Policy: one},
		{Name: "also-any", Match: "true", Priority: 1, Policy: one},
	} {
		if _, err := b.eng.CreatePolicy(b.ctx, engineAdmin, sp); err != nil {
			t.Fatal(err)
		}
	}
	for payload, want := range map[string]string{`{"amount":5000}`: "policy:big", `{"amount":5}`: "policy:also-any"} {
		r := b.create(approval.Draft{Title: "t", Payload: json.RawMessage(payload)})
		if r.PolicySource != want {
			t.Errorf("%s: policy %s, want %s", payload, r.PolicySource, want)
		}
	}
}

func TestAuto_ApprovesBelowALimitAndNotAbove(t *testing.T) {
	b := setup(t)
	pol := approval.Policy{Rules: []approval.Rule{{Name: "small", MinApprovals: 2, Groups: []string{"owners"},
		AutoApproveIf: "payload.amount < 100", AutoRejectIf: "payload.amount > 1000000"}}}
	if _, err := b.eng.CreatePolicy(b.ctx, engineAdmin, approval.StoredPolicy{Name: "pay", Policy: pol}); err != nil {
		t.Fatal(err)
	}
	small := b.create(approval.Draft{Title: "t", PolicyName: "pay", Payload: json.RawMessage(`{"amount":5}`)})
	if small.Status != approval.StatusApproved {
		t.Fatalf("below the limit: %s", small.Status)
	}
	rv := b.stored(small.ID).Reviews[0]
	if rv.Reviewer != "system:policy/pay" || rv.Auto == nil || rv.Auto.Expression != "payload.amount < 100" || !strings.Contains(string(rv.Auto.Inputs), `"amount":5`) {
		t.Fatalf("the automatic review: %+v %+v", rv, rv.Auto)
	}
	mid := b.create(approval.Draft{Title: "t", PolicyName: "pay", Payload: json.RawMessage(`{"amount":500}`)})
	if mid.Status != approval.StatusPending || len(mid.Reviews) != 0 {
		t.Fatalf("above the limit: %s %+v", mid.Status, mid.Reviews)
	}
	// An edit below the limit is decided by the rule after the edit.
	got, err := b.eng.Edit(b.ctx, requester, mid.ID, approval.Patch{Payload: approval.Some(json.RawMessage(`{"amount":50}`))}, nil)
	if err != nil || got.Status != approval.StatusApproved {
		t.Fatalf("edit below the limit: %v %v", got, err)
	}
	huge := b.create(approval.Draft{Title: "t", PolicyName: "pay", Payload: json.RawMessage(`{"amount":5000000}`)})
	if huge.Status != approval.StatusRejected {
		t.Fatalf("above the rejection limit: %s", huge.Status)
	}
}

func TestAuto_EvaluationErrorDecidesNothing(t *testing.T) {
	b := setup(t)
	pol := approval.Policy{Rules: []approval.Rule{{Name: "small", MinApprovals: 1, AutoApproveIf: "payload.amount < 100"}}}
	if _, err := b.eng.CreatePolicy(b.ctx, engineAdmin, approval.StoredPolicy{Name: "pay", Policy: pol}); err != nil {
		t.Fatal(err)
	}
	r := b.create(approval.Draft{Title: "t", PolicyName: "pay", Payload: json.RawMessage(`{"total":5}`)})
	if r.Status != approval.StatusPending || len(b.stored(r.ID).Reviews) != 0 {
		t.Fatalf("an expression error decided: %s", r.Status)
	}
}

func TestAuto_ForbiddenByPolicy(t *testing.T) {
	b := setup(t)
	pol := approval.Policy{ForbidAutoApprove: true, Rules: []approval.Rule{{Name: "small", MinApprovals: 1, AutoApproveIf: "true"}}}
	if _, err := b.eng.CreatePolicy(b.ctx, engineAdmin, approval.StoredPolicy{Name: "pay", Policy: pol}); err != nil {
		t.Fatal(err)
	}
	if r := b.create(approval.Draft{Title: "t", PolicyName: "pay"}); r.Status != approval.StatusPending {
		t.Fatalf("a forbidden automatic approval approved: %s", r.Status)
	}
}

func TestAuto_InlinePolicyCannotAutoApprove(t *testing.T) {
	b := setup(t)
	_, err := b.eng.Create(b.ctx, requester, approval.Draft{Title: "t", Policy: &approval.Policy{Rules: []approval.Rule{
		{Name: "mine", MinApprovals: 1, AutoApproveIf: "true"}}}}, "", nil)
	if f := approval.AsError(err); f == nil || f.Kind != approval.KindInvalid || !strings.Contains(f.Fields[0].Field, "auto_approve_if") {
		t.Fatalf("an inline auto_approve_if: %v", err)
	}
}
