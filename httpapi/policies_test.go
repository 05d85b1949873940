package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// keyIn creates an API key in the given groups with the given scopes.
func (f *fixture) keyIn(name string, groups []string, scopes ...approval.Scope) apiClient {
	f.t.Helper()
	var out struct {
		Key string `json:"key"`
	}
	f.admin.json(201, "POST", "/v1/api-keys", map[string]any{"name": name, "groups": groups, "scopes": scopes}, &out)
	return apiClient{t: f.t, base: f.url, key: out.Key}
}

// full is a request as the policy tests read it.
type full struct {
	request
	PolicySource string           `json:"policy_source"`
	Policy       approval.Policy  `json:"policy"`
	DependsOn    []string         `json:"depends_on"`
	Reason       string           `json:"reason"`
	Reviews      []map[string]any `json:"reviews"`
	Progress     approval.Progress
}

func (c apiClient) get(id string) full {
	c.t.Helper()
	var r full
	c.json(200, "GET", "/v1/approvals/"+id, nil, &r)
	return r
}

func (c apiClient) inbox(query string) []string {
	c.t.Helper()
	var page struct {
		Items []full `json:"items"`
	}
	c.json(200, "GET", "/v1/approvals?awaiting=me"+query, nil, &page)
	var ids []string
	for _, r := range page.Items {
		ids = append(ids, r.ID)
	}
	return ids
}

func (c apiClient) review(id string, d approval.Decision) full {
	c.t.Helper()
	var r full
	c.json(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": d}, &r)
	return r
}

func (c apiClient) createWith(body map[string]any) full {
	c.t.Helper()
	var r full
	if body["title"] == nil {
		body["title"] = "a request"
	}
	c.json(201, "POST", "/v1/approvals", body, &r)
	return r
}

// TestScenario_TwoDataOwnersAndOneSecurityReviewer runs the canonical
// multi-party policy end to end: a stored policy chosen by name, progress
// and inbox after each review, and the decision once every rule holds.
func TestScenario_TwoDataOwnersAndOneSecurityReviewer(t *testing.T) {
	f := setup(t)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{
		"name": "data-release", "description": "two data owners and one security reviewer",
		"policy": map[string]any{"rules": []map[string]any{
			{"name": "owners", "min_approvals": 2, "groups": []string{"data-owners"}},
			{"name": "security", "min_approvals": 1, "groups": []string{"security"}},
		}},
	}, nil)
	requester := f.keyIn("researcher", []string{"data-owners"}, approval.ScopeCreate, approval.ScopeRead, approval.ScopeReview)
	o1 := f.keyIn("owner1", []string{"data-owners"}, approval.ScopeReview, approval.ScopeRead)
	o2 := f.keyIn("owner2", []string{"data-owners"}, approval.ScopeReview, approval.ScopeRead)
	sec := f.keyIn("sec1", []string{"security"}, approval.ScopeReview, approval.ScopeRead)
	outsider := f.keyIn("marketing", []string{"marketing"}, approval.ScopeReview, approval.ScopeRead)

	r := requester.createWith(map[string]any{"title": "Release cohort 7", "policy_name": "data-release"})
	if r.PolicySource != "policy:data-release" || len(r.Progress.Rules) != 2 || r.Progress.Satisfied {
		t.Fatalf("created: source %q progress %+v", r.PolicySource, r.Progress)
	}
	for name, c := range map[string]apiClient{"owner1": o1, "owner2": o2, "sec1": sec} {
		if got := c.inbox(""); !slices.Equal(got, []string{r.ID}) {
			t.Fatalf("%s's inbox = %v, want the request", name, got)
		}
	}
	if got := outsider.inbox(""); len(got) != 0 {
		t.Fatalf("outsider's inbox = %v", got)
	}
	if got := requester.inbox(""); len(got) != 0 {
		t.Fatalf("the requester's own inbox = %v: it may not review its own request", got)
	}
	if p := outsider.raw("POST", "/v1/approvals/"+r.ID+"/reviews", []byte(`{"decision":"approve"}`)); p.status != 403 || p.problem(t).Code != approval.CodeNotEligible {
		t.Fatalf("outsider review: %d %s", p.status, p.body)
	}

	after := o1.review(r.ID, approval.DecisionApprove)
	if after.Status != "pending" || after.Progress.Rules[0].Approvals != 1 || !strings.Contains(after.Progress.PendingReason, "1 more approval for rule owners") {
		t.Fatalf("after owner1: %s %+v", after.Status, after.Progress)
	}
	if got := o1.inbox(""); len(got) != 0 {
		t.Fatalf("owner1's inbox after reviewing = %v", got)
	}
	after = sec.review(r.ID, approval.DecisionApprove)
	if after.Status != "pending" || !after.Progress.Rules[1].Satisfied {
		t.Fatalf("after security: %s %+v", after.Status, after.Progress)
	}
	if got := sec.inbox(""); len(got) != 0 {
		t.Fatalf("security's inbox once its rule holds = %v", got)
	}

	// Replacing the stored policy does not change the open request.
	f.admin.json(200, "PUT", "/v1/policies/data-release", map[string]any{
		"policy": map[string]any{"rules": []map[string]any{{"name": "owners", "min_approvals": 3, "groups": []string{"data-owners"}}}},
	}, nil)
	after = o2.review(r.ID, approval.DecisionApprove)
	if after.Status != "approved" || !after.Progress.Satisfied || after.Progress.PendingReason != "" {
		t.Fatalf("after owner2: %s %+v", after.Status, after.Progress)
	}
	if got := o2.inbox(""); len(got) != 0 {
		t.Fatalf("owner2's inbox after the decision = %v", got)
	}
}

