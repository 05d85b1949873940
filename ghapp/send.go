package ghapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v84/github"

	"approvald/approval"
	"approvald/delivery"
)

// The states of a review of a deployment protection rule.
const (
	StateApproved = "approved"
	StateRejected = "rejected"
)

// maxCommentLen bounds the comment sent with a review (characters).
const maxCommentLen = 1000

// RevokeReason is the outcome Send reports for a revocation: GitHub has
// no way to take back a deployment protection rule's approval (the run
// went on when it was delivered), so nothing is sent, and the attempt is a
// permanent failure the request's delivery records; the request stays
// revoked.
const RevokeReason = "GitHub cannot revoke a deployment approval: the run went on when the approval was delivered, and nothing was sent"

// Send delivers the decision of the claimed event to GitHub, as the App
// installation the request's payload names: it reviews the run's
// deployment protection rule, approved for an approved request and
// rejected for a rejected, cancelled or expired one, with a comment naming
// the decision, the reviewers and the request's page. It is the
// delivery.Sender of approval.FormatGitHub.
//
// The Outcome: OK on GitHub's 204; permanent for a request that does not
// name a run, a rule whose URL is not the configured API, a revocation
// (RevokeReason), GitHub's 404 (no such run, or not visible to the App),
// 422 (GitHub no longer waits: decided elsewhere, the run cancelled) and
// other 403s (a missing permission) and the token exchange's 404 (the App
// uninstalled); retryable for 401 (the token is dropped and a new one taken
// next time), rate limits (after their reset or Retry-After), 5xx,
// timeouts and connection failures. Reasons never hold a token.
func (a *App) Send(ctx context.Context, rule *approval.ServiceRule, c approval.Claim) delivery.Outcome {
	if strings.TrimRight(rule.URL, "/") != a.cfg.APIURL {
		return delivery.Outcome{Reason: fmt.Sprintf("the service rule %q points at %s, not at the GitHub API this approvald is configured with (%s): nothing was sent", rule.Name, rule.URL, a.cfg.APIURL)}
	}
	var req approval.Request
	if err := json.Unmarshal(c.Data, &req); err != nil {
		return delivery.Outcome{Reason: "the event's request cannot be read: " + err.Error()}
	}
	var p Payload
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return delivery.Outcome{Reason: "the request's payload is not a GitHub deployment's: " + err.Error()}
	}
	owner, repo, _ := strings.Cut(p.Repository, "/")
	if !validName(owner) || !validName(repo) || p.Environment == "" || p.RunID <= 0 || p.InstallationID <= 0 {
		return delivery.Outcome{Reason: "the request's payload does not name a GitHub run (repository, environment, run_id, installation_id): was it opened by the GitHub App?"}
	}
	// Only what the App opened speaks for the App: a request whose
	// requester or subject is not the App's for this run (a rule's format
	// changed to github by an admin, a payload edited) is never sent.
	if req.Requester != a.requester.ID || req.Subject != p.Subject() {
		return delivery.Outcome{Reason: fmt.Sprintf("request %s was not opened by this GitHub App for run %d of %s (requester %s, subject %q): nothing was sent", req.ID, p.RunID, p.Repository, req.Requester, req.Subject)}
	}
	// GitHub's review is keyed by run and environment, not by attempt: a
	// decision of an older request of the run (a retried expiry, a
	// redelivery) must not land on a newer attempt, which has its own.
	if newest, _, err := a.eng.List(ctx, approval.Filter{Subject: req.Subject, ServiceRule: rule.Name, Limit: 1}); err != nil {
		return delivery.Outcome{Retryable: true, Reason: "reading the run's newest request failed"}
	} else if len(newest) == 1 && newest[0].ID != req.ID {
		return delivery.Outcome{Reason: fmt.Sprintf("superseded: request %s stands for a newer attempt of run %d of %s; nothing was sent for this one", newest[0].ID, p.RunID, p.Repository)}
	}
	status := req.Status
	if status.Acknowledged() {
		status = status.Settled()
	}
	var state string
	switch status {
	case approval.StatusApproved:
		state = StateApproved
	case approval.StatusRejected, approval.StatusCancelled, approval.StatusExpired:
		state = StateRejected
	case approval.StatusRevoked:
		return delivery.Outcome{Reason: RevokeReason}
	default:
		return delivery.Outcome{Reason: fmt.Sprintf("a %s request is not a decision GitHub can be told", req.Status)}
	}
	ctx, cancel := context.WithTimeout(ctx, rule.Timeout)
	defer cancel()
	token, out := a.token(ctx, p.InstallationID)
	if out != nil {
		return *out
	}
	_, err := a.client(token).Actions.ReviewCustomDeploymentProtectionRule(ctx, owner, repo, p.RunID, &github.ReviewCustomDeploymentProtectionRuleRequest{
		EnvironmentName: p.Environment, State: state, Comment: a.comment(&req, status),
	})
	var accepted *github.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		a.log.Info("told GitHub the deployment decision", "approval_id", req.ID, "repository", p.Repository, "run_id", p.RunID, "environment", p.Environment, "state", state)
		return delivery.Outcome{OK: true}
	}
	run := fmt.Sprintf("run %d of %s (environment %s)", p.RunID, p.Repository, p.Environment)
	if resp := responseOf(err); resp != nil {
		var rl *github.RateLimitError
		var ab *github.AbuseRateLimitError
		limited := errors.As(err, &rl) || errors.As(err, &ab)
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			a.tokens.drop(p.InstallationID, token)
			return delivery.Outcome{Retryable: true, Reason: fmt.Sprintf("GitHub refused the installation access token for %s (401: %s); a new token is taken at the next attempt", run, messageOf(err))}
		case resp.StatusCode == http.StatusNotFound:
			return delivery.Outcome{Reason: fmt.Sprintf("GitHub knows no %s, or the App cannot see the repository (404: %s)", run, messageOf(err))}
		case resp.StatusCode == http.StatusUnprocessableEntity:
			return delivery.Outcome{Reason: fmt.Sprintf("GitHub no longer waits for this protection rule of %s (422: %s): decided elsewhere, or the run was cancelled", run, messageOf(err))}
		case resp.StatusCode == http.StatusForbidden && !limited:
			return delivery.Outcome{Reason: fmt.Sprintf("GitHub refused to review %s (403: %s): the App needs the repository permissions Deployments (read and write) and Actions (read), and must be installed on the repository", run, messageOf(err))}
		}
	}
	return a.classify(ctx, err, "reviewing "+run)
}

