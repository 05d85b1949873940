package approval

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func fieldOf(err error) string {
	if e := AsError(err); e != nil && len(e.Fields) > 0 {
		return e.Fields[0].Field
	}
	return ""
}

func digestOf(i int) string { return fmt.Sprintf("sha256:%064x", i) }

func newWith(t *testing.T, d Draft, pol Policy) *Request {
	t.Helper()
	if d.Title == "" {
		d.Title = "Release outputs"
	}
	r, _, err := New("0190a4e0-0000-7000-8000-000000000002", d, alice, Mandate{Policy: pol, Source: "policy:p"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRequestChanges_CommentRequiredThenResubmitStartsACycle(t *testing.T) {
	r := newWith(t, Draft{ServiceRule: "billing"}, Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 1}}})
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Review(carol, ReviewInput{Decision: DecisionRequestChanges}, nil, t0); KindOf(err) != KindInvalid || fieldOf(err) != "comment" {
		t.Fatalf("request_changes without a comment: err = %v", err)
	}
	ch, err := r.Review(carol, ReviewInput{Decision: DecisionRequestChanges, Comment: "drop column ssn"}, nil, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusChangesRequested || ch.Entry.Action != ActionRequestChanges || ch.Event.Type != EventChangesRequested ||
		ch.Event.Webhook != "" || ch.Event.Notify != NotifyDecision {
		t.Fatalf("after request_changes: %s %+v %+v", r.Status, ch.Entry.Action, ch.Event)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); CodeOf(err) != CodeInvalidTransition {
		t.Fatalf("a review while changes are requested: err = %v", err)
	}
	if _, err := r.Resubmit(bob, nil, t0); CodeOf(err) != CodeNotOwner {
		t.Fatalf("a reviewer resubmits: err = %v", err)
	}
	if _, err := r.Edit(alice, Patch{Payload: Some(json.RawMessage(`{"columns":["a"]}`))}, nil, t0.Add(2*time.Minute)); err != nil || r.Status != StatusChangesRequested {
		t.Fatalf("edit while changes are requested: %v %s", err, r.Status)
	}
	later := t0.Add(time.Hour)
	ch, err = r.Resubmit(alice, nil, later)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusPending || r.Cycle != 1 || ch.Event.Type != EventResubmitted || ch.Event.Notify != NotifyReviewRequested ||
		r.StageOpenedAt == nil || !r.StageOpenedAt.Equal(later) {
		t.Fatalf("after resubmit: %s cycle %d %+v opened %v", r.Status, r.Cycle, ch.Event, r.StageOpenedAt)
	}
	for _, rv := range r.Reviews {
		if !rv.Void {
			t.Fatalf("a review before the resubmission still counts: %+v", rv)
		}
	}
	if r.Reviews[1].Comment != "drop column ssn" {
		t.Errorf("the comment asking for changes is gone: %+v", r.Reviews)
	}
	// Both reviewers review again; two approvals of the new cycle approve.
	for _, p := range []Principal{bob, carol} {
		if _, err := r.Review(p, ReviewInput{Decision: DecisionApprove}, nil, later); err != nil {
			t.Fatalf("%s again: %v", p.ID, err)
		}
	}
	if r.Status != StatusAcknowledgedApproved {
		t.Fatalf("status = %s", r.Status)
	}
}

func TestRequestChanges_CappedByMaxChangeCycles(t *testing.T) {
	r := newWith(t, Draft{}, Policy{Rules: []Rule{{Name: "one", MinApprovals: 1}}, MaxChangeCycles: 1})
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionRequestChanges, Comment: "again"}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resubmit(alice, nil, t0); err != nil {
		t.Fatal(err)
	}
	_, err := r.Review(bob, ReviewInput{Decision: DecisionRequestChanges, Comment: "and again"}, nil, t0)
	if KindOf(err) != KindConflict || !strings.Contains(err.Error(), "max_change_cycles") {
		t.Fatalf("request_changes at the cap: err = %v", err)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusApproved {
		t.Fatalf("approve at the cap: %v %s", err, r.Status)
	}
}

func TestRequestChanges_DeadlineStillRuns(t *testing.T) {
	dl := t0.Add(time.Hour)
	r := newWith(t, Draft{Deadline: &dl}, DefaultPolicy())
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionRequestChanges, Comment: "x"}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resubmit(alice, nil, dl); CodeOf(err) != CodeInvalidTransition {
		t.Fatalf("resubmit after the deadline: err = %v", err)
	}
	if ch := r.Expire(dl); ch.IsZero() || r.Status != StatusExpired {
		t.Fatalf("not expired: %s", r.Status)
	}
}

