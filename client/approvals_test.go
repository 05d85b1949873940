package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"approvald/client"
)

func TestCreate_ReturnsPendingRequestWithRawJSON(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)

	var resp client.Response
	req, err := a.requester.Create(ctx, client.CreateRequest{
		Title:   "Pay invoice 42",
		Payload: json.RawMessage(`{"invoice":42,"amount":"1200.00"}`),
		Subject: "invoice-42",
	}, client.CaptureResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != client.StatusPending || req.StatusCode != 2 || req.Version != 1 || req.Requester != a.requesterKey.Principal() {
		t.Fatalf("created %+v", req)
	}
	if resp.StatusCode != http.StatusCreated || resp.Replayed() || resp.Header.Get("ETag") != `"1"` {
		t.Fatalf("response %d, replayed %v, ETag %q", resp.StatusCode, resp.Replayed(), resp.Header.Get("ETag"))
	}
	var raw map[string]any
	if err := json.Unmarshal(req.Raw(), &raw); err != nil || raw["id"] != req.ID || raw["progress"] == nil {
		t.Fatalf("Raw() = %s (%v)", req.Raw(), err)
	}
	if string(req.Payload) != `{"invoice":42,"amount":"1200.00"}` {
		t.Fatalf("payload %s", req.Payload)
	}

	got, err := a.reviewer.Get(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != req.ID || got.Title != "Pay invoice 42" || got.Subject != "invoice-42" || got.Progress.PendingReason == "" {
		t.Fatalf("got %+v", got)
	}
}

func TestReview_ApproveDecidesAndRejectOfDecidedIsConflict(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Deploy 1.2.3"})
	if err != nil {
		t.Fatal(err)
	}

	approved, err := a.reviewer.Approve(ctx, req.ID, "ship it", client.IfMatch(req.Version))
	if err != nil {
		t.Fatal(err)
	}
	if approved.Status != client.StatusApproved || len(approved.Reviews) != 1 || approved.Reviews[0].Comment != "ship it" || approved.DecidedAt == nil {
		t.Fatalf("approved %+v", approved)
	}

	_, err = a.reviewer2.Reject(ctx, req.ID, "too late")
	if !client.IsConflict(err) || !client.HasCode(err, client.CodeInvalidTransition) {
		t.Fatalf("reject of an approved request: %v", err)
	}
	apiErr := client.AsError(err)
	if apiErr.Status != http.StatusConflict || !strings.Contains(apiErr.Detail, "approved") || apiErr.RequestID == "" {
		t.Fatalf("problem %+v", apiErr)
	}
}

func TestErrors_CarryTheProblemCodeAndFields(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	self := newClient(t, shared.URL, shared.NewKey(t, "self", "approvals:create", "approvals:review", "approvals:read").Secret)
	req, err := self.Create(ctx, client.CreateRequest{Title: "Mine"})
	if err != nil {
		t.Fatal(err)
	}
	errOf := func(_ *client.ApprovalRequest, err error) error { return err }

	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"self review", errOf(self.Approve(ctx, req.ID, "")), 403, client.CodeSelfReview},
		{"unknown request", errOf(a.reviewer.Get(ctx, "0190a5f0-0000-7000-8000-000000000000")), 404, client.CodeNotFound},
		{"bad token", errOf(newClient(t, shared.URL, "apd_nope").Get(ctx, req.ID)), 401, client.CodeUnauthenticated},
		{"missing scope", errOf(a.reviewer.Create(ctx, client.CreateRequest{Title: "x"})), 403, client.CodeMissingScope},
		{"stale If-Match", errOf(self.SetComment(ctx, req.ID, "c", client.IfMatch(7))), 412, client.CodeVersionMismatch},
	}
	for _, c := range cases {
		var apiErr *client.Error
		if !errors.As(c.err, &apiErr) || apiErr.Status != c.status || apiErr.Code != c.code || apiErr.Detail == "" {
			t.Errorf("%s: got %v, want %d %s", c.name, c.err, c.status, c.code)
		}
	}

	_, err = self.Create(ctx, client.CreateRequest{Title: "  "})
	apiErr := client.AsError(err)
	if apiErr == nil || apiErr.Code != client.CodeValidationFailed || len(apiErr.Errors) == 0 || apiErr.Errors[0].Field != "title" {
		t.Fatalf("blank title: %v", err)
	}
	if !strings.Contains(err.Error(), "title:") {
		t.Fatalf("error text %q does not name the field", err)
	}
	if !client.IsNotFound(cases[1].err) || client.IsNotFound(cases[0].err) {
		t.Fatal("IsNotFound does not tell 404 apart")
	}
}

