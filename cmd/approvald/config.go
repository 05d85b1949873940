package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// config is approvald's configuration: flags override environment
// variables, which override the defaults.
type config struct {
	Addr            string
	Database        string
	AdminKey        string // from the environment only: flags show in ps
	LogLevel        slog.Level
	LogFormat       string
	DBMaxConns      int
	KeyCacheTTL     time.Duration
	NATSURL         string
	AllowPrivate    bool
	Workers         int
	PerRule         int
	OutboxRetention time.Duration
	DeliveryLease   time.Duration
	SweepInterval   time.Duration
	ShutdownTimeout time.Duration
}

// parseConfig reads flags from args and variables through getenv. Help
// output goes to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("approvald", flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envDuration := func(name string, def time.Duration) time.Duration {
		if v := getenv(name); v != "" {
			if d, err := time.ParseDuration(v); err == nil {
				return d
			}
		}
		return def
	}
	envInt := func(name string, def int) int {
		if v := getenv(name); v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
		return def
	}
	var level string
	fs.StringVar(&c.Addr, "addr", env("APPROVALD_ADDR", ":8000"), "listen address (APPROVALD_ADDR)")
	fs.StringVar(&c.Database, "database", env("APPROVALD_DATABASE", "sqlite:approvald.db"), "database URL: sqlite:<file> or postgres://user@host/db (APPROVALD_DATABASE)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", envInt("APPROVALD_DB_MAX_CONNS", 16), "PostgreSQL connection pool size (APPROVALD_DB_MAX_CONNS)")
	fs.StringVar(&level, "log-level", env("APPROVALD_LOG_LEVEL", "info"), "debug, info, warn or error (APPROVALD_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("APPROVALD_LOG_FORMAT", "json"), "json or text (APPROVALD_LOG_FORMAT)")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", envDuration("APPROVALD_SWEEP_INTERVAL", 5*time.Second), "how often overdue requests are expired (APPROVALD_SWEEP_INTERVAL)")
	fs.DurationVar(&c.KeyCacheTTL, "key-cache-ttl", envDuration("APPROVALD_KEY_CACHE_TTL", 5*time.Second), "how long an authenticated API key is remembered; a key revoked on another instance works there until then; 0 disables (APPROVALD_KEY_CACHE_TTL)")
	fs.StringVar(&c.NATSURL, "nats-url", env("APPROVALD_NATS_URL", ""), "NATS server to publish every event to, on JetStream (APPROVALD_NATS_URL); empty: no NATS")
	fs.BoolVar(&c.AllowPrivate, "allow-private-targets", env("APPROVALD_ALLOW_PRIVATE_TARGETS", "true") == "true", "let service rules deliver to loopback and private addresses (APPROVALD_ALLOW_PRIVATE_TARGETS)")
	fs.IntVar(&c.Workers, "delivery-workers", envInt("APPROVALD_DELIVERY_WORKERS", 64), "webhook deliveries in flight at most (APPROVALD_DELIVERY_WORKERS)")
	fs.IntVar(&c.PerRule, "delivery-per-rule", envInt("APPROVALD_DELIVERY_PER_RULE", 32), "webhook deliveries in flight at most per service rule (APPROVALD_DELIVERY_PER_RULE)")
	fs.DurationVar(&c.DeliveryLease, "delivery-lease", envDuration("APPROVALD_DELIVERY_LEASE", 2*time.Minute), "how long a claimed delivery is held before another instance (or this one, after a crash) may try it again; keep it above the longest rule timeout (APPROVALD_DELIVERY_LEASE)")
	fs.DurationVar(&c.OutboxRetention, "outbox-retention", envDuration("APPROVALD_OUTBOX_RETENTION", 7*24*time.Hour), "how long delivered and published events stay in the outbox, for Last-Event-ID resumes (APPROVALD_OUTBOX_RETENTION)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("APPROVALD_SHUTDOWN_TIMEOUT", 20*time.Second), "how long in-flight requests may finish on SIGTERM (APPROVALD_SHUTDOWN_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.AdminKey = getenv("APPROVALD_ADMIN_KEY")
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	return c, c.validate(getenv)
}

func (c config) validate(getenv func(string) string) error {
	var errs []error
	for _, name := range []string{"APPROVALD_DB_MAX_CONNS", "APPROVALD_DELIVERY_WORKERS", "APPROVALD_DELIVERY_PER_RULE"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		if _, err := strconv.Atoi(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, v))
		}
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("--db-max-conns: %d is outside 1..1000", c.DBMaxConns))
	}
	for _, name := range []string{"APPROVALD_SWEEP_INTERVAL", "APPROVALD_SHUTDOWN_TIMEOUT", "APPROVALD_KEY_CACHE_TTL", "APPROVALD_OUTBOX_RETENTION", "APPROVALD_DELIVERY_LEASE"} {
		if v := getenv(name); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 5s", name, v))
			}
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("--log-format: %q is not json or text", c.LogFormat))
	}
	if c.SweepInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--sweep-interval: %s is below the minimum of 100ms", c.SweepInterval))
	}
	if v := getenv("APPROVALD_ALLOW_PRIVATE_TARGETS"); v != "" && v != "true" && v != "false" {
		errs = append(errs, fmt.Errorf("APPROVALD_ALLOW_PRIVATE_TARGETS: %q is not true or false", v))
	}
	if c.Workers < 1 || c.Workers > 1024 || c.PerRule < 1 || c.PerRule > c.Workers {
		errs = append(errs, fmt.Errorf("--delivery-workers must be 1..1024 and --delivery-per-rule 1..workers (got %d and %d)", c.Workers, c.PerRule))
	}
	if c.DeliveryLease < time.Second {
		errs = append(errs, fmt.Errorf("--delivery-lease: %s is below the minimum of 1s", c.DeliveryLease))
	}
	if c.OutboxRetention < time.Hour {
		errs = append(errs, fmt.Errorf("--outbox-retention: %s is below the minimum of 1h", c.OutboxRetention))
	}
	if c.KeyCacheTTL < 0 || c.KeyCacheTTL > time.Minute {
		errs = append(errs, fmt.Errorf("--key-cache-ttl: %s is outside 0..1m", c.KeyCacheTTL))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-timeout must be positive"))
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("--addr must not be empty"))
	}
	return errors.Join(errs...)
}
