package httpapi

import (
	"context"
	"testing"
	"time"

	"approvald/approval"
)

// historyOf returns the history entries of request id.
func (c apiClient) historyOf(id string) []approval.HistoryEntry {
	c.t.Helper()
	var page struct {
		Items []approval.HistoryEntry `json:"items"`
	}
	c.json(200, "GET", "/v1/approvals/"+id+"/history", nil, &page)
	return page.Items
}

// wantProblem sends a review and expects status and the problem code.
func (c apiClient) wantProblem(status int, code, id string, body []byte) {
	c.t.Helper()
	r := c.raw("POST", "/v1/approvals/"+id+"/reviews", body)
	if r.status != status {
		c.t.Fatalf("review %s of %s: status %d, want %d: %s", body, id, r.status, status, r.body)
	}
	if p := r.problem(c.t); p.Code != code {
		c.t.Fatalf("review %s of %s: code %q, want %q: %s", body, id, p.Code, code, r.body)
	}
}

// TestEscalation_AfterTheRuleTimesOutTheEscalationReviewerDecides runs the
// escalation scenario over HTTP with the fixture's clock: svc:b, named only
// by escalate_to, is refused until escalate_after passes and the sweep
// (EscalateDue) runs; the history then records an escalate by the system,
// which decides nothing by itself; svc:b's approval then approves.
func TestEscalation_AfterTheRuleTimesOutTheEscalationReviewerDecides(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.key("a", approval.ScopeReview, approval.ScopeRead)
	b := f.key("b", approval.ScopeReview, approval.ScopeRead)
	creator := f.key("creator", approval.ScopeCreate, approval.ScopeRead)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "escalating", "policy": map[string]any{
		"rules": []any{map[string]any{"name": "owners", "principals": []string{"svc:a"}, "min_approvals": 1,
			"escalate_after": "1m", "escalate_to": map[string]any{"principals": []string{"svc:b"}}}}}}, nil)
	r := creator.createWith(map[string]any{"title": "Open the firewall", "policy_name": "escalating"})
	approve := []byte(`{"decision":"approve"}`)

	b.wantProblem(403, approval.CodeNotEligible, r.ID, approve)
	// Before the minute is up the sweep escalates nothing.
	f.clock.Advance(59 * time.Second)
	if n, err := f.eng.EscalateDue(ctx); err != nil || n != 0 {
		t.Fatalf("EscalateDue at 59s: %d, %v", n, err)
	}
	b.wantProblem(403, approval.CodeNotEligible, r.ID, approve)

	f.clock.Advance(2 * time.Second)
	if n, err := f.eng.EscalateDue(ctx); err != nil || n != 1 {
		t.Fatalf("EscalateDue at 61s: %d, %v", n, err)
	}
	if n, err := f.eng.EscalateDue(ctx); err != nil || n != 0 {
		t.Fatalf("EscalateDue again: %d escalated twice, %v", n, err)
	}
	got := creator.get(r.ID)
	if got.Status != "pending" || len(got.Reviews) != 0 {
		t.Fatalf("the escalation decided something by itself: %s %+v", got.Status, got.Reviews)
	}
	h := creator.historyOf(r.ID)
	last := h[len(h)-1]
	if last.Action != approval.ActionEscalate || last.Actor != approval.System.ID {
		t.Fatalf("the last history entry is %s by %s, want escalate by %s", last.Action, last.Actor, approval.System.ID)
	}

	var done full
	b.json(200, "POST", "/v1/approvals/"+r.ID+"/reviews", map[string]any{"decision": "approve", "comment": "on call"}, &done)
	if done.Status != "approved" || len(done.Reviews) != 1 || done.Reviews[0]["reviewer"] != "svc:b" {
		t.Fatalf("svc:b's approval after the escalation: %s %+v", done.Status, done.Reviews)
	}
	// svc:a, the rule's own reviewer, was never needed; it may no longer review.
	a.wantProblem(409, approval.CodeInvalidTransition, r.ID, approve)
}