// TestScenario_DependencyChainApprovedInTheWrongOrder: C depends on B, B on
// A; approving C, then B, then A approves all three, in order, by itself.
func TestScenario_DependencyChainApprovedInTheWrongOrder(t *testing.T) {
	f := setup(t)
	requester := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	reviewer := f.key("lead", approval.ScopeReview, approval.ScopeRead)
	a := requester.createWith(map[string]any{"title": "migrate schema"})
	b := requester.createWith(map[string]any{"title": "deploy api", "depends_on": []string{a.ID}})
	c := requester.createWith(map[string]any{"title": "enable feature", "depends_on": []string{b.ID}})
	if c.Progress.Dependencies[0].ID != b.ID || c.Progress.Dependencies[0].Status != "pending" {
		t.Fatalf("c's dependencies = %+v", c.Progress.Dependencies)
	}

	got := reviewer.review(c.ID, approval.DecisionApprove)
	if got.Status != "pending" || !got.Progress.Satisfied || !strings.Contains(got.Progress.PendingReason, b.ID+" (pending)") {
		t.Fatalf("c approved first: %s %+v", got.Status, got.Progress)
	}
	if inbox := reviewer.inbox(""); slices.Contains(inbox, c.ID) {
		t.Fatal("c, waiting only for dependencies, is still in the inbox")
	}
	if got := reviewer.review(b.ID, approval.DecisionApprove); got.Status != "pending" {
		t.Fatalf("b: %s", got.Status)
	}
	if got := reviewer.review(a.ID, approval.DecisionApprove); got.Status != "approved" {
		t.Fatalf("a: %s", got.Status)
	}
	for _, id := range []string{b.ID, c.ID} {
		r := requester.get(id)
		if r.Status != "approved" || r.Reason == "" || r.Progress.Dependencies[0].Status != "approved" {
			t.Fatalf("%s after a: %s %q %+v", id, r.Status, r.Reason, r.Progress.Dependencies)
		}
		var h historyPage
		requester.json(200, "GET", "/v1/approvals/"+id+"/history", nil, &h)
		last := h.Items[len(h.Items)-1]
		if last.Actor != approval.System.ID || last.Action != approval.ActionApprove || !h.Verified {
			t.Fatalf("%s's last history entry = %+v", id, last)
		}
	}
}

