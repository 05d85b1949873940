package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/auth/oidc"
	"approvald/delivery"
	"approvald/gateway"
	"approvald/ghapp"
	"approvald/httpapi"
	"approvald/receipt"
	"approvald/rocrate"
	"approvald/signedlink"
	"approvald/web"
)

// linkKeysFile is the secret file, in SECRETS_MNT_PATH, of the signed
// links' keys when APPROVALD_LINK_KEYS is not set.
const linkKeysFile = "link-keys"

// The secret files, in SECRETS_MNT_PATH, of the receipts' signing keys and
// of the GitHub App's webhook secret and private key, each read when its
// variable is not set.
const (
	receiptKeysFile         = "receipt-keys"
	githubWebhookSecretFile = "github-webhook-secret"
	githubPrivateKeyFile    = "github-app-private-key"
)

// config is approvald's configuration, read once by parseConfig: flags
// override environment variables, which override the defaults. The
// packages it configures get their part as a plain struct (UI, Gateway)
// and never read the environment themselves.
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
	// UI is the web UI's configuration, checked by its Validate.
	UI web.Config
	// Gateway is the CR8TOR gateway's configuration, checked by its
	// Validate; GatewayPolicy and GatewayServiceRule configure its
	// approval step when Gateway.Approval is gateway.ApprovalPublish.
	Gateway            gateway.Config
	GatewayPolicy      string
	GatewayServiceRule string
	// Tracing configures the export of spans.
	Tracing tracingConfig
	// Notify configures the notifications to people (email, chat).
	Notify notifyConfig
	// ReceiptKeys are the PEM Ed25519 keys of the decision receipts
	// (APPROVALD_RECEIPT_KEYS or the secret file receipt-keys): the first
	// private key signs, every key (private or public) verifies; empty: a
	// key made at start, which dies with the process.
	ReceiptKeys string
	// ReleaseLicense is the URL of the licence the CR8TOR release records
	// name for the released data; empty: the project's data access terms.
	ReleaseLicense string
	// GitHub configures the GitHub App of deployment protection rules.
	GitHub githubConfig
}

// githubConfig is the GitHub App behind a custom deployment protection
// rule: off while AppID is 0.
type githubConfig struct {
	AppID int64
	// APIURL is the GitHub REST API's base (GitHub Enterprise Server:
	// https://HOST/api/v3).
	APIURL string
	// ServiceRule names the service rule (format github) the decisions are
	// delivered through; approvald creates it at start when missing.
	ServiceRule string
	// WebhookSecret and PrivateKey (PEM, RSA) are the App's secrets, from
	// APPROVALD_GITHUB_WEBHOOK_SECRET / APPROVALD_GITHUB_APP_PRIVATE_KEY or
	// the secret files github-webhook-secret / github-app-private-key.
	WebhookSecret string
	PrivateKey    string
}

// notifyConfig is how approvald tells people: whether it does, the links'
// base URL and keys, batching and retries.
type notifyConfig struct {
	Enabled bool
	// PublicURL is the base of the links in notifications; empty: the UI's
	// base URL, and failing that links are relative (a warning says so).
	PublicURL string
	// LinkKeys are the signed links' keys, "id:base64-secret" comma
	// separated, the first signing (APPROVALD_LINK_KEYS or the secret file
	// link-keys); empty: a random key per process (links die with it).
	LinkKeys      string
	LinkTTL       time.Duration
	BatchWindow   time.Duration
	EmailChannel  string
	MaxAttempts   int
	LinkReauthAge time.Duration
}

// tracingConfig is what approvald reads of OpenTelemetry's variables; the
// exporter and the SDK read the others (headers, service name…) from the
// process environment themselves.
type tracingConfig struct {
	// Endpoint is the URL spans are sent to over OTLP/HTTP; empty: no
	// tracing.
	Endpoint string
	// BatchDelay is how often spans are sent; 0: the SDK's default.
	BatchDelay time.Duration
}

// environmentOnly are the settings approvald reads from the environment
// and never from flags, with the reason; --help's footer and the README's
// configuration table list them.
var environmentOnly = []struct {
	why   string
	names []string
}{
	{"secrets, kept out of ps and shell history (or in files in SECRETS_MNT_PATH)",
		[]string{"APPROVALD_ADMIN_KEY", "APPROVALD_UI_SESSION_KEY", "APPROVALD_OIDC_CLIENT_SECRET", "APPROVALSERVICEAPIKEY", "APPROVALD_LINK_KEYS",
			"APPROVALD_RECEIPT_KEYS", "APPROVALD_GITHUB_WEBHOOK_SECRET", "APPROVALD_GITHUB_APP_PRIVATE_KEY"}},
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
	b.WriteString(commandsHelp)
	return b.String()
}

