package httpapi

import (
	"strings"
	"testing"

	"approvald/approval"
)

// Regression tests of issue 15 (strict input): bodies JSON readers could
// read in different ways, deceptive text and unbounded nesting.

func nested(n int) string { return strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1) }

// wantRefused checks the answer to body is status with code, and returns
// the problem.
func wantRefused(t *testing.T, c apiClient, method, path, body string, status int, code string) Problem {
	t.Helper()
	r := c.raw(method, path, []byte(body))
	if r.status != status {
		t.Fatalf("%s %s %.80q: status %d, want %d: %s", method, path, body, r.status, status, r.body)
	}
	p := r.problem(t)
	if p.Code != code {
		t.Fatalf("%.80q: code %q, want %q", body, p.Code, code)
	}
	return p
}

// stored returns how many requests exist.
func (f *fixture) stored() int {
	f.t.Helper()
	var page struct {
		Items []request `json:"items"`
	}
	f.admin.json(200, "GET", "/v1/approvals", nil, &page)
	return len(page.Items)
}

func TestCreate_DuplicateKeysAreRefused(t *testing.T) {
	f := setup(t)
	for body, detail := range map[string]string{
		`{"title":"a","title":"b"}`: `the request body is ambiguous: the key "title" is given more than once in the object at the top level`,
		`{"title":"Pay","payload":{"amount":"10.00","amount":"1000000.00"}}`: `the request body is ambiguous: the key "amount" is given more than once in the object at "/payload"`,
		`{"title":"Pay","payload":{"lines":[{"amount":1,"\u0061mount":2}]}}`: `the request body is ambiguous: the key "amount" is given more than once in the object at "/payload/lines/0"`,
		`{"title":"Pay","depends_on":[],"depends_on":["x"]}`:                 `the request body is ambiguous: the key "depends_on" is given more than once in the object at the top level`,
	} {
		if p := wantRefused(t, f.admin, "POST", "/v1/approvals", body, 400, approval.CodeMalformed); p.Detail != detail {
			t.Errorf("%s: detail %q, want %q", body, p.Detail, detail)
		}
	}
	if n := f.stored(); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
}

func TestCreate_CaseVariantKeysAreRefused(t *testing.T) {
	f := setup(t)
	for body, detail := range map[string]string{
		`{"title":"a","Title":"b"}`: `the request body is ambiguous: the keys "title" and "Title" of the object at the top level differ only in letter case, so they name the same field`,
		// encoding/json folds the long s into "s" too.
		`{"title":"a","service_rule":"","ſervice_rule":"x"}`:                       `the request body is ambiguous: the keys "service_rule" and "\u017fervice_rule" of the object at the top level differ only in letter case, so they name the same field`,
		`{"title":"a","payload":{},"PAYLOAD":{"amount":1}}`:                        `the request body is ambiguous: the keys "payload" and "PAYLOAD" of the object at the top level differ only in letter case, so they name the same field`,
		`{"title":"a","policy":{"rules":[{"min_approvals":1,"Min_Approvals":2}]}}`: `the request body is ambiguous: the keys "min_approvals" and "Min_Approvals" of the object at "/policy/rules/0" differ only in letter case, so they name the same field`,
	} {
		if p := wantRefused(t, f.admin, "POST", "/v1/approvals", body, 400, approval.CodeMalformed); p.Detail != detail {
			t.Errorf("%s: detail %q, want %q", body, p.Detail, detail)
		}
	}
	if n := f.stored(); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
	// In the payload, keys that differ in case are different keys: data
	// keeps the meaning it has for every JSON reader.
	var r struct {
		Payload map[string]any `json:"payload"`
	}
	f.admin.json(201, "POST", "/v1/approvals", map[string]any{"title": "t", "payload": map[string]any{"id": 1, "ID": 2}}, &r)
	if len(r.Payload) != 2 {
		t.Fatalf("payload %v", r.Payload)
	}
}

