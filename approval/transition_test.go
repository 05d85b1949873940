package approval

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	alice = Principal{ID: "user:alice", Scopes: []Scope{ScopeCreate, ScopeRead}}
	bob   = Principal{ID: "user:bob", Scopes: []Scope{ScopeReview, ScopeRead}}
	carol = Principal{ID: "user:carol", Scopes: []Scope{ScopeReview}}
	root  = Principal{ID: "svc:admin", Scopes: []Scope{ScopeAdmin}}
)

func newRequest(t *testing.T, rule string) *Request {
	t.Helper()
	r, ch, err := New("0190a4e0-0000-7000-8000-000000000001", Draft{Title: "Pay invoice 42", Payload: json.RawMessage(`{"amount": 42}`), ServiceRule: rule}, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Entry.Seq != 1 || ch.Event.Type != EventCreated {
		t.Fatalf("creation change = %+v", ch)
	}
	return r
}

// inStatus returns a request forced into status s (the table, not the path
// to s, is under test here).
func inStatus(t *testing.T, s Status) *Request {
	r := newRequest(t, "")
	r.Status = s
	if s == StatusError {
		prev := StatusAcknowledgedApproved
		r.PreviousStatus = &prev
	}
	return r
}

// TestTransitionTable_EveryStatusAndAction spells out, independently of the
// table, which action each status allows and where it leads (without a
// service rule; "=" means the status stays).
func TestTransitionTable_EveryStatusAndAction(t *testing.T) {
	const same = "="
	want := map[Status]map[Action]string{
		StatusPending: {ActionEdit: same, ActionComment: same, ActionReview: same, ActionApprove: "approved",
			ActionReject: "rejected", ActionCancel: "cancelled", ActionExpire: "expired", ActionEscalate: same,
			ActionRequestChanges: "changes_requested"},
		StatusError: {ActionEdit: same, ActionComment: same, ActionReview: same, ActionApprove: "approved",
			ActionReject: "rejected", ActionCancel: "cancelled", ActionRedeliver: same},
		StatusAcknowledgedApproved:  {ActionDelivered: "approved", ActionDeliveryFailed: "error"},
		StatusAcknowledgedRejected:  {ActionDelivered: "rejected", ActionDeliveryFailed: "error"},
		StatusAcknowledgedCancelled: {ActionDelivered: "cancelled", ActionDeliveryFailed: "error"},
		StatusApproved:              {ActionComment: same, ActionRevoke: "revoked"},
		StatusChangesRequested: {ActionEdit: same, ActionComment: same, ActionCancel: "cancelled",
			ActionResubmit: "pending", ActionExpire: "expired"},
		StatusRevoked:   {ActionComment: same, ActionDelivered: same, ActionDeliveryFailed: same},
		StatusRejected:  {ActionComment: same},
		StatusCancelled: {ActionComment: same},
		StatusExpired:   {ActionComment: same, ActionDelivered: same, ActionDeliveryFailed: same},
		StatusUnknown:   {},
	}
	actions := []Action{ActionCreate, ActionEdit, ActionComment, ActionReview, ActionApprove, ActionReject,
		ActionCancel, ActionExpire, ActionDelivered, ActionDeliveryFailed, ActionRedeliver, ActionEscalate,
		ActionRequestChanges, ActionResubmit, ActionRevoke}
	for _, s := range Statuses() {
		for _, a := range actions {
			t.Run(fmt.Sprintf("%s/%s", s, a), func(t *testing.T) {
				exp, allowed := want[s][a]
				got, ok := Target(s, a, false)
				if ok != allowed {
					t.Fatalf("allowed = %v, want %v", ok, allowed)
				}
				if !ok {
					return
				}
				if exp == same {
					exp = s.String()
				}
				if got.String() != exp {
					t.Errorf("target = %s, want %s", got, exp)
				}
			})
		}
	}
}

func TestTransitionTable_DecisionsWithServiceRuleStopAtAcknowledged(t *testing.T) {
	for a, want := range map[Action]Status{ActionApprove: StatusAcknowledgedApproved, ActionReject: StatusAcknowledgedRejected, ActionCancel: StatusAcknowledgedCancelled} {
		for _, from := range []Status{StatusPending, StatusError} {
			if got, _ := Target(from, a, true); got != want {
				t.Errorf("%s from %s with a rule = %s, want %s", a, from, got, want)
			}
		}
	}
}

func TestEditable_PerStatus(t *testing.T) {
	all := []string{"title", "description", "payload", "deadline", "service_rule", "comment", "policy", "remind_after",
		"justification", "items"}
	for _, s := range Statuses() {
		var want []string
		switch {
		case s == StatusPending || s == StatusError || s == StatusChangesRequested:
			want = all
		case s.Final():
			want = []string{"comment"}
		}
		got := Editable(s)
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("Editable(%s) = %v, want %v", s, got, w)
		}
	}
}

