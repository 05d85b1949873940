package ghapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"approvald/approval"
	"approvald/engine"
	"approvald/ghapp"
	"approvald/ghapp/githubfake"
	"approvald/internal/httpkit"
	"approvald/store/sqlite"
)

const appID = 4242

var (
	alice = approval.Principal{ID: "svc:alice", Scopes: []approval.Scope{approval.ScopeReview}}
	bob   = approval.Principal{ID: "svc:bob", Scopes: []approval.Scope{approval.ScopeReview}}
	admin = approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}
)

type fixture struct {
	t    *testing.T
	ctx  context.Context
	fake *githubfake.Fake
	eng  *engine.Engine
	app  *ghapp.App
	reg  *prometheus.Registry
	hook string // the webhook's URL

	mu     sync.Mutex
	claims map[string]approval.Claim // claimed and not yet taken by claim
}

// setup returns a fake GitHub, an engine on a fresh SQLite store, the App
// (its rule ensured) with cfg's changes, and an httptest server of its
// webhook that renders errors with the native API's statuses.
func setup(t *testing.T, mut func(*ghapp.Config)) *fixture {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, ctx: ctx, fake: githubfake.New(t, appID), eng: engine.New(st), reg: prometheus.NewRegistry()}
	cfg := ghapp.Config{
		AppID: appID, PrivateKey: f.fake.PrivateKeyPEM, WebhookSecret: f.fake.WebhookSecret, APIURL: f.fake.URL,
		ServiceRule: "github", PublicURL: "https://approvals.example.test", Registerer: f.reg,
	}
	if mut != nil {
		mut(&cfg)
	}
	if f.app, err = ghapp.New(cfg, f.eng); err != nil {
		t.Fatal(err)
	}
	if err := f.app.EnsureRule(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f.app.ServeWebhook(w, r); err != nil {
			e := approval.AsError(err)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(httpkit.StatusOf(e.Kind))
			_ = json.NewEncoder(w).Encode(map[string]any{"code": e.Code, "detail": e.Message})
		}
	}))
	t.Cleanup(srv.Close)
	f.hook = srv.URL + "/v1/github/webhook"
	return f
}

// run returns a run of org/service waiting on the disclosure environment.
func run(id int64) githubfake.Run {
	return githubfake.Run{Owner: "org", Repo: "service", ID: id, Environment: "disclosure", Installation: 77,
		Ref: "refs/heads/main", SHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", Sender: "octocat", Event: "push",
		DeploymentID: 9000 + id, PullRequests: []int{12}}
}

