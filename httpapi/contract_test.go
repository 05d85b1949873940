package httpapi

import (
	"strings"
	"testing"

	"approvald/approval"
)

// Small contract gaps found by running third-party clients against the API
// (issue 16, item 8); each is one behaviour the OpenAPI document promises.

// fieldNamed reports whether the problem p names field among its errors.
func fieldNamed(p Problem, field string) bool {
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

// If-Match compares strongly: a weak ETag never matches (RFC 9110).
func TestContract_IfMatchWithAWeakETagNeverMatches(t *testing.T) {
	f := setup(t)
	c := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	r := c.create("x")
	p := c.raw("PATCH", "/v1/approvals/"+r.ID, []byte(`{"title":"y"}`), "If-Match", `W/"1"`)
	if p.status != 412 || p.problem(t).Code != approval.CodeVersionMismatch {
		t.Fatalf("If-Match: W/\"1\": %d %s", p.status, p.body)
	}
	c.json(200, "PATCH", "/v1/approvals/"+r.ID, map[string]any{"title": "y"}, nil, "If-Match", `"1"`)
}

// A retry with the same JSON spaced or ordered otherwise is the same body.
func TestContract_IdempotencyKeysCompareJSONNotBytes(t *testing.T) {
	f := setup(t)
	c := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	first := c.raw("POST", "/v1/approvals", []byte(`{"title":"pay","payload":{"a":1,"b":2}}`), "Idempotency-Key", "k1")
	again := c.raw("POST", "/v1/approvals", []byte("{ \"payload\": {\"b\": 2, \"a\": 1},\n  \"title\": \"pay\" }"), "Idempotency-Key", "k1")
	if first.status != 201 || again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" || string(first.body) != string(again.body) {
		t.Fatalf("the same JSON respaced: %d then %d %s", first.status, again.status, again.body)
	}
	other := c.raw("POST", "/v1/approvals", []byte(`{"title":"pay","payload":{"a":1,"b":3}}`), "Idempotency-Key", "k1")
	if other.status != 422 || other.problem(t).Code != approval.CodeIdempotencyMismatch {
		t.Fatalf("another body under the same key: %d %s", other.status, other.body)
	}
}

// A service-rule URL is checked whole when saved, with a message that says
// what is wrong.
func TestContract_ServiceRuleURLPortsAndUnspecifiedAddresses(t *testing.T) {
	f := setup(t)
	for url, want := range map[string]string{
		"http://127.0.0.1:99999/hook": "port",
		"http://127.0.0.1:0/hook":     "port",
		"http://0.0.0.0:8080/hook":    "unspecified address",
		"http://[::]:8080/hook":       "unspecified address",
	} {
		p := f.admin.raw("POST", "/v1/service-rules", mustJSON(map[string]any{"name": "r", "url": url}))
		if p.status != 422 || !fieldNamed(p.problem(t), "url") || !strings.Contains(string(p.body), want) {
			t.Errorf("%s: %d %s, want 422 on url saying %q", url, p.status, p.body, want)
		}
	}
}

// A text filter no request could match is 422 naming it, on every store.
func TestContract_ListFiltersFollowTheFieldsRules(t *testing.T) {
	f := setup(t)
	c := f.key("ci", approval.ScopeRead)
	for _, q := range []string{"requester=%00", "service_rule=a%0Ab", "subject=%E2%80%AE"} {
		p := c.raw("GET", "/v1/approvals?"+q, nil)
		name, _, _ := strings.Cut(q, "=")
		if p.status != 422 || !fieldNamed(p.problem(t), name) {
			t.Errorf("?%s: %d %s, want 422 naming %s", q, p.status, p.body, name)
		}
	}
}

// Lists that are not paged say so instead of ignoring a cursor or a limit.
func TestContract_UnpagedListsRefuseQueryParameters(t *testing.T) {
	f := setup(t)
	for _, path := range []string{"/v1/service-rules", "/v1/policies", "/v1/api-keys"} {
		f.admin.json(200, "GET", path, nil, nil)
		p := f.admin.raw("GET", path+"?limit=1&cursor=x", nil)
		if p.status != 422 || !fieldNamed(p.problem(t), "limit") || !fieldNamed(p.problem(t), "cursor") {
			t.Errorf("%s?limit=1&cursor=x: %d %s", path, p.status, p.body)
		}
	}
}

// comment is a field of the request, so it can be given at create.
func TestContract_CommentAtCreate(t *testing.T) {
	f := setup(t)
	c := f.key("ci", approval.ScopeCreate, approval.ScopeRead)
	var r request
	c.json(201, "POST", "/v1/approvals", map[string]any{"title": "x", "comment": "first word"}, &r)
	if r.Comment != "first word" || r.Version != 1 {
		t.Fatalf("created with a comment: %+v", r)
	}
}
