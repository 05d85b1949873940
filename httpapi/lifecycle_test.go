package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"approvald/approval"
)

// lifecycle is a request as the lifecycle tests read it.
type lifecycle struct {
	full
	Justification string                `json:"justification"`
	Items         []approval.Item       `json:"items"`
	ItemOutcome   *approval.ItemOutcome `json:"item_outcome"`
	Cycle         int                   `json:"cycle"`
	Revocation    *approval.Revocation  `json:"revocation"`
	LReviews      []approval.Review     `json:"reviews"`
}

func (c apiClient) lifecycle(id string) lifecycle {
	c.t.Helper()
	var r lifecycle
	c.json(200, "GET", "/v1/approvals/"+id, nil, &r)
	return r
}

// post sends v to path and decodes a 2xx answer into a lifecycle.
func (c apiClient) post(want int, path string, v any, hdr ...string) lifecycle {
	c.t.Helper()
	var r lifecycle
	c.json(want, "POST", path, v, &r, hdr...)
	return r
}

// refused sends v and checks the problem's status, code and, when given,
// that a field error names field.
func (c apiClient) refused(status int, code, field, method, path string, v any, hdr ...string) Problem {
	c.t.Helper()
	r := c.json(status, method, path, v, nil, hdr...)
	p := r.problem(c.t)
	if p.Code != code {
		c.t.Fatalf("%s %s: code %q, want %q: %s", method, path, p.Code, code, r.body)
	}
	if field != "" && !hasField(p, field) {
		c.t.Fatalf("%s %s: field errors %+v do not name %s", method, path, p.Errors, field)
	}
	return p
}

func hasField(p Problem, field string) bool {
	for _, f := range p.Errors {
		if f.Field == field {
			return true
		}
	}
	return false
}

func TestLifecycle_RequestChangesEditResubmitApprove(t *testing.T) {
	f := setup(t)
	requester := f.key("req", approval.ScopeCreate, approval.ScopeRead)
	reviewer := f.key("rev", approval.ScopeReview, approval.ScopeRead)
	other := f.key("other", approval.ScopeCreate, approval.ScopeRead)
	created := requester.createWith(map[string]any{"title": "budget", "payload": map[string]any{"amount": 10}})
	path := "/v1/approvals/" + created.ID

	reviewer.refused(422, approval.CodeValidation, "comment", "POST", path+"/reviews", map[string]any{"decision": "request_changes"})
	sent := reviewer.post(200, path+"/reviews", map[string]any{"decision": "request_changes", "comment": "split the amount"})
	if sent.Status != "changes_requested" || sent.StatusCode != int(approval.StatusChangesRequested) {
		t.Fatalf("after request_changes: %s (%d), want changes_requested", sent.Status, sent.StatusCode)
	}
	reviewer.refused(409, approval.CodeInvalidTransition, "", "POST", path+"/reviews", map[string]any{"decision": "approve"})
	f.admin.refused(409, approval.CodeInvalidTransition, "", "POST", "/v1/approvals/"+created.ID+"/revoke", map[string]any{"reason": "x"})

	var edited lifecycle
	requester.json(200, "PATCH", path, map[string]any{"payload": map[string]any{"amount": 5}, "justification": "half now"}, &edited)
	if edited.Status != "changes_requested" || edited.Justification != "half now" {
		t.Fatalf("after the edit: %s %q, want changes_requested with the justification", edited.Status, edited.Justification)
	}
	other.refused(403, approval.CodeNotOwner, "", "POST", path+"/resubmit", nil)
	reviewer.refused(403, approval.CodeMissingScope, "", "POST", path+"/resubmit", nil)
	requester.refused(412, approval.CodeVersionMismatch, "", "POST", path+"/resubmit", nil, "If-Match", etag(edited.Version-1))
	again := requester.post(200, path+"/resubmit", nil, "If-Match", etag(edited.Version))
	if again.Status != "pending" || again.Cycle != 1 {
		t.Fatalf("after resubmit: %s cycle %d, want pending cycle 1", again.Status, again.Cycle)
	}
	if len(again.LReviews) != 1 || !again.LReviews[0].Void || again.LReviews[0].Decision != approval.DecisionRequestChanges {
		t.Fatalf("after resubmit the request_changes review stays, void: %+v", again.LReviews)
	}
	requester.refused(409, approval.CodeInvalidTransition, "", "POST", path+"/resubmit", nil)
	done := reviewer.post(200, path+"/reviews", map[string]any{"decision": "approve"})
	if done.Status != "approved" {
		t.Fatalf("after the approval: %s, want approved", done.Status)
	}

	var hist historyPage
	f.admin.json(200, "GET", path+"/history", nil, &hist)
	var actions []string
	for _, e := range hist.Items {
		actions = append(actions, string(e.Action))
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, "request_changes") || !strings.Contains(got, "resubmit") || !hist.Verified {
		t.Fatalf("history actions %s (verified %v), want request_changes and resubmit", got, hist.Verified)
	}
}

