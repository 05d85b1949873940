package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/engine"
	"approvald/internal/testkit"
	"approvald/store/sqlite"
)

// fixture is a running API on a fresh SQLite database with a clock the test
// moves, an admin client and helpers to make keys.
type fixture struct {
	t     *testing.T
	url   string
	clock *testkit.Clock
	store approval.Store
	eng   *engine.Engine
	admin apiClient
	db    string // the path of the SQLite file
}

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t)
}

// setupWith is setup with changes to the API's dependencies.
func setupWith(t *testing.T, opts ...func(*Deps)) *fixture {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "api.db")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := testkit.NewClock(time.Now().UTC())
	eng := engine.New(st, engine.WithClock(clock.Now))
	keys := auth.NewKeys(st, clock.Now)
	admin := "apd_fixture-admin-key-abcdefghijklmnopqrstuvwxyz"
	if err := keys.Bootstrap(ctx, admin, io.Discard); err != nil {
		t.Fatal(err)
	}
	d := Deps{Engine: eng, Keys: keys, Ready: st.Ping, GatewayLog: st, Limits: noLimits, Now: clock.Now}
	for _, o := range opts {
		o(&d)
	}
	srv := httptest.NewServer(New(d))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, url: srv.URL, clock: clock, store: st, eng: eng, db: db}
	f.admin = apiClient{t: t, base: srv.URL, key: admin}
	return f
}

// key creates an API key with the given scopes and returns a client using it.
func (f *fixture) key(name string, scopes ...approval.Scope) apiClient {
	f.t.Helper()
	var out struct {
		Key string `json:"key"`
	}
	f.admin.json(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes}, &out)
	return apiClient{t: f.t, base: f.url, key: out.Key}
}

type apiClient struct {
	t    *testing.T
	base string
	key  string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) problem(t *testing.T) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want problem+json; body %s", ct, r.body)
	}
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// raw sends body as is with the given headers and validates the answer
// against the OpenAPI document.
func (c apiClient) raw(method, path string, body []byte, hdr ...string) response {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkResponse(c.t, req, resp.StatusCode, resp.Header, b)
	record(c.base, resp.StatusCode, resp.Header, b)
	return response{resp.StatusCode, resp.Header, b}
}

// json sends v as JSON, expects status want and decodes the answer into out.
func (c apiClient) json(want int, method, path string, v any, out any, hdr ...string) response {
	c.t.Helper()
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	r := c.raw(method, path, body, hdr...)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, r.body)
		}
	}
	return r
}

type request struct {
	ID             string     `json:"id"`
	Status         string     `json:"status"`
	StatusCode     int        `json:"status_code"`
	Version        int64      `json:"version"`
	Comment        string     `json:"comment"`
	Title          string     `json:"title"`
	Requester      string     `json:"requester"`
	PreviousStatus *string    `json:"previous_status"`
	DecidedAt      *time.Time `json:"decided_at"`
}

func (c apiClient) create(title string) request {
	c.t.Helper()
	var r request
	c.json(201, "POST", "/v1/approvals", map[string]any{"title": title, "payload": map[string]any{"n": 1}}, &r)
	return r
}

func TestAuth_MissingBadAndRevokedKeys(t *testing.T) {
	f := setup(t)
	anon := apiClient{t: t, base: f.url}
	r := anon.raw("GET", "/v1/approvals", nil)
	if r.status != 401 || r.problem(t).Code != approval.CodeUnauthenticated || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no key: %d %s", r.status, r.body)
	}
	bad := apiClient{t: t, base: f.url, key: "apd_not-a-key"}
	if r := bad.raw("GET", "/v1/approvals", nil); r.status != 401 {
		t.Fatalf("bad key: %d", r.status)
	}
	reader := f.key("reader", approval.ScopeRead)
	reader.json(200, "GET", "/v1/approvals", nil, nil)
	var keys struct {
		Items []map[string]any `json:"items"`
	}
	f.admin.json(200, "GET", "/v1/api-keys", nil, &keys)
	var id string
	for _, k := range keys.Items {
		if _, leaked := k["key"]; leaked {
			t.Fatalf("list shows a secret: %v", k)
		}
		if k["name"] == "reader" {
			id = k["id"].(string)
		}
	}
	f.admin.json(204, "DELETE", "/v1/api-keys/"+id, nil, nil)
	if r := reader.raw("GET", "/v1/approvals", nil); r.status != 401 {
		t.Fatalf("revoked key: %d", r.status)
	}
	f.admin.json(404, "DELETE", "/v1/api-keys/00000000-0000-7000-8000-000000000000", nil, nil)
}

