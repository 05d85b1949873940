package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"approvald/approval"
)

// lifecycleStates holds requests in the states of the review lifecycle
// the request page shows differently.
type lifecycleStates struct {
	changesRequested, revoked, items, partial, auto string
}

// seedLifecycle adds a request sent back to its requester (after a
// resubmit and a second request for changes, so the history shows a
// cycle), a revoked one, one with items awaiting review, one decided item
// by item with a partial outcome, and one approved automatically.
func (s *stack) seedLifecycle(requester, reviewer string) lifecycleStates {
	s.t.Helper()
	ctx := context.Background()
	rp, qp := s.principal(reviewer), s.principal(requester)
	admin := approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}
	var st lifecycleStates
	must := func(_ *approval.Request, err error) {
		s.t.Helper()
		if err != nil {
			s.t.Fatal(err)
		}
	}
	sent := s.create(requester, approval.Draft{Title: "Export the cohort of study 12", Justification: "The ethics board approved the export (ref. EB-2026-14).",
		Payload: payload(s.t, map[string]any{"study": 12, "rows": 4210}), Policy: &approval.Policy{Rules: []approval.Rule{{Name: "desk", MinApprovals: 1}}, MaxChangeCycles: 3}})
	must(s.eng.Review(ctx, rp, sent.ID, approval.ReviewInput{Decision: approval.DecisionRequestChanges, Comment: "Remove the postcode column first."}, nil))
	must(s.eng.Edit(ctx, qp, sent.ID, approval.Patch{Payload: approval.Some(payload(s.t, map[string]any{"study": 12, "rows": 4210, "columns": "no postcode"}))}, nil))
	must(s.eng.Resubmit(ctx, qp, sent.ID, nil))
	must(s.eng.Review(ctx, rp, sent.ID, approval.ReviewInput{Decision: approval.DecisionRequestChanges, Comment: "Also round the ages to five years."}, nil))
	st.changesRequested = sent.ID

	revoked := s.create(requester, approval.Draft{Title: "Publish run 7 of project 12"})
	must(s.eng.Review(ctx, rp, revoked.ID, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: "Fine."}, nil))
	must(s.eng.Revoke(ctx, admin, revoked.ID, "The run included a file it should not have.", nil))
	st.revoked = revoked.ID

	items := itemsOf(4)
	items[1].Name, items[1].MediaType, items[1].Metadata = "a-rather-long-file-name-without-any-space-for-wrapping-in-a-table-cell.parquet", "application/vnd.apache.parquet", nil
	partialRelease := s.partialPolicy()
	st.items = s.create(requester, approval.Draft{Title: "Release outputs of project 12", Items: items, Justification: "Final tables of the paper.", PolicyName: partialRelease}).ID
	partial := s.create(requester, approval.Draft{Title: "Release outputs of project 13", Items: items, PolicyName: partialRelease})
	must(s.eng.Review(ctx, rp, partial.ID, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: "Table 4 is disclosive.", Items: []approval.ItemDecision{
		{ID: "f1", Decision: approval.DecisionApprove}, {ID: "f2", Decision: approval.DecisionApprove},
		{ID: "f3", Decision: approval.DecisionApprove}, {ID: "f4", Decision: approval.DecisionReject},
	}}, nil))
	st.partial = partial.ID

	if _, err := s.eng.CreatePolicy(ctx, admin, approval.StoredPolicy{Name: "small-invoices", Description: "Invoices under 100 need no reviewer.",
		Policy: approval.Policy{Rules: []approval.Rule{{Name: "small", MinApprovals: 1, AutoApproveIf: "payload.amount < 100"}}}}); err != nil {
		s.t.Fatal(err)
	}
	st.auto = s.create(requester, approval.Draft{Title: "Pay invoice 5", Payload: payload(s.t, map[string]any{"amount": 50}), PolicyName: "small-invoices"}).ID
	return st
}

