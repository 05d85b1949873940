package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The end-to-end flows of the native API once more, through Stoplight
// Prism's validating proxy (prism proxy --errors): Prism checks every
// request against GET /openapi.json as the server serves it, and every
// response too, as a third-party client would read the document. Prism is
// the version pinned in .ci/tools (npm ci --prefix .ci/tools); without it
// the test skips, unless APPROVALD_REQUIRE_PRISM=1 (which .ci/run sets).

// requirePrism makes a Prism test that would skip fail instead.
const requirePrism = "APPROVALD_REQUIRE_PRISM"

// breakHeader asks the proxy between Prism and approvald to drop the named
// top-level field from the JSON response, to prove that Prism catches a
// response that breaks the document.
const breakHeader = "X-Test-Break-Response"

// prismErrorType starts the type of the problems Prism itself answers with
// (a request or response that violates the document).
const prismErrorType = "https://stoplight.io/prism/errors#"

// prismBin returns the Prism CLI of .ci/tools, or skips the test (fails it
// under APPROVALD_REQUIRE_PRISM=1) when it or node is not installed.
func prismBin(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "..", ".ci", "tools", "node_modules", ".bin", "prism"))
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err == nil {
		_, err = exec.LookPath("node")
	}
	if err != nil {
		if os.Getenv(requirePrism) == "1" {
			t.Fatalf("Prism is required (%s=1) but cannot run: %v; install it with npm ci --prefix .ci/tools", requirePrism, err)
		}
		t.Skipf("Prism is not installed (npm ci --prefix .ci/tools): %v", err)
	}
	return bin
}

// startPrism starts prism proxy --errors for upstream, with the document
// upstream serves, and returns Prism's base URL. Prism stops when the test
// ends.
func startPrism(t *testing.T, upstream string) string {
	t.Helper()
	bin := prismBin(t)
	resp, err := http.Get(upstream + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.json: %d", resp.StatusCode)
	}
	docPath := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		base, err := launchPrism(t, bin, docPath, upstream)
		if err == nil {
			return base
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("Prism did not start (attempt %d): %v", attempt, err)
	}
}

// launchPrism runs Prism on a free port; the port may be taken between
// choosing and listening, so startPrism tries again.
func launchPrism(t *testing.T, bin, doc, upstream string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	var log syncBuffer
	cmd := exec.Command(bin, "proxy", "--errors", "--host", "127.0.0.1", "--port", port, doc, upstream)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	// Node starts slowly on a busy machine.
	deadline := time.After(90 * time.Second)
	for !strings.Contains(log.String(), "Prism is listening") {
		select {
		case err := <-done:
			return "", errors.Join(err, errors.New("prism exited:\n"+log.String()))
		case <-deadline:
			stop()
			return "", errors.New("prism did not listen within 90s:\n" + log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("Prism's complaints:\n%s", prismComplaints(log.String()))
		}
	})
	return "http://127.0.0.1:" + port, nil
}

// newBreaker returns the URL of a reverse proxy to target that passes
// everything through, except that it drops the field that a request's
// breakHeader names from the JSON object of the response.
func newBreaker(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		field := resp.Request.Header.Get(breakHeader)
		if field == "" {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return err
		}
		delete(m, field)
		body, _ = json.Marshal(m)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// prismChecked is the transport of a client that talks to approvald
// through Prism: it fails the test on every exchange Prism found in breach
// of the document (its sl-violations header) and on every answer that Prism
// made up instead of passing approvald's on (a Prism problem, or no
// X-Request-Id, which every answer of approvald carries).
type prismChecked struct{ t *testing.T }

func (c prismChecked) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	what := req.Method + " " + req.URL.RequestURI() + " → " + resp.Status
	if v := resp.Header.Get("sl-violations"); v != "" {
		c.t.Errorf("%s: Prism says the exchange breaks openapi.json: %s", what, v)
	}
	if fromPrism(resp, body) {
		c.t.Errorf("%s: Prism answered instead of approvald: %s", what, body)
	}
	return resp, nil
}