func TestAuth_ScopesEnforced(t *testing.T) {
	f := setup(t)
	reader := f.key("reader", approval.ScopeRead)
	r := reader.raw("POST", "/v1/approvals", []byte(`{"title":"x"}`))
	if r.status != 403 || r.problem(t).Code != approval.CodeMissingScope {
		t.Fatalf("create with read scope: %d %s", r.status, r.body)
	}
	if r := reader.raw("POST", "/v1/api-keys", []byte(`{"name":"x","scopes":["admin"]}`)); r.status != 403 {
		t.Fatalf("key create by non-admin: %d", r.status)
	}
	creator := f.key("creator", approval.ScopeCreate)
	req := creator.create("needs review")
	if r := creator.raw("POST", "/v1/approvals/"+req.ID+"/reviews", []byte(`{"decision":"approve"}`)); r.status != 403 {
		t.Fatalf("review without review scope: %d", r.status)
	}
}

func TestCreate_BadInputGetsClearErrors(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate, approval.ScopeRead)
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
		code   string
		field  string
	}{
		{"not json", `{"title":`, "application/json", 400, approval.CodeMalformed, ""},
		{"two values", `{"title":"a"}{}`, "application/json", 400, approval.CodeMalformed, ""},
		{"array body", `[]`, "application/json", 422, approval.CodeValidation, ""},
		{"text body", `title=a`, "text/plain", 415, approval.CodeUnsupportedMedia, ""},
		{"empty body", ``, "application/json", 400, approval.CodeMalformed, ""},
		{"unknown field", `{"title":"a","requester":"user:eve"}`, "application/json", 422, approval.CodeValidation, "requester"},
		{"wrong type", `{"title":5}`, "application/json", 422, approval.CodeValidation, "title"},
		{"missing title", `{"payload":{}}`, "application/json", 422, approval.CodeValidation, "title"},
		{"payload not object", `{"title":"a","payload":[1]}`, "application/json", 422, approval.CodeValidation, "payload"},
		{"bad deadline", `{"title":"a","deadline":"tomorrow"}`, "application/json", 422, approval.CodeValidation, "deadline"},
		{"past deadline", `{"title":"a","deadline":"2001-01-01T00:00:00Z"}`, "application/json", 422, approval.CodeValidation, "deadline"},
		{"unknown service rule", `{"title":"a","service_rule":"nope"}`, "application/json", 422, approval.CodeValidation, "service_rule"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.raw("POST", "/v1/approvals", []byte(tc.body), "Content-Type", tc.ctype)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			p := r.problem(t)
			if p.Code != tc.code || p.Status != tc.status || p.Detail == "" {
				t.Fatalf("problem %+v, want code %s", p, tc.code)
			}
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
				t.Fatalf("field errors %+v, want %s", p.Errors, tc.field)
			}
		})
	}
	var page struct {
		Items []request `json:"items"`
	}
	c.json(200, "GET", "/v1/approvals", nil, &page)
	if len(page.Items) != 0 {
		t.Fatalf("bad input created %d requests", len(page.Items))
	}
}

func TestCreate_BodyOverOneMiBIs413(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate)
	big := `{"title":"a","payload":{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}}`
	r := c.raw("POST", "/v1/approvals", []byte(big))
	if r.status != 413 || r.problem(t).Code != approval.CodeTooLarge {
		t.Fatalf("status %d: %.200s", r.status, r.body)
	}
	// Under the body limit but over the payload limit: 422.
	mid := `{"title":"a","payload":{"x":"` + strings.Repeat("a", approval.MaxPayloadBytes) + `"}}`
	if r := c.raw("POST", "/v1/approvals", []byte(mid)); r.status != 422 {
		t.Fatalf("payload over 256 KiB: %d", r.status)
	}
}

