package legacy_test

import (
	"slices"
	"testing"
	"time"

	"approvald/approval"
	"approvald/legacy"
)

// TestWireStatus_EveryStatusIsALegacyCodeAndOnlyApprovedLooksApproved:
// every status is shown as a code of the legacy enum (1 to 9), and only an
// approval in force (approved) is shown as 3.
func TestWireStatus_EveryStatusIsALegacyCodeAndOnlyApprovedLooksApproved(t *testing.T) {
	t.Parallel()
	want := map[approval.Status]int{
		approval.StatusChangesRequested: 2,
		approval.StatusRevoked:          4,
	}
	for _, s := range approval.Statuses() {
		got := legacy.WireStatus(s)
		if w, ok := want[s]; ok && got != w {
			t.Errorf("%s is shown as %d, want %d", s, got, w)
		}
		if s != approval.StatusUnknown && (got < 1 || got > 9) {
			t.Errorf("%s is shown as %d, outside the legacy enum", s, got)
		}
		if looksApproved := got == int(approval.StatusApproved) || got == int(approval.StatusAcknowledgedApproved); looksApproved &&
			s != approval.StatusApproved && s != approval.StatusAcknowledgedApproved {
			t.Errorf("%s looks approved (%d)", s, got)
		}
	}
}

var (
	nativeReviewer = approval.Principal{ID: "svc:native-reviewer", Scopes: []approval.Scope{approval.ScopeReview}}
	nativeAdmin    = approval.Principal{ID: "svc:dpo", Scopes: []approval.Scope{approval.ScopeAdmin}}
)

func TestNewStatuses_ChangesRequestedIsPendingToLegacyClients(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("stash", rc.URL, nil)
	created := billing.create(rule.ID, "deploy", "please")

	r, err := f.eng.Review(f.ctx, nativeReviewer, created.ID, approval.ReviewInput{Decision: approval.DecisionRequestChanges, Comment: "name the release"}, nil)
	if err != nil || r.Status != approval.StatusChangesRequested {
		t.Fatalf("request changes: %v %v", r, err)
	}

	if got := billing.get(created.ID); got.Status != int(approval.StatusPending) {
		t.Errorf("GET /request shows status %d, want 2", got.Status)
	}
	pending := billing.list("?default=0")
	if i := slices.IndexFunc(pending, func(it legacy.Item) bool { return it.ID == created.ID }); i < 0 || pending[i].Status != 2 {
		t.Errorf("the pending list %+v lacks it as 2", pending)
	}
	all := billing.list("?default=1&limit=100")
	if i := slices.IndexFunc(all, func(it legacy.Item) bool { return it.ID == created.ID }); i < 0 || all[i].Status != 2 {
		t.Errorf("the full list %+v lacks it as 2", all)
	}
	// Not decidable until the requester resubmits; still editable.
	ops.wantError(409, "PUT", "/request", map[string]any{"id": created.ID, "status": 3})
	if got := billing.put(map[string]any{"id": created.ID, "title": "deploy release 7"}); got.Title != "deploy release 7" || got.Status != 2 {
		t.Errorf("edit while changes are requested: %+v", got)
	}
	time.Sleep(100 * time.Millisecond) // a callback would have gone out by now
	if calls := rc.callsFor(created.ID); len(calls) != 0 {
		t.Errorf("changes requested called the rule back: %+v", calls)
	}
}

func TestNewStatuses_RevokedIsRejectedToLegacyClientsAndCallbacks(t *testing.T) {
	f := setup(t)
	billing, ops, _ := f.callers()
	rc := newReceiver(t)
	rule := f.rule("stash", rc.URL, nil)
	created := billing.create(rule.ID, "deploy", "please")
	ops.put(map[string]any{"id": created.ID, "status": 3})
	billing.waitStatus(created.ID, approval.StatusApproved)

	if _, err := f.eng.Revoke(f.ctx, nativeAdmin, created.ID, "deployed to the wrong region", nil); err != nil {
		t.Fatalf("revoke: %v", err)
	}

	if got := billing.get(created.ID); got.Status != int(approval.StatusRejected) {
		t.Errorf("GET /request shows a revoked request as %d, want 4", got.Status)
	}
	all := billing.list("?default=1&limit=100")
	if i := slices.IndexFunc(all, func(it legacy.Item) bool { return it.ID == created.ID }); i < 0 || all[i].Status != 4 {
		t.Errorf("the full list %+v lacks it as 4", all)
	}
	if slices.ContainsFunc(billing.list("?default=0"), func(it legacy.Item) bool { return it.ID == created.ID }) {
		t.Error("a revoked request is in the pending list")
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(rc.callsFor(created.ID)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	calls := rc.callsFor(created.ID)
	if len(calls) != 2 {
		t.Fatalf("%d callbacks, want the approval's and the revocation's: %+v", len(calls), calls)
	}
	wantCallback(t, calls[0], created.ID, approval.StatusApproved)
	wantCallback(t, calls[1], created.ID, approval.StatusRejected)
	// Whatever the revocation's delivery did to the request, it never
	// looks approved again.
	if got := billing.get(created.ID); got.Status == int(approval.StatusApproved) {
		t.Errorf("after the revocation's callback, the request shows %d", got.Status)
	}
}
