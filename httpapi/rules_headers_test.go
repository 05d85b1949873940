package httpapi

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"approvald/approval"
)

// storedHeaders returns the headers the rule name has in the store.
func (f *fixture) storedHeaders(name string) map[string]string {
	f.t.Helper()
	r, err := f.eng.Rule(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Headers
}

// TestRuleHeaders_ValuesAreWriteOnly: header values, where a standard
// receiver's credential goes, are never in a response — create, get and
// list, with the admin and the audit scope — only the names with has_value.
func TestRuleHeaders_ValuesAreWriteOnly(t *testing.T) {
	f := setup(t)
	const credential = "receiver-credential-do-not-show-0123"
	auditor := f.key("auditor", approval.ScopeAudit)
	r := f.admin.json(201, "POST", "/v1/service-rules", map[string]any{
		"name": "hooks", "url": "http://127.0.0.1:1/x",
		"headers": map[string]string{"X-Api-Key": credential, "X-Empty": ""},
	}, nil)
	bodies := []string{string(r.body)}
	for _, c := range []apiClient{f.admin, auditor} {
		bodies = append(bodies, string(c.json(200, "GET", "/v1/service-rules/hooks", nil, nil).body),
			string(c.json(200, "GET", "/v1/service-rules", nil, nil).body))
	}
	for _, b := range bodies {
		if strings.Contains(b, credential) {
			t.Errorf("a response shows a header value: %s", b)
		}
		if !strings.Contains(b, `"headers":{"X-Api-Key":{"has_value":true},"X-Empty":{"has_value":false}}`) {
			t.Errorf("a response does not list the headers by name: %s", b)
		}
	}
	if got := f.storedHeaders("hooks"); got["X-Api-Key"] != credential {
		t.Errorf("stored headers %v", got)
	}
}

// TestRuleHeaders_PatchReplacesTheSetAndKeepsValuesGivenAsObjects: PATCH
// "headers" replaces the set; a name with {} keeps its value, a name left
// out (or null) goes, a string sets; a rule read and sent back is unchanged.
func TestRuleHeaders_PatchReplacesTheSetAndKeepsValuesGivenAsObjects(t *testing.T) {
	f := setup(t)
	f.admin.json(201, "POST", "/v1/service-rules", map[string]any{
		"name": "hooks", "url": "http://127.0.0.1:1/x",
		"headers": map[string]string{"X-Api-Key": "k1", "X-Team": "finance", "X-Env": "prod"},
	}, nil)

	// Read and sent back: nothing changes.
	var read map[string]json.RawMessage
	f.admin.json(200, "GET", "/v1/service-rules/hooks", nil, &read)
	f.admin.raw("PATCH", "/v1/service-rules/hooks", []byte(`{"headers":`+string(read["headers"])+`}`))
	if got, want := f.storedHeaders("hooks"), map[string]string{"X-Api-Key": "k1", "X-Team": "finance", "X-Env": "prod"}; !maps.Equal(got, want) {
		t.Fatalf("after sending the read headers back: %v, want %v", got, want)
	}

	f.admin.json(200, "PATCH", "/v1/service-rules/hooks", map[string]any{
		"headers": map[string]any{"X-Api-Key": map[string]any{}, "X-Env": nil, "X-New": "v"},
	}, nil)
	if got, want := f.storedHeaders("hooks"), map[string]string{"X-Api-Key": "k1", "X-New": "v"}; !maps.Equal(got, want) {
		t.Errorf("after the patch: %v, want %v", got, want)
	}
	// Other fields leave the headers alone.
	f.admin.json(200, "PATCH", "/v1/service-rules/hooks", map[string]any{"max_attempts": 3}, nil)
	f.admin.json(200, "PATCH", "/v1/service-rules/hooks", map[string]any{"headers": map[string]any{"X-Api-Key": map[string]any{"has_value": true}, "X-New": "w"}}, nil)
	if got, want := f.storedHeaders("hooks"), map[string]string{"X-Api-Key": "k1", "X-New": "w"}; !maps.Equal(got, want) {
		t.Errorf("after more patches: %v, want %v", got, want)
	}

	for name, body := range map[string]string{
		"keeping a header the rule lacks": `{"headers":{"X-Missing":{}}}`,
		"an object with a value":          `{"headers":{"X-Api-Key":{"value":"x"}}}`,
		"a number":                        `{"headers":{"X-Api-Key":5}}`,
		"not an object":                   `{"headers":["X-Api-Key"]}`,
	} {
		if r := f.admin.raw("PATCH", "/v1/service-rules/hooks", []byte(body)); r.status != 422 || r.problem(t).Code != approval.CodeValidation {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := f.admin.raw("POST", "/v1/service-rules", []byte(`{"name":"new","url":"http://127.0.0.1:1/y","headers":{"X-Api-Key":{}}}`)); r.status != 422 {
		t.Errorf("a new rule keeping a header value: %d %s", r.status, r.body)
	}
	if got, want := f.storedHeaders("hooks"), map[string]string{"X-Api-Key": "k1", "X-New": "w"}; !maps.Equal(got, want) {
		t.Errorf("refused patches changed the headers: %v", got)
	}

	f.admin.json(200, "PATCH", "/v1/service-rules/hooks", map[string]any{"headers": nil}, nil)
	if got := f.storedHeaders("hooks"); len(got) != 0 {
		t.Errorf(`after "headers": null: %v`, got)
	}
}