func TestRoutes_UnknownAndWrongMethod(t *testing.T) {
	f := setup(t)
	r := f.admin.raw("GET", "/v1/nothing", nil)
	if r.status != 404 || r.problem(t).Code != approval.CodeNotFound {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
	r = f.admin.raw("DELETE", "/v1/approvals", nil)
	if r.status != 405 || !strings.Contains(r.header.Get("Allow"), "POST") || r.problem(t).Code != approval.CodeMethodNotAllowed {
		t.Fatalf("wrong method: %d %v %s", r.status, r.header, r.body)
	}
	if r := f.admin.raw("GET", "/v1/approvals/0190a4e0-0000-7000-8000-000000000001", nil); r.status != 404 {
		t.Fatalf("unknown id: %d", r.status)
	}
	for _, id := range []string{"not-a-uuid", "0190A4E0-0000-7000-8000-000000000001", "%00"} {
		if r := f.admin.raw("GET", "/v1/approvals/"+id, nil); r.status != 404 {
			t.Fatalf("malformed id %q: %d", id, r.status)
		}
		if r := f.admin.raw("POST", "/v1/approvals/"+id+"/cancel", nil); r.status != 404 {
			t.Fatalf("cancel malformed id %q: %d", id, r.status)
		}
	}
	if r := f.admin.raw("DELETE", "/v1/api-keys/not-a-uuid", nil); r.status != 404 {
		t.Fatalf("revoke malformed key id: %d", r.status)
	}
	if r := f.admin.raw("GET", "/v1/approvals/0190a4e0-0000-7000-8000-000000000001/history", nil); r.status != 404 {
		t.Fatalf("history of unknown id: %d", r.status)
	}
}

func TestEdit_IfMatchAndETag(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate, approval.ScopeRead)
	req := c.create("first")
	r := c.raw("PATCH", "/v1/approvals/"+req.ID, []byte(`{"title":"second"}`), "If-Match", `"7"`)
	if r.status != 412 || r.problem(t).Code != approval.CodeVersionMismatch {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	var got request
	r = c.json(200, "PATCH", "/v1/approvals/"+req.ID, map[string]any{"title": "second", "deadline": nil}, &got, "If-Match", `"1"`)
	if got.Title != "second" || got.Version != 2 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("edit: %+v etag %s", got, r.header.Get("ETag"))
	}
	if r := c.raw("GET", "/v1/approvals/"+req.ID, nil, "If-None-Match", `"2"`); r.status != 304 {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	r = c.raw("PATCH", "/v1/approvals/"+req.ID, []byte(`{"status":"approved"}`))
	if r.status != 422 || !strings.Contains(string(r.body), "reviews") {
		t.Fatalf("status in PATCH: %d %s", r.status, r.body)
	}
	if r := c.raw("PATCH", "/v1/approvals/"+req.ID, []byte(`{"title":"x"}`), "If-Match", "banana"); r.status != 400 {
		t.Fatalf("malformed If-Match: %d", r.status)
	}
}

func TestCreate_IdempotencyKey(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate, approval.ScopeRead)
	body := []byte(`{"title":"deploy 1.2.3","payload":{"v":"1.2.3"}}`)
	first := c.raw("POST", "/v1/approvals", body, "Idempotency-Key", "deploy-1.2.3")
	again := c.raw("POST", "/v1/approvals", body, "Idempotency-Key", "deploy-1.2.3")
	if first.status != 201 || again.status != 201 || !bytes.Equal(first.body, again.body) {
		t.Fatalf("retry: %d %d\n%s\n%s", first.status, again.status, first.body, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("replay headers: %v", again.header)
	}
	other := c.raw("POST", "/v1/approvals", []byte(`{"title":"deploy 9"}`), "Idempotency-Key", "deploy-1.2.3")
	if other.status != 422 || other.problem(t).Code != approval.CodeIdempotencyMismatch {
		t.Fatalf("reused key: %d %s", other.status, other.body)
	}
	// Keys are per principal: another service may use the same key.
	c2 := f.key("svc2", approval.ScopeCreate)
	if r := c2.raw("POST", "/v1/approvals", body, "Idempotency-Key", "deploy-1.2.3"); r.status != 201 || bytes.Equal(r.body, first.body) {
		t.Fatalf("other principal: %d", r.status)
	}
	var page struct {
		Items []request `json:"items"`
	}
	c.json(200, "GET", "/v1/approvals?requester=svc:svc", nil, &page)
	if len(page.Items) != 1 {
		t.Fatalf("%d requests after a retried create", len(page.Items))
	}
}

func TestCreate_ConcurrentRetriesWithOneIdempotencyKeyCreateOnce(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate, approval.ScopeRead)
	body := []byte(`{"title":"once"}`)
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Go(func() {
			r := c.raw("POST", "/v1/approvals", body, "Idempotency-Key", "k1")
			var got request
			_ = json.Unmarshal(r.body, &got)
			ids[i] = got.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("ids differ: %v", ids)
		}
	}
}