func TestCreate_SameIdempotencyKeyReplaysAndOtherBodyIsRefused(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	in := client.CreateRequest{Title: "Grant access", Payload: json.RawMessage(`{"user":"bob"}`)}

	first, err := a.requester.Create(ctx, in, client.IdempotencyKey("grant-bob-1"))
	if err != nil {
		t.Fatal(err)
	}
	var resp client.Response
	again, err := a.requester.Create(ctx, in, client.IdempotencyKey("grant-bob-1"), client.CaptureResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || !resp.Replayed() || resp.StatusCode != http.StatusCreated {
		t.Fatalf("replay gave %s (replayed %v), first was %s", again.ID, resp.Replayed(), first.ID)
	}

	in.Title = "Grant access to alice"
	_, err = a.requester.Create(ctx, in, client.IdempotencyKey("grant-bob-1"))
	if !client.HasCode(err, client.CodeIdempotencyKeyReused) {
		t.Fatalf("other body with the same key: %v", err)
	}

	// Without a key each create gets its own random one.
	x, err := a.requester.Create(ctx, client.CreateRequest{Title: "twice"})
	if err != nil {
		t.Fatal(err)
	}
	y, err := a.requester.Create(ctx, client.CreateRequest{Title: "twice"})
	if err != nil {
		t.Fatal(err)
	}
	if x.ID == y.ID {
		t.Fatal("two creates without a key made one request")
	}
}

func TestEdit_ChangesFieldsCommentsAndClears(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	deadline := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Old", Deadline: &deadline, RemindAfter: "4h"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Deadline == nil || !req.Deadline.Equal(deadline) || req.RemindAfter != "4h" {
		t.Fatalf("created deadline %v, remind_after %q", req.Deadline, req.RemindAfter)
	}

	title := "New"
	edited, err := a.requester.Edit(ctx, req.ID, client.ApprovalPatch{
		Title: &title, Payload: json.RawMessage(`{"v":2}`), Clear: []string{"deadline", "remind_after"},
	}, client.IfMatch(1))
	if err != nil {
		t.Fatal(err)
	}
	if edited.Title != "New" || edited.Deadline != nil || edited.RemindAfter != "" || string(edited.Payload) != `{"v":2}` || edited.Version != 2 {
		t.Fatalf("edited %+v", edited)
	}
	commented, err := a.requester.SetComment(ctx, req.ID, "see ticket 7")
	if err != nil {
		t.Fatal(err)
	}
	if commented.Comment != "see ticket 7" || commented.Version != 3 {
		t.Fatalf("commented %+v", commented)
	}
}

func TestCancel_EndsInCancelledAndOnlyTheCommentMayChange(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Not needed"})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := a.requester.Cancel(ctx, req.ID, "changed my mind")
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.Status != client.StatusCancelled || !cancelled.Status.IsFinal() || cancelled.Status.Code() != 5 {
		t.Fatalf("cancelled %+v", cancelled)
	}
	title := "renamed"
	if _, err := a.requester.Edit(ctx, req.ID, client.ApprovalPatch{Title: &title}); !client.HasCode(err, client.CodeInvalidTransition) {
		t.Fatalf("title edit after cancel: %v", err)
	}
}

func TestList_FiltersPagesAndInbox(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	var ids []string
	for i := range 5 {
		r, err := a.requester.Create(ctx, client.CreateRequest{Title: "batch " + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if _, err := a.requester.Cancel(ctx, ids[0], ""); err != nil {
		t.Fatal(err)
	}
	mine := client.ListOptions{Requester: a.requesterKey.Principal(), Limit: 2}

	page, err := a.requester.List(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.NextCursor == "" || page.Items[0].ID != ids[4] {
		t.Fatalf("first page: %d items, cursor %q", len(page.Items), page.NextCursor)
	}
	var all []string
	for r, err := range a.requester.ListAll(ctx, mine) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r.ID)
	}
	slices.Reverse(all)
	if !slices.Equal(all, ids) {
		t.Fatalf("ListAll = %v, want %v (newest first)", all, ids)
	}

	pending, err := a.requester.List(ctx, client.ListOptions{Requester: a.requesterKey.Principal(), Status: []client.Status{client.StatusCancelled}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.Items) != 1 || pending.Items[0].ID != ids[0] {
		t.Fatalf("cancelled filter: %d items", len(pending.Items))
	}

	inbox := 0
	for r, err := range a.reviewer.ListAll(ctx, client.ListOptions{AwaitingMe: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Requester == a.requesterKey.Principal() {
			inbox++
		}
	}
	if inbox != 4 {
		t.Fatalf("the reviewer's inbox holds %d of the requester's requests, want 4", inbox)
	}
}

func TestHistory_ListsEveryChangeAndVerifiesLocally(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Audit me"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reviewer.Approve(ctx, req.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.requester.SetComment(ctx, req.ID, "done"); err != nil {
		t.Fatal(err)
	}

	h, err := a.reviewer.VerifyHistoryLocally(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, e := range h.Items {
		steps = append(steps, e.Action+" by "+e.Actor)
	}
	want := []string{"create by " + a.requesterKey.Principal(), "approve by " + h.Items[1].Actor, "comment by " + a.requesterKey.Principal()}
	if !slices.Equal(steps, want) || !h.Verified || !strings.HasPrefix(h.Items[1].Actor, "svc:reviewer-") {
		t.Fatalf("history %v (verified %v), want %v", steps, h.Verified, want)
	}

	tampered := slices.Clone(h.Items)
	tampered[1].Actor = "svc:mallory"
	if err := client.VerifyChain(tampered); err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("VerifyChain of a tampered history: %v", err)
	}
	if err := client.VerifyChain(h.Items[:1]); err != nil {
		t.Fatalf("a prefix of the chain is a valid chain: %v", err)
	}
	if err := client.VerifyChain(h.Items[1:]); err == nil {
		t.Fatal("VerifyChain accepted a history without its creation")
	}
}
