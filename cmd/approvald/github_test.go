package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"approvald/ghapp/githubfake"
	"approvald/internal/testkit"
)

// githubEnv returns the settings of an approvald acting as the fake's App.
func githubEnv(t *testing.T, fake *githubfake.Fake) map[string]string {
	return map[string]string{
		"APPROVALD_DATABASE":               "sqlite:" + filepath.Join(t.TempDir(), "github.db"),
		"APPROVALD_ADMIN_KEY":              testAdminKey,
		"APPROVALD_PUBLIC_URL":             "https://approvals.example.test",
		"APPROVALD_GITHUB_APP_ID":          fmt.Sprint(fake.AppID),
		"APPROVALD_GITHUB_API_URL":         fake.URL,
		"APPROVALD_GITHUB_WEBHOOK_SECRET":  string(fake.WebhookSecret),
		"APPROVALD_GITHUB_APP_PRIVATE_KEY": string(fake.PrivateKeyPEM),
	}
}

// postDelivery sends d to approvald's webhook signed with secret and
// returns the status and the JSON answer.
func postDelivery(t *testing.T, base string, d githubfake.Delivery, secret []byte, tamper func(*http.Request)) (int, map[string]any) {
	t.Helper()
	req, err := d.Request(context.Background(), base+"/v1/github/webhook", secret)
	if err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("the answer %d is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, m
}

// metric returns the value of the sample line of name (with its labels,
// as /metrics writes them), or -1 when there is none.
func metric(t *testing.T, base, sample string) float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return -1
}

