package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"approvald/approval"
	"approvald/internal/httpkit"
)

// allProblemCodes are the codes of approval/errors.go; the document must
// explain exactly these.
var allProblemCodes = []string{
	approval.CodeInternal, approval.CodeMalformed, approval.CodeValidation, approval.CodeUnauthenticated,
	approval.CodeMissingScope, approval.CodeSelfReview, approval.CodeNotEligible, approval.CodeNotOwner,
	approval.CodeNotFound, approval.CodeInvalidTransition, approval.CodeAlreadyReviewed,
	approval.CodeVersionMismatch, approval.CodeTooLarge, approval.CodeUnsupportedMedia,
	approval.CodeIdempotencyMismatch, approval.CodeConflict, approval.CodeUnavailable,
	approval.CodeMethodNotAllowed, approval.CodeStageNotOpen, approval.CodeStaleVersion, approval.CodeRateLimited,
	approval.CodeNotDelegated,
}

// contract is openapi.json as kin-openapi sees it, and a router over it.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract loads and validates openapi.json once for every test.
var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapiJSON)
	if err != nil {
		return nil, fmt.Errorf("loading openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableMultiError()); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing openapi.json: %w", err)
	}
	return &contract{doc: doc, router: router}, nil
})

func mustContract(tb testing.TB) *contract {
	tb.Helper()
	c, err := loadContract()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// checkResponse reports, through t.Errorf, every way in which a response
// the server gave to req differs from openapi.json: a status the operation
// does not document, a missing or malformed documented header, a content
// type or body that does not match the schema, a field the schema does not
// name, or a problem body whose type, status or request_id disagree with
// the response. A request no operation matches may only get the server's
// own 404 and 405 problems. Tests of handlers call it on every response
// they get, so that the document stays the contract.
func checkResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	c := mustContract(t)
	what := fmt.Sprintf("%s %s → %d", req.Method, req.URL.Path, status)
	// The document's server is relative ("/"), which kin-openapi matches
	// only against a URL without scheme and host: route by the path.
	routed := req.Clone(req.Context())
	routed.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	if req.Method == http.MethodHead { // served by the GET route, without a body
		routed.Method = http.MethodGet
	}
	route, params, err := c.router.FindRoute(routed)
	if err != nil {
		c.checkUnrouted(t, what, status, header, body)
		return
	}
	if route.Operation.Responses.Status(status) == nil {
		t.Errorf("%s: openapi.json does not document status %d for %s %s", what, status, route.Method, route.Path)
		return
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		ExcludeRequestBody:    true,
		MultiError:            true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: opts,
		},
		Status:  status,
		Header:  header,
		Options: opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s does not match openapi.json: %v\nbody: %s", what, err, clipBody(body))
		return
	}
	if req.Method == http.MethodHead || len(body) == 0 {
		return
	}
	ct := header.Get("Content-Type")
	media := route.Operation.Responses.Status(status).Value.Content.Get(ct)
	if media == nil || media.Schema == nil || !isJSONMediaType(ct) {
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s: the body is not JSON: %v", what, err)
		return
	}
	for _, f := range undocumentedFields([]*openapi3.Schema{media.Schema.Value}, v, "") {
		t.Errorf("%s: the body has the field %s, which openapi.json does not document", what, f)
	}
	if strings.HasPrefix(ct, "application/problem+json") {
		checkProblem(t, what, status, header, body)
	}
}

// checkUnrouted checks a response to a request no operation matches: it must
// be the server's 404 or 405 problem.
func (c *contract) checkUnrouted(t testing.TB, what string, status int, header http.Header, body []byte) {
	t.Helper()
	want := map[int]string{http.StatusNotFound: approval.CodeNotFound, http.StatusMethodNotAllowed: approval.CodeMethodNotAllowed}[status]
	if want == "" {
		t.Errorf("%s: no operation of openapi.json matches this request, so only 404 or 405 may answer it", what)
		return
	}
	if ct := header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type is %q, want application/problem+json", what, ct)
		return
	}
	if status == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
		t.Errorf("%s: a 405 must say what is allowed in Allow", what)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s: the body is not JSON: %v", what, err)
		return
	}
	schema := c.doc.Components.Schemas["Problem"].Value
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		t.Errorf("%s: the body is not a Problem of openapi.json: %v", what, err)
	}
	for _, f := range undocumentedFields([]*openapi3.Schema{schema}, v, "") {
		t.Errorf("%s: the body has the field %s, which openapi.json does not document", what, f)
	}
	if code := checkProblem(t, what, status, header, body); code != want {
		t.Errorf("%s: code is %q, want %q", what, code, want)
	}
}

// checkProblem checks what the schema cannot: that a problem agrees with the
// response it came in. It returns the problem's code.
func checkProblem(t testing.TB, what string, status int, header http.Header, body []byte) string {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("%s: the body is not a problem: %v", what, err)
		return ""
	}
	if want := problemTypeBase + p.Code; p.Type != want {
		t.Errorf("%s: problem type is %q, want %q", what, p.Type, want)
	}
	if p.Status != status {
		t.Errorf("%s: problem status is %d, the response's %d", what, p.Status, status)
	}
	if id := header.Get("X-Request-Id"); p.RequestID != "" && p.RequestID != id {
		t.Errorf("%s: problem request_id is %q, the X-Request-Id header %q", what, p.RequestID, id)
	}
	return p.Code
}

