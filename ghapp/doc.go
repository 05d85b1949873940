// Package ghapp is approvald as the GitHub App behind a GitHub custom
// deployment protection rule (issue 22).
//
// GitHub sends the App's webhook a deployment_protection_rule event when a
// workflow job reaches an environment that has the rule enabled. ServeWebhook
// checks the event's X-Hub-Signature-256 against the App's webhook secret and
// opens an approval request for it: subject
// github:<owner>/<repo>/<environment>/<run id>, requester github-app:<app id>,
// the service rule Config.ServiceRule (format github) and a payload naming the
// repository, the environment, the ref and commit, the run, its actor and the
// App installation (Payload). The stored policies' match expressions choose
// the policy, as for any request that names none.
//
// Once the request is decided, the delivery Dispatcher calls App.Send, the
// delivery.Sender of the github format: it takes an installation access
// token (an RS256 JWT of the App exchanged at POST
// /app/installations/{id}/access_tokens, cached until a minute before it
// expires) and reviews the run's protection rule at POST
// /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule,
// approved or rejected with a comment naming the decision, the reviewers and
// the request's page. The Dispatcher does the retries, the backoff and the
// recording; Send says whether an attempt may be retried.
//
// Tokens and the JWT only ever go to Config.APIURL: the callback URL an event
// names must be that API's URL of the run, and the service rule's URL must be
// Config.APIURL, or nothing is sent.
//
// Package githubfake is a fake of the two GitHub endpoints used, for tests.
package ghapp
