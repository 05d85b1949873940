package ghapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-github/v84/github"

	"approvald/approval"
)

// The webhook events and the action ServeWebhook handles.
const (
	EventPing                     = "ping"
	EventDeploymentProtectionRule = "deployment_protection_rule"
	ActionRequested               = "requested"
)

// Payload is the payload of a request the App opens: what reviewers see,
// what stored policies' match expressions read (payload.environment,
// payload.repository, …), and what Send reads back to call GitHub.
type Payload struct {
	// Repository is the repository's full name, owner/name.
	Repository string `json:"repository"`
	// Environment is the environment the job deploys to.
	Environment string `json:"environment"`
	// Ref and SHA are the deployment's ref and commit.
	Ref string `json:"ref"`
	SHA string `json:"sha"`
	// RunID is the workflow run's id; RunURL its page on GitHub.
	RunID  int64  `json:"run_id"`
	RunURL string `json:"run_url"`
	// Actor is the login of the user who triggered the run (the event's
	// sender).
	Actor string `json:"actor"`
	// Event is the event that triggered the run (push, workflow_dispatch,
	// pull_request, …).
	Event string `json:"event"`
	// InstallationID is the App installation that Send authenticates as.
	InstallationID int64 `json:"installation_id"`
	// DeploymentID is the id of GitHub's deployment (0 when not sent).
	DeploymentID int64 `json:"deployment_id"`
	// PullRequests are the numbers of the pull requests of the run.
	PullRequests []int `json:"pull_requests"`
}

// Subject returns the subject of the request of p:
// github:<owner>/<repo>/<environment>/<run id>.
func (p Payload) Subject() string {
	return fmt.Sprintf("github:%s/%s/%d", p.Repository, p.Environment, p.RunID)
}

// namePattern is what a GitHub owner or repository name may hold (it is
// put in URL paths and in the subject).
var namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// validName reports whether s may be a GitHub owner or repository name:
// namePattern, but never "." or ".." (a path segment of its own; ".github"
// and "_private" are names GitHub allows).
func validName(s string) bool { return namePattern.MatchString(s) && s != "." && s != ".." }

// ServeWebhook handles a delivery of the App's webhook (POST
// /v1/github/webhook). It checks X-Hub-Signature-256 against the webhook
// secret over the raw body (at most MaxWebhookBytes), then:
//   - ping: 200 {"status": "ping"}
//   - deployment_protection_rule, action requested: opens the request of
//     the run, or finds the open one, and answers 202
//     {"approval_id", "subject", "status", "duplicate"};
//   - any other event or action: 200 {"status": "ignored", "reason": "<why>"}.
//
// It returns, for the caller to render, an approval error:
// KindUnauthenticated for a missing (sha1-only included) or wrong
// signature, KindTooLarge, KindMalformed for a missing X-GitHub-Event, a
// Content-Type other than JSON or form, or a body that is not the event's
// JSON, KindInvalid for an event missing what the request needs or whose
// callback URL is not the configured API's, or the engine's error. Every
// delivery is counted in approvald_github_webhooks_total{result}.
func (a *App) ServeWebhook(w http.ResponseWriter, r *http.Request) error {
	delivery, event := github.DeliveryID(r), github.WebHookType(r)
	log := a.log.With("delivery", delivery, "event", event)
	refuse := func(result string, err *approval.Error) error {
		a.webhooks.WithLabelValues(result).Inc()
		log.Warn("GitHub webhook delivery refused", "result", result, "reason", err.Message)
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return refuse(ResultMalformed, approval.Errorf(approval.KindTooLarge, approval.CodeTooLarge,
				"the webhook body is larger than %d bytes", MaxWebhookBytes))
		}
		return refuse(ResultMalformed, approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "the webhook body could not be read"))
	}
	sig := r.Header.Get(github.SHA256SignatureHeader)
	switch {
	case sig == "" && r.Header.Get(github.SHA1SignatureHeader) != "":
		return refuse(ResultUnsigned, approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated,
			"the delivery is signed with SHA-1 only (X-Hub-Signature); approvald accepts X-Hub-Signature-256"))
	case sig == "":
		return refuse(ResultUnsigned, approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated,
			"the delivery has no X-Hub-Signature-256: set the App's webhook secret"))
	case !strings.HasPrefix(sig, "sha256="):
		return refuse(ResultBadSignature, approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated,
			"X-Hub-Signature-256 is not of the form sha256=<hex>"))
	}
	if github.ValidateSignature(sig, body, a.cfg.WebhookSecret) != nil {
		return refuse(ResultBadSignature, approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated,
			"X-Hub-Signature-256 does not match the body under the App's webhook secret"))
	}
	// Signed: what follows is GitHub's (or the secret's holder's) word.
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return refuse(ResultMalformed, approval.Errorf(approval.KindMalformed, approval.CodeMalformed,
			"the delivery has no valid Content-Type (application/json or application/x-www-form-urlencoded)"))
	}
	payload, err := github.ValidatePayloadFromBody(ct, bytes.NewReader(body), sig, a.cfg.WebhookSecret)
	if err != nil {
		return refuse(ResultMalformed, approval.Errorf(approval.KindMalformed, approval.CodeMalformed,
			"the delivery's Content-Type %q is not application/json or application/x-www-form-urlencoded", ct))
	}
	switch {
	case event == "":
		return refuse(ResultMalformed, approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "the delivery has no X-GitHub-Event header"))
	case event == EventPing:
		a.webhooks.WithLabelValues(ResultIgnored).Inc()
		log.Info("GitHub webhook ping")
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ping"})
	case event != EventDeploymentProtectionRule:
		return a.ignore(w, fmt.Sprintf("approvald handles only %s events, not %s", EventDeploymentProtectionRule, event))
	}
	parsed, err := github.ParseWebHook(event, payload)
	if err != nil {
		return refuse(ResultMalformed, approval.Errorf(approval.KindMalformed, approval.CodeMalformed,
			"the %s event is not valid JSON of that event", event))
	}
	ev := parsed.(*github.DeploymentProtectionRuleEvent)
	if action := ev.GetAction(); action != ActionRequested {
		return a.ignore(w, fmt.Sprintf("approvald handles only the %s action of %s events, not %q", ActionRequested, event, action))
	}
	p, verr := a.payloadOf(ev)
	if verr != nil {
		return refuse(ResultMalformed, verr)
	}
	log = log.With("subject", p.Subject())
	req, duplicate, err := a.open(r, p, delivery, body)
	if err != nil {
		a.webhooks.WithLabelValues(ResultError).Inc()
		log.Warn("opening the request of a GitHub deployment failed", "err", err)
		return err
	}
	result := ResultAccepted
	if duplicate {
		result = ResultDuplicate
	}
	a.webhooks.WithLabelValues(result).Inc()
	log.Info("GitHub deployment waits for approval", "approval_id", req.ID, "result", result)
	return writeJSON(w, http.StatusAccepted, map[string]any{
		"approval_id": req.ID, "subject": req.Subject, "status": req.Status, "duplicate": duplicate,
	})
}