// undocumentedFields returns the paths of the object members in v that
// none of the schemas names. The document leaves response objects open, so
// that adding a field is not a breaking change for clients; the tests hold
// the server to it strictly. Objects whose schemas name no properties
// (payload) are free-form; additionalProperties schemas are followed.
func undocumentedFields(schemas []*openapi3.Schema, v any, at string) []string {
	var flat []*openapi3.Schema
	var add func(s *openapi3.Schema)
	add = func(s *openapi3.Schema) {
		if s == nil {
			return
		}
		flat = append(flat, s)
		for _, sub := range slices.Concat(s.AllOf, s.AnyOf, s.OneOf) {
			add(sub.Value)
		}
	}
	for _, s := range schemas {
		add(s)
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		props := map[string][]*openapi3.Schema{}
		var extra []*openapi3.Schema
		open := false
		for _, s := range flat {
			for name, p := range s.Properties {
				props[name] = append(props[name], p.Value)
			}
			if ap := s.AdditionalProperties; ap.Schema != nil {
				extra = append(extra, ap.Schema.Value)
			} else if ap.Has != nil && *ap.Has {
				open = true
			}
		}
		if len(props) == 0 && len(extra) == 0 {
			return nil // free-form
		}
		for _, name := range slices.Sorted(maps.Keys(v)) {
			switch {
			case props[name] != nil:
				out = append(out, undocumentedFields(props[name], v[name], at+"."+name)...)
			case extra != nil:
				out = append(out, undocumentedFields(extra, v[name], at+"."+name)...)
			case !open:
				out = append(out, at+"."+name)
			}
		}
	case []any:
		var items []*openapi3.Schema
		for _, s := range flat {
			if s.Items != nil {
				items = append(items, s.Items.Value)
			}
		}
		for i, e := range v {
			out = append(out, undocumentedFields(items, e, at+"["+strconv.Itoa(i)+"]")...)
		}
	}
	return out
}

func isJSONMediaType(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func clipBody(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// serveAndCheck sends req to h and checks the response against the document.
func serveAndCheck(t testing.TB, h http.Handler, req *http.Request) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	checkResponse(t, req, res.StatusCode, res.Header, body)
	return res
}

func responseBody(t testing.TB, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenAPI_DocumentIsValid(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	if c.doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi is %q, want 3.1.0", c.doc.OpenAPI)
	}
	if !c.doc.IsOpenAPI31OrLater() {
		t.Error("kin-openapi does not treat the document as OpenAPI 3.1")
	}
	// The check must be able to fail: a dangling reference is refused.
	broken := bytes.Replace(openapiJSON, []byte(`"#/components/schemas/Review"`), []byte(`"#/components/schemas/Nope"`), 1)
	if doc, err := openapi3.NewLoader().LoadFromData(broken); err == nil {
		if err := doc.Validate(context.Background()); err == nil {
			t.Error("a document with a dangling $ref loads and validates; the check proves nothing")
		}
	}
}

// openAPIPath turns a net/http route pattern into an OpenAPI path template.
func openAPIPath(pattern string) string {
	p := strings.TrimSuffix(pattern, "{$}")
	return strings.ReplaceAll(p, "...}", "}")
}

func requiredScope(op *openapi3.Operation) (string, bool) {
	switch v := op.Extensions["x-required-scope"].(type) {
	case string:
		return v, true
	case json.RawMessage:
		var s string
		err := json.Unmarshal(v, &s)
		return s, err == nil
	}
	return "", false
}

func TestOpenAPI_EveryRouteDocumentedAndViceVersa(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	served := map[string]approval.Scope{}
	audit := map[string]bool{}
	for _, rt := range (&server{}).routes() {
		served[rt.Method+" "+openAPIPath(rt.Pattern)] = rt.Scope
		audit[rt.Method+" "+openAPIPath(rt.Pattern)] = rt.Audit
		if rt.Public && rt.Scope != "" {
			t.Errorf("%s %s: a public route needs no scope", rt.Method, rt.Pattern)
		}
		if rt.Scope == "" && rt.Audit {
			t.Errorf("%s %s: a route any principal may call has no use for the audit flag", rt.Method, rt.Pattern)
		}
	}
	public := map[string]bool{}
	for _, rt := range (&server{}).routes() {
		public[rt.Method+" "+openAPIPath(rt.Pattern)] = rt.Public
	}
	documented := map[string]*openapi3.Operation{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if servedByGateway(op) {
				continue // the CR8TOR routes: the gateway's own tests check them
			}
			documented[method+" "+path] = op
		}
	}
	for key, scope := range served {
		op, ok := documented[key]
		if !ok {
			t.Errorf("%s is served but not in openapi.json", key)
			continue
		}
		got, has := requiredScope(op)
		switch {
		case public[key]:
			if has {
				t.Errorf("%s is public but documents x-required-scope %q", key, got)
			}
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s is public; its operation must say security: []", key)
			}
		case scope == "":
			// Any authenticated principal; the engine decides what each may do.
			if has {
				t.Errorf("%s needs no scope but documents x-required-scope %q", key, got)
			}
			if op.Security == nil || !sameJSON(*op.Security, openapi3.SecurityRequirements{{"apiKey": {}}}) {
				t.Errorf("%s needs a credential: security must name apiKey", key)
			}
			if !strings.Contains(op.Description, "any valid credential") {
				t.Errorf("%s: the description does not say that any valid credential may call it", key)
			}
		default:
			if got != string(scope) {
				t.Errorf("%s needs scope %q; x-required-scope is %q", key, scope, got)
			}
			// Scopes in a security requirement are for OAuth2 schemes only
			// (Spectral, Redocly): the bearer scheme lists none, and
			// x-required-scope and x-audit document ours.
			want := openapi3.SecurityRequirements{{"apiKey": {}}}
			if audit[key] {
				if !strings.Contains(op.Description, "or `audit`") || op.Extensions["x-audit"] == nil {
					t.Errorf("%s: audit may call it, but the description or x-audit does not say so", key)
				}
			} else if op.Extensions["x-audit"] != nil {
				t.Errorf("%s: documents x-audit, but audit may not call it", key)
			}
			if op.Security == nil || !sameJSON(*op.Security, want) {
				t.Errorf("%s: security must be %v", key, want)
			}
			if !strings.Contains(op.Description, "`"+string(scope)+"`") {
				t.Errorf("%s: the description does not name the scope `%s`", key, scope)
			}
		}
	}
	for key := range documented {
		if _, ok := served[key]; !ok {
			t.Errorf("%s is in openapi.json but not served", key)
		}
	}
}