// fromPrism reports whether Prism made the answer up.
func fromPrism(resp *http.Response, body []byte) bool {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &p)
	return strings.HasPrefix(p.Type, prismErrorType) || resp.Header.Get("X-Request-Id") == ""
}

// rawPrism sends one request to Prism without the checks and returns the
// status, the sl-violations header and the body.
func rawPrism(t *testing.T, base, key, method, path, body string, hdr ...string) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("sl-violations"), string(b)
}

func TestPrism_FlowsMatchTheServedDocument(t *testing.T) {
	t.Parallel()
	prismBin(t) // skip early, before starting anything
	recv := newReceiver(t)
	base := startServer(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_NOTIFY_BATCH_WINDOW": "0"})
	prism := startPrism(t, newBreaker(t, base))
	checked := &http.Client{Transport: prismChecked{t}}
	admin := client{t: t, base: prism, key: testAdminKey, hc: checked}

	// The check bites: Prism refuses a request the document does not
	// allow, and catches a response of approvald with a field dropped.
	t.Run("PrismCatchesViolations", func(t *testing.T) {
		for _, body := range []string{
			`{"title":42}`,
			`{"title":"x","policy":{"rules":[{"min_approvals":1,"colour":"red"}]}}`,
			`{"title":"x","policy":{"rules":[{"min_approvals":0}]}}`,
		} {
			code, _, got := rawPrism(t, prism, testAdminKey, "POST", "/v1/approvals", body)
			if code != 422 || !strings.Contains(got, prismErrorType+"UNPROCESSABLE_ENTITY") {
				t.Errorf("Prism let the bad request %s through: %d %s", body, code, got)
			}
		}
		proof := client{t: t, base: prism, key: testAdminKey, hc: &http.Client{Transport: prismChecked{t}}}
		id := proof.must(201, "POST", "/v1/approvals", map[string]any{"title": "Proof"})["id"].(string)
		code, violations, got := rawPrism(t, prism, testAdminKey, "GET", "/v1/approvals/"+id, "", breakHeader, "status_code")
		if code != 500 || !strings.Contains(violations, "status_code") || !strings.Contains(got, prismErrorType+"VIOLATIONS") {
			t.Errorf("Prism passed a response without status_code: %d %q %s", code, violations, got)
		}
		code, violations, _ = rawPrism(t, prism, testAdminKey, "GET", "/v1/approvals/"+id, "")
		if code != 200 || violations != "" {
			t.Errorf("the same request unbroken: %d %q", code, violations)
		}
	})

	prismFlows(t, admin, recv)
}

// prismFlows replays a representative set of the native API's flows:
// every operation but the event stream and long-polls, and the errors a
// client meets (401, 403, 404, 409, 412, 422), with bodies the document
// allows, so that every answer comes from approvald.
func prismFlows(t *testing.T, admin client, recv *receiver) {
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
		admin.must(200, "GET", path, nil)
	}
	getText(t, admin, "/docs")
	getText(t, admin, "/metrics")
	newKey := func(name string, scopes []string, groups ...string) (string, string) {
		body := map[string]any{"name": name, "scopes": scopes}
		if groups != nil {
			body["groups"] = groups
		}
		m := admin.must(201, "POST", "/v1/api-keys", body)
		return m["id"].(string), m["key"].(string)
	}
	_, billingKey := newKey("billing", []string{"approvals:create", "approvals:read"})
	_, opsKey := newKey("ops", []string{"approvals:review", "approvals:read"}, "finance")
	_, cfoKey := newKey("cfo", []string{"approvals:review", "approvals:read"})
	auditID, auditKey := newKey("auditor", []string{"audit"})
	billing, ops, cfo, audit := admin.as(billingKey), admin.as(opsKey), admin.as(cfoKey), admin.as(auditKey)
	admin.must(409, "POST", "/v1/api-keys", map[string]any{"name": "billing", "scopes": []string{"approvals:read"}})
	admin.must(200, "GET", "/v1/api-keys", nil)
	audit.must(200, "GET", "/v1/api-keys", nil)
	rotated := admin.must(200, "POST", "/v1/api-keys/"+auditID+"/rotate", nil)
	audit = admin.as(rotated["key"].(string))
	admin.as("apd_not-a-key-0123456789abcdefghijklmn").must(401, "GET", "/v1/approvals", nil)
	billing.must(403, "GET", "/v1/api-keys", nil)

	// Service rules, with extra headers kept across a PATCH by {}.
	rule := admin.must(201, "POST", "/v1/service-rules", map[string]any{"name": "payments", "url": recv.srv.URL, "timeout": "5s",
		"max_attempts": 3, "headers": map[string]any{"X-Api-Key": "receiver-secret"}})
	if rule["secret"] == nil {
		t.Errorf("a new standard rule shows no generated secret: %v", rule)
	}
	admin.must(201, "POST", "/v1/service-rules", map[string]any{"name": "stash", "url": recv.srv.URL, "format": "legacy", "api_key": "k"})
	admin.must(409, "POST", "/v1/service-rules", map[string]any{"name": "payments", "url": recv.srv.URL})
	admin.must(200, "PATCH", "/v1/service-rules/payments", map[string]any{"headers": map[string]any{"X-Api-Key": map[string]any{}, "X-Tenant": "t1"}, "timeout": "6s"})
	admin.must(200, "PATCH", "/v1/service-rules/stash", map[string]any{"api_key": "k2", "max_attempts": nil, "timeout": nil})
	admin.must(200, "GET", "/v1/service-rules/payments", nil)
	audit.must(200, "GET", "/v1/service-rules", nil)
	admin.must(404, "GET", "/v1/service-rules/nope", nil)
	admin.must(422, "PATCH", "/v1/service-rules/payments", map[string]any{"headers": map[string]any{"X-Gone": map[string]any{}}})

	// Stored policies, as the README writes them: defaults left out.
	admin.must(201, "POST", "/v1/policies", map[string]any{"name": "large-payment", "policy": map[string]any{"rules": []any{
		map[string]any{"name": "finance", "min_approvals": 1, "groups": []string{"finance"}},
		map[string]any{"name": "cfo", "min_approvals": 1, "principals": []string{"svc:cfo"}}}}})
	admin.must(201, "POST", "/v1/policies", map[string]any{"name": "staged", "description": "finance, then the CFO",
		"policy": map[string]any{"stages": []any{
			map[string]any{"rules": []any{map[string]any{"min_approvals": 1, "groups": []string{"finance"}}}},
			map[string]any{"rules": []any{map[string]any{"min_approvals": 1, "principals": []string{"svc:cfo"}, "reject_threshold": 1}}}}}})
	admin.must(409, "POST", "/v1/policies", map[string]any{"name": "staged", "policy": map[string]any{"rules": []any{map[string]any{"min_approvals": 1}}}})
	admin.must(422, "POST", "/v1/policies", map[string]any{"name": "impossible", "policy": map[string]any{"rules": []any{
		map[string]any{"min_approvals": 2, "principals": []string{"svc:cfo"}}}}})
	_, hdr, _ := admin.do("GET", "/v1/policies/staged", nil)
	admin.must(412, "PUT", "/v1/policies/staged", map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"min_approvals": 1}}}}, "If-Match", `"99"`)
	admin.must(200, "PUT", "/v1/policies/staged", map[string]any{"description": "finance, then the CFO", "policy": map[string]any{"allow_self_review": false,
		"stages": []any{
			map[string]any{"name": "finance", "rules": []any{map[string]any{"min_approvals": 1, "groups": []string{"finance"}}}},
			map[string]any{"name": "cfo", "rules": []any{map[string]any{"min_approvals": 1, "principals": []string{"svc:cfo"}}}}}}},
		"If-Match", hdr.Get("ETag"))
	billing.must(200, "GET", "/v1/policies", nil)
	billing.must(200, "GET", "/v1/policies/large-payment", nil)
	admin.must(201, "POST", "/v1/policies", map[string]any{"name": "scratch", "policy": map[string]any{"rules": []any{map[string]any{"min_approvals": 1}}}})
	admin.must(204, "DELETE", "/v1/policies/scratch", nil)
	admin.must(404, "DELETE", "/v1/policies/scratch", nil)

	// A request with an inline policy, delivered to a standard rule.
	deadline := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	create := map[string]any{"title": "Pay invoice 42", "description": "for the quarter", "payload": map[string]any{"invoice": 42},
		"service_rule": "payments", "deadline": deadline, "subject": "invoice-42", "remind_after": "4h",
		"policy": map[string]any{"rules": []any{map[string]any{"min_approvals": 1, "principals": []string{"svc:ops", "svc:cfo"}}}}}
	_, first, created := billing.do("POST", "/v1/approvals", create, "Idempotency-Key", "invoice-42")
	id := created["id"].(string)
	_, again, _ := billing.do("POST", "/v1/approvals", create, "Idempotency-Key", "invoice-42")
	if again.Get("Idempotent-Replayed") != "true" || again.Get("Location") != first.Get("Location") {
		t.Errorf("an idempotent retry was not replayed: %v", again)
	}
	billing.must(422, "POST", "/v1/approvals", map[string]any{"title": "Other body", "payload": map[string]any{}}, "Idempotency-Key", "invoice-42")
	_, hdr, _ = billing.do("GET", "/v1/approvals/"+id, nil)
	billing.must(304, "GET", "/v1/approvals/"+id, nil, "If-None-Match", hdr.Get("ETag"))
	billing.must(412, "PATCH", "/v1/approvals/"+id, map[string]any{"description": "later"}, "If-Match", `"99"`)
	billing.must(200, "PATCH", "/v1/approvals/"+id, map[string]any{"description": "for Q3", "comment": "urgent"}, "If-Match", hdr.Get("ETag"))
	billing.must(403, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"})
	ops.must(409, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve", "version": 1})
	ops.must(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve", "comment": "matches PO 7781"})
	waitStatus(t, billing, id, "approved")
	cfo.must(409, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"})
	admin.must(409, "POST", "/v1/approvals/"+id+"/redeliver", nil)
	billing.must(409, "PATCH", "/v1/approvals/"+id, map[string]any{"title": "Pay invoice 43"})
	billing.must(200, "PATCH", "/v1/approvals/"+id, map[string]any{"comment": "paid"})
	billing.must(200, "GET", "/v1/approvals/"+id+"/history", nil)
	audit.must(200, "GET", "/v1/history/verify?request_id="+id, nil)

	// A stored policy by name, stages, a legacy rule, a dependency; the
	// inbox; a review a stage does not accept yet.
	staged := billing.must(201, "POST", "/v1/approvals", map[string]any{"title": "Pay invoice 99", "policy_name": "staged",
		"service_rule": "stash", "depends_on": []string{id}})["id"].(string)
	cfo.must(409, "POST", "/v1/approvals/"+staged+"/reviews", map[string]any{"decision": "approve"})
	ops.must(200, "GET", "/v1/approvals?awaiting=me", nil)
	ops.must(200, "POST", "/v1/approvals/"+staged+"/reviews", map[string]any{"decision": "approve"})
	ops.must(409, "POST", "/v1/approvals/"+staged+"/reviews", map[string]any{"decision": "approve"})
	cfo.must(200, "POST", "/v1/approvals/"+staged+"/reviews", map[string]any{"decision": "approve"})
	waitStatus(t, billing, staged, "approved")

	// Rejected, cancelled, and an admin's policy override.
	rejected := billing.must(201, "POST", "/v1/approvals", map[string]any{"title": "Pay invoice 7", "policy_name": "large-payment"})["id"].(string)
	ops.must(200, "POST", "/v1/approvals/"+rejected+"/reviews", map[string]any{"decision": "reject", "comment": "duplicate"})
	cancelled := billing.must(201, "POST", "/v1/approvals", map[string]any{"title": "Pay invoice 8"})["id"].(string)
	billing.must(403, "PATCH", "/v1/approvals/"+cancelled, map[string]any{"policy": map[string]any{"rules": []any{map[string]any{"min_approvals": 1}}}})
	admin.must(200, "PATCH", "/v1/approvals/"+cancelled, map[string]any{"policy": map[string]any{"rules": []any{
		map[string]any{"name": "two", "min_approvals": 2, "principals": []string{"svc:ops", "svc:cfo"}, "reject_threshold": 2}}}})
	billing.must(200, "POST", "/v1/approvals/"+cancelled+"/cancel", map[string]any{"comment": "not needed"})
	billing.must(409, "POST", "/v1/approvals/"+cancelled+"/cancel", map[string]any{})

	// Errors whose bodies the document allows, so approvald answers them.
	missing := "0190a5f0-0000-7000-8000-000000000001"
	billing.must(404, "GET", "/v1/approvals/"+missing, nil)
	billing.must(404, "GET", "/v1/approvals/"+missing+"/history", nil)
	ops.must(404, "POST", "/v1/approvals/"+missing+"/reviews", map[string]any{"decision": "approve"})
	billing.must(422, "POST", "/v1/approvals", map[string]any{"title": "No such rule", "service_rule": "nope"})
	billing.must(422, "POST", "/v1/approvals", map[string]any{"title": "No such policy", "policy_name": "nope"})
	billing.must(422, "POST", "/v1/approvals", map[string]any{"title": "Too late", "deadline": "2001-01-01T00:00:00Z"})
	billing.must(422, "POST", "/v1/approvals", map[string]any{"title": "Self", "policy": map[string]any{"allow_self_review": true,
		"rules": []any{map[string]any{"min_approvals": 1}}}})
	billing.must(201, "POST", "/v1/approvals", map[string]any{"title": "Held", "service_rule": "payments"})
	admin.must(409, "DELETE", "/v1/service-rules/payments", nil)

	// Lists with filters and paging; history; the gateway's call log.
	page := billing.must(200, "GET", "/v1/approvals?limit=2&requester=svc:billing", nil)
	if cursor, _ := page["next_cursor"].(string); cursor != "" {
		billing.must(200, "GET", "/v1/approvals?limit=2&cursor="+url.QueryEscape(cursor), nil)
	}
	for _, q := range []string{"status=approved", "status=pending&status=rejected", "service_rule=payments", "subject=invoice-42"} {
		audit.must(200, "GET", "/v1/approvals?"+q, nil)
	}
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, q := range []string{"", "?actor=svc:billing&limit=3", "?action=approve", "?request_id=" + id, "?since=" + url.QueryEscape(since)} {
		audit.must(200, "GET", "/v1/history"+q, nil)
	}
	audit.must(200, "GET", "/v1/history/verify", nil)
	audit.must(422, "GET", "/v1/history?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z", nil)
	audit.must(422, "GET", "/v1/approvals?status=nonsense", nil)
	audit.must(200, "GET", "/v1/gateway/calls?project_name=p&limit=5", nil)
	getText(t, audit, "/metrics")

	// Clean-up routes.
	admin.must(204, "DELETE", "/v1/service-rules/stash", nil)
	tempID, _ := newKey("temp", []string{"approvals:read"})
	admin.must(204, "DELETE", "/v1/api-keys/"+tempID, nil)
	admin.must(404, "DELETE", "/v1/api-keys/"+missing, nil)

	prismNotifyFlows(t, admin, recv)
}

// prismNotifyFlows replays the flows of notifications, escalation and
// delegation: channels (email and Slack), routes, contacts, a key's
// contact, preferences, the notification queue, a policy that escalates,
// and delegations with a review on behalf of the delegator.
func prismNotifyFlows(t *testing.T, admin client, recv *receiver) {
	sink := newMailSink(t)
	newKey := func(name, contact string, scopes ...string) client {
		body := map[string]any{"name": name, "scopes": scopes}
		if contact != "" {
			body["contact"] = contact
		}
		return admin.as(admin.must(201, "POST", "/v1/api-keys", body)["key"].(string))
	}
	lead := newKey("lead", "lead@example.com", "approvals:review", "approvals:read")
	deputy := newKey("deputy", "", "approvals:review", "approvals:read")
	oncall := newKey("oncall", "", "approvals:review", "approvals:read")
	asker := newKey("asker", "asker@example.com", "approvals:create", "approvals:read")
	audit := newKey("notify-auditor", "", "audit")

	// Channels: email (a password only by its file) and Slack, read,
	// replaced at a version, refused at a stale one, deleted.
	admin.must(201, "POST", "/v1/notification-channels", sink.channel("mail"))
	unused := sink.channel("mail-unused")
	unused["email"].(map[string]any)["username"] = "approvald"
	unused["email"].(map[string]any)["password_file"] = "/run/secrets/smtp-password"
	admin.must(201, "POST", "/v1/notification-channels", unused)
	slack := admin.must(201, "POST", "/v1/notification-channels", map[string]any{"name": "team-chat", "type": "slack", "url": recv.srv.URL + "/slack-hook"})
	admin.must(409, "POST", "/v1/notification-channels", map[string]any{"name": "team-chat", "type": "slack", "url": recv.srv.URL + "/other"})
	admin.must(200, "GET", "/v1/notification-channels", nil)
	audit.must(200, "GET", "/v1/notification-channels/mail", nil)
	admin.must(404, "GET", "/v1/notification-channels/nothing", nil)
	admin.must(200, "PUT", "/v1/notification-channels/team-chat", map[string]any{"type": "slack", "url": slack["url"]}, "If-Match", `"1"`)
	admin.must(412, "PUT", "/v1/notification-channels/team-chat", map[string]any{"type": "slack"}, "If-Match", `"1"`)
	admin.must(200, "PUT", "/v1/notification-channels/mail-unused", map[string]any{"type": "email", "email": map[string]any{
		"host": sink.host, "port": sink.port, "tls": "none", "from": "other@example.com"}})
	admin.must(204, "DELETE", "/v1/notification-channels/mail-unused", nil)
	admin.must(404, "DELETE", "/v1/notification-channels/mail-unused", nil)

	// Routes and contacts.
	route := admin.must(201, "POST", "/v1/notification-routes", map[string]any{"channel": "team-chat", "events": []string{"review_requested", "escalation"}, "scope": "group:finance"})
	all := admin.must(201, "POST", "/v1/notification-routes", map[string]any{"channel": "team-chat"})
	admin.must(422, "POST", "/v1/notification-routes", map[string]any{"channel": "nothing"})
	audit.must(200, "GET", "/v1/notification-routes", nil)
	admin.must(409, "DELETE", "/v1/notification-channels/team-chat", nil)
	admin.must(204, "DELETE", "/v1/notification-routes/"+strconv.FormatFloat(all["id"].(float64), 'f', 0, 64), nil)
	admin.must(404, "DELETE", "/v1/notification-routes/999999", nil)
	admin.must(200, "POST", "/v1/contacts", map[string]any{"principal": "user:alice", "email": "alice@example.com", "admin": true})
	admin.must(200, "POST", "/v1/contacts", map[string]any{"group": "finance", "emails": []string{"a@example.com", "b@example.com"}, "channel": "team-chat"})
	admin.must(422, "POST", "/v1/contacts", map[string]any{"group": "ops", "channel": "nothing"})
	audit.must(200, "GET", "/v1/contacts", nil)
	admin.must(204, "DELETE", "/v1/contacts/user:alice", nil)
	admin.must(404, "DELETE", "/v1/contacts/user:alice", nil)

	// Preferences, each principal its own.
	lead.must(200, "GET", "/v1/me/notification-preferences", nil)
	lead.must(200, "PUT", "/v1/me/notification-preferences", map[string]any{"muted": []string{"reminder"}})
	deputy.must(200, "GET", "/v1/me/notification-preferences", nil)

	// A policy that escalates; a request under it shows when it will.
	admin.must(201, "POST", "/v1/policies", map[string]any{"name": "lead-escalating", "policy": map[string]any{"rules": []any{
		map[string]any{"name": "lead", "min_approvals": 1, "principals": []string{"svc:lead"},
			"escalate_after": "1h", "escalate_to": map[string]any{"principals": []string{"svc:oncall"}}}}}})
	admin.must(422, "POST", "/v1/policies", map[string]any{"name": "too-soon", "policy": map[string]any{"rules": []any{
		map[string]any{"min_approvals": 1, "principals": []string{"svc:lead"},
			"escalate_after": "10s", "escalate_to": map[string]any{"principals": []string{"svc:oncall"}}}}}})
	escalating := asker.must(201, "POST", "/v1/approvals", map[string]any{"title": "Grow the cluster", "policy_name": "lead-escalating"})["id"].(string)
	asker.must(200, "GET", "/v1/approvals/"+escalating, nil)
	oncall.must(403, "POST", "/v1/approvals/"+escalating+"/reviews", map[string]any{"decision": "approve"})

	// Delegations: the lead's own, an admin's for the on-call reviewer; a
	// review on behalf of the delegator; revoked, refused.
	ends := time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	d := lead.must(201, "POST", "/v1/delegations", map[string]any{"delegate": "svc:deputy", "ends_at": ends, "reason": "on leave"})
	byAdmin := admin.must(201, "POST", "/v1/delegations", map[string]any{"delegator": "svc:oncall", "delegate": "svc:deputy",
		"starts_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "ends_at": ends})
	lead.must(422, "POST", "/v1/delegations", map[string]any{"delegate": "svc:lead", "ends_at": ends})
	deputy.must(200, "GET", "/v1/delegations", nil)
	deputy.must(200, "GET", "/v1/delegations?active=true", nil)
	admin.must(200, "GET", "/v1/delegations?principal=svc:oncall", nil)
	lead.must(200, "GET", "/v1/delegations/"+d["id"].(string), nil)
	decided := deputy.must(200, "POST", "/v1/approvals/"+escalating+"/reviews", map[string]any{"decision": "approve", "on_behalf_of": "svc:lead", "comment": "for the lead"})
	if reviews, _ := decided["reviews"].([]any); decided["status"] != "approved" || len(reviews) != 1 ||
		reviews[0].(map[string]any)["reviewer"] != "svc:lead" || reviews[0].(map[string]any)["by"] != "svc:deputy" {
		t.Errorf("a review on behalf of the lead: %v", decided)
	}
	asker.must(200, "GET", "/v1/approvals/"+escalating+"/history", nil)
	lead.must(200, "POST", "/v1/delegations/"+d["id"].(string)+"/revoke", nil)
	admin.must(200, "POST", "/v1/delegations/"+byAdmin["id"].(string)+"/revoke", map[string]any{})
	again := asker.must(201, "POST", "/v1/approvals", map[string]any{"title": "Grow it more", "policy_name": "lead-escalating"})["id"].(string)
	if p := deputy.must(403, "POST", "/v1/approvals/"+again+"/reviews", map[string]any{"decision": "approve", "on_behalf_of": "svc:lead"}); p["code"] != "not_delegated" {
		t.Errorf("a review for the lead after the revocation: %v", p)
	}
	asker.must(404, "GET", "/v1/delegations/0190a5f0-0000-7000-8000-000000000001", nil)

	// The notification queue: the lead's mail, the asker's decision mail.
	sink.await(t, "asker@example.com", "Grow the cluster", 1, 30*time.Second)
	admin.must(200, "GET", "/v1/notifications", nil)
	audit.must(200, "GET", "/v1/notifications?request_id="+escalating+"&limit=2", nil)
	audit.must(200, "GET", "/v1/notifications?state=pending", nil)
	audit.must(200, "GET", "/v1/notifications?state=failed", nil)
	audit.must(422, "GET", "/v1/notifications?channel=mail", nil)
	asker.must(403, "GET", "/v1/notifications", nil)
	admin.must(204, "DELETE", "/v1/notification-routes/"+strconv.FormatFloat(route["id"].(float64), 'f', 0, 64), nil)
}

// getText GETs a route that answers with text (HTML, the Prometheus format)
// through c's transport and expects 200.
func getText(t *testing.T, c client, path string) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: status %d, want 200", path, resp.StatusCode)
	}
}

// prismComplaints returns the lines of Prism's log that report an error or
// a violation.
func prismComplaints(log string) string {
	var out []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, "error") || strings.Contains(line, "Violation") || strings.Contains(line, "warn") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