func TestEdit_RefusedFieldsPerStatus(t *testing.T) {
	for _, s := range Statuses()[1:] {
		t.Run(s.String(), func(t *testing.T) {
			r := inStatus(t, s)
			_, err := r.Edit(alice, Patch{Title: Some("New title")}, nil, t0)
			wantOK := s == StatusPending || s == StatusError || s == StatusChangesRequested
			if (err == nil) != wantOK {
				t.Fatalf("title edit in %s: err = %v, want ok=%v", s, err, wantOK)
			}
			if !wantOK && CodeOf(err) != CodeInvalidTransition {
				t.Errorf("code = %s, want %s", CodeOf(err), CodeInvalidTransition)
			}
			_, err = inStatus(t, s).Edit(alice, Patch{Comment: Some("note")}, nil, t0)
			if wantComment := !s.Acknowledged(); (err == nil) != wantComment {
				t.Errorf("comment edit in %s: err = %v, want ok=%v", s, err, wantComment)
			}
		})
	}
}

func TestReview_RequesterCannotApproveOwnRequest(t *testing.T) {
	r := newRequest(t, "")
	self := alice
	self.Scopes = append(self.Scopes, ScopeReview)
	_, err := r.Review(self, ReviewInput{Decision: DecisionApprove, Comment: ""}, nil, t0)
	if CodeOf(err) != CodeSelfReview || KindOf(err) != KindForbidden {
		t.Fatalf("err = %v, want self_review", err)
	}
	if r.Version != 1 || len(r.Reviews) != 0 {
		t.Fatalf("refused review changed the request: %+v", r)
	}
}

func TestReview_OneApprovalDecidesWithoutServiceRule(t *testing.T) {
	r := newRequest(t, "")
	ch, err := r.Review(bob, ReviewInput{Decision: DecisionApprove, Comment: "ok"}, nil, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusApproved || r.DecidedAt == nil || *r.PreviousStatus != StatusPending {
		t.Fatalf("after approve: %+v", r)
	}
	if ch.Entry.Action != ActionApprove || ch.Event.Type != EventDecided || ch.Entry.Seq != 2 {
		t.Fatalf("change = %+v", ch.Entry)
	}
	if r.Reviews[0].Version != 1 {
		t.Errorf("review saw version %d, want 1", r.Reviews[0].Version)
	}
}

func TestReview_WithServiceRuleGoesToAcknowledged(t *testing.T) {
	r := newRequest(t, "billing")
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionReject, Comment: ""}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusAcknowledgedRejected {
		t.Fatalf("status = %s", r.Status)
	}
	if _, err := r.Edit(alice, Patch{Comment: Some("x")}, nil, t0); CodeOf(err) != CodeInvalidTransition {
		t.Fatalf("comment while acknowledged: err = %v", err)
	}
}

func TestReview_TwoOfThreePolicyAndDuplicate(t *testing.T) {
	r := newRequest(t, "")
	r.Policy = Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, Principals: []string{"user:bob", "user:carol", "user:dave"}, RejectThreshold: 2}}}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove, Comment: ""}, nil, t0); err != nil || r.Status != StatusPending {
		t.Fatalf("first approval: %v, %s", err, r.Status)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove, Comment: ""}, nil, t0); CodeOf(err) != CodeAlreadyReviewed {
		t.Fatalf("duplicate review: err = %v", err)
	}
	outsider := Principal{ID: "user:eve", Scopes: []Scope{ScopeReview}}
	if _, err := r.Review(outsider, ReviewInput{Decision: DecisionApprove, Comment: ""}, nil, t0); CodeOf(err) != CodeNotEligible {
		t.Fatalf("outsider: err = %v", err)
	}
	if _, err := r.Review(carol, ReviewInput{Decision: DecisionApprove, Comment: ""}, nil, t0); err != nil || r.Status != StatusApproved {
		t.Fatalf("second approval: %v, %s", err, r.Status)
	}
}

