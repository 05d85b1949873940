package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/delivery"
	"approvald/engine"
	"approvald/store/sqlite"
	"approvald/webhook"
)

// setupWithDelivery is setup with what cmd/approvald runs beside the API,
// wired the same way: an event hub (long-polls and the event stream) and a
// dispatcher with fast retries, on the same database, woken by one Waker.
// The engine and the keys use the real clock, as the dispatcher does, so
// f.clock is nil.
func setupWithDelivery(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st)
	keys := auth.NewKeys(st, time.Now)
	admin := "apd_fixture-admin-key-delivery-abcdefghijklmnopqrstuvwxyz"
	if err := keys.Bootstrap(ctx, admin, io.Discard); err != nil {
		t.Fatal(err)
	}

	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	waker := delivery.NewWaker()
	hub := delivery.NewHub(st, waker.Listen(), 20*time.Millisecond, nil)
	dispatcher := delivery.NewDispatcher(eng, delivery.Config{
		Poll: 20 * time.Millisecond, Wake: waker.Listen(), Client: delivery.NewHTTPClient(true),
		Backoff: func(int) time.Duration { return 20 * time.Millisecond },
	})
	wg.Go(func() { waker.Run(bg, st.Changes()) })
	wg.Go(func() { hub.Run(bg) })
	wg.Go(func() { dispatcher.Run(bg) })
	t.Cleanup(func() { stop(); wg.Wait() })
	select {
	case <-hub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not become ready")
	}

	srv := httptest.NewServer(New(Deps{Engine: eng, Keys: keys, Ready: st.Ping, Hub: hub, Limits: noLimits}))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, url: srv.URL, store: st}
	f.admin = apiClient{t: t, base: srv.URL, key: admin}
	return f
}

// roles returns clients of a requester (create and read) and a reviewer.
func (f *fixture) roles() (creator, reviewer apiClient) {
	f.t.Helper()
	return f.key("creator", approval.ScopeCreate, approval.ScopeRead), f.key("reviewer", approval.ScopeReview, approval.ScopeRead)
}

// rule creates a standard service rule delivering to url and returns the
// signing secret the server generated for it.
func (f *fixture) rule(name, url string) string {
	f.t.Helper()
	var out struct {
		Secret string `json:"secret"`
	}
	f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": name, "url": url, "timeout": "5s", "max_attempts": 3}, &out)
	if !strings.HasPrefix(out.Secret, approval.SecretPrefix) {
		f.t.Fatalf("rule %s: secret %q", name, out.Secret)
	}
	return out.Secret
}

// ruledRequest is a request with the fields delivery adds.
type ruledRequest struct {
	request
	ServiceRule string `json:"service_rule"`
	Delivery    *struct {
		Attempts    int        `json:"attempts"`
		LastError   string     `json:"last_error"`
		DeliveredAt *time.Time `json:"delivered_at"`
	} `json:"delivery"`
}

// createFor creates a request naming service rule rule.
func (c apiClient) createFor(title, rule string) ruledRequest {
	c.t.Helper()
	var r ruledRequest
	c.json(201, "POST", "/v1/approvals", map[string]any{"title": title, "service_rule": rule}, &r)
	return r
}