func TestScenario_RejectedDependencyRejectsDependents(t *testing.T) {
	f := setup(t)
	requester := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	reviewer := f.key("lead", approval.ScopeReview, approval.ScopeRead)
	a := requester.createWith(map[string]any{"title": "a"})
	b := requester.createWith(map[string]any{"title": "b", "depends_on": []string{a.ID}})
	c := requester.createWith(map[string]any{"title": "c", "depends_on": []string{b.ID}})
	reviewer.review(b.ID, approval.DecisionApprove)
	reviewer.review(a.ID, approval.DecisionReject)
	rb, rc := requester.get(b.ID), requester.get(c.ID)
	if rb.Status != "rejected" || !strings.Contains(rb.Reason, a.ID+" ended rejected") {
		t.Fatalf("b: %s %q", rb.Status, rb.Reason)
	}
	if rc.Status != "rejected" || !strings.Contains(rc.Reason, b.ID+" ended rejected") {
		t.Fatalf("c: %s %q", rc.Status, rc.Reason)
	}
	// Depending on a request that can never be approved, or on none, is refused.
	for name, deps := range map[string][]string{
		"rejected":  {a.ID},
		"unknown":   {"0190a4e0-0000-7000-8000-000000000000"},
		"not an id": {"nope"},
		"twice":     {b.ID, b.ID},
	} {
		r := requester.raw("POST", "/v1/approvals", mustJSON(map[string]any{"title": "d", "depends_on": deps}))
		if r.status != 422 || !strings.Contains(string(r.body), "depends_on[") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
}

func TestScenario_ExpiryWhileOneApprovalShort(t *testing.T) {
	f := setup(t)
	requester := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	r1 := f.key("r1", approval.ScopeReview, approval.ScopeRead)
	deadline := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	r := requester.createWith(map[string]any{"title": "needs two", "deadline": deadline,
		"policy": map[string]any{"rules": []map[string]any{{"min_approvals": 2}}}})
	dependent := requester.createWith(map[string]any{"title": "after it", "depends_on": []string{r.ID}})
	r1.review(r.ID, approval.DecisionApprove)
	f.clock.Advance(2 * time.Hour)
	got := requester.get(r.ID)
	if got.Status != "expired" || got.Reason == "" || len(got.Reviews) != 1 {
		t.Fatalf("after the deadline: %s %q %v", got.Status, got.Reason, got.Reviews)
	}
	var h historyPage
	requester.json(200, "GET", "/v1/approvals/"+r.ID+"/history", nil, &h)
	if !h.Verified || len(h.Items) != 3 || h.Items[2].Action != approval.ActionExpire {
		t.Fatalf("history kept after expiry: %+v", h)
	}
	if d := requester.get(dependent.ID); d.Status != "rejected" || !strings.Contains(d.Reason, "ended expired") {
		t.Fatalf("dependent of the expired request: %s %q", d.Status, d.Reason)
	}
	if p := r1.raw("POST", "/v1/approvals/"+r.ID+"/reviews", []byte(`{"decision":"approve"}`)); p.status != 409 {
		t.Fatalf("approving an expired request: %d", p.status)
	}
}

func TestReview_StaleVersionAndStages(t *testing.T) {
	f := setup(t)
	requester := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	owner := f.keyIn("owner", []string{"owners"}, approval.ScopeReview, approval.ScopeRead)
	sec := f.keyIn("sec", []string{"security"}, approval.ScopeReview, approval.ScopeRead)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "owners-then-security", "policy": map[string]any{"stages": []map[string]any{
		{"name": "owners", "rules": []map[string]any{{"min_approvals": 1, "groups": []string{"owners"}}}},
		{"name": "security", "rules": []map[string]any{{"min_approvals": 1, "groups": []string{"security"}}}},
	}}}, nil)
	r := requester.createWith(map[string]any{"policy_name": "owners-then-security"})
	if r.Progress.Stage != "owners" {
		t.Fatalf("open stage = %q", r.Progress.Stage)
	}
	if got := sec.inbox(""); len(got) != 0 {
		t.Fatalf("security's inbox before its stage opens = %v", got)
	}
	p := sec.raw("POST", "/v1/approvals/"+r.ID+"/reviews", []byte(`{"decision":"approve"}`))
	if p.status != 409 || p.problem(t).Code != approval.CodeStageNotOpen {
		t.Fatalf("early stage-2 review: %d %s", p.status, p.body)
	}
	requester.json(200, "PATCH", "/v1/approvals/"+r.ID, map[string]any{"title": "renamed"}, nil)
	p = owner.raw("POST", "/v1/approvals/"+r.ID+"/reviews", mustJSON(map[string]any{"decision": "approve", "version": r.Version}))
	if p.status != 409 || p.problem(t).Code != approval.CodeStaleVersion {
		t.Fatalf("review of a stale version: %d %s", p.status, p.body)
	}
	var now full
	owner.json(200, "POST", "/v1/approvals/"+r.ID+"/reviews", map[string]any{"decision": "approve", "version": r.Version + 1}, &now)
	if now.Progress.Stage != "security" || now.Status != "pending" {
		t.Fatalf("after stage 1: %+v", now.Progress)
	}
	if got := sec.inbox(""); !slices.Equal(got, []string{r.ID}) {
		t.Fatalf("security's inbox once its stage opens = %v", got)
	}
	if got := sec.review(r.ID, approval.DecisionApprove); got.Status != "approved" {
		t.Fatalf("after stage 2: %s", got.Status)
	}
}

