package githubfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultAPIURL is GitHub's REST API base URL, which Ping's links name.
const DefaultAPIURL = "https://api.github.com"

// HookID is the id of the App's webhook: the ping's hook_id and every
// delivery's X-GitHub-Hook-ID.
const HookID = 109948940

// The owner types a Run's OwnerType may name.
const (
	OwnerOrganization = "Organization"
	OwnerUser         = "User"
)

// avatarHost serves the accounts' avatars in the fake's events: a reserved
// name (RFC 2606), as the deliveries link to no host but GitHub's own and
// the fake's API.
const avatarHost = "https://avatars.example.com"

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

// Ping returns the ping delivery GitHub sends when the App's webhook is
// set up, its links on GitHub's API (DefaultAPIURL).
func Ping() Delivery {
	return Delivery{Event: "ping", ID: NewDeliveryID(), Body: PingBody(DefaultAPIURL, 0)}
}

// Ping returns the ping delivery GitHub sends when the webhook of the
// fake's App is set up: its app_id and links on the fake's API.
func (f *Fake) Ping() Delivery {
	return Delivery{Event: "ping", ID: NewDeliveryID(), Body: PingBody(f.URL, f.AppID)}
}

// PingBody returns the body of the ping event of the webhook of App appID
// (app_id left out when appID is 0), its links under apiURL, in the shape
// GitHub documents (zen, hook_id, hook).
func PingBody(apiURL string, appID int64) []byte {
	const created = "2026-01-05T09:12:44Z"
	hook := map[string]any{
		"type": "App", "id": HookID, "name": "web", "active": true,
		// GitHub lists the App's subscriptions; deployment_protection_rule
		// is one, but @octokit/webhooks-schemas 7.6.1 lets a hook's events
		// name only those repository and organization hooks can subscribe
		// to, which it is not: the ping names the App's other deployment
		// events only.
		"events": []string{"deployment", "deployment_status"},
		"config": map[string]any{"content_type": "json", "insecure_ssl": "0", "secret": "********",
			"url": "https://approvald.example.com/v1/github/webhook"},
		"created_at": created, "updated_at": created,
		"url":            apiURL + "/app/hook",
		"ping_url":       apiURL + "/app/hook/pings",
		"deliveries_url": apiURL + "/app/hook/deliveries",
	}
	if appID != 0 {
		hook["app_id"] = appID
	}
	b, _ := json.Marshal(map[string]any{"zen": "Keep it logically awesome.", "hook_id": HookID, "hook": hook})
	return b
}

// DeploymentProtectionRuleBody returns the body of a
// deployment_protection_rule event with action for run, complete in the
// shape GitHub documents and @octokit/webhooks-schemas describes (action,
// environment, event, deployment_callback_url, deployment, pull_requests,
// repository, organization — for an organization's repository only —,
// installation, sender), its API links under apiURL and its
// deployment_callback_url
// <apiURL>/repos/<owner>/<repo>/actions/runs/<run id>/deployment_protection_rule.
// Names go into URL paths escaped (which leaves the names GitHub allows
// as they are). Accounts, repositories, pull requests and a deployment
// the run does not name get ids derived from their names, the same in
// every body.
func DeploymentProtectionRuleBody(apiURL string, run Run, action string) []byte {
	event, senderLogin := run.Event, run.Sender
	if event == "" {
		event = "push"
	}
	if senderLogin == "" {
		senderLogin = "octocat"
	}
	ownerType := OwnerOrganization
	if run.OwnerType == OwnerUser {
		ownerType = OwnerUser
	}
	now := time.Now().UTC().Truncate(time.Second)
	owner := account(apiURL, run.Owner, ownerType)
	sender := account(apiURL, senderLogin, "")
	repo := repository(apiURL, run, owner, now)
	repoAPI := repo["url"].(string)
	depID := run.DeploymentID
	if depID == 0 {
		depID = idOf("deployment", fmt.Sprintf("%s/%s/%d/%s", run.Owner, run.Repo, run.ID, run.Environment))
	}
	deployment := map[string]any{
		"url": fmt.Sprintf("%s/deployments/%d", repoAPI, depID), "id": depID,
		"node_id": nodeID("Deployment", depID),
		"sha":     run.SHA, "ref": run.Ref, "task": "deploy", "payload": map[string]any{},
		"original_environment": run.Environment, "environment": run.Environment, "description": nil,
		"transient_environment": false, "production_environment": false,
		"creator": account(apiURL, actionsBot, ""), "created_at": stamp(now), "updated_at": stamp(now),
		"statuses_url":             fmt.Sprintf("%s/deployments/%d/statuses", repoAPI, depID),
		"repository_url":           repoAPI,
		"performed_via_github_app": actionsApp(apiURL),
	}
	prs := []map[string]any{}
	for _, n := range run.PullRequests {
		prs = append(prs, pullRequest(apiURL, run, n, repo, owner, sender, now))
	}
	body := map[string]any{
		"action":                  action,
		"environment":             run.Environment,
		"event":                   event,
		"deployment_callback_url": fmt.Sprintf("%s/actions/runs/%d/deployment_protection_rule", repoAPI, run.ID),
		"deployment":              deployment,
		"pull_requests":           prs,
		"repository":              repo,
		"installation":            map[string]any{"id": run.Installation, "node_id": nodeID("IntegrationInstallation", run.Installation)},
		"sender":                  sender,
	}
	if ownerType == OwnerOrganization {
		body["organization"] = organization(apiURL, run.Owner)
	}
	b, _ := json.Marshal(body)
	return b
}