// approve approves request id and returns the answer.
func (c apiClient) approve(id string) ruledRequest {
	c.t.Helper()
	var r ruledRequest
	c.json(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"}, &r)
	return r
}

// waitStatus reads request id until it is in status, or fails.
func (c apiClient) waitStatus(id, status string) ruledRequest {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var r ruledRequest
		c.json(200, "GET", "/v1/approvals/"+id, nil, &r)
		if r.Status == status {
			return r
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("request %s is %s, want %s (delivery %+v)", id, r.Status, status, r.Delivery)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send is raw for goroutines other than the test's: it returns a failure
// to reach the server instead of stopping the test.
func (c apiClient) send(method, path string, body []byte, hdr ...string) (response, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	checkResponse(c.t, req, resp.StatusCode, resp.Header, b)
	return response{resp.StatusCode, resp.Header, b}, nil
}

// fieldErrors returns the fields a 422 problem names.
func fieldErrors(t *testing.T, r response) []string {
	t.Helper()
	var out []string
	for _, e := range r.problem(t).Errors {
		out = append(out, e.Field)
	}
	return out
}

// receiver is a loopback webhook receiver; handle answers (nil: 204).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	hits   int
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, handle http.HandlerFunc) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits++
		rc.header, rc.body = r.Header.Clone(), body
		rc.mu.Unlock()
		if handle == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		handle(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// last returns how many deliveries arrived and the last one.
func (rc *receiver) last() (int, http.Header, []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.hits, rc.header, rc.body
}

// verifyDelivery checks that the receiver's last delivery is signed with
// secret and is the decided event of request id, and returns the event.
func verifyDelivery(t *testing.T, rc *receiver, secret, id string) webhook.Event {
	t.Helper()
	hits, header, body := rc.last()
	if hits == 0 {
		t.Fatal("the receiver got nothing")
	}
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(header, body); err != nil {
		t.Fatalf("the delivery does not verify: %v", err)
	}
	ev, err := webhook.ParseEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	var data ruledRequest
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if ev.Type != approval.EventDecided || ev.ID != header.Get(webhook.HeaderID) || data.ID != id {
		t.Fatalf("delivered %s %s of request %s, want %s of %s with the webhook-id", ev.Type, ev.ID, data.ID, approval.EventDecided, id)
	}
	return ev
}

func TestServiceRules_SecretIsShownOnlyWhenTheServerMakesIt(t *testing.T) {
	f := setupWithDelivery(t)
	rc := newReceiver(t, nil)
	var created map[string]any
	r := f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": "billing", "url": rc.URL}, &created)
	secret, _ := created["secret"].(string)
	if r.header.Get("Location") != "/v1/service-rules/billing" || r.header.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(secret, approval.SecretPrefix) || created["format"] != "standard" {
		t.Fatalf("create: %v %v", r.header, created)
	}
	if _, ok := created["api_key"]; ok {
		t.Fatalf("create shows api_key: %v", created)
	}

	hidden := func(when string) {
		t.Helper()
		var one map[string]any
		f.admin.json(200, "GET", "/v1/service-rules/billing", nil, &one)
		var list struct {
			Items []map[string]any `json:"items"`
		}
		f.admin.json(200, "GET", "/v1/service-rules", nil, &list)
		for _, rule := range append(list.Items, one) {
			for _, field := range []string{"secret", "api_key"} {
				if _, ok := rule[field]; ok {
					t.Fatalf("%s: a rule shows %s: %v", when, field, rule)
				}
			}
		}
		if len(list.Items) == 0 {
			t.Fatalf("%s: the list is empty", when)
		}
	}
	hidden("after create")

	// Rotation shows the new secret once, and deliveries are signed with it.
	var rotated map[string]any
	f.admin.json(200, "PATCH", "/v1/service-rules/billing", map[string]any{"secret": nil}, &rotated)
	newSecret, _ := rotated["secret"].(string)
	if !strings.HasPrefix(newSecret, approval.SecretPrefix) || newSecret == secret {
		t.Fatalf("rotation: %v", rotated)
	}
	hidden("after rotation")
	creator, reviewer := f.roles()
	req := creator.createFor("signed", "billing")
	reviewer.approve(req.ID)
	creator.waitStatus(req.ID, "approved")
	verifyDelivery(t, rc, newSecret, req.ID)
	_, header, body := rc.last()
	if old, _ := webhook.NewVerifier(secret); old.Verify(header, body) == nil {
		t.Fatal("the delivery still verifies with the secret rotated away")
	}

	// A secret the client chose is not shown back.
	mine := approval.SecretPrefix + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqrTwjU"
	var set map[string]any
	f.admin.json(200, "PATCH", "/v1/service-rules/billing", map[string]any{"secret": mine}, &set)
	if _, ok := set["secret"]; ok {
		t.Fatalf("a client-chosen secret is echoed: %v", set)
	}

	// A legacy rule has an API key and no secret; switching it to the
	// standard format generates one, shown in that answer only.
	var legacy map[string]any
	f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": "stash", "url": rc.URL, "format": "legacy", "api_key": "k-123"}, &legacy)
	if _, ok := legacy["secret"]; ok || legacy["has_api_key"] != true {
		t.Fatalf("legacy create: %v", legacy)
	}
	var switched map[string]any
	f.admin.json(200, "PATCH", "/v1/service-rules/stash", map[string]any{"format": "standard"}, &switched)
	generated, _ := switched["secret"].(string)
	if !strings.HasPrefix(generated, approval.SecretPrefix) || switched["format"] != "standard" || switched["has_api_key"] != false {
		t.Fatalf("legacy → standard: %v", switched)
	}
	hidden("after the switch")
}

func TestServiceRules_RefusesRenamesDuplicatesBadURLsAndNonAdmins(t *testing.T) {
	f := setupWithDelivery(t)
	rc := newReceiver(t, nil)
	f.rule("billing", rc.URL)

	r := f.admin.raw("PATCH", "/v1/service-rules/billing", []byte(`{"name":"other"}`))
	if r.status != 422 || !slices.Contains(fieldErrors(t, r), "name") {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}
	r = f.admin.raw("POST", "/v1/service-rules", []byte(`{"name":"billing","url":"`+rc.URL+`"}`))
	if r.status != 409 || r.problem(t).Code != approval.CodeConflict {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}
	for _, url := range []string{
		"ftp://example.com/hook",
		"http://169.254.169.254/latest/meta-data",
		"http://metadata.google.internal/computeMetadata/v1",
		"http://user:pass@example.com/hook",
	} {
		body, _ := json.Marshal(map[string]any{"name": "bad", "url": url})
		if r := f.admin.raw("POST", "/v1/service-rules", body); r.status != 422 || !slices.Contains(fieldErrors(t, r), "url") {
			t.Errorf("create with url %s: %d %s", url, r.status, r.body)
		}
		body, _ = json.Marshal(map[string]any{"url": url})
		if r := f.admin.raw("PATCH", "/v1/service-rules/billing", body); r.status != 422 || !slices.Contains(fieldErrors(t, r), "url") {
			t.Errorf("edit to url %s: %d %s", url, r.status, r.body)
		}
	}
	var got map[string]any
	f.admin.json(200, "GET", "/v1/service-rules/billing", nil, &got)
	if got["url"] != rc.URL {
		t.Fatalf("refused edits changed the rule: %v", got)
	}
	f.admin.json(404, "GET", "/v1/service-rules/bad", nil, nil)
	f.admin.json(404, "PATCH", "/v1/service-rules/nope", map[string]any{"max_attempts": 2}, nil)

	everyOtherScope := f.key("ops", approval.ScopeCreate, approval.ScopeRead, approval.ScopeReview)
	for _, call := range []struct{ method, path, body string }{
		{"POST", "/v1/service-rules", `{"name":"mine","url":"` + rc.URL + `"}`},
		{"GET", "/v1/service-rules", ""},
		{"GET", "/v1/service-rules/billing", ""},
		{"PATCH", "/v1/service-rules/billing", `{"secret":null}`},
		{"DELETE", "/v1/service-rules/billing", ""},
	} {
		var body []byte
		if call.body != "" {
			body = []byte(call.body)
		}
		if r := everyOtherScope.raw(call.method, call.path, body); r.status != 403 || r.problem(t).Code != approval.CodeMissingScope {
			t.Errorf("non-admin %s %s: %d %s", call.method, call.path, r.status, r.body)
		}
	}
	f.admin.json(200, "GET", "/v1/service-rules/billing", nil, nil)
}

func TestServiceRules_DeleteRefusedUntilEveryRequestNamingItIsFinal(t *testing.T) {
	f := setupWithDelivery(t)
	release := make(chan struct{})
	gate := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	f.rule("gated", gate.URL)
	creator, reviewer := f.roles()
	req := creator.createFor("t", "gated")

	r := f.admin.raw("DELETE", "/v1/service-rules/gated", nil)
	if r.status != 409 || r.problem(t).Code != approval.CodeConflict {
		t.Fatalf("delete while pending: %d %s", r.status, r.body)
	}
	if got := reviewer.approve(req.ID); got.Status != "acknowledged_approved" {
		t.Fatalf("approve: %+v", got)
	}
	if r := f.admin.raw("DELETE", "/v1/service-rules/gated", nil); r.status != 409 {
		t.Fatalf("delete while the decision is being delivered: %d %s", r.status, r.body)
	}
	open()
	creator.waitStatus(req.ID, "approved")
	f.admin.json(204, "DELETE", "/v1/service-rules/gated", nil, nil)
	f.admin.json(404, "GET", "/v1/service-rules/gated", nil, nil)
	r = creator.raw("POST", "/v1/approvals", []byte(`{"title":"t","service_rule":"gated"}`))
	if r.status != 422 || !slices.Contains(fieldErrors(t, r), "service_rule") {
		t.Fatalf("create naming the deleted rule: %d %s", r.status, r.body)
	}
}

func TestDelivery_ApprovalIsDeliveredSignedAndSettles(t *testing.T) {
	f := setupWithDelivery(t)
	rc := newReceiver(t, nil)
	secret := f.rule("billing", rc.URL)
	creator, reviewer := f.roles()

	r := creator.raw("POST", "/v1/approvals", []byte(`{"title":"t","service_rule":"no-such-rule"}`))
	if r.status != 422 || !slices.Contains(fieldErrors(t, r), "service_rule") {
		t.Fatalf("unknown rule: %d %s", r.status, r.body)
	}

	req := creator.createFor("deploy", "billing")
	if req.ServiceRule != "billing" || req.Status != "pending" {
		t.Fatalf("created: %+v", req)
	}
	acked := reviewer.approve(req.ID)
	if acked.Status != "acknowledged_approved" || acked.StatusCode != 6 {
		t.Fatalf("approve answered %s (%d)", acked.Status, acked.StatusCode)
	}
	got := creator.waitStatus(req.ID, "approved")
	if got.StatusCode != 3 || got.Delivery == nil || got.Delivery.Attempts != 1 || got.Delivery.DeliveredAt == nil || got.Delivery.LastError != "" {
		t.Fatalf("settled: %+v delivery %+v", got, got.Delivery)
	}

	var h historyPage
	creator.json(200, "GET", "/v1/approvals/"+req.ID+"/history", nil, &h)
	last := h.Items[len(h.Items)-1]
	if !h.Verified || last.Action != approval.ActionDelivered || last.Actor != approval.System.ID || last.Seq != got.Version {
		t.Fatalf("history verified %v, last entry %+v", h.Verified, last)
	}

	ev := verifyDelivery(t, rc, secret, req.ID)
	var data ruledRequest
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.Status != "acknowledged_approved" || data.Version != acked.Version {
		t.Fatalf("delivered data %+v: %v", data, err)
	}
	if hits, _, _ := rc.last(); hits != 1 {
		t.Fatalf("the receiver got %d deliveries", hits)
	}
}

// TestDelivery_DependentWaitsForTheDeliveredDecision: a dependency with a
// service rule is approved only once its decision is delivered; its
// dependent, already satisfied, is approved right after that.
func TestDelivery_DependentWaitsForTheDeliveredDecision(t *testing.T) {
	f := setupWithDelivery(t)
	rc := newReceiver(t, nil)
	f.rule("billing", rc.URL)
	creator, reviewer := f.roles()
	dep := creator.createFor("deploy", "billing")
	var dependent full
	creator.json(201, "POST", "/v1/approvals", map[string]any{"title": "after deploy", "depends_on": []string{dep.ID}}, &dependent)
	if got := reviewer.review(dependent.ID, approval.DecisionApprove); got.Status != "pending" {
		t.Fatalf("dependent approved before its dependency: %s", got.Status)
	}
	if acked := reviewer.approve(dep.ID); acked.Status != "acknowledged_approved" {
		t.Fatalf("dependency: %s", acked.Status)
	}
	creator.waitStatus(dep.ID, "approved")
	got := creator.waitStatus(dependent.ID, "approved")
	if got.Status != "approved" {
		t.Fatalf("dependent after the delivery: %+v", got)
	}
}

func TestDelivery_RefusedDeliveryMovesToErrorAndAnAdminRedelivers(t *testing.T) {
	f := setupWithDelivery(t)
	gone := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusGone)
		_, _ = io.WriteString(w, "no such approval here")
	})
	f.rule("strict", gone.URL)
	creator, reviewer := f.roles()
	req := creator.createFor("t", "strict")
	creator.json(200, "PATCH", "/v1/approvals/"+req.ID, map[string]any{"comment": "keep me"}, nil)
	reviewer.approve(req.ID)

	failed := creator.waitStatus(req.ID, "error")
	if failed.StatusCode != 1 || failed.PreviousStatus == nil || *failed.PreviousStatus != "acknowledged_approved" ||
		failed.Comment != "keep me" || failed.Delivery == nil || !strings.Contains(failed.Delivery.LastError, "410") {
		t.Fatalf("after a 410: %+v delivery %+v", failed, failed.Delivery)
	}
	if hits, _, _ := gone.last(); hits != 1 {
		t.Fatalf("a 410 was retried: %d deliveries", hits)
	}

	path := "/v1/approvals/" + req.ID + "/redeliver"
	for _, c := range []apiClient{creator, reviewer} {
		if r := c.raw("POST", path, nil); r.status != 403 || r.problem(t).Code != approval.CodeMissingScope {
			t.Fatalf("redeliver by a non-admin: %d %s", r.status, r.body)
		}
	}
	if r := f.admin.raw("POST", path, nil, "If-Match", etag(failed.Version-1)); r.status != 412 || r.problem(t).Code != approval.CodeVersionMismatch {
		t.Fatalf("redeliver with a stale If-Match: %d %s", r.status, r.body)
	}

	fixed := newReceiver(t, nil)
	f.admin.json(200, "PATCH", "/v1/service-rules/strict", map[string]any{"url": fixed.URL}, nil)
	var again ruledRequest
	r := f.admin.json(200, "POST", path, nil, &again, "If-Match", etag(failed.Version))
	if again.Status != "acknowledged_approved" || again.StatusCode != 6 || r.header.Get("ETag") != etag(again.Version) || again.Comment != "keep me" {
		t.Fatalf("redeliver: %+v etag %s", again, r.header.Get("ETag"))
	}
	done := creator.waitStatus(req.ID, "approved")
	if done.Delivery == nil || done.Delivery.DeliveredAt == nil || done.Comment != "keep me" {
		t.Fatalf("after redelivery: %+v delivery %+v", done, done.Delivery)
	}
	if hits, _, _ := fixed.last(); hits != 1 {
		t.Fatalf("the fixed receiver got %d deliveries", hits)
	}
	if r := f.admin.raw("POST", path, nil); r.status != 409 || r.problem(t).Code != approval.CodeInvalidTransition {
		t.Fatalf("redeliver an approved request: %d %s", r.status, r.body)
	}

	var h historyPage
	creator.json(200, "GET", "/v1/approvals/"+req.ID+"/history", nil, &h)
	var actions []approval.Action
	for _, e := range h.Items {
		actions = append(actions, e.Action)
	}
	want := []approval.Action{approval.ActionApprove, approval.ActionDeliveryFailed, approval.ActionRedeliver, approval.ActionDelivered}
	if !h.Verified || len(actions) < len(want) || !slices.Equal(actions[len(actions)-len(want):], want) {
		t.Fatalf("history verified %v, actions %v", h.Verified, actions)
	}
}