// Every change of what a reviewer saw voids the reviews given before it
// (a review binds to the content digest); a comment or a reminder setting
// is not content and voids nothing.
func TestEdit_AnyContentChangeVoidsReviews(t *testing.T) {
	later := t0.Add(48 * time.Hour)
	content := map[string]Patch{
		"title":        {Title: Some("Pay invoice 43")},
		"description":  {Description: Some("now for another supplier")},
		"payload":      {Payload: Some(json.RawMessage(`{"amount": 4200}`))},
		"deadline":     {Deadline: Some(&later)},
		"service_rule": {ServiceRule: Some("production"), Mandate: &Mandate{Policy: Policy{Rules: []Rule{{Name: "two", MinApprovals: 2}}}, Source: "service_rule:production"}},
	}
	for name, patch := range content {
		t.Run(name, func(t *testing.T) {
			r := newRequest(t, "")
			r.Policy = Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}
			if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
				t.Fatal(err)
			}
			seen := r.Digest
			if _, err := r.Edit(alice, patch, nil, t0); err != nil || !r.Reviews[0].Void || r.Digest == seen {
				t.Fatalf("%s edit kept the review: %v %+v", name, err, r.Reviews)
			}
			// Bob may review the new content; his void review does not count.
			if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusPending {
				t.Fatalf("bob again: %v %s", err, r.Status)
			}
			if _, err := r.Review(carol, ReviewInput{Decision: DecisionApprove, SeenDigest: seen}, nil, t0); CodeOf(err) != CodeStaleVersion {
				t.Fatalf("a review of the old content: err = %v, want stale_version", err)
			}
		})
	}
	r := newRequest(t, "")
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionReject}, nil, t0); err != nil {
		t.Fatal(err)
	}
}

// A comment or a reminder setting is not content: the reviews stay.
func TestEdit_CommentKeepsReviews(t *testing.T) {
	r := newRequest(t, "")
	r.Policy = Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Edit(alice, Patch{Comment: Some("any news?"), RemindAfter: Some(Duration(time.Hour))}, nil, t0); err != nil || r.Reviews[0].Void {
		t.Fatalf("comment edit voided the review: %v %+v", err, r.Reviews)
	}
}

func TestEdit_OnlyRequesterOrAdmin(t *testing.T) {
	r := newRequest(t, "")
	if _, err := r.Edit(bob, Patch{Title: Some("x")}, nil, t0); CodeOf(err) != CodeNotOwner {
		t.Fatalf("bob edits: err = %v", err)
	}
	if _, err := r.Edit(root, Patch{Title: Some("by admin")}, nil, t0); err != nil {
		t.Fatalf("admin edits: err = %v", err)
	}
}

func TestEdit_IfMatchMismatch(t *testing.T) {
	r := newRequest(t, "")
	v := int64(7)
	if _, err := r.Edit(alice, Patch{Title: Some("x")}, &v, t0); KindOf(err) != KindPrecondition {
		t.Fatalf("err = %v, want precondition", err)
	}
}

func TestEdit_NoChangeIsNoOp(t *testing.T) {
	r := newRequest(t, "")
	ch, err := r.Edit(alice, Patch{Title: Some(r.Title)}, nil, t0)
	if err != nil || !ch.IsZero() || r.Version != 1 {
		t.Fatalf("same-value edit: %v %+v v%d", err, ch, r.Version)
	}
}

func TestCancel_ByRequesterNotByOthers(t *testing.T) {
	if _, err := newRequest(t, "").Cancel(bob, "", nil, t0); CodeOf(err) != CodeNotOwner {
		t.Fatalf("bob cancels: %v", err)
	}
	r := newRequest(t, "")
	if _, err := r.Cancel(alice, "no longer needed", nil, t0); err != nil || r.Status != StatusCancelled || r.Comment != "no longer needed" {
		t.Fatalf("alice cancels: %v %s", err, r.Status)
	}
	if _, err := r.Cancel(alice, "", nil, t0); CodeOf(err) != CodeInvalidTransition {
		t.Fatalf("cancel twice: %v", err)
	}
}