// ignore answers 200 {"status": "ignored", "reason": why} to a signed delivery approvald has
// nothing to do with.
func (a *App) ignore(w http.ResponseWriter, why string) error {
	a.webhooks.WithLabelValues(ResultIgnored).Inc()
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ignored", "reason": why})
}

// payloadOf returns the payload of the request of ev, or a KindInvalid
// error naming what is missing or wrong.
func (a *App) payloadOf(ev *github.DeploymentProtectionRuleEvent) (Payload, *approval.Error) {
	var v approval.Validation
	owner, name := ev.GetRepo().GetOwner().GetLogin(), ev.GetRepo().GetName()
	if full := ev.GetRepo().GetFullName(); (owner == "" || name == "") && full != "" {
		owner, name, _ = strings.Cut(full, "/")
	}
	if !validName(owner) || !validName(name) {
		v.Add("repository", "must name the repository (owner.login and name, or full_name) with letters, digits, '.', '_' or '-'")
	}
	env := ev.GetEnvironment()
	if env == "" {
		v.Add("environment", "is required")
	}
	inst := ev.GetInstallation().GetID()
	if inst <= 0 {
		v.Add("installation.id", "is required: the App installation the decision is sent as")
	}
	runID, ok := a.runOf(ev.GetDeploymentCallbackURL(), owner, name)
	if !ok {
		v.Add("deployment_callback_url", "must be %s/repos/%s/%s/actions/runs/<run id>/deployment_protection_rule, the configured GitHub API's URL of the run", a.cfg.APIURL, owner, name)
	}
	if err := v.Err(); err != nil {
		return Payload{}, approval.AsError(err)
	}
	p := Payload{
		Repository: owner + "/" + name, Environment: env, RunID: runID, InstallationID: inst,
		Ref: ev.GetDeployment().GetRef(), SHA: ev.GetDeployment().GetSHA(), DeploymentID: ev.GetDeployment().GetID(),
		Actor: ev.GetSender().GetLogin(), Event: ev.GetEvent(), PullRequests: []int{},
	}
	if html := ev.GetRepo().GetHTMLURL(); html != "" {
		p.RunURL = strings.TrimRight(html, "/") + "/actions/runs/" + strconv.FormatInt(runID, 10)
	}
	for _, pr := range ev.PullRequests {
		if n := pr.GetNumber(); n > 0 {
			p.PullRequests = append(p.PullRequests, n)
		}
	}
	if n := len(p.Subject()); n > approval.MaxSubjectLen {
		v.Add("environment", "makes the request's subject %d characters long, over the %d allowed", n, approval.MaxSubjectLen)
		return Payload{}, approval.AsError(v.Err())
	}
	return p, nil
}