// authenticated reports whether op needs a credential: it names a
// security requirement (public operations say security: []).
func authenticated(op *openapi3.Operation) bool {
	return op.Security == nil || len(*op.Security) > 0
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// docExtension decodes a top-level extension of the document.
func docExtension(t *testing.T, c *contract, name string, dst any) {
	t.Helper()
	raw, err := json.Marshal(c.doc.Extensions[name])
	if err == nil {
		err = json.Unmarshal(raw, dst)
	}
	if err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
}

// oaProblemCode is an entry of the document's x-problem-codes.
type oaProblemCode struct {
	Code        string `json:"code"`
	Status      int    `json:"status"`
	Description string `json:"description"`
}

func TestOpenAPI_ProblemCodesMatchTheCode(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	var table []oaProblemCode
	docExtension(t, c, "x-problem-codes", &table)
	statusOfCode := map[string]int{}
	for _, pc := range table {
		statusOfCode[pc.Code] = pc.Status
		row := fmt.Sprintf("| `%s` | %d | %s |", pc.Code, pc.Status, pc.Description)
		if !strings.Contains(c.doc.Info.Description, row) {
			t.Errorf("info.description has no problem table row\n%s", row)
		}
	}
	want := slices.Sorted(slices.Values(allProblemCodes))
	if got := slices.Sorted(maps.Keys(statusOfCode)); !slices.Equal(got, want) {
		t.Errorf("x-problem-codes lists %v, approval/errors.go defines %v", got, want)
	}
	var enum []string
	for _, e := range c.doc.Components.Schemas["Problem"].Value.Properties["code"].Value.Enum {
		enum = append(enum, e.(string))
	}
	if slices.Sort(enum); !slices.Equal(enum, want) {
		t.Errorf("Problem.code enum is %v, want %v", enum, want)
	}
	for kind := range approval.Kind(255) {
		status := httpkit.StatusOf(kind)
		if !slices.Contains(slices.Collect(maps.Values(statusOfCode)), status) {
			t.Errorf("the server answers %d but no problem code of the document has that status", status)
		}
	}
	// Each documented problem response allows only codes of its own status.
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, resp := range op.Responses.Map() {
				media := resp.Value.Content.Get("application/problem+json")
				if media == nil {
					continue
				}
				codes := responseCodes(media.Schema.Value)
				if len(codes) == 0 {
					t.Errorf("%s %s %s: a problem response must list its codes", method, path, status)
				}
				for _, code := range codes {
					if strconv.Itoa(statusOfCode[code]) != status {
						t.Errorf("%s %s %s: code %s has status %d", method, path, status, code, statusOfCode[code])
					}
				}
			}
		}
	}
}

// responseCodes returns the enum of the "code" property of a problem
// response schema (its allOf overlay).
func responseCodes(s *openapi3.Schema) []string {
	var out []string
	for _, sub := range s.AllOf {
		if p := sub.Value.Properties["code"]; p != nil && sub.Ref == "" {
			for _, e := range p.Value.Enum {
				out = append(out, e.(string))
			}
		}
	}
	return out
}

// stateTableNames splits a cell listing `a`, `b` (or — for none) into names.
func stateTableNames(cell string) []string {
	if cell == "—" {
		return nil
	}
	var out []string
	for part := range strings.SplitSeq(cell, ",") {
		out = append(out, strings.Trim(strings.TrimSpace(part), "`"))
	}
	return out
}

func TestOpenAPI_StateMachineMatchesTransitionTable(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	rows := map[string][]string{}
	for line := range strings.Lines(c.doc.Info.Description) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 5 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[strings.Trim(cells[1], "`")] = cells
	}
	for _, s := range approval.Statuses() {
		row, ok := rows[s.String()]
		if !ok {
			t.Errorf("the state machine table has no row for %s", s)
			continue
		}
		if row[0] != strconv.Itoa(int(s)) {
			t.Errorf("%s: the table says code %s, want %d", s, row[0], int(s))
		}
		var actions []string
		for _, a := range approval.AllowedActions(s) {
			actions = append(actions, string(a))
		}
		if got := stateTableNames(row[3]); !slices.Equal(got, actions) {
			t.Errorf("%s: the table allows %v, the transition table %v", s, got, actions)
		}
		if got := stateTableNames(row[4]); !slices.Equal(got, approval.Editable(s)) {
			t.Errorf("%s: the table lets a PATCH change %v, the transition table %v", s, got, approval.Editable(s))
		}
	}
}