// TestBrowser_RequestChangesThenTheRequesterEditsResubmitsAndAReviewerApproves
// is the whole cycle in a real browser: the reviewer's request for changes
// needs a comment (the browser refuses to send the form without one), the
// requester sees the comment, edits the request and resubmits it, and the
// reviewer approves what was resubmitted.
func TestBrowser_RequestChangesThenTheRequesterEditsResubmitsAndAReviewerApproves(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	page := "/ui/requests/" + ro.req.ID

	reviewer := s.newTab(t, "reviewer")
	reviewer.signIn(ro.reviewer)
	reviewer.open(page)
	reviewer.do("opening the request-changes form",
		chromedp.WaitVisible(chromedp.ID("approve")),
		chromedp.Click(chromedp.CSS("#changes-action summary")),
		chromedp.WaitVisible(chromedp.ID("request-changes")),
		chromedp.Click(chromedp.ID("request-changes")),
	)
	if !eval[bool](reviewer, `document.querySelector("#changes-comment").validity.valueMissing && document.activeElement.id === "changes-comment"`) {
		t.Error("the browser does not hold back a request for changes without a comment")
	}
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending {
		t.Fatalf("a request for changes without a comment was sent: %s", got.Status)
	}
	reviewer.do("asking for changes",
		chromedp.SendKeys(chromedp.ID("changes-comment"), "Attach the purchase order number."),
		chromedp.Click(chromedp.ID("request-changes")),
	)
	reviewer.waitFor("the status is changes requested", `(document.querySelector("#status") || {}).dataset?.status === "changes_requested"`)
	mustContain(t, "the reviewer's confirmation", reviewer.text("main"), "You asked the requester for changes.")
	if got := reviewer.text("#status"); got != "changes requested" {
		t.Errorf("the badge reads %q", got)
	}

	requester := s.newTab(t, "requester")
	requester.signIn(ro.requester)
	requester.open(page)
	requester.waitFor("the request shows", `document.querySelector("#changes-requested") !== null`)
	mustContain(t, "what the requester is asked", requester.text("#changes-requested"), "Attach the purchase order number.", "svc:lead")
	requester.screenshot("request-changes-requested.png")
	requester.do("editing the request",
		chromedp.SetValue(chromedp.ID("edit-payload"), `{"invoice": 42, "amount": "1200.00", "currency": "EUR", "po": "PO-7781"}`),
		chromedp.SendKeys(chromedp.ID("edit-justification"), "Licence renewal, PO-7781."),
		chromedp.Click(chromedp.ID("save-edit")),
	)
	requester.waitFor("the edit is saved", `document.querySelector(".alert.ok") !== null && document.querySelector(".alert.ok").innerText.includes("Your changes are saved")`)
	requester.do("resubmitting", chromedp.Click(chromedp.ID("resubmit")))
	requester.waitFor("the status is pending again", `(document.querySelector("#status") || {}).dataset?.status === "pending"`)
	if got := requester.text("#cycle"); got != "1" {
		t.Errorf("the cycle reads %q, want 1", got)
	}
	mustContain(t, "the requester's timeline", requester.text("#timeline"), "resubmitted the request", "requested changes")

	reviewer.open(page)
	reviewer.do("approving the resubmitted request", chromedp.WaitVisible(chromedp.ID("approve")))
	mustContain(t, "the reviewer's page", reviewer.text("main"), "PO-7781", "Licence renewal, PO-7781.")
	reviewer.do("approving", chromedp.Click(chromedp.ID("approve")))
	reviewer.waitFor("the status is approved", `(document.querySelector("#status") || {}).dataset?.status === "approved"`)
	if got := s.get(ro.req.ID); got.Status != approval.StatusApproved || got.Cycle != 1 || !strings.Contains(string(got.Payload), "PO-7781") {
		t.Fatalf("stored: %s, cycle %d, payload %s", got.Status, got.Cycle, got.Payload)
	}
}

