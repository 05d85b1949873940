package web

import (
	"fmt"
	"net/url"
	"time"

	"approvald/approval"
	"approvald/signedlink"
)

// Names of the secret files in SECRETS_MNT_PATH that hold the UI's secrets.
const (
	// SessionKeyFile holds the session key when APPROVALD_UI_SESSION_KEY is unset.
	SessionKeyFile = "approvald-ui-session-key"
	// ClientSecretFile holds the OIDC client secret when
	// APPROVALD_OIDC_CLIENT_SECRET is unset.
	ClientSecretFile = "approvald-oidc-client-secret"
)

// Defaults and limits of the configuration.
const (
	DefaultSessionTTL = 12 * time.Hour         // how long a sign-in lasts by default
	MaxSessionTTL     = 30 * 24 * time.Hour    // the longest APPROVALD_UI_SESSION_TTL
	MinSessionKeyLen  = 32                     // characters of APPROVALD_UI_SESSION_KEY, at least
	DefaultOIDCScopes = "openid profile email" // the scopes asked for at sign-in by default

	DefaultLinkReauthAge = 15 * time.Minute // how old a sign-in may be to decide from a signed link, by default
	MinLinkReauthAge     = time.Minute      // the shortest LinkReauthAge
	MaxLinkReauthAge     = 24 * time.Hour   // the longest LinkReauthAge
)

// Config is the web UI's configuration, filled by the caller (approvald
// reads it from its APPROVALD_UI_* and APPROVALD_OIDC_* settings and the
// secret files SessionKeyFile and ClientSecretFile). Validate checks it.
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
	// Links verifies the tokens of the links notifications carry
	// (/ui/requests/{id}?link=…); it must hold the keys the notifier signs
	// with. Nil: such links are refused (400), the request page without the
	// token still works.
	Links *signedlink.Signer
	// LinkReauthAge is how old a sign-in may be for its principal to open
	// and decide from a signed link; an older one signs in again first (at
	// the identity provider with prompt=login and max_age, or by giving the
	// API key again). Zero is DefaultLinkReauthAge.
	LinkReauthAge time.Duration
}

// OIDCConfig configures the authorization-code sign-in (with PKCE).
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client (PKCE alone)
	// Scopes are asked for at sign-in; the provider needs "openid" among
	// them, which approvald always adds.
	Scopes []string
}

// Enabled reports whether OIDC sign-in is configured.
func (c OIDCConfig) Enabled() bool { return c.ClientID != "" }

// Validate checks c when the UI is enabled (a UI that is off has nothing
// to check). It returns nil, or an *approval.Error of KindInvalid whose
// Fields name each invalid field of Config (such as "SessionTTL") with
// what is wrong: a session key under MinSessionKeyLen characters, a
// session TTL outside 1m to MaxSessionTTL (zero is the default), a link
// re-authentication age outside MinLinkReauthAge to MaxLinkReauthAge (zero
// is the default), a BaseURL that is not http(s)://host[:port], OIDC sign-in without an
// issuer, or no way left to sign in. No message shows a secret.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var v approval.Validation
	bad := v.Add
	if len(c.SessionKey) > 0 && len(c.SessionKey) < MinSessionKeyLen {
		bad("SessionKey", "must be at least %d characters", MinSessionKeyLen)
	}
	if c.SessionTTL != 0 && (c.SessionTTL < time.Minute || c.SessionTTL > MaxSessionTTL) {
		bad("SessionTTL", "%s is not a duration from 1m to %s", c.SessionTTL, MaxSessionTTL)
	}
	if c.LinkReauthAge != 0 && (c.LinkReauthAge < MinLinkReauthAge || c.LinkReauthAge > MaxLinkReauthAge) {
		bad("LinkReauthAge", "%s is not a duration from %s to %s", c.LinkReauthAge, MinLinkReauthAge, MaxLinkReauthAge)
	}
	if c.BaseURL != "" {
		if err := checkBaseURL(c.BaseURL); err != nil {
			bad("BaseURL", "%v", err)
		}
	}
	if c.OIDC.Enabled() && c.OIDC.Issuer == "" {
		bad("OIDC.Issuer", "is needed with an OIDC client id (the provider to sign in at)")
	}
	if !c.OIDC.Enabled() && !c.KeySignIn {
		bad("KeySignIn", "false needs an OIDC client id: otherwise nobody can sign in to the UI (turn the UI off instead)")
	}
	return v.ErrEvery("web UI configuration")
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
