package httpapi

import (
	"testing"
	"time"

	"approvald/approval"
)

// delegation is a delegation as the tests read it.
type delegation struct {
	ID              string     `json:"id"`
	Delegator       string     `json:"delegator"`
	DelegatorGroups []string   `json:"delegator_groups"`
	Delegate        string     `json:"delegate"`
	Starts          time.Time  `json:"starts_at"`
	Ends            time.Time  `json:"ends_at"`
	CreatedBy       string     `json:"created_by"`
	RevokedAt       *time.Time `json:"revoked_at"`
	RevokedBy       string     `json:"revoked_by"`
}

func (c apiClient) delegations(query string) []delegation {
	c.t.Helper()
	var page struct{ Items []delegation }
	c.json(200, "GET", "/v1/delegations"+query, nil, &page)
	return page.Items
}

func TestDelegations_SelfServiceForOnesOwnAdminForAnyone(t *testing.T) {
	f := setup(t)
	bob := f.keyIn("bob", []string{"finance"}, approval.ScopeReview, approval.ScopeRead)
	carol := f.key("carol", approval.ScopeReview)
	creator := f.key("creator", approval.ScopeCreate)
	audit := f.key("auditor", approval.ScopeAudit)
	ends := f.clock.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)

	var own delegation
	res := bob.json(201, "POST", "/v1/delegations", map[string]any{"delegate": "svc:carol", "ends_at": ends, "reason": "holiday"}, &own)
	if own.Delegator != "svc:bob" || own.CreatedBy != "svc:bob" || len(own.DelegatorGroups) != 1 || own.DelegatorGroups[0] != "finance" || own.RevokedAt != nil {
		t.Fatalf("self-service: %+v", own)
	}
	if res.header.Get("Location") != "/v1/delegations/"+own.ID {
		t.Fatalf("Location %q", res.header.Get("Location"))
	}
	// Someone else's eligibility, or groups the credential does not carry: refused.
	if p := bob.raw("POST", "/v1/delegations", []byte(`{"delegator":"svc:alice","delegate":"svc:carol","ends_at":"`+ends+`"}`)); p.status != 403 || p.problem(t).Code != approval.CodeMissingScope {
		t.Fatalf("bob delegating alice's: %d %s", p.status, p.body)
	}
	wantFields(t, "groups the key lacks", bob.raw("POST", "/v1/delegations", []byte(`{"delegator_groups":["security"],"delegate":"svc:carol","ends_at":"`+ends+`"}`)), "delegator_groups")
	if p := creator.raw("POST", "/v1/delegations", []byte(`{"delegate":"svc:carol","ends_at":"`+ends+`"}`)); p.status != 403 || p.problem(t).Code != approval.CodeMissingScope {
		t.Fatalf("a principal without the review scope delegating: %d %s", p.status, p.body)
	}
	for name, tc := range map[string]struct{ body, field string }{
		"no end":           {`{"delegate":"svc:carol"}`, "ends_at"},
		"not a time":       {`{"delegate":"svc:carol","ends_at":"tomorrow"}`, "ends_at"},
		"in the past":      {`{"delegate":"svc:carol","ends_at":"2001-01-01T00:00:00Z"}`, "ends_at"},
		"end before start": {`{"delegate":"svc:carol","starts_at":"` + f.clock.Now().Add(72*time.Hour).UTC().Format(time.RFC3339) + `","ends_at":"` + ends + `"}`, "ends_at"},
		"self":             {`{"delegate":"svc:bob","ends_at":"` + ends + `"}`, "delegate"},
		"bad delegate":     {`{"delegate":"carol","ends_at":"` + ends + `"}`, "delegate"},
		"unknown field":    {`{"delegate":"svc:carol","ends_at":"` + ends + `","until":"x"}`, "until"},
	} {
		wantFields(t, name, bob.raw("POST", "/v1/delegations", []byte(tc.body)), tc.field)
	}

	// An admin delegates anyone's, with the groups it gives.
	var forAlice delegation
	f.admin.json(201, "POST", "/v1/delegations", map[string]any{"delegator": "user:alice", "delegator_groups": []string{"owners"}, "delegate": "svc:carol", "ends_at": ends}, &forAlice)
	if forAlice.Delegator != "user:alice" || forAlice.CreatedBy != "svc:admin" || len(forAlice.DelegatorGroups) != 1 {
		t.Fatalf("admin's: %+v", forAlice)
	}

	// Lists: one's own (given or received); everyone's for admin and audit.
	if got := bob.delegations(""); len(got) != 1 || got[0].ID != own.ID {
		t.Fatalf("bob's list: %+v", got)
	}
	if got := carol.delegations(""); len(got) != 2 {
		t.Fatalf("carol (delegate of both): %+v", got)
	}
	if p := bob.raw("GET", "/v1/delegations?principal=user:alice", nil); p.status != 403 || p.problem(t).Code != approval.CodeMissingScope {
		t.Fatalf("bob listing alice's: %d %s", p.status, p.body)
	}
	if got := audit.delegations("?principal=user:alice"); len(got) != 1 || got[0].ID != forAlice.ID {
		t.Fatalf("audit, alice's: %+v", got)
	}
	if got := audit.delegations(""); len(got) != 2 {
		t.Fatalf("audit, all: %+v", got)
	}
	wantFields(t, "active=maybe", audit.raw("GET", "/v1/delegations?active=maybe", nil), "active")
	wantFields(t, "cursor", audit.raw("GET", "/v1/delegations?cursor=x", nil), "cursor")

	// One: to its delegator, its delegate, admin and audit; to anyone else 404.
	for _, c := range []apiClient{bob, carol, audit, f.admin} {
		c.json(200, "GET", "/v1/delegations/"+own.ID, nil, nil)
	}
	if p := creator.raw("GET", "/v1/delegations/"+own.ID, nil); p.status != 404 {
		t.Fatalf("a stranger reading it: %d %s", p.status, p.body)
	}
	if p := audit.raw("GET", "/v1/delegations/0190a5f0-0000-7000-8000-00000000dead", nil); p.status != 404 {
		t.Fatalf("no such delegation: %d", p.status)
	}

	// Revoking: a stranger (even audit) cannot; the delegate can; again changes nothing.
	for _, c := range []apiClient{creator, audit} {
		if p := c.raw("POST", "/v1/delegations/"+own.ID+"/revoke", nil); p.status != 404 {
			t.Fatalf("revoking someone else's: %d %s", p.status, p.body)
		}
	}
	var revoked, again delegation
	carol.json(200, "POST", "/v1/delegations/"+own.ID+"/revoke", nil, &revoked)
	if revoked.RevokedAt == nil || revoked.RevokedBy != "svc:carol" {
		t.Fatalf("revoked: %+v", revoked)
	}
	bob.json(200, "POST", "/v1/delegations/"+own.ID+"/revoke", map[string]any{}, &again)
	if again.RevokedAt == nil || !again.RevokedAt.Equal(*revoked.RevokedAt) || again.RevokedBy != "svc:carol" {
		t.Fatalf("revoked again: %+v", again)
	}
	if got := carol.delegations("?active=true"); len(got) != 1 || got[0].ID != forAlice.ID {
		t.Fatalf("carol's active ones: %+v", got)
	}
	if got := carol.delegations("?active=false"); len(got) != 2 {
		t.Fatalf("active=false lists every one: %+v", got)
	}
}

