package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"approvald/auth"
)

// Defaults of the configuration, the original service's where it had one.
const (
	DefaultMetadataHost    = "metadata-container"
	DefaultMetadataPort    = "8002"
	DefaultPublishHost     = "publish-container"
	DefaultPublishPort     = "8003"
	DefaultSecretsPath     = "./secrets"
	DefaultTimeout         = time.Hour // the original's limit: packaging can take long
	DefaultValidateTimeout = 2 * time.Minute
)

// Names of the secret files in the secrets folder.
const (
	SecretApprovalKey = "approvalserviceapikey" // the key clients must send
	SecretMetadataKey = "metadataserviceapikey" // sent to the Metadata service
	SecretPublishKey  = "publishserviceapikey"  // sent to the Publish service
)

// ApprovalMode says whether publish needs an approved approval request.
type ApprovalMode string

// The approval modes.
const (
	// ApprovalOff forwards publish as the original did.
	ApprovalOff ApprovalMode = "off"
	// ApprovalPublish makes a successful package open an approval request
	// and forwards publish only once that request is approved.
	ApprovalPublish ApprovalMode = "publish"
)

// Config is the gateway's configuration. The zero value of a field means
// its default, except for the keys: an empty APIKey accepts no client by
// itself (only Deps.Authenticate can), and empty upstream keys are not sent.
type Config struct {
	MetadataHost string // METADATA_CONTAINER_NAME
	MetadataPort string // METADATA_CONTAINER_PORT
	PublishHost  string // PUBLISH_CONTAINER_NAME
	PublishPort  string // PUBLISH_CONTAINER_PORT

	// SecretsPath is the folder the keys were read from, kept for the log.
	SecretsPath string
	APIKey      Secret // approvalserviceapikey: accepted from clients as x-api-key
	MetadataKey Secret // metadataserviceapikey: sent to the Metadata service
	PublishKey  Secret // publishserviceapikey: sent to the Publish service

	// Timeout bounds one package or publish call upstream; ValidateTimeout
	// bounds validate's two calls.
	Timeout         time.Duration
	ValidateTimeout time.Duration

	// Approval is the APPROVALD_GATEWAY_APPROVAL setting. The wiring passes
	// an ApprovalStep in Deps when it is ApprovalPublish; if it does not,
	// the gateway fails closed and refuses every publish.
	Approval ApprovalMode
}

// ConfigFromEnv reads the configuration from the environment through
// getenv, and the keys from the files in SECRETS_MNT_PATH (a missing file
// is an empty key; content is whitespace-trimmed). APPROVALSERVICEAPIKEY,
// when set, overrides the file approvalserviceapikey. It returns an error
// naming the variable when a port, a host, a duration or the approval mode
// is invalid, or when a secret file exists but cannot be read.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		MetadataHost: env("METADATA_CONTAINER_NAME", DefaultMetadataHost),
		MetadataPort: env("METADATA_CONTAINER_PORT", DefaultMetadataPort),
		PublishHost:  env("PUBLISH_CONTAINER_NAME", DefaultPublishHost),
		PublishPort:  env("PUBLISH_CONTAINER_PORT", DefaultPublishPort),
		SecretsPath:  env("SECRETS_MNT_PATH", DefaultSecretsPath),
		Approval:     ApprovalMode(env("APPROVALD_GATEWAY_APPROVAL", string(ApprovalOff))),
	}
	var errs []error
	for _, s := range []struct {
		name string
		dst  *Secret
	}{{SecretApprovalKey, &c.APIKey}, {SecretMetadataKey, &c.MetadataKey}, {SecretPublishKey, &c.PublishKey}} {
		v, err := auth.ReadSecretFile(c.SecretsPath, s.name)
		errs = append(errs, err)
		*s.dst = Secret(v)
	}
	if v := strings.TrimSpace(getenv("APPROVALSERVICEAPIKEY")); v != "" {
		c.APIKey = Secret(v)
	}
	var err error
	if c.Timeout, err = envDuration(getenv, "APPROVALD_GATEWAY_TIMEOUT", DefaultTimeout); err != nil {
		errs = append(errs, err)
	}
	if c.ValidateTimeout, err = envDuration(getenv, "APPROVALD_GATEWAY_VALIDATE_TIMEOUT", DefaultValidateTimeout); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validate())
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

