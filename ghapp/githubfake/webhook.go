package githubfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Delivery is one webhook delivery as GitHub sends it: the event's name
// (X-GitHub-Event), its id (X-GitHub-Delivery) and its JSON body. Tests
// may change any of them before building the request.
type Delivery struct {
	Event string
	ID    string
	Body  []byte
}

// NewDeliveryID returns a new delivery id (a random GUID, as GitHub's).
func NewDeliveryID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// DeploymentProtectionRule returns the deployment_protection_rule delivery
// (action requested) GitHub sends when run reaches its environment, its
// deployment_callback_url on the fake's API; the run is made to wait
// (AddRun).
func (f *Fake) DeploymentProtectionRule(run Run) Delivery {
	f.AddRun(run)
	return Delivery{Event: "deployment_protection_rule", ID: NewDeliveryID(), Body: DeploymentProtectionRuleBody(f.URL, run, "requested")}
}

// Ping returns the ping delivery GitHub sends when the webhook is set up.
func Ping() Delivery {
	body, _ := json.Marshal(map[string]any{"zen": "Keep it logically awesome.", "hook_id": 1,
		"hook": map[string]any{"type": "App", "id": 1, "active": true, "events": []string{"deployment_protection_rule"}}})
	return Delivery{Event: "ping", ID: NewDeliveryID(), Body: body}
}

// DeploymentProtectionRuleBody returns the body of a
// deployment_protection_rule event with action for run, in the shape
// GitHub documents (action, environment, event, deployment_callback_url,
// deployment, pull_requests, repository, organization, installation,
// sender), its callback URL under apiURL.
func DeploymentProtectionRuleBody(apiURL string, run Run, action string) []byte {
	event, sender := run.Event, run.Sender
	if event == "" {
		event = "push"
	}
	if sender == "" {
		sender = "octocat"
	}
	repoAPI := fmt.Sprintf("%s/repos/%s/%s", apiURL, run.Owner, run.Repo)
	now := time.Now().UTC().Format(time.RFC3339)
	user := map[string]any{"login": sender, "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": "User", "site_admin": false,
		"html_url": "https://github.com/" + sender}
	var prs []map[string]any
	for _, n := range run.PullRequests {
		prs = append(prs, map[string]any{"number": n, "id": 1000 + n, "url": fmt.Sprintf("%s/pulls/%d", repoAPI, n),
			"html_url": fmt.Sprintf("https://github.com/%s/%s/pull/%d", run.Owner, run.Repo, n), "state": "open"})
	}
	if prs == nil {
		prs = []map[string]any{}
	}
	body := map[string]any{
		"action":                  action,
		"environment":             run.Environment,
		"event":                   event,
		"deployment_callback_url": fmt.Sprintf("%s/actions/runs/%d/deployment_protection_rule", repoAPI, run.ID),
		"deployment": map[string]any{
			"url": fmt.Sprintf("%s/deployments/%d", repoAPI, run.DeploymentID), "id": run.DeploymentID, "node_id": "DE_kwDOfake",
			"sha": run.SHA, "ref": run.Ref, "task": "deploy", "payload": map[string]any{},
			"original_environment": run.Environment, "environment": run.Environment, "description": nil,
			"creator": user, "created_at": now, "updated_at": now,
			"statuses_url": fmt.Sprintf("%s/deployments/%d/statuses", repoAPI, run.DeploymentID), "repository_url": repoAPI,
		},
		"pull_requests": prs,
		"repository": map[string]any{
			"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": run.Repo, "full_name": run.Owner + "/" + run.Repo,
			"private": false, "owner": map[string]any{"login": run.Owner, "id": 9919, "type": "Organization"},
			"html_url": fmt.Sprintf("https://github.com/%s/%s", run.Owner, run.Repo), "url": repoAPI,
		},
		"organization": map[string]any{"login": run.Owner, "id": 9919, "url": apiURL + "/orgs/" + run.Owner},
		"installation": map[string]any{"id": run.Installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u"},
		"sender":       user,
	}
	b, _ := json.Marshal(body)
	return b
}

// Signature returns the X-Hub-Signature-256 of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Signature(body, secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Request returns the POST of d to target as GitHub sends it:
// Content-Type application/json, X-GitHub-Event, X-GitHub-Delivery,
// X-GitHub-Hook-ID, User-Agent GitHub-Hookshot/…, and X-Hub-Signature-256
// under secret (none when secret is nil).
func (d Delivery) Request(ctx context.Context, target string, secret []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/fake")
	req.Header.Set("X-GitHub-Event", d.Event)
	req.Header.Set("X-GitHub-Delivery", d.ID)
	req.Header.Set("X-GitHub-Hook-ID", "1")
	if secret != nil {
		req.Header.Set("X-Hub-Signature-256", Signature(d.Body, secret))
	}
	return req, nil
}