func TestOpenAPI_LimitsMatchTheCode(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	schemas := c.doc.Components.Schemas
	prop := func(schema, name string) *openapi3.Schema {
		if s := schemas[schema]; s != nil {
			if p := s.Value.Properties[name]; p != nil {
				return p.Value
			}
		}
		t.Errorf("openapi.json has no %s.%s", schema, name)
		return &openapi3.Schema{}
	}
	for _, tc := range []struct {
		schema, field string
		max           int
	}{
		{"CreateApprovalBody", "title", approval.MaxTitleLen},
		{"CreateApprovalBody", "description", approval.MaxDescriptionLen},
		{"CreateApprovalBody", "service_rule", approval.MaxServiceRuleLen},
		{"PatchApprovalBody", "title", approval.MaxTitleLen},
		{"PatchApprovalBody", "description", approval.MaxDescriptionLen},
		{"PatchApprovalBody", "service_rule", approval.MaxServiceRuleLen},
		{"PatchApprovalBody", "comment", approval.MaxCommentLen},
		{"ReviewBody", "comment", approval.MaxCommentLen},
		{"CancelBody", "comment", approval.MaxCommentLen},
		{"ApprovalRequest", "title", approval.MaxTitleLen},
		{"ApprovalRequest", "description", approval.MaxDescriptionLen},
		{"ApprovalRequest", "comment", approval.MaxCommentLen},
		{"NotificationChannelBody", "url", approval.MaxChannelURLLen},
		{"ContactBody", "email", approval.MaxEmailLen},
		{"DelegationBody", "reason", approval.MaxDelegationReason},
		{"CreateAPIKeyBody", "contact", approval.MaxEmailLen},
		{"CreateApprovalBody", "justification", approval.MaxJustificationLen},
		{"PatchApprovalBody", "justification", approval.MaxJustificationLen},
		{"ApprovalRequest", "justification", approval.MaxJustificationLen},
		{"Item", "id", approval.MaxItemIDLen},
		{"Item", "name", approval.MaxItemNameLen},
		{"Item", "media_type", approval.MaxItemMediaTypeLen},
		{"ItemDecision", "id", approval.MaxItemIDLen},
		{"RevokeBody", "reason", approval.MaxRevokeReasonLen},
		{"Revocation", "reason", approval.MaxRevokeReasonLen},
		{"Rule", "auto_approve_if", approval.MaxExpressionLen},
		{"RuleInput", "auto_approve_if", approval.MaxExpressionLen},
		{"Rule", "auto_reject_if", approval.MaxExpressionLen},
		{"RuleInput", "auto_reject_if", approval.MaxExpressionLen},
		{"StoredPolicy", "match", approval.MaxExpressionLen},
		{"StoredPolicyBody", "match", approval.MaxExpressionLen},
		{"BatchReview", "comment", approval.MaxCommentLen},
	} {
		if got := prop(tc.schema, tc.field).MaxLength; got == nil || *got != uint64(tc.max) {
			t.Errorf("%s.%s: maxLength is %s, want %d", tc.schema, tc.field, showLimit(got), tc.max)
		}
	}
	for _, tc := range []struct {
		schema, field string
		max           int
	}{
		{"ContactBody", "emails", approval.MaxGroupEmails},
		{"NotificationRouteBody", "events", approval.MaxRouteEvents},
		{"NotificationPreferences", "muted", len(approval.NotifyKinds())},
		{"CreateApprovalBody", "items", approval.MaxItems},
		{"PatchApprovalBody", "items", approval.MaxItems},
		{"ApprovalRequest", "items", approval.MaxItems},
		{"ReviewBody", "items", approval.MaxItems},
		{"BatchReview", "items", approval.MaxItems},
		{"BatchReviewBody", "reviews", approval.MaxBatchReview},
	} {
		if got := prop(tc.schema, tc.field).MaxItems; got == nil || *got != uint64(tc.max) {
			t.Errorf("%s.%s: maxItems is %s, want %d", tc.schema, tc.field, showLimit(got), tc.max)
		}
	}
	for _, name := range []string{"Policy", "PolicyInput"} {
		if got := prop(name, "max_change_cycles").Max; got == nil || int(*got) != approval.MaxChangeCycles {
			t.Errorf("%s.max_change_cycles: maximum is %s, want %d", name, showLimit(got), approval.MaxChangeCycles)
		}
	}
	if got, want := schemas["NotifyKind"].Value.Enum, approval.NotifyKinds(); !sameJSON(got, want) {
		t.Errorf("NotifyKind enum is %v, want %v", got, want)
	}
	var statuses []any
	for _, s := range approval.Statuses() {
		statuses = append(statuses, s.String())
	}
	if got := schemas["Status"].Value.Enum; !sameJSON(got, statuses) {
		t.Errorf("Status enum is %v, want %v", got, statuses)
	}
	if got := prop("ApprovalRequest", "status_code").Max; got == nil || int(*got) != len(statuses)-1 {
		t.Errorf("status_code maximum is %s, want %d", showLimit(got), len(statuses)-1)
	}
	if got, want := schemas["Scope"].Value.Enum, approval.Scopes(); !sameJSON(got, want) {
		t.Errorf("Scope enum is %v, want %v", got, want)
	}
	if got, want := schemas["Decision"].Value.Enum, []approval.Decision{approval.DecisionApprove, approval.DecisionReject, approval.DecisionRequestChanges}; !sameJSON(got, want) {
		t.Errorf("Decision enum is %v, want %v", got, want)
	}
	if got, want := schemas["Action"].Value.Enum, approval.Actions(); !sameJSON(got, want) {
		t.Errorf("Action enum is %v, want %v", got, want)
	}
	for _, path := range []string{"/v1/approvals", "/v1/history", "/v1/gateway/calls", "/v1/notifications", "/v1/delegations"} {
		list := c.doc.Paths.Value(path).Get
		limit := list.Parameters.GetByInAndName("query", "limit").Schema.Value
		if limit.Max == nil || int(*limit.Max) != maxListLimit || !sameJSON(limit.Default, defaultListLimit) {
			t.Errorf("%s limit: maximum %s default %v, want %d and %d", path, showLimit(limit.Max), limit.Default, maxListLimit, defaultListLimit)
		}
	}
	failures := schemas["HistoryVerification"].Value.Properties["failures"].Value.MaxItems
	if failures == nil || *failures != approval.MaxVerifyFailures {
		t.Errorf("HistoryVerification.failures: maxItems %s, want %d", showLimit(failures), approval.MaxVerifyFailures)
	}
	create := c.doc.Paths.Value("/v1/approvals").Post
	if got := create.Parameters.GetByInAndName("header", "Idempotency-Key").Schema.Value.MaxLength; got == nil || *got != MaxIdempotencyKeyLen {
		t.Errorf("Idempotency-Key maxLength is %s, want %d", showLimit(got), MaxIdempotencyKeyLen)
	}
	for text, ok := range map[string]bool{
		"1 MiB":   MaxBodyBytes == 1<<20,
		"256 KiB": approval.MaxPayloadBytes == 256<<10,
		"at most 5 years ahead": approval.MaxDeadlineAhead >= 5*365*24*time.Hour &&
			approval.MaxDeadlineAhead < 6*365*24*time.Hour,
	} {
		if !ok || !strings.Contains(c.doc.Info.Description, text) {
			t.Errorf("info.description says %q, which the code does not (or the text is missing)", text)
		}
	}
}

