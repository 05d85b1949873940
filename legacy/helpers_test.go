package legacy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/delivery"
	"approvald/engine"
	"approvald/httpapi"
	"approvald/legacy"
	"approvald/store/sqlite"
)

// fixture is the legacy and native APIs on one SQLite store and engine,
// served together as approvald serves them, with a running dispatcher that
// retries fast.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	store approval.Store
	eng   *engine.Engine
	keys  *auth.Keys
	base  string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "legacy.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	eng := engine.New(st)
	keys := auth.NewKeys(st, time.Now)
	d := delivery.NewDispatcher(eng, delivery.Config{
		Poll: 20 * time.Millisecond, Wake: st.Changes(),
		Backoff: func(int) time.Duration { return 20 * time.Millisecond },
	})
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()

	mux := http.NewServeMux()
	mux.Handle("/", httpapi.New(httpapi.Deps{Engine: eng, Keys: keys, Ready: st.Ping}))
	legacy.Mount(mux, legacy.New(legacy.Deps{Engine: eng, Keys: keys}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); cancel(); <-done; st.Close() })
	return &fixture{t: t, ctx: ctx, store: st, eng: eng, keys: keys, base: srv.URL}
}

// key creates an API key with the given scopes and returns a client using it.
func (f *fixture) key(name string, scopes ...approval.Scope) client {
	f.t.Helper()
	_, secret, err := f.keys.Create(f.ctx, auth.NewKey{Name: name, Scopes: scopes})
	if err != nil {
		f.t.Fatal(err)
	}
	return client{t: f.t, base: f.base, key: secret}
}

// callers returns the usual cast: billing creates and reads, ops reviews
// and reads, admin holds every scope.
func (f *fixture) callers() (billing, ops, admin client) {
	return f.key("billing", approval.ScopeCreate, approval.ScopeRead),
		f.key("ops", approval.ScopeReview, approval.ScopeRead),
		f.key("root", approval.ScopeAdmin)
}

// rule creates a legacy-format service rule pointing at url with the API
// key "rule-key".
func (f *fixture) rule(name, url string, mut func(*approval.ServiceRule)) *approval.ServiceRule {
	f.t.Helper()
	r := approval.ServiceRule{Name: name, URL: url, Format: approval.FormatLegacy, APIKey: "rule-key",
		Timeout: 5 * time.Second, MaxAttempts: 3}
	if mut != nil {
		mut(&r)
	}
	created, err := f.eng.CreateRule(f.ctx, approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}, r)
	if err != nil {
		f.t.Fatal(err)
	}
	return created
}

// client calls the server with one API key, sent raw as the old clients did.
type client struct {
	t      *testing.T
	base   string
	key    string
	bearer bool
}

// call sends body (JSON-encoded unless it is a string or []byte) and returns
// the status, headers and raw answer.
func (c client) call(method, path string, body any) (int, http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		if c.bearer {
			req.Header.Set("Authorization", "Bearer "+c.key)
		} else {
			req.Header.Set("Authorization", c.key)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// must calls and fails the test unless the status is want; it decodes a
// 2xx answer into out when out is not nil.
func (c client) must(want int, method, path string, body, out any) []byte {
	c.t.Helper()
	got, _, raw := c.call(method, path, body)
	if got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return raw
}

// wantError calls and checks a legacy error answer: the status, a JSON
// content type, and a body that is exactly {"error": "<non-empty>"}.
// It returns the message.
func (c client) wantError(want int, method, path string, body any) string {
	c.t.Helper()
	got, hdr, raw := c.call(method, path, body)
	if got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		c.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		c.t.Fatalf("%s %s: error body is not JSON: %s", method, path, raw)
	}
	msg, ok := m["error"].(string)
	if len(m) != 1 || !ok || msg == "" {
		c.t.Fatalf(`%s %s: error body is not {"error": "..."}: %s`, method, path, raw)
	}
	return msg
}

type itemBody struct {
	Item legacy.Item `json:"approval_item"`
}

// create posts a new request naming rule and returns it.
func (c client) create(rule int64, title, comment string) legacy.Item {
	c.t.Helper()
	var out itemBody
	c.must(200, "POST", "/request", map[string]any{
		"title": title, "description": "what " + title + " is", "service_rule": rule,
		"deadline": time.Now().Add(time.Hour).Format(time.RFC3339), "comment": comment,
	}, &out)
	return out.Item
}

// put sends PUT /request and returns the item, failing unless it is 200.
func (c client) put(body map[string]any) legacy.Item {
	c.t.Helper()
	var out itemBody
	c.must(200, "PUT", "/request", body, &out)
	return out.Item
}

// get returns the request via GET /request.
func (c client) get(id string) legacy.Item {
	c.t.Helper()
	var out struct {
		Item legacy.Item `json:"approval_items"`
	}
	c.must(200, "GET", "/request?id="+id, nil, &out)
	return out.Item
}

// list returns GET /requests with the given query.
func (c client) list(query string) []legacy.Item {
	c.t.Helper()
	var out struct {
		Items []legacy.Item `json:"approval_items"`
	}
	raw := c.must(200, "GET", "/requests"+query, nil, &out)
	if out.Items == nil {
		c.t.Fatalf("approval_items is not a list: %s", raw)
	}
	return out.Items
}

// waitStatus polls GET /request until the request has status want.
func (c client) waitStatus(id string, want approval.Status) legacy.Item {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		it := c.get(id)
		if it.Status == int(want) {
			return it
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("request %s has status %d, want %d", id, it.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// callback is one request the receiver got.
type callback struct {
	Auth, ContentType string
	ID                string `json:"id"`
	Status            int    `json:"status"`
	Fields            int    // members of the body
}

// receiver is a service rule's endpoint: it records every callback and
// answers with the current behaviour.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []callback
	respond func(w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{respond: func(http.ResponseWriter, *http.Request) {}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		cb := callback{Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		_ = json.Unmarshal(raw, &cb)
		cb.Fields = len(m)
		rc.mu.Lock()
		rc.calls = append(rc.calls, cb)
		respond := rc.respond
		rc.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// set changes how the receiver answers from now on.
func (rc *receiver) set(respond func(w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	rc.respond = respond
	rc.mu.Unlock()
}

// callsFor returns the callbacks about request id.
func (rc *receiver) callsFor(id string) []callback {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []callback
	for _, c := range rc.calls {
		if c.ID == id {
			out = append(out, c)
		}
	}
	return out
}

func answer(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// wantCallback checks that the only successful-looking callback for id is
// the legacy one: {"id","status"} with the rule's key.
func wantCallback(t *testing.T, c callback, id string, status approval.Status) {
	t.Helper()
	if c.ID != id || c.Status != int(status) || c.Fields != 2 {
		t.Errorf("callback %+v, want {id: %s, status: %d} and nothing else", c, id, status)
	}
	if c.Auth != "rule-key" {
		t.Errorf("callback Authorization %q, want the rule's key", c.Auth)
	}
	if c.ContentType != "application/json" {
		t.Errorf("callback Content-Type %q", c.ContentType)
	}
}

func ago(d time.Duration) string     { return time.Now().Add(-d).Format(time.RFC3339) }
func fromNow(d time.Duration) string { return time.Now().Add(d).Format(time.RFC3339) }
