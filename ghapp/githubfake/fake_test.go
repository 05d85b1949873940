package githubfake_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-github/v84/github"

	"approvald/ghapp/githubfake"
)

// call POSTs body to the fake's path with Authorization auth and returns
// the status and the JSON answer.
func call(t *testing.T, f *githubfake.Fake, path, auth, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func sign(t *testing.T, key any, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFake_TokenExchangeChecksTheAppJWT(t *testing.T) {
	t.Parallel()
	f := githubfake.New(t, 12)
	f.AddInstallation(3)
	key, err := jwt.ParseRSAPrivateKeyFromPEM(f.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	good := jwt.MapClaims{"iss": "12", "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(9 * time.Minute).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for name, tc := range map[string]struct {
		auth string
		want int
	}{
		"good":                 {"Bearer " + sign(t, key, jwt.SigningMethodRS256, good), 201},
		"numeric iss":          {"Bearer " + sign(t, key, jwt.SigningMethodRS256, with("iss", 12)), 201},
		"another App":          {"Bearer " + sign(t, key, jwt.SigningMethodRS256, with("iss", "13")), 401},
		"no iss":               {"Bearer " + sign(t, key, jwt.SigningMethodRS256, with("iss", nil)), 401},
		"expired":              {"Bearer " + sign(t, key, jwt.SigningMethodRS256, with("exp", now.Add(-time.Second).Unix())), 401},
		"no exp":               {"Bearer " + sign(t, key, jwt.SigningMethodRS256, with("exp", nil)), 401},
		"exp 11 minutes ahead": {"Bearer " + sign(t, key, jwt.SigningMethodRS256, with("exp", now.Add(11*time.Minute).Unix())), 401},
		"issued in the future": {"Bearer " + sign(t, key, jwt.SigningMethodRS256, with("iat", now.Add(5*time.Minute).Unix())), 401},
		"another key":          {"Bearer " + sign(t, other, jwt.SigningMethodRS256, good), 401},
		"HS256":                {"Bearer " + sign(t, f.PrivateKeyPEM, jwt.SigningMethodHS256, good), 401},
		"no credential":        {"", 401},
	} {
		code, m := call(t, f, "/app/installations/3/access_tokens", tc.auth, "")
		if code != tc.want {
			t.Errorf("%s: %d %v, want %d", name, code, m, tc.want)
		}
		if code == 201 && (!strings.HasPrefix(m["token"].(string), "ghs_") || m["expires_at"] == nil) {
			t.Errorf("%s: answer %v", name, m)
		}
	}
	if code, _ := call(t, f, "/app/installations/4/access_tokens", "Bearer "+sign(t, key, jwt.SigningMethodRS256, good), ""); code != 404 {
		t.Errorf("unknown installation: %d", code)
	}
}

func TestFake_ReviewFollowsGitHubsRules(t *testing.T) {
	t.Parallel()
	f := githubfake.New(t, 12)
	f.AddRun(githubfake.Run{Owner: "o", Repo: "r", ID: 5, Environment: "prod", Installation: 3})
	f.AddRun(githubfake.Run{Owner: "o", Repo: "other", ID: 6, Environment: "prod", Installation: 4})
	key, _ := jwt.ParseRSAPrivateKeyFromPEM(f.PrivateKeyPEM)
	app := jwt.MapClaims{"iss": "12", "iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()}
	_, tok := call(t, f, "/app/installations/3/access_tokens", "Bearer "+sign(t, key, jwt.SigningMethodRS256, app), "")
	token := tok["token"].(string)
	const path = "/repos/o/r/actions/runs/5/deployment_protection_rule"
	review := `{"environment_name":"prod","state":"approved","comment":"ok"}`
	for _, tc := range []struct {
		name, path, auth, body string
		want                   int
	}{
		{"unknown token", path, "Bearer ghs_nope", review, 401},
		{"the App JWT", path, "Bearer " + sign(t, key, jwt.SigningMethodRS256, app), review, 401},
		{"unknown run", "/repos/o/r/actions/runs/9/deployment_protection_rule", "Bearer " + token, review, 404},
		{"another installation's run", "/repos/o/other/actions/runs/6/deployment_protection_rule", "Bearer " + token, review, 404},
		{"bad state", path, "token " + token, `{"environment_name":"prod","state":"maybe"}`, 422},
		{"no environment", path, "token " + token, `{"state":"approved"}`, 422},
		{"environment not waiting", path, "token " + token, `{"environment_name":"staging","state":"approved"}`, 422},
		{"not JSON", path, "token " + token, `{`, 400},
		{"good, token scheme", path, "token " + token, review, 204},
		{"already reviewed", path, "Bearer " + token, review, 422},
	} {
		if code, m := call(t, f, tc.path, tc.auth, tc.body); code != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, code, m, tc.want)
		}
	}
	if cbs := f.Callbacks(); len(cbs) != 1 || cbs[0].Token != token || cbs[0].Installation != 3 || cbs[0].State != "approved" || cbs[0].Comment != "ok" {
		t.Errorf("callbacks %+v", cbs)
	}
	f.ExpireTokens()
	f.AddRun(githubfake.Run{Owner: "o", Repo: "r", ID: 7, Environment: "prod", Installation: 3})
	if code, _ := call(t, f, "/repos/o/r/actions/runs/7/deployment_protection_rule", "Bearer "+token, review); code != 401 {
		t.Errorf("expired token: %d", code)
	}
}

// TestFake_DeliveryParsesAsGitHubsEvent: go-github, which follows GitHub's
// documented shapes and which the App parses deliveries with, reads the
// fake's complete events — everything the App takes from them — and
// checks their signature.
func TestFake_DeliveryParsesAsGitHubsEvent(t *testing.T) {
	t.Parallel()
	f := githubfake.New(t, 12)
	runs := map[string]githubfake.Run{"minimal": {Owner: "o", Repo: "r", ID: 42, Environment: "prod", Installation: 3, Ref: "main", SHA: "abc", PullRequests: []int{1, 2}}}
	for name, run := range schemaRuns {
		runs[name] = run
	}
	for name, run := range runs {
		d := f.DeploymentProtectionRule(run)
		req, err := d.Request(context.Background(), "http://example.test/hook", f.WebhookSecret)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := github.ValidatePayload(req, f.WebhookSecret)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ev, err := github.ParseWebHook(github.WebHookType(req), payload)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e := ev.(*github.DeploymentProtectionRuleEvent)
		event, sender := run.Event, run.Sender
		if event == "" {
			event = "push"
		}
		if sender == "" {
			sender = "octocat"
		}
		var prs []int
		for _, pr := range e.PullRequests {
			prs = append(prs, pr.GetNumber())
			if pr.GetHead().GetRepo().GetFullName() != run.Owner+"/"+run.Repo || pr.GetUser().GetLogin() != sender {
				t.Errorf("%s: pull request %+v", name, pr)
			}
		}
		id, err := e.GetRunID()
		if err != nil || id != run.ID || e.GetEnvironment() != run.Environment || e.GetInstallation().GetID() != run.Installation ||
			e.GetRepo().GetFullName() != run.Owner+"/"+run.Repo || e.GetRepo().GetOwner().GetLogin() != run.Owner || e.GetRepo().GetName() != run.Repo ||
			e.GetDeployment().GetSHA() != run.SHA || e.GetDeployment().GetRef() != run.Ref || (run.DeploymentID != 0 && e.GetDeployment().GetID() != run.DeploymentID || e.GetDeployment().GetID() <= 0) ||
			e.GetSender().GetLogin() != sender || e.GetEvent() != event || fmt.Sprint(prs) != fmt.Sprint(run.PullRequests) ||
			e.GetAction() != "requested" || github.DeliveryID(req) != d.ID {
			t.Errorf("%s: event %+v (run %d, %v)", name, e, id, err)
		}
		org := e.GetOrganization()
		if wantOrg := run.OwnerType != githubfake.OwnerUser; (org != nil) != wantOrg || wantOrg && org.GetLogin() != run.Owner {
			t.Errorf("%s: organization %+v of an owner of type %q", name, org, e.GetRepo().GetOwner().GetType())
		}
		// Names GitHub allows go into the callback as they are; others
		// (only tests make them) escaped.
		cb := fmt.Sprintf("%s/repos/%s/%s/actions/runs/%d/deployment_protection_rule", f.URL, url.PathEscape(run.Owner), url.PathEscape(run.Repo), run.ID)
		if name == "minimal" && cb != f.URL+"/repos/o/r/actions/runs/42/deployment_protection_rule" || e.GetDeploymentCallbackURL() != cb {
			t.Errorf("%s: callback %s, want %s", name, e.GetDeploymentCallbackURL(), cb)
		}
		if html := e.GetRepo().GetHTMLURL(); !strings.HasPrefix(html, "https://github.com/") {
			t.Errorf("%s: html_url %s", name, html)
		}
	}
}
