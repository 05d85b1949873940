package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"approvald/store/sqlite"
)

// BenchmarkForward compares a package call made directly to a fake
// Publish service with the same call made through the gateway, by 64
// concurrent clients with the contract's example body: bare (no call log)
// and as approvald wires it on its embedded default (every call recorded
// in the SQLite call log). Each client has a run of its own, so that the
// run lock lets them all through. Besides ns/op it reports the median and
// 99th-percentile latency one client saw (p50-µs, p99-µs) and requests per
// second (req/s):
//
//	go test ./gateway -run '^$' -bench Forward -benchtime 5s -count 5
func BenchmarkForward(b *testing.B) {
	body := example(b, "package.request.json")
	answerBody := example(b, "package.response.json")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answerBody)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	cfg := Config{APIKey: clientKey, PublishHost: u.Hostname(), PublishPort: u.Port(), PublishKey: publishKey, Timeout: time.Minute}
	bare := httptest.NewServer(mustNew(b, cfg, Deps{}))
	defer bare.Close()
	store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	logged := httptest.NewServer(mustNew(b, cfg, Deps{Recorder: &StoreRecorder{Store: store}}))
	defer logged.Close()

	const clients = 64
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients}}
	defer client.CloseIdleConnections()

	for _, bc := range []struct{ name, url string }{
		{"direct", upstream.URL + "/data-publish/package"},
		{"gateway", bare.URL + RoutePackage},
		{"gateway+sqlite-log", logged.URL + RoutePackage},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var (
				next      atomic.Int64
				mu        sync.Mutex
				latencies []time.Duration
			)
			b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				// The example's run, made this client's own.
				mine := bytes.Replace(body, []byte("20250205_010101"), fmt.Appendf(nil, "20250205_%06d", next.Add(1)), 1)
				var seen []time.Duration
				defer func() { mu.Lock(); latencies = append(latencies, seen...); mu.Unlock() }()
				for pb.Next() {
					t0 := time.Now()
					req, _ := http.NewRequest(http.MethodPost, bc.url, bytes.NewReader(mine))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("x-api-key", clientKey)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					seen = append(seen, time.Since(t0))
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if len(latencies) == 0 {
				return
			}
			slices.Sort(latencies)
			at := func(q float64) float64 {
				return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds())
			}
			b.ReportMetric(at(0.50), "p50-µs")
			b.ReportMetric(at(0.99), "p99-µs")
			b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
		})
	}
}
