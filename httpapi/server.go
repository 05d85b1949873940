// Package httpapi serves approvald's native HTTP API (v1): JSON in and out,
// RFC 9457 problem details for every error, bearer API keys checked against
// one route × scope table, the OpenAPI document and a page rendered from it.
package httpapi

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/auth"
	"approvald/delivery"
	"approvald/engine"
	"approvald/gateway/calllog"
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
}

// server holds the dependencies of the handlers.
type server struct {
	Deps
	limiter *limiter
}

// handlerFunc is an API handler: it returns an error instead of writing one,
// and gets the authenticated principal (the zero Principal on public routes).
type handlerFunc func(w http.ResponseWriter, r *http.Request, p approval.Principal) error

// route is one row of the route table: the method and pattern, the scope a
// caller needs ("" for public routes), whether the audit scope suffices
// instead (read-only routes), and the handler.
type route struct {
	method  string
	pattern string
	scope   approval.Scope
	audit   bool
	handle  handlerFunc
}

// allows reports whether p may use rt.
func (rt route) allows(p approval.Principal) bool {
	return p.Has(rt.scope) || (rt.audit && p.Has(approval.ScopeAudit))
}

// routes is the one table of every route the API serves.
func (s *server) routes() []route {
	return []route{
		{"POST", "/v1/approvals", approval.ScopeCreate, false, s.createApproval},
		{"GET", "/v1/approvals", approval.ScopeRead, true, s.listApprovals},
		{"GET", "/v1/approvals/{id}", approval.ScopeRead, true, s.getApproval},
		{"PATCH", "/v1/approvals/{id}", approval.ScopeCreate, false, s.editApproval},
		{"POST", "/v1/approvals/{id}/reviews", approval.ScopeReview, false, s.reviewApproval},
		{"POST", "/v1/approvals/{id}/cancel", approval.ScopeCreate, false, s.cancelApproval},
		{"GET", "/v1/approvals/{id}/history", approval.ScopeRead, true, s.history},
		{"GET", "/v1/history", approval.ScopeAdmin, true, s.listHistory},
		{"GET", "/v1/history/verify", approval.ScopeAdmin, true, s.verifyHistory},
		{"POST", "/v1/approvals/{id}/redeliver", approval.ScopeAdmin, false, s.redeliver},
		{"GET", "/v1/events", approval.ScopeRead, true, s.events},
		{"POST", "/v1/service-rules", approval.ScopeAdmin, false, s.createRule},
		{"GET", "/v1/service-rules", approval.ScopeAdmin, true, s.listRules},
		{"GET", "/v1/service-rules/{name}", approval.ScopeAdmin, true, s.getRule},
		{"PATCH", "/v1/service-rules/{name}", approval.ScopeAdmin, false, s.editRule},
		{"DELETE", "/v1/service-rules/{name}", approval.ScopeAdmin, false, s.deleteRule},
		{"POST", "/v1/policies", approval.ScopeAdmin, false, s.createPolicy},
		{"GET", "/v1/policies", approval.ScopeRead, true, s.listPolicies},
		{"GET", "/v1/policies/{name}", approval.ScopeRead, true, s.getPolicy},
		{"PUT", "/v1/policies/{name}", approval.ScopeAdmin, false, s.replacePolicy},
		{"DELETE", "/v1/policies/{name}", approval.ScopeAdmin, false, s.deletePolicy},
		{"POST", "/v1/api-keys", approval.ScopeAdmin, false, s.createKey},
		{"GET", "/v1/api-keys", approval.ScopeAdmin, true, s.listKeys},
		{"DELETE", "/v1/api-keys/{id}", approval.ScopeAdmin, false, s.revokeKey},
		{"POST", "/v1/api-keys/{id}/rotate", approval.ScopeAdmin, false, s.rotateKey},
		{"GET", "/v1/gateway/calls", approval.ScopeAdmin, true, s.gatewayCalls},
		{"GET", "/metrics", approval.ScopeAdmin, true, s.metrics},
		{"GET", "/healthz", "", false, s.healthz},
		{"GET", "/readyz", "", false, s.readyz},
		{"GET", "/openapi.json", "", false, s.openapi},
		{"GET", "/docs", "", false, s.docs},
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
	mux := http.NewServeMux()
	methods := map[string][]string{}
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
		methods[rt.pattern] = append(methods[rt.pattern], rt.method)
	}
	// A known path with another method: 405 with Allow, as problem+json.
	for pattern, ms := range methods {
		if slices.Contains(ms, "GET") {
			ms = append(ms, "HEAD")
		}
		allow := strings.Join(ms, ", ")
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, r, approval.Errorf(approval.KindMethodNotAllowed, approval.CodeMethodNotAllowed,
				"method %s is not allowed here; allowed: %s", r.Method, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return observe(d.Logger, securityHeaders(cors(d.CORSOrigins, mux)))
}

// wrap authenticates the caller, checks the route's scope and turns the
// handler's error into a problem response.
func (s *server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p approval.Principal
		if rt.scope != "" {
			var err error
			p, err = s.authenticate(r)
			if err == nil {
				access.SetPrincipal(r.Context(), p.ID)
			}
			if err == nil && !rt.allows(p) {
				also := ""
				if rt.audit {
					also = " (or audit)"
				}
				err = approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
					"this route needs the %s scope%s, which %s does not have", rt.scope, also, p.ID)
			}
			if err == nil {
				err = s.limitRequest(p)
			}
			if err != nil {
				writeError(w, r, err)
				return
			}
		}
		if err := rt.handle(w, r, p); err != nil {
			writeError(w, r, err)
		}
	})
}