func TestReview_OnBehalfOfADelegator(t *testing.T) {
	f := setup(t)
	alice := f.key("alice", approval.ScopeReview, approval.ScopeRead)
	bob := f.key("bob", approval.ScopeReview, approval.ScopeRead)
	creator := f.key("creator", approval.ScopeCreate, approval.ScopeRead)
	f.admin.json(201, "POST", "/v1/policies", map[string]any{"name": "alice-only", "policy": map[string]any{
		"rules": []any{map[string]any{"min_approvals": 1, "principals": []string{"svc:alice"}}}}}, nil)
	r := creator.createWith(map[string]any{"policy_name": "alice-only"})

	body := []byte(`{"decision":"approve","on_behalf_of":"svc:alice"}`)
	if p := bob.raw("POST", "/v1/approvals/"+r.ID+"/reviews", body); p.status/100 != 4 {
		t.Fatalf("bob for alice without a delegation: %d %s", p.status, p.body)
	}
	ends := f.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var d delegation
	alice.json(201, "POST", "/v1/delegations", map[string]any{"delegate": "svc:bob", "ends_at": ends}, &d)
	var got full
	bob.json(200, "POST", "/v1/approvals/"+r.ID+"/reviews", map[string]any{"decision": "approve", "on_behalf_of": "svc:alice"}, &got)
	if got.Status != "approved" || len(got.Reviews) != 1 || got.Reviews[0]["reviewer"] != "svc:alice" || got.Reviews[0]["by"] != "svc:bob" {
		t.Fatalf("bob for alice: %s %+v", got.Status, got.Reviews)
	}
	// Revoked: it stops at once.
	r2 := creator.createWith(map[string]any{"policy_name": "alice-only"})
	alice.json(200, "POST", "/v1/delegations/"+d.ID+"/revoke", nil, nil)
	if p := bob.raw("POST", "/v1/approvals/"+r2.ID+"/reviews", body); p.status/100 != 4 {
		t.Fatalf("bob for alice after the revocation: %d %s", p.status, p.body)
	}
}
