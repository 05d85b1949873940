package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v84/github"
)

// githubLoad sends the deployment_protection_rule deliveries of the github
// scenario: one per operation, each for a run of its own (a repository
// named per load, run ids counted up), so that each opens a request.
type githubLoad struct {
	target string // <url>/v1/github/webhook
	apiURL string // the API URL the server is configured with
	secret []byte
	owner  string
	repo   string
	runs   atomic.Int64
}

// newGitHubLoad returns the deliveries' sender for o: its repository is
// named at random so that a run against a database an earlier run filled
// opens new requests rather than finding open ones.
func newGitHubLoad(o options) *githubLoad {
	return &githubLoad{
		target: o.target(),
		apiURL: o.githubAPIURL,
		secret: []byte(o.githubSecret),
		owner:  "approvald-load",
		repo:   "load-" + randomHex(4),
	}
}

// event returns the body of the deployment_protection_rule event (action
// requested) of run, as go-github (which approvald parses it with) models
// it, with what GitHub's carries that approvald reads: the repository and
// its owner, the environment, the installation, the deployment, the
// sender and the callback URL under the API URL.
func (g *githubLoad) event(run int64) ([]byte, error) {
	repoAPI := fmt.Sprintf("%s/repos/%s/%s", g.apiURL, g.owner, g.repo)
	now := &github.Timestamp{Time: time.Now().UTC()}
	sender := &github.User{Login: github.Ptr("octocat"), ID: github.Ptr(int64(583231)), Type: github.Ptr("User"),
		HTMLURL: github.Ptr("https://github.com/octocat")}
	ev := github.DeploymentProtectionRuleEvent{
		Action:                github.Ptr("requested"),
		Environment:           github.Ptr("production"),
		Event:                 github.Ptr("push"),
		DeploymentCallbackURL: github.Ptr(fmt.Sprintf("%s/actions/runs/%d/deployment_protection_rule", repoAPI, run)),
		Deployment: &github.Deployment{
			URL: github.Ptr(fmt.Sprintf("%s/deployments/%d", repoAPI, run)), ID: github.Ptr(run),
			SHA: github.Ptr("a10867b14bb761a232cd80139fbd4c0d33264240"), Ref: github.Ptr("main"), Task: github.Ptr("deploy"),
			Environment: github.Ptr("production"), Creator: sender, CreatedAt: now, UpdatedAt: now,
			StatusesURL: github.Ptr(fmt.Sprintf("%s/deployments/%d/statuses", repoAPI, run)), RepositoryURL: github.Ptr(repoAPI),
		},
		PullRequests: []*github.PullRequest{},
		Repo: &github.Repository{
			ID: github.Ptr(int64(1296269)), Name: github.Ptr(g.repo), FullName: github.Ptr(g.owner + "/" + g.repo),
			Private: github.Ptr(false), Owner: &github.User{Login: github.Ptr(g.owner), ID: github.Ptr(int64(9919)), Type: github.Ptr("Organization")},
			HTMLURL: github.Ptr("https://github.com/" + g.owner + "/" + g.repo), URL: github.Ptr(repoAPI),
		},
		Organization: &github.Organization{Login: github.Ptr(g.owner), ID: github.Ptr(int64(9919)), URL: github.Ptr(g.apiURL + "/orgs/" + g.owner)},
		Installation: &github.Installation{ID: github.Ptr(int64(4242))},
		Sender:       sender,
	}
	return json.Marshal(ev)
}

// signature returns the X-Hub-Signature-256 of body under secret:
// "sha256=" and the hex HMAC-SHA256, as GitHub signs its deliveries.
func signature(body, secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// deliveryID returns a new delivery id, a random GUID as GitHub's.
func deliveryID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// headers returns the headers of a delivery of body, as GitHub sends them.
func (g *githubLoad) headers(body []byte) http.Header {
	return http.Header{
		"Content-Type":        {"application/json"},
		"User-Agent":          {"GitHub-Hookshot/approvald-load"},
		"X-Github-Event":      {"deployment_protection_rule"},
		"X-Github-Delivery":   {deliveryID()},
		"X-Github-Hook-Id":    {"1"},
		"X-Hub-Signature-256": {signature(body, g.secret)},
	}
}

// client returns the step that sends one delivery, for a new run, timed
// from the request to the answer (the body is built and signed before).
// Only a 202 that opened a request counts: one that found an open request
// is a failure ("duplicate"), as is any other status.
func (g *githubLoad) client(hc *http.Client) step {
	return func(ctx context.Context, t *tallies) {
		run := 10_000_000_000 + g.runs.Add(1)
		body, err := g.event(run)
		if err != nil {
			t.failAs("deliver", "build")
			return
		}
		h := g.headers(body)
		start := time.Now()
		code, reply, err := send(ctx, hc, "POST", g.target, h, body)
		took := time.Since(start)
		switch {
		case ctx.Err() != nil:
		case err != nil || code != http.StatusAccepted:
			t.fail("deliver", code)
		case isDuplicate(reply):
			t.failAs("deliver", "duplicate")
		default:
			t.ok("deliver", took)
		}
	}
}

// isDuplicate reports whether the webhook's answer says the delivery found
// a request that existed (or is not the answer of an opened request).
func isDuplicate(reply []byte) bool {
	var a struct {
		ApprovalID string `json:"approval_id"`
		Duplicate  bool   `json:"duplicate"`
	}
	return json.Unmarshal(reply, &a) != nil || a.ApprovalID == "" || a.Duplicate
}

// bodySize returns the size of a delivery's body (they differ by the
// digits of the run id only), for the report.
func (g *githubLoad) bodySize() int {
	b, _ := g.event(10_000_000_000)
	return len(b)
}
