package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is a webhook receiver that answers 204 and keeps the headers of
// what it got.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.got = append(r.got, req.Header.Clone())
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) headers() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.got...)
}

// waitStatus polls the request until it has status.
func waitStatus(t *testing.T, c client, id, status string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := c.must(200, "GET", "/v1/approvals/"+id, nil)
		if got["status"] == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s is %v, want %s", id, got["status"], status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape returns the samples of the Prometheus text at url as
// "name{labels}" → value.
func scrape(t *testing.T, url, key string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// flow runs a small scripted workload: a request approved and delivered
// to a webhook receiver, one rejected, one cancelled, a failed create, and
// a gateway package call to a fake Publish service. It returns the id of
// the delivered request.
func flow(t *testing.T, admin client, recv *receiver) string {
	t.Helper()
	newKey := func(name string, scopes ...string) string {
		return admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes})["key"].(string)
	}
	billing := admin.as(newKey("billing", "approvals:create", "approvals:read"))
	ops := admin.as(newKey("ops", "approvals:review", "approvals:read"))
	admin.must(201, "POST", "/v1/service-rules", map[string]any{"name": "payments", "url": recv.srv.URL, "timeout": "5s"})

	delivered := billing.must(201, "POST", "/v1/approvals", map[string]any{"title": "Pay invoice 1", "service_rule": "payments", "payload": map[string]any{"n": 1}})["id"].(string)
	ops.must(200, "POST", "/v1/approvals/"+delivered+"/reviews", map[string]any{"decision": "approve"})
	waitStatus(t, ops, delivered, "approved")

	rejected := billing.must(201, "POST", "/v1/approvals", map[string]any{"title": "Pay invoice 2", "payload": map[string]any{"n": 2}})["id"].(string)
	ops.must(200, "POST", "/v1/approvals/"+rejected+"/reviews", map[string]any{"decision": "reject"})
	cancelled := billing.must(201, "POST", "/v1/approvals", map[string]any{"title": "Pay invoice 3", "payload": map[string]any{"n": 3}})["id"].(string)
	billing.must(200, "POST", "/v1/approvals/"+cancelled+"/cancel", map[string]any{"comment": "not needed"})
	billing.must(422, "POST", "/v1/approvals", map[string]any{"title": ""})
	return delivered
}