// revocable stores a policy whose "owners" rule may revoke and whose
// "security" rule may not, and returns an approved request under it.
func revocable(t *testing.T, f *fixture, requester, owner, security apiClient) lifecycle {
	t.Helper()
	r := requester.createWith(map[string]any{"title": "release", "policy_name": "revocable"})
	owner.post(200, "/v1/approvals/"+r.ID+"/reviews", map[string]any{"decision": "approve"})
	done := security.post(200, "/v1/approvals/"+r.ID+"/reviews", map[string]any{"decision": "approve"})
	if done.Status != "approved" {
		t.Fatalf("the request is %s, want approved", done.Status)
	}
	return done
}

func TestLifecycle_Revoke(t *testing.T) {
	f := setup(t)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "revocable", "policy": map[string]any{"rules": []map[string]any{
		{"name": "owners", "min_approvals": 1, "principals": []string{"svc:owner"}, "can_revoke": true},
		{"name": "security", "min_approvals": 1, "principals": []string{"svc:security"}},
	}}}, nil)
	requester := f.key("requester", approval.ScopeCreate, approval.ScopeRead)
	owner := f.key("owner", approval.ScopeReview, approval.ScopeRead)
	security := f.key("security", approval.ScopeReview, approval.ScopeRead)

	pending := requester.createWith(map[string]any{"title": "not yet", "policy_name": "revocable"})
	f.admin.refused(409, approval.CodeInvalidTransition, "", "POST", "/v1/approvals/"+pending.ID+"/revoke", map[string]any{"reason": "too early"})

	r := revocable(t, f, requester, owner, security)
	path := "/v1/approvals/" + r.ID + "/revoke"
	security.refused(403, approval.CodeNotEligible, "", "POST", path, map[string]any{"reason": "mine too"})
	requester.refused(403, approval.CodeMissingScope, "", "POST", path, map[string]any{"reason": "mine"})
	owner.refused(422, approval.CodeValidation, "reason", "POST", path, map[string]any{})
	owner.refused(422, approval.CodeValidation, "reason", "POST", path, map[string]any{"reason": ""})
	owner.refused(422, approval.CodeValidation, "reasons", "POST", path, map[string]any{"reasons": "typo"})
	revoked := owner.post(200, path, map[string]any{"reason": "the data had a name in it"})
	if revoked.Status != "revoked" || revoked.StatusCode != int(approval.StatusRevoked) || revoked.Revocation == nil ||
		revoked.Revocation.By != "svc:owner" || revoked.Revocation.Reason != "the data had a name in it" {
		t.Fatalf("after revoke: %s %+v, want revoked by svc:owner with the reason", revoked.Status, revoked.Revocation)
	}
	owner.refused(409, approval.CodeInvalidTransition, "", "POST", path, map[string]any{"reason": "twice"})

	byAdmin := revocable(t, f, requester, owner, security)
	got := f.admin.post(200, "/v1/approvals/"+byAdmin.ID+"/revoke", map[string]any{"reason": "audit finding"}, "If-Match", etag(byAdmin.Version))
	if got.Status != "revoked" || got.Revocation == nil || got.Revocation.Reason != "audit finding" {
		t.Fatalf("admin revoke: %s %+v", got.Status, got.Revocation)
	}
}