// parseConfig reads the configuration from the flags in args and the
// variables through getenv, each once, and checks it. Help output goes to
// out. It returns flag.ErrHelp after --help, and otherwise an error for
// each setting that is malformed or invalid, naming it (flag and
// variable) and what is wrong; a secret's value is never shown.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	return parseConfigArgs(args, getenv, out, nil)
}

// parseConfigArgs is parseConfig that, with rest set, appends to it the
// arguments that are not flags (a subcommand's operands) instead of
// refusing them.
func parseConfigArgs(args []string, getenv func(string) string, out io.Writer, rest *[]string) (config, error) {
	var c config
	s := newSettings(getenv, out)
	s.rest = rest
	var jwtIssuer, uiScopes string
	s.text(&c.Addr, "addr", "APPROVALD_ADDR", ":8000", "listen address (APPROVALD_ADDR)")
	s.redacted(&c.Database, "database", "APPROVALD_DATABASE", "sqlite:approvald.db", "database `URL`: sqlite:<file> or postgres://user@host/db (APPROVALD_DATABASE)", redactDatabase)
	s.integer(&c.DBMaxConns, "db-max-conns", "APPROVALD_DB_MAX_CONNS", 16, "PostgreSQL connection pool size; the delivery workers get a pool of their own, a quarter of it (2–16) (APPROVALD_DB_MAX_CONNS)")
	s.converted("log-level", "APPROVALD_LOG_LEVEL", "info", "debug, info, warn or error (APPROVALD_LOG_LEVEL)", func(v string) error {
		if c.LogLevel.UnmarshalText([]byte(v)) != nil {
			return errors.New("is not one of debug, info, warn, error")
		}
		return nil
	})
	s.text(&c.LogFormat, "log-format", "APPROVALD_LOG_FORMAT", "auto", "json, text, or auto: text when stderr is a terminal, else json (APPROVALD_LOG_FORMAT)")
	s.duration(&c.SweepInterval, "sweep-interval", "APPROVALD_SWEEP_INTERVAL", 5*time.Second, "how often overdue requests are expired (APPROVALD_SWEEP_INTERVAL)")
	s.duration(&c.KeyCacheTTL, "key-cache-ttl", "APPROVALD_KEY_CACHE_TTL", 5*time.Second, "how long an authenticated API key is remembered; a key revoked on another instance works there until then; 0 disables (APPROVALD_KEY_CACHE_TTL)")
	s.redacted(&c.NATSURL, "nats-url", "APPROVALD_NATS_URL", "", "NATS server `URL` to publish every event to, on JetStream (APPROVALD_NATS_URL); empty: no NATS", redactUserinfo)
	s.duration(&c.NATSMaxAge, "nats-max-age", "APPROVALD_NATS_MAX_AGE", delivery.DefaultStreamMaxAge, "when approvald creates the JetStream stream: how long it keeps events (APPROVALD_NATS_MAX_AGE); an existing stream is left alone")
	s.integer64(&c.NATSMaxBytes, "nats-max-bytes", "APPROVALD_NATS_MAX_BYTES", delivery.DefaultStreamMaxBytes, "when approvald creates the JetStream stream: the most bytes it keeps, oldest events dropped first (APPROVALD_NATS_MAX_BYTES)")
	s.boolean(&c.AllowPrivate, "allow-private-targets", "APPROVALD_ALLOW_PRIVATE_TARGETS", true, "let service rules deliver to loopback and private addresses (APPROVALD_ALLOW_PRIVATE_TARGETS)")
	s.integer(&c.Workers, "delivery-workers", "APPROVALD_DELIVERY_WORKERS", 64, "webhook deliveries in flight at most (APPROVALD_DELIVERY_WORKERS)")
	s.integer(&c.PerRule, "delivery-per-rule", "APPROVALD_DELIVERY_PER_RULE", 32, "webhook deliveries in flight at most per service rule (APPROVALD_DELIVERY_PER_RULE)")
	s.duration(&c.DeliveryLease, "delivery-lease", "APPROVALD_DELIVERY_LEASE", 2*time.Minute, "how long a claimed delivery is held before another instance (or this one, after a crash) may try it again; keep it above the longest rule timeout (APPROVALD_DELIVERY_LEASE)")
	s.duration(&c.OutboxRetention, "outbox-retention", "APPROVALD_OUTBOX_RETENTION", 7*24*time.Hour, "how long delivered and published events stay in the outbox, for Last-Event-ID resumes (APPROVALD_OUTBOX_RETENTION)")
	s.duration(&c.ShutdownTimeout, "shutdown-timeout", "APPROVALD_SHUTDOWN_TIMEOUT", 20*time.Second, "how long in-flight requests may finish on SIGTERM (APPROVALD_SHUTDOWN_TIMEOUT)")
	s.text(&jwtIssuer, "jwt-issuer", "APPROVALD_JWT_ISSUER", "", "with APPROVALD_JWT_PUBLIC_KEY_FILE or APPROVALD_JWT_HS256_SECRET_FILE: the issuer (iss) every JWT must carry (APPROVALD_JWT_ISSUER); empty: iss is not checked")
	s.text(&c.DebugAddr, "debug-addr", "APPROVALD_DEBUG_ADDR", "", "a second listen address serving /metrics and /debug/pprof/ without authentication, e.g. 127.0.0.1:6060 (APPROVALD_DEBUG_ADDR); empty: none")

	// People's JWTs, and the web UI's sign-in.
	s.text(&c.OIDC.Issuer, "oidc-issuer", "APPROVALD_OIDC_ISSUER", "", "OpenID Connect issuer `URL` whose JWTs authenticate people (keys by discovery); with --oidc-client-id also the web UI's sign-in provider (APPROVALD_OIDC_ISSUER)")
	s.text(&c.OIDC.Audience, "oidc-audience", "APPROVALD_OIDC_AUDIENCE", "", "the `audience` (aud) every JWT must carry; required with any JWT setting (APPROVALD_OIDC_AUDIENCE)")
	s.text(&c.OIDC.PrincipalClaim, "oidc-principal-claim", "APPROVALD_OIDC_PRINCIPAL_CLAIM", "sub", "the JWT `claim` naming the person: principal user:<claim> (APPROVALD_OIDC_PRINCIPAL_CLAIM)")
	s.text(&c.OIDC.GroupsClaim, "oidc-groups-claim", "APPROVALD_OIDC_GROUPS_CLAIM", "groups", "the JWT `claim` with the person's groups (APPROVALD_OIDC_GROUPS_CLAIM)")
	s.text(&c.OIDC.ScopesClaim, "oidc-scopes-claim", "APPROVALD_OIDC_SCOPES_CLAIM", "scope", "the JWT `claim` with the scopes, space-separated (APPROVALD_OIDC_SCOPES_CLAIM)")
	s.converted("oidc-group-scopes", "APPROVALD_OIDC_GROUP_SCOPES", "", "scopes granted by group, a `list` such as approvers=approvals:review approvals:read;auditors=audit (APPROVALD_OIDC_GROUP_SCOPES)",
		func(v string) (err error) {
			c.OIDC.GroupScopes, err = parseGroupScopes(v)
			return err
		})
	s.text(&c.OIDC.PublicKeyFile, "jwt-public-key-file", "APPROVALD_JWT_PUBLIC_KEY_FILE", "", "verify JWTs with the PEM public key in this `file` instead of discovery (APPROVALD_JWT_PUBLIC_KEY_FILE)")
	s.text(&c.OIDC.HS256SecretFile, "jwt-hs256-secret-file", "APPROVALD_JWT_HS256_SECRET_FILE", "", "verify HS256 JWTs with the shared secret (at least 32 bytes) in this `file` (APPROVALD_JWT_HS256_SECRET_FILE)")

	// The API's limits.
	s.number(&c.Limits.Rate, "rate-limit", "APPROVALD_RATE_LIMIT", httpapi.DefaultRateLimit, "requests per second per principal, a `number`; -1: no limit (APPROVALD_RATE_LIMIT)")
	s.integer(&c.Limits.Burst, "rate-burst", "APPROVALD_RATE_BURST", httpapi.DefaultRateBurst, "requests a principal may make at once, an `int` (APPROVALD_RATE_BURST)")
	s.integer(&c.Limits.MaxStreams, "max-streams", "APPROVALD_MAX_STREAMS", httpapi.DefaultMaxStreams, "event streams and long-polls a principal may hold open, an `int` (APPROVALD_MAX_STREAMS)")
	s.converted("cors-origins", "APPROVALD_CORS_ORIGINS", "", "comma-separated `origins` browsers may call the API from, or *; empty: CORS off (APPROVALD_CORS_ORIGINS)", func(v string) error {
		c.CORSOrigins = nil
		for o := range strings.SplitSeq(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSOrigins = append(c.CORSOrigins, o)
			}
		}
		return nil
	})

	// The web UI.
	s.boolean(&c.UI.Enabled, "ui", "APPROVALD_UI", true, "serve the reviewers' web UI under /ui/ (APPROVALD_UI)")
	s.positiveDuration(&c.UI.SessionTTL, "ui-session-ttl", "APPROVALD_UI_SESSION_TTL", web.DefaultSessionTTL, "the longest a UI sign-in lasts, a `duration` from 1m to 720h (APPROVALD_UI_SESSION_TTL)")
	s.text(&c.UI.BaseURL, "ui-base-url", "APPROVALD_UI_BASE_URL", "", "the UI's public `URL` behind a proxy (https://approvals.example.com); empty: from each request (APPROVALD_UI_BASE_URL)")
	s.boolean(&c.UI.KeySignIn, "ui-key-signin", "APPROVALD_UI_KEY_SIGNIN", true, "allow signing in to the UI by pasting an API key or JWT (APPROVALD_UI_KEY_SIGNIN)")
	s.text(&c.UI.OIDC.ClientID, "oidc-client-id", "APPROVALD_OIDC_CLIENT_ID", "", "OIDC client `id`: turns on UI sign-in at --oidc-issuer's provider; its secret is APPROVALD_OIDC_CLIENT_SECRET (APPROVALD_OIDC_CLIENT_ID)")
	s.text(&uiScopes, "ui-oidc-scopes", "APPROVALD_UI_OIDC_SCOPES", web.DefaultOIDCScopes, "`scopes` requested at UI sign-in (APPROVALD_UI_OIDC_SCOPES)")

	// Notifications.
	s.boolean(&c.Notify.Enabled, "notify", "APPROVALD_NOTIFY", true, "send the notifications that channels and routes configure (email, Slack, Teams) (APPROVALD_NOTIFY)")
	s.text(&c.Notify.PublicURL, "public-url", "APPROVALD_PUBLIC_URL", "", "the public base `URL` of approvald (https://approvals.example.com) for the links in notifications; empty: --ui-base-url (APPROVALD_PUBLIC_URL)")
	s.positiveDuration(&c.Notify.LinkTTL, "link-ttl", "APPROVALD_LINK_TTL", 7*24*time.Hour, "how long a notification's signed link works, a `duration` from 1m to 2160h (APPROVALD_LINK_TTL)")
	s.duration(&c.Notify.BatchWindow, "notify-batch-window", "APPROVALD_NOTIFY_BATCH_WINDOW", time.Minute, "how long a recipient's notifications wait to go out together as one digest, a `duration` up to 1h; 0: each at once (APPROVALD_NOTIFY_BATCH_WINDOW)")
	s.text(&c.Notify.EmailChannel, "notify-email-channel", "APPROVALD_NOTIFY_EMAIL_CHANNEL", "", "the email `channel` that sends people their own mail; empty: the first email channel by name (APPROVALD_NOTIFY_EMAIL_CHANNEL)")
	s.integer(&c.Notify.MaxAttempts, "notify-max-attempts", "APPROVALD_NOTIFY_MAX_ATTEMPTS", 10, "attempts to send one notification before giving up, 1..100 (APPROVALD_NOTIFY_MAX_ATTEMPTS)")
	s.positiveDuration(&c.UI.LinkReauthAge, "ui-link-reauth-age", "APPROVALD_UI_LINK_REAUTH_AGE", 15*time.Minute, "deciding from a notification's link needs a sign-in younger than this `duration`, 1m to 24h, else signing in again (APPROVALD_UI_LINK_REAUTH_AGE)")

	s.text(&c.ReleaseLicense, "release-license", "APPROVALD_RELEASE_LICENSE", "", "the `URL` of the licence CR8TOR release records name for the released data (https://creativecommons.org/licenses/by/4.0/); empty: the project's data access terms (APPROVALD_RELEASE_LICENSE)")

	// The GitHub App (deployment protection rules).
	s.integer64(&c.GitHub.AppID, "github-app-id", "APPROVALD_GITHUB_APP_ID", 0, "the `id` of the GitHub App behind a custom deployment protection rule; 0: off. Its secrets: APPROVALD_GITHUB_WEBHOOK_SECRET, APPROVALD_GITHUB_APP_PRIVATE_KEY (APPROVALD_GITHUB_APP_ID)")
	s.text(&c.GitHub.APIURL, "github-api-url", "APPROVALD_GITHUB_API_URL", "https://api.github.com", "the GitHub REST API's base `URL` (GitHub Enterprise Server: https://HOST/api/v3) (APPROVALD_GITHUB_API_URL)")
	s.text(&c.GitHub.ServiceRule, "github-service-rule", "APPROVALD_GITHUB_SERVICE_RULE", "github", "the service `rule` (format github) GitHub's deployment decisions are delivered through; made at start when missing (APPROVALD_GITHUB_SERVICE_RULE)")

	// The CR8TOR gateway.
	s.converted("gateway-approval", "APPROVALD_GATEWAY_APPROVAL", string(gateway.ApprovalOff), "CR8TOR gateway: `mode` off, or publish: a package opens an approval request, publish waits for its approval (APPROVALD_GATEWAY_APPROVAL)", func(v string) error {
		c.Gateway.Approval = gateway.ApprovalMode(v) // checked by its Validate
		return nil
	})
	s.text(&c.GatewayPolicy, "gateway-policy", "APPROVALD_GATEWAY_POLICY", "", "CR8TOR gateway: the stored `policy` of the publication requests (APPROVALD_GATEWAY_POLICY)")
	s.text(&c.GatewayServiceRule, "gateway-service-rule", "APPROVALD_GATEWAY_SERVICE_RULE", "", "CR8TOR gateway: the service `rule` the publication decisions are delivered to (APPROVALD_GATEWAY_SERVICE_RULE)")
	s.positiveDuration(&c.Gateway.Timeout, "gateway-timeout", "APPROVALD_GATEWAY_TIMEOUT", gateway.DefaultTimeout, "CR8TOR gateway: how long a package or publish may take upstream, a `duration` (APPROVALD_GATEWAY_TIMEOUT)")
	s.positiveDuration(&c.Gateway.ValidateTimeout, "gateway-validate-timeout", "APPROVALD_GATEWAY_VALIDATE_TIMEOUT", gateway.DefaultValidateTimeout, "CR8TOR gateway: how long validate's two calls may take, a `duration` (APPROVALD_GATEWAY_VALIDATE_TIMEOUT)")

	// Read only from the environment (environmentOnly): the CR8TOR
	// service's variables, secrets, OpenTelemetry's variables.
	s.text(&c.SecretsPath, "", "SECRETS_MNT_PATH", gateway.DefaultSecretsPath, "")
	s.text(&c.Gateway.MetadataHost, "", "METADATA_CONTAINER_NAME", gateway.DefaultMetadataHost, "")
	s.text(&c.Gateway.MetadataPort, "", "METADATA_CONTAINER_PORT", gateway.DefaultMetadataPort, "")
	s.text(&c.Gateway.PublishHost, "", "PUBLISH_CONTAINER_NAME", gateway.DefaultPublishHost, "")
	s.text(&c.Gateway.PublishPort, "", "PUBLISH_CONTAINER_PORT", gateway.DefaultPublishPort, "")
	s.secretText(&c.Notify.LinkKeys, "APPROVALD_LINK_KEYS").also = "(or the secret file " + linkKeysFile + ")"
	s.secretText(&c.ReceiptKeys, "APPROVALD_RECEIPT_KEYS").also = "(or the secret file " + receiptKeysFile + ")"
	s.secretText(&c.GitHub.WebhookSecret, "APPROVALD_GITHUB_WEBHOOK_SECRET").also = "(or the secret file " + githubWebhookSecretFile + ")"
	s.secretText(&c.GitHub.PrivateKey, "APPROVALD_GITHUB_APP_PRIVATE_KEY").also = "(or the secret file " + githubPrivateKeyFile + ")"
	var apiKey, sessionKey string
	s.secretText(&apiKey, "APPROVALSERVICEAPIKEY").also = "(or the secret file " + gateway.SecretApprovalKey + ")"
	s.secretText(&sessionKey, "APPROVALD_UI_SESSION_KEY").also = "(or the secret file " + web.SessionKeyFile + ")"
	s.secretText(&c.UI.OIDC.ClientSecret, "APPROVALD_OIDC_CLIENT_SECRET").also = "(or the secret file " + web.ClientSecretFile + ")"
	var tracesEndpoint, endpoint string
	s.redacted(&tracesEndpoint, "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", "", redactUserinfo)
	s.redacted(&endpoint, "", "OTEL_EXPORTER_OTLP_ENDPOINT", "", "", redactUserinfo)
	s.add(&setting{env: "OTEL_BSP_SCHEDULE_DELAY", kind: "int", set: func(v string) error {
		if v == "" {
			return nil // the SDK's
		}
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return errors.New("is not a positive whole number of milliseconds")
		}
		c.Tracing.BatchDelay = time.Duration(ms) * time.Millisecond
		return nil
	}}, "")

	if err := s.parseFlags(args); err != nil {
		return c, err
	}
	errs := s.read()
	// The admin key is taken as it is, white space included, as it always
	// was: its hash identifies the bootstrap key across restarts.
	c.AdminKey = getenv("APPROVALD_ADMIN_KEY")
	c.UI.OIDC.Issuer = c.OIDC.Issuer // the sign-in provider: never --jwt-issuer's
	if err := c.setJWTIssuer(jwtIssuer); err != nil {
		errs = append(errs, err)
	}
	c.Tracing.Endpoint = tracesEndpoint
	if endpoint != "" && tracesEndpoint == "" {
		c.Tracing.Endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces"
	}

	// The web UI: its secrets, in the environment or in files, are read
	// only when it is on.
	c.UI.BaseURL = strings.TrimRight(c.UI.BaseURL, "/")
	c.UI.OIDC.Scopes = strings.Fields(strings.ReplaceAll(uiScopes, ",", " "))
	if c.UI.OIDC.Enabled() && !slices.Contains(c.UI.OIDC.Scopes, "openid") {
		c.UI.OIDC.Scopes = append([]string{"openid"}, c.UI.OIDC.Scopes...)
	}
	if c.UI.Enabled {
		errs = append(errs, fromSecretFile(&c.UI.OIDC.ClientSecret, c.SecretsPath, web.ClientSecretFile))
		errs = append(errs, fromSecretFile(&sessionKey, c.SecretsPath, web.SessionKeyFile))
		if sessionKey != "" {
			c.UI.SessionKey = []byte(sessionKey)
		}
	}

	// Notifications: the link keys, in the environment or a file.
	c.Notify.PublicURL = strings.TrimRight(c.Notify.PublicURL, "/")
	if c.Notify.PublicURL == "" {
		c.Notify.PublicURL = c.UI.BaseURL
	}
	errs = append(errs, fromSecretFile(&c.Notify.LinkKeys, c.SecretsPath, linkKeysFile))

	// Receipts and the GitHub App: their secrets, in the environment or in
	// files (the App's only when it is on).
	errs = append(errs, fromSecretFile(&c.ReceiptKeys, c.SecretsPath, receiptKeysFile))
	c.GitHub.APIURL = strings.TrimRight(c.GitHub.APIURL, "/")
	if c.GitHub.AppID != 0 {
		errs = append(errs, fromSecretFile(&c.GitHub.WebhookSecret, c.SecretsPath, githubWebhookSecretFile))
		errs = append(errs, fromSecretFile(&c.GitHub.PrivateKey, c.SecretsPath, githubPrivateKeyFile))
	}

	// The gateway: its keys are files in SECRETS_MNT_PATH;
	// APPROVALSERVICEAPIKEY, when set, replaces the file approvalserviceapikey.
	c.Gateway.SecretsPath = c.SecretsPath
	errs = append(errs, fromSecretFile(&apiKey, c.SecretsPath, gateway.SecretApprovalKey))
	var metadataKey, publishKey string
	errs = append(errs, fromSecretFile(&metadataKey, c.SecretsPath, gateway.SecretMetadataKey))
	errs = append(errs, fromSecretFile(&publishKey, c.SecretsPath, gateway.SecretPublishKey))
	c.Gateway.APIKey, c.Gateway.MetadataKey, c.Gateway.PublishKey = gateway.Secret(apiKey), gateway.Secret(metadataKey), gateway.Secret(publishKey)

	errs = append(errs, c.validate(s.label)...)
	errs = append(errs, fieldErrors(c.UI.Validate(), uiFields, s.label)...)
	errs = append(errs, fieldErrors(c.Gateway.Validate(), gatewayFields, s.label)...)
	return c, errors.Join(errs...)
}