func TestLongPoll_AnswersAsSoonAsAnotherClientDecides(t *testing.T) {
	f := setupWithDelivery(t)
	creator, reviewer := f.roles()
	req := creator.create("watch me")

	approved := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond) // let the long-poll start waiting
		r, err := reviewer.send("POST", "/v1/approvals/"+req.ID+"/reviews", []byte(`{"decision":"approve"}`))
		if err == nil && r.status != 200 {
			err = fmt.Errorf("approve: %d %s", r.status, r.body)
		}
		approved <- err
	}()
	start := time.Now()
	var got request
	r := creator.json(200, "GET", "/v1/approvals/"+req.ID+"?wait=5s&after_version=1", nil, &got)
	took := time.Since(start)
	if err := <-approved; err != nil {
		t.Fatal(err)
	}
	if got.Version < 2 || got.Status != "approved" || r.header.Get("ETag") != etag(got.Version) {
		t.Fatalf("long-poll answered %+v, ETag %s", got, r.header.Get("ETag"))
	}
	if took > 3*time.Second {
		t.Fatalf("the long-poll answered after %s, not when the request changed", took)
	}

	// A client that is behind gets the request at once.
	start = time.Now()
	creator.json(200, "GET", "/v1/approvals/"+req.ID+"?wait=5s&after_version=1", nil, &got)
	if took := time.Since(start); got.Version < 2 || took > 3*time.Second {
		t.Fatalf("a long-poll behind the request: version %d after %s", got.Version, took)
	}
}