// item is an item whose digest is the SHA-256 of its name.
func item(id string) map[string]any {
	sum := sha256.Sum256([]byte(id))
	return map[string]any{"id": id, "name": "out/" + id + ".csv", "media_type": "text/csv", "size": 10, "digest": "sha256:" + hex.EncodeToString(sum[:])}
}

func TestLifecycle_PartialApprovalOfItems(t *testing.T) {
	f := setup(t)
	for name, partial := range map[string]bool{"partial": true, "whole": false} {
		f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": name, "policy": map[string]any{
			"allow_partial": partial, "rules": []map[string]any{{"min_approvals": 1}}}}, nil)
	}
	requester := f.key("requester", approval.ScopeCreate, approval.ScopeRead)
	reviewer := f.key("reviewer", approval.ScopeReview, approval.ScopeRead)
	items := []map[string]any{item("a"), item("b"), item("c"), item("d")}
	decisions := []map[string]any{{"id": "a", "decision": "approve"}, {"id": "b", "decision": "approve"},
		{"id": "c", "decision": "reject"}, {"id": "d", "decision": "approve"}}

	r := requester.createWith(map[string]any{"title": "outputs", "policy_name": "partial", "items": items})
	got := requester.lifecycle(r.ID)
	if len(got.Items) != 4 || got.Items[2].Digest != items[2]["digest"] || got.ItemOutcome != nil {
		t.Fatalf("created with items %+v outcome %+v", got.Items, got.ItemOutcome)
	}
	reviewer.refused(422, approval.CodeValidation, "", "POST", "/v1/approvals/"+r.ID+"/reviews", map[string]any{"items": decisions[:3]})
	done := reviewer.post(200, "/v1/approvals/"+r.ID+"/reviews", map[string]any{"items": decisions})
	if done.Status != "approved" || done.ItemOutcome == nil || !done.ItemOutcome.Partial {
		t.Fatalf("partial approval: %s %+v, want approved and partial", done.Status, done.ItemOutcome)
	}
	var approved []string
	for _, ref := range done.ItemOutcome.Approved {
		approved = append(approved, ref.ID+"="+ref.Digest)
	}
	want := []string{"a=" + items[0]["digest"].(string), "b=" + items[1]["digest"].(string), "d=" + items[3]["digest"].(string)}
	if fmt.Sprint(approved) != fmt.Sprint(want) || len(done.ItemOutcome.Rejected) != 1 ||
		done.ItemOutcome.Rejected[0].ID != "c" || done.ItemOutcome.Rejected[0].Digest != items[2]["digest"] {
		t.Fatalf("item outcome %+v, want a, b, d approved and c rejected with their digests", done.ItemOutcome)
	}

	whole := requester.createWith(map[string]any{"title": "outputs", "policy_name": "whole", "items": items})
	if got := reviewer.post(200, "/v1/approvals/"+whole.ID+"/reviews", map[string]any{"items": decisions}); got.Status != "rejected" {
		t.Fatalf("a rejected item under a policy without allow_partial: %s, want rejected", got.Status)
	}

	// An edit of the items voids the reviews that referred to them.
	edit := requester.createWith(map[string]any{"title": "outputs", "policy": map[string]any{"rules": []map[string]any{{"min_approvals": 2}}}, "items": items})
	allApproved := []map[string]any{{"id": "a", "decision": "approve"}, {"id": "b", "decision": "approve"},
		{"id": "c", "decision": "approve"}, {"id": "d", "decision": "approve"}}
	if got := reviewer.post(200, "/v1/approvals/"+edit.ID+"/reviews", map[string]any{"items": allApproved}); got.Status != "pending" {
		t.Fatalf("one of two approvals: %s, want pending", got.Status)
	}
	var edited lifecycle
	requester.json(200, "PATCH", "/v1/approvals/"+edit.ID, map[string]any{"items": items[:3]}, &edited)
	if len(edited.Items) != 3 || len(edited.LReviews) != 1 || !edited.LReviews[0].Void {
		t.Fatalf("after editing the items: %d items, reviews %+v, want 3 and the review void", len(edited.Items), edited.LReviews)
	}
	requester.refused(422, approval.CodeValidation, "items.digest", "PATCH", "/v1/approvals/"+edit.ID, map[string]any{"items": []map[string]any{{"id": "x", "name": "x", "size": 1, "digest": 5}}})
	requester.refused(422, approval.CodeValidation, "", "POST", "/v1/approvals", map[string]any{"title": "bad", "items": []map[string]any{{"id": "x", "name": "x", "size": 1, "digest": "md5:abc"}}})
}