func TestCreate_PayloadNestedTooDeepIsRefused(t *testing.T) {
	f := setup(t)
	p := wantRefused(t, f.admin, "POST", "/v1/approvals", `{"title":"t","payload":`+nested(65)+`}`, 400, approval.CodeMalformed)
	if !strings.HasPrefix(p.Detail, `the request body is nested more than 64 levels deep counted from "/payload", at "/payload/a/a/a/`) {
		t.Errorf("detail %q", p.Detail)
	}
	// The review's attack: ~9,990 levels in 20 KB.
	wantRefused(t, f.admin, "POST", "/v1/approvals", `{"title":"t","payload":{"x":`+strings.Repeat("[", 9990)+strings.Repeat("]", 9990)+`}}`, 400, approval.CodeMalformed)
	// Deep nesting outside the payload is bounded too.
	wantRefused(t, f.admin, "POST", "/v1/approvals", `{"title":"t","policy":`+nested(72)+`}`, 400, approval.CodeMalformed)
	if n := f.stored(); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
	// Exactly at the limit is fine.
	if r := f.admin.raw("POST", "/v1/approvals", []byte(`{"title":"t","payload":`+nested(64)+`}`)); r.status != 201 {
		t.Fatalf("64 levels: %d %s", r.status, r.body)
	}
}

func TestCreate_TitleWithBidiOverrideIsRefused(t *testing.T) {
	f := setup(t)
	for body, want := range map[string]approval.FieldError{
		`{"title":"Pay invoice \u202egnp.exe\u202c 42"}`:  {Field: "title", Message: "must not contain control or invisible characters (found U+202E at character 13)"},
		`{"title":"Pay\u200b42"}`:                         {Field: "title", Message: "must not contain control or invisible characters (found U+200B at character 4)"},
		`{"title":"\u200b\u2060"}`:                        {Field: "title", Message: "must contain a visible character, not only spaces and invisible ones"},
		`{"title":"t","description":"see \u2066x\u2069"}`: {Field: "description", Message: "must not contain bidirectional formatting characters, which change the order in which text is shown (found U+2066 at character 5)"},
		`{"title":"t","subject":"a\u00adb"}`:              {Field: "subject", Message: "must not contain control or invisible characters (found U+00AD at character 2)"},
	} {
		p := wantRefused(t, f.admin, "POST", "/v1/approvals", body, 422, approval.CodeValidation)
		if len(p.Errors) != 1 || p.Errors[0] != want {
			t.Errorf("%s: errors %+v, want %+v", body, p.Errors, want)
		}
	}
	if n := f.stored(); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
	// Payload values are data: they may hold any character (the web UI
	// shows the invisible ones as escapes).
	f.admin.json(201, "POST", "/v1/approvals", map[string]any{"title": "t", "payload": map[string]any{"file": "gnp\u202e.exe"}}, nil)
}

func TestCreate_LoneSurrogateIsRefused(t *testing.T) {
	f := setup(t)
	for _, body := range []string{
		`{"title":"\ud800"}`,
		`{"title":"a\udc00b"}`,
		`{"title":"t","payload":{"x":"\ud83d"}}`,
		`{"title":"t","payload":{"\udfff":1}}`,
	} {
		p := wantRefused(t, f.admin, "POST", "/v1/approvals", body, 400, approval.CodeMalformed)
		if !strings.Contains(p.Detail, "surrogate") {
			t.Errorf("%s: detail %q", body, p.Detail)
		}
	}
	if n := f.stored(); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
	// A surrogate pair is one character.
	if resp := f.admin.raw("POST", "/v1/approvals", []byte(`{"title":"party \ud83c\udf89"}`)); resp.status != 201 {
		t.Fatalf("surrogate pair: %d %s", resp.status, resp.body)
	}
}

func TestCreate_InvalidUTF8TitleIsRefusedNotReplaced(t *testing.T) {
	f := setup(t)
	for _, body := range []string{
		"{\"title\":\"caf\xe9\"}",
		"{\"title\":\"t\",\"description\":\"\xff\"}",
		"{\"title\":\"t\",\"payload\":{\"k\":\"\xc3\"}}",
		"{\"title\":\"t\",\"payload\":{\"\xed\xa0\x80\":1}}",
	} {
		p := wantRefused(t, f.admin, "POST", "/v1/approvals", body, 400, approval.CodeMalformed)
		if !strings.Contains(p.Detail, "invalid UTF-8") {
			t.Errorf("%q: detail %q", body, p.Detail)
		}
	}
	if n := f.stored(); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
}

