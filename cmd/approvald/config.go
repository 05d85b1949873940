package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"approvald/auth/oidc"
	"approvald/delivery"
	"approvald/gateway"
	"approvald/httpapi"
	"approvald/web"
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
	NATSMaxAge      time.Duration
	NATSMaxBytes    int64
	AllowPrivate    bool
	Workers         int
	PerRule         int
	OutboxRetention time.Duration
	DeliveryLease   time.Duration
	SweepInterval   time.Duration
	ShutdownTimeout time.Duration
	// OIDC configures people's JWTs (APPROVALD_OIDC_*, APPROVALD_JWT_*).
	OIDC oidc.Config
	// Limits are the per-principal limits of the API.
	Limits      httpapi.Limits
	CORSOrigins []string
	// SecretsPath is SECRETS_MNT_PATH: the folder of secret files.
	SecretsPath string
	// DebugAddr, when set, is a second listener serving /metrics and
	// /debug/pprof/ without authentication: bind it to loopback.
	DebugAddr string
	// Getenv reads a variable as approvald sees it: the value of the
	// variable's flag when one was given, else the environment's. The web
	// UI, the CR8TOR gateway and tracing read their settings through it.
	Getenv func(string) string
}

// environmentOnly are the settings approvald reads from the environment
// and never from flags, with the reason; --help's footer and the README's
// configuration table list them.
var environmentOnly = []struct {
	why   string
	names []string
}{
	{"secrets, kept out of ps and shell history (or in files in SECRETS_MNT_PATH)",
		[]string{"APPROVALD_ADMIN_KEY", "APPROVALD_UI_SESSION_KEY", "APPROVALD_OIDC_CLIENT_SECRET", "APPROVALSERVICEAPIKEY"}},
	{"the CR8TOR Approval Service's own variables, which its deployments already set",
		[]string{"SECRETS_MNT_PATH", "METADATA_CONTAINER_NAME", "METADATA_CONTAINER_PORT", "PUBLISH_CONTAINER_NAME", "PUBLISH_CONTAINER_PORT"}},
	{"OpenTelemetry's standard variables (and the other OTEL_EXPORTER_OTLP_* ones)",
		[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}},
}

// usageFooter is the end of --help: the settings that have no flag.
func usageFooter() string {
	var b strings.Builder
	b.WriteString("\nFlags override environment variables, which override the defaults.\n")
	b.WriteString("These settings are read only from the environment:\n")
	for _, g := range environmentOnly {
		fmt.Fprintf(&b, "  %s:\n    %s\n", g.why, strings.Join(g.names, ", "))
	}
	b.WriteString("The README's configuration table describes every setting.\n")
	return b.String()
}

// envFlag is the flag of a setting that is read through getenv, by
// parseConfig or by another package (the web UI, the gateway): a value
// given on the command line replaces the variable's (config.Getenv).
type envFlag struct {
	given  map[string]string // the values given as flags, by variable
	name   string            // the variable
	def    string            // shown in --help: the variable's value, else the default
	check  func(string) error
	isBool bool
}

func (f *envFlag) String() string {
	if f == nil {
		return ""
	}
	return f.def
}

func (f *envFlag) Set(v string) error {
	if f.check != nil {
		if err := f.check(v); err != nil {
			return err
		}
	}
	f.given[f.name] = v
	return nil
}

// IsBoolFlag lets a boolean setting be given as --ui alone.
func (f *envFlag) IsBoolFlag() bool { return f != nil && f.isBool }

// The checks of envFlag values, by kind.
func anyString(string) error { return nil }

func isDuration(v string) error {
	_, err := time.ParseDuration(v)
	return err
}

func isPositiveDuration(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d <= 0 {
		return errors.New("not a positive duration such as 90s, 30m or 1h")
	}
	return nil
}

func isInt(v string) error {
	_, err := strconv.Atoi(v)
	return err
}

func isNumber(v string) error {
	_, err := strconv.ParseFloat(v, 64)
	return err
}