func TestPolicyEdit_AdminOnlyAndVoidsReviews(t *testing.T) {
	f := setup(t)
	requester := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	rev := f.key("rev", approval.ScopeReview, approval.ScopeRead)
	r := requester.createWith(map[string]any{"policy": map[string]any{"rules": []map[string]any{{"min_approvals": 2}}}})
	rev.review(r.ID, approval.DecisionApprove)
	strict := map[string]any{"policy": map[string]any{"rules": []map[string]any{{"name": "svc", "min_approvals": 1, "principals": []string{"svc:rev"}}}}}
	if p := requester.raw("PATCH", "/v1/approvals/"+r.ID, mustJSON(strict)); p.status != 403 || p.problem(t).Code != approval.CodeNotOwner {
		t.Fatalf("requester weakening or changing its policy: %d %s", p.status, p.body)
	}
	var got full
	f.admin.json(200, "PATCH", "/v1/approvals/"+r.ID, strict, &got)
	if got.Reviews[0]["void"] != true || got.PolicySource != "override:svc:admin" || got.Progress.Rules[0].Approvals != 0 {
		t.Fatalf("after the policy edit: %+v %+v", got.Reviews, got.Progress)
	}
	if got := rev.review(r.ID, approval.DecisionApprove); got.Status != "approved" {
		t.Fatalf("svc:rev under the new policy: %s", got.Status)
	}
	bad := map[string]any{"policy": map[string]any{"rules": []map[string]any{{"min_approvals": 3, "principals": []string{"user:a", "user:b"}}}}}
	r2 := requester.createWith(map[string]any{})
	if p := f.admin.raw("PATCH", "/v1/approvals/"+r2.ID, mustJSON(bad)); p.status != 422 {
		t.Fatalf("impossible policy edit: %d %s", p.status, p.body)
	}
}

func TestPolicies_CRUDAndServiceRules(t *testing.T) {
	f := setup(t)
	reader := f.key("reader", approval.ScopeRead)
	requester := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	pol := map[string]any{"name": "two-services", "policy": map[string]any{"rules": []map[string]any{
		{"name": "services", "min_approvals": 2, "principals": []string{"svc:a", "svc:b", "svc:c"}}}}}
	var sp approval.StoredPolicy
	r := f.admin.json(201, "POST", "/v1/policies", pol, &sp)
	if sp.Version != 1 || r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "/v1/policies/two-services" || sp.Policy.Rules[0].RejectThreshold != 1 {
		t.Fatalf("created %+v %v", sp, r.header)
	}
	if p := f.admin.raw("POST", "/v1/policies", mustJSON(pol)); p.status != 409 {
		t.Fatalf("duplicate: %d", p.status)
	}
	if p := requester.raw("POST", "/v1/policies", mustJSON(pol)); p.status != 403 {
		t.Fatalf("non-admin create: %d", p.status)
	}
	impossible := map[string]any{"name": "impossible", "policy": map[string]any{"rules": []map[string]any{{"min_approvals": 4, "principals": []string{"svc:a", "svc:b", "svc:c"}}}}}
	if p := f.admin.raw("POST", "/v1/policies", mustJSON(impossible)); p.status != 422 || !strings.Contains(string(p.body), "policy.rules[0].min_approvals") {
		t.Fatalf("impossible policy: %d %s", p.status, p.body)
	}
	var page struct{ Items []approval.StoredPolicy }
	reader.json(200, "GET", "/v1/policies", nil, &page)
	if len(page.Items) != 1 || page.Items[0].Name != "two-services" {
		t.Fatalf("list = %+v", page)
	}
	reader.json(200, "GET", "/v1/policies/two-services", nil, &sp)
	reader.json(404, "GET", "/v1/policies/nope", nil, nil)

	repl := map[string]any{"description": "three now", "policy": map[string]any{"rules": []map[string]any{
		{"name": "services", "min_approvals": 3, "principals": []string{"svc:a", "svc:b", "svc:c"}}}}}
	f.admin.json(412, "PUT", "/v1/policies/two-services", repl, nil, "If-Match", `"7"`)
	f.admin.json(200, "PUT", "/v1/policies/two-services", repl, &sp, "If-Match", `"1"`)
	if sp.Version != 2 || sp.Description != "three now" {
		t.Fatalf("replaced = %+v", sp)
	}

	// A service rule names the policy; requests for the rule get it.
	f.admin.json(422, "POST", "/v1/service-rules", map[string]any{"name": "deploys", "url": "http://127.0.0.1:1/hook", "policy": "missing"}, nil)
	f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": "deploys", "url": "http://127.0.0.1:1/hook", "policy": "two-services"}, nil)
	req := requester.createWith(map[string]any{"service_rule": "deploys"})
	if req.PolicySource != "service_rule:deploys" || req.Policy.Rules[0].MinApprovals != 3 {
		t.Fatalf("request for the rule: %q %+v", req.PolicySource, req.Policy)
	}
	// An inline policy adds to the rule's policy; it cannot replace it.
	inline := requester.createWith(map[string]any{"service_rule": "deploys", "policy": map[string]any{"rules": []map[string]any{{"min_approvals": 1}}}})
	if inline.PolicySource != "service_rule:deploys+inline" || len(inline.Policy.Rules) != 2 || inline.Policy.Rules[0].MinApprovals != 3 {
		t.Fatalf("inline with the rule: %q %+v", inline.PolicySource, inline.Policy)
	}
	if p := requester.raw("POST", "/v1/approvals", mustJSON(map[string]any{"title": "x", "service_rule": "deploys", "policy_name": "other"})); p.status != 422 {
		t.Fatalf("policy_name other than the rule's: %d", p.status)
	}
	if p := requester.raw("POST", "/v1/approvals", mustJSON(map[string]any{"title": "x", "policy_name": "nope"})); p.status != 422 {
		t.Fatalf("unknown policy_name: %d", p.status)
	}
	if p := requester.raw("POST", "/v1/approvals", mustJSON(map[string]any{"title": "x", "policy_name": "two-services", "policy": map[string]any{"rules": []any{}}})); p.status != 422 {
		t.Fatalf("policy and policy_name: %d", p.status)
	}
	if p := f.admin.raw("DELETE", "/v1/policies/two-services", nil); p.status != 409 {
		t.Fatalf("deleting a policy a rule names: %d %s", p.status, p.body)
	}
	f.admin.json(200, "PATCH", "/v1/service-rules/deploys", map[string]any{"policy": nil}, nil)
	f.admin.json(204, "DELETE", "/v1/policies/two-services", nil, nil)
	if got := requester.get(req.ID); got.Policy.Rules[0].MinApprovals != 3 {
		t.Fatalf("the request lost its policy copy: %+v", got.Policy)
	}
}

