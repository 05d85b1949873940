package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// itemsOf returns n items named report-<i>.csv with distinct digests.
func itemsOf(n int) []approval.Item {
	out := make([]approval.Item, n)
	for i := range n {
		out[i] = approval.Item{
			ID: fmt.Sprintf("f%d", i+1), Name: fmt.Sprintf("report-%d.csv", i+1), MediaType: "text/csv",
			Size: int64(1000 * (i + 1)), Digest: "sha256:" + strings.Repeat(fmt.Sprintf("%x", i+10), 64),
			Metadata: json.RawMessage(fmt.Sprintf(`{"rows":%d}`, 10*(i+1))),
		}
	}
	return out
}

// partialPolicy stores the policy "partial-release" (one approval by
// anyone, partial approval allowed: only an admin's stored policy may
// allow it) and returns its name.
func (s *stack) partialPolicy() string {
	s.t.Helper()
	admin := approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}
	if _, err := s.eng.CreatePolicy(context.Background(), admin, approval.StoredPolicy{Name: "partial-release", Description: "Outputs may be released in part.",
		Policy: approval.Policy{Rules: []approval.Rule{{Name: "desk", MinApprovals: 1}}, AllowPartial: true}}); err != nil {
		s.t.Fatal(err)
	}
	return "partial-release"
}

func TestStatus_ChangesRequestedAndRevokedHaveBadgesAndFilters(t *testing.T) {
	t.Parallel()
	for st, want := range map[approval.Status][2]string{
		approval.StatusChangesRequested: {"changes requested", "badge changes"},
		approval.StatusRevoked:          {"revoked", "badge revoked"},
	} {
		if got := statusLabel(st); got != want[0] {
			t.Errorf("statusLabel(%s) = %q, want %q", st, got, want[0])
		}
		if got := statusClass(st); got != want[1] {
			t.Errorf("statusClass(%s) = %q, want %q", st, got, want[1])
		}
	}
	if got := decisionLabel(approval.DecisionRequestChanges); got != "changes requested" {
		t.Errorf("decisionLabel(request_changes) = %q", got)
	}
	s := newStack(t)
	ro := s.roles()
	body := s.signedIn(ro.reviewer).get("/ui/?status=changes_requested").body
	mustContain(t, "the inbox filtered by changes_requested", body,
		`<option value="changes_requested" selected>changes requested</option>`, `<option value="revoked">revoked</option>`)
}

