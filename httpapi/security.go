package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"approvald/access"
	"approvald/approval"
	"approvald/auth"
	"approvald/auth/oidc"
)

// TokenVerifier verifies a person's bearer JWT (auth/oidc.Verifier).
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (approval.Principal, error)
}

// Metrics are the API's security counters. NewMetrics registers them.
type Metrics struct {
	AuthFailures *prometheus.CounterVec // by credential: api_key, jwt, none
	RateLimited  *prometheus.CounterVec // by limit: requests, streams, failed_auth
}

// NewMetrics creates the counters and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "approvald_auth_failures_total",
			Help: "Requests refused because their credential was missing, unknown, revoked, expired or invalid.",
		}, []string{"credential"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "approvald_rate_limited_total",
			Help: "Requests refused with 429 by a per-principal or per-address limit.",
		}, []string{"limit"}),
	}
	reg.MustRegister(m.AuthFailures, m.RateLimited)
	// Known label values start at 0, so that alerts see data at once.
	for _, c := range []string{"api_key", "jwt", "none"} {
		m.AuthFailures.WithLabelValues(c)
	}
	for _, l := range []string{"requests", "streams", "failed_auth"} {
		m.RateLimited.WithLabelValues(l)
	}
	return m
}

// authenticate returns the principal of the request's bearer credential: a
// JWT when a TokenVerifier is configured and the value looks like one, else
// an API key. Failures are logged without the credential and counted; an
// address with too many failures gets 429.
func (s *server) authenticate(r *http.Request) (approval.Principal, error) {
	token, ok := bearer(r)
	kind := "none"
	var (
		p   approval.Principal
		err error
	)
	switch {
	case !ok:
		err = approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated,
			"this route needs a credential: send Authorization: Bearer <API key or token>")
	case s.Tokens != nil && oidc.LooksLikeJWT(token):
		kind = "jwt"
		p, err = s.Tokens.Verify(r.Context(), token)
	default:
		kind = "api_key"
		p, err = s.Keys.Authenticate(r.Context(), token)
	}
	if err == nil {
		return p, nil
	}
	if approval.KindOf(err) != approval.KindUnauthenticated {
		return p, err // the key store failed: not the caller's fault
	}
	reason := approval.AsError(err).Message
	if kind == "jwt" {
		reason = oidc.Reason(err)
	}
	access.Logger(r.Context()).Warn("authentication failed", "credential", kind, "reason", reason,
		"key_prefix", auth.LogID(token), "remote_addr", clientAddr(r), "route", r.Pattern)
	if s.Metrics != nil {
		s.Metrics.AuthFailures.WithLabelValues(kind).Inc()
	}
	if kind == "none" {
		return p, err // no credential: nothing was guessed
	}
	if lerr := s.limiter.failedAuth(clientAddr(r)); lerr != nil {
		s.countLimited("failed_auth")
		return p, lerr
	}
	return p, err
}

// clientAddr is the IP address the request came from.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *server) countLimited(limit string) {
	if s.Metrics != nil {
		s.Metrics.RateLimited.WithLabelValues(limit).Inc()
	}
}

// limitRequest takes a token of p's request bucket.
func (s *server) limitRequest(p approval.Principal) error {
	if err := s.limiter.request(p); err != nil {
		s.countLimited("requests")
		return err
	}
	return nil
}

// openStream counts an open event stream or long-poll of p.
func (s *server) openStream(p approval.Principal) (func(), error) {
	release, err := s.limiter.openStream(p)
	if err != nil {
		s.countLimited("streams")
	}
	return release, err
}

// securityHeaders sets headers every response carries, and, for the HTML
// page, a content security policy that allows nothing but its own inline
// style.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = nosniff
		h["Referrer-Policy"] = noReferrer
		next.ServeHTTP(w, r)
	})
}

// The values of the headers every response carries, shared by every
// response rather than allocated for each. Nothing writes into a header's
// values in place, and a handler's Header().Add copies them (their
// capacity is their length).
var (
	nosniff    = []string{"nosniff"}
	noReferrer = []string{"no-referrer"}
)

// htmlHeaders are the headers of HTML responses.
func htmlHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
}

// corsHeaders lists the request headers a browser may send cross-origin.
const corsHeaders = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, Last-Event-ID, X-Request-Id"

// corsExposed lists the response headers a cross-origin script may read.
const corsExposed = "ETag, Location, Retry-After, X-Request-Id, Idempotent-Replayed"

// cors answers cross-origin requests from the allowed origins, and only
// those: without origins, it adds nothing and browsers refuse cross-origin
// reads. Credentials are bearer tokens, never cookies, so
// Access-Control-Allow-Credentials is not sent.
func cors(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !(slices.Contains(origins, origin) || slices.Contains(origins, "*")) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposed)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ValidateOrigins checks configured CORS origins: "*" or scheme://host[:port].
func ValidateOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			continue
		}
		scheme, rest, ok := strings.Cut(o, "://")
		if !ok || (scheme != "http" && scheme != "https") || rest == "" || strings.ContainsAny(rest, "/?#") {
			return errors.New("CORS origin " + o + " is not * or scheme://host[:port]")
		}
	}
	return nil
}

// metrics serves the Prometheus metrics (admin or audit: the counters tell
// who is being refused, which is not public).
func (s *server) metrics(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if s.Gatherer == nil {
		return unavailable("metrics")
	}
	promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