// idOf returns the id GitHub would have given the object of kind named
// name: nine digits derived from both, so that one account (repository,
// pull request) has one id in every body.
func idOf(kind, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(name)))
	return int64(h.Sum64()%900_000_000) + 100_000_000
}

// nodeID returns the GraphQL node id GitHub gives the object of type typ
// and id in its events (the legacy form: base64 of "0<len(typ)>:<typ><id>").
func nodeID(typ string, id int64) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "0%d:%s%d", len(typ), typ, id))
}

// stamp formats t as GitHub's timestamps are (RFC 3339, UTC, seconds).
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// fakeSHA returns a commit id derived from s, for the commits a Run does
// not name.
func fakeSHA(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// knownIDs are the ids GitHub gave the accounts its documentation names.
var knownIDs = map[string]int64{"octocat": 583231, "github": 9919, actionsBot: 41898282}

// actionsBot is the account GitHub Actions' jobs create deployments as.
const actionsBot = "github-actions[bot]"

// accountID returns the id of the account login.
func accountID(login string) int64 {
	if id, ok := knownIDs[strings.ToLower(login)]; ok {
		return id
	}
	return idOf("account", login)
}

// account returns the user object of login (GitHub's simple user): a Bot
// when login ends in [bot], else of type typ ("" for User).
func account(apiURL, login, typ string) map[string]any {
	id := accountID(login)
	html := "https://github.com/" + url.PathEscape(login)
	switch {
	case strings.HasSuffix(login, "[bot]"):
		typ = "Bot"
		html = "https://github.com/apps/" + url.PathEscape(strings.TrimSuffix(login, "[bot]"))
	case typ == "":
		typ = OwnerUser
	}
	api := apiURL + "/users/" + url.PathEscape(login)
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID(typ, id),
		"avatar_url":          fmt.Sprintf("%s/u/%d?v=4", avatarHost, id),
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            html,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                typ,
		"site_admin":          false,
	}
}

// organization returns the organization object of login.
func organization(apiURL, login string) map[string]any {
	id := accountID(login)
	api := apiURL + "/orgs/" + url.PathEscape(login)
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("Organization", id),
		"url":                api,
		"repos_url":          api + "/repos",
		"events_url":         api + "/events",
		"hooks_url":          api + "/hooks",
		"issues_url":         api + "/issues",
		"members_url":        api + "/members{/member}",
		"public_members_url": api + "/public_members{/member}",
		"avatar_url":         fmt.Sprintf("%s/u/%d?v=4", avatarHost, id),
		"description":        "",
	}
}

