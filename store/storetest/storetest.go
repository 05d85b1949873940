package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
	"approvald/gateway/calllog"
)

// Store is what a store package provides: approval's store and the
// gateway's call log, on one database.
type Store interface {
	approval.Store
	calllog.Log
}

// Run runs the conformance suite. Each subtest runs in parallel with the
// others and calls open for a fresh, empty store of its own; open must fail
// the test if it cannot make one, and close the store when the test ends
// (with t.Cleanup). exec alters a store's database behind its back, for the
// cases that check that tampering shows.
func Run(t *testing.T, open func(t *testing.T) Store, exec Exec) {
	tests := []struct {
		name string
		test func(t *testing.T, s Store)
	}{
		{"CreateApproval_GetApprovalReturnsItExactly", testCreateGet},
		{"UpdateApproval_StoresEveryField", testEveryField},
		{"UnknownID_IsNotFound", testUnknownID},
		{"MalformedID_IsNotFound", testMalformedID},
		{"UpdateApproval_WritesHistoryAndOutbox", testHistoryAndOutbox},
		{"UpdateApproval_FnErrorWritesNothing", testFnError},
		{"UpdateApproval_ZeroChangeWritesNothing", testZeroChange},
		{"UpdateApproval_EveryTransition", testTransitions},
		{"ListApprovals_Filters", testListFilters},
		{"ListApprovals_KeysetPaging", testListPaging},
		{"ListApprovals_CursorNotStored", testListCursorNotStored},
		{"Overdue_PendingWithPassedDeadline", testOverdue},
		{"ListByDeadline_OrderFilterPaging", testListByDeadline},
		{"CreateApproval_IdempotencyKey", testIdempotency},
		{"CreateApproval_ConcurrentSameIdempotencyKey", testIdempotencyConcurrent},
		{"DeleteIdempotencyBefore", testDeleteIdempotency},
		{"APIKeys", testAPIKeys},
		{"APIKeys_ExpiryOriginLastUse", testAPIKeyFields},
		{"APIKeys_HashUniqueAmongLiveKeys", testAPIKeyHashes},
		{"TouchAPIKey_AtMostOnceAMinute", testTouchAPIKey},
		{"RotateAPIKey", testRotateAPIKey},
		{"ReplaceAPIKey", testReplaceAPIKey},
		{"UpdateApproval_ConcurrentReviewsDecideOnce", testConcurrentReviews},
		{"UpdateApproval_ConcurrentEditsAllApply", testConcurrentEdits},
		{"CreateAPIKey_ConcurrentSameNameStoresOne", testConcurrentAPIKeysSameName},
		{"ReplaceAPIKey_ConcurrentSameKeyStoresOne", testConcurrentReplaceAPIKey},
		{"ServiceRules", testServiceRules},
		{"DeleteServiceRule_InUseIsConflict", testDeleteServiceRuleInUse},
		{"Policies", testPolicies},
		{"ServiceRules_NameOnlyStoredPolicies", testServiceRulePolicies},
		{"Requests_PolicyDependencyReminderFields", testNewFieldsRoundTrip},
		{"Inbox", testInbox},
		{"Inbox_KeysetPaging", testInboxPaging},
		{"Statuses", testStatuses},
		{"Dependents", testDependents},
		{"Unresolved", testUnresolved},
		{"DueReminders", testDueReminders},
		{"Deliveries_ClaimLeaseRetryFinish", testDeliveries},
		{"FinishDelivery_Failed", testDeliveryFailed},
		{"OutboxStats", testOutboxStats},
		{"ClaimDeliveries_ConcurrentClaimEachOnce", testClaimDeliveriesConcurrent},
		{"ClaimUnpublished_MarkPublished", testClaimUnpublished},
		{"DeleteOutboxBefore", testDeleteOutboxBefore},
		{"Changes_WakeAfterEveryChange", testChanges},
		{"Requests_SubjectAndOutcome", testSubjectOutcome},
		{"ListApprovals_BySubject", testListBySubject},
		{"GatewayCalls_RecordList", testGatewayCalls},
		{"GatewayCalls_Batch", testGatewayCallBatch},
		{"GatewayCalls_TextNormalized", testGatewayCallText},
		{"ListHistory_OrderPagingFilters", testListHistory},
		{"HistoryChains_EveryRequestInBatches", testHistoryChains},
		{"HistoryChains_ShowTampering", func(t *testing.T, s Store) { testTamperedHistory(t, s, exec) }},
		{"Channels", testChannels},
		{"Channels_InUseAndUnknown", testChannelsInUse},
		{"Routes", testRoutes},
		{"Contacts_SourcePrecedence", testContacts},
		{"Mutes", testMutes},
		{"Delegations", testDelegations},
		{"ClaimUnplanned_LeaseUntilPlanned", testClaimUnplanned},
		{"PlanNotifications_SkipsQueuedKeys", testPlanNotifications},
		{"ClaimNotifications_BatchesPerTarget", testClaimNotifications},
		{"FinishNotifications_ListStatsDelete", testFinishNotifications},
		{"ClaimNotifications_ConcurrentClaimEachOnce", testClaimNotificationsConcurrent},
		{"Requests_EscalationFieldsAndDueEscalations", testEscalationFields},
		{"Requests_LifecycleFieldsRoundTrip", testLifecycleFields},
		{"Requests_ChangesRequestedAndRevoked", testLifecycleStatuses},
		{"Policies_MatchAndPriority", testPolicyMatchPriority},
		{"CancelledContext_Fails", testCancelledContext},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t))
		})
	}
}