func TestPatch_AmbiguousDeepOrDeceptiveBodiesChangeNothing(t *testing.T) {
	f := setup(t)
	r := f.admin.create("Pay invoice 42")
	path := "/v1/approvals/" + r.ID
	for body, status := range map[string]int{
		`{"title":"a","title":"b"}`:                            400,
		`{"title":"a","Title":"b"}`:                            400,
		`{"payload":{"amount":"10.00","amount":"1000000.00"}}`: 400,
		`{"payload":` + nested(65) + `}`:                       400,
		`{"policy":{"rules":[{"name":"a","NAME":"b"}]}}`:       400,
		`{"comment":"\ud800"}`:                                 400,
		"{\"title\":\"caf\xe9\"}":                              400,
		`{"title":"Pay invoice \u202egnp.exe\u202c 42"}`:       422,
		`{"comment":"ok \u202e"}`:                              422,
	} {
		code := approval.CodeMalformed
		if status == 422 {
			code = approval.CodeValidation
		}
		wantRefused(t, f.admin, "PATCH", path, body, status, code)
	}
	var got request
	f.admin.json(200, "GET", path, nil, &got)
	if got.Version != r.Version || got.Title != "Pay invoice 42" {
		t.Fatalf("refused edits changed the request: %+v", got)
	}
}

func TestReview_AmbiguousDecisionIsRefused(t *testing.T) {
	f := setup(t)
	r := f.admin.create("Pay invoice 42")
	reviewer := f.key("reviewer", approval.ScopeReview, approval.ScopeRead)
	path := "/v1/approvals/" + r.ID + "/reviews"
	wantRefused(t, reviewer, "POST", path, `{"decision":"reject","decision":"approve"}`, 400, approval.CodeMalformed)
	wantRefused(t, reviewer, "POST", path, `{"decision":"reject","Decision":"approve"}`, 400, approval.CodeMalformed)
	wantRefused(t, reviewer, "POST", path, `{"decision":"approve","comment":"\udc00"}`, 400, approval.CodeMalformed)
	p := wantRefused(t, reviewer, "POST", path, `{"decision":"approve","comment":"fine \u202eko"}`, 422, approval.CodeValidation)
	if len(p.Errors) != 1 || p.Errors[0].Field != "comment" {
		t.Errorf("errors %+v", p.Errors)
	}
	wantRefused(t, f.admin, "POST", "/v1/approvals/"+r.ID+"/cancel", `{"comment":"a","comment":"b"}`, 400, approval.CodeMalformed)
	var got request
	f.admin.json(200, "GET", "/v1/approvals/"+r.ID, nil, &got)
	if got.Version != r.Version || got.Status != "pending" {
		t.Fatalf("refused reviews changed the request: %+v", got)
	}
}

func TestAdminBodies_AmbiguousBodiesAreRefused(t *testing.T) {
	f := setup(t)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/api-keys", `{"name":"a","Name":"b","scopes":["approvals:read"]}`},
		{"POST", "/v1/api-keys", `{"name":"a","scopes":["approvals:read"],"scopes":["admin"]}`},
		{"POST", "/v1/service-rules", `{"name":"r","url":"https://a.example","URL":"https://b.example"}`},
		{"POST", "/v1/service-rules", `{"name":"r","url":"https://a.example","headers":{"X-A":"1","x-a":"2"}}`},
		{"POST", "/v1/policies", `{"name":"p","policy":{"rules":[{"name":"r","min_approvals":1,"min_approvals":0}]}}`},
	} {
		wantRefused(t, f.admin, c.method, c.path, c.body, 400, approval.CodeMalformed)
	}
	var keys struct {
		Items []map[string]any `json:"items"`
	}
	f.admin.json(200, "GET", "/v1/api-keys", nil, &keys)
	for _, k := range keys.Items {
		if k["name"] == "a" {
			t.Fatalf("a refused key was stored: %v", k)
		}
	}
}
