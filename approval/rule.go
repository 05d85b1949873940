package approval

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RuleFormat is how a decision is delivered to a service rule's URL.
type RuleFormat string

// The delivery formats.
const (
	// FormatStandard is a Standard Webhooks request: a signed JSON event.
	FormatStandard RuleFormat = "standard"
	// FormatLegacy is the stash service's callback: {"id","status"} with the
	// rule's API key as Authorization.
	FormatLegacy RuleFormat = "legacy"
	// FormatGitHub is a GitHub custom deployment protection rule's
	// callback (issue 22): the rule's URL is the GitHub REST API's base
	// (https://api.github.com, or a GitHub Enterprise Server's /api/v3), and
	// the request's payload names the repository, the run, the environment
	// and the App installation; the GitHub App (package ghapp) sends it.
	FormatGitHub RuleFormat = "github"
)

// Limits and defaults of service rules.
const (
	DefaultRuleTimeout     = 10 * time.Second
	MaxRuleTimeout         = 60 * time.Second
	DefaultRuleMaxAttempts = 10
	MaxRuleMaxAttempts     = 50
	MaxRuleHeaders         = 20
	MaxRuleURLLen          = 2048
	SecretPrefix           = "whsec_"
)

// ServiceRule is a delivery target: where, how and how persistently a
// decision on a request naming the rule is delivered. ID is the number the
// legacy API refers to it by. Secret, APIKey and the values of Headers
// (where a receiver's credential goes) are write-only: they are stored
// (they must be usable) but never shown again after creation, so none of
// them is in the JSON of a ServiceRule.
type ServiceRule struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	URL         string            `json:"url"`
	Format      RuleFormat        `json:"format"`
	Secret      string            `json:"-"`
	APIKey      string            `json:"-"`
	Timeout     time.Duration     `json:"-"`
	MaxAttempts int               `json:"max_attempts"`
	Headers     map[string]string `json:"-"`
	// Policy names the stored policy of requests made for this rule that
	// choose none themselves; empty means the server default.
	Policy    string    `json:"policy"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var (
	ruleNamePattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]{1,64}$`)
	// reservedHeaders are set by approvald and may not be overridden.
	reservedHeaders = []string{"authorization", "content-type", "content-length", "host", "user-agent",
		"webhook-id", "webhook-timestamp", "webhook-signature", "transfer-encoding", "connection"}
	// metadataHosts are cloud metadata endpoints, never a delivery target.
	metadataHosts = []string{"metadata.google.internal", "metadata", "metadata.azure.com", "instance-data"}
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254"),
		netip.MustParseAddr("100.100.100.200"), netip.MustParseAddr("169.254.170.2"),
	}
)

// DeniedAddr reports why a delivery may not connect to address a, or "" if
// it may: link-local and metadata addresses are always refused; loopback,
// private and other local ranges only when allowPrivate is false.
func DeniedAddr(a netip.Addr, allowPrivate bool) string {
	a = a.Unmap()
	for _, m := range metadataAddrs {
		if a == m {
			return "a cloud metadata address"
		}
	}
	switch {
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "a link-local address"
	case a.IsUnspecified():
		return "an unspecified address (0.0.0.0 or ::), which names no host"
	case a.IsMulticast():
		return "a multicast address"
	case !allowPrivate && (a.IsLoopback() || a.IsPrivate() || netip.MustParsePrefix("100.64.0.0/10").Contains(a)):
		return "a loopback or private address, which this server is configured to refuse"
	}
	return ""
}

// checkRuleURL validates a delivery URL: http or https, a host, no
// credentials, and not a host DeniedAddr refuses. Names are resolved only
// when the delivery connects (and checked again there).
func checkRuleURL(v *Validation, raw string, allowPrivate bool) {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > MaxRuleURLLen:
		v.Add("url", "must be at most %d characters", MaxRuleURLLen)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		v.Add("url", "must be an absolute http or https URL")
	case u.User != nil:
		v.Add("url", "must not hold credentials; use api_key or headers")
	case u.Fragment != "":
		v.Add("url", "must not have a fragment")
	case !validPort(u.Port()):
		v.Add("url", "has port %q; a port is a number from 1 to 65535", u.Port())
	default:
		checkHost(v, "url", u.Hostname(), allowPrivate)
	}
}