// t0 is the suite's clock: every time is t0 plus an offset. It has
// microseconds, so a store that loses them fails the round trips.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// at returns t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// Requesters. Neither may review.
var (
	alice = approval.Principal{ID: "user:alice", Scopes: []approval.Scope{approval.ScopeCreate}}
	bob   = approval.Principal{ID: "user:bob", Scopes: []approval.Scope{approval.ScopeCreate}}
)

// reviewer returns a principal with the review scope.
func reviewer(name string, groups ...string) approval.Principal {
	return approval.Principal{ID: "user:" + name, Groups: groups, Scopes: []approval.Scope{approval.ScopeReview}}
}

// twoApprovals is a policy that needs two approvals, so one review does not decide.
var twoApprovals = approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}

func newID(t *testing.T) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// newRequest returns a new request made by p at t0, not yet stored, with its
// creation change.
func newRequest(t *testing.T, p approval.Principal, d approval.Draft, pol approval.Policy) (*approval.Request, approval.Change) {
	t.Helper()
	if d.Title == "" {
		d.Title = "Publish dataset"
	}
	r, ch, err := approval.New(newID(t), d, p, approval.Mandate{Policy: pol, Source: "default"}, t0)
	if err != nil {
		t.Fatalf("approval.New: %v", err)
	}
	return r, ch
}

// create stores a new request made by p at t0 and returns it, as the test's
// own copy.
func create(t *testing.T, s Store, p approval.Principal, d approval.Draft, pol approval.Policy) *approval.Request {
	t.Helper()
	r, ch := newRequest(t, p, d, pol)
	if _, err := s.CreateApproval(t.Context(), r.Clone(), ch, nil); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	return r
}

// op is a change to a request, as UpdateApproval takes it.
type op = func(*approval.Request) (approval.Change, error)

func editOp(p approval.Principal, patch approval.Patch, now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) { return r.Edit(p, patch, nil, now) }
}

func commentOp(p approval.Principal, comment string, now time.Time) op {
	return editOp(p, approval.Patch{Comment: approval.Some(comment)}, now)
}

func reviewOp(p approval.Principal, d approval.Decision, now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) {
		return r.Review(p, approval.ReviewInput{Decision: d}, nil, now)
	}
}

func cancelOp(p approval.Principal, now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) { return r.Cancel(p, "no longer needed", nil, now) }
}

func expireOp(now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) { return r.Expire(now), nil }
}

// step applies fn both to the stored request, through UpdateApproval, and to
// local, the test's own copy; it checks that the store passed fn the request
// as stored and kept what fn made of it. It returns the change.
func step(t *testing.T, s Store, local *approval.Request, fn op) approval.Change {
	t.Helper()
	ch, err := fn(local)
	if err != nil {
		t.Fatalf("applying the change to the test's copy: %v", err)
	}
	if ch.IsZero() {
		t.Fatal("the change is zero; step needs one that writes")
	}
	got, err := s.UpdateApproval(t.Context(), local.ID, fn)
	if err != nil {
		t.Fatalf("UpdateApproval: %v", err)
	}
	// The store tells the request its dependencies' statuses, read in the
	// change's transaction; the test's copy does not know them.
	got.SetDependencies(nil)
	equalRequest(t, "UpdateApproval result", got, local)
	equalRequest(t, "GetApproval after UpdateApproval", get(t, s, local.ID), local)
	return ch
}

func get(t *testing.T, s Store, id string) *approval.Request {
	t.Helper()
	r, err := s.GetApproval(t.Context(), id)
	if err != nil {
		t.Fatalf("GetApproval(%s): %v", id, err)
	}
	return r
}

func history(t *testing.T, s Store, id string) []approval.HistoryEntry {
	t.Helper()
	h, err := s.History(t.Context(), id)
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	return h
}

// outbox returns every outbox record of request id, or of every request when
// id is empty, reading page by page. It checks that sequence numbers rise.
func outbox(t *testing.T, s Store, id string) []approval.OutboxRecord {
	t.Helper()
	var out []approval.OutboxRecord
	var after int64
	for {
		page, err := s.Outbox(t.Context(), after, 7)
		if err != nil {
			t.Fatalf("Outbox(%d, 7): %v", after, err)
		}
		if len(page) == 0 {
			return out
		}
		for _, rec := range page {
			if rec.Seq <= after {
				t.Fatalf("Outbox(%d, 7) returned seq %d, not above %d", after, rec.Seq, after)
			}
			after = rec.Seq
			if id == "" || rec.RequestID == id {
				out = append(out, rec)
			}
		}
	}
}

// equalRequest fails the test unless got equals want in every field.
func equalRequest(t *testing.T, what string, got, want *approval.Request) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, dump(got), dump(want))
	}
}

func dump(r *approval.Request) string {
	if r == nil {
		return "<nil>"
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s (history_head %q)", b, r.HistoryHead)
}

// wantKind fails the test unless err is an error of kind k.
func wantKind(t *testing.T, what string, err error, k approval.Kind) {
	t.Helper()
	if err == nil || approval.KindOf(err) != k {
		t.Errorf("%s: error %v (kind %v), want kind %v", what, err, kindOf(err), k)
	}
}

func kindOf(err error) any {
	if err == nil {
		return "none"
	}
	return approval.KindOf(err)
}

// ids returns the ids of rs.
func ids(rs []*approval.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