// showLimit prints an optional number of a schema.
func showLimit[T any](p *T) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprint(*p)
}

// recordingTB stands in for a test to prove that checkResponse fails: it
// records the errors instead of failing the real test.
type recordingTB struct {
	testing.TB
	errs []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }

// sampleApproval returns a request with every optional part set, as a decided
// request whose delivery failed looks.
func sampleApproval(t *testing.T) (*approval.Request, approval.Change) {
	t.Helper()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	deadline := now.Add(48 * time.Hour)
	r, ch, err := approval.New("0190a5f0-0000-7000-8000-000000000001", approval.Draft{
		Title: "Publish dataset X", Description: "for the quarterly report",
		Payload: json.RawMessage(`{"dataset":"x","rows":3}`), Deadline: &deadline,
	}, approval.Principal{ID: "svc:billing", Scopes: []approval.Scope{approval.ScopeCreate}}, approval.Mandate{Policy: approval.DefaultPolicy(), Source: "default"}, now)
	if err != nil {
		t.Fatal(err)
	}
	return r, ch
}

func TestOpenAPI_CheckResponseCatchesMismatch(t *testing.T) {
	t.Parallel()
	r, _ := sampleApproval(t)
	fresh, _ := json.Marshal(r)
	var noStatusCode map[string]any
	_ = json.Unmarshal(fresh, &noStatusCode)
	delete(noStatusCode, "status_code")
	withoutStatusCode, _ := json.Marshal(noStatusCode)

	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req-1"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	problemHeader := func(kv ...string) http.Header {
		h := jsonHeader(kv...)
		h.Set("Content-Type", "application/problem+json")
		return h
	}
	problem := func(status int, code string) []byte {
		b, _ := json.Marshal(Problem{Type: problemTypeBase + code, Title: http.StatusText(status), Status: status,
			Detail: "x", Code: code, Instance: "/x", RequestID: "req-1"})
		return b
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		status int
		header http.Header
		body   []byte
		fails  bool
	}{
		{"a valid health answer passes", "GET", "/healthz", 200, jsonHeader(), []byte(`{"status":"ok"}`), false},
		{"a field of the wrong type", "GET", "/healthz", 200, jsonHeader(), []byte(`{"status":42}`), true},
		{"a value outside the enum", "GET", "/healthz", 200, jsonHeader(), []byte(`{"status":"meh"}`), true},
		{"an undocumented field", "GET", "/healthz", 200, jsonHeader(), []byte(`{"status":"ok","uptime":3}`), true},
		{"an undocumented status", "GET", "/healthz", 418, jsonHeader(), []byte(`{"status":"ok"}`), true},
		{"a missing required header", "GET", "/healthz", 200, http.Header{"Content-Type": {"application/json"}}, []byte(`{"status":"ok"}`), true},
		{"an undocumented content type", "GET", "/healthz", 200, jsonHeader("Content-Type", "text/plain"), []byte(`ok`), true},
		{"a valid approval passes", "GET", "/v1/approvals/x", 200, jsonHeader("ETag", `"1"`), fresh, false},
		{"an approval without status_code", "GET", "/v1/approvals/x", 200, jsonHeader("ETag", `"1"`), withoutStatusCode, true},
		{"an approval without its ETag", "GET", "/v1/approvals/x", 200, jsonHeader(), fresh, true},
		{"a valid problem passes", "GET", "/v1/approvals/x", 404, problemHeader(), problem(404, "not_found"), false},
		{"a problem code of another status", "GET", "/v1/approvals/x", 404, problemHeader(), problem(404, "conflict"), true},
		{"a problem whose status disagrees", "GET", "/v1/approvals/x", 404, problemHeader(), problem(403, "not_found"), true},
		{"a problem sent as application/json", "GET", "/v1/approvals/x", 404, jsonHeader(), problem(404, "not_found"), true},
		{"a problem with another request id", "GET", "/v1/approvals/x", 404, problemHeader("X-Request-Id", "req-2"), problem(404, "not_found"), true},
		{"the server's 405 passes", "PUT", "/healthz", 405, problemHeader("Allow", "GET, HEAD"), problem(405, "method_not_allowed"), false},
		{"a 405 without Allow", "PUT", "/healthz", 405, problemHeader(), problem(405, "method_not_allowed"), true},
		{"the server's 404 passes", "GET", "/nowhere", 404, problemHeader(), problem(404, "not_found"), false},
		{"an undocumented route that answers", "GET", "/nowhere", 200, jsonHeader(), []byte(`{}`), true},
	} {
		rec := &recordingTB{TB: t}
		req := httptest.NewRequest(tc.method, tc.path, nil)
		checkResponse(rec, req, tc.status, tc.header, tc.body)
		if failed := len(rec.errs) > 0; failed != tc.fails {
			t.Errorf("%s: checkResponse failed=%v, want %v; errors: %q", tc.name, failed, tc.fails, rec.errs)
		}
	}
}