// TestDelegation_OverHTTPWithTheSelfReviewCases runs the delegation
// scenario over HTTP: svc:a delegates to svc:c, whose review on behalf of
// svc:a is recorded as by svc:c for svc:a; the self-review rule holds for
// both (svc:c cannot approve its own request for svc:a, nor svc:a's); a
// revoked delegation stops at once.
func TestDelegation_OverHTTPWithTheSelfReviewCases(t *testing.T) {
	f := setup(t)
	a := f.key("a", approval.ScopeReview, approval.ScopeRead, approval.ScopeCreate)
	c := f.key("c", approval.ScopeReview, approval.ScopeRead, approval.ScopeCreate)
	creator := f.key("creator", approval.ScopeCreate, approval.ScopeRead)
	// svc:d makes a request of svc:a's possible (a requester never
	// counts among its reviewers).
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "a-or-d", "policy": map[string]any{
		"rules": []any{map[string]any{"min_approvals": 1, "principals": []string{"svc:a", "svc:d"}}}}}, nil)
	onBehalf := []byte(`{"decision":"approve","on_behalf_of":"svc:a"}`)

	var d delegation
	ends := f.clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	a.json(201, "POST", "/v1/delegations", map[string]any{"delegate": "svc:c", "ends_at": ends, "reason": "on leave"}, &d)
	if d.Delegator != "svc:a" || d.Delegate != "svc:c" || d.CreatedBy != "svc:a" {
		t.Fatalf("the delegation: %+v", d)
	}
	if got := c.delegations("?active=true"); len(got) != 1 || got[0].ID != d.ID {
		t.Fatalf("the delegate's active delegations: %+v", got)
	}

	// svc:c's own request: the delegate cannot approve it for svc:a.
	own := c.createWith(map[string]any{"title": "c's own", "policy_name": "a-or-d"})
	c.wantProblem(403, approval.CodeSelfReview, own.ID, onBehalf)
	// svc:a's request: nor can svc:c approve it for svc:a.
	byA := a.createWith(map[string]any{"title": "a's own", "policy_name": "a-or-d"})
	c.wantProblem(403, approval.CodeSelfReview, byA.ID, onBehalf)
	for _, id := range []string{own.ID, byA.ID} {
		if got := creator.get(id); got.Status != "pending" || len(got.Reviews) != 0 {
			t.Fatalf("a refused review left a trace on %s: %s %+v", id, got.Status, got.Reviews)
		}
	}

	// Someone else's request: svc:c approves for svc:a.
	other := creator.createWith(map[string]any{"title": "someone else's", "policy_name": "a-or-d"})
	var got full
	c.json(200, "POST", "/v1/approvals/"+other.ID+"/reviews", map[string]any{"decision": "approve", "on_behalf_of": "svc:a"}, &got)
	if got.Status != "approved" || len(got.Reviews) != 1 || got.Reviews[0]["reviewer"] != "svc:a" || got.Reviews[0]["by"] != "svc:c" {
		t.Fatalf("svc:c for svc:a: %s %+v", got.Status, got.Reviews)
	}
	h := creator.historyOf(other.ID)
	if last := h[len(h)-1]; last.Action != approval.ActionApprove || last.Actor != "svc:c" {
		t.Fatalf("the history's last entry: %s by %s, want approve by svc:c", last.Action, last.Actor)
	}

	// Revoked: the next review on behalf of svc:a is refused at once.
	var revoked delegation
	a.json(200, "POST", "/v1/delegations/"+d.ID+"/revoke", nil, &revoked)
	if revoked.RevokedAt == nil || revoked.RevokedBy != "svc:a" {
		t.Fatalf("the revoked delegation: %+v", revoked)
	}
	next := creator.createWith(map[string]any{"title": "after the revocation", "policy_name": "a-or-d"})
	c.wantProblem(403, approval.CodeNotDelegated, next.ID, onBehalf)
}