func isBool(v string) error {
	if _, ok := web.ParseBool(v); !ok {
		return errors.New("not true or false (nor 1/0, yes/no, on/off)")
	}
	return nil
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
	envBool := func(name string, def bool) bool {
		if b, ok := web.ParseBool(getenv(name)); ok {
			return b
		}
		return def
	}
	var level string
	fs.StringVar(&c.Addr, "addr", env("APPROVALD_ADDR", ":8000"), "listen address (APPROVALD_ADDR)")
	c.Database = env("APPROVALD_DATABASE", "sqlite:approvald.db")
	fs.Var(redacted{&c.Database, redactDatabase}, "database", "database `URL`: sqlite:<file> or postgres://user@host/db (APPROVALD_DATABASE)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", envInt("APPROVALD_DB_MAX_CONNS", 16), "PostgreSQL connection pool size (APPROVALD_DB_MAX_CONNS)")
	fs.StringVar(&level, "log-level", env("APPROVALD_LOG_LEVEL", "info"), "debug, info, warn or error (APPROVALD_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("APPROVALD_LOG_FORMAT", "auto"), "json, text, or auto: text when stderr is a terminal, else json (APPROVALD_LOG_FORMAT)")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", envDuration("APPROVALD_SWEEP_INTERVAL", 5*time.Second), "how often overdue requests are expired (APPROVALD_SWEEP_INTERVAL)")
	fs.DurationVar(&c.KeyCacheTTL, "key-cache-ttl", envDuration("APPROVALD_KEY_CACHE_TTL", 5*time.Second), "how long an authenticated API key is remembered; a key revoked on another instance works there until then; 0 disables (APPROVALD_KEY_CACHE_TTL)")
	c.NATSURL = env("APPROVALD_NATS_URL", "")
	fs.Var(redacted{&c.NATSURL, redactUserinfo}, "nats-url", "NATS server `URL` to publish every event to, on JetStream (APPROVALD_NATS_URL); empty: no NATS")
	fs.DurationVar(&c.NATSMaxAge, "nats-max-age", envDuration("APPROVALD_NATS_MAX_AGE", delivery.DefaultStreamMaxAge), "when approvald creates the JetStream stream: how long it keeps events (APPROVALD_NATS_MAX_AGE); an existing stream is left alone")
	fs.Int64Var(&c.NATSMaxBytes, "nats-max-bytes", int64(envInt("APPROVALD_NATS_MAX_BYTES", delivery.DefaultStreamMaxBytes)), "when approvald creates the JetStream stream: the most bytes it keeps, oldest events dropped first (APPROVALD_NATS_MAX_BYTES)")
	fs.BoolVar(&c.AllowPrivate, "allow-private-targets", envBool("APPROVALD_ALLOW_PRIVATE_TARGETS", true), "let service rules deliver to loopback and private addresses (APPROVALD_ALLOW_PRIVATE_TARGETS)")
	fs.IntVar(&c.Workers, "delivery-workers", envInt("APPROVALD_DELIVERY_WORKERS", 64), "webhook deliveries in flight at most (APPROVALD_DELIVERY_WORKERS)")
	fs.IntVar(&c.PerRule, "delivery-per-rule", envInt("APPROVALD_DELIVERY_PER_RULE", 32), "webhook deliveries in flight at most per service rule (APPROVALD_DELIVERY_PER_RULE)")
	fs.DurationVar(&c.DeliveryLease, "delivery-lease", envDuration("APPROVALD_DELIVERY_LEASE", 2*time.Minute), "how long a claimed delivery is held before another instance (or this one, after a crash) may try it again; keep it above the longest rule timeout (APPROVALD_DELIVERY_LEASE)")
	fs.DurationVar(&c.OutboxRetention, "outbox-retention", envDuration("APPROVALD_OUTBOX_RETENTION", 7*24*time.Hour), "how long delivered and published events stay in the outbox, for Last-Event-ID resumes (APPROVALD_OUTBOX_RETENTION)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("APPROVALD_SHUTDOWN_TIMEOUT", 20*time.Second), "how long in-flight requests may finish on SIGTERM (APPROVALD_SHUTDOWN_TIMEOUT)")
	var jwtIssuer string
	fs.StringVar(&jwtIssuer, "jwt-issuer", env("APPROVALD_JWT_ISSUER", ""), "with APPROVALD_JWT_PUBLIC_KEY_FILE or APPROVALD_JWT_HS256_SECRET_FILE: the issuer (iss) every JWT must carry (APPROVALD_JWT_ISSUER); empty: iss is not checked")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("APPROVALD_DEBUG_ADDR", ""), "a second listen address serving /metrics and /debug/pprof/ without authentication, e.g. 127.0.0.1:6060 (APPROVALD_DEBUG_ADDR); empty: none")

	// The settings read through getenv, here and by other packages: a flag
	// given replaces its variable for every reader.
	given := map[string]string{}
	envVar := func(flagName, name, def string, check func(string) error, usage string) {
		fs.Var(&envFlag{given: given, name: name, def: env(name, def), check: check}, flagName, usage+" ("+name+")")
	}
	envBoolVar := func(flagName, name string, def bool, usage string) {
		fs.Var(&envFlag{given: given, name: name, def: strconv.FormatBool(envBool(name, def)), check: isBool, isBool: true}, flagName, usage+" ("+name+")")
	}
	envVar("oidc-issuer", "APPROVALD_OIDC_ISSUER", "", anyString, "OpenID Connect issuer `URL` whose JWTs authenticate people (keys by discovery); with --oidc-client-id also the web UI's sign-in provider")
	envVar("oidc-audience", "APPROVALD_OIDC_AUDIENCE", "", anyString, "the `audience` (aud) every JWT must carry; required with any JWT setting")
	envVar("oidc-principal-claim", "APPROVALD_OIDC_PRINCIPAL_CLAIM", "sub", anyString, "the JWT `claim` naming the person: principal user:<claim>")
	envVar("oidc-groups-claim", "APPROVALD_OIDC_GROUPS_CLAIM", "groups", anyString, "the JWT `claim` with the person's groups")
	envVar("oidc-scopes-claim", "APPROVALD_OIDC_SCOPES_CLAIM", "scope", anyString, "the JWT `claim` with the scopes, space-separated")
	envVar("oidc-group-scopes", "APPROVALD_OIDC_GROUP_SCOPES", "", anyString, "scopes granted by group, a `list` such as approvers=approvals:review approvals:read;auditors=audit")
	envVar("jwt-public-key-file", "APPROVALD_JWT_PUBLIC_KEY_FILE", "", anyString, "verify JWTs with the PEM public key in this `file` instead of discovery")
	envVar("jwt-hs256-secret-file", "APPROVALD_JWT_HS256_SECRET_FILE", "", anyString, "verify HS256 JWTs with the shared secret (at least 32 bytes) in this `file`")
	envVar("rate-limit", "APPROVALD_RATE_LIMIT", strconv.FormatFloat(httpapi.DefaultRateLimit, 'f', -1, 64), isNumber, "requests per second per principal, a `number`; -1: no limit")
	envVar("rate-burst", "APPROVALD_RATE_BURST", strconv.Itoa(httpapi.DefaultRateBurst), isInt, "requests a principal may make at once, an `int`")
	envVar("max-streams", "APPROVALD_MAX_STREAMS", strconv.Itoa(httpapi.DefaultMaxStreams), isInt, "event streams and long-polls a principal may hold open, an `int`")
	envVar("cors-origins", "APPROVALD_CORS_ORIGINS", "", anyString, "comma-separated `origins` browsers may call the API from, or *; empty: CORS off")
	envBoolVar("ui", "APPROVALD_UI", true, "serve the reviewers' web UI under /ui/")
	envVar("ui-session-ttl", "APPROVALD_UI_SESSION_TTL", web.DefaultSessionTTL.String(), isDuration, "the longest a UI sign-in lasts, a `duration` from 1m to 720h")
	envVar("ui-base-url", "APPROVALD_UI_BASE_URL", "", anyString, "the UI's public `URL` behind a proxy (https://approvals.example.com); empty: from each request")
	envBoolVar("ui-key-signin", "APPROVALD_UI_KEY_SIGNIN", true, "allow signing in to the UI by pasting an API key or JWT")
	envVar("oidc-client-id", "APPROVALD_OIDC_CLIENT_ID", "", anyString, "OIDC client `id`: turns on UI sign-in at --oidc-issuer's provider; its secret is APPROVALD_OIDC_CLIENT_SECRET")
	envVar("ui-oidc-scopes", "APPROVALD_UI_OIDC_SCOPES", "openid profile email", anyString, "`scopes` requested at UI sign-in")
	envVar("gateway-approval", "APPROVALD_GATEWAY_APPROVAL", string(gateway.ApprovalOff), anyString, "CR8TOR gateway: `mode` off, or publish: a package opens an approval request, publish waits for its approval")
	envVar("gateway-policy", "APPROVALD_GATEWAY_POLICY", "", anyString, "CR8TOR gateway: the stored `policy` of the publication requests")
	envVar("gateway-service-rule", "APPROVALD_GATEWAY_SERVICE_RULE", "", anyString, "CR8TOR gateway: the service `rule` the publication decisions are delivered to")
	envVar("gateway-timeout", "APPROVALD_GATEWAY_TIMEOUT", gateway.DefaultTimeout.String(), isPositiveDuration, "CR8TOR gateway: how long a package or publish may take upstream, a `duration`")
	envVar("gateway-validate-timeout", "APPROVALD_GATEWAY_VALIDATE_TIMEOUT", gateway.DefaultValidateTimeout.String(), isPositiveDuration, "CR8TOR gateway: how long validate's two calls may take, a `duration`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage of approvald:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), usageFooter())
	}

	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	environment := getenv
	getenv = func(name string) string {
		if v, ok := given[name]; ok {
			return v
		}
		return environment(name)
	}
	c.Getenv = getenv
	c.AdminKey = getenv("APPROVALD_ADMIN_KEY")
	c.SecretsPath = env("SECRETS_MNT_PATH", "./secrets")
	c.OIDC = oidc.Config{
		Issuer:          getenv("APPROVALD_OIDC_ISSUER"),
		Audience:        getenv("APPROVALD_OIDC_AUDIENCE"),
		PrincipalClaim:  env("APPROVALD_OIDC_PRINCIPAL_CLAIM", "sub"),
		GroupsClaim:     env("APPROVALD_OIDC_GROUPS_CLAIM", "groups"),
		ScopesClaim:     env("APPROVALD_OIDC_SCOPES_CLAIM", "scope"),
		PublicKeyFile:   getenv("APPROVALD_JWT_PUBLIC_KEY_FILE"),
		HS256SecretFile: getenv("APPROVALD_JWT_HS256_SECRET_FILE"),
	}
	var err error
	if c.OIDC.GroupScopes, err = parseGroupScopes(getenv("APPROVALD_OIDC_GROUP_SCOPES")); err != nil {
		return c, err
	}
	if err := c.setJWTIssuer(jwtIssuer); err != nil {
		return c, err
	}
	c.Limits = httpapi.Limits{
		Rate:       envFloat(getenv, "APPROVALD_RATE_LIMIT", httpapi.DefaultRateLimit),
		Burst:      envInt("APPROVALD_RATE_BURST", httpapi.DefaultRateBurst),
		MaxStreams: envInt("APPROVALD_MAX_STREAMS", httpapi.DefaultMaxStreams),
	}
	for o := range strings.SplitSeq(getenv("APPROVALD_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	return c, c.validate(getenv)
}

// redacted is a string flag that shows its value, in --help (where a
// default from the environment appears) and in flag errors, only as redact
// returns it.
type redacted struct {
	value  *string
	redact func(string) string
}

func (f redacted) String() string {
	if f.value == nil || f.redact == nil {
		return ""
	}
	return f.redact(*f.value)
}

func (f redacted) Set(v string) error {
	*f.value = v
	return nil
}

// redactUserinfo hides the whole userinfo (user and password, or a token)
// of each URL in a comma-separated list, such as NATS server URLs.
func redactUserinfo(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		_, rest, hasScheme := strings.Cut(p, "://")
		if !hasScheme {
			rest = p
		}
		authority := rest
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			authority = rest[:j]
		}
		at := strings.LastIndex(authority, "@")
		if _, err := url.Parse(p); err != nil && at < 0 {
			at = strings.LastIndex(rest, "@") // a malformed URL: hide more, not less
		}
		if at >= 0 {
			parts[i] = p[:len(p)-len(rest)] + "xxxxx" + rest[at:]
		}
	}
	return strings.Join(parts, ",")
}