func TestRevoke_WhoMayAndWhatIsDelivered(t *testing.T) {
	pol := Policy{Rules: []Rule{
		{Name: "owners", MinApprovals: 1, Principals: []string{"user:bob"}, RejectThreshold: 1},
		{Name: "security", MinApprovals: 1, Principals: []string{"user:carol"}, RejectThreshold: 1, CanRevoke: true},
	}}
	r := newWith(t, Draft{ServiceRule: "publish"}, pol)
	for _, p := range []Principal{bob, carol} {
		if _, err := r.Review(p, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Revoke(root, "too early", nil, t0); CodeOf(err) != CodeInvalidTransition {
		t.Fatalf("revoke before delivery: err = %v", err)
	}
	r.Delivered(1, t0)
	if r.Status != StatusApproved {
		t.Fatalf("status = %s", r.Status)
	}
	if _, err := r.Revoke(bob, "no", nil, t0); KindOf(err) != KindForbidden {
		t.Fatalf("a reviewer of a rule without can_revoke: err = %v", err)
	}
	if _, err := r.Revoke(carol, "  ", nil, t0); fieldOf(err) != "reason" {
		t.Fatalf("no reason: err = %v", err)
	}
	ch, err := r.Revoke(carol, "the data holds identifiers", nil, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusRevoked || r.Revocation == nil || r.Revocation.By != carol.ID || r.Revocation.Reason != "the data holds identifiers" ||
		ch.Event.Type != EventRevoked || ch.Event.Webhook != "publish" || ch.Event.Notify != NotifyDecision || r.Delivery != nil {
		t.Fatalf("after revoke: %s %+v %+v", r.Status, r.Revocation, ch.Event)
	}
	if !r.Status.Final() || r.Status.Settled() != StatusRevoked {
		t.Fatal("revoked is not final, or settles elsewhere")
	}
	if ch := r.FinishDelivery(r.Version, DeliveryResult{Done: true, Attempts: 3, LastError: "503"}, t0); ch.IsZero() ||
		r.Status != StatusRevoked || r.Delivery.LastError != "503" || ch.Event.Notify != NotifyDeliveryFailed {
		t.Fatalf("a failed delivery of the revocation: %s %+v", r.Status, r.Delivery)
	}
	if _, err := r.Revoke(root, "again", nil, t0); CodeOf(err) != CodeInvalidTransition {
		t.Fatalf("revoke twice: err = %v", err)
	}
}

func TestRevoke_AdminWithoutServiceRule(t *testing.T) {
	r := newWith(t, Draft{}, DefaultPolicy())
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	ch, err := r.Revoke(root, "mistake", nil, t0)
	if err != nil || r.Status != StatusRevoked || ch.Event.Webhook != "" {
		t.Fatalf("admin revokes: %v %s %q", err, r.Status, ch.Event.Webhook)
	}
}

func TestJustificationAndComments_RequiredByPolicy(t *testing.T) {
	pol := Policy{Rules: []Rule{{Name: "one", MinApprovals: 1}}, RequireJustification: true, RequireComment: []Decision{DecisionReject}}
	_, _, err := New("0190a4e0-0000-7000-8000-000000000003", Draft{Title: "t"}, alice, Mandate{Policy: pol, Source: "policy:p"}, t0)
	if fieldOf(err) != "justification" {
		t.Fatalf("create without a justification: err = %v", err)
	}
	r := newWith(t, Draft{Justification: "needed for the paper"}, pol)
	if _, err := r.Edit(alice, Patch{Justification: Some("")}, nil, t0); fieldOf(err) != "justification" || r.Justification == "" {
		t.Fatalf("clearing the justification: err = %v, now %q", err, r.Justification)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionReject}, nil, t0); fieldOf(err) != "comment" {
		t.Fatalf("reject without a comment: err = %v", err)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatalf("approve without a comment: %v", err)
	}
	var v Validation
	Policy{Rules: []Rule{{Name: "a", MinApprovals: 1}}, RequireComment: []Decision{"maybe"}, MaxChangeCycles: MaxChangeCycles + 1}.Validate(&v, "policy", "")
	if e := AsError(v.Err()); e == nil || len(e.Fields) != 2 {
		t.Fatalf("bad require_comment and max_change_cycles: %v", v.Err())
	}
}

func fourItems() []Item {
	var items []Item
	for i := range 4 {
		items = append(items, Item{ID: fmt.Sprintf("f%d", i), Name: fmt.Sprintf("out/f%d.csv", i), MediaType: "text/csv", Size: 10, Digest: digestOf(i)})
	}
	return items
}

func itemReview(decisions ...Decision) []ItemDecision {
	var out []ItemDecision
	for i, d := range decisions {
		out = append(out, ItemDecision{ID: fmt.Sprintf("f%d", i), Decision: d})
	}
	return out
}

func TestItems_PartialApprovalListsTheDigests(t *testing.T) {
	r := newWith(t, Draft{Items: fourItems()}, Policy{Rules: []Rule{{Name: "one", MinApprovals: 1, RejectThreshold: 1}}, AllowPartial: true})
	A, R := DecisionApprove, DecisionReject
	if _, err := r.Review(bob, ReviewInput{Items: itemReview(A, A, A)}, nil, t0); fieldOf(err) != "items" {
		t.Fatalf("a review that leaves an item out: err = %v", err)
	}
	if _, err := r.Review(bob, ReviewInput{Decision: R, Items: itemReview(A, A, A, R)}, nil, t0); fieldOf(err) != "decision" {
		t.Fatalf("a decision that contradicts the items: err = %v", err)
	}
	if _, err := r.Review(bob, ReviewInput{Items: itemReview(A, A, R, A)}, nil, t0); err != nil {
		t.Fatal(err)
	}
	o := r.ItemOutcome
	if r.Status != StatusApproved || r.Reviews[0].Decision != DecisionApprove || o == nil || !o.Partial || len(o.Approved) != 3 || len(o.Rejected) != 1 ||
		o.Rejected[0].ID != "f2" || o.Rejected[0].Digest != digestOf(2) || o.Approved[2].Digest != digestOf(3) {
		t.Fatalf("partial approval: %s %+v", r.Status, o)
	}
}

func TestItems_WithoutPartialAnyRejectedItemRejects(t *testing.T) {
	r := newWith(t, Draft{Items: fourItems()}, DefaultPolicy())
	A, R := DecisionApprove, DecisionReject
	if _, err := r.Review(bob, ReviewInput{Items: itemReview(A, A, A, R)}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusRejected || r.ItemOutcome == nil || len(r.ItemOutcome.Approved) != 0 || len(r.ItemOutcome.Rejected) != 4 {
		t.Fatalf("status %s outcome %+v", r.Status, r.ItemOutcome)
	}
}

// Each item is decided by the rules counting only the reviews' decisions
// on it: two approvals of different items approve neither.
func TestItems_EachItemNeedsEveryRule(t *testing.T) {
	items := fourItems()[:2]
	r := newWith(t, Draft{Items: items}, Policy{Rules: []Rule{{Name: "two", MinApprovals: 2, RejectThreshold: 2}}, AllowPartial: true})
	A, R := DecisionApprove, DecisionReject
	if _, err := r.Review(bob, ReviewInput{Items: itemReview(A, R)}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Review(carol, ReviewInput{Items: itemReview(R, A)}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusPending {
		t.Fatalf("approved with one approval per item: %s", r.Status)
	}
	dave := Principal{ID: "user:dave", Scopes: []Scope{ScopeReview}}
	if _, err := r.Review(dave, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusApproved || len(r.ItemOutcome.Approved) != 2 || r.ItemOutcome.Partial {
		t.Fatalf("a plain approval applies to every item: %s %+v", r.Status, r.ItemOutcome)
	}
}

func TestItems_EditVoidsReviews(t *testing.T) {
	r := newWith(t, Draft{Items: fourItems()}, Policy{Rules: []Rule{{Name: "two", MinApprovals: 2}}})
	if _, err := r.Review(bob, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil {
		t.Fatal(err)
	}
	changed := fourItems()
	changed[1].Digest = digestOf(99)
	if _, err := r.Edit(alice, Patch{Items: Some(changed)}, nil, t0); err != nil || !r.Reviews[0].Void {
		t.Fatalf("an edit of the items kept the review: %v %+v", err, r.Reviews)
	}
	if _, err := r.Review(bob, ReviewInput{Items: itemReview(DecisionApprove)}, nil, t0); fieldOf(err) != "items" {
		t.Fatalf("incomplete item decisions: %v", err)
	}
	if _, err := newRequest(t, "").Review(bob, ReviewInput{Items: itemReview(DecisionApprove)}, nil, t0); fieldOf(err) != "items" {
		t.Fatalf("item decisions on a request without items: %v", err)
	}
}

func TestItems_Validation(t *testing.T) {
	ok := Item{ID: "a", Name: "a.csv", Digest: digestOf(1)}
	with := func(f func(*Item)) []Item { it := ok; f(&it); return []Item{it} }
	cases := map[string]struct {
		items []Item
		field string
	}{
		"duplicate id":   {[]Item{ok, ok}, "items[1].id"},
		"empty id":       {with(func(i *Item) { i.ID = "" }), "items[0].id"},
		"long id":        {with(func(i *Item) { i.ID = strings.Repeat("x", MaxItemIDLen+1) }), "items[0].id"},
		"no name":        {with(func(i *Item) { i.Name = "" }), "items[0].name"},
		"negative size":  {with(func(i *Item) { i.Size = -1 }), "items[0].size"},
		"md5 digest":     {with(func(i *Item) { i.Digest = "md5:" + strings.Repeat("0", 32) }), "items[0].digest"},
		"short sha256":   {with(func(i *Item) { i.Digest = "sha256:" + strings.Repeat("0", 63) }), "items[0].digest"},
		"upper hex":      {with(func(i *Item) { i.Digest = "sha256:" + strings.Repeat("A", 64) }), "items[0].digest"},
		"bad media type": {with(func(i *Item) { i.MediaType = "not a type" }), "items[0].media_type"},
		"array metadata": {with(func(i *Item) { i.Metadata = json.RawMessage(`[1]`) }), "items[0].metadata"},
		"huge metadata":  {with(func(i *Item) { i.Metadata = json.RawMessage(`{"a":"` + strings.Repeat("x", MaxItemMetadata) + `"}`) }), "items[0].metadata"},
		"too many":       {make([]Item, MaxItems+1), "items"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := New("id", Draft{Title: "t", Items: c.items}, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
			if fieldOf(err) != c.field {
				t.Fatalf("err = %v, want a field error on %s", err, c.field)
			}
		})
	}
	sha512 := with(func(i *Item) {
		i.Digest = "sha512:" + strings.Repeat("ab", 64)
		i.Metadata = json.RawMessage(`{ "rows": 3 }`)
	})
	r := newWith(t, Draft{Items: sha512}, DefaultPolicy())
	if string(r.Items[0].Metadata) != `{"rows":3}` {
		t.Errorf("metadata kept as %s", r.Items[0].Metadata)
	}
}

func autoPolicy(forbid bool) Policy {
	return Policy{ForbidAutoApprove: forbid, Rules: []Rule{
		{Name: "small", MinApprovals: 2, RejectThreshold: 1, AutoApproveIf: "payload.amount < 100", AutoRejectIf: "payload.amount > 1000000"},
		{Name: "finance", MinApprovals: 1, RejectThreshold: 1, Groups: []string{"finance"}},
	}}
}

func TestAuto_ApprovalSatisfiesItsRuleAlone(t *testing.T) {
	r := newWith(t, Draft{Payload: json.RawMessage(`{"amount":5}`)}, autoPolicy(false))
	ars := r.AutoRules()
	if len(ars) != 1 || ars[0].Rule != "small" || ars[0].ApproveIf == "" || ars[0].RejectIf == "" {
		t.Fatalf("AutoRules = %+v", ars)
	}
	a := AutoDecision{Policy: "p", Rule: "small", Expression: "payload.amount < 100", Inputs: json.RawMessage(`{"payload":{"amount":5}}`)}
	if _, err := r.AutoDecide(DecisionApprove, AutoDecision{Policy: "p", Rule: "finance", Expression: "true"}, t0); KindOf(err) != KindConflict {
		t.Fatalf("an automatic decision of a rule without expressions: %v", err)
	}
	ch, err := r.AutoDecide(DecisionApprove, a, t0)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Entry.Actor != "system:policy/p" || r.Status != StatusPending || r.Reviews[0].Auto == nil || string(r.Reviews[0].Auto.Inputs) != string(a.Inputs) {
		t.Fatalf("after the automatic approval: %s %+v", r.Status, r.Reviews)
	}
	if rp := r.Progress().Rules[0]; !rp.Satisfied {
		t.Fatalf("the automatic approval did not satisfy its rule: %+v", rp)
	}
	if len(r.AutoRules()) != 0 {
		t.Fatal("a rule decided automatically is offered again")
	}
	fin := Principal{ID: "user:fin", Groups: []string{"finance"}, Scopes: []Scope{ScopeReview}}
	if _, err := r.Review(fin, ReviewInput{Decision: DecisionApprove}, nil, t0); err != nil || r.Status != StatusApproved {
		t.Fatalf("the human rule: %v %s", err, r.Status)
	}
}

func TestAuto_ForbiddenApprovalIsNeitherOfferedNorCounted(t *testing.T) {
	r := newWith(t, Draft{Payload: json.RawMessage(`{"amount":5}`)}, autoPolicy(true))
	if ars := r.AutoRules(); len(ars) != 1 || ars[0].ApproveIf != "" || ars[0].RejectIf == "" {
		t.Fatalf("AutoRules = %+v", ars)
	}
	if _, err := r.AutoDecide(DecisionApprove, AutoDecision{Policy: "p", Rule: "small", Expression: "payload.amount < 100"}, t0); KindOf(err) != KindConflict {
		t.Fatalf("a forbidden automatic approval: %v", err)
	}
	// A review forged into the request does not count either.
	r.Reviews = append(r.Reviews, Review{Reviewer: "system:policy/p", Decision: DecisionApprove, Digest: r.Digest,
		Auto: &AutoDecision{Policy: "p", Rule: "small", Expression: "payload.amount < 100"}})
	if r.Progress().Rules[0].Satisfied {
		t.Fatal("a forbidden automatic approval counted")
	}
}

func TestAuto_RejectionRejects(t *testing.T) {
	r := newWith(t, Draft{ServiceRule: "pay", Payload: json.RawMessage(`{"amount":5000000}`)}, autoPolicy(false))
	ch, err := r.AutoDecide(DecisionReject, AutoDecision{Policy: "p", Rule: "small", Expression: "payload.amount > 1000000"}, t0)
	if err != nil || r.Status != StatusAcknowledgedRejected || ch.Entry.Action != ActionReject || ch.Event.Webhook != "pay" {
		t.Fatalf("automatic rejection: %v %s %+v", err, r.Status, ch.Entry.Action)
	}
}

func TestCombine_InlinePoliciesMayNotLoosen(t *testing.T) {
	m := Mandate{Policy: DefaultPolicy(), Source: "default"}
	for name, inline := range map[string]Policy{
		"auto_approve_if": {Rules: []Rule{{Name: "mine", MinApprovals: 1, AutoApproveIf: "true"}}},
		"allow_partial":   {Rules: []Rule{{Name: "mine", MinApprovals: 1}}, AllowPartial: true},
	} {
		if _, _, err := Combine(m, &inline); KindOf(err) != KindInvalid || !strings.Contains(fieldOf(err), name) {
			t.Errorf("inline %s: err = %v", name, err)
		}
	}
	inline := Policy{Rules: []Rule{{Name: "mine", MinApprovals: 1, AutoRejectIf: "payload.x"}}, RequireJustification: true, MaxChangeCycles: 2}
	m.Policy.MaxChangeCycles, m.Policy.AllowPartial = 5, true
	pol, _, err := Combine(m, &inline)
	if err != nil || !pol.RequireJustification || pol.MaxChangeCycles != 2 || !pol.AllowPartial {
		t.Fatalf("inline tightening: %v %+v", err, pol)
	}
}

// FuzzItems feeds item lists as JSON through the validation of a create:
// it never panics, and an accepted list meets every documented limit and
// produces a request whose JSON has them all.
func FuzzItems(f *testing.F) {
	f.Add(`[{"id":"a","name":"a.csv","size":1,"digest":"sha256:` + strings.Repeat("0", 64) + `"}]`)
	f.Add(`[{"id":"a","name":"a","digest":"sha512:` + strings.Repeat("f", 128) + `","metadata":{"k":[1,2]},"media_type":"text/csv; charset=utf-8"}]`)
	f.Add(`[{"id":"a"},{"id":"a"}]`)
	f.Add(`[{"id":"\u202e","name":"x","digest":"sha256:","metadata":"s"}]`)
	f.Fuzz(func(t *testing.T, in string) {
		var items []Item
		if json.Unmarshal([]byte(in), &items) != nil {
			return
		}
		r, _, err := New("0190a4e0-0000-7000-8000-000000000004", Draft{Title: "t", Items: items}, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
		if err != nil {
			if KindOf(err) != KindInvalid {
				t.Fatalf("a bad item list is not a validation error: %v", err)
			}
			return
		}
		ids := map[string]bool{}
		for _, it := range r.Items {
			if ids[it.ID] || it.ID == "" || len([]rune(it.ID)) > MaxItemIDLen || it.Size < 0 || !itemDigest.MatchString(it.Digest) ||
				len(it.Metadata) > MaxItemMetadata || (it.Metadata != nil && it.Metadata[0] != '{') {
				t.Fatalf("accepted a bad item: %+v", it)
			}
			ids[it.ID] = true
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
		_ = r.ContentDigest() // panics if the items do not canonicalise
	})
}
