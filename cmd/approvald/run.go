package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/auth/oidc"
	"approvald/delivery"
	"approvald/engine"
	"approvald/gateway"
	"approvald/gateway/calllog"
	"approvald/httpapi"
	"approvald/legacy"
	"approvald/metrics"
	"approvald/rocrate"
	"approvald/store/postgres"
	"approvald/store/sqlite"
	"approvald/web"
)

// run starts approvald and serves until ctx ends, then shuts down
// gracefully. main calls it, and so do the end-to-end tests (on port 0,
// with listening told the bound address).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, listening func(net.Addr)) error {
	if len(args) > 0 {
		if cmd, ok := commands[args[0]]; ok {
			return cmd(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	// Listen first: a taken port fails before anything is written.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	store, err := openStore(ctx, cfg)
	if err == nil {
		if newer := store.SchemaNewer(); newer != nil {
			// Served: migrations are additive (a rollout, a rollback).
			log.Warn("serving a database whose schema is newer than this approvald's", "err", schemaError(newer).Error())
		}
	}
	if err != nil {
		return err
	}
	defer store.Close()
	stopTracing, tracing, err := setupTracing(ctx, cfg.Tracing, buildVersion())
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("flushing traces failed", "err", err)
		}
	}()
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewOutboxCollector(store, time.Now, log))
	if ps, ok := store.(metrics.PoolSource); ok {
		registry.MustRegister(metrics.NewPoolCollector(ps))
	}
	meters := metrics.New(registry)

	// Background work runs on its own context, stopped after the HTTP
	// server has drained, so requests in flight still see it.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	// What follows a committed change (resolving dependents) runs on bg too,
	// not on the request's context, so a client leaving early cannot stop it.
	eng := engine.New(store, engine.WithLogger(log), engine.WithPrivateTargets(cfg.AllowPrivate), engine.WithLifetime(bg),
		engine.WithNotifications(cfg.Notify.Enabled),
		engine.WithObserver(func(_ context.Context, ch approval.Change, r *approval.Request) {
			if outcome, ok := decisionOutcome(ch, r); ok {
				meters.Decision(outcome)
			}
		}))
	keys := auth.NewKeys(store, time.Now).WithCache(cfg.KeyCacheTTL).WithLogger(log)
	defer keys.Close() // deferred after store.Close, so it runs first: pending last-use writes finish
	if err := keys.Bootstrap(ctx, cfg.AdminKey, stdout); err != nil {
		return fmt.Errorf("bootstrap admin key: %w", err)
	}
	keyDir := filepath.Join(cfg.SecretsPath, "approvald-keys")
	if err := keys.SyncFiles(ctx, keyDir); err != nil {
		return fmt.Errorf("API keys from %s: %w", keyDir, err)
	}
	var tokens httpapi.TokenVerifier
	if cfg.OIDC.Enabled() {
		v, err := oidc.New(ctx, cfg.OIDC)
		if err != nil {
			return fmt.Errorf("JWT verification (APPROVALD_OIDC_*, APPROVALD_JWT_*): %w", err)
		}
		tokens = v
		log.Info("accepting people's JWTs", "issuer", cfg.OIDC.Issuer, "audience", cfg.OIDC.Audience)
		if cfg.OIDC.Issuer == "" {
			log.Warn("JWTs are accepted from any issuer (iss is not checked): set --jwt-issuer")
		}
	}
	apiMetrics := httpapi.NewMetrics(registry)
	receipts, err := newReceiptIssuer(cfg, log)
	if err != nil {
		return err
	}
	records := rocrate.Maker{Receipts: receipts, BaseURL: cfg.Notify.PublicURL, License: cfg.ReleaseLicense}.Record // the API's and the UI's

	// The GitHub App (off without an App id) delivers the github format.
	githubApp, err := newGitHubApp(ctx, cfg, eng, registry, tracing, log)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	waker := delivery.NewWaker()
	hub := delivery.NewHub(store, waker.Listen(), 500*time.Millisecond, log)
	dispatcher := delivery.NewDispatcher(eng, delivery.Config{
		Workers: cfg.Workers, PerRule: cfg.PerRule, Lease: cfg.DeliveryLease, Wake: waker.Listen(), Logger: log,
		// PostgreSQL writes outcomes side by side; SQLite queues them for its writer.
		FreeRuleOnAnswer: !strings.HasPrefix(cfg.Database, "sqlite:"),
		Client:           webhookClient(cfg.AllowPrivate, tracing),
		Observe:          meters.DeliveryAttempt,
		Senders:          senders(githubApp),
	})
	var publisher *delivery.Publisher
	var eventsReady func() error // nil without NATS
	if cfg.NATSURL != "" {
		if publisher, err = delivery.NewPublisher(ctx, store, cfg.NATSURL, delivery.StreamLimits{MaxAge: cfg.NATSMaxAge, MaxBytes: cfg.NATSMaxBytes}, waker.Listen(), time.Second, log); err != nil {
			return err
		}
		defer publisher.Close()
		eventsReady = publisher.Ready
		registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "approvald_events_publishing",
			Help: "1 while events are being published to NATS, 0 while they wait in the outbox (NATS unreachable, stream not ready).",
		}, func() float64 {
			if publisher.Ready() != nil {
				return 0
			}
			return 1
		}))
	}
	wg.Go(func() { keys.WatchFiles(bg, keyDir, 30*time.Second) })
	wg.Go(func() { waker.Run(bg, store.Changes()) })
	wg.Go(func() { hub.Run(bg) })
	wg.Go(func() { dispatcher.Run(bg) })
	if publisher != nil {
		wg.Go(func() { publisher.Run(bg) })
	}
	wg.Go(func() { eng.Sweep(bg, cfg.SweepInterval, cfg.OutboxRetention, publisher != nil) })
	links, err := startNotifier(bg, &wg, cfg, store, waker, registry, ln.Addr(), log)
	if err != nil {
		return err
	}
	cfg.UI.Links = links

	// The legacy stash API owns its few paths; everything else, including
	// the native 404 and 405 answers, is the native API's.
	handler := http.NewServeMux()
	handler.Handle("/", httpapi.New(httpapi.Deps{
		Engine: eng, Keys: keys, Ready: store.Ping, GatewayLog: store, Logger: log, Hub: hub, Stopping: ctx.Done(), EventsReady: eventsReady,
		Tokens: tokens, Limits: cfg.Limits, CORSOrigins: cfg.CORSOrigins, Metrics: apiMetrics, Gatherer: registry,
		GitHubWebhook: githubWebhook(githubApp),
		Receipts:      receipts,
		ReleaseRecord: records,
	}))
	legacy.Mount(handler, legacy.New(legacy.Deps{Engine: eng, Keys: keys, Logger: log}))
	gw, err := newGateway(cfg, eng, keys, store, log, meters, tracing)
	if err != nil {
		return err
	}
	gateway.Mount(handler, gw)
	// The reviewers' web UI (package web), under /ui/ on the same listener.
	if cfg.UI.Enabled {
		ui, err := web.New(ctx, web.Deps{Engine: eng, Keys: keys, Tokens: tokens, Hub: hub, Logger: log.With("component", "web"), Config: cfg.UI, Receipts: receipts, ReleaseRecord: records})
		if err != nil {
			return fmt.Errorf("web UI: %w", err)
		}
		web.Mount(handler, ui)
	}
	// (end of the web UI)
	srv := &http.Server{
		Handler:           front(handler, meters, tracing),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("approvald listening", "addr", ln.Addr().String(), "database", redactDatabase(cfg.Database))
	if listening != nil {
		listening(ln.Addr())
	}

	if cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			return fmt.Errorf("--debug-addr: %w", err)
		}
		log.Info("debug listener (/metrics, /debug/pprof/)", "addr", dln.Addr().String())
		wg.Go(func() { serveDebug(bg, dln, debugServer(registry, log), log) })
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			// Streams and long-polls end as the shutdown begins; a request
			// still running now is cut, and the stop is still an orderly one.
			log.Warn("requests still running at the end of the shutdown timeout were cut", "timeout", cfg.ShutdownTimeout.String())
			err = srv.Close()
		}
	}
	// Calls answered before the shutdown still get their record.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if derr := gw.Drain(dctx); derr != nil {
		log.Warn("some gateway calls were not recorded before the shutdown", "err", derr)
	}
	cancel()
	stopBG()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// front wraps the listener's mux in what every request goes through: it
