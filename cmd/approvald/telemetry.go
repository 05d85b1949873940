package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"approvald/metrics"
)

// setupTracing exports spans over OTLP/HTTP to cfg.Endpoint when it is set
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT's
// /v1/traces), every cfg.BatchDelay when that is set
// (OTEL_BSP_SCHEDULE_DELAY); the exporter reads the other standard
// OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression) from the
// process environment itself. It installs the provider and the W3C
// trace-context propagator globally, and returns a function that flushes
// the spans and uninstalls them. Without an endpoint it does nothing:
// every tracer stays a no-op.
func setupTracing(ctx context.Context, cfg tracingConfig, version string) (stop func(context.Context) error, enabled bool, err error) {
	endpoint := cfg.Endpoint
	if endpoint == "" {
		return func(context.Context) error { return nil }, false, nil
	}
	batch := []sdktrace.BatchSpanProcessorOption{}
	if cfg.BatchDelay > 0 {
		batch = append(batch, sdktrace.WithBatchTimeout(cfg.BatchDelay))
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		// The exporter's error may repeat the endpoint, credentials included.
		return nil, false, fmt.Errorf("OTLP trace exporter: the endpoint %s cannot be used", redactUserinfo(endpoint))
	}
	// approvald's name and version, then what the environment says
	// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), which wins.
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", "approvald"), attribute.String("service.version", version)))
	if err == nil {
		res, err = resource.Merge(res, resource.EnvironmentWithContext(ctx))
	}
	if err != nil {
		return nil, false, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, batch...), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return func(ctx context.Context) error {
		err := tp.Shutdown(ctx)
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
		return err
	}, true, nil
}

// traced wraps h so that every request is a server span when on; else it
// returns h, and costs nothing. The span is named by the method ("other"
// for a made-up one) until metrics.Middleware renames it by the route
// pattern that matched (never the raw path).
func traced(h http.Handler, on bool) http.Handler {
	if !on {
		return h
	}
	return otelhttp.NewHandler(h, "approvald", otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return metrics.MethodLabel(r.Method)
	}))
}

// traceHandler adds the trace and span ids of the context's span, when
// there is one, to every record logged with a context.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

// debugServer serves /metrics from g and the runtime profiles of
// net/http/pprof, without authentication, on its own listener.
func debugServer(g prometheus.Gatherer, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// serveDebug serves the debug listener on addr until ctx ends.
func serveDebug(ctx context.Context, ln net.Listener, srv *http.Server, log *slog.Logger) {
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("debug listener stopped", "err", err)
	}
}