// classify returns the Outcome of a failed GitHub call (what: the call)
// that no status of its own explains: rate limits retryable after their
// reset or Retry-After, 408, 429 and 5xx retryable, other answers
// permanent, timeouts and connection failures retryable.
func (a *App) classify(ctx context.Context, err error, what string) delivery.Outcome {
	now := a.cfg.Now()
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	switch {
	case errors.As(err, &rl):
		wait := max(rl.Rate.Reset.Sub(now), time.Second)
		return delivery.Outcome{Retryable: true, RetryAfter: wait,
			Reason: fmt.Sprintf("GitHub's rate limit is exhausted %s (until %s)", what, rl.Rate.Reset.UTC().Format(time.RFC3339))}
	case errors.As(err, &ab):
		out := delivery.Outcome{Retryable: true, Reason: fmt.Sprintf("GitHub's secondary rate limit stopped %s", what)}
		if ab.RetryAfter != nil && *ab.RetryAfter > 0 {
			out.RetryAfter = *ab.RetryAfter
		}
		return out
	}
	if resp := responseOf(err); resp != nil {
		code := resp.StatusCode
		out := delivery.Outcome{Reason: fmt.Sprintf("GitHub answered %d to %s", code, what)}
		if msg := messageOf(err); msg != "" {
			out.Reason += ": " + msg
		}
		if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 {
			out.Retryable = true
			out.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
		}
		return out
	}
	if ctx.Err() != nil {
		return delivery.Outcome{Retryable: true, Reason: fmt.Sprintf("GitHub did not answer in time %s", what)}
	}
	msg := err.Error()
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		msg = ue.Err.Error() // without the URL
	}
	return delivery.Outcome{Retryable: true, Reason: fmt.Sprintf("connecting to GitHub failed %s: %s", what, msg)}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// comment is the comment of the review telling GitHub the decision of r
// (status, settled): the decision, who made it and the request's page.
func (a *App) comment(r *approval.Request, status approval.Status) string {
	var b strings.Builder
	decision := map[approval.Status]string{
		approval.StatusApproved: "Approved", approval.StatusRejected: "Rejected",
		approval.StatusCancelled: "Cancelled", approval.StatusExpired: "Expired",
	}[status]
	fmt.Fprintf(&b, "%s in approvald", decision)
	want := map[approval.Status]approval.Decision{approval.StatusApproved: approval.DecisionApprove, approval.StatusRejected: approval.DecisionReject}[status]
	var who []string
	for _, rv := range r.Reviews {
		if rv.Void || rv.Decision != want {
			continue
		}
		name := rv.Reviewer
		if rv.By != "" {
			name += " (by " + rv.By + ")"
		}
		who = append(who, name)
	}
	if len(who) > 0 {
		fmt.Fprintf(&b, " by %s", strings.Join(who, ", "))
	}
	b.WriteString(".")
	switch {
	case r.Reason != "":
		fmt.Fprintf(&b, " %s.", strings.TrimSuffix(r.Reason, "."))
	case status == approval.StatusCancelled:
		b.WriteString(" The request was withdrawn; the deployment is rejected.")
	case status == approval.StatusExpired:
		b.WriteString(" Nobody decided before the deadline; the deployment is rejected.")
	}
	if status == approval.StatusRejected {
		for _, rv := range r.Reviews {
			if !rv.Void && rv.Decision == approval.DecisionReject && rv.Comment != "" {
				fmt.Fprintf(&b, " %s: %q", rv.Reviewer, rv.Comment)
			}
		}
	}
	// The link (or the id) always survives the cut.
	link := "(request " + r.ID + ")"
	if a.cfg.PublicURL != "" {
		link = a.cfg.PublicURL + "/ui/requests/" + r.ID
	}
	return truncate(b.String(), maxCommentLen-len([]rune(link))-1) + " " + link
}
