package engine_test

import (
	"slices"
	"testing"
	"time"

	"approvald/approval"
)

var (
	carol = approval.Principal{ID: "user:carol", Scopes: []approval.Scope{approval.ScopeReview}}
	dan   = approval.Principal{ID: "user:dan", Scopes: []approval.Scope{approval.ScopeReview, approval.ScopeCreate}}
)

// onlyBob is a policy that bob alone satisfies; escalate, when not zero,
// adds carol an hour after the stage opened.
func onlyBob(escalate time.Duration) approval.Policy {
	rule := approval.Rule{Name: "owner", MinApprovals: 1, Principals: []string{bob.ID}, RejectThreshold: 1}
	if escalate > 0 {
		rule.EscalateAfter = approval.Duration(escalate)
		rule.EscalateTo = approval.Reviewers{Principals: []string{carol.ID}}
	}
	return approval.Policy{Rules: []approval.Rule{rule}}
}

// inboxIDs returns the ids in p's inbox.
func (b *bundle) inboxIDs(p approval.Principal) []string {
	b.t.Helper()
	rs, _, err := b.eng.Inbox(b.ctx, p, "", 50)
	if err != nil {
		b.t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestEscalateDue_TheEscalatedReviewerApproves(t *testing.T) {
	b := setup(t)
	b.policy("p", onlyBob(time.Hour))
	r := b.create(approval.Draft{Title: "t", PolicyName: "p"})
	approve := approval.ReviewInput{Decision: approval.DecisionApprove}
	if _, err := b.eng.Review(b.ctx, carol, r.ID, approve, nil); approval.CodeOf(err) != approval.CodeNotEligible {
		t.Fatalf("carol before the escalation: %v", err)
	}
	if n, err := b.eng.EscalateDue(b.ctx); err != nil || n != 0 {
		t.Fatalf("escalated %d before it was due: %v", n, err)
	}
	b.clock.Advance(time.Hour)
	if n, err := b.eng.EscalateDue(b.ctx); err != nil || n != 1 {
		t.Fatalf("escalated %d when due: %v", n, err)
	}
	got := b.stored(r.ID)
	if got.Status != approval.StatusPending || len(got.Escalations) != 1 || got.NextEscalationAt != nil {
		t.Fatalf("after escalating: %s, escalations %+v, next %v", got.Status, got.Escalations, got.NextEscalationAt)
	}
	h, err := b.eng.History(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := h.Entries[len(h.Entries)-1]
	if last.Action != approval.ActionEscalate || last.Actor != approval.System.ID {
		t.Fatalf("history ends with %s by %s", last.Action, last.Actor)
	}
	if !slices.Contains(b.inboxIDs(carol), r.ID) {
		t.Fatal("the escalated request is not in carol's inbox")
	}
	if n, err := b.eng.EscalateDue(b.ctx); err != nil || n != 0 {
		t.Fatalf("escalated %d again: %v", n, err)
	}
	done, err := b.eng.Review(b.ctx, carol, r.ID, approve, nil)
	if err != nil || done.Status != approval.StatusApproved {
		t.Fatalf("carol's approval: %v", err)
	}
	if got := b.history(r.ID); !slices.Equal(got, []approval.Action{approval.ActionCreate, approval.ActionEscalate, approval.ActionApprove}) {
		t.Fatalf("history = %v", got)
	}
}

// delegate has bob delegate his reviews to dan for a day and returns the delegation.
func (b *bundle) delegate(from, to approval.Principal) *approval.Delegation {
	b.t.Helper()
	d, err := b.eng.CreateDelegation(b.ctx, from, approval.Delegation{Delegate: to.ID, Ends: b.clock.Now().Add(24 * time.Hour), Reason: "out of office"})
	if err != nil {
		b.t.Fatal(err)
	}
	return d
}

func TestReview_DelegateReviewsByXForY(t *testing.T) {
	b := setup(t)
	b.policy("p", onlyBob(0))
	r := b.create(approval.Draft{Title: "t", PolicyName: "p"})
	if slices.Contains(b.inboxIDs(dan), r.ID) {
		t.Fatal("in dan's inbox before the delegation")
	}
	b.delegate(bob, dan)
	if !slices.Contains(b.inboxIDs(dan), r.ID) {
		t.Fatal("bob's request is not in the inbox of his delegate")
	}
	got, err := b.eng.Review(b.ctx, dan, r.ID, approval.ReviewInput{Decision: approval.DecisionApprove, OnBehalfOf: bob.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv := b.stored(r.ID).Reviews[0]
	if got.Status != approval.StatusApproved || rv.Reviewer != bob.ID || rv.By != dan.ID || !slices.Equal(rv.Groups, bob.Groups) {
		t.Fatalf("status %s, review %+v", got.Status, rv)
	}
	h, err := b.eng.History(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := h.Entries[len(h.Entries)-1]; last.Actor != dan.ID || last.Action != approval.ActionApprove {
		t.Fatalf("history ends with %s by %s, want approve by %s", last.Action, last.Actor, dan.ID)
	}
}

func TestReview_DelegateRefusedOnTheDelegatorsAndTheirOwnRequests(t *testing.T) {
	b := setup(t)
	bobCreates := approval.Principal{ID: bob.ID, Groups: bob.Groups, Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeReview}}
	b.delegate(bobCreates, dan)
	// Bob or carol approves: not dan by himself, so only the delegation
	// could bring these requests to him.
	b.policy("p", approval.Policy{Rules: []approval.Rule{{Name: "owners", MinApprovals: 1, Principals: []string{bob.ID, carol.ID}, RejectThreshold: 1}}})
	for _, who := range []approval.Principal{bobCreates, dan} {
		c, err := b.eng.Create(b.ctx, who, approval.Draft{Title: "by " + who.ID, PolicyName: "p"}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.eng.Review(b.ctx, dan, c.Request.ID, approval.ReviewInput{Decision: approval.DecisionApprove, OnBehalfOf: bob.ID}, nil)
		wantError(t, err, approval.KindForbidden, approval.CodeSelfReview)
		if slices.Contains(b.inboxIDs(dan), c.Request.ID) {
			t.Fatalf("the request by %s is in dan's inbox", who.ID)
		}
		if len(b.stored(c.Request.ID).Reviews) != 0 {
			t.Fatal("a refused review was stored")
		}
	}
}

func TestReview_RevokedOrEndedDelegationIsRefusedAtOnce(t *testing.T) {
	b := setup(t)
	b.policy("p", onlyBob(0))
	r := b.create(approval.Draft{Title: "t", PolicyName: "p"})
	forBob := approval.ReviewInput{Decision: approval.DecisionApprove, OnBehalfOf: bob.ID}
	_, err := b.eng.Review(b.ctx, dan, r.ID, forBob, nil)
	wantError(t, err, approval.KindForbidden, approval.CodeNotDelegated)

	d := b.delegate(bob, dan)
	if _, err := b.eng.RevokeDelegation(b.ctx, bob, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.eng.Review(b.ctx, dan, r.ID, forBob, nil)
	wantError(t, err, approval.KindForbidden, approval.CodeNotDelegated)
	if slices.Contains(b.inboxIDs(dan), r.ID) {
		t.Fatal("still in dan's inbox after the revocation")
	}

	b.delegate(bob, dan)
	b.clock.Advance(24 * time.Hour)
	_, err = b.eng.Review(b.ctx, dan, r.ID, forBob, nil)
	wantError(t, err, approval.KindForbidden, approval.CodeNotDelegated)
	if len(b.stored(r.ID).Reviews) != 0 {
		t.Fatal("a refused review was stored")
	}
}

// A delegate counts once: having reviewed for the delegator, it no longer
// sees the request in its inbox nor may review it for itself.
func TestInbox_TheDelegateSeesTheDelegatorsRequestsUntilItReviewed(t *testing.T) {
	b := setup(t)
	twoOfAnyone := approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}
	b.policy("two", twoOfAnyone)
	b.policy("p", onlyBob(0))
	mine := b.create(approval.Draft{Title: "anyone", PolicyName: "two"})
	theirs := b.create(approval.Draft{Title: "bob's", PolicyName: "p"})
	b.delegate(bob, dan)
	if got := b.inboxIDs(dan); !slices.Equal(got, []string{mine.ID, theirs.ID}) {
		t.Fatalf("dan's inbox = %v, want %v", got, []string{mine.ID, theirs.ID})
	}
	if _, err := b.eng.Review(b.ctx, dan, mine.ID, approval.ReviewInput{Decision: approval.DecisionApprove, OnBehalfOf: bob.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if got := b.inboxIDs(dan); !slices.Equal(got, []string{theirs.ID}) {
		t.Fatalf("dan's inbox after reviewing for bob = %v", got)
	}
	_, err := b.eng.Review(b.ctx, dan, mine.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil)
	wantError(t, err, approval.KindConflict, approval.CodeAlreadyReviewed)
	rs, next, err := b.eng.Inbox(b.ctx, dan, "", 1)
	if err != nil || len(rs) != 1 || rs[0].ID != theirs.ID || next != "" {
		t.Fatalf("a page of one: %v %q %v", rs, next, err)
	}
}