// repository returns the repository object of run's repository, owned by
// owner (account's object).
func repository(apiURL string, run Run, owner map[string]any, now time.Time) map[string]any {
	full := run.Owner + "/" + run.Repo
	id := idOf("repository", full)
	path := url.PathEscape(run.Owner) + "/" + url.PathEscape(run.Repo)
	api := apiURL + "/repos/" + path
	html := "https://github.com/" + path
	return map[string]any{
		"id": id, "node_id": nodeID("Repository", id), "name": run.Repo, "full_name": full,
		"private": false, "owner": owner, "html_url": html, "description": nil, "fork": false, "url": api,
		"forks_url":         api + "/forks",
		"keys_url":          api + "/keys{/key_id}",
		"collaborators_url": api + "/collaborators{/collaborator}",
		"teams_url":         api + "/teams",
		"hooks_url":         api + "/hooks",
		"issue_events_url":  api + "/issues/events{/number}",
		"events_url":        api + "/events",
		"assignees_url":     api + "/assignees{/user}",
		"branches_url":      api + "/branches{/branch}",
		"tags_url":          api + "/tags",
		"blobs_url":         api + "/git/blobs{/sha}",
		"git_tags_url":      api + "/git/tags{/sha}",
		"git_refs_url":      api + "/git/refs{/sha}",
		"trees_url":         api + "/git/trees{/sha}",
		"statuses_url":      api + "/statuses/{sha}",
		"languages_url":     api + "/languages",
		"stargazers_url":    api + "/stargazers",
		"contributors_url":  api + "/contributors",
		"subscribers_url":   api + "/subscribers",
		"subscription_url":  api + "/subscription",
		"commits_url":       api + "/commits{/sha}",
		"git_commits_url":   api + "/git/commits{/sha}",
		"comments_url":      api + "/comments{/number}",
		"issue_comment_url": api + "/issues/comments{/number}",
		"contents_url":      api + "/contents/{+path}",
		"compare_url":       api + "/compare/{base}...{head}",
		"merges_url":        api + "/merges",
		"archive_url":       api + "/{archive_format}{/ref}",
		"downloads_url":     api + "/downloads",
		"issues_url":        api + "/issues{/number}",
		"pulls_url":         api + "/pulls{/number}",
		"milestones_url":    api + "/milestones{/number}",
		"notifications_url": api + "/notifications{?since,all,participating}",
		"labels_url":        api + "/labels{/name}",
		"releases_url":      api + "/releases{/id}",
		"deployments_url":   api + "/deployments",
		"created_at":        "2024-03-18T08:21:09Z",
		"updated_at":        stamp(now.Add(-time.Hour)),
		"pushed_at":         stamp(now.Add(-5 * time.Minute)),
		"git_url":           "git://github.com/" + path + ".git",
		"ssh_url":           "git@github.com:" + path + ".git",
		"clone_url":         html + ".git",
		"svn_url":           html,
		"homepage":          nil, "size": 1187, "stargazers_count": 3, "watchers_count": 3, "language": "Go",
		"has_issues": true, "has_projects": false, "has_downloads": true, "has_wiki": false, "has_pages": false,
		"has_discussions": false, "forks_count": 1, "mirror_url": nil, "archived": false, "disabled": false,
		"open_issues_count": len(run.PullRequests), "license": nil, "allow_forking": true,
		"forks": 1, "open_issues": len(run.PullRequests), "watchers": 3, "default_branch": "main",
		"is_template": false, "web_commit_signoff_required": false, "topics": []string{},
		"visibility": "public", "custom_properties": map[string]any{},
	}
}

