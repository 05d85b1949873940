// Package httpkit is what approvald's four HTTP faces — the native API
// (httpapi), the web UI (web), the legacy stash API (legacy) and the
// CR8TOR gateway (gateway) — share: one route table type with each
// route's scope, one 404 and 405, one scope check, one body reader with its
// limits and strictness, and one mapping of approval.Error kinds to HTTP
// statuses.
//
// A face's handler returns an error rather than writing one (as tailscale's
// tsweb handlers do); Fail maps it to its status and hands both to the
// face's Renderer, the one thing each face keeps of its own: problem+json
// in httpapi, {"error": "..."} in legacy, the CR8TOR envelope in gateway,
// an HTML page in web. The access log and the metrics stay the access
// package's.
package httpkit

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"approvald/access"
	"approvald/approval"
)

// Route is one row of a face's route table: the method and the pattern (as
// http.ServeMux reads them), who may call it, and the face's handler.
type Route[H any] struct {
	Method  string
	Pattern string
	// Public routes need no credential. The others need an authenticated
	// principal holding Scope (any principal when Scope is "") — or the
	// audit scope, when Audit is set (read-only routes).
	Public bool
	Scope  approval.Scope
	Audit  bool
	Handle H
}

// Allows reports whether p may call rt.
func (rt Route[H]) Allows(p approval.Principal) bool {
	return rt.Scope == "" || p.Has(rt.Scope) || (rt.Audit && p.Has(approval.ScopeAudit))
}

// Check returns nil when p may call rt, else a KindForbidden
// missing_scope error naming the scope p lacks.
func (rt Route[H]) Check(p approval.Principal) error {
	if rt.Allows(p) {
		return nil
	}
	return missingScope(p, rt.Scope, rt.Audit)
}

// NeedScopes returns nil when p holds every one of scopes, else the error
// Check gives for the first it lacks: for a route whose scope depends on
// what the body asks (the legacy PUT /request).
func NeedScopes(p approval.Principal, scopes ...approval.Scope) error {
	for _, sc := range scopes {
		if !p.Has(sc) {
			return missingScope(p, sc, false)
		}
	}
	return nil
}

func missingScope(p approval.Principal, scope approval.Scope, audit bool) error {
	also := ""
	if audit {
		also = " (or audit)"
	}
	return approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
		"this route needs the %s scope%s, which %s does not have", scope, also, p.ID)
}

// Mux returns a ServeMux that serves each route of routes with the handler
// serve makes of it, and answers every other request with an error handed
// to fail: a pattern of the table with another method is 405
// method_not_allowed, with an Allow header listing the methods (HEAD
// beside GET); anything else is 404 not_found.
func Mux[H any](routes []Route[H], serve func(Route[H]) http.Handler, fail func(http.ResponseWriter, *http.Request, error)) *http.ServeMux {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+rt.Pattern, serve(rt))
		methods[rt.Pattern] = append(methods[rt.Pattern], rt.Method)
	}
	for pattern, ms := range methods {
		if slices.Contains(ms, http.MethodGet) {
			ms = append(ms, http.MethodHead)
		}
		allow := strings.Join(ms, ", ")
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			fail(w, r, approval.Errorf(approval.KindMethodNotAllowed, approval.CodeMethodNotAllowed,
				"method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// statuses is the one mapping from error kinds to HTTP statuses.
var statuses = [...]int{
	approval.KindInternal:         http.StatusInternalServerError,
	approval.KindMalformed:        http.StatusBadRequest,
	approval.KindInvalid:          http.StatusUnprocessableEntity,
	approval.KindUnauthenticated:  http.StatusUnauthorized,
	approval.KindForbidden:        http.StatusForbidden,
	approval.KindNotFound:         http.StatusNotFound,
	approval.KindConflict:         http.StatusConflict,
	approval.KindPrecondition:     http.StatusPreconditionFailed,
	approval.KindTooLarge:         http.StatusRequestEntityTooLarge,
	approval.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	approval.KindUnavailable:      http.StatusServiceUnavailable,
	approval.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	approval.KindRateLimited:      http.StatusTooManyRequests,
}

// StatusOf returns the HTTP status of an error kind: 500 for KindInternal
// and for a kind it does not know.
func StatusOf(k approval.Kind) int {
	if int(k) < len(statuses) && statuses[k] != 0 {
		return statuses[k]
	}
	return http.StatusInternalServerError
}

// Renderer writes a face's answer to an error: status is StatusOf(e.Kind),
// and e is never nil. Its Message is safe to show; its Err is not.
type Renderer func(w http.ResponseWriter, r *http.Request, status int, e *approval.Error)

// Fail answers err through render. When the client has gone (or the server
// is stopping) nobody reads an answer, so none is written. Otherwise the
// cause of a 5xx is logged at error level and a refusal at debug level
// (with the request's logger, see access.Logger), Retry-After is set when
// the error says how long to wait (a rate limit, an unavailable
// database), and render writes the rest.
func (render Renderer) Fail(w http.ResponseWriter, r *http.Request, err error) {
	log := access.Logger(r.Context())
	if r.Context().Err() != nil {
		log.Info("request abandoned", "reason", context.Cause(r.Context()).Error())
		return
	}
	e := approval.AsError(err)
	status := StatusOf(e.Kind)
	if status >= 500 {
		log.Error("request failed", "err", err, "code", e.Code)
	} else {
		log.Debug("request refused", "status", status, "code", e.Code, "detail", e.Message)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	render(w, r, status, e)
}
