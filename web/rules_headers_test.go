package web

import (
	"context"
	"net/http"
	"testing"

	"approvald/approval"
)

// TestAdmin_RulesPageShowsHeaderNamesNeverValues: a rule's header values
// (a receiver's credential) are write-only in the UI as in the API, for
// the admin and the auditor alike.
func TestAdmin_RulesPageShowsHeaderNamesNeverValues(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	const credential = "receiver-credential-do-not-show-0123"
	if _, err := s.eng.CreateRule(context.Background(), approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}, approval.ServiceRule{Name: "hooks", URL: "http://127.0.0.1:9/x",
		Headers: map[string]string{"X-Api-Key": credential}}); err != nil {
		t.Fatal(err)
	}
	for who, key := range map[string]string{"admin": testAdminKey, "auditor": s.key("auditor", approval.ScopeAudit)} {
		r := s.signedIn(key).get("/ui/admin/rules")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("rules page as the %s: %d", who, r.StatusCode)
		}
		mustContain(t, "the "+who+"'s rules page", r.body, "X-Api-Key")
		mustNotContain(t, "the "+who+"'s rules page", r.body, credential)
	}
}
