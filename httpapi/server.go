// Package httpapi serves approvald's native HTTP API (v1): JSON in and out,
// RFC 9457 problem details for every error, bearer API keys checked against
// one route × scope table, the OpenAPI document and a page rendered from it.
package httpapi

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net/http"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/auth"
	"approvald/delivery"
	"approvald/engine"
	"approvald/gateway/calllog"
	"approvald/internal/httpkit"
	"approvald/receipt"
)

// Deps is what the API needs.
type Deps struct {
	Engine *engine.Engine
	Keys   *auth.Keys
	// Ready reports whether the service can serve (the database answers).
	Ready func(context.Context) error
	// EventsReady, when set, reports whether events are being published
	// (to NATS); /readyz shows why not but stays ready.
	EventsReady func() error
	Logger      *slog.Logger
	// Hub feeds long-polls and the event stream; without it they answer 503.
	Hub *delivery.Hub
	// Tokens verifies people's JWTs; nil accepts API keys only.
	Tokens TokenVerifier
	// Limits are the per-principal rate and stream limits.
	Limits Limits
	// CORSOrigins are the origins browsers may call the API from; none by default.
	CORSOrigins []string
	// Metrics counts refused requests; nil counts nothing.
	Metrics *Metrics
	// Gatherer serves GET /metrics (Prometheus text format); nil: 503.
	Gatherer prometheus.Gatherer
	// Now is the clock of the rate limits (tests); nil is time.Now.
	Now func() time.Time
	// GatewayLog lists the CR8TOR gateway's call log (GET
	// /v1/gateway/calls); nil: 503.
	GatewayLog calllog.Log
	// Stopping is closed when the server begins to shut down: long-polls
	// answer at once and event streams end, so that the shutdown need not
	// wait for their clients. nil never closes.
	Stopping <-chan struct{}
	// GitHubWebhook handles POST /v1/github/webhook, the deliveries of the
	// GitHub App (deployment protection rules): it reads the body itself,
	// checks X-Hub-Signature-256 and writes its answer, or returns an error
	// that the API renders as problem+json. nil: 404, no GitHub App.
	GitHubWebhook func(http.ResponseWriter, *http.Request) error
	// Receipts issues the signed receipts of decided requests (GET
	// /v1/approvals/{id}/receipt) and publishes their keys (GET
	// /.well-known/approvald/keys); nil: 503.
	Receipts *receipt.Issuer
	// ReleaseRecord makes the release record (RO-Crate JSON-LD) of a
	// decided CR8TOR publication (GET /v1/approvals/{id}/release-record;
	// rocrate.Maker.Record); nil: 404. Its error is rendered as any
	// handler's.
	ReleaseRecord func(*approval.Request) ([]byte, error)
}

// server holds the dependencies of the handlers.
type server struct {
	Deps
	limiter *limiter
}

// handlerFunc is an API handler: it returns an error instead of writing one,
// and gets the authenticated principal (the zero Principal on public routes).
type handlerFunc func(w http.ResponseWriter, r *http.Request, p approval.Principal) error

// route is one row of the route table.
type route = httpkit.Route[handlerFunc]