// TestGitHub_DeploymentApprovedByTwoReviewersReachesGitHub runs approvald
// as the App of a fake GitHub: a signed deployment_protection_rule event
// opens a request under the stored policy whose match names the
// environment (two approvals); a tampered one is refused and opens
// nothing; once approved, the review reaches GitHub as the installation,
// through GitHub's outage.
func TestGitHub_DeploymentApprovedByTwoReviewersReachesGitHub(t *testing.T) {
	t.Parallel()
	fake := githubfake.New(t, 31337)
	base, logs, _ := startServerLogs(t, githubEnv(t, fake))
	admin := client{t: t, base: base, key: testAdminKey}
	admin.must(201, "POST", "/v1/policies", map[string]any{"name": "disclosure", "match": `payload.environment == "disclosure"`,
		"policy": map[string]any{"rules": []any{map[string]any{"name": "two", "min_approvals": 2}}}})
	reviewer := func(name string) client {
		m := admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": []string{"approvals:review", "approvals:read"}})
		return admin.as(m["key"].(string))
	}
	alice, bob := reviewer("alice"), reviewer("bob")

	run := githubfake.Run{Owner: "octo-org", Repo: "release", ID: 4815162342, Environment: "disclosure", Installation: 99,
		Ref: "refs/tags/v1.2.0", SHA: "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0", Sender: "mona", PullRequests: []int{7}}
	d := fake.DeploymentProtectionRule(run)
	subject := "github:octo-org/release/disclosure/4815162342"

	// Tampered: refused, nothing opened.
	code, m := postDelivery(t, base, d, fake.WebhookSecret, func(r *http.Request) {
		body := bytes.Replace(d.Body, []byte(`"disclosure"`), []byte(`"sandbox"`), -1)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	})
	if code != 401 || m["code"] != "unauthenticated" {
		t.Fatalf("tampered delivery: %d %v", code, m)
	}
	if list := admin.must(200, "GET", "/v1/approvals?subject="+subject, nil); len(list["items"].([]any)) != 0 {
		t.Fatalf("a tampered delivery opened %v", list["items"])
	}

	code, m = postDelivery(t, base, d, fake.WebhookSecret, nil)
	if code != 202 || m["subject"] != subject {
		t.Fatalf("delivery: %d %v", code, m)
	}
	id := m["approval_id"].(string)
	req := admin.must(200, "GET", "/v1/approvals/"+id, nil)
	if req["policy_source"] != "policy:disclosure" || req["requester"] != "github-app:31337" || req["service_rule"] != "github" ||
		req["title"] != "Deploy octo-org/release to disclosure" {
		t.Errorf("request: %v", req)
	}
	if p := req["payload"].(map[string]any); p["repository"] != "octo-org/release" || p["run_id"] != 4815162342.0 || p["installation_id"] != 99.0 || p["actor"] != "mona" {
		t.Errorf("payload %v", p)
	}
	// A redelivery gets the same request.
	if code, again := postDelivery(t, base, d, fake.WebhookSecret, nil); code != 202 || again["approval_id"] != id || again["duplicate"] != true {
		t.Errorf("redelivery: %d %v", code, again)
	}

	// GitHub is down when the decision goes out: the delivery is retried.
	fake.FailNext(2, 502)
	alice.must(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve", "comment": "checked the outputs"})
	if got := admin.must(200, "GET", "/v1/approvals/"+id, nil); got["status"] != "pending" {
		t.Fatalf("after one approval: %v", got["status"])
	}
	bob.must(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"})
	var final map[string]any
	testkit.Eventually(t, 30*time.Second, func() (bool, string) {
		final = admin.must(200, "GET", "/v1/approvals/"+id, nil)
		return final["status"] == "approved", fmt.Sprintf("status %v, delivery %v", final["status"], final["delivery"])
	})
	if attempts := final["delivery"].(map[string]any)["attempts"]; attempts != 3.0 {
		t.Errorf("delivered after %v attempts, want 3 (two 502s)", attempts)
	}
	cbs, xs := fake.Callbacks(), fake.Exchanges()
	if len(cbs) != 1 || len(xs) != 1 {
		t.Fatalf("callbacks %+v, exchanges %+v", cbs, xs)
	}
	cb := cbs[0]
	if cb.State != "approved" || cb.Owner != "octo-org" || cb.Repo != "release" || cb.RunID != 4815162342 || cb.Environment != "disclosure" ||
		cb.Installation != 99 || cb.Token != xs[0].Token {
		t.Errorf("callback %+v", cb)
	}
	if !strings.Contains(cb.Comment, "svc:alice") || !strings.Contains(cb.Comment, "svc:bob") ||
		!strings.Contains(cb.Comment, "https://approvals.example.test/ui/requests/"+id) {
		t.Errorf("comment %q", cb.Comment)
	}
	for sample, want := range map[string]float64{
		`approvald_github_webhooks_total{result="accepted"}`:      1,
		`approvald_github_webhooks_total{result="duplicate"}`:     1,
		`approvald_github_webhooks_total{result="bad_signature"}`: 1,
		`approvald_github_webhooks_total{result="unsigned"}`:      0,
	} {
		if got := metric(t, base, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	for _, secret := range []string{string(fake.WebhookSecret), xs[0].Token, "PRIVATE KEY"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows a secret (%.12s…)", secret)
		}
	}
}

// TestGitHub_StartRefusals: approvald does not start with a GitHub App
// it cannot run: a rule of the App's name with another format, or an API
// on loopback while private targets are refused.
func TestGitHub_StartRefusals(t *testing.T) {
	t.Parallel()
	fake := githubfake.New(t, 5)
	env := githubEnv(t, fake)
	base, _, stop := startServerLogs(t, map[string]string{"APPROVALD_DATABASE": env["APPROVALD_DATABASE"], "APPROVALD_ADMIN_KEY": testAdminKey})
	client{t: t, base: base, key: testAdminKey}.must(201, "POST", "/v1/service-rules", map[string]any{"name": "github", "url": "https://hooks.example.test/x"})
	stop()
	err, _ := runFails(t, nil, env)
	if err == nil || !strings.Contains(err.Error(), `the service rule "github" exists with the format "standard"`) {
		t.Errorf("over a standard rule named github: %v", err)
	}
	env = githubEnv(t, fake)
	env["APPROVALD_ALLOW_PRIVATE_TARGETS"] = "false"
	if err, _ := runFails(t, nil, env); err == nil || !strings.Contains(err.Error(), "--github-service-rule") {
		t.Errorf("a loopback API without private targets: %v", err)
	}
}

func TestConfig_GitHubAppSettings(t *testing.T) {
	t.Parallel()
	fake := githubfake.New(t, 77)
	good := map[string]string{
		"SECRETS_MNT_PATH":                 t.TempDir(),
		"APPROVALD_GITHUB_APP_ID":          "77",
		"APPROVALD_GITHUB_WEBHOOK_SECRET":  "Hook-S3cret",
		"APPROVALD_GITHUB_APP_PRIVATE_KEY": string(fake.PrivateKeyPEM),
	}
	cfg, err := parseConfig(nil, envOf(good), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GitHub.AppID != 77 || cfg.GitHub.APIURL != "https://api.github.com" || cfg.GitHub.ServiceRule != "github" {
		t.Errorf("settings %+v", cfg.GitHub.AppID)
	}
	// The App off: its secrets are not asked for.
	if _, err := parseConfig(nil, envOf(map[string]string{"SECRETS_MNT_PATH": t.TempDir()}), io.Discard); err != nil {
		t.Errorf("off: %v", err)
	}
	// The secrets from files.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, githubWebhookSecretFile), []byte("Hook-S3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, githubPrivateKeyFile), fake.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = parseConfig([]string{"--github-app-id=77"}, envOf(map[string]string{"SECRETS_MNT_PATH": dir}), io.Discard)
	if err != nil || cfg.GitHub.WebhookSecret == "" || !strings.Contains(cfg.GitHub.PrivateKey, "RSA PRIVATE KEY") {
		t.Errorf("from files: %v", err)
	}

	ed25519 := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKcWZPvpvBSRqPUrH4RUJ8G/Hh7ORkZ6xtM8Cz6pSvTq\n-----END PRIVATE KEY-----\n"
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"no secret":       {map[string]string{"APPROVALD_GITHUB_WEBHOOK_SECRET": ""}, "APPROVALD_GITHUB_WEBHOOK_SECRET (or the secret file github-webhook-secret): is required"},
		"no key":          {map[string]string{"APPROVALD_GITHUB_APP_PRIVATE_KEY": ""}, "APPROVALD_GITHUB_APP_PRIVATE_KEY (or the secret file github-app-private-key): is required"},
		"not PEM":         {map[string]string{"APPROVALD_GITHUB_APP_PRIVATE_KEY": "Hook-S3cret-like key"}, "APPROVALD_GITHUB_APP_PRIVATE_KEY (or the secret file github-app-private-key): is not a PEM RSA private key"},
		"not RSA":         {map[string]string{"APPROVALD_GITHUB_APP_PRIVATE_KEY": ed25519}, "APPROVALD_GITHUB_APP_PRIVATE_KEY (or the secret file github-app-private-key): is not a PEM RSA private key"},
		"API not http":    {map[string]string{"APPROVALD_GITHUB_API_URL": "ftp://github.example"}, `--github-api-url (APPROVALD_GITHUB_API_URL): "ftp://github.example" is not an absolute http or https URL`},
		"API relative":    {map[string]string{"APPROVALD_GITHUB_API_URL": "github.example/api/v3"}, `--github-api-url (APPROVALD_GITHUB_API_URL): "github.example/api/v3" is not an absolute`},
		"API credentials": {map[string]string{"APPROVALD_GITHUB_API_URL": "https://u:p@github.example"}, `--github-api-url (APPROVALD_GITHUB_API_URL): `},
		"rule name":       {map[string]string{"APPROVALD_GITHUB_SERVICE_RULE": "GitHub App"}, `--github-service-rule (APPROVALD_GITHUB_SERVICE_RULE): "GitHub App" must be`},
		"negative id":     {map[string]string{"APPROVALD_GITHUB_APP_ID": "-3"}, `--github-app-id (APPROVALD_GITHUB_APP_ID): -3 is not an App id`},
		"id not a number": {map[string]string{"APPROVALD_GITHUB_APP_ID": "my-app"}, `--github-app-id (APPROVALD_GITHUB_APP_ID): "my-app" is not a whole number`},
	} {
		env := maps.Clone(good)
		env["SECRETS_MNT_PATH"] = t.TempDir()
		maps.Copy(env, tc.env)
		_, err := parseConfig(nil, envOf(env), io.Discard)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", name)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error\n%v\nwant one with\n%s", name, err, tc.want)
		case strings.Contains(err.Error(), "Hook-S3cret") || strings.Contains(err.Error(), "MC4CAQAw") || strings.Contains(err.Error(), "MII"):
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
	}
}
