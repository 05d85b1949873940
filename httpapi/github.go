package httpapi

import (
	"net/http"

	"approvald/approval"
)

// githubWebhook hands POST /v1/github/webhook to the GitHub App's handler,
// which reads the body itself (within its own limit) and checks
// X-Hub-Signature-256: the route is public because GitHub authenticates
// with that signature, not with an API key. Without a GitHub App the path
// is 404, as if it did not exist, with a detail that names the setting.
func (s *server) githubWebhook(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if s.GitHubWebhook == nil {
		return approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "the GitHub App is not configured (--github-app-id)")
	}
	return s.GitHubWebhook(w, r)
}