// TestBrowser_AReviewerApprovesThreeOfFourItemsAndTheOutcomeIsPartial
// decides a request's items one by one: the browser holds the form back
// until every item is decided, and the outcome shows the partial approval
// with the digests.
func TestBrowser_AReviewerApprovesThreeOfFourItemsAndTheOutcomeIsPartial(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	items := itemsOf(4)
	req := s.create(ro.requester, approval.Draft{Title: "Release outputs of project 12", Items: items, PolicyName: s.partialPolicy()})
	reviewer := s.newTab(t, "reviewer")
	reviewer.signIn(ro.reviewer)
	reviewer.open("/ui/requests/" + req.ID)
	reviewer.do("waiting for the items", chromedp.WaitVisible(chromedp.ID("decide-items")))
	if got := eval[int](reviewer, `document.querySelectorAll("#items tbody tr").length`); got != 4 {
		t.Fatalf("%d item rows, want 4", got)
	}
	mustContain(t, "the first item", reviewer.text(`#items tr[data-item="f1"]`), "report-1.csv", "text/csv", "1000 B", shortDigest(items[0].Digest))
	reviewer.do("deciding three items and sending", chromedp.Click(chromedp.CSS(`input[name="item:f1"][value=approve]`)),
		chromedp.Click(chromedp.CSS(`input[name="item:f2"][value=approve]`)), chromedp.Click(chromedp.CSS(`input[name="item:f3"][value=approve]`)),
		chromedp.Click(chromedp.ID("decide-items")))
	if !eval[bool](reviewer, `document.querySelector('input[name="item:f4"]').validity.valueMissing`) {
		t.Error("the browser does not hold the form back while an item is undecided")
	}
	if got := s.get(req.ID); len(got.Reviews) != 0 {
		t.Fatalf("a review was recorded with an item undecided: %+v", got.Reviews)
	}
	reviewer.do("rejecting the fourth and sending", chromedp.Click(chromedp.CSS(`input[name="item:f4"][value=reject]`)), chromedp.Click(chromedp.ID("decide-items")))
	reviewer.waitFor("the request is decided", `(document.querySelector("#status") || {}).dataset?.status === "approved"`)
	reviewer.waitFor("the outcome is partial", `document.querySelector("#partial") !== null`)
	outcome := reviewer.text("#item-outcome")
	mustContain(t, "the outcome", outcome, "3 approved, 1 rejected", "partial", items[0].Digest, items[3].Digest, "report-4.csv")
	if got := reviewer.text(`#items tr[data-item="f4"] td[data-label=Outcome]`); got != "rejected" {
		t.Errorf("item f4's outcome reads %q", got)
	}
	reviewer.screenshot("request-items-partial.png")
	got := s.get(req.ID)
	if got.ItemOutcome == nil || !got.ItemOutcome.Partial || len(got.ItemOutcome.Approved) != 3 {
		t.Fatalf("stored outcome: %+v", got.ItemOutcome)
	}
}

// TestBrowser_APolicyThatRequiresACommentToApproveHoldsTheApprovalBack
// checks that the comment is required for the decisions the policy names
// only: approving without one is held back by the browser, rejecting is not.
func TestBrowser_APolicyThatRequiresACommentToApproveHoldsTheApprovalBack(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	req := s.create(ro.requester, approval.Draft{Title: "Export cohort data",
		Policy: &approval.Policy{Rules: []approval.Rule{{Name: "desk", MinApprovals: 1}}, RequireComment: []approval.Decision{approval.DecisionApprove}}})
	reviewer := s.newTab(t, "reviewer")
	reviewer.signIn(ro.reviewer)
	reviewer.open("/ui/requests/" + req.ID)
	reviewer.do("approving without a comment", chromedp.WaitVisible(chromedp.ID("approve")), chromedp.Click(chromedp.ID("approve")))
	if !eval[bool](reviewer, `document.querySelector("#review-comment").validity.valueMissing`) {
		t.Error("the browser sends an approval without the comment the policy requires")
	}
	if got := s.get(req.ID); len(got.Reviews) != 0 {
		t.Fatalf("an approval without a comment was recorded: %+v", got.Reviews)
	}
	reviewer.do("rejecting without a comment", chromedp.Click(chromedp.ID("reject")))
	reviewer.waitFor("the request is rejected", `(document.querySelector("#status") || {}).dataset?.status === "rejected"`)
}

// TestBrowser_TheLifecyclePagesFitAPhone opens, on a 390 px wide phone,
// the pages of the review lifecycle — a request sent back with its edit
// form, one with items to decide (a long file name among them), a partial
// outcome, a revoked request, an automatic approval, and the inbox with its
// multi-select — and checks that none scrolls sideways.
func TestBrowser_TheLifecyclePagesFitAPhone(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	lc := s.seedLifecycle(ro.requester, ro.reviewer)
	for _, v := range []struct{ who, path string }{
		{ro.requester, "/ui/requests/" + lc.changesRequested},
		{ro.reviewer, "/ui/requests/" + lc.items},
		{ro.reviewer, "/ui/requests/" + lc.partial},
		{ro.reviewer, "/ui/requests/" + lc.revoked},
		{ro.reviewer, "/ui/requests/" + lc.auto},
		{ro.reviewer, "/ui/"},
	} {
		phone := s.newTab(t, "phone")
		phone.do("emulating a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		phone.signIn(v.who)
		phone.open(v.path)
		phone.waitFor("the page is shown", `document.readyState === "complete" && document.querySelector("main") !== null`)
		eval[bool](phone, `(document.querySelectorAll("details").forEach(d => d.open = true), true)`)
		if w, wide := phone.overflow(); w > 0 {
			t.Errorf("%s is %dpx wider than a 390px phone's screen:\n%s", v.path, w, wide)
		}
	}
}
