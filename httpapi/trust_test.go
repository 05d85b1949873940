package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"

	"approvald/approval"
)

// The regression tests of the trust model (docs/security.md): a requester
// can never weaken the review its request needs, and a review covers
// exactly the content its reviewer saw.

// trustFixture has a harmless service rule with no policy, a strict one
// whose stored policy needs the CFO, a requester that can also review (the
// README's billing key), a CFO and an ordinary reviewer.
type trustFixture struct {
	*fixture
	billing, cfo, lead apiClient
}

func setupTrust(t *testing.T) trustFixture {
	f := setup(t)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "cfo-only", "policy": map[string]any{
		"rules": []map[string]any{{"name": "cfo", "min_approvals": 1, "principals": []string{"svc:cfo"}}}}}, nil)
	f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": "harmless", "url": "http://127.0.0.1:1/h"}, nil)
	f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": "payments", "url": "http://127.0.0.1:1/p", "policy": "cfo-only"}, nil)
	return trustFixture{
		fixture: f,
		billing: f.key("billing", approval.ScopeCreate, approval.ScopeRead, approval.ScopeReview),
		cfo:     f.key("cfo", approval.ScopeReview, approval.ScopeRead),
		lead:    f.key("lead", approval.ScopeReview, approval.ScopeRead),
	}
}

// Defect 1a: a request created on a harmless rule and then moved to a
// strict one gets the strict rule's policy, and reviews under the old rule
// are void.
func TestTrust_MovingToAStrictRuleAppliesItsPolicy(t *testing.T) {
	f := setupTrust(t)
	r := f.billing.createWith(map[string]any{"title": "Transfer 5,000,000 EUR", "service_rule": "harmless"})
	if r.PolicySource != "default" {
		t.Fatalf("on the harmless rule the policy is %q", r.PolicySource)
	}
	var moved full
	f.billing.json(200, "PATCH", "/v1/approvals/"+r.ID, map[string]any{"service_rule": "payments"}, &moved)
	if moved.PolicySource != "service_rule:payments" || len(moved.Policy.Rules) != 1 || moved.Policy.Rules[0].Name != "cfo" {
		t.Fatalf("after moving to payments: %q %+v", moved.PolicySource, moved.Policy)
	}
	p := f.lead.raw("POST", "/v1/approvals/"+r.ID+"/reviews", mustJSON(map[string]any{"decision": "approve"}))
	if p.status != 403 || p.problem(t).Code != approval.CodeNotEligible {
		t.Fatalf("an ordinary reviewer approving the payment: %d %s", p.status, p.body)
	}
	if got := f.cfo.review(r.ID, approval.DecisionApprove); got.Status != "acknowledged_approved" {
		t.Fatalf("the CFO approving: %s", got.Status)
	}
}

// Defect 1a, with a review in between: an approval given on the harmless
// rule does not count once the request moves.
func TestTrust_MovingRuleVoidsEarlierApprovals(t *testing.T) {
	f := setupTrust(t)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "two", "policy": map[string]any{
		"rules": []map[string]any{{"name": "two", "min_approvals": 2}}}}, nil)
	f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": "production", "url": "http://127.0.0.1:1/prod", "policy": "two"}, nil)
	r := f.billing.createWith(map[string]any{"title": "Deploy 1.2 to staging", "service_rule": "harmless", "policy": map[string]any{
		"rules": []map[string]any{{"name": "pair", "min_approvals": 2}}}})
	if got := f.lead.review(r.ID, approval.DecisionApprove); got.Status != "pending" {
		t.Fatalf("after one approval of two: %s", got.Status)
	}
	var moved full
	f.billing.json(200, "PATCH", "/v1/approvals/"+r.ID, map[string]any{"service_rule": "production", "title": "Deploy 1.2 to production"}, &moved)
	if moved.Reviews[0]["void"] != true || moved.PolicySource != "service_rule:production+inline" {
		t.Fatalf("after the move: reviews %v, policy %q", moved.Reviews, moved.PolicySource)
	}
	if moved.Progress.Satisfied {
		t.Fatalf("the staging approval still counts: %+v", moved.Progress)
	}
}

// Defect 1b: an inline policy cannot allow self-review, so a key with
// create and review scopes cannot approve its own transfer.
func TestTrust_InlinePolicyCannotAllowSelfReview(t *testing.T) {
	f := setupTrust(t)
	p := f.billing.raw("POST", "/v1/approvals", mustJSON(map[string]any{"title": "Transfer 5,000,000 EUR", "service_rule": "payments",
		"policy": map[string]any{"allow_self_review": true, "rules": []map[string]any{{"min_approvals": 1, "principals": []string{"svc:billing"}}}}}))
	if p.status != 422 || p.problem(t).Code != approval.CodeValidation {
		t.Fatalf("an inline policy allowing self-review: %d %s", p.status, p.body)
	}
	// Without a rule, too: the default mandate stays.
	p = f.billing.raw("POST", "/v1/approvals", mustJSON(map[string]any{"title": "Transfer", "policy": map[string]any{
		"allow_self_review": true, "rules": []map[string]any{{"min_approvals": 1}}}}))
	if p.status != 422 {
		t.Fatalf("an inline policy allowing self-review, no rule: %d %s", p.status, p.body)
	}
	// An inline policy only adds: the CFO is still needed.
	r := f.billing.createWith(map[string]any{"title": "Transfer 5,000,000 EUR", "service_rule": "payments",
		"policy": map[string]any{"rules": []map[string]any{{"min_approvals": 1}}}})
	if p := f.billing.raw("POST", "/v1/approvals/"+r.ID+"/reviews", mustJSON(map[string]any{"decision": "approve"})); p.status != 403 || p.problem(t).Code != approval.CodeSelfReview {
		t.Fatalf("billing approving its own transfer: %d %s", p.status, p.body)
	}
	if got := f.lead.review(r.ID, approval.DecisionApprove); got.Status != "pending" {
		t.Fatalf("the lead's approval decided a transfer that needs the CFO: %s", got.Status)
	}
	if got := f.cfo.review(r.ID, approval.DecisionApprove); got.Status != "acknowledged_approved" {
		t.Fatalf("the CFO approving: %s", got.Status)
	}
}