func TestLifecycle_AutoApprovalBelowALimit(t *testing.T) {
	f := setup(t)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "spend", "policy": map[string]any{"rules": []map[string]any{
		{"name": "finance", "min_approvals": 1, "principals": []string{"svc:finance"}, "auto_approve_if": "double(payload.amount) < 1000.0"},
	}}}, nil)
	requester := f.key("requester", approval.ScopeCreate, approval.ScopeRead)
	finance := f.key("finance", approval.ScopeReview, approval.ScopeRead)

	small := requester.createWith(map[string]any{"title": "pens", "policy_name": "spend", "payload": map[string]any{"amount": 250}})
	got := requester.lifecycle(small.ID)
	if got.Status != "approved" || len(got.LReviews) != 1 {
		t.Fatalf("below the limit: %s with reviews %+v, want approved automatically", got.Status, got.LReviews)
	}
	if rv := got.LReviews[0]; rv.Reviewer != approval.AutoPrincipal("spend") || rv.Auto == nil ||
		rv.Auto.Expression != "double(payload.amount) < 1000.0" || !strings.Contains(string(rv.Auto.Inputs), "250") {
		t.Fatalf("the automatic review %+v, want by %s with the expression and its inputs", rv, approval.AutoPrincipal("spend"))
	}

	large := requester.createWith(map[string]any{"title": "a car", "policy_name": "spend", "payload": map[string]any{"amount": 25000}})
	if got := requester.lifecycle(large.ID); got.Status != "pending" || len(got.LReviews) != 0 {
		t.Fatalf("above the limit: %s with reviews %+v, want pending", got.Status, got.LReviews)
	}
	if done := finance.post(200, "/v1/approvals/"+large.ID+"/reviews", map[string]any{"decision": "approve"}); done.Status != "approved" {
		t.Fatalf("the manual approval: %s", done.Status)
	}

	// An evaluation error (no amount in the payload) decides nothing.
	odd := requester.createWith(map[string]any{"title": "no amount", "policy_name": "spend", "payload": map[string]any{"items": 3}})
	if got := requester.lifecycle(odd.ID); got.Status != "pending" || len(got.LReviews) != 0 {
		t.Fatalf("an expression error: %s with reviews %+v, want pending without an automatic review", got.Status, got.LReviews)
	}
}

// position matches a CEL error's position as the engine reports it: a line
// and a column.
var position = regexp.MustCompile(`(?i)(line \d+.*column \d+|\d+:\d+)`)