// runOf returns the run id of the callback URL cb when cb is the
// configured API's review URL of a run of owner/name. Case is ignored
// (GitHub's hosts and names are case-insensitive); anything else about the
// URL must be exact, so that a token is never sent on an event's say-so.
func (a *App) runOf(cb, owner, name string) (int64, bool) {
	prefix := a.cfg.APIURL + "/repos/" + owner + "/" + name + "/actions/runs/"
	const suffix = "/deployment_protection_rule"
	if len(cb) <= len(prefix)+len(suffix) || !strings.EqualFold(cb[:len(prefix)], prefix) || !strings.HasSuffix(cb, suffix) {
		return 0, false
	}
	digits := cb[len(prefix) : len(cb)-len(suffix)]
	if digits == "" || strings.Trim(digits, "0123456789") != "" || digits[0] == '0' {
		return 0, false
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	return id, err == nil && id > 0
}

// openStatuses are the statuses in which a request of a run still stands
// for it: GitHub's event for a run whose request is one of these gets that
// request. A request that ended (approved, rejected, expired, error, …)
// does not: a new event for its run is a new deployment attempt (a re-run)
// and gets a new request.
var openStatuses = []approval.Status{
	approval.StatusPending, approval.StatusChangesRequested,
	approval.StatusAcknowledgedApproved, approval.StatusAcknowledgedRejected, approval.StatusAcknowledgedCancelled,
}

// open returns the request of p's run: the open one of its subject when
// there is one, else a new one, created idempotently under the delivery id
// (a redelivery of the same delivery gets the same request, even after it
// ended; without a delivery id only the open request is found).
// duplicate says whether the request existed.
func (a *App) open(r *http.Request, p Payload, delivery string, body []byte) (*approval.Request, bool, error) {
	ctx := r.Context()
	subject := p.Subject()
	unlock := a.subjects.lock(subject)
	defer unlock()
	open, _, err := a.eng.List(ctx, approval.Filter{Subject: subject, ServiceRule: a.cfg.ServiceRule, Statuses: openStatuses, Limit: 1})
	if err != nil {
		return nil, false, err
	}
	if len(open) > 0 {
		return open[0], true, nil
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, false, approval.Internal(err)
	}
	idemKey := "" // GitHub always sends a delivery id; without one, only the open request dedupes
	if delivery != "" {
		idemKey = "github-delivery:" + delivery
	}
	c, err := a.eng.Create(ctx, a.requester, approval.Draft{
		Title:       truncate(fmt.Sprintf("Deploy %s to %s", p.Repository, p.Environment), approval.MaxTitleLen),
		Description: truncate(describe(p), approval.MaxDescriptionLen),
		Payload:     data,
		ServiceRule: a.cfg.ServiceRule,
		Subject:     subject,
		Origin:      approval.OriginGitHub,
	}, idemKey, body)
	if err != nil {
		return nil, false, err
	}
	return c.Request, c.Replayed, nil
}

// describe is the description of the request of p.
func describe(p Payload) string {
	var b strings.Builder
	fmt.Fprintf(&b, "A GitHub Actions run of %s waits for approval to deploy to the environment %s.\n\n", p.Repository, p.Environment)
	fmt.Fprintf(&b, "Run: %d", p.RunID)
	if p.RunURL != "" {
		fmt.Fprintf(&b, " (%s)", p.RunURL)
	}
	b.WriteString("\n")
	if p.Ref != "" || p.SHA != "" {
		fmt.Fprintf(&b, "Ref: %s at %s\n", p.Ref, p.SHA)
	}
	if p.Actor != "" || p.Event != "" {
		fmt.Fprintf(&b, "Triggered by %s (%s event)\n", p.Actor, p.Event)
	}
	if len(p.PullRequests) > 0 {
		nums := make([]string, len(p.PullRequests))
		for i, n := range p.PullRequests {
			nums[i] = "#" + strconv.Itoa(n)
		}
		fmt.Fprintf(&b, "Pull requests: %s\n", strings.Join(nums, ", "))
	}
	return b.String()
}

// truncate returns s cut to at most max characters.
func truncate(s string, max int) string {
	if max < 1 {
		return ""
	}
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// writeJSON writes v as a JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return approval.Internal(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