// TestOpenAPI_WireShapesMatchDocument encodes the domain types the way the
// handlers do and checks them against the document, so that a field added to
// a type without the document fails here even before a handler test does.
func TestOpenAPI_WireShapesMatchDocument(t *testing.T) {
	t.Parallel()
	r, ch := sampleApproval(t)
	fresh, _ := json.Marshal(r)

	decided := r.Clone()
	at := decided.CreatedAt.Add(time.Hour)
	prev := approval.StatusAcknowledgedApproved
	decided.Status, decided.PreviousStatus, decided.DecidedAt = approval.StatusError, &prev, &at
	decided.ServiceRule, decided.Comment, decided.Version = "publisher", "retrying", 4
	decided.Reviews = []approval.Review{{Reviewer: "user:bob", Groups: []string{"data-owners"},
		Decision: approval.DecisionApprove, Comment: "fine", At: at, Version: 1, Void: true}}
	decided.Delivery = &approval.Delivery{Attempts: 5, LastError: "503 from receiver", NextAttempt: &at, DeliveredAt: &at}
	decided.Policy.Rules = append(decided.Policy.Rules, approval.Rule{Name: "owners", MinApprovals: 2,
		Principals: []string{"user:carol"}, Groups: []string{"data-owners"}, RejectThreshold: 1})
	decided.Reviews = append(decided.Reviews, approval.Review{Reviewer: "user:alice", By: "user:dave", Decision: approval.DecisionApprove, At: at, Version: 2})
	decided.StageOpenedAt, decided.NextEscalationAt = &at, &at
	decided.Escalations = []approval.Escalation{{Stage: 0, Rule: "owners", At: at, Version: 3}}
	decided.Policy.Rules[len(decided.Policy.Rules)-1].EscalateAfter = approval.Duration(4 * time.Hour)
	decided.Policy.Rules[len(decided.Policy.Rules)-1].EscalateTo = approval.Reviewers{Principals: []string{"user:cto"}, Groups: []string{"leads"}}
	full, _ := json.Marshal(decided)

	page, _ := json.Marshal(listPage[*approval.Request]{Items: []*approval.Request{r, decided}, NextCursor: new("MDE5")})
	lastPage, _ := json.Marshal(listPage[*approval.Request]{Items: []*approval.Request{}})
	history, _ := json.Marshal(historyPage{Items: []approval.HistoryEntry{ch.Entry}, Verified: true})
	broken, _ := json.Marshal(historyPage{Items: []approval.HistoryEntry{ch.Entry}, VerifyError: "entry 1: hash does not match its contents"})
	entries, _ := json.Marshal(listPage[approval.HistoryRecord]{Items: []approval.HistoryRecord{{ID: 7, HistoryEntry: ch.Entry}}, NextCursor: numberCursor(7)})
	noEntries, _ := json.Marshal(listPage[approval.HistoryRecord]{Items: []approval.HistoryRecord{}})
	var verified, tampered approval.Verification
	verified.Add(approval.HistoryChain{RequestID: r.ID, Version: r.Version, Head: r.HistoryHead, Entries: []approval.HistoryEntry{ch.Entry}})
	tampered.Add(approval.HistoryChain{RequestID: r.ID, Version: r.Version + 1, Head: "x", Entries: []approval.HistoryEntry{ch.Entry}})
	verifiedJSON, _ := json.Marshal(&verified)
	tamperedJSON, _ := json.Marshal(&tampered)
	key := approval.APIKey{ID: "0190a5f0-0000-7000-8000-000000000002", Name: "billing", Prefix: "apd_abcdef",
		Scopes: []approval.Scope{approval.ScopeCreate}, Groups: []string{}, Origin: approval.KeyOriginAPI, CreatedAt: r.CreatedAt}
	created, _ := json.Marshal(createdKey{APIKey: key, Key: "apd_abcdefghijklmnopqrstuvwxyz"})
	revoked := key
	revoked.RevokedAt = &at
	keys, _ := json.Marshal(listPage[approval.APIKey]{Items: []approval.APIKey{key, revoked}})

	slack := approval.NotificationChannel{Name: "chat", Type: approval.ChannelSlack, URL: "https://hooks.slack.com/services/T/B/x", Version: 2, CreatedAt: at, UpdatedAt: at}
	mail := approval.NotificationChannel{Name: "mail", Type: approval.ChannelEmail, Version: 1, CreatedAt: at, UpdatedAt: at,
		Email: &approval.EmailSettings{Host: "smtp.example.com", Port: 587, TLS: approval.TLSStartTLS, From: "a@example.com", Username: "u", PasswordFile: "/run/secrets/smtp", PasswordEnv: "SMTP_PASSWORD"}}
	channelJSON, _ := json.Marshal(viewChannel(&slack))
	channels, _ := json.Marshal(listPage[channelView]{Items: []channelView{viewChannel(&mail), viewChannel(&slack)}})
	rt := approval.NotificationRoute{ID: 3, Channel: "chat", Events: []approval.NotifyKind{approval.NotifyEscalation}, Scope: "group:finance", CreatedAt: at}
	routeJSON, _ := json.Marshal(rt)
	routes, _ := json.Marshal(listPage[approval.NotificationRoute]{Items: []approval.NotificationRoute{rt}})
	person := approval.Contact{Principal: "user:alice", Email: "alice@example.com", Admin: true, Source: approval.ContactAdmin, UpdatedAt: at}
	team := approval.Contact{Group: "finance", Emails: []string{"f@example.com"}, Channel: "chat", Source: approval.ContactAdmin, UpdatedAt: at}
	contactJSON, _ := json.Marshal(person)
	contacts, _ := json.Marshal(listPage[approval.Contact]{Items: []approval.Contact{person, team}})
	dg := approval.Delegation{ID: "0190a5f0-0000-7000-8000-000000000003", Delegator: "user:alice", DelegatorGroups: []string{"finance"}, Delegate: "user:bob",
		Starts: at, Ends: at.Add(time.Hour), Reason: "holiday", CreatedBy: "user:alice", CreatedAt: at}
	delegationJSON, _ := json.Marshal(dg)
	revokedDg := dg
	revokedDg.RevokedAt, revokedDg.RevokedBy = &at, "user:bob"
	revokedJSON, _ := json.Marshal(revokedDg)
	delegationList, _ := json.Marshal(listPage[approval.Delegation]{Items: []approval.Delegation{dg, revokedDg}})
	prefs, _ := json.Marshal(preferences{Muted: []approval.NotifyKind{approval.NotifyReminder}})
	sentN := approval.Notification{ID: 9, Key: "k", RequestID: r.ID, Version: 1, Kind: approval.NotifyDecision, Recipient: "user:a", Channel: "mail",
		Address: "a@example.com", Data: []byte("{}"), CreatedAt: at, DueAt: at, Attempts: 1, NextAttempt: at, SentAt: &at}
	failedN := sentN
	failedN.ID, failedN.Address, failedN.Channel, failedN.Recipient, failedN.SentAt, failedN.FailedAt, failedN.LastError = 8, "", "chat", "channel:chat", nil, &at, "503"
	notifications, _ := json.Marshal(listPage[approval.Notification]{Items: []approval.Notification{sentN, failedN}, NextCursor: numberCursor(8)})

	sum := strings.Repeat("ab", 32)
	cycled := decided.Clone()
	cycled.Status, cycled.PreviousStatus, cycled.Cycle, cycled.Justification = approval.StatusRevoked, nil, 2, "the paper is due"
	cycled.Items = []approval.Item{{ID: "a", Name: "a.csv", MediaType: "text/csv", Size: 3, Digest: "sha256:" + sum, Metadata: json.RawMessage(`{"rows":1}`)},
		{ID: "b", Name: "b.csv", Size: 4, Digest: "sha256:" + sum}}
	cycled.ItemOutcome = &approval.ItemOutcome{Approved: []approval.ItemRef{{ID: "a", Name: "a.csv", Digest: "sha256:" + sum}},
		Rejected: []approval.ItemRef{{ID: "b", Name: "b.csv", Digest: "sha256:" + sum}}, Partial: true}
	cycled.Revocation = &approval.Revocation{By: "user:carol", At: at, Reason: "a name in row 3"}
	cycled.Reviews = append(cycled.Reviews,
		approval.Review{Reviewer: "user:bob", Decision: approval.DecisionRequestChanges, Comment: "fix it", At: at, Version: 2, Void: true},
		approval.Review{Reviewer: "user:bob", Decision: approval.DecisionApprove, At: at, Version: 3,
			Items: []approval.ItemDecision{{ID: "a", Decision: approval.DecisionApprove}, {ID: "b", Decision: approval.DecisionReject}}},
		approval.Review{Reviewer: approval.AutoPrincipal("spend"), Decision: approval.DecisionApprove, At: at, Version: 1,
			Auto: &approval.AutoDecision{Policy: "spend", Rule: "finance", Expression: "double(payload.amount) < 1000.0", Inputs: json.RawMessage(`{"payload":{"amount":5}}`)}})
	cycled.Policy.RequireJustification, cycled.Policy.RequireComment, cycled.Policy.AllowPartial = true, []approval.Decision{approval.DecisionReject}, true
	cycled.Policy.MaxChangeCycles, cycled.Policy.ForbidAutoApprove = 3, true
	cycled.Policy.Rules[0].CanRevoke, cycled.Policy.Rules[0].AutoApproveIf, cycled.Policy.Rules[0].AutoRejectIf = true, "payload.amount < 10", "false"
	lifecycleJSON, _ := json.Marshal(cycled)
	refused := problemOf(httptest.NewRequest("POST", "/v1/approvals:batch-review", nil), http.StatusConflict,
		approval.Errorf(approval.KindConflict, approval.CodeInvalidTransition, "decided already"))
	batchJSON, _ := json.Marshal(struct {
		Results []batchResult `json:"results"`
	}{[]batchResult{{ID: cycled.ID, Status: 200, Approval: cycled}, {ID: "x", Status: 409, Error: &refused}}})
	sp := approval.StoredPolicy{Name: "spend", Description: "small spend", Match: "payload.amount < 10", Priority: 3, Policy: cycled.Policy,
		Version: 1, CreatedAt: at, UpdatedAt: at}
	spJSON, _ := json.Marshal(sp)

	h := func(kv ...string) http.Header {
		out := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req-1"}}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		method, path string
		status       int
		header       http.Header
		body         []byte
	}{
		{"POST", "/v1/approvals", 201, h("ETag", `"1"`, "Location", "/v1/approvals/"+r.ID, "Idempotent-Replayed", "true"), fresh},
		{"GET", "/v1/approvals/" + r.ID, 200, h("ETag", `"4"`), full},
		{"PATCH", "/v1/approvals/" + r.ID, 200, h("ETag", `"4"`), full},
		{"POST", "/v1/approvals/" + r.ID + "/reviews", 200, h("ETag", `"4"`), full},
		{"POST", "/v1/approvals/" + r.ID + "/cancel", 200, h("ETag", `"4"`), full},
		{"GET", "/v1/approvals", 200, h(), page},
		{"GET", "/v1/approvals", 200, h(), lastPage},
		{"GET", "/v1/approvals/" + r.ID + "/history", 200, h(), history},
		{"GET", "/v1/approvals/" + r.ID + "/history", 200, h(), broken},
		{"GET", "/v1/history", 200, h(), entries},
		{"GET", "/v1/history", 200, h(), noEntries},
		{"GET", "/v1/history/verify", 200, h(), verifiedJSON},
		{"GET", "/v1/history/verify", 200, h(), tamperedJSON},
		{"POST", "/v1/api-keys", 201, h("Location", "/v1/api-keys/"+key.ID, "Cache-Control", "no-store"), created},
		{"GET", "/v1/api-keys", 200, h(), keys},
		{"DELETE", "/v1/api-keys/" + key.ID, 204, http.Header{"X-Request-Id": {"req-1"}}, nil},
		{"GET", "/v1/approvals/" + r.ID, 304, http.Header{"ETag": {`"4"`}, "X-Request-Id": {"req-1"}}, nil},
		{"POST", "/v1/notification-channels", 201, h("ETag", `"2"`, "Location", "/v1/notification-channels/chat", "Cache-Control", "no-store"), channelJSON},
		{"GET", "/v1/notification-channels", 200, h("Cache-Control", "no-store"), channels},
		{"PUT", "/v1/notification-channels/chat", 200, h("ETag", `"2"`, "Cache-Control", "no-store"), channelJSON},
		{"POST", "/v1/notification-routes", 201, h("Location", "/v1/notification-routes/3"), routeJSON},
		{"GET", "/v1/notification-routes", 200, h(), routes},
		{"POST", "/v1/contacts", 200, h("Location", "/v1/contacts/user:alice"), contactJSON},
		{"GET", "/v1/contacts", 200, h(), contacts},
		{"POST", "/v1/delegations", 201, h("Location", "/v1/delegations/"+dg.ID), delegationJSON},
		{"GET", "/v1/delegations", 200, h(), delegationList},
		{"GET", "/v1/delegations/" + dg.ID, 200, h(), delegationJSON},
		{"POST", "/v1/delegations/" + dg.ID + "/revoke", 200, h(), revokedJSON},
		{"PUT", "/v1/me/notification-preferences", 200, h(), prefs},
		{"GET", "/v1/notifications", 200, h(), notifications},
		{"GET", "/v1/approvals/" + r.ID, 200, h("ETag", `"4"`), lifecycleJSON},
		{"POST", "/v1/approvals/" + r.ID + "/resubmit", 200, h("ETag", `"4"`), lifecycleJSON},
		{"POST", "/v1/approvals/" + r.ID + "/revoke", 200, h("ETag", `"4"`), lifecycleJSON},
		{"POST", "/v1/approvals:batch-review", 200, h(), batchJSON},
		{"POST", "/v1/policies", 201, h("ETag", `"1"`, "Location", "/v1/policies/spend"), spJSON},
	} {
		checkResponse(t, httptest.NewRequest(tc.method, tc.path, nil), tc.status, tc.header, tc.body)
	}

	// Problems as writeError writes them, for errors of each kind.
	var v approval.Validation
	v.Add("title", "is required")
	v.Add("deadline", "must be in the future")
	for _, tc := range []struct {
		method, path string
		err          error
	}{
		{"PATCH", "/v1/approvals/x", v.Err()},
		{"POST", "/v1/approvals", approval.Errorf(approval.KindInvalid, approval.CodeIdempotencyMismatch, "reused")},
		{"POST", "/v1/approvals/x/reviews", approval.Errorf(approval.KindForbidden, approval.CodeSelfReview, "no")},
		{"POST", "/v1/approvals/x/reviews", approval.Errorf(approval.KindConflict, approval.CodeAlreadyReviewed, "no")},
		{"POST", "/v1/approvals/x/cancel", approval.Errorf(approval.KindPrecondition, approval.CodeVersionMismatch, "no")},
		{"POST", "/v1/api-keys", approval.Errorf(approval.KindConflict, approval.CodeConflict, "exists")},
		{"GET", "/v1/approvals", approval.Internal(errors.New("disk on fire"))},
		{"GET", "/readyz", approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "down")},
	} {
		fail := observe(slog.New(slog.DiscardHandler), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, tc.err)
		}))
		serveAndCheck(t, fail, httptest.NewRequest(tc.method, tc.path, nil))
	}
}