func TestLifecycle_MalformedExpressionsAreRefusedWithTheirPosition(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		name, field string
		body        map[string]any
	}{
		{"rule", "policy.rules[0].auto_approve_if", map[string]any{"name": "bad-rule", "policy": map[string]any{"rules": []map[string]any{
			{"min_approvals": 1, "auto_approve_if": "payload.amount <"}}}}},
		{"type", "policy.rules[0].auto_reject_if", map[string]any{"name": "bad-type", "policy": map[string]any{"rules": []map[string]any{
			{"min_approvals": 1, "auto_reject_if": "requester + 1"}}}}},
		{"match", "match", map[string]any{"name": "bad-match", "match": "requester ==", "policy": map[string]any{"rules": []map[string]any{{"min_approvals": 1}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := f.admin.refused(422, approval.CodeValidation, tc.field, "POST", "/v1/policies", tc.body)
			for _, fe := range p.Errors {
				if fe.Field == tc.field && !position.MatchString(fe.Message) {
					t.Errorf("%s: %q does not say where the error is", fe.Field, fe.Message)
				}
			}
		})
	}
	f.admin.json(404, "GET", "/v1/policies/bad-rule", nil, nil)
}

func TestLifecycle_StoredPolicyMatchAndPriority(t *testing.T) {
	f := setup(t)
	var sp approval.StoredPolicy
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "big", "match": "double(payload.amount) >= 1000.0", "priority": 10,
		"policy": map[string]any{"rules": []map[string]any{{"min_approvals": 2}}}}, &sp)
	if sp.Match != "double(payload.amount) >= 1000.0" || sp.Priority != 10 {
		t.Fatalf("stored %+v, want the match and priority", sp)
	}
	f.admin.json(200, "PUT", "/v1/policies/big", map[string]any{"match": "double(payload.amount) >= 500.0", "priority": 5,
		"policy": map[string]any{"rules": []map[string]any{{"min_approvals": 2}}}}, &sp)
	if sp.Match != "double(payload.amount) >= 500.0" || sp.Priority != 5 {
		t.Fatalf("replaced %+v, want the new match and priority", sp)
	}
	requester := f.key("requester", approval.ScopeCreate, approval.ScopeRead)
	if got := requester.createWith(map[string]any{"payload": map[string]any{"amount": 700}}); got.PolicySource != "policy:big" {
		t.Fatalf("a matching request's policy source is %q, want policy:big", got.PolicySource)
	}
	if got := requester.createWith(map[string]any{"payload": map[string]any{"amount": 7}}); got.PolicySource != "default" {
		t.Fatalf("a request no policy matches has policy source %q, want default", got.PolicySource)
	}
}

func TestLifecycle_RequiredJustificationAndComment(t *testing.T) {
	f := setup(t)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "strict", "policy": map[string]any{
		"require_justification": true, "require_comment": []string{"reject"}, "rules": []map[string]any{{"min_approvals": 1}}}}, nil)
	requester := f.key("requester", approval.ScopeCreate, approval.ScopeRead)
	reviewer := f.key("reviewer", approval.ScopeReview, approval.ScopeRead)
	requester.refused(422, approval.CodeValidation, "justification", "POST", "/v1/approvals", map[string]any{"title": "x", "policy_name": "strict"})
	r := requester.createWith(map[string]any{"title": "x", "policy_name": "strict", "justification": "the auditors asked"})
	reviewer.refused(422, approval.CodeValidation, "comment", "POST", "/v1/approvals/"+r.ID+"/reviews", map[string]any{"decision": "reject"})
	if got := reviewer.post(200, "/v1/approvals/"+r.ID+"/reviews", map[string]any{"decision": "reject", "comment": "not now"}); got.Status != "rejected" {
		t.Fatalf("a rejection with a comment: %s", got.Status)
	}
}

// batchResults is the answer of a batch review as the tests read it.
type batchResults struct {
	Results []struct {
		ID       string     `json:"id"`
		Status   int        `json:"status"`
		Approval *lifecycle `json:"approval"`
		Error    *Problem   `json:"error"`
	} `json:"results"`
}

