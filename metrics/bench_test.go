package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"approvald/internal/httpbench"
)

// BenchmarkMiddleware measures Middleware alone: a mux serving GET /status
// bare, then counted and timed by the middleware (no face inside reports
// the route, as for the gateway).
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	m := New(prometheus.NewRegistry())
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"middleware", m.Middleware(mux)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/status", nil)
			httpbench.Serve(b, bc.h, req)
		})
	}
}