// fromSecretFile fills *dst, a secret not set in the environment, from the
// secret file name in dir; a missing file leaves it empty.
func fromSecretFile(dst *string, dir, name string) error {
	if *dst != "" {
		return nil
	}
	v, err := auth.ReadSecretFile(dir, name)
	*dst = v
	return err
}

// uiFields and gatewayFields name the variable of each field of web.Config
// and gateway.Config that their Validate may find invalid.
var (
	uiFields = map[string]string{
		"SessionKey":    "APPROVALD_UI_SESSION_KEY",
		"SessionTTL":    "APPROVALD_UI_SESSION_TTL",
		"BaseURL":       "APPROVALD_UI_BASE_URL",
		"KeySignIn":     "APPROVALD_UI_KEY_SIGNIN",
		"OIDC.Issuer":   "APPROVALD_OIDC_ISSUER",
		"LinkReauthAge": "APPROVALD_UI_LINK_REAUTH_AGE",
	}
	gatewayFields = map[string]string{
		"MetadataHost":    "METADATA_CONTAINER_NAME",
		"MetadataPort":    "METADATA_CONTAINER_PORT",
		"PublishHost":     "PUBLISH_CONTAINER_NAME",
		"PublishPort":     "PUBLISH_CONTAINER_PORT",
		"Timeout":         "APPROVALD_GATEWAY_TIMEOUT",
		"ValidateTimeout": "APPROVALD_GATEWAY_VALIDATE_TIMEOUT",
		"Approval":        "APPROVALD_GATEWAY_APPROVAL",
	}
)

