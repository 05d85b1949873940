package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"approvald/gateway"
	"approvald/httpapi"
	"approvald/internal/httpbench"
	"approvald/legacy"
	"approvald/metrics"
)

// serveLoop serves req b.N times through h (httpbench.Serve).
func serveLoop(b *testing.B, h http.Handler, req *http.Request) { httpbench.Serve(b, h, req) }

// benchMux is the listener's mux as run builds it, with the handlers the
// benchmarked routes need: the native API, the legacy API and the gateway
// (its prefix shapes the routing tree); logs go to io.Discard at level.
func benchMux(level slog.Level, reg *prometheus.Registry) *http.ServeMux {
	log := newLogger(config{LogLevel: level, LogFormat: "json"}, io.Discard)
	mux := http.NewServeMux()
	mux.Handle("/", httpapi.New(httpapi.Deps{Logger: log, Metrics: httpapi.NewMetrics(reg), Gatherer: reg}))
	legacy.Mount(mux, legacy.New(legacy.Deps{Logger: log}))
	gw, err := gateway.New(gateway.Config{}, gateway.Deps{})
	if err != nil {
		panic(err) // the zero Config is valid
	}
	gateway.Mount(mux, gw)
	return mux
}

// BenchmarkChain measures what one request costs in approvald's HTTP layer
// in process, without sockets: the handler run serves (metrics, tracing,
// the face's access log, security headers, the routes) for the legacy
// GET /status and the native GET /healthz, with the access log at info
// (the default: the line is encoded, into io.Discard) and at warn (the
// bench scripts' level: no line), tracing off and on (spans exported over
// OTLP to a loopback collector that drops them).
func BenchmarkChain(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(collector.Close)
	for _, path := range []string{"/status", "/healthz"} {
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
			for _, tracing := range []bool{false, true} {
				name := "GET_" + path[1:] + "/log=" + level.String() + "/tracing=off"
				if tracing {
					name = name[:len(name)-len("off")] + "on"
				}
				b.Run(name, func(b *testing.B) {
					if tracing {
						stop, _, err := setupTracing(context.Background(), tracingConfig{Endpoint: collector.URL + "/v1/traces"}, "bench")
						if err != nil {
							b.Fatal(err)
						}
						b.Cleanup(func() { _ = stop(context.Background()) })
					}
					reg := prometheus.NewRegistry()
					h := front(benchMux(level, reg), metrics.New(reg), tracing)
					serveLoop(b, h, httptest.NewRequest("GET", path, nil))
				})
			}
		}
	}
}

// BenchmarkTraced measures the tracing wrapper alone (tracing on, spans
// dropped by the SDK's batcher into a loopback collector) around a
// handler that writes a small JSON body, beside that handler bare.
func BenchmarkTraced(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	req := httptest.NewRequest("GET", "/status", nil)
	b.Run("bare", func(b *testing.B) { serveLoop(b, bare, req) })
	b.Run("traced", func(b *testing.B) {
		collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		b.Cleanup(collector.Close)
		stop, _, err := setupTracing(context.Background(), tracingConfig{Endpoint: collector.URL + "/v1/traces"}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = stop(context.Background()) })
		serveLoop(b, traced(bare, true), req)
	})
}