func TestLongPoll_WaitsOutAnUnchangedRequestAndRefusesBadParameters(t *testing.T) {
	f := setupWithDelivery(t)
	creator, _ := f.roles()
	req := creator.create("quiet")

	start := time.Now()
	var got request
	creator.json(200, "GET", "/v1/approvals/"+req.ID+"?wait=200ms&after_version=1", nil, &got)
	if took := time.Since(start); took < 200*time.Millisecond || got.Version != 1 || got.Status != "pending" {
		t.Fatalf("unchanged long-poll: %+v after %s", got, took)
	}

	for q, field := range map[string]string{
		"wait=1h":                     "wait",
		"wait=soon":                   "wait",
		"wait=-1s":                    "wait",
		"wait=1s&after_version=-1":    "after_version",
		"wait=1s&after_version=three": "after_version",
	} {
		r := creator.raw("GET", "/v1/approvals/"+req.ID+"?"+q, nil)
		if r.status != 422 || r.problem(t).Code != approval.CodeValidation || !slices.Contains(fieldErrors(t, r), field) {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

// sseEvent is one event of the event stream.
type sseEvent struct {
	ID   int64
	Type string
	Data []byte
}

// eventStream is an open GET /v1/events.
type eventStream struct {
	t      *testing.T
	events <-chan sseEvent
}

// openEvents opens the event stream with the query and headers given,
// checks the answer against the document, and reads its events in the
// background until the test ends.
func (c apiClient) openEvents(query string, hdr ...string) *eventStream {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/events?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		checkResponse(c.t, req, resp.StatusCode, resp.Header, b)
		c.t.Fatalf("GET /v1/events?%s: %d %s", query, resp.StatusCode, b)
	}
	// The stream does not end, so only the status and headers are checked.
	checkResponse(c.t, req, resp.StatusCode, resp.Header, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		c.t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan sseEvent)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			name, value, _ := strings.Cut(line, ": ")
			switch {
			case line == "":
				if ev.Type == "" {
					continue // after a comment
				}
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"): // a comment
			case name == "id":
				ev.ID, _ = strconv.ParseInt(value, 10, 64)
			case name == "event":
				ev.Type = value
			case name == "data":
				ev.Data = []byte(value)
			}
		}
	}()
	return &eventStream{t: c.t, events: events}
}

