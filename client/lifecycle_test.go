package client_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"approvald/client"
)

func TestLifecycle_RequestChangesResubmitApproveRevoke(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Release outputs", Justification: "the paper is due",
		Payload: json.RawMessage(`{"rows":10}`)})
	if err != nil {
		t.Fatal(err)
	}
	if req.Justification != "the paper is due" || req.Cycle != 0 {
		t.Fatalf("created %+v", req)
	}
	if _, err := a.reviewer.RequestChanges(ctx, req.ID, ""); !client.HasCode(err, client.CodeValidationFailed) {
		t.Fatalf("request changes without a comment: %v, want validation_failed", err)
	}
	sent, err := a.reviewer.RequestChanges(ctx, req.ID, "drop the small cells")
	if err != nil {
		t.Fatal(err)
	}
	if sent.Status != client.StatusChangesRequested || !sent.Status.Settled() || sent.Status.IsFinal() || sent.StatusCode != client.StatusChangesRequested.Code() {
		t.Fatalf("after request changes: %s (%d)", sent.Status, sent.StatusCode)
	}
	payload := json.RawMessage(`{"rows":8}`)
	edited, err := a.requester.Edit(ctx, req.ID, client.ApprovalPatch{Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.requester.Resubmit(ctx, req.ID, client.IfMatch(edited.Version-1)); !client.HasCode(err, client.CodeVersionMismatch) {
		t.Fatalf("resubmit of a stale version: %v, want version_mismatch", err)
	}
	again, err := a.requester.Resubmit(ctx, req.ID, client.IfMatch(edited.Version))
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != client.StatusPending || again.Cycle != 1 {
		t.Fatalf("after resubmit: %s cycle %d", again.Status, again.Cycle)
	}
	approved, err := a.reviewer.Approve(ctx, req.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if approved.Status != client.StatusApproved {
		t.Fatalf("after approve: %s", approved.Status)
	}
	if _, err := a.admin.Revoke(ctx, req.ID, ""); !client.HasCode(err, client.CodeValidationFailed) {
		t.Fatalf("revoke without a reason: %v, want validation_failed", err)
	}
	if _, err := a.reviewer2.Revoke(ctx, req.ID, "not mine to revoke"); !client.IsUnauthorized(err) {
		t.Fatalf("revoke by a reviewer of no can_revoke rule: %v, want 403", err)
	}
	revoked, err := a.admin.Revoke(ctx, req.ID, "a name in row 3")
	if err != nil {
		t.Fatal(err)
	}
	if revoked.Status != client.StatusRevoked || !revoked.Status.IsFinal() || revoked.Revocation == nil || revoked.Revocation.Reason != "a name in row 3" {
		t.Fatalf("after revoke: %s %+v", revoked.Status, revoked.Revocation)
	}
}

func TestItems_DecidedOneByOne(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	var items []client.Item
	for _, id := range []string{"a", "b"} {
		sum := sha256.Sum256([]byte(id))
		items = append(items, client.Item{ID: id, Name: id + ".csv", Size: 3, Digest: "sha256:" + hex.EncodeToString(sum[:]),
			Metadata: json.RawMessage(`{"rows":1}`)})
	}
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "two files", Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Items) != 2 || req.Items[1].Digest != items[1].Digest || string(req.Items[0].Metadata) != `{"rows":1}` {
		t.Fatalf("created items %+v", req.Items)
	}
	done, err := a.reviewer.Review(ctx, req.ID, client.ReviewRequest{Items: []client.ItemDecision{{ID: "a", Decision: "approve"}, {ID: "b", Decision: "approve"}}})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != client.StatusApproved || done.ItemOutcome == nil || len(done.ItemOutcome.Approved) != 2 || done.ItemOutcome.Partial {
		t.Fatalf("after approving every item: %s %+v", done.Status, done.ItemOutcome)
	}
	if got := done.Reviews[0].Items; len(got) != 2 {
		t.Fatalf("the review's item decisions %+v", got)
	}
}

func TestBatchReview_ResultPerReview(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	first, err := a.requester.Create(ctx, client.CreateRequest{Title: "one"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := a.requester.Create(ctx, client.CreateRequest{Title: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reviewer2.Reject(ctx, second.ID, "no"); err != nil {
		t.Fatal(err)
	}
	results, err := a.reviewer.BatchReview(ctx, []client.BatchReviewItem{
		{ID: first.ID, Decision: client.Approve, IfMatch: &first.Version},
		{ID: second.ID, Decision: client.Approve},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].ID != first.ID || results[0].Status != http.StatusOK || results[0].Approval == nil ||
		results[0].Approval.Status != client.StatusApproved || results[0].Err != nil {
		t.Fatalf("the first result %+v", results[0])
	}
	if r := results[1]; r.Status != http.StatusConflict || r.Err == nil || r.Err.Code != client.CodeInvalidTransition || r.Approval != nil ||
		!strings.HasSuffix(r.Err.Path, "/reviews") || !strings.Contains(r.Err.Error(), "409") {
		t.Fatalf("the second result %+v (%v)", r, r.Err)
	}
	if _, err := a.reviewer.BatchReview(ctx, nil); !client.HasCode(err, client.CodeValidationFailed) {
		t.Fatalf("an empty batch: %v, want validation_failed", err)
	}
	if _, err := a.requester.BatchReview(ctx, []client.BatchReviewItem{{ID: first.ID, Decision: client.Approve}}); !client.HasCode(err, client.CodeMissingScope) {
		t.Fatalf("a batch without the review scope: %v, want missing_scope", err)
	}
}

func TestPolicies_MatchAndPriorityRoundTrip(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	name := "match-" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	// The expression matches only this test's requests: the server is shared.
	match := `"marker" in payload && payload.marker == "` + name + `"`
	sp, err := a.admin.CreatePolicy(ctx, client.PolicyRequest{Name: name, Match: match, Priority: 7,
		Policy: client.Policy{Rules: []client.Rule{{MinApprovals: 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Match != match || sp.Priority != 7 {
		t.Fatalf("stored %+v", sp)
	}
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "selected", Payload: json.RawMessage(`{"marker":"` + name + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if req.PolicySource != "policy:"+name {
		t.Fatalf("policy source %q, want policy:%s", req.PolicySource, name)
	}
	if _, err := a.admin.CreatePolicy(ctx, client.PolicyRequest{Name: name + "-bad", Match: "payload.(",
		Policy: client.Policy{Rules: []client.Rule{{MinApprovals: 1}}}}); !client.HasCode(err, client.CodeValidationFailed) ||
		len(client.AsError(err).Errors) == 0 || client.AsError(err).Errors[0].Field != "match" {
		t.Fatalf("a malformed match: %v, want validation_failed naming match", err)
	}
}