// routes is the one table of every route the API serves.
func (s *server) routes() []route {
	return []route{
		{Method: "POST", Pattern: "/v1/approvals", Scope: approval.ScopeCreate, Handle: s.createApproval},
		{Method: "GET", Pattern: "/v1/approvals", Scope: approval.ScopeRead, Audit: true, Handle: s.listApprovals},
		{Method: "GET", Pattern: "/v1/approvals/{id}", Scope: approval.ScopeRead, Audit: true, Handle: s.getApproval},
		{Method: "PATCH", Pattern: "/v1/approvals/{id}", Scope: approval.ScopeCreate, Handle: s.editApproval},
		{Method: "POST", Pattern: "/v1/approvals/{id}/reviews", Scope: approval.ScopeReview, Handle: s.reviewApproval},
		{Method: "POST", Pattern: "/v1/approvals/{id}/cancel", Scope: approval.ScopeCreate, Handle: s.cancelApproval},
		// Resubmitting is like an edit (the engine checks that the caller
		// owns the request); revoking like a review (the engine checks an
		// admin, or the eligibility of a can_revoke rule).
		{Method: "POST", Pattern: "/v1/approvals/{id}/resubmit", Scope: approval.ScopeCreate, Handle: s.resubmitApproval},
		{Method: "POST", Pattern: "/v1/approvals/{id}/revoke", Scope: approval.ScopeReview, Handle: s.revokeApproval},
		{Method: "POST", Pattern: "/v1/approvals:batch-review", Scope: approval.ScopeReview, Handle: s.batchReviewApprovals},
		{Method: "GET", Pattern: "/v1/approvals/{id}/receipt", Scope: approval.ScopeRead, Audit: true, Handle: s.getReceipt},
		{Method: "GET", Pattern: "/v1/approvals/{id}/release-record", Scope: approval.ScopeRead, Audit: true, Handle: s.getReleaseRecord},
		{Method: "GET", Pattern: "/v1/approvals/{id}/history", Scope: approval.ScopeRead, Audit: true, Handle: s.history},
		{Method: "GET", Pattern: "/v1/history", Scope: approval.ScopeAdmin, Audit: true, Handle: s.listHistory},
		{Method: "GET", Pattern: "/v1/history/verify", Scope: approval.ScopeAdmin, Audit: true, Handle: s.verifyHistory},
		{Method: "POST", Pattern: "/v1/approvals/{id}/redeliver", Scope: approval.ScopeAdmin, Handle: s.redeliver},
		{Method: "GET", Pattern: "/v1/events", Scope: approval.ScopeRead, Audit: true, Handle: s.events},
		{Method: "POST", Pattern: "/v1/service-rules", Scope: approval.ScopeAdmin, Handle: s.createRule},
		{Method: "GET", Pattern: "/v1/service-rules", Scope: approval.ScopeAdmin, Audit: true, Handle: s.listRules},
		{Method: "GET", Pattern: "/v1/service-rules/{name}", Scope: approval.ScopeAdmin, Audit: true, Handle: s.getRule},
		{Method: "PATCH", Pattern: "/v1/service-rules/{name}", Scope: approval.ScopeAdmin, Handle: s.editRule},
		{Method: "DELETE", Pattern: "/v1/service-rules/{name}", Scope: approval.ScopeAdmin, Handle: s.deleteRule},
		{Method: "POST", Pattern: "/v1/policies", Scope: approval.ScopeAdmin, Handle: s.createPolicy},
		{Method: "GET", Pattern: "/v1/policies", Scope: approval.ScopeRead, Audit: true, Handle: s.listPolicies},
		{Method: "GET", Pattern: "/v1/policies/{name}", Scope: approval.ScopeRead, Audit: true, Handle: s.getPolicy},
		{Method: "PUT", Pattern: "/v1/policies/{name}", Scope: approval.ScopeAdmin, Handle: s.replacePolicy},
		{Method: "DELETE", Pattern: "/v1/policies/{name}", Scope: approval.ScopeAdmin, Handle: s.deletePolicy},
		{Method: "POST", Pattern: "/v1/notification-channels", Scope: approval.ScopeAdmin, Handle: s.createChannel},
		{Method: "GET", Pattern: "/v1/notification-channels", Scope: approval.ScopeAdmin, Audit: true, Handle: s.listChannels},
		{Method: "GET", Pattern: "/v1/notification-channels/{name}", Scope: approval.ScopeAdmin, Audit: true, Handle: s.getChannel},
		{Method: "PUT", Pattern: "/v1/notification-channels/{name}", Scope: approval.ScopeAdmin, Handle: s.replaceChannel},
		{Method: "DELETE", Pattern: "/v1/notification-channels/{name}", Scope: approval.ScopeAdmin, Handle: s.deleteChannel},
		{Method: "POST", Pattern: "/v1/notification-routes", Scope: approval.ScopeAdmin, Handle: s.createRoute},
		{Method: "GET", Pattern: "/v1/notification-routes", Scope: approval.ScopeAdmin, Audit: true, Handle: s.listRoutes},
		{Method: "DELETE", Pattern: "/v1/notification-routes/{id}", Scope: approval.ScopeAdmin, Handle: s.deleteRoute},
		{Method: "POST", Pattern: "/v1/contacts", Scope: approval.ScopeAdmin, Handle: s.putContact},
		{Method: "GET", Pattern: "/v1/contacts", Scope: approval.ScopeAdmin, Audit: true, Handle: s.listContacts},
		{Method: "DELETE", Pattern: "/v1/contacts/{key}", Scope: approval.ScopeAdmin, Handle: s.deleteContact},
		{Method: "GET", Pattern: "/v1/notifications", Scope: approval.ScopeAdmin, Audit: true, Handle: s.listNotifications},
		// Any authenticated principal: the engine decides what each may do
		// (its own delegations and preferences; anyone's for an admin).
		{Method: "POST", Pattern: "/v1/delegations", Handle: s.createDelegation},
		{Method: "GET", Pattern: "/v1/delegations", Handle: s.listDelegations},
		{Method: "GET", Pattern: "/v1/delegations/{id}", Handle: s.getDelegation},
		{Method: "POST", Pattern: "/v1/delegations/{id}/revoke", Handle: s.revokeDelegation},
		{Method: "GET", Pattern: "/v1/me/notification-preferences", Handle: s.getPreferences},
		{Method: "PUT", Pattern: "/v1/me/notification-preferences", Handle: s.putPreferences},
		{Method: "POST", Pattern: "/v1/api-keys", Scope: approval.ScopeAdmin, Handle: s.createKey},
		{Method: "GET", Pattern: "/v1/api-keys", Scope: approval.ScopeAdmin, Audit: true, Handle: s.listKeys},
		{Method: "DELETE", Pattern: "/v1/api-keys/{id}", Scope: approval.ScopeAdmin, Handle: s.revokeKey},
		{Method: "POST", Pattern: "/v1/api-keys/{id}/rotate", Scope: approval.ScopeAdmin, Handle: s.rotateKey},
		{Method: "GET", Pattern: "/v1/gateway/calls", Scope: approval.ScopeAdmin, Audit: true, Handle: s.gatewayCalls},
		// GitHub authenticates its deliveries with X-Hub-Signature-256,
		// which the handler checks.
		{Method: "POST", Pattern: "/v1/github/webhook", Public: true, Handle: s.githubWebhook},
		{Method: "GET", Pattern: "/metrics", Scope: approval.ScopeAdmin, Audit: true, Handle: s.metrics},
		{Method: "GET", Pattern: "/healthz", Public: true, Handle: s.healthz},
		{Method: "GET", Pattern: "/readyz", Public: true, Handle: s.readyz},
		// Verifiers fetch the receipt keys without a credential.
		{Method: "GET", Pattern: "/.well-known/approvald/keys", Public: true, Handle: s.receiptKeys},
		{Method: "GET", Pattern: "/openapi.json", Public: true, Handle: s.openapi},
		{Method: "GET", Pattern: "/docs", Public: true, Handle: s.docs},
	}
}

// New returns the HTTP handler of the native API.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &server{Deps: d, limiter: newLimiter(d.Limits, d.Now)}
	mux := httpkit.Mux(s.routes(), s.serve, writeError)
	return observe(d.Logger, securityHeaders(cors(d.CORSOrigins, mux)))
}

// serve authenticates the caller of rt, checks its scope and rate limit,
// and turns the handler's error into a problem response.
func (s *server) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			p   approval.Principal
			err error
		)
		if !rt.Public {
			if p, err = s.authenticate(r); err == nil {
				access.SetPrincipal(r.Context(), p.ID)
				err = rt.Check(p)
			}
			if err == nil {
				err = s.limitRequest(p)
			}
		}
		if err == nil {
			err = rt.Handle(w, r, p)
		}
		if err != nil {
			writeError(w, r, err)
		}
	})
}