// post sends d signed with secret (unsigned when nil) and returns the
// status and the JSON answer.
func (f *fixture) post(d githubfake.Delivery, secret []byte, hdr ...string) (int, map[string]any) {
	f.t.Helper()
	req, err := d.Request(f.ctx, f.hook, secret)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return do(f.t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, m
}

// open delivers run's event and returns the request it opened.
func (f *fixture) open(r githubfake.Run) *approval.Request {
	f.t.Helper()
	code, m := f.post(f.fake.DeploymentProtectionRule(r), f.fake.WebhookSecret)
	if code != http.StatusAccepted {
		f.t.Fatalf("delivery: %d %v", code, m)
	}
	req, err := f.eng.Get(f.ctx, m["approval_id"].(string))
	if err != nil {
		f.t.Fatal(err)
	}
	return req
}

// webhooks returns approvald_github_webhooks_total{result}.
func (f *fixture) webhooks(result string) float64 {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "approvald_github_webhooks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	f.t.Fatalf("no approvald_github_webhooks_total{result=%q}", result)
	return 0
}

// requestsOf returns the requests of subject.
func (f *fixture) requestsOf(subject string) []*approval.Request {
	f.t.Helper()
	rs, _, err := f.eng.List(f.ctx, approval.Filter{Subject: subject, Limit: 100})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs
}

func TestWebhook_OpensARequestForTheRun(t *testing.T) {
	f := setup(t, nil)
	r := run(30433642)
	d := f.fake.DeploymentProtectionRule(r)
	code, m := f.post(d, f.fake.WebhookSecret)
	if code != http.StatusAccepted {
		t.Fatalf("status %d: %v", code, m)
	}
	wantSubject := "github:org/service/disclosure/30433642"
	if m["subject"] != wantSubject || m["duplicate"] != false || m["status"] != "pending" {
		t.Errorf("answer %v", m)
	}
	req, err := f.eng.Get(f.ctx, m["approval_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if req.Subject != wantSubject || req.Title != "Deploy org/service to disclosure" || req.ServiceRule != "github" ||
		req.Requester != "github-app:4242" || req.PolicySource != engine.SourceDefault {
		t.Errorf("request: subject %q title %q rule %q requester %q policy %q", req.Subject, req.Title, req.ServiceRule, req.Requester, req.PolicySource)
	}
	var p map[string]any
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"repository": "org/service", "environment": "disclosure", "ref": "refs/heads/main", "sha": r.SHA,
		"run_id": 30433642.0, "run_url": "https://github.com/org/service/actions/runs/30433642", "actor": "octocat",
		"event": "push", "installation_id": 77.0, "deployment_id": 9000.0 + 30433642, "pull_requests": []any{12.0},
	}
	for k, v := range want {
		if got, _ := json.Marshal(p[k]); string(got) != mustJSON(v) {
			t.Errorf("payload.%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	if len(p) != len(want) {
		t.Errorf("payload has %d fields, want %d: %v", len(p), len(want), p)
	}
	if !strings.Contains(req.Description, "https://github.com/org/service/actions/runs/30433642") {
		t.Errorf("description does not link the run: %q", req.Description)
	}
	if got := f.webhooks(ghapp.ResultAccepted); got != 1 {
		t.Errorf("accepted = %v", got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestWebhook_Signatures(t *testing.T) {
	f := setup(t, nil)
	for _, tc := range []struct {
		name   string
		mutate func(*http.Request, githubfake.Delivery)
		want   int
		result string
	}{
		{"good", func(*http.Request, githubfake.Delivery) {}, 202, ghapp.ResultAccepted},
		{"missing", func(r *http.Request, _ githubfake.Delivery) { r.Header.Del("X-Hub-Signature-256") }, 401, ghapp.ResultUnsigned},
		{"sha1 only", func(r *http.Request, d githubfake.Delivery) {
			r.Header.Del("X-Hub-Signature-256")
			r.Header.Set("X-Hub-Signature", "sha1=0000000000000000000000000000000000000000")
		}, 401, ghapp.ResultUnsigned},
		{"sha1 in the sha256 header", func(r *http.Request, d githubfake.Delivery) {
			r.Header.Set("X-Hub-Signature-256", "sha1="+strings.TrimPrefix(githubfake.Signature(d.Body, f.fake.WebhookSecret), "sha256=")[:40])
		}, 401, ghapp.ResultBadSignature},
		{"wrong secret", func(r *http.Request, d githubfake.Delivery) {
			r.Header.Set("X-Hub-Signature-256", githubfake.Signature(d.Body, []byte("not the secret")))
		}, 401, ghapp.ResultBadSignature},
		{"not hex", func(r *http.Request, _ githubfake.Delivery) { r.Header.Set("X-Hub-Signature-256", "sha256=zz") }, 401, ghapp.ResultBadSignature},
		{"tampered body", func(r *http.Request, d githubfake.Delivery) {
			tampered := bytes.Replace(d.Body, []byte(`"disclosure"`), []byte(`"sandbox"`), -1)
			r.Body = io.NopCloser(bytes.NewReader(tampered))
			r.ContentLength = int64(len(tampered))
		}, 401, ghapp.ResultBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := int64(len(tc.name)*1000 + int(tc.name[0]))
			d := f.fake.DeploymentProtectionRule(run(id))
			req, err := d.Request(f.ctx, f.hook, f.fake.WebhookSecret)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(req, d)
			before := f.webhooks(tc.result)
			code, m := do(t, req)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %v", code, tc.want, m)
			}
			if got := f.webhooks(tc.result); got != before+1 {
				t.Errorf("%s went from %v to %v", tc.result, before, got)
			}
			n := len(f.requestsOf("github:org/service/disclosure/" + itoa(id)))
			if tc.want == 202 && n != 1 || tc.want != 202 && n != 0 {
				t.Errorf("%d requests for the run", n)
			}
			if tc.want == 401 && (m["code"] != approval.CodeUnauthenticated || strings.Contains(mustJSON(m), string(f.fake.WebhookSecret))) {
				t.Errorf("answer %v", m)
			}
		})
	}
}

func itoa(n int64) string { return mustJSON(n) }

func TestWebhook_IgnoresOtherEventsAndActions(t *testing.T) {
	f := setup(t, nil)
	code, m := f.post(githubfake.Ping(), f.fake.WebhookSecret)
	if code != 200 || m["status"] != "ping" {
		t.Errorf("ping: %d %v", code, m)
	}
	push := githubfake.Delivery{Event: "push", ID: githubfake.NewDeliveryID(), Body: []byte(`{"ref":"refs/heads/main"}`)}
	code, m = f.post(push, f.fake.WebhookSecret)
	if code != 200 || m["status"] != "ignored" || !strings.Contains(m["reason"].(string), "push") {
		t.Errorf("push: %d %v", code, m)
	}
	r := run(5)
	other := githubfake.Delivery{Event: "deployment_protection_rule", ID: githubfake.NewDeliveryID(),
		Body: githubfake.DeploymentProtectionRuleBody(f.fake.URL, r, "completed")}
	code, m = f.post(other, f.fake.WebhookSecret)
	if code != 200 || m["status"] != "ignored" || !strings.Contains(m["reason"].(string), `"completed"`) {
		t.Errorf("another action: %d %v", code, m)
	}
	if got := f.webhooks(ghapp.ResultIgnored); got != 3 {
		t.Errorf("ignored = %v, want 3", got)
	}
	if n := len(f.requestsOf("github:org/service/disclosure/5")); n != 0 {
		t.Errorf("%d requests", n)
	}
	// An unsigned ping is refused like any delivery.
	if code, _ := f.post(githubfake.Ping(), nil); code != 401 {
		t.Errorf("unsigned ping: %d", code)
	}
}

func TestWebhook_RefusesMalformedDeliveries(t *testing.T) {
	f := setup(t, nil)
	event := func(body []byte) githubfake.Delivery {
		return githubfake.Delivery{Event: "deployment_protection_rule", ID: githubfake.NewDeliveryID(), Body: body}
	}
	withField := func(r githubfake.Run, path []string, v any) []byte {
		var m map[string]any
		_ = json.Unmarshal(githubfake.DeploymentProtectionRuleBody(f.fake.URL, r, "requested"), &m)
		at := m
		for _, k := range path[:len(path)-1] {
			at = at[k].(map[string]any)
		}
		if v == nil {
			delete(at, path[len(path)-1])
		} else {
			at[path[len(path)-1]] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	r := run(6)
	big := bytes.Repeat([]byte("x"), ghapp.MaxWebhookBytes+1)
	for _, tc := range []struct {
		name string
		d    githubfake.Delivery
		hdr  []string
		want int
		code string
	}{
		{"not JSON", event([]byte("{not json")), nil, 400, approval.CodeMalformed},
		{"a JSON array", event([]byte("[]")), nil, 400, approval.CodeMalformed},
		{"no event header", event(githubfake.DeploymentProtectionRuleBody(f.fake.URL, r, "requested")), []string{"X-GitHub-Event", ""}, 400, approval.CodeMalformed},
		{"no installation", event(withField(r, []string{"installation"}, nil)), nil, 422, approval.CodeValidation},
		{"no environment", event(withField(r, []string{"environment"}, "")), nil, 422, approval.CodeValidation},
		{"a repository name with a slash", event(withField(r, []string{"repository", "name"}, "a/b")), nil, 422, approval.CodeValidation},
		{"too large", event(big), nil, 413, approval.CodeTooLarge},
		{"text/plain", event(githubfake.DeploymentProtectionRuleBody(f.fake.URL, r, "requested")), []string{"Content-Type", "text/plain"}, 400, approval.CodeMalformed},
		{"no content type", event(githubfake.DeploymentProtectionRuleBody(f.fake.URL, r, "requested")), []string{"Content-Type", ""}, 400, approval.CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, m := f.post(tc.d, f.fake.WebhookSecret, tc.hdr...)
			if code != tc.want || m["code"] != tc.code {
				t.Fatalf("status %d %v, want %d %s", code, m, tc.want, tc.code)
			}
		})
	}
	if n := len(f.requestsOf("github:org/service/disclosure/6")); n != 0 {
		t.Errorf("%d requests", n)
	}
	if got := f.webhooks(ghapp.ResultMalformed); got != 9 {
		t.Errorf("malformed = %v, want 9", got)
	}
}

func TestWebhook_FormEncodedDeliveryIsAccepted(t *testing.T) {
	f := setup(t, nil)
	d := f.fake.DeploymentProtectionRule(run(8))
	form := "payload=" + url.QueryEscape(string(d.Body))
	d.Body = []byte(form)
	code, m := f.post(d, f.fake.WebhookSecret, "Content-Type", "application/x-www-form-urlencoded")
	if code != 202 || m["subject"] != "github:org/service/disclosure/8" {
		t.Fatalf("%d %v", code, m)
	}
}

func TestWebhook_RefusesACallbackURLThatIsNotTheAPIsRun(t *testing.T) {
	f := setup(t, nil)
	r := run(7)
	for _, cb := range []string{
		"https://evil.example/repos/org/service/actions/runs/7/deployment_protection_rule",
		f.fake.URL + ".evil.example/repos/org/service/actions/runs/7/deployment_protection_rule",
		f.fake.URL + "/repos/other/service/actions/runs/7/deployment_protection_rule",
		f.fake.URL + "/repos/org/service/actions/runs/7/deployment_protection_rule/../../../../../../app",
		f.fake.URL + "/repos/org/service/actions/runs/7x/deployment_protection_rule",
		f.fake.URL + "/repos/org/service/actions/runs/-7/deployment_protection_rule",
		f.fake.URL + "/repos/org/service/actions/runs//deployment_protection_rule",
		f.fake.URL + "/repos/org/service/actions/runs/7/deployment_protection_rule?x=1",
		"",
	} {
		var m map[string]any
		_ = json.Unmarshal(githubfake.DeploymentProtectionRuleBody(f.fake.URL, r, "requested"), &m)
		m["deployment_callback_url"] = cb
		body, _ := json.Marshal(m)
		code, ans := f.post(githubfake.Delivery{Event: "deployment_protection_rule", ID: githubfake.NewDeliveryID(), Body: body}, f.fake.WebhookSecret)
		if code != 422 || !strings.Contains(mustJSON(ans), "deployment_callback_url") {
			t.Errorf("callback %q: %d %v", cb, code, ans)
		}
	}
	if n := len(f.requestsOf("github:org/service/disclosure/7")); n != 0 {
		t.Errorf("%d requests", n)
	}
}

func TestWebhook_RedeliveryAndASecondEventOfTheRunGetTheOpenRequest(t *testing.T) {
	f := setup(t, nil)
	r := run(9)
	d := f.fake.DeploymentProtectionRule(r)
	_, first := f.post(d, f.fake.WebhookSecret)
	code, again := f.post(d, f.fake.WebhookSecret)
	if code != 202 || again["approval_id"] != first["approval_id"] || again["duplicate"] != true {
		t.Fatalf("redelivery: %d %v (first %v)", code, again, first)
	}
	second := f.fake.DeploymentProtectionRule(r) // another delivery id
	code, other := f.post(second, f.fake.WebhookSecret)
	if code != 202 || other["approval_id"] != first["approval_id"] || other["duplicate"] != true {
		t.Fatalf("second event of the run: %d %v", code, other)
	}
	// Without a delivery id (GitHub always sends one), the open request
	// still answers.
	if code, m := f.post(f.fake.DeploymentProtectionRule(r), f.fake.WebhookSecret, "X-GitHub-Delivery", ""); code != 202 || m["approval_id"] != first["approval_id"] {
		t.Fatalf("without a delivery id: %d %v", code, m)
	}
	if got := f.webhooks(ghapp.ResultDuplicate); got != 3 {
		t.Errorf("duplicate = %v", got)
	}
	// Decided but not yet delivered, it still stands for the run: GitHub
	// waits for that decision.
	id := first["approval_id"].(string)
	if _, err := f.eng.Review(f.ctx, alice, id, approval.ReviewInput{Decision: approval.DecisionReject, Comment: "not now"}, nil); err != nil {
		t.Fatal(err)
	}
	if code, m := f.post(f.fake.DeploymentProtectionRule(r), f.fake.WebhookSecret); code != 202 || m["approval_id"] != id || m["status"] != "acknowledged_rejected" {
		t.Errorf("an event while the decision is delivered: %d %v", code, m)
	}
	if n := len(f.requestsOf("github:org/service/disclosure/9")); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestWebhook_ARerunAfterTheDecisionOpensANewRequest(t *testing.T) {
	f := setup(t, nil)
	r := run(10)
	d := f.fake.DeploymentProtectionRule(r)
	code, m := f.post(d, f.fake.WebhookSecret)
	if code != 202 {
		t.Fatalf("%d %v", code, m)
	}
	first, err := f.eng.Get(f.ctx, m["approval_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Cancel(f.ctx, admin, first.ID, "superseded", nil); err != nil {
		t.Fatal(err)
	}
	// Delivered: the cancellation is final.
	claims, err := f.eng.ClaimDeliveries(f.ctx, time.Now(), time.Now().Add(time.Minute), nil, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claims %v %v", claims, err)
	}
	if _, err := f.eng.FinishDelivery(f.ctx, claims[0], approval.DeliveryResult{Attempts: 1, Done: true, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	// Redelivered now, the first delivery gets its own request back.
	if code, m := f.post(d, f.fake.WebhookSecret); code != 202 || m["approval_id"] != first.ID || m["duplicate"] != true {
		t.Errorf("the first delivery again after the decision: %d %v", code, m)
	}
	second := f.open(r)
	if second.ID == first.ID {
		t.Fatalf("the re-run got the cancelled request %s", first.ID)
	}
	// The first delivery, redelivered now, gets the run's open request:
	// nothing new is opened.
	if code, m := f.post(d, f.fake.WebhookSecret); code != 202 || m["approval_id"] != second.ID || m["duplicate"] != true {
		t.Errorf("the first delivery again: %d %v", code, m)
	}
	if n := len(f.requestsOf("github:org/service/disclosure/10")); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestWebhook_ConcurrentDeliveriesOpenOneRequest(t *testing.T) {
	f := setup(t, nil)
	r := run(11)
	same := f.fake.DeploymentProtectionRule(r)
	type answer struct {
		code int
		id   any
	}
	answers := make(chan answer, 20)
	for i := range 20 {
		d := same
		if i%2 == 1 {
			d = f.fake.DeploymentProtectionRule(r) // another delivery of the same run
		}
		go func() {
			req, _ := d.Request(f.ctx, f.hook, f.fake.WebhookSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{code: -1}
				return
			}
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			answers <- answer{resp.StatusCode, m["approval_id"]}
		}()
	}
	ids := map[any]int{}
	for range 20 {
		a := <-answers
		if a.code != 202 {
			t.Errorf("status %d", a.code)
		}
		ids[a.id]++
	}
	if len(ids) != 1 {
		t.Errorf("%d different requests: %v", len(ids), ids)
	}
	if n := len(f.requestsOf("github:org/service/disclosure/11")); n != 1 {
		t.Errorf("%d requests stored", n)
	}
	if a, d := f.webhooks(ghapp.ResultAccepted), f.webhooks(ghapp.ResultDuplicate); a != 1 || d != 19 {
		t.Errorf("accepted %v, duplicate %v", a, d)
	}
}

func TestWebhook_AStoredPolicyMatchingTheEnvironmentApplies(t *testing.T) {
	f := setup(t, nil)
	if _, err := f.eng.CreatePolicy(f.ctx, admin, approval.StoredPolicy{
		Name: "disclosure", Match: `payload.environment == "disclosure" && payload.repository.startsWith("org/")`,
		Policy: approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2}}},
	}); err != nil {
		t.Fatal(err)
	}
	req := f.open(run(12))
	if req.PolicySource != "policy:disclosure" {
		t.Fatalf("policy source %q", req.PolicySource)
	}
	sandbox := run(13)
	sandbox.Environment = "sandbox"
	if other := f.open(sandbox); other.PolicySource != engine.SourceDefault {
		t.Errorf("sandbox policy source %q", other.PolicySource)
	}
	after, err := f.eng.Review(f.ctx, alice, req.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != approval.StatusPending {
		t.Fatalf("after one approval: %s", after.Status)
	}
	if after, err = f.eng.Review(f.ctx, bob, req.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	if after.Status != approval.StatusAcknowledgedApproved {
		t.Fatalf("after two approvals: %s", after.Status)
	}
}

func TestEnsureRule(t *testing.T) {
	f := setup(t, nil)
	rule, err := f.eng.Rule(f.ctx, "github")
	if err != nil {
		t.Fatal(err)
	}
	if rule.Format != approval.FormatGitHub || rule.URL != f.fake.URL {
		t.Errorf("rule %+v", rule)
	}
	if err := f.app.EnsureRule(f.ctx); err != nil {
		t.Errorf("again: %v", err)
	}
	// A github rule pointing elsewhere is pointed at the configured API.
	if _, err := f.eng.UpdateRule(f.ctx, admin, "github", func(r *approval.ServiceRule) { r.URL = "https://ghes.example.test/api/v3" }); err != nil {
		t.Fatal(err)
	}
	if err := f.app.EnsureRule(f.ctx); err != nil {
		t.Fatal(err)
	}
	if rule, _ := f.eng.Rule(f.ctx, "github"); rule.URL != f.fake.URL {
		t.Errorf("URL %s", rule.URL)
	}
	// A rule of that name with another format stops the start.
	if _, err := f.eng.CreateRule(f.ctx, admin, approval.ServiceRule{Name: "hooks", URL: "https://example.test/hook"}); err != nil {
		t.Fatal(err)
	}
	other, err := ghapp.New(ghapp.Config{AppID: appID, PrivateKey: f.fake.PrivateKeyPEM, WebhookSecret: []byte("s"), APIURL: f.fake.URL, ServiceRule: "hooks"}, f.eng)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.EnsureRule(f.ctx); err == nil || !strings.Contains(err.Error(), `format "standard"`) {
		t.Errorf("EnsureRule over a standard rule: %v", err)
	}
}

func TestNew_RefusesBadSettingsWithoutShowingSecrets(t *testing.T) {
	t.Parallel()
	fake := githubfake.New(t, appID)
	eng := engine.New(nil)
	good := ghapp.Config{AppID: appID, PrivateKey: fake.PrivateKeyPEM, WebhookSecret: []byte("hook-secret"), APIURL: "https://api.github.com", ServiceRule: "github"}
	if _, err := ghapp.New(good, eng); err != nil {
		t.Fatalf("good config: %v", err)
	}
	notRSA := []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKcWZPvpvBSRqPUrH4RUJ8G/Hh7ORkZ6xtM8Cz6pSvTq\n-----END PRIVATE KEY-----\n")
	for name, mut := range map[string]func(*ghapp.Config){
		"no app id":      func(c *ghapp.Config) { c.AppID = 0 },
		"no key":         func(c *ghapp.Config) { c.PrivateKey = nil },
		"garbage key":    func(c *ghapp.Config) { c.PrivateKey = []byte("hook-secret-looking key material") },
		"ed25519 key":    func(c *ghapp.Config) { c.PrivateKey = notRSA },
		"no secret":      func(c *ghapp.Config) { c.WebhookSecret = nil },
		"ftp api":        func(c *ghapp.Config) { c.APIURL = "ftp://api.github.com" },
		"relative api":   func(c *ghapp.Config) { c.APIURL = "api.github.com" },
		"api with query": func(c *ghapp.Config) { c.APIURL = "https://api.github.com/?x=1" },
		"no rule":        func(c *ghapp.Config) { c.ServiceRule = "" },
	} {
		c := good
		mut(&c)
		_, err := ghapp.New(c, eng)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "hook-secret") || strings.Contains(err.Error(), "MC4CAQAw") {
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
	}
}

// TestWebhook_RepositoryNamesGitHubAllows: ".github" and "_private" are
// repository names GitHub allows; "." and ".." are not names at all.
func TestWebhook_RepositoryNamesGitHubAllows(t *testing.T) {
	f := setup(t, nil)
	for i, repo := range []string{".github", "_private", "a.b-c_d"} {
		r := run(int64(700 + i))
		r.Repo = repo
		if req := f.open(r); req.Subject != "github:org/"+repo+"/disclosure/"+strconv.Itoa(700+i) {
			t.Errorf("%s: subject %q", repo, req.Subject)
		}
	}
	for i, repo := range []string{".", ".."} {
		r := run(int64(800 + i))
		r.Repo = repo
		if code, m := f.post(f.fake.DeploymentProtectionRule(r), f.fake.WebhookSecret); code != http.StatusUnprocessableEntity {
			t.Errorf("repository %q: %d %v, want 422", repo, code, m)
		}
	}
}
