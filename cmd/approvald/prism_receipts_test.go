package main

import (
	"context"
	"net/http"
	"testing"

	"approvald/ghapp/githubfake"
)

// TestPrism_ReceiptsKeysAndGitHubWebhookMatchTheServedDocument: issue 22's
// routes through Prism's validating proxy, on a server acting as a GitHub
// App (the fake's): the receipts' keys, a receipt before (409) and after
// the decision, a release record asked of a request that is no
// publication (404), and GitHub's deliveries — a ping, a signed
// deployment_protection_rule event (202), its redelivery (202, duplicate),
// a tampered one (401) and another event (200, ignored).
func TestPrism_ReceiptsKeysAndGitHubWebhookMatchTheServedDocument(t *testing.T) {
	t.Parallel()
	prismBin(t)
	fake := githubfake.New(t, 4242)
	base := startServer(t, githubEnv(t, fake))
	prism := startPrism(t, base)
	checked := &http.Client{Transport: prismChecked{t}}
	admin := client{t: t, base: prism, key: testAdminKey, hc: checked}

	keys := admin.must(200, "GET", "/.well-known/approvald/keys", nil)
	if ks, _ := keys["keys"].([]any); len(ks) != 1 {
		t.Errorf("JWKS %v, want the one key made at start", keys)
	}
	rev := admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": "reviewer", "scopes": []string{"approvals:review", "approvals:read"}})
	reviewer := admin.as(rev["key"].(string))
	id := admin.must(201, "POST", "/v1/approvals", map[string]any{"title": "Release cohort 9", "payload": map[string]any{"cohort": 9}})["id"].(string)
	admin.must(409, "GET", "/v1/approvals/"+id+"/receipt", nil)
	reviewer.must(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"})
	env := reviewer.must(200, "GET", "/v1/approvals/"+id+"/receipt", nil)
	if env["payloadType"] != "application/vnd.in-toto+json" {
		t.Errorf("receipt %v", env)
	}
	reviewer.must(404, "GET", "/v1/approvals/"+id+"/release-record", nil)
	reviewer.must(404, "GET", "/v1/approvals/0190a5f0-0000-7000-8000-000000000001/receipt", nil)

	send := func(d githubfake.Delivery, secret []byte, want int) {
		t.Helper()
		req, err := d.Request(context.Background(), prism+"/v1/github/webhook", secret)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := checked.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s delivery: %d, want %d", d.Event, resp.StatusCode, want)
		}
	}
	send(fake.Ping(), fake.WebhookSecret, 200)
	run := githubfake.Run{Owner: "octo-org", Repo: "dar-pr004", ID: 77, Environment: "signoff", Installation: 5, Ref: "refs/heads/main",
		SHA: "0123456789abcdef0123456789abcdef01234567", Sender: "mona"}
	d := fake.DeploymentProtectionRule(run)
	send(d, fake.WebhookSecret, 202)
	send(d, fake.WebhookSecret, 202)
	send(d, []byte("not the app's secret"), 401)
	other := d
	other.Event = "push"
	send(other, fake.WebhookSecret, 200)
}