func envDuration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration such as 90s, 30m or 1h", name, v)
	}
	return d, nil
}

// withDefaults returns c with every empty field that has a default set to it.
func (c Config) withDefaults() Config {
	set := func(p *string, def string) {
		if *p == "" {
			*p = def
		}
	}
	set(&c.MetadataHost, DefaultMetadataHost)
	set(&c.MetadataPort, DefaultMetadataPort)
	set(&c.PublishHost, DefaultPublishHost)
	set(&c.PublishPort, DefaultPublishPort)
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ValidateTimeout <= 0 {
		c.ValidateTimeout = DefaultValidateTimeout
	}
	if c.Approval == "" {
		c.Approval = ApprovalOff
	}
	return c
}

// validate returns an error naming each invalid host, port or approval mode.
func (c Config) validate() error {
	var errs []error
	for _, u := range []struct{ hostVar, portVar, host, port string }{
		{"METADATA_CONTAINER_NAME", "METADATA_CONTAINER_PORT", c.MetadataHost, c.MetadataPort},
		{"PUBLISH_CONTAINER_NAME", "PUBLISH_CONTAINER_PORT", c.PublishHost, c.PublishPort},
	} {
		if n, err := strconv.Atoi(u.port); err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("%s: %q is not a port number (1-65535)", u.portVar, u.port))
		}
		hp := net.JoinHostPort(u.host, u.port)
		if p, err := url.Parse("http://" + hp + "/"); err != nil || p.Host != hp || strings.ContainsAny(u.host, "@/?# \t") {
			errs = append(errs, fmt.Errorf("%s: %q is not a host name", u.hostVar, u.host))
		}
	}
	if c.Approval != ApprovalOff && c.Approval != ApprovalPublish {
		errs = append(errs, fmt.Errorf("APPROVALD_GATEWAY_APPROVAL: %q is not one of %q, %q", c.Approval, ApprovalOff, ApprovalPublish))
	}
	return errors.Join(errs...)
}

// baseURL returns the original's base URL of an upstream, as shown in
// details: http://name:port/.
func baseURL(host, port string) string { return "http://" + net.JoinHostPort(host, port) + "/" }

// String returns a one-line description of c for people; keys are redacted.
func (c Config) String() string {
	c = c.withDefaults()
	return fmt.Sprintf("metadata=%s publish=%s secrets=%s api_key=%s metadata_key=%s publish_key=%s timeout=%s validate_timeout=%s approval=%s",
		baseURL(c.MetadataHost, c.MetadataPort), baseURL(c.PublishHost, c.PublishPort), c.SecretsPath,
		c.APIKey, c.MetadataKey, c.PublishKey, c.Timeout, c.ValidateTimeout, c.Approval)
}

// LogValue returns c as a log group; keys are redacted and durations are
// strings such as "1h0m0s" (slog's JSON handler would write nanoseconds).
func (c Config) LogValue() slog.Value {
	c = c.withDefaults()
	return slog.GroupValue(
		slog.String("metadata", baseURL(c.MetadataHost, c.MetadataPort)),
		slog.String("publish", baseURL(c.PublishHost, c.PublishPort)),
		slog.String("secrets", c.SecretsPath),
		slog.Any("api_key", c.APIKey),
		slog.Any("metadata_key", c.MetadataKey),
		slog.Any("publish_key", c.PublishKey),
		slog.String("timeout", c.Timeout.String()),
		slog.String("validate_timeout", c.ValidateTimeout.String()),
		slog.String("approval", string(c.Approval)),
	)
}

// Secret is a key that must never be shown: every way of printing,
// logging or marshalling it gives "[redacted]" ("[unset]" when empty).
// string(s) is the value.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]", or "[unset]" for the empty secret.
func (s Secret) String() string {
	if s == "" {
		return "[unset]"
	}
	return redacted
}

// Format prints s as String does, whatever the verb, so that no verb of
// package fmt can print the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue returns s as String does.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText returns s as String does; a secret is never written out.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