// Defect 2: an edit of the title, the description or the service rule
// voids the approvals given before it, and a review naming the digest it
// saw is refused once the content changed.
func TestTrust_EditsOfAnyContentVoidReviews(t *testing.T) {
	for field, value := range map[string]any{"title": "Deploy 1.2 to production", "description": "production this time", "service_rule": "harmless"} {
		t.Run(field, func(t *testing.T) {
			f := setupTrust(t)
			r := f.billing.createWith(map[string]any{"title": "Deploy 1.2 to staging", "policy": map[string]any{
				"rules": []map[string]any{{"name": "pair", "min_approvals": 2}}}})
			var seen struct {
				ContentDigest string `json:"content_digest"`
			}
			f.lead.json(200, "GET", "/v1/approvals/"+r.ID, nil, &seen)
			f.lead.review(r.ID, approval.DecisionApprove)
			f.billing.json(200, "PATCH", "/v1/approvals/"+r.ID, map[string]any{field: value}, nil)
			p := f.cfo.raw("POST", "/v1/approvals/"+r.ID+"/reviews", mustJSON(map[string]any{"decision": "approve", "content_digest": seen.ContentDigest}))
			if p.status != 409 || p.problem(t).Code != approval.CodeStaleVersion {
				t.Fatalf("a review of the content before the %s edit: %d %s", field, p.status, p.body)
			}
			// Two approvals are needed; the lead's was of other content.
			got := f.cfo.review(r.ID, approval.DecisionApprove)
			if got.Status != "pending" {
				t.Fatalf("after the %s edit the lead's earlier approval still counted: %s %v", field, got.Status, got.Reviews)
			}
			if got.Reviews[0]["void"] != true {
				t.Fatalf("the review before the %s edit is not void: %v", field, got.Reviews)
			}
		})
	}
}

// The content digest is what anyone can recompute from the request as the
// API shows it — every field but the review state, in RFC 8785 form — and
// it stays the same when the request is read back (an empty depends_on
// included), so a review naming it is taken.
func TestTrust_ContentDigestIsRecomputableFromTheAPI(t *testing.T) {
	f := setupTrust(t)
	r := f.billing.createWith(map[string]any{"title": "Pay 10", "depends_on": []string{}, "payload": map[string]any{"amount": 10}})
	raw := f.lead.raw("GET", "/v1/approvals/"+r.ID, nil)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw.body, &m); err != nil {
		t.Fatal(err)
	}
	var shown string
	_ = json.Unmarshal(m["content_digest"], &shown)
	for _, f := range []string{"status", "status_code", "previous_status", "comment", "reviews", "delivery", "version",
		"created_at", "updated_at", "decided_at", "progress", "reason", "next_reminder_at", "remind_after", "outcome", "content_digest",
		"stage_opened_at", "escalations", "next_escalation_at", "item_outcome", "cycle", "revocation"} {
		delete(m, f)
	}
	content, _ := json.Marshal(m)
	canonical, err := jcs.Transform(content)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canonical)
	if want := "sha256:" + hex.EncodeToString(sum[:]); shown != want {
		t.Fatalf("content_digest %s, recomputed from the API's JSON %s", shown, want)
	}
	f.lead.json(200, "POST", "/v1/approvals/"+r.ID+"/reviews", map[string]any{"decision": "approve", "content_digest": shown}, nil)
}

// An admin's override cannot be undone by the requester moving the request
// to another service rule and back: only an admin may move it.
func TestTrust_RequesterCannotUndoAnAdminOverrideByMovingRules(t *testing.T) {
	f := setupTrust(t)
	r := f.billing.createWith(map[string]any{"title": "Transfer", "service_rule": "harmless"})
	strict := map[string]any{"policy": map[string]any{"rules": []map[string]any{{"name": "cfo", "min_approvals": 1, "principals": []string{"svc:cfo"}}}}}
	f.admin.json(200, "PATCH", "/v1/approvals/"+r.ID, strict, nil)
	p := f.billing.raw("PATCH", "/v1/approvals/"+r.ID, mustJSON(map[string]any{"service_rule": "payments"}))
	if p.status != 403 || p.problem(t).Code != approval.CodeNotOwner {
		t.Fatalf("the requester moving an overridden request: %d %s", p.status, p.body)
	}
	if got := f.lead.get(r.ID); got.PolicySource != "override:svc:admin" {
		t.Fatalf("the override is gone: %q", got.PolicySource)
	}
	var moved full
	f.admin.json(200, "PATCH", "/v1/approvals/"+r.ID, map[string]any{"service_rule": "payments"}, &moved)
	if moved.PolicySource != "service_rule:payments" {
		t.Fatalf("an admin's move resolves the mandate afresh: %q", moved.PolicySource)
	}
}