// checkHost refuses a delivery host (a name or an address) that points at
// a cloud metadata service or at an address DeniedAddr refuses. Names are
// resolved only when a delivery connects (and checked again there).
func checkHost(v *Validation, field, host string, allowPrivate bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, m := range metadataHosts {
		if host == m {
			v.Add(field, "must not point at a cloud metadata service")
			return
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if why := DeniedAddr(a, allowPrivate); why != "" {
			v.Add(field, "must not point at %s", why)
		}
	} else if ip := net.ParseIP(host); ip != nil {
		v.Add(field, "has an address this server cannot check")
	} else if !allowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		v.Add(field, "must not point at localhost, which this server is configured to refuse")
	}
}

// validPort reports whether p, a URL's port ("" for the scheme's), is one
// a connection can use.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// GenerateSecret returns a new Standard Webhooks signing secret: "whsec_"
// and 32 random bytes in base64.
func GenerateSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// SecretBytes returns the key bytes of a "whsec_" secret.
func SecretBytes(secret string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
}

// Validate checks r, filling in defaults (format, timeout, attempts, and a
// generated secret for the standard format). It returns a KindInvalid error
// listing every bad field. allowPrivate says whether loopback and private
// addresses are acceptable delivery targets.
func (r *ServiceRule) Validate(allowPrivate bool) error {
	var v Validation
	if !ruleNamePattern.MatchString(r.Name) {
		v.Add("name", "must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	checkRuleURL(&v, r.URL, allowPrivate)
	if r.Format == "" {
		r.Format = FormatStandard
	}
	switch r.Format {
	case FormatStandard:
		if r.APIKey != "" {
			v.Add("api_key", "is used only by the legacy format; the standard format signs with secret")
		}
		if r.Secret == "" {
			s, err := GenerateSecret()
			if err != nil {
				return Internal(err)
			}
			r.Secret = s
		} else if b, err := SecretBytes(r.Secret); !strings.HasPrefix(r.Secret, SecretPrefix) || err != nil || len(b) < 24 || len(b) > 64 {
			v.Add("secret", "must be %q followed by 24 to 64 bytes in base64", SecretPrefix)
		}
	case FormatLegacy:
		if r.Secret != "" {
			v.Add("secret", "is used only by the standard format")
		}
		if r.APIKey == "" {
			v.Add("api_key", "is required by the legacy format (it is sent as Authorization)")
		} else if len(r.APIKey) > 512 || strings.ContainsAny(r.APIKey, "\r\n\x00") {
			v.Add("api_key", "must be at most 512 characters on one line")
		}
	case FormatGitHub:
		if r.Secret != "" || r.APIKey != "" {
			v.Add("format", "the github format authenticates as the GitHub App installation: it takes no secret or api_key")
		}
		if len(r.Headers) > 0 {
			v.Add("headers", "are not sent by the github format")
		}
	default:
		v.Add("format", "must be %q, %q or %q", FormatStandard, FormatLegacy, FormatGitHub)
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultRuleTimeout
	}
	if r.Timeout < 100*time.Millisecond || r.Timeout > MaxRuleTimeout {
		v.Add("timeout", "must be from 100ms to %s", MaxRuleTimeout)
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultRuleMaxAttempts
	}
	if r.MaxAttempts < 1 || r.MaxAttempts > MaxRuleMaxAttempts {
		v.Add("max_attempts", "must be from 1 to %d", MaxRuleMaxAttempts)
	}
	if len(r.Headers) > MaxRuleHeaders {
		v.Add("headers", "must have at most %d entries", MaxRuleHeaders)
	}
	for name, value := range r.Headers {
		switch {
		case !headerNamePattern.MatchString(name):
			v.Add("headers", "%q is not a valid header name", name)
		case isReserved(name):
			v.Add("headers", "%q is set by approvald and cannot be overridden", name)
		case len(value) > 1024 || strings.ContainsAny(value, "\r\n\x00"):
			v.Add("headers", "the value of %q must be at most 1024 characters on one line", name)
		}
	}
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
	if r.Policy != "" && !ValidName(r.Policy) {
		v.Add("policy", "must name a stored policy (1-64 letters, digits, '.', '_' or '-')")
	}
	return v.Err()
}

func isReserved(name string) bool {
	name = strings.ToLower(name)
	for _, h := range reservedHeaders {
		if name == h {
			return true
		}
	}
	return false
}

// Normalize puts r as a store reads it back: missing times set (created at
// now, updated when created), times in UTC at store precision, and a
// non-nil Headers map.
func (r *ServiceRule) Normalize(now time.Time) {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.CreatedAt, r.UpdatedAt = TruncateTime(r.CreatedAt), TruncateTime(r.UpdatedAt)
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
}
