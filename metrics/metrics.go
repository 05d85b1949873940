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
	"sync"
	"sync/atomic"
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

	routes sync.Map // route → *routeChildren
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
	// Series whose label values are known start at 0, so that an alert
	// or a rate() on them sees data before the first event.
	for _, o := range Outcomes {
		m.decisions.WithLabelValues(o)
	}
	for _, r := range DeliveryResults {
		m.deliveries.WithLabelValues(r)
	}
	return m
}

// Outcomes are the values of approvald_decisions_total's outcome label.
var Outcomes = []string{"approved", "rejected", "cancelled", "expired"}

// DeliveryResults are the values of approvald_delivery_attempts_total's
// result label.
var DeliveryResults = []string{"delivered", "retry", "failed"}

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

// Middleware counts and times every request that next answers, by route
// pattern (a registered pattern or "unmatched", never the raw path: see
// access.Observe), method and status class (see MethodLabel and
// StatusClass): every label is of a closed set, whatever requests say.
// The request's trace span, if one is recording, is named after the route
// too; when none is (tracing off), naming costs nothing.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return access.Observe(next, m.observe)
}

// observe records one request; Middleware's access.Observe calls it.
func (m *Metrics) observe(r *http.Request, route string, status int, elapsed time.Duration) {
	method, class := methodIndex(r.Method), statusIndex(status)
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		name := route // patterns such as "GET /v1/approvals/{id}" name the method
		if !strings.Contains(route, " ") {
			name = methods[method] + " " + route
		}
		span.SetName(name)
	}
	c := m.children(route, method, class)
	c.requests.Inc()
	c.duration.Observe(elapsed.Seconds())
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

// routeChildren are the request counters and duration histograms of one
// route, by method and status class, looked up once each: WithLabelValues
// hashes its labels and takes a lock on every call.
type routeChildren [len(methods)][len(classes)]atomic.Pointer[children]

type children struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// children returns the collectors of one label set. The routes are the
// registered patterns and "unmatched", so the map stays as small as the
// route table.
func (m *Metrics) children(route string, method, class int) *children {
	rc, ok := m.routes.Load(route)
	if !ok {
		rc, _ = m.routes.LoadOrStore(route, new(routeChildren))
	}
	slot := &rc.(*routeChildren)[method][class]
	if c := slot.Load(); c != nil {
		return c
	}
	labels := []string{route, methods[method], classes[class]}
	slot.CompareAndSwap(nil, &children{requests: m.requests.WithLabelValues(labels...), duration: m.duration.WithLabelValues(labels...)})
	return slot.Load()
}
