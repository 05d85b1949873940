package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"approvald/approval"
)

// TestBrowser_ALinkFromANotificationSignsInThenApprovesAndRefusesOthers
// follows links as a notification carries them, in a real browser: the
// recipient, signed out, opens one, signs in, lands on the request with
// the decision form ready and approves; another signed-in reviewer opening
// the same link is refused (403); a link to a request edited since is
// refused (409) with a way to the request as it is now; an expired link
// is refused (410).
func TestBrowser_ALinkFromANotificationSignsInThenApprovesAndRefusesOthers(t *testing.T) {
	s := newStack(t, withLinks())
	ro := s.roles()
	other := s.keyIn("other-lead", []string{"finance"}, approval.ScopeReview, approval.ScopeRead)
	link := linkFor(ro.req, "svc:lead", time.Hour)

	lead := s.newTab(t, "lead")
	lead.open(link)
	lead.do("signing in from the link",
		chromedp.WaitVisible(chromedp.ID("credential")),
		chromedp.SendKeys(chromedp.ID("credential"), ro.reviewer),
		chromedp.Click(chromedp.ID("signin")),
	)
	lead.waitFor("the request opens with the decision form", `document.querySelector("#approve") !== null && document.querySelector("#from-link") !== null`)
	if loc := lead.location(); !strings.HasSuffix(loc, link) {
		t.Errorf("after signing in the tab shows %s, want the link", loc)
	}
	if got := eval[string](lead, `document.activeElement.id`); got != "review-comment" {
		t.Errorf("the focus is on %q, want the decision's comment", got)
	}
	lead.screenshot("link-request.png", true)
	lead.do("approving", chromedp.SendKeys(chromedp.ID("review-comment"), "Approved from the mail."), chromedp.Click(chromedp.ID("approve")))
	lead.waitFor("the status is approved", `(document.querySelector("#status") || {}).dataset?.status === "approved"`)
	if got := s.get(ro.req.ID); got.Status != approval.StatusApproved || got.Reviews[0].Reviewer != "svc:lead" || got.Reviews[0].Comment != "Approved from the mail." {
		t.Fatalf("stored: %s %+v", got.Status, got.Reviews)
	}

	// Someone else, signed in, with lead's link to a request still open.
	open := s.create(ro.requester, approval.Draft{Title: "Pay invoice 46"})
	someone := s.newTab(t, "other-lead")
	someone.signIn(other)
	someone.open(linkFor(open, "svc:lead", time.Hour))
	someone.waitFor("the refusal shows", `(document.querySelector(".status-code") || {}).innerText === "403"`)
	mustContain(t, "the refusal", someone.text("#error-message"), "sent to someone else")
	if someone.exists("#approve") {
		t.Error("the refusal offers to approve")
	}

	// A link to what the request said before an edit that voided reviews.
	before := linkFor(open, "svc:lead", time.Hour)
	if _, err := s.eng.Edit(context.Background(), s.principal(ro.requester), open.ID, approval.Patch{Payload: approval.Some(json.RawMessage(`{"amount":"5000.00"}`))}, nil); err != nil {
		t.Fatal(err)
	}
	lead.open(before)
	lead.waitFor("the refusal shows", `(document.querySelector(".status-code") || {}).innerText === "409"`)
	mustContain(t, "the refusal", lead.text("#error-message"), "changed after the link was sent")
	lead.screenshot("link-changed.png", true)
	lead.do("opening the request as it is now", chromedp.Click(chromedp.ID("open-request")))
	lead.waitFor("the request opens without the link", `document.querySelector("#approve") !== null && document.querySelector("#from-link") === null`)

	// An expired link.
	lead.open(linkFor(open, "svc:lead", -time.Minute))
	lead.waitFor("the refusal shows", `(document.querySelector(".status-code") || {}).innerText === "410"`)
	mustContain(t, "the refusal", lead.text("#error-message"), "Ask for a new link")
	if got := s.get(open.ID); len(got.Reviews) != 0 {
		t.Fatalf("refused links recorded reviews: %+v", got.Reviews)
	}
}