func TestReview_RequestingChangesWithoutACommentIsRefusedBeforeTheEngine(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + ro.req.ID
	body := c.get(page).body
	mustContain(t, "the reviewer's page", body, `id="changes-form"`, `value="request_changes"`,
		`<textarea id="changes-comment" name="comment" rows="3" maxlength="10000" required>`)
	r := c.post(page+"/review", url.Values{"csrf": {c.csrf(page)}, "decision": {"request_changes"}, "comment": {"  \r\n "}, "version": {"1"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("request changes without a comment: %d, want 422", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "Not done.", "a comment is required to request changes", `id="changes-action" open`)
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending || len(got.Reviews) != 0 {
		t.Fatalf("the refused form changed the request: %s, %+v", got.Status, got.Reviews)
	}
}

func TestReview_APolicyThatRequiresACommentToApproveMarksTheFormAndRefusesWithout(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	req := s.create(ro.requester, approval.Draft{Title: "Export cohort data", Justification: "Needed for the Q3 study.",
		Policy: &approval.Policy{Rules: []approval.Rule{{Name: "desk", MinApprovals: 1}}, RequireComment: []approval.Decision{approval.DecisionApprove}}})
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + req.ID
	body := c.get(page).body
	mustContain(t, "the page", body, "(required to approve)", `data-required-for="approve items "`, "Needed for the Q3 study.", `id="justification-h"`)
	r := c.post(page+"/review", url.Values{"csrf": {c.csrf(page)}, "decision": {"approve"}, "version": {"1"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("approve without the required comment: %d, want 422", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "policy requires a comment to approve")
	if got := s.get(req.ID); len(got.Reviews) != 0 {
		t.Fatalf("a review was recorded: %+v", got.Reviews)
	}
	// Rejecting needs none.
	r = c.post(page+"/review", url.Values{"csrf": {c.csrf(page)}, "decision": {"reject"}, "version": {"1"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject without a comment: %d, want 303:\n%s", r.StatusCode, r.body)
	}
}

func TestReview_RequestChangesThenTheRequesterEditsAndResubmits(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	page := "/ui/requests/" + ro.req.ID
	reviewer := s.signedIn(ro.reviewer)
	r := reviewer.post(page+"/review", url.Values{"csrf": {reviewer.csrf(page)}, "decision": {"request_changes"}, "comment": {"Attach the PO number."}, "version": {"1"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page+"?done=request_changes" {
		t.Fatalf("request changes: %d, Location %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	got := s.get(ro.req.ID)
	if got.Status != approval.StatusChangesRequested {
		t.Fatalf("status %s, want changes_requested", got.Status)
	}
	sentBack := reviewer.get(page + "?done=request_changes").body
	mustContain(t, "the reviewer's page", sentBack, "You asked the requester for changes.", `data-status="changes_requested"`, "changes requested", "waits for its requester")
	mustNotContain(t, "the reviewer's page", sentBack, `id="edit-form"`, `id="resubmit"`, `id="approve"`)

	requester := s.signedIn(ro.requester)
	mustContain(t, "the requester's inbox", requester.get("/ui/").body, `id="sentback-h"`, `<span class="count" id="sentback-count">1</span>`)
	body := requester.get(page).body
	mustContain(t, "the requester's page", body, `id="changes-requested"`, "Attach the PO number.", "svc:lead", `id="edit-form"`, `id="resubmit"`, `<dd id="cycle">0</dd>`)
	mustNotContain(t, "the requester's page", body, `id="approve"`)
	r = requester.post(page+"/edit", url.Values{"csrf": {requester.csrf(page)}, "version": {fmt.Sprint(got.Version)},
		"title": {got.Title}, "description": {got.Description}, "justification": {"PO 7781 covers it."},
		"payload": {`{"invoice": 42, "amount": "1200.00", "currency": "EUR", "po": "7781"}`}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d:\n%s", r.StatusCode, r.body)
	}
	edited := s.get(ro.req.ID)
	if edited.Justification != "PO 7781 covers it." || !strings.Contains(string(edited.Payload), `"po":"7781"`) || edited.Title != got.Title {
		t.Fatalf("after the edit: title %q, justification %q, payload %s", edited.Title, edited.Justification, edited.Payload)
	}
	// A payload that is not JSON is refused with what was typed kept.
	r = requester.post(page+"/edit", url.Values{"csrf": {requester.csrf(page)}, "payload": {`{"po": 77`}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("edit with a broken payload: %d, want 422", r.StatusCode)
	}
	mustContain(t, "the refused edit", r.body, "payload: must be JSON", "{&#34;po&#34;: 77")
	r = requester.post(page+"/resubmit", url.Values{"csrf": {requester.csrf(page)}, "version": {fmt.Sprint(edited.Version)}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page+"?done=resubmit" {
		t.Fatalf("resubmit: %d, Location %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if again := s.get(ro.req.ID); again.Status != approval.StatusPending || again.Cycle != 1 {
		t.Fatalf("after resubmitting: %s, cycle %d; want pending, cycle 1", again.Status, again.Cycle)
	}
	body = reviewer.get(page).body
	mustContain(t, "the reviewer's page after the resubmit", body, `id="approve"`, `<dd id="cycle">1</dd>`, "resubmitted the request", "PO 7781 covers it.")
	r = reviewer.post(page+"/review", url.Values{"csrf": {reviewer.csrf(page)}, "decision": {"approve"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve after the resubmit: %d:\n%s", r.StatusCode, r.body)
	}
	if final := s.get(ro.req.ID); final.Status != approval.StatusApproved {
		t.Fatalf("final status %s", final.Status)
	}
}

func TestRequestChanges_APolicyAtItsCapOfCyclesNoLongerOffersIt(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	ctx := context.Background()
	req := s.create(ro.requester, approval.Draft{Title: "Capped", Policy: &approval.Policy{Rules: []approval.Rule{{Name: "desk", MinApprovals: 1}}, MaxChangeCycles: 1}})
	c := s.signedIn(ro.reviewer)
	mustContain(t, "the first cycle", c.get("/ui/requests/"+req.ID).body, `id="changes-form"`, "cycle 1 of at most 1")
	if _, err := s.eng.Review(ctx, s.principal(ro.reviewer), req.ID, approval.ReviewInput{Decision: approval.DecisionRequestChanges, Comment: "Fix the title."}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.eng.Resubmit(ctx, s.principal(ro.requester), req.ID, nil); err != nil {
		t.Fatal(err)
	}
	body := c.get("/ui/requests/" + req.ID).body
	mustContain(t, "at the cap", body, `id="approve"`, `<dd id="cycle">1 of at most 1</dd>`)
	mustNotContain(t, "at the cap", body, `id="changes-form"`)
}

func TestRevoke_AnAdminRevokesWithAReasonAndThePageShowsWhoWhenWhy(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	ctx := context.Background()
	if _, err := s.eng.Review(ctx, s.principal(ro.reviewer), ro.req.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	page := "/ui/requests/" + ro.req.ID
	// The reviewer's rule cannot revoke: no form.
	mustNotContain(t, "the reviewer's page", s.signedIn(ro.reviewer).get(page).body, `id="revoke-form"`)
	admin := s.signedIn(testAdminKey)
	mustContain(t, "the admin's page", admin.get(page).body, `id="revoke-form"`, `<textarea id="revoke-reason" name="reason" rows="3" maxlength="10000" required>`)
	r := admin.post(page+"/revoke", url.Values{"csrf": {admin.csrf(page)}, "reason": {" "}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("revoke without a reason: %d, want 422", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "a reason is required", `id="revoke-action" open`)
	r = admin.post(page+"/revoke", url.Values{"csrf": {admin.csrf(page)}, "reason": {"Invoice was a duplicate."}, "version": {fmt.Sprint(s.get(ro.req.ID).Version)}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page+"?done=revoke" {
		t.Fatalf("revoke: %d, Location %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	got := s.get(ro.req.ID)
	if got.Status != approval.StatusRevoked || got.Revocation == nil || got.Revocation.Reason != "Invoice was a duplicate." {
		t.Fatalf("after revoking: %s, %+v", got.Status, got.Revocation)
	}
	body := s.signedIn(ro.reader).get(page).body
	mustContain(t, "the page of a revoked request", body, `data-status="revoked"`, `id="revocation"`, "svc:admin", "Invoice was a duplicate.", "revoked the approval")
	mustNotContain(t, "the page of a revoked request", body, `id="revoke-form"`)
}

func TestRevoke_AReviewerOfARuleThatCanRevokeIsOfferedTheForm(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	req := s.create(ro.requester, approval.Draft{Title: "Publish run 7",
		Policy: &approval.Policy{Rules: []approval.Rule{{Name: "finance", MinApprovals: 1, Groups: []string{"finance"}, CanRevoke: true}}}})
	if _, err := s.eng.Review(context.Background(), s.principal(ro.reviewer), req.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + req.ID
	mustContain(t, "the reviewer's page", c.get(page).body, `id="revoke-form"`)
	r := c.post(page+"/revoke", url.Values{"csrf": {c.csrf(page)}, "reason": {"Wrong cohort."}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d:\n%s", r.StatusCode, r.body)
	}
	if got := s.get(req.ID); got.Status != approval.StatusRevoked || got.Revocation.By != "svc:lead" {
		t.Fatalf("after revoking: %s, %+v", got.Status, got.Revocation)
	}
}

func TestItems_AReviewerDecidesItemByItemAndThePageShowsThePartialOutcome(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	items := itemsOf(4)
	req := s.create(ro.requester, approval.Draft{Title: "Release outputs of project 12", Items: items, PolicyName: s.partialPolicy()})
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + req.ID
	body := c.get(page).body
	mustContain(t, "the items table", body, `id="items"`, "report-1.csv", "text/csv", "3.9 KiB", `title="`+items[0].Digest+`"`,
		shortDigest(items[0].Digest), `{&#34;rows&#34;:10}`, `name="item:f4" value="reject"`, `form="review-form"`, `id="decide-items"`)
	// Every item needs a decision.
	form := url.Values{"csrf": {c.csrf(page)}, "decision": {"items"}, "item:f1": {"approve"}, "item:f2": {"approve"}, "item:f3": {"approve"}}
	r := c.post(page+"/review", form)
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("three of four items decided: %d, want 422", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "approve or reject every item: report-4.csv has no decision", `name="item:f1" value="approve" data-required-for="items" checked`)
	form.Set("item:f4", "reject")
	r = c.post(page+"/review", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page+"?done=items" {
		t.Fatalf("deciding the items: %d, Location %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	got := s.get(req.ID)
	if got.Status != approval.StatusApproved || got.ItemOutcome == nil || !got.ItemOutcome.Partial || len(got.ItemOutcome.Approved) != 3 || len(got.ItemOutcome.Rejected) != 1 {
		t.Fatalf("after deciding: %s, outcome %+v", got.Status, got.ItemOutcome)
	}
	if d := got.Reviews[0].Items; len(d) != 4 || d[3] != (approval.ItemDecision{ID: "f4", Decision: approval.DecisionReject}) {
		t.Fatalf("the review's item decisions: %+v", d)
	}
	body = s.signedIn(ro.requester).get(page).body
	mustContain(t, "the outcome", body, `id="partial"`, `id="item-outcome"`, "3 approved, 1 rejected", items[3].Digest, "4 item decisions")
	mustNotContain(t, "the requester's page", body, `name="item:f1"`)
}

// The automatic decision of a policy's rule shows its expression and, in a
// details element, the inputs it was evaluated on.
func TestAuto_AnAutomaticDecisionShowsItsExpressionAndInputs(t *testing.T) {
	t.Parallel()
	pg, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req := &approval.Request{ID: "0190a7b2-0000-7000-8000-000000000001", Title: "Pay invoice 5", Status: approval.StatusApproved, Payload: json.RawMessage(`{"amount":50}`),
		Requester: "svc:billing", CreatedAt: now, UpdatedAt: now, Version: 2, Policy: approval.DefaultPolicy(),
		Reviews: []approval.Review{{Reviewer: approval.AutoPrincipal("small-invoices"), Decision: approval.DecisionApprove, At: now, Version: 1,
			Auto: &approval.AutoDecision{Policy: "small-invoices", Rule: "default", Expression: "payload.amount < 100", Inputs: json.RawMessage(`{"payload":{"amount":50}}`)}}}}
	var b strings.Builder
	if err := pg.execute(&b, "request", pageData{Title: req.Title, Data: requestData{R: req, Progress: req.Progress(), Verified: true}}, false); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "the automatic review", b.String(), "system:policy/small-invoices", "automatic: <code>payload.amount &lt; 100</code>",
		`<details class="auto-inputs"><summary>Inputs</summary>`, "&#34;amount&#34;: 50")
}

func TestBulk_ApproveSelectedReviewsEachAndListsWhatBecameOfIt(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	ctx := context.Background()
	second := s.create(ro.requester, approval.Draft{Title: "Pay invoice 43"})
	changed := s.create(ro.requester, approval.Draft{Title: "Pay invoice 44"})
	clerk := s.key("clerk", approval.ScopeCreate, approval.ScopeReview, approval.ScopeRead)
	own := s.create(clerk, approval.Draft{Title: "My own expenses"})
	c := s.signedIn(clerk)
	inbox := c.get("/ui/").body
	mustContain(t, "the inbox", inbox, `id="bulk-form"`, `name="id" value="`+second.ID+`"`, `aria-label="Select Pay invoice 43"`, `id="approve-selected"`, `id="reject-selected"`)
	token := c.csrf("/ui/")
	if _, err := s.eng.Edit(ctx, s.principal(ro.requester), changed.ID, approval.Patch{Title: approval.Some("Pay invoice 44 twice")}, nil); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csrf": {token}, "decision": {"approve"}, "comment": {"Batch of the week."},
		"id":                     {ro.req.ID, second.ID, changed.ID, own.ID},
		versionField(ro.req.ID):  {"1"},
		versionField(second.ID):  {"1"},
		versionField(changed.ID): {"1"},
		versionField(own.ID):     {"1"},
	}
	r := c.post("/ui/review-selected", form)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("approve selected: %d:\n%s", r.StatusCode, r.body)
	}
	mustContain(t, "the summary", r.body, "Approved 2 of 4", "You approved 2 of 4 selected requests. 2 were refused",
		`data-id="`+second.ID+`" data-ok="true"`, `data-id="`+changed.ID+`" data-ok="false"`, "read it again", `data-id="`+own.ID+`" data-ok="false"`)
	for id, want := range map[string]approval.Status{ro.req.ID: approval.StatusApproved, second.ID: approval.StatusApproved, changed.ID: approval.StatusPending, own.ID: approval.StatusPending} {
		got := s.get(id)
		if got.Status != want {
			t.Errorf("%s (%s): %s, want %s", got.Title, id, got.Status, want)
		}
		if want == approval.StatusApproved && got.Reviews[0].Comment != "Batch of the week." {
			t.Errorf("%s: review comment %q", got.Title, got.Reviews[0].Comment)
		}
	}
	if r := c.post("/ui/review-selected", url.Values{"csrf": {token}, "decision": {"approve"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("nothing selected: %d, want 422", r.StatusCode)
	}
	if r := s.signedIn(ro.reader).post("/ui/review-selected", url.Values{"csrf": {s.signedIn(ro.reader).csrf("/ui/")}, "decision": {"approve"}, "id": {second.ID}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a reader's bulk review: %d, want 403", r.StatusCode)
	}
}