// fieldErrors returns the error of a package's Config.Validate as one
// error per invalid field, each named by its setting (label of the
// variable fields gives it).
func fieldErrors(err error, fields map[string]string, label func(string) string) []error {
	var e *approval.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &e) || len(e.Fields) == 0:
		return []error{err}
	}
	out := make([]error, 0, len(e.Fields))
	for _, f := range e.Fields {
		name := f.Field
		if v, ok := fields[f.Field]; ok {
			name = label(v)
		}
		out = append(out, fmt.Errorf("%s: %s", name, f.Message))
	}
	return out
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

// parseGroupScopes reads --oidc-group-scopes: "group=scope scope;group2=scope".
// Its error says which part is malformed, after the value.
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
			return nil, fmt.Errorf("has %q, which is not group=scope[ scope…]", part)
		}
		out[group] = append(out[group], strings.Fields(strings.ReplaceAll(scopes, ",", " "))...)
	}
	return out, nil
}

// validate checks the ranges of approvald's own settings, and returns an
// error for each one outside its range, named by label of its variable.
func (c config) validate(label func(string) string) []error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", label(env), fmt.Sprintf(format, args...)))
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		bad("APPROVALD_DB_MAX_CONNS", "%d is outside 1..1000", c.DBMaxConns)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" && c.LogFormat != "auto" {
		bad("APPROVALD_LOG_FORMAT", "%q is not json, text or auto", c.LogFormat)
	}
	if c.SweepInterval < 100*time.Millisecond {
		bad("APPROVALD_SWEEP_INTERVAL", "%s is below the minimum of 100ms", c.SweepInterval)
	}
	if c.KeyCacheTTL < 0 || c.KeyCacheTTL > time.Minute {
		bad("APPROVALD_KEY_CACHE_TTL", "%s is outside 0..1m", c.KeyCacheTTL)
	}
	if c.NATSMaxAge < time.Minute {
		bad("APPROVALD_NATS_MAX_AGE", "%s is below the minimum of 1m", c.NATSMaxAge)
	}
	if c.NATSMaxBytes < 1<<20 {
		bad("APPROVALD_NATS_MAX_BYTES", "%d is below the minimum of 1 MiB (1048576)", c.NATSMaxBytes)
	}
	if c.Workers < 1 || c.Workers > 1024 {
		bad("APPROVALD_DELIVERY_WORKERS", "%d is outside 1..1024", c.Workers)
	} else if c.PerRule < 1 || c.PerRule > c.Workers {
		bad("APPROVALD_DELIVERY_PER_RULE", "%d is outside 1..%d, the delivery workers", c.PerRule, c.Workers)
	}
	if c.Notify.PublicURL != "" {
		if u, err := url.Parse(c.Notify.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("APPROVALD_PUBLIC_URL", "%q is not an absolute http or https URL without query or fragment", c.Notify.PublicURL)
		}
	}
	if c.Notify.LinkKeys != "" {
		if keys, err := signedlink.ParseKeys(c.Notify.LinkKeys); err != nil {
			bad("APPROVALD_LINK_KEYS", "%v", err)
		} else if _, err := signedlink.New(keys...); err != nil {
			bad("APPROVALD_LINK_KEYS", "%v", err)
		}
	}
	if c.ReceiptKeys != "" {
		// receipt's errors name the PEM block, never show key material.
		if _, _, err := receipt.ParseKeys([]byte(c.ReceiptKeys)); err != nil {
			bad("APPROVALD_RECEIPT_KEYS", "%v", err)
		}
	}
	if err := rocrate.CheckLicense(c.ReleaseLicense); err != nil {
		bad("APPROVALD_RELEASE_LICENSE", "%q is not an absolute http(s) URL", c.ReleaseLicense)
	}
	if c.Notify.LinkTTL < time.Minute || c.Notify.LinkTTL > 90*24*time.Hour {
		bad("APPROVALD_LINK_TTL", "%s is outside 1m..2160h", c.Notify.LinkTTL)
	}
	if c.Notify.BatchWindow < 0 || c.Notify.BatchWindow > time.Hour {
		bad("APPROVALD_NOTIFY_BATCH_WINDOW", "%s is outside 0..1h", c.Notify.BatchWindow)
	}
	if c.Notify.EmailChannel != "" && !approval.ValidName(c.Notify.EmailChannel) {
		bad("APPROVALD_NOTIFY_EMAIL_CHANNEL", "%q is not a channel name", c.Notify.EmailChannel)
	}
	if c.Notify.MaxAttempts < 1 || c.Notify.MaxAttempts > 100 {
		bad("APPROVALD_NOTIFY_MAX_ATTEMPTS", "%d is outside 1..100", c.Notify.MaxAttempts)
	}
	if c.DeliveryLease < time.Second {
		bad("APPROVALD_DELIVERY_LEASE", "%s is below the minimum of 1s", c.DeliveryLease)
	}
	if c.OutboxRetention < time.Hour {
		bad("APPROVALD_OUTBOX_RETENTION", "%s is below the minimum of 1h", c.OutboxRetention)
	}
	if c.ShutdownTimeout <= 0 {
		bad("APPROVALD_SHUTDOWN_TIMEOUT", "%s is not positive", c.ShutdownTimeout)
	}
	if c.Limits.Rate <= 0 && c.Limits.Rate != -1 {
		bad("APPROVALD_RATE_LIMIT", "%v is not a positive number of requests per second (or -1 for no limit)", c.Limits.Rate)
	}
	if c.Limits.Burst < 1 {
		bad("APPROVALD_RATE_BURST", "%d is below the minimum of 1", c.Limits.Burst)
	}
	if c.Limits.MaxStreams < 1 {
		bad("APPROVALD_MAX_STREAMS", "%d is below the minimum of 1", c.Limits.MaxStreams)
	}
	if err := httpapi.ValidateOrigins(c.CORSOrigins); err != nil {
		bad("APPROVALD_CORS_ORIGINS", "%v", err)
	}
	if c.OIDC.Enabled() && c.OIDC.Audience == "" {
		bad("APPROVALD_OIDC_AUDIENCE", "is required with --oidc-issuer or a JWT key file")
	}
	errs = append(errs, c.GitHub.validate(label)...)
	return errs
}

