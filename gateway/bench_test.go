package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkForward compares a package call made directly to a fake
// Publish service with the same call made through the gateway, by 64
// concurrent clients with the contract's example body. Each client has a
// run of its own, so that the run lock lets them all through.
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
	gw := httptest.NewServer(New(Config{
		APIKey: clientKey, PublishHost: u.Hostname(), PublishPort: u.Port(), PublishKey: publishKey, Timeout: time.Minute,
	}, Deps{}))
	defer gw.Close()

	const clients = 64
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients}}
	defer client.CloseIdleConnections()

	for _, bc := range []struct{ name, url string }{
		{"direct", upstream.URL + "/data-publish/package"},
		{"gateway", gw.URL + RoutePackage},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var next atomic.Int64
			b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// The example's run, made this client's own.
				mine := bytes.Replace(body, []byte("20250205_010101"), fmt.Appendf(nil, "20250205_%06d", next.Add(1)), 1)
				for pb.Next() {
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
				}
			})
		})
	}
}