// TestOpenAPI_ServerAnswersMatchDocument runs the server without a database:
// the public routes, and every protected operation refused for want of a key.
func TestOpenAPI_ServerAnswersMatchDocument(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	h := New(Deps{})
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/docs"} {
		res := serveAndCheck(t, h, httptest.NewRequest("GET", path, nil))
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, res.StatusCode)
		}
		if path == "/openapi.json" && !bytes.Equal(bytes.TrimSpace(responseBody(t, res)), bytes.TrimSpace(openapiJSON)) {
			t.Error("GET /openapi.json does not serve the embedded document")
		}
	}
	serveAndCheck(t, h, httptest.NewRequest("HEAD", "/healthz", nil))
	down := New(Deps{Ready: func(context.Context) error { return errors.New("no database") }})
	if res := serveAndCheck(t, down, httptest.NewRequest("GET", "/readyz", nil)); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the database down: status %d, want 503", res.StatusCode)
	}
	if res := serveAndCheck(t, h, httptest.NewRequest("PUT", "/healthz", nil)); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT /healthz: status %d, want 405", res.StatusCode)
	}
	if res := serveAndCheck(t, h, httptest.NewRequest("GET", "/v2/nothing", nil)); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v2/nothing: status %d, want 404", res.StatusCode)
	}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !authenticated(op) || servedByGateway(op) {
				continue
			}
			url := strings.ReplaceAll(path, "{id}", "0190a5f0-0000-7000-8000-000000000001")
			req := httptest.NewRequest(method, url, strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			if res := serveAndCheck(t, h, req); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s without a key: status %d, want 401", method, url, res.StatusCode)
			}
		}
	}
}

