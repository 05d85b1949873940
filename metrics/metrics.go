// Package metrics adapts approvald to Prometheus: the collectors of every
// metric the service exports, an HTTP middleware that counts and times
// requests by route pattern, and collectors that read the outbox and the
// database pools when scraped. Nothing here is needed to serve; a nil
// *Metrics is valid everywhere and records nothing.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"approvald/access"
)

// Metrics holds the collectors approvald records into.
type Metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	decisions       *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	deliveryLatency prometheus.Histogram
	upstreamLatency *prometheus.HistogramVec
}

// latencyBuckets suit requests answered from memory or one database
// transaction (a millisecond) up to long-polls and slow upstreams.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "approvald_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status class (2xx, 4xx…).",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "approvald_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern, method and status class.",
			Buckets: latencyBuckets,
		}, []string{"route", "method", "code"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "approvald_decisions_total",
			Help: "Requests decided, by outcome (approved, rejected, cancelled, expired).",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "approvald_delivery_attempts_total",
			Help: "Decision delivery attempts to service rules, by result (delivered, retry, failed).",
		}, []string{"result"}),
		deliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "approvald_decision_delivery_seconds",
			Help:    "Time from a decision's commit to its delivery being confirmed by the receiver.",
			Buckets: latencyBuckets,
		}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "approvald_gateway_upstream_duration_seconds",
			Help:    "Time the CR8TOR gateway's upstream calls took, by upstream (metadata, publish) and status (the HTTP status, or error / timeout).",
			Buckets: latencyBuckets,
		}, []string{"upstream", "status"}),
	}
	reg.MustRegister(m.requests, m.duration, m.decisions, m.deliveries, m.deliveryLatency, m.upstreamLatency)
	return m
}

// Decision counts a decision with outcome (approved, rejected, cancelled
// or expired).
func (m *Metrics) Decision(outcome string) {
	if m != nil {
		m.decisions.WithLabelValues(outcome).Inc()
	}
}

// DeliveryAttempt counts one delivery attempt with result (delivered,
// retry or failed); for a delivered one, sinceDecision is the time from
// the decision's commit.
func (m *Metrics) DeliveryAttempt(result string, sinceDecision time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(result).Inc()
	if result == "delivered" {
		m.deliveryLatency.Observe(sinceDecision.Seconds())
	}
}

// Upstream times one call of the gateway to upstream; status is the HTTP
// status, or 0 when none came (a timeout when timedOut).
func (m *Metrics) Upstream(upstream string, status int, timedOut bool, d time.Duration) {
	if m == nil {
		return
	}
	label := strconv.Itoa(status)
	switch {
	case timedOut:
		label = "timeout"
	case status == 0:
		label = "error"
	}
	m.upstreamLatency.WithLabelValues(upstream, label).Observe(d.Seconds())
}

// Middleware counts and times every request that next answers. The route
// label is the pattern an access.Log inside next reported (the pattern of
// the face's own mux), else the pattern of mux that matched, else
// "unmatched": never the raw path; the method and the status class are of
// closed sets too (MethodLabel, StatusClass), so the labels stay bounded
// whatever requests say. The request's trace span, if any, is named after
// the route too.
func (m *Metrics) Middleware(mux *http.ServeMux, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, reported := access.WithRoute(r.Context())
		r = r.WithContext(ctx)
		cw := &access.Recorder{ResponseWriter: w}
		defer func() {
			route := *reported
			if route == "" {
				if _, pattern := mux.Handler(r); pattern != "" {
					route = pattern
				} else {
					route = "unmatched"
				}
			}
			code := cw.Status
			if code == 0 {
				code = http.StatusOK
			}
			method, class := MethodLabel(r.Method), StatusClass(code)
			name := route // patterns such as "GET /v1/approvals/{id}" name the method
			if !strings.Contains(route, " ") {
				name = method + " " + route
			}
			trace.SpanFromContext(r.Context()).SetName(name)
			m.requests.WithLabelValues(route, method, class).Inc()
			m.duration.WithLabelValues(route, method, class).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(cw, r)
	})
}

// methods are the values of the method label: the methods of RFC 9110 and
// PATCH, then "other" for any other token a client sends.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other"}

// classes are the values of the status class label.
var classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// MethodLabel returns the method label of a request with method: the
// method itself when it is a standard one (methods are case-sensitive, so
// "get" is not), else "other", so that made-up methods add no series.
func MethodLabel(method string) string { return methods[methodIndex(method)] }

func methodIndex(method string) int {
	switch method {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "PATCH":
		return 4
	case "DELETE":
		return 5
	case "OPTIONS":
		return 6
	case "CONNECT":
		return 7
	case "TRACE":
		return 8
	}
	return len(methods) - 1
}

// StatusClass returns the status class label of status: 1xx to 5xx, else
// "other".
func StatusClass(status int) string { return classes[statusIndex(status)] }

func statusIndex(status int) int {
	if status >= 100 && status < 600 {
		return status/100 - 1
	}
	return len(classes) - 1
}