func TestList_FiltersAndCursorPaging(t *testing.T) {
	f := setup(t)
	a := f.key("a", approval.ScopeCreate, approval.ScopeRead)
	b := f.key("b", approval.ScopeCreate, approval.ScopeRead, approval.ScopeReview)
	var made []string
	for i := range 7 {
		made = append(made, a.create(fmt.Sprintf("a%d", i)).ID)
	}
	bReq := b.create("b0")
	b.json(200, "POST", "/v1/approvals/"+made[0]+"/reviews", map[string]any{"decision": "reject"}, nil)

	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		var page struct {
			Items      []request `json:"items"`
			NextCursor *string   `json:"next_cursor"`
		}
		a.json(200, "GET", "/v1/approvals?requester=svc:a&limit=3"+cursor, nil, &page)
		pages++
		for _, it := range page.Items {
			if seen[it.ID] || it.Requester != "svc:a" {
				t.Fatalf("duplicate or foreign item %+v", it)
			}
			seen[it.ID] = true
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("saw %d items in %d pages", len(seen), pages)
	}
	var pending struct {
		Items []request `json:"items"`
	}
	a.json(200, "GET", "/v1/approvals?status=pending", nil, &pending)
	if len(pending.Items) != 7 || pending.Items[0].ID != bReq.ID {
		t.Fatalf("pending: %d items, first %v", len(pending.Items), pending.Items)
	}
	var rejected struct {
		Items []request `json:"items"`
	}
	a.json(200, "GET", "/v1/approvals?status=rejected,cancelled", nil, &rejected)
	if len(rejected.Items) != 1 || rejected.Items[0].ID != made[0] || rejected.Items[0].StatusCode != 4 {
		t.Fatalf("rejected: %+v", rejected.Items)
	}
	for _, q := range []string{"status=nope", "limit=0", "limit=201", "limit=x", "cursor=***", "cursor=YWJj"} {
		if r := a.raw("GET", "/v1/approvals?"+q, nil); r.status != 422 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}

func TestExpiry_OverdueRequestNeverReadsAsPending(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate, approval.ScopeRead)
	rv := f.key("rev", approval.ScopeReview)
	deadline := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	var req request
	c.json(201, "POST", "/v1/approvals", map[string]any{"title": "t", "deadline": deadline}, &req)
	other := c.create("no deadline")
	f.clock.Advance(2 * time.Hour)

	var page struct {
		Items []request `json:"items"`
	}
	c.json(200, "GET", "/v1/approvals?status=pending", nil, &page)
	if len(page.Items) != 1 || page.Items[0].ID != other.ID {
		t.Fatalf("pending list shows %+v", page.Items)
	}
	var got request
	c.json(200, "GET", "/v1/approvals/"+req.ID, nil, &got)
	if got.Status != "expired" || got.StatusCode != 9 {
		t.Fatalf("overdue read: %+v", got)
	}
	r := rv.raw("POST", "/v1/approvals/"+req.ID+"/reviews", []byte(`{"decision":"approve"}`))
	if r.status != 409 {
		t.Fatalf("review of expired: %d %s", r.status, r.body)
	}
}

func TestExpiry_ActionOnOverdueRequestExpiresIt(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate, approval.ScopeRead)
	rv := f.key("rev", approval.ScopeReview)
	var req request
	c.json(201, "POST", "/v1/approvals", map[string]any{"title": "t", "deadline": f.clock.Now().Add(time.Minute).Format(time.RFC3339Nano)}, &req)
	f.clock.Advance(time.Minute)
	r := rv.raw("POST", "/v1/approvals/"+req.ID+"/reviews", []byte(`{"decision":"approve"}`))
	if r.status != 409 || !strings.Contains(r.problem(t).Detail, "expired") {
		t.Fatalf("review after deadline: %d %s", r.status, r.body)
	}
	var h historyPage
	c.json(200, "GET", "/v1/approvals/"+req.ID+"/history", nil, &h)
	if len(h.Items) != 2 || h.Items[1].Action != approval.ActionExpire || !h.Verified {
		t.Fatalf("history: %+v", h)
	}
}