func TestExpire_OnlyOverduePending(t *testing.T) {
	r := newRequest(t, "")
	d := t0.Add(time.Hour)
	r.Deadline = &d
	if ch := r.Expire(t0); !ch.IsZero() {
		t.Fatal("expired before the deadline")
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove, Comment: ""}, nil, d); CodeOf(err) != CodeInvalidTransition {
		t.Fatalf("review after the deadline: %v", err)
	}
	ch := r.Expire(d)
	if ch.IsZero() || r.Status != StatusExpired || ch.Event.Type != EventExpired || ch.Entry.Actor != System.ID {
		t.Fatalf("expire: %+v %s", ch.Entry, r.Status)
	}
	if ch := r.Expire(d.Add(time.Hour)); !ch.IsZero() {
		t.Fatal("expired twice")
	}
}

func TestNew_Validation(t *testing.T) {
	past := t0.Add(-time.Second)
	long := make([]byte, MaxTitleLen+1)
	for i := range long {
		long[i] = 'a'
	}
	cases := map[string]struct {
		d     Draft
		field string
	}{
		"empty title":          {Draft{Title: "  "}, "title"},
		"long title":           {Draft{Title: string(long)}, "title"},
		"control in title":     {Draft{Title: "a\x00b"}, "title"},
		"NUL in description":   {Draft{Title: "t", Description: "a\x00b"}, "description"},
		"bad UTF-8 in payload": {Draft{Title: "t", Payload: json.RawMessage("{\"a\":\"\xff\"}")}, "payload"},
		"array payload":        {Draft{Title: "t", Payload: json.RawMessage(`[1]`)}, "payload"},
		"null payload":         {Draft{Title: "t", Payload: json.RawMessage(`null`)}, "payload"},
		"past deadline":        {Draft{Title: "t", Deadline: &past}, "deadline"},
		"huge payload":         {Draft{Title: "t", Payload: json.RawMessage(`{"a":"` + string(make([]byte, MaxPayloadBytes)) + `"}`)}, "payload"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := New("id", c.d, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
			e := AsError(err)
			if e == nil || e.Kind != KindInvalid || len(e.Fields) == 0 || e.Fields[0].Field != c.field {
				t.Fatalf("err = %#v, want invalid %s", err, c.field)
			}
		})
	}
}