func TestDocsPage_RendersEveryOperation(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	res := serveAndCheck(t, New(Deps{}), httptest.NewRequest("GET", "/docs", nil))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /docs: status %d, want 200", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type is %q, want text/html", ct)
	}
	page := string(responseBody(t, res))
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			section := `id="op-` + op.OperationID + `"`
			if !strings.Contains(page, section) {
				t.Errorf("the page has no section for %s %s (%s)", method, path, section)
			}
			if !strings.Contains(page, ">"+method+"</span>"+path+"<") {
				t.Errorf("the page does not show %s %s", method, path)
			}
		}
	}
	for _, code := range allProblemCodes {
		if !strings.Contains(page, `id="problem-`+code+`"`) {
			t.Errorf("the page has no anchor for problem %s, which problem types link to", code)
		}
	}
	for _, name := range slices.Collect(maps.Keys(c.doc.Components.Schemas)) {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("the page has no section for schema %s", name)
		}
	}
	for _, external := range []string{"<script", "src=", `href="http`, "@import", "url("} {
		if strings.Contains(page, external) {
			t.Errorf("the page contains %q: it must load nothing from elsewhere", external)
		}
	}
}

// servedByGateway reports whether op is one of the CR8TOR routes, which
// the gateway package serves (and tests) with its own envelopes.
func servedByGateway(op *openapi3.Operation) bool {
	return op.Extensions["x-served-by"] != nil
}