func TestReview_ConcurrentReviewersExactlyOneDecision(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate, approval.ScopeRead)
	req := c.create("race")
	const n = 50
	reviewers := make([]apiClient, n)
	for i := range reviewers {
		reviewers[i] = f.key(fmt.Sprintf("rev%d", i), approval.ScopeReview)
	}
	var ok, conflict atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range reviewers {
		wg.Go(func() {
			<-start
			decision := "approve"
			if i%2 == 1 {
				decision = "reject"
			}
			r := reviewers[i].raw("POST", "/v1/approvals/"+req.ID+"/reviews", []byte(`{"decision":"`+decision+`"}`))
			switch r.status {
			case 200:
				ok.Add(1)
			case 409:
				conflict.Add(1)
			default:
				t.Errorf("reviewer %d: %d %s", i, r.status, r.body)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != n-1 {
		t.Fatalf("%d decided, %d conflicts", ok.Load(), conflict.Load())
	}
	var got request
	c.json(200, "GET", "/v1/approvals/"+req.ID, nil, &got)
	if (got.Status != "approved" && got.Status != "rejected") || got.Version != 2 {
		t.Fatalf("final: %+v", got)
	}
	var h historyPage
	c.json(200, "GET", "/v1/approvals/"+req.ID+"/history", nil, &h)
	if len(h.Items) != 2 || !h.Verified {
		t.Fatalf("history: %d entries, verified %v", len(h.Items), h.Verified)
	}
}

func TestCancel_OnlyRequesterOrAdmin(t *testing.T) {
	f := setup(t)
	owner := f.key("owner", approval.ScopeCreate, approval.ScopeRead)
	stranger := f.key("stranger", approval.ScopeCreate)
	req := owner.create("to cancel")
	if r := stranger.raw("POST", "/v1/approvals/"+req.ID+"/cancel", nil); r.status != 403 || r.problem(t).Code != approval.CodeNotOwner {
		t.Fatalf("stranger cancels: %d %s", r.status, r.body)
	}
	var got request
	owner.json(200, "POST", "/v1/approvals/"+req.ID+"/cancel", map[string]any{"comment": "not needed"}, &got)
	if got.Status != "cancelled" || got.StatusCode != 5 || got.Comment != "not needed" || got.PreviousStatus == nil || *got.PreviousStatus != "pending" {
		t.Fatalf("cancelled: %+v", got)
	}
	r := owner.raw("POST", "/v1/approvals/"+req.ID+"/cancel", nil)
	if r.status != 409 || !strings.Contains(r.problem(t).Detail, "cancelled") {
		t.Fatalf("second cancel: %d %s", r.status, r.body)
	}
	admin := owner.create("admin cancels")
	f.admin.json(200, "POST", "/v1/approvals/"+admin.ID+"/cancel", nil, nil)
}

func TestOps_HealthReadyAndRequestID(t *testing.T) {
	f := setup(t)
	anon := apiClient{t: t, base: f.url}
	anon.json(200, "GET", "/healthz", nil, nil)
	anon.json(200, "GET", "/readyz", nil, nil)
	r := anon.raw("GET", "/healthz", nil, "X-Request-Id", "trace-123")
	if r.header.Get("X-Request-Id") != "trace-123" {
		t.Fatalf("request id: %q", r.header.Get("X-Request-Id"))
	}
	r = anon.raw("GET", "/healthz", nil, "X-Request-Id", "bad id with spaces and more than sixty-four characters in it, which is too long")
	if id := r.header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("generated request id: %q", id)
	}
	f.store.Close()
	if r := anon.raw("GET", "/readyz", nil); r.status != 503 {
		t.Fatalf("readyz with the database closed: %d", r.status)
	}
}

// noLimits turns rate limiting off for tests that are not about it; the
// tests of the limits set their own.
var noLimits = Limits{Rate: -1}
