// Package httpapi serves approvald's native HTTP API (v1): JSON in and out,
// RFC 9457 problem details for every error, bearer API keys checked against
// one route × scope table, the OpenAPI document and a page rendered from it.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"approvald/approval"
	"approvald/auth"
	"approvald/delivery"
	"approvald/engine"
)

// Deps is what the API needs.
type Deps struct {
	Engine *engine.Engine
	Keys   *auth.Keys
	// Ready reports whether the service can serve (the database answers).
	Ready  func(context.Context) error
	Logger *slog.Logger
	// Hub feeds long-polls and the event stream; without it they answer 503.
	Hub *delivery.Hub
}

// server holds the dependencies of the handlers.
type server struct {
	Deps
}

// handlerFunc is an API handler: it returns an error instead of writing one,
// and gets the authenticated principal (the zero Principal on public routes).
type handlerFunc func(w http.ResponseWriter, r *http.Request, p approval.Principal) error

// route is one row of the route table: the method and pattern, the scope a
// caller needs ("" for public routes), and the handler.
type route struct {
	method  string
	pattern string
	scope   approval.Scope
	handle  handlerFunc
}

// routes is the one table of every route the API serves.
func (s *server) routes() []route {
	return []route{
		{"POST", "/v1/approvals", approval.ScopeCreate, s.createApproval},
		{"GET", "/v1/approvals", approval.ScopeRead, s.listApprovals},
		{"GET", "/v1/approvals/{id}", approval.ScopeRead, s.getApproval},
		{"PATCH", "/v1/approvals/{id}", approval.ScopeCreate, s.editApproval},
		{"POST", "/v1/approvals/{id}/reviews", approval.ScopeReview, s.reviewApproval},
		{"POST", "/v1/approvals/{id}/cancel", approval.ScopeCreate, s.cancelApproval},
		{"GET", "/v1/approvals/{id}/history", approval.ScopeRead, s.history},
		{"POST", "/v1/approvals/{id}/redeliver", approval.ScopeAdmin, s.redeliver},
		{"GET", "/v1/events", approval.ScopeRead, s.events},
		{"POST", "/v1/service-rules", approval.ScopeAdmin, s.createRule},
		{"GET", "/v1/service-rules", approval.ScopeAdmin, s.listRules},
		{"GET", "/v1/service-rules/{name}", approval.ScopeAdmin, s.getRule},
		{"PATCH", "/v1/service-rules/{name}", approval.ScopeAdmin, s.editRule},
		{"DELETE", "/v1/service-rules/{name}", approval.ScopeAdmin, s.deleteRule},
		{"POST", "/v1/policies", approval.ScopeAdmin, s.createPolicy},
		{"GET", "/v1/policies", approval.ScopeRead, s.listPolicies},
		{"GET", "/v1/policies/{name}", approval.ScopeRead, s.getPolicy},
		{"PUT", "/v1/policies/{name}", approval.ScopeAdmin, s.replacePolicy},
		{"DELETE", "/v1/policies/{name}", approval.ScopeAdmin, s.deletePolicy},
		{"POST", "/v1/api-keys", approval.ScopeAdmin, s.createKey},
		{"GET", "/v1/api-keys", approval.ScopeAdmin, s.listKeys},
		{"DELETE", "/v1/api-keys/{id}", approval.ScopeAdmin, s.revokeKey},
		{"GET", "/healthz", "", s.healthz},
		{"GET", "/readyz", "", s.readyz},
		{"GET", "/openapi.json", "", s.openapi},
		{"GET", "/docs", "", s.docs},
	}
}

// New returns the HTTP handler of the native API.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{Deps: d}
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
	return observe(d.Logger, mux)
}

// wrap authenticates the caller, checks the route's scope and turns the
// handler's error into a problem response.
func (s *server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p approval.Principal
		if rt.scope != "" {
			var err error
			if p, err = s.authenticate(r); err == nil && !p.Has(rt.scope) {
				err = approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
					"this route needs the %s scope, which %s does not have", rt.scope, p.ID)
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

func (s *server) authenticate(r *http.Request) (approval.Principal, error) {
	token, ok := bearer(r)
	if !ok {
		return approval.Principal{}, approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated,
			"this route needs an API key: send Authorization: Bearer <key>")
	}
	return s.Keys.Authenticate(r.Context(), token)
}