func TestHistory_ChainDetectsTampering(t *testing.T) {
	r := newRequest(t, "")
	_, ch1, _ := New(r.ID, Draft{Title: "Pay invoice 42", Payload: json.RawMessage(`{"amount":42}`)}, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
	r2 := newRequest(t, "")
	c2, _ := r2.Edit(alice, Patch{Comment: Some("hi")}, nil, t0)
	c3, _ := r2.Review(bob, ReviewInput{Decision: DecisionApprove, Comment: "fine"}, nil, t0)
	entries := []HistoryEntry{ch1.Entry, c2.Entry, c3.Entry}
	if err := VerifyChain(entries); err != nil {
		t.Fatalf("untouched chain: %v", err)
	}
	tampered := slices.Clone(entries)
	tampered[1].Actor = "user:mallory"
	if VerifyChain(tampered) == nil {
		t.Error("changed actor not detected")
	}
	if VerifyChain([]HistoryEntry{entries[0], entries[2]}) == nil {
		t.Error("removed entry not detected")
	}
	rehashed := slices.Clone(entries)
	rehashed[1].Changes = json.RawMessage(`{}`)
	rehashed[1].Hash = rehashed[1].ComputeHash()
	if VerifyChain(rehashed) == nil {
		t.Error("rewritten entry with its own hash recomputed not detected by the next link")
	}
}

func TestStatus_NamesAndCodes(t *testing.T) {
	want := []string{"unknown", "error", "pending", "approved", "rejected", "cancelled",
		"acknowledged_approved", "acknowledged_rejected", "acknowledged_cancelled", "expired",
		"changes_requested", "revoked"}
	for i, name := range want {
		if Status(i).String() != name {
			t.Errorf("Status(%d) = %s, want %s", i, Status(i), name)
		}
		if i > 0 {
			if s, err := ParseStatus(name); err != nil || s != Status(i) {
				t.Errorf("ParseStatus(%s) = %v, %v", name, s, err)
			}
		}
	}
	if _, err := ParseStatus("unknown"); err == nil {
		t.Error("unknown parsed")
	}
	b, _ := json.Marshal(Request{Status: StatusApproved})
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m["status"] != "approved" || m["status_code"] != float64(3) {
		t.Errorf("json status = %v / %v", m["status"], m["status_code"])
	}
}

// An approval whose delivery failed cannot be redelivered once the request
// was edited in error: the edit voided the approvals, so the content sent
// as approved would be content nobody approved. Deciding again can.
func TestRedeliver_RefusedAfterAnEditVoidedTheApproval(t *testing.T) {
	r := newRequest(t, "payments")
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusAcknowledgedApproved {
		t.Fatalf("approve: %v %s", err, r.Status)
	}
	r.DeliveryFailed(3, "receiver said 400", t0)
	if _, err := r.Edit(alice, Patch{Payload: Some(json.RawMessage(`{"amount": 4200000}`))}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Redeliver(root, nil, t0); CodeOf(err) != CodeInvalidTransition {
		t.Fatalf("redelivering an approval of other content: err = %v, status %s", err, r.Status)
	}
	if _, err := r.Review(carol, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusAcknowledgedApproved {
		t.Fatalf("approving the new content: %v %s", err, r.Status)
	}
}

// A reviewer of an earlier stage who reviews again once a later stage is
// open has already reviewed: 409, as the API document says, not 403.
func TestReview_AgainInALaterStageIsAlreadyReviewed(t *testing.T) {
	r := newRequest(t, "")
	r.Policy = Policy{Stages: []Stage{
		{Name: "first", Rules: []Rule{{Name: "one", MinApprovals: 1, Principals: []string{"user:bob"}, RejectThreshold: 1}}},
		{Name: "second", Rules: []Rule{{Name: "two", MinApprovals: 1, Principals: []string{"user:carol"}, RejectThreshold: 1}}},
	}}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusPending {
		t.Fatalf("stage 1: %v %s", err, r.Status)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); CodeOf(err) != CodeAlreadyReviewed {
		t.Fatalf("bob again in stage 2: err = %v, want already_reviewed", err)
	}
}

// Numbers canonical JSON cannot keep exactly are refused, tiny ones too:
// 1e-400 and 0 would share a digest, as would two close subnormals.
func TestNew_PayloadNumbersMustSurviveCanonicalJSON(t *testing.T) {
	for payload, ok := range map[string]bool{
		`{"a":0}`: true, `{"a":0.0}`: true, `{"a":-0}`: true, `{"a":1e-300}`: true, `{"a":5e-324}`: true,
		`{"a":123456789012345}`: true, `{"a":9007199254740993}`: false,
		`{"a":1e-400}`: false, `{"a":1.5e-323}`: true, `{"a":1.6e-323}`: false, `{"a":1.0000000000000001}`: false, `{"a":1e400}`: false,
	} {
		_, _, err := New("0190a4e0-0000-7000-8000-000000000001", Draft{Title: "t", Payload: json.RawMessage(payload)}, alice,
			Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
		if (err == nil) != ok {
			t.Errorf("%s: err = %v, want accepted %v", payload, err, ok)
		}
	}
}

// TestStatus_SettledFollowsTheTable: the final status of each acknowledged
// decision is the one delivery leads to in the table; other statuses map to
// themselves.
func TestStatus_SettledFollowsTheTable(t *testing.T) {
	want := map[Status]Status{
		StatusAcknowledgedApproved:  StatusApproved,
		StatusAcknowledgedRejected:  StatusRejected,
		StatusAcknowledgedCancelled: StatusCancelled,
	}
	for _, s := range Statuses() {
		w, ok := want[s]
		if !ok {
			w = s
		}
		if got := s.Settled(); got != w {
			t.Errorf("%s.Settled() = %s, want %s", s, got, w)
		}
		if to, ok := Target(s, ActionDelivered, true); ok && to != s.Settled() {
			t.Errorf("%s: delivered leads to %s, Settled says %s", s, to, s.Settled())
		}
	}
}
