package metrics

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"approvald/access"
	"approvald/approval"
)

func TestMiddleware_LabelsByRoutePatternNeverByPath(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := New(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /items/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusConflict) })
	// A face under a prefix that routes further reports its own pattern.
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/things/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.Handle("/api/", access.Log(access.Face{Name: "test"}, inner))
	h := m.Middleware(mux)
	for _, path := range []string{"/items/1", "/items/2"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", path, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/things/42", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere/42", nil))

	for labels, want := range map[[3]string]float64{
		{"POST /items/{id}", "POST", "4xx"}:    2,
		{"GET /api/things/{id}", "GET", "2xx"}: 1,
		{"unmatched", "GET", "4xx"}:            1,
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(labels[0], labels[1], labels[2])); got != want {
			t.Errorf("requests%v = %v, want %v", labels, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 3 {
		t.Errorf("%d label sets, want 3 (no raw paths)", n)
	}
}

func TestMethodLabel_StandardMethodsElseOther(t *testing.T) {
	t.Parallel()
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		if got := MethodLabel(m); got != m {
			t.Errorf("MethodLabel(%q) = %q", m, got)
		}
	}
	for _, m := range []string{"get", "PROPFIND", "FOO", "", strings.Repeat("X", 10000)} {
		if got := MethodLabel(m); got != "other" {
			t.Errorf("MethodLabel(%.20q) = %q, want other", m, got)
		}
	}
}

func TestStatusClass_OneToFiveHundredsElseOther(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{100: "1xx", 200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 499: "4xx", 500: "5xx", 599: "5xx", 600: "other", 999: "other", 0: "other", 99: "other"} {
		if got := StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestMiddleware_MadeUpMethodsShareOneSeries(t *testing.T) {
	t.Parallel()
	m := New(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(http.ResponseWriter, *http.Request) {})
	h := m.Middleware(mux)
	for i := range 300 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(fmt.Sprintf("M%dX", i), "/items/1", nil))
	}
	if n := testutil.CollectAndCount(m.requests); n != 1 {
		t.Errorf("%d label sets after 300 made-up methods, want 1", n)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("unmatched", "other", "4xx")); got != 300 {
		t.Errorf("requests{unmatched,other,4xx} = %v, want 300", got)
	}
}

func TestMiddleware_KeepsTheWriterFlushable(t *testing.T) {
	t.Parallel()
	m := New(prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the middleware: %v", err)
		}
	})
	m.Middleware(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestNilMetrics_RecordNothing(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.Decision("approved")
	m.DeliveryAttempt("delivered", time.Second)
	m.Upstream("publish", 200, false, time.Second)
	h := http.NotFoundHandler()
	if got := m.Middleware(h); got == nil {
		t.Error("a nil Metrics' middleware is nil")
	}
}

func TestUpstream_StatusLabels(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Upstream("publish", 503, false, time.Millisecond)
	m.Upstream("publish", 0, true, time.Millisecond)
	m.Upstream("metadata", 0, false, time.Millisecond)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		if f.GetName() != "approvald_gateway_upstream_duration_seconds" {
			continue
		}
		for _, s := range f.Metric {
			labels := map[string]string{}
			for _, l := range s.Label {
				labels[l.GetName()] = l.GetValue()
			}
			got = append(got, labels["upstream"]+"/"+labels["status"])
		}
	}
	slices.Sort(got)
	if strings.Join(got, " ") != "metadata/error publish/503 publish/timeout" {
		t.Errorf("upstream series %v", got)
	}
}

type fakeOutbox struct {
	st  approval.OutboxStats
	err error
}

func (f fakeOutbox) OutboxStats(context.Context) (approval.OutboxStats, error) { return f.st, f.err }

func TestOutboxCollector_DepthAndAge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	log := slog.New(slog.DiscardHandler)
	c := NewOutboxCollector(fakeOutbox{st: approval.OutboxStats{Undelivered: 3, OldestUndelivered: now.Add(-90 * time.Second)}}, func() time.Time { return now }, log)
	want := `
# HELP approvald_outbox_oldest_undelivered_age_seconds Age of the oldest decision whose delivery is not finished; 0 when there is none.
# TYPE approvald_outbox_oldest_undelivered_age_seconds gauge
approvald_outbox_oldest_undelivered_age_seconds 90
# HELP approvald_outbox_undelivered Decisions whose delivery to a service rule is not finished.
# TYPE approvald_outbox_undelivered gauge
approvald_outbox_undelivered 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	failing := NewOutboxCollector(fakeOutbox{err: errors.New("database down")}, time.Now, log)
	if n := testutil.CollectAndCount(failing); n != 0 {
		t.Errorf("a failed read gave %d samples, want none", n)
	}
}

type fakePools map[string]sql.DBStats

func (f fakePools) PoolStats() map[string]sql.DBStats { return f }

func TestPoolCollector_EveryPool(t *testing.T) {
	t.Parallel()
	c := NewPoolCollector(fakePools{"writer": {MaxOpenConnections: 1, OpenConnections: 1, InUse: 1}, "reader": {MaxOpenConnections: 4, Idle: 2, OpenConnections: 2, WaitCount: 5, WaitDuration: 2 * time.Second}})
	if n := testutil.CollectAndCount(c); n != 12 {
		t.Errorf("%d samples, want 6 per pool", n)
	}
	want := `
# HELP approvald_db_pool_wait_seconds_total Time callers waited for a connection.
# TYPE approvald_db_pool_wait_seconds_total counter
approvald_db_pool_wait_seconds_total{pool="reader"} 2
approvald_db_pool_wait_seconds_total{pool="writer"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "approvald_db_pool_wait_seconds_total"); err != nil {
		t.Error(err)
	}
}
