package web

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"approvald/auth"
)

// Names of the secret files read from SECRETS_MNT_PATH.
const (
	// SessionKeyFile holds the session key when APPROVALD_UI_SESSION_KEY is unset.
	SessionKeyFile = "approvald-ui-session-key"
	// ClientSecretFile holds the OIDC client secret when
	// APPROVALD_OIDC_CLIENT_SECRET is unset.
	ClientSecretFile = "approvald-oidc-client-secret"
)

// Defaults and limits of the configuration.
const (
	DefaultSessionTTL = 12 * time.Hour      // how long a sign-in lasts by default
	MaxSessionTTL     = 30 * 24 * time.Hour // the longest APPROVALD_UI_SESSION_TTL
	MinSessionKeyLen  = 32                  // characters of APPROVALD_UI_SESSION_KEY, at least
	defaultOIDCScopes = "openid profile email"
)

// Config is the web UI's configuration. ConfigFromEnv reads it.
type Config struct {
	// Enabled serves the UI under /ui/ (APPROVALD_UI, default true).
	Enabled bool
	// SessionKey seals session cookies; instances behind one load balancer
	// need the same key. Nil: a random key is made at start, so sessions
	// end at a restart.
	SessionKey []byte
	// SessionTTL is how long a sign-in lasts at most; a token that expires
	// sooner ends the session sooner.
	SessionTTL time.Duration
	// BaseURL is the UI's public address (scheme://host[:port]), when
	// approvald runs behind a proxy. It makes the OIDC redirect URL and,
	// when https, Secure cookies. Empty: taken from each request.
	BaseURL string
	// KeySignIn offers signing in by pasting an API key or a JWT.
	KeySignIn bool
	// OIDC configures signing in at an OpenID Connect provider; the zero
	// value turns it off.
	OIDC OIDCConfig
}

// OIDCConfig configures the authorization-code sign-in (with PKCE).
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client (PKCE alone)
	Scopes       []string
}

// Enabled reports whether OIDC sign-in is configured.
func (c OIDCConfig) Enabled() bool { return c.ClientID != "" }

// ConfigFromEnv reads the UI's configuration through getenv:
// APPROVALD_UI, APPROVALD_UI_SESSION_KEY, APPROVALD_UI_SESSION_TTL,
// APPROVALD_UI_BASE_URL, APPROVALD_UI_KEY_SIGNIN, APPROVALD_OIDC_ISSUER,
// APPROVALD_OIDC_CLIENT_ID, APPROVALD_OIDC_CLIENT_SECRET and
// APPROVALD_UI_OIDC_SCOPES, and the secret files SessionKeyFile and
// ClientSecretFile in SECRETS_MNT_PATH (default ./secrets) for the values
// not in the environment. It returns an error naming each variable that
// is invalid, or a secret file that exists but cannot be read.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	boolean := func(name string, def bool) bool {
		v := env(name, "")
		if v == "" {
			return def
		}
		b, ok := ParseBool(v)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", name, v))
			return def
		}
		return b
	}
	secrets := env("SECRETS_MNT_PATH", "./secrets")
	secret := func(name, file string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		v, err := auth.ReadSecretFile(secrets, file)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	c := Config{
		Enabled:   boolean("APPROVALD_UI", true),
		KeySignIn: boolean("APPROVALD_UI_KEY_SIGNIN", true),
		BaseURL:   strings.TrimRight(env("APPROVALD_UI_BASE_URL", ""), "/"),
		OIDC: OIDCConfig{
			Issuer:       env("APPROVALD_OIDC_ISSUER", ""),
			ClientID:     env("APPROVALD_OIDC_CLIENT_ID", ""),
			ClientSecret: secret("APPROVALD_OIDC_CLIENT_SECRET", ClientSecretFile),
			Scopes:       strings.Fields(strings.ReplaceAll(env("APPROVALD_UI_OIDC_SCOPES", defaultOIDCScopes), ",", " ")),
		},
	}
	if !c.Enabled {
		return c, errors.Join(errs...)
	}
	if k := secret("APPROVALD_UI_SESSION_KEY", SessionKeyFile); k != "" {
		if len(k) < MinSessionKeyLen {
			errs = append(errs, fmt.Errorf("APPROVALD_UI_SESSION_KEY (or the secret file %s) must be at least %d characters", SessionKeyFile, MinSessionKeyLen))
		}
		c.SessionKey = []byte(k)
	}
	c.SessionTTL = DefaultSessionTTL
	if v := env("APPROVALD_UI_SESSION_TTL", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > MaxSessionTTL {
			errs = append(errs, fmt.Errorf("APPROVALD_UI_SESSION_TTL: %q is not a duration from 1m to %s", v, MaxSessionTTL))
		} else {
			c.SessionTTL = d
		}
	}
	if c.BaseURL != "" {
		if err := checkBaseURL(c.BaseURL); err != nil {
			errs = append(errs, fmt.Errorf("APPROVALD_UI_BASE_URL: %w", err))
		}
	}
	if c.OIDC.Enabled() {
		if c.OIDC.Issuer == "" {
			errs = append(errs, errors.New("APPROVALD_OIDC_CLIENT_ID needs APPROVALD_OIDC_ISSUER (the provider to sign in at)"))
		}
		if !slices.Contains(c.OIDC.Scopes, "openid") {
			c.OIDC.Scopes = append([]string{"openid"}, c.OIDC.Scopes...)
		}
	}
	if !c.OIDC.Enabled() && !c.KeySignIn {
		errs = append(errs, errors.New("APPROVALD_UI_KEY_SIGNIN=false needs APPROVALD_OIDC_CLIENT_ID: otherwise nobody can sign in to the UI (set APPROVALD_UI=false to turn it off)"))
	}
	return c, errors.Join(errs...)
}

// checkBaseURL checks that s is scheme://host[:port] without a path.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not http(s)://host[:port]", s)
	}
	return nil
}

// ParseBool reads a boolean setting the one way every approvald setting is
// read: true, 1, yes or on; false, 0, no or off; in any case. ok is false
// for anything else.
func ParseBool(v string) (b, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}
