package ghapp_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"approvald/approval"
	"approvald/engine"
	"approvald/ghapp"
	"approvald/ghapp/githubfake"
	"approvald/store/sqlite"
)

// FuzzServeWebhook feeds the webhook signed deliveries of any event, body
// and content type: it never panics, answers only with the statuses it
// documents, and a 202 always names a stored request of the App on the
// configured API's run.
func FuzzServeWebhook(f *testing.F) {
	fake := githubfake.New(f, appID)
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	eng := engine.New(st)
	app, err := ghapp.New(ghapp.Config{AppID: appID, PrivateKey: fake.PrivateKeyPEM, WebhookSecret: fake.WebhookSecret, APIURL: fake.URL, ServiceRule: "github"}, eng)
	if err != nil {
		f.Fatal(err)
	}
	if err := app.EnsureRule(context.Background()); err != nil {
		f.Fatal(err)
	}
	r := run(1)
	f.Add("deployment_protection_rule", "application/json", githubfake.DeploymentProtectionRuleBody(fake.URL, r, "requested"))
	f.Add("deployment_protection_rule", "application/json", githubfake.DeploymentProtectionRuleBody("https://evil.example", r, "requested"))
	f.Add("deployment_protection_rule", "application/json", []byte(`{"action":"requested","environment":"e","deployment_callback_url":"`+fake.URL+`/repos/a/b/actions/runs/1/deployment_protection_rule","repository":{"name":"b","owner":{"login":"a"}},"installation":{"id":1}}`))
	f.Add("deployment_protection_rule", "application/x-www-form-urlencoded", []byte("payload=%7B%7D"))
	f.Add("ping", "application/json", []byte(`{"zen":"z"}`))
	f.Add("push", "text/plain", []byte(`x`))
	f.Add("", "application/json", []byte(`null`))
	f.Fuzz(func(t *testing.T, event, contentType string, body []byte) {
		req := httptest.NewRequest("POST", "/v1/github/webhook", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", githubfake.NewDeliveryID())
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Hub-Signature-256", githubfake.Signature(body, fake.WebhookSecret))
		w := httptest.NewRecorder()
		err := app.ServeWebhook(w, req)
		status := w.Code
		if err != nil {
			switch k := approval.KindOf(err); k {
			case approval.KindMalformed, approval.KindInvalid, approval.KindTooLarge:
			default:
				t.Fatalf("error of kind %d: %v", k, err)
			}
			return
		}
		switch status {
		case http.StatusOK:
		case http.StatusAccepted:
			got, _, err := eng.List(context.Background(), approval.Filter{ServiceRule: "github", Limit: 1})
			if err != nil || len(got) == 0 || got[0].Requester != "github-app:4242" {
				t.Fatalf("202 without a stored request: %v %v", got, err)
			}
		default:
			t.Fatalf("status %d", status)
		}
	})
}
