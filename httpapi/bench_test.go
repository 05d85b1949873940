package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"approvald/approval"
)

// benchAPI is the fuzz tests' set-up, for benchmarks.
func benchAPI(b *testing.B) (http.Handler, string, string) { return testAPI(b) }

// reportLatencies adds p50 and p99 (microseconds) and ops/s to the benchmark.
func reportLatencies(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(p(0.50), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "ops/s")
}

// BenchmarkCreate measures POST /v1/approvals through the handler on SQLite.
func BenchmarkCreate(b *testing.B) {
	h, key, _ := benchAPI(b)
	body := []byte(`{"title":"Pay invoice 42","payload":{"invoice":42,"amount":"1200.00","currency":"EUR"}}`)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t := time.Now()
		w := serve(h, "POST", "/v1/approvals", key, body)
		lat = append(lat, time.Since(t))
		if w.Code != http.StatusCreated {
			b.Fatalf("create: %d %s", w.Code, w.Body)
		}
	}
	reportLatencies(b, lat, time.Since(start))
}

// BenchmarkApprove measures POST /v1/approvals/{id}/reviews (an approval
// that decides) through the handler on SQLite; requests are made untimed.
func BenchmarkApprove(b *testing.B) {
	h, key, reviewer := benchAPI(b)
	body := []byte(`{"title":"Pay invoice 42","payload":{"invoice":42}}`)
	lat := make([]time.Duration, 0, b.N)
	var elapsed time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		w := serve(h, "POST", "/v1/approvals", key, body)
		var r approval.Request
		_ = json.Unmarshal(w.Body.Bytes(), &r)
		b.StartTimer()
		t := time.Now()
		w = serve(h, "POST", "/v1/approvals/"+r.ID+"/reviews", reviewer, []byte(`{"decision":"approve","comment":"ok"}`))
		d := time.Since(t)
		lat = append(lat, d)
		elapsed += d
		if w.Code != http.StatusOK {
			b.Fatalf("approve: %d %s", w.Code, w.Body)
		}
	}
	reportLatencies(b, lat, elapsed)
}