// next returns the next event, failing if none comes in time.
func (s *eventStream) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("the event stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

// request returns the request an event carries, checking that its data is
// the event JSON of its type.
func (ev sseEvent) request(t *testing.T) ruledRequest {
	t.Helper()
	parsed, err := webhook.ParseEvent(ev.Data)
	if err != nil {
		t.Fatalf("event %d: %v: %s", ev.ID, err, ev.Data)
	}
	if parsed.Type != ev.Type || parsed.ID == "" {
		t.Fatalf("event %d: the frame says %s, the data %+v", ev.ID, ev.Type, parsed)
	}
	var r ruledRequest
	if err := json.Unmarshal(parsed.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (ev sseEvent) String() string { return fmt.Sprintf("%d %s", ev.ID, ev.Type) }

func TestEvents_StreamsARequestsEventsAndResumesAfterLastEventID(t *testing.T) {
	f := setupWithDelivery(t)
	rc := newReceiver(t, nil)
	f.rule("billing", rc.URL)
	creator, reviewer := f.roles()
	everything := creator.openEvents("")
	req := creator.createFor("streamed", "billing")
	// The hub hands out events a moment after they commit, so a stream opened
	// right after a change may still get it. Once the unfiltered stream has
	// the creation, a new stream starts after it.
	if ev := everything.next(); ev.Type != approval.EventCreated || ev.request(t).ID != req.ID {
		t.Fatalf("first event %v, want the creation of %s", ev, req.ID)
	}
	mine := creator.openEvents("request_id=" + req.ID)
	other := creator.create("someone else's")
	reviewer.approve(req.ID)

	// A deciding review is one decided event, not a reviewed one too; the
	// delivery completes it.
	decided, completed := mine.next(), mine.next()
	if decided.Type != approval.EventDecided || completed.Type != approval.EventCompleted || decided.ID >= completed.ID {
		t.Fatalf("the request's events: %v, %v; want %s then %s", decided, completed, approval.EventDecided, approval.EventCompleted)
	}
	if r := decided.request(t); r.ID != req.ID || r.Status != "acknowledged_approved" {
		t.Fatalf("decided carries %s %s", r.ID, r.Status)
	}
	if r := completed.request(t); r.ID != req.ID || r.Status != "approved" {
		t.Fatalf("completed carries %s %s", r.ID, r.Status)
	}
	// The unfiltered stream has the other request's event too, in order.
	var all []sseEvent
	for range 3 {
		all = append(all, everything.next())
	}
	if all[0].Type != approval.EventCreated || all[0].request(t).ID != other.ID ||
		all[1].String() != decided.String() || all[2].String() != completed.String() {
		t.Fatalf("unfiltered stream: %v, want %s created, %v, %v", all, other.ID, decided, completed)
	}

	// Resuming after the first event replays the later one; the header wins
	// over ?after=.
	resumed := creator.openEvents("request_id="+req.ID+"&after=0", "Last-Event-ID", strconv.FormatInt(decided.ID, 10))
	if ev := resumed.next(); ev.String() != completed.String() || ev.request(t).ID != req.ID {
		t.Fatalf("after Last-Event-ID %d: %v, want %v", decided.ID, ev, completed)
	}
	// From the start: the whole life of the request, from the database.
	replayed := creator.openEvents("request_id=" + req.ID + "&after=0")
	var life []string
	for range 3 {
		life = append(life, replayed.next().Type)
	}
	if want := []string{approval.EventCreated, approval.EventDecided, approval.EventCompleted}; !slices.Equal(life, want) {
		t.Fatalf("replayed %v, want %v", life, want)
	}

	for _, bad := range []struct{ query, header string }{
		{"request_id=not-an-id", ""},
		{"", "-1"},
		{"", "latest"},
		{"after=-5", ""},
	} {
		var hdr []string
		if bad.header != "" {
			hdr = []string{"Last-Event-ID", bad.header}
		}
		r := creator.raw("GET", "/v1/events?"+bad.query, nil, hdr...)
		if r.status != 422 || r.problem(t).Code != approval.CodeValidation {
			t.Errorf("events?%s with Last-Event-ID %q: %d %s", bad.query, bad.header, r.status, r.body)
		}
	}
}

func TestEvents_TypeFilterAppliesToReplayAndLiveEvents(t *testing.T) {
	f := setupWithDelivery(t)
	rc := newReceiver(t, nil)
	f.rule("billing", rc.URL)
	creator, reviewer := f.roles()
	first := creator.createFor("first", "billing")
	reviewer.approve(first.ID)
	creator.waitStatus(first.ID, "approved")

	completed := creator.openEvents("type=" + approval.EventCompleted + "&after=0")
	two := creator.openEvents("type=" + approval.EventDecided + "&type=" + approval.EventCompleted + "&after=0")
	second := creator.createFor("second", "billing")
	reviewer.approve(second.ID)

	for i, want := range []string{first.ID, second.ID} { // replayed, then live
		ev := completed.next()
		if r := ev.request(t); ev.Type != approval.EventCompleted || r.ID != want {
			t.Fatalf("completed-only event %d: %v of %s, want %s", i, ev, r.ID, want)
		}
	}
	var got []string
	for range 4 {
		ev := two.next()
		got = append(got, ev.Type+" "+ev.request(t).Title)
	}
	want := []string{"approval.decided first", "approval.completed first", "approval.decided second", "approval.completed second"}
	if !slices.Equal(got, want) {
		t.Fatalf("two types: %q, want %q", got, want)
	}
}

func TestEvents_WithoutAHubStreamAndLongPollAreUnavailable(t *testing.T) {
	f := setup(t)
	c := f.key("svc", approval.ScopeCreate, approval.ScopeRead)
	r := c.raw("GET", "/v1/events", nil)
	if r.status != 503 || r.problem(t).Code != approval.CodeUnavailable {
		t.Fatalf("events without a hub: %d %s", r.status, r.body)
	}
	req := c.create("t")
	r = c.raw("GET", "/v1/approvals/"+req.ID+"?wait=1s&after_version=1", nil)
	if r.status != 503 || r.problem(t).Code != approval.CodeUnavailable {
		t.Fatalf("a long-poll that would wait, without a hub: %d %s", r.status, r.body)
	}
	// One that need not wait is answered.
	var got request
	c.json(200, "GET", "/v1/approvals/"+req.ID+"?wait=1s&after_version=0", nil, &got)
	if got.Version != 1 {
		t.Fatalf("got %+v", got)
	}
}
