package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"approvald/approval"
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

// Config is the gateway's configuration, filled by the caller (approvald
// reads it from the CR8TOR service's variables, named beside each field).
// The zero value of a field means its default, except for the keys: an
// empty APIKey accepts no client by itself (only Deps.Authenticate can),
// and empty upstream keys are not sent. Validate checks it; New refuses a
// Config that Validate refuses.
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
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ValidateTimeout == 0 {
		c.ValidateTimeout = DefaultValidateTimeout
	}
	if c.Approval == "" {
		c.Approval = ApprovalOff
	}
	return c
}

// Validate checks c as New uses it, empty fields at their defaults. It
// returns nil, or an *approval.Error of KindInvalid whose Fields name each
// invalid field of Config (such as "PublishPort") with what is wrong: a
// port that is not 1-65535, a host that is not a host name, a negative
// timeout, an unknown approval mode. No message shows a key.
func (c Config) Validate() error {
	c = c.withDefaults()
	var v approval.Validation
	bad := v.Add
	for _, u := range []struct{ hostField, portField, host, port string }{
		{"MetadataHost", "MetadataPort", c.MetadataHost, c.MetadataPort},
		{"PublishHost", "PublishPort", c.PublishHost, c.PublishPort},
	} {
		if n, err := strconv.Atoi(u.port); err != nil || n < 1 || n > 65535 {
			bad(u.portField, "%q is not a port number (1-65535)", u.port)
		}
		hp := net.JoinHostPort(u.host, "80") // the host alone: a bad port is the port's error
		if p, err := url.Parse("http://" + hp + "/"); err != nil || p.Host != hp || strings.ContainsAny(u.host, "@/?# \t") {
			bad(u.hostField, "%q is not a host name", u.host)
		}
	}
	if c.Timeout < 0 {
		bad("Timeout", "%s is not a positive duration", c.Timeout)
	}
	if c.ValidateTimeout < 0 {
		bad("ValidateTimeout", "%s is not a positive duration", c.ValidateTimeout)
	}
	if c.Approval != ApprovalOff && c.Approval != ApprovalPublish {
		bad("Approval", "%q is not one of %q, %q", c.Approval, ApprovalOff, ApprovalPublish)
	}
	return v.ErrEvery("gateway configuration")
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