// pullRequest returns pull request n of run's repository (repo), opened
// by sender from a branch of the repository into main.
func pullRequest(apiURL string, run Run, n int, repo, owner, sender map[string]any, now time.Time) map[string]any {
	repoAPI, repoHTML := repo["url"].(string), repo["html_url"].(string)
	id := idOf("pull", fmt.Sprintf("%s/%s#%d", run.Owner, run.Repo, n))
	head := strings.TrimPrefix(run.Ref, "refs/heads/")
	if head == "" || head == "main" || strings.HasPrefix(head, "refs/") {
		head = "change-" + strconv.Itoa(n)
	}
	headSHA := run.SHA
	if headSHA == "" {
		headSHA = fakeSHA(fmt.Sprintf("%s/%s#%d head", run.Owner, run.Repo, n))
	}
	baseSHA := fakeSHA(fmt.Sprintf("%s/%s main", run.Owner, run.Repo))
	api := fmt.Sprintf("%s/pulls/%d", repoAPI, n)
	html := fmt.Sprintf("%s/pull/%d", repoHTML, n)
	issue := fmt.Sprintf("%s/issues/%d", repoAPI, n)
	statuses := repoAPI + "/statuses/" + headSHA
	association := "MEMBER"
	if run.OwnerType == OwnerUser {
		association = "OWNER"
		if !strings.EqualFold(sender["login"].(string), run.Owner) {
			association = "COLLABORATOR"
		}
	}
	link := func(href string) map[string]any { return map[string]any{"href": href} }
	opened := stamp(now.Add(-2 * time.Hour))
	label := idOf("label", run.Owner+"/"+run.Repo+" deploy")
	return map[string]any{
		"url": api, "id": id, "node_id": nodeID("PullRequest", id), "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issue,
		"number": n, "state": "open", "locked": false, "title": fmt.Sprintf("Deploy change %d", n),
		"user": sender, "body": "Ready for the protected environment.",
		"created_at": opened, "updated_at": stamp(now.Add(-10 * time.Minute)),
		"closed_at": nil, "merged_at": nil, "merge_commit_sha": fakeSHA(fmt.Sprintf("%s/%s#%d merge", run.Owner, run.Repo, n)),
		"assignee": nil, "assignees": []any{}, "requested_reviewers": []any{}, "requested_teams": []any{},
		"labels": []any{map[string]any{"id": label, "node_id": nodeID("Label", label), "url": repoAPI + "/labels/deploy",
			"name": "deploy", "color": "0e8a16", "default": false, "description": "Ready to deploy"}},
		"milestone":           nil,
		"commits_url":         api + "/commits",
		"review_comments_url": api + "/comments",
		"review_comment_url":  repoAPI + "/pulls/comments{/number}",
		"comments_url":        issue + "/comments",
		"statuses_url":        statuses,
		"head":                map[string]any{"label": run.Owner + ":" + head, "ref": head, "sha": headSHA, "user": owner, "repo": repo},
		"base":                map[string]any{"label": run.Owner + ":main", "ref": "main", "sha": baseSHA, "user": owner, "repo": repo},
		"_links": map[string]any{
			"self": link(api), "html": link(html), "issue": link(issue), "comments": link(issue + "/comments"),
			"review_comments": link(api + "/comments"), "review_comment": link(repoAPI + "/pulls/comments{/number}"),
			"commits": link(api + "/commits"), "statuses": link(statuses),
		},
		"author_association": association, "auto_merge": nil, "active_lock_reason": nil, "draft": false,
		"merged": false, "mergeable": true, "rebaseable": true, "mergeable_state": "clean", "merged_by": nil,
		"comments": 0, "review_comments": 0, "maintainer_can_modify": false,
		"commits": 1, "additions": 12, "deletions": 3, "changed_files": 2,
	}
}

// actionsApp returns the GitHub App that performs the deployments of
// GitHub Actions' jobs.
func actionsApp(apiURL string) map[string]any {
	const id = 15368
	return map[string]any{
		"id": id, "slug": "github-actions", "node_id": nodeID("Integration", id),
		"owner": account(apiURL, "github", OwnerOrganization), "name": "GitHub Actions",
		"description":  "Automate your workflow from idea to production",
		"external_url": "https://github.com/features/actions",
		"html_url":     "https://github.com/apps/github-actions",
		"created_at":   "2018-07-30T09:30:17Z", "updated_at": "2024-04-10T20:33:16Z",
		"permissions": map[string]string{"actions": "write", "checks": "write", "contents": "write",
			"deployments": "write", "metadata": "read", "pull_requests": "write", "statuses": "write"},
		"events": []string{"branch_protection_rule", "check_run", "check_suite", "create", "delete", "deployment",
			"deployment_status", "pull_request", "push", "release", "workflow_dispatch", "workflow_run"},
	}
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
// X-GitHub-Hook-ID (HookID), User-Agent GitHub-Hookshot/…, and
// X-Hub-Signature-256 under secret (none when secret is nil).
func (d Delivery) Request(ctx context.Context, target string, secret []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/fake")
	req.Header.Set("X-GitHub-Event", d.Event)
	req.Header.Set("X-GitHub-Delivery", d.ID)
	req.Header.Set("X-GitHub-Hook-ID", strconv.Itoa(HookID))
	if secret != nil {
		req.Header.Set("X-Hub-Signature-256", Signature(d.Body, secret))
	}
	return req, nil
}