// setJWTIssuer applies --jwt-issuer, the issuer of the static-key modes.
// Discovery takes its issuer from APPROVALD_OIDC_ISSUER, which the
// static-key modes also accept (as before); both set must agree.
func (c *config) setJWTIssuer(iss string) error {
	if iss == "" {
		return nil
	}
	if c.OIDC.PublicKeyFile == "" && c.OIDC.HS256SecretFile == "" {
		return errors.New("--jwt-issuer (APPROVALD_JWT_ISSUER) needs APPROVALD_JWT_PUBLIC_KEY_FILE or APPROVALD_JWT_HS256_SECRET_FILE; with discovery, the issuer is APPROVALD_OIDC_ISSUER")
	}
	if c.OIDC.Issuer != "" && c.OIDC.Issuer != iss {
		return fmt.Errorf("--jwt-issuer %q and APPROVALD_OIDC_ISSUER %q differ: set one", iss, c.OIDC.Issuer)
	}
	c.OIDC.Issuer = iss
	return nil
}

// envFloat reads a number variable; a malformed one is reported by validate.
func envFloat(getenv func(string) string, name string, def float64) float64 {
	if v := getenv(name); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

// parseGroupScopes reads --oidc-group-scopes: "group=scope scope;group2=scope".
func parseGroupScopes(v string) (map[string][]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	out := map[string][]string{}
	for part := range strings.SplitSeq(v, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		group, scopes, ok := strings.Cut(part, "=")
		group = strings.TrimSpace(group)
		if !ok || group == "" || strings.TrimSpace(scopes) == "" {
			return nil, fmt.Errorf("--oidc-group-scopes (APPROVALD_OIDC_GROUP_SCOPES): %q is not group=scope[ scope…]", part)
		}
		out[group] = append(out[group], strings.Fields(strings.ReplaceAll(scopes, ",", " "))...)
	}
	return out, nil
}

func (c config) validate(getenv func(string) string) error {
	var errs []error
	for _, name := range []string{"APPROVALD_DB_MAX_CONNS", "APPROVALD_DELIVERY_WORKERS", "APPROVALD_DELIVERY_PER_RULE", "APPROVALD_RATE_BURST", "APPROVALD_MAX_STREAMS", "APPROVALD_NATS_MAX_BYTES"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		if _, err := strconv.Atoi(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, v))
		}
	}
	if c.NATSMaxAge < time.Minute || c.NATSMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("--nats-max-age must be at least 1m and --nats-max-bytes at least 1 MiB (got %s and %d)", c.NATSMaxAge, c.NATSMaxBytes))
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("--db-max-conns: %d is outside 1..1000", c.DBMaxConns))
	}
	for _, name := range []string{"APPROVALD_SWEEP_INTERVAL", "APPROVALD_SHUTDOWN_TIMEOUT", "APPROVALD_KEY_CACHE_TTL", "APPROVALD_OUTBOX_RETENTION", "APPROVALD_DELIVERY_LEASE", "APPROVALD_NATS_MAX_AGE"} {
		if v := getenv(name); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 5s", name, v))
			}
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" && c.LogFormat != "auto" {
		errs = append(errs, fmt.Errorf("--log-format: %q is not json, text or auto", c.LogFormat))
	}
	if c.SweepInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--sweep-interval: %s is below the minimum of 100ms", c.SweepInterval))
	}
	if v := getenv("APPROVALD_ALLOW_PRIVATE_TARGETS"); v != "" {
		if _, ok := web.ParseBool(v); !ok {
			errs = append(errs, fmt.Errorf("APPROVALD_ALLOW_PRIVATE_TARGETS: %q is not true or false (nor 1/0, yes/no, on/off)", v))
		}
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
	if v := getenv("APPROVALD_RATE_LIMIT"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err != nil || (f <= 0 && f != -1) {
			errs = append(errs, fmt.Errorf("--rate-limit (APPROVALD_RATE_LIMIT): %q is not a positive number of requests per second (or -1 for no limit)", v))
		}
	}
	if c.Limits.Burst < 1 || c.Limits.MaxStreams < 1 {
		errs = append(errs, fmt.Errorf("--rate-burst (APPROVALD_RATE_BURST) and --max-streams (APPROVALD_MAX_STREAMS) must be at least 1 (got %d and %d)", c.Limits.Burst, c.Limits.MaxStreams))
	}
	if err := httpapi.ValidateOrigins(c.CORSOrigins); err != nil {
		errs = append(errs, fmt.Errorf("--cors-origins (APPROVALD_CORS_ORIGINS): %w", err))
	}
	if c.OIDC.Enabled() && c.OIDC.Audience == "" {
		errs = append(errs, errors.New("--oidc-audience (APPROVALD_OIDC_AUDIENCE) is required with --oidc-issuer or a JWT key file"))
	}
	return errors.Join(errs...)
}