// flowWithGateway starts a server (with env besides the admin key and a
// fake Publish upstream), runs the end-to-end flow and one gateway package
// call through it, and returns its base URL, its log and the status of
// the gateway call: after it every labelled series exists.
func flowWithGateway(t *testing.T, env map[string]string) (string, *syncBuffer, int) {
	t.Helper()
	recv := newReceiver(t)
	publish := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"payload":{"data_retrieved":[{"file_path":"a.csv"}]}}`)
	}))
	t.Cleanup(publish.Close)
	pu, _ := url.Parse(publish.URL)
	all := map[string]string{
		"APPROVALD_ADMIN_KEY":   testAdminKey,
		"APPROVALSERVICEAPIKEY": "cr8tor-cli-key-0123456789", "PUBLISH_CONTAINER_NAME": pu.Hostname(), "PUBLISH_CONTAINER_PORT": pu.Port(),
	}
	maps.Copy(all, env)
	base, logs, _ := startServerLogs(t, all)
	flow(t, client{t: t, base: base, key: testAdminKey}, recv)
	req, _ := http.NewRequest("POST", base+"/project/package", strings.NewReader(`{"project_name":"p","project_start_time":"20250101_000000"}`))
	req.Header.Set("x-api-key", "cr8tor-cli-key-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return base, logs, resp.StatusCode
}

func TestMetrics_ScrapedAfterAFlow(t *testing.T) {
	t.Parallel()
	base, logs, status := flowWithGateway(t, map[string]string{"APPROVALD_DEBUG_ADDR": "127.0.0.1:0"})
	if status != 200 {
		t.Fatalf("gateway package: %d", status)
	}

	// The gateway answers before it records the call, so its request is
	// counted just after the client has its answer.
	m := scrape(t, base+"/metrics", testAdminKey)
	for i := 0; m[`approvald_http_requests_total{code="2xx",method="POST",route="/project/"}`] == 0 && i < 250; i++ {
		time.Sleep(20 * time.Millisecond)
		m = scrape(t, base+"/metrics", testAdminKey)
	}
	expect := func(sample string, ok func(v float64) bool, what string) {
		t.Helper()
		v, found := m[sample]
		if !found {
			t.Errorf("no sample %s", sample)
		} else if !ok(v) {
			t.Errorf("%s = %v, want %s", sample, v, what)
		}
	}
	exactly := func(n float64) func(float64) bool { return func(v float64) bool { return v == n } }
	atLeast := func(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
	expect(`approvald_http_requests_total{code="2xx",method="POST",route="POST /v1/approvals"}`, exactly(3), "3 creates")
	expect(`approvald_http_requests_total{code="4xx",method="POST",route="POST /v1/approvals"}`, exactly(1), "1 refused create")
	expect(`approvald_http_requests_total{code="2xx",method="POST",route="/project/"}`, exactly(1), "1 gateway call")
	expect(`approvald_http_request_duration_seconds_count{code="2xx",method="POST",route="POST /v1/approvals/{id}/reviews"}`, exactly(2), "2 reviews timed")
	expect(`approvald_decisions_total{outcome="approved"}`, exactly(1), "1")
	expect(`approvald_decisions_total{outcome="rejected"}`, exactly(1), "1")
	expect(`approvald_decisions_total{outcome="cancelled"}`, exactly(1), "1")
	expect(`approvald_delivery_attempts_total{result="delivered"}`, exactly(1), "1")
	expect(`approvald_decision_delivery_seconds_count`, exactly(1), "1")
	expect(`approvald_decision_delivery_seconds_sum`, func(v float64) bool { return v > 0 && v < 20 }, "the seconds one delivery took")
	expect(`approvald_outbox_undelivered`, exactly(0), "0 once delivered")
	expect(`approvald_outbox_oldest_undelivered_age_seconds`, exactly(0), "0")
	expect(`approvald_gateway_upstream_duration_seconds_count{status="200",upstream="publish"}`, exactly(1), "1")
	expect(`approvald_db_pool_max_connections{pool="writer"}`, exactly(1), "SQLite's one writer")
	expect(`approvald_db_pool_open_connections{pool="reader"}`, atLeast(1), "open readers")
	expect(`go_goroutines`, atLeast(1), "some")
	for sample := range m {
		if strings.Contains(sample, "route=") && regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}`).MatchString(sample) {
			t.Errorf("a route label holds a raw path: %s", sample)
		}
	}

	// The same registry on the debug listener, without a key; and pprof.
	debug := regexp.MustCompile(`"debug listener[^"]*","addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	if debug == nil {
		t.Fatalf("no debug listener in the log:\n%s", logs.String())
	}
	if d := scrape(t, "http://"+debug[1]+"/metrics", ""); d[`approvald_decisions_total{outcome="approved"}`] != 1 {
		t.Errorf("the debug listener's /metrics lacks the decisions")
	}
	resp, err := http.Get("http://" + debug[1] + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Errorf("pprof: %d %.100s", resp.StatusCode, body)
	}
	// The main listener serves no profiles, and /metrics needs a key.
	if code, _, _ := (client{t: t, base: base}).do("GET", "/debug/pprof/", nil); code != 404 && code != 401 {
		t.Errorf("pprof on the main listener: %d", code)
	}
	if code, _, _ := (client{t: t, base: base}).do("GET", "/metrics", nil); code != 401 {
		t.Errorf("/metrics without a key: %d, want 401", code)
	}
}

// TestMetrics_MadeUpMethodsAddNoSeries sends requests with made-up
// methods, without a credential, to routes of every face, and checks
// that the HTTP metrics gained no series but one per route and status
// class, all under method="other" (a made-up method once added a series
// each, never freed).
func TestMetrics_MadeUpMethodsAddNoSeries(t *testing.T) {
	t.Parallel()
	base := startServer(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey})
	// requests returns the label sets of approvald_http_requests_total
	// (their counts) and the number of approvald_http_* samples. The
	// /metrics route's own series appear from the second scrape on.
	requests := func() (map[string]float64, int) {
		sets, samples := map[string]float64{}, 0
		for sample, v := range scrape(t, base+"/metrics", testAdminKey) {
			if !strings.HasPrefix(sample, "approvald_http_") {
				continue
			}
			samples++
			if labels, ok := strings.CutPrefix(sample, "approvald_http_requests_total"); ok {
				sets[labels] = v
			}
		}
		return sets, samples
	}
	requests()
	before, samplesBefore := requests()

	paths := []string{"/v1/approvals", "/status", "/nowhere/" + strconv.Itoa(os.Getpid()), "/project/package"}
	const n = 500
	for i := range n {
		method := make([]byte, 10)
		for j := range method {
			method[j] = byte('A' + rand.IntN(26))
		}
		req, err := http.NewRequest(string(method), base+paths[i%len(paths)], nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("%s %s without a key: %d", method, req.URL.Path, resp.StatusCode)
		}
	}

	after, samplesAfter := requests()
	other := 0.0
	for labels, v := range after {
		if _, old := before[labels]; old {
			continue
		}
		if !strings.Contains(labels, `method="other"`) {
			t.Errorf("a new series that is not method=\"other\": %s", labels)
		}
		other += v
	}
	if added := len(after) - len(before); added > len(paths) {
		t.Errorf("%d label sets added by %d made-up methods on %d paths, want at most %d", added, n, len(paths), len(paths))
	}
	// Each label set is one counter and one histogram (its buckets, sum
	// and count): as many samples for every label set.
	if per := samplesBefore / len(before); samplesAfter-samplesBefore > len(paths)*per {
		t.Errorf("approvald_http_* samples grew from %d to %d", samplesBefore, samplesAfter)
	}
	if other != n {
		t.Errorf("method=\"other\" counted %v requests, want %d", other, n)
	}
}

// collector is a fake OpenTelemetry collector: it keeps the spans
// exported to it over OTLP/HTTP.
type collector struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource map[string]string // the attributes of the last resource
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		c.resource = map[string]string{}
		for _, a := range rs.GetResource().GetAttributes() {
			c.resource[a.Key] = a.Value.GetStringValue()
		}
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// TestTracing_SpansFromHTTPToStoreAndDelivery is not parallel: tracing
// installs a global provider while the server runs.
func TestTracing_SpansFromHTTPToStoreAndDelivery(t *testing.T) {
	// The OpenTelemetry SDK reads these from the process environment.
	t.Setenv("OTEL_SERVICE_NAME", "approvald-ci")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci")
	coll := &collector{}
	otlp := httptest.NewServer(coll)
	t.Cleanup(otlp.Close)
	recv := newReceiver(t)
	base, logs, stop := startServerLogs(t, map[string]string{
		"APPROVALD_ADMIN_KEY": testAdminKey, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "OTEL_BSP_SCHEDULE_DELAY": "50",
	})
	id := flow(t, client{t: t, base: base, key: testAdminKey}, recv)
	stop() // flushes the spans

	coll.mu.Lock()
	spans, res := coll.spans, coll.resource
	coll.mu.Unlock()
	if res["service.name"] != "approvald-ci" || res["deployment.environment"] != "ci" || res["service.version"] == "" {
		t.Errorf("the exported resource is %v, want OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES honoured", res)
	}
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	parent := func(s *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(s.ParentSpanId)] }
	attr := func(s *tracepb.Span, key string) string {
		for _, a := range s.Attributes {
			if a.Key == key {
				return a.Value.GetStringValue()
			}
		}
		return ""
	}

	// A create: the server span, the engine's, the store's transaction.
	var write *tracepb.Span
	for _, s := range spans {
		if s.Name == "sqlite.write" && parent(s) != nil && parent(s).Name == "engine.create" {
			write = s
			break
		}
	}
	if write == nil {
		t.Fatalf("no sqlite.write under engine.create among %d spans", len(spans))
	}
	server := parent(parent(write))
	if server == nil || server.Name != "POST /v1/approvals" || server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Fatalf("engine.create's parent = %v, want the server span POST /v1/approvals", server)
	}
	if attr(write, "db.operation") == "" {
		t.Error("the store span does not name its operation")
	}

	// The delivery: its span, the webhook's client span under it, and the
	// receiver got the same trace in traceparent.
	var deliver *tracepb.Span
	for _, s := range spans {
		if s.Name == "delivery.deliver" && attr(s, "approval.id") == id {
			deliver = s
		}
	}
	if deliver == nil {
		t.Fatal("no delivery.deliver span for the delivered request")
	}
	if attr(deliver, "delivery.result") != "delivered" {
		t.Errorf("delivery span result %q", attr(deliver, "delivery.result"))
	}
	traceID := hex.EncodeToString(deliver.TraceId)
	found := false
	for _, h := range recv.headers() {
		if tp := h.Get("traceparent"); strings.Contains(tp, traceID) {
			found = true
		}
	}
	if !found {
		t.Errorf("the receiver got no traceparent of trace %s: %v", traceID, recv.headers())
	}

	// The delivery's trace is linked to the trace of the decision that
	// caused it (the review's engine span, which recorded the event).
	linked := false
	for _, l := range deliver.Links {
		for _, s := range spans {
			if s.Name == "engine.update" && attr(s, "approval.id") == id && string(s.TraceId) == string(l.TraceId) && string(s.SpanId) == string(l.SpanId) {
				linked = true
			}
		}
	}
	if !linked {
		t.Errorf("the delivery span has links %v, none to the decision's engine.update span", deliver.Links)
	}

	// Background polling (claims, clean-ups) makes no traces of its own:
	// every root span is a served request or a delivery.
	for _, s := range spans {
		if len(s.ParentSpanId) == 0 && s.Kind != tracepb.Span_SPAN_KIND_SERVER && s.Name != "delivery.deliver" {
			t.Errorf("a root span %q (kind %v) outside any request", s.Name, s.Kind)
		}
	}

	// The access log line of that create carries its trace id.
	serverTrace := hex.EncodeToString(server.TraceId)
	ok := false
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "http request" && rec["route"] == "POST /v1/approvals" && rec["trace_id"] == serverTrace {
			ok = rec["principal"] == "svc:billing"
		}
	}
	if !ok {
		t.Errorf("no access log line for the create with trace_id %s and principal svc:billing", serverTrace)
	}
}

func TestLogFormatAuto_JSONUnlessATerminal(t *testing.T) {
	t.Parallel()
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&syncBuffer{}) {
		t.Error("a file or a buffer was taken for a terminal")
	}
	var buf syncBuffer
	newLogger(config{LogFormat: "auto"}, &buf).Info("hello")
	if !strings.HasPrefix(buf.String(), "{") {
		t.Errorf("auto logged %q to a buffer, want JSON", buf.String())
	}
}