// is counted and timed by route pattern, and is a server span when tracing
// is on.
func front(mux http.Handler, meters *metrics.Metrics, tracing bool) http.Handler {
	return traced(meters.Middleware(mux), tracing)
}

// newLogger returns the logger of cfg's format and level; records logged
// with a context carry its trace and span ids.
func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" || cfg.LogFormat == "auto" && isTerminal(w) {
		return slog.New(traceHandler{slog.NewTextHandler(w, opts)})
	}
	return slog.New(traceHandler{slog.NewJSONHandler(w, opts)})
}

// webhookClient is the dispatcher's HTTP client, traced when tracing is on.
func webhookClient(allowPrivate, traced bool) *http.Client {
	c := delivery.NewHTTPClient(allowPrivate)
	if traced {
		c = delivery.Traced(c)
	}
	return c
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// decisionOutcome returns the outcome of a change that decided a request:
// approved, rejected or cancelled (counted when decided, whether or not a
// delivery follows), or expired.
func decisionOutcome(ch approval.Change, r *approval.Request) (string, bool) {
	switch ch.Event.Type {
	case approval.EventExpired:
		return "expired", true
	case approval.EventDecided:
		if ch.Entry.Action == approval.ActionRedeliver {
			return "", false // the same decision, sent again
		}
		switch r.Status.Settled() { // an acknowledged decision counts as its final status
		case approval.StatusApproved:
			return "approved", true
		case approval.StatusRejected:
			return "rejected", true
		case approval.StatusCancelled:
			return "cancelled", true
		}
	}
	return "", false
}

// buildVersion is the module version approvald was built as, or "devel".
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// database is what both stores are: approval's store and the gateway's call
// log on one database.
type database interface {
	approval.Store
	calllog.Log
	// SchemaNewer tells whether the schema was newer than this binary's.
	SchemaNewer() error
}

// openStore opens the database named by cfg.Database: sqlite:<file> or a
// postgres:// URL.
func openStore(ctx context.Context, cfg config) (database, error) {
	url := cfg.Database
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path, err := sqlitePath(url)
		if err != nil {
			return nil, err
		}
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, schemaError(err)
		}
		return s, nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s, err := postgres.Open(ctx, url, cfg.DBMaxConns)
		if err != nil {
			return nil, schemaError(err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("--database: unsupported database URL %q; use sqlite:<file> or postgres://…", redactDatabase(url))
	}
}

// sqlitePath returns the file name of a sqlite:<file> database URL.
func sqlitePath(url string) (string, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
	if path == "" {
		return "", errors.New("--database: sqlite: needs a file name, as in sqlite:approvald.db")
	}
	return path, nil
}

// redactDatabase hides the secrets of a database URL (see
// postgres.RedactDSN) before it is logged or shown in an error.
func redactDatabase(url string) string {
	if strings.HasPrefix(url, "sqlite:") {
		return url
	}
	return postgres.RedactDSN(url)
}