// validate checks the GitHub App's settings when it is on: the private key
// is a PEM RSA key, the webhook secret is set, the API URL is an http(s)
// URL and the service rule a rule's name. The errors name the variable and
// never show a secret.
func (g githubConfig) validate(label func(string) string) []error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", label(env), fmt.Sprintf(format, args...)))
	}
	if g.AppID < 0 {
		bad("APPROVALD_GITHUB_APP_ID", "%d is not an App id (0: off)", g.AppID)
	}
	if g.AppID <= 0 {
		return errs
	}
	if g.PrivateKey == "" {
		bad("APPROVALD_GITHUB_APP_PRIVATE_KEY", "is required with --github-app-id")
	} else if _, err := ghapp.ParsePrivateKey([]byte(g.PrivateKey)); err != nil {
		bad("APPROVALD_GITHUB_APP_PRIVATE_KEY", "is not a PEM RSA private key (the App's key from its settings page, BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)")
	}
	if g.WebhookSecret == "" {
		bad("APPROVALD_GITHUB_WEBHOOK_SECRET", "is required with --github-app-id: deliveries are accepted only signed with it")
	}
	if _, err := ghapp.ParseAPIURL(g.APIURL); err != nil {
		bad("APPROVALD_GITHUB_API_URL", "%q is not an absolute http or https URL without credentials, query or fragment", g.APIURL)
	}
	// The rule's own validation judges its name (the URL here is a stand-in).
	rule := approval.ServiceRule{Name: g.ServiceRule, URL: "https://api.github.com", Format: approval.FormatGitHub}
	if err := rule.Validate(true); err != nil {
		for _, fe := range approval.AsError(err).Fields {
			if fe.Field == "name" {
				bad("APPROVALD_GITHUB_SERVICE_RULE", "%q %s", g.ServiceRule, fe.Message)
			}
		}
	}
	return errs
}