func TestInbox_PagingAndBadQueries(t *testing.T) {
	f := setup(t)
	requester := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	rev := f.key("rev", approval.ScopeReview, approval.ScopeRead)
	reader := f.key("reader", approval.ScopeRead)
	var ids []string
	for i := range 5 {
		ids = append(ids, requester.createWith(map[string]any{"title": fmt.Sprint("r", i)}).ID)
	}
	rev.review(ids[2], approval.DecisionApprove)
	want := []string{ids[0], ids[1], ids[3], ids[4]}
	var got []string
	cursor := ""
	for range 3 {
		var page struct {
			Items      []full  `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		rev.json(200, "GET", "/v1/approvals?awaiting=me&limit=2"+cursor, nil, &page)
		for _, r := range page.Items {
			got = append(got, r.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("inbox pages = %v, want %v (oldest first, the reviewed one left out)", got, want)
	}
	if got := reader.inbox(""); len(got) != 0 {
		t.Fatalf("a principal without the review scope has an inbox: %v", got)
	}
	for _, q := range []string{"awaiting=you", "awaiting=me&status=pending", "awaiting=me&cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x"))} {
		if p := rev.raw("GET", "/v1/approvals?"+q, nil); p.status != 422 {
			t.Errorf("%s: %d %s", q, p.status, p.body)
		}
	}
}

func TestReminders_ReRequestReviews(t *testing.T) {
	f := setup(t)
	requester := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	r := requester.createWith(map[string]any{"remind_after": "30m"})
	if p := requester.raw("POST", "/v1/approvals", mustJSON(map[string]any{"title": "x", "remind_after": "5s"})); p.status != 422 {
		t.Fatalf("too short a reminder: %d", p.status)
	}
	f.clock.Advance(31 * time.Minute)
	if n, err := f.eng.RemindDue(t.Context()); err != nil || n != 1 {
		t.Fatalf("RemindDue = %d, %v", n, err)
	}
	if n, _ := f.eng.RemindDue(t.Context()); n != 0 {
		t.Fatalf("reminded twice in one interval: %d", n)
	}
	recs, err := f.store.Outbox(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last.Type != approval.EventReviewRequested || last.RequestID != r.ID || !strings.Contains(string(last.Data), `"may_approve":{"anyone":true`) {
		t.Fatalf("last event = %s %s", last.Type, last.Data)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
