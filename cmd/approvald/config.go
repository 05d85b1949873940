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
	if v := getenv("APPROVALD_DB_MAX_CONNS"); v != "" {
		if _, err := strconv.Atoi(v); err != nil {
			errs = append(errs, fmt.Errorf("APPROVALD_DB_MAX_CONNS: %q is not a whole number", v))
		}
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("--db-max-conns: %d is outside 1..1000", c.DBMaxConns))
	}
	for _, name := range []string{"APPROVALD_SWEEP_INTERVAL", "APPROVALD_SHUTDOWN_TIMEOUT", "APPROVALD_KEY_CACHE_TTL"} {
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