func TestBatchReview_EachReviewedOnItsOwn(t *testing.T) {
	f := setup(t)
	requester := f.key("requester", approval.ScopeCreate, approval.ScopeRead)
	reviewer := f.key("reviewer", approval.ScopeCreate, approval.ScopeReview, approval.ScopeRead)
	ok := requester.create("fine")
	own := reviewer.create("my own")
	decided := requester.create("decided already")
	f.admin.json(200, "POST", "/v1/approvals/"+decided.ID+"/reviews", map[string]any{"decision": "reject"}, nil)

	var out batchResults
	reviewer.json(200, "POST", "/v1/approvals:batch-review", map[string]any{"reviews": []map[string]any{
		{"id": ok.ID, "decision": "approve", "comment": "ok", "if_match": ok.Version},
		{"id": own.ID, "decision": "approve"},
		{"id": decided.ID, "decision": "approve"},
	}}, &out)
	if len(out.Results) != 3 {
		t.Fatalf("%d results, want 3", len(out.Results))
	}
	want := []struct {
		id     string
		status int
		code   string
	}{{ok.ID, 200, ""}, {own.ID, 403, approval.CodeSelfReview}, {decided.ID, 409, approval.CodeInvalidTransition}}
	for i, w := range want {
		got := out.Results[i]
		if got.ID != w.id || got.Status != w.status {
			t.Fatalf("result %d: %s %d, want %s %d", i, got.ID, got.Status, w.id, w.status)
		}
		switch {
		case w.code == "" && (got.Approval == nil || got.Error != nil || got.Approval.Status != "approved"):
			t.Fatalf("result %d: %+v, want the approved request", i, got)
		case w.code != "" && (got.Error == nil || got.Approval != nil || got.Error.Code != w.code || got.Error.Status != w.status):
			t.Fatalf("result %d: %+v, want problem %s", i, got.Error, w.code)
		}
	}
	if got := requester.lifecycle(own.ID); got.Status != "pending" {
		t.Fatalf("the refused review changed its request: %s", got.Status)
	}

	other := requester.create("stale")
	reviewer.json(200, "POST", "/v1/approvals:batch-review", map[string]any{"reviews": []map[string]any{
		{"id": other.ID, "decision": "approve", "if_match": other.Version + 1},
	}}, &out)
	if len(out.Results) != 1 || out.Results[0].Status != 412 || out.Results[0].Error.Code != approval.CodeVersionMismatch {
		t.Fatalf("a stale if_match: %+v, want 412 version_mismatch", out.Results)
	}

	many := make([]map[string]any, approval.MaxBatchReview+1)
	for i := range many {
		many[i] = map[string]any{"id": fmt.Sprintf("id-%d", i), "decision": "approve"}
	}
	for _, tc := range []struct {
		name, field string
		body        map[string]any
	}{
		{"no reviews", "reviews", map[string]any{"reviews": []any{}}},
		{"too many", "reviews", map[string]any{"reviews": many}},
		{"twice", "reviews[1].id", map[string]any{"reviews": []map[string]any{{"id": other.ID, "decision": "approve"}, {"id": other.ID, "decision": "reject"}}}},
		{"no id", "reviews[0].id", map[string]any{"reviews": []map[string]any{{"decision": "approve"}}}},
		{"no decision", "reviews[0].decision", map[string]any{"reviews": []map[string]any{{"id": other.ID}}}},
		{"bad decision", "reviews[0].decision", map[string]any{"reviews": []map[string]any{{"id": other.ID, "decision": "maybe"}}}},
		{"bad if_match", "reviews[0].if_match", map[string]any{"reviews": []map[string]any{{"id": other.ID, "decision": "approve", "if_match": 0}}}},
		{"unknown field", "version", map[string]any{"reviews": []map[string]any{{"id": other.ID, "decision": "approve", "version": 1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reviewer.refused(422, approval.CodeValidation, tc.field, "POST", "/v1/approvals:batch-review", tc.body)
		})
	}
	if got := requester.lifecycle(other.ID); got.Status != "pending" {
		t.Fatalf("an invalid batch changed a request: %s", got.Status)
	}
	requester.refused(403, approval.CodeMissingScope, "", "POST", "/v1/approvals:batch-review", map[string]any{"reviews": []map[string]any{{"id": other.ID, "decision": "approve"}}})
}
