// Package oidc verifies the bearer JWTs of people, issued by an OpenID
// Connect provider (or signed with a configured key), and turns them into an
// approval.Principal.
//
// # Modes
//
// A Verifier checks signatures in exactly one of three ways, chosen by Config:
//
//   - Discovery (Issuer set, no key file): New fetches
//     <issuer>/.well-known/openid-configuration and then the provider's JWKS,
//     using github.com/coreos/go-oidc. Keys are cached; a token whose key id
//     is unknown (or whose signature fails with the cached keys) makes go-oidc
//     fetch the JWKS again, so a rotated key is picked up without a restart.
//     Those refetches are throttled: at most one request to the JWKS URL per
//     KeyRefreshInterval (10 s by default); inside the interval the last
//     response is reused. Garbage tokens therefore cannot turn approvald into
//     a request amplifier against the identity provider. A provider that
//     signs with a new key should publish it in the JWKS before using it (all
//     common providers do); otherwise tokens with the new key are refused for
//     at most one interval. go-oidc alone would trust a key it has cached
//     until some token made it refetch; so that a key the provider withdraws
//     (say, a compromised one) stops being trusted, the cached key set is
//     also dropped once it is an hour old and fetched again when next needed.
//   - Static public key (PublicKeyFile): one or more PEM public keys (RSA of at
//     least 2048 bits, ECDSA P-256/P-384, Ed25519; "PUBLIC KEY", "RSA PUBLIC
//     KEY" or "CERTIFICATE" blocks). Nothing is fetched; the issuer is checked
//     only when Issuer is set (approvald's --jwt-issuer), and then a token
//     without "iss" is refused.
//   - Shared secret (HS256SecretFile): HS256 only, verified with go-jose,
//     since go-oidc verifies asymmetric signatures only. The secret is the
//     file's content without surrounding white space and must be at least 32
//     bytes. The issuer is checked as with a static public key.
//
// Key-based modes accept RS256, RS384, RS512, PS256, ES256, ES384 and EdDSA,
// nothing else: "none" is never accepted, and an HS256 token is refused by a
// key-based verifier (so a token "signed" with the public key as an HMAC
// secret, the classic algorithm confusion, fails). The shared-secret mode
// accepts HS256 only.
//
// # Discovery is eager
//
// New performs discovery and a first JWKS fetch with the context it is given
// and fails if either fails: a misconfigured or unreachable issuer stops
// approvald at start instead of refusing every person later. Give New a
// context with a deadline; each request is also bounded by the HTTP client's
// timeout (10 s by default). Once New has succeeded, a provider outage only
// matters for keys not yet seen.
//
// In discovery mode, plain http:// URLs (issuer, jwks_uri, redirects) are
// refused unless the host is loopback (localhost, 127.0.0.0/8, ::1), which is
// what tests use, and responses over 1 MiB are refused.
//
// # Claims
//
// Every mode checks, after the signature: the issuer (when Issuer is set; in
// discovery mode always), that the audience contains Audience, and the
// times: exp is required, and exp, nbf and iat are checked with a leeway of
// Leeway (one minute) for clock skew. go-oidc's own time checks are switched
// off so that all modes behave alike.
//
// The principal is "user:" + the PrincipalClaim ("sub" by default), a string
// of 1 to 200 characters without control characters. With PrincipalClaim
// "email", a token that says "email_verified": false is refused.
// Groups come from GroupsClaim (a JSON array of strings, or one string of
// names separated by spaces or commas); unusable entries (not strings, empty,
// over 256 bytes, with control characters) are ignored.
// Scopes come from ScopesClaim (an OAuth "scope" string separated by spaces,
// or an array), plus the scopes GroupScopes gives the principal's groups;
// names that are not in ValidScopes are ignored. A claim name with dots
// ("realm_access.roles") is looked up in nested objects when no top-level
// claim has that exact name.
//
// # Errors
//
// Verify returns *approval.Error values of kind approval.KindUnauthenticated
// with code approval.CodeUnauthenticated, also when a new key could not be
// fetched from the provider. Their message is short and safe to
// show to the caller; the precise reason, for the operator's log, is
// available through Reason. Neither ever contains the token.
//
// A Verifier is safe for concurrent use.
package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"approvald/approval"
)

// Leeway is the clock skew allowed when checking exp, nbf and iat.
const Leeway = time.Minute

// MaxTokenLen is the longest token Verify looks at; longer ones are refused
// before any parsing.
const MaxTokenLen = 16 << 10

// DefaultKeyRefreshInterval is the default of Config.KeyRefreshInterval.
const DefaultKeyRefreshInterval = 10 * time.Second

// defaultHTTPTimeout bounds each request to the provider.
const defaultHTTPTimeout = 10 * time.Second

// maxPrincipalLen is the longest principal claim value accepted, in characters.
const maxPrincipalLen = 200

// AuditScope is the scope name accepted by default in addition to
// approval.Scopes(), for the audit scope that is planned.
const AuditScope = "audit"

// keyAlgs are the signature algorithms of the key-based modes.
var keyAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512, gooidc.PS256,
	gooidc.ES256, gooidc.ES384, gooidc.EdDSA,
}

// Config configures a Verifier. Exactly one of Issuer (alone: discovery),
// PublicKeyFile or HS256SecretFile chooses the mode; Audience is required.
type Config struct {
	// Issuer is the expected "iss" (APPROVALD_OIDC_ISSUER). Without a key
	// file it is also where discovery happens,
	// <Issuer>/.well-known/openid-configuration, and must then be https, or
	// http on a loopback host. With a key file it is optional
	// (APPROVALD_JWT_ISSUER) and compared with "iss", which a token must
	// then carry.
	Issuer string
	// Audience must be one of the token's "aud" values (APPROVALD_OIDC_AUDIENCE).
	Audience string
	// PrincipalClaim names the claim that identifies the person; the
	// principal is "user:" + its value. Default "sub".
	PrincipalClaim string
	// GroupsClaim names the claim with the person's groups. Default "groups".
	GroupsClaim string
	// ScopesClaim names the claim with the token's scopes. Default "scope".
	ScopesClaim string
	// GroupScopes gives scopes to members of groups, in addition to the
	// scopes in the token. Every scope must be in ValidScopes.
	GroupScopes map[string][]string
	// PublicKeyFile is a PEM file of public keys to verify with instead of
	// discovery.
	PublicKeyFile string
	// HS256SecretFile is a file holding a shared HS256 secret (at least 32
	// bytes once trimmed) to verify with instead of discovery.
	HS256SecretFile string
	// ValidScopes are the scope names a token may grant; others are ignored.
	// Default: the names of approval.Scopes() and AuditScope.
	ValidScopes []string
	// HTTPClient is used for discovery and the JWKS. Default: a client with
	// a 10 s timeout. A given client is copied, not changed; its transport is
	// wrapped (https-only, response size limit, JWKS throttle), and a zero
	// Timeout becomes 10 s.
	HTTPClient *http.Client
	// KeyRefreshInterval is the least time between two fetches of the JWKS
	// (discovery mode). Default DefaultKeyRefreshInterval.
	KeyRefreshInterval time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Enabled reports whether c configures any mode, that is whether New should
// be called at all.
func (c Config) Enabled() bool {
	return c.Issuer != "" || c.PublicKeyFile != "" || c.HS256SecretFile != ""
}

// Verifier verifies bearer JWTs. Create one with New.
type Verifier struct {
	idv    *gooidc.IDTokenVerifier // discovery and static key modes
	secret []byte                  // HS256 mode

	issuer, audience                         string
	principalClaim, groupsClaim, scopesClaim string
	validScopes                              map[string]bool
	groupScopes                              map[string][]approval.Scope
	now                                      func() time.Time
}

// New returns a Verifier for cfg. In discovery mode it fetches the discovery
// document and the JWKS with ctx and fails if either cannot be had.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	v := &Verifier{
		issuer:         cfg.Issuer,
		audience:       cfg.Audience,
		principalClaim: orDefault(cfg.PrincipalClaim, "sub"),
		groupsClaim:    orDefault(cfg.GroupsClaim, "groups"),
		scopesClaim:    orDefault(cfg.ScopesClaim, "scope"),
		now:            cfg.Now,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if !cfg.Enabled() {
		return nil, errors.New("oidc: set an issuer, a public key file or an HS256 secret file")
	}
	if cfg.PublicKeyFile != "" && cfg.HS256SecretFile != "" {
		return nil, errors.New("oidc: set a public key file or an HS256 secret file, not both")
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return nil, errors.New("oidc: the audience is required")
	}
	if err := v.setScopes(cfg); err != nil {
		return nil, err
	}
	switch {
	case cfg.HS256SecretFile != "":
		secret, err := loadSecret(cfg.HS256SecretFile)
		if err != nil {
			return nil, err
		}
		v.secret = secret
	case cfg.PublicKeyFile != "":
		keys, err := loadPublicKeys(cfg.PublicKeyFile)
		if err != nil {
			return nil, err
		}
		v.idv = gooidc.NewVerifier(cfg.Issuer, &gooidc.StaticKeySet{PublicKeys: keys}, v.oidcConfig())
	default:
		if err := v.discover(ctx, cfg); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (v *Verifier) oidcConfig() *gooidc.Config {
	return &gooidc.Config{
		ClientID:             v.audience,
		SupportedSigningAlgs: slices.Clone(keyAlgs),
		SkipIssuerCheck:      v.issuer == "",
		// Checked by checkTimes, alike in every mode and with Leeway.
		SkipExpiryCheck: true,
		Now:             v.now,
	}
}

func (v *Verifier) setScopes(cfg Config) error {
	names := slices.Clone(cfg.ValidScopes)
	if len(names) == 0 {
		for _, s := range approval.Scopes() {
			names = append(names, string(s))
		}
		names = append(names, AuditScope)
	}
	v.validScopes = make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || strings.ContainsFunc(n, isSpaceOrControl) {
			return fmt.Errorf("oidc: invalid scope name %q in the valid scopes", n)
		}
		v.validScopes[n] = true
	}
	v.groupScopes = make(map[string][]approval.Scope, len(cfg.GroupScopes))
	for g, scopes := range cfg.GroupScopes {
		if !validGroup(g) {
			return fmt.Errorf("oidc: invalid group name %q in the group scopes", g)
		}
		for _, s := range scopes {
			if !v.validScopes[s] {
				return fmt.Errorf("oidc: group %q is given the unknown scope %q", g, s)
			}
			v.groupScopes[g] = append(v.groupScopes[g], approval.Scope(s))
		}
	}
	return nil
}

// discover sets v up for discovery mode.
func (v *Verifier) discover(ctx context.Context, cfg Config) error {
	if err := checkURL(cfg.Issuer); err != nil {
		return fmt.Errorf("oidc: issuer: %w", err)
	}
	interval := cfg.KeyRefreshInterval
	if interval <= 0 {
		interval = DefaultKeyRefreshInterval
	}
	client := &http.Client{Timeout: defaultHTTPTimeout}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		client = &c
		if client.Timeout <= 0 {
			client.Timeout = defaultHTTPTimeout
		}
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	inner := *client
	inner.Transport = secureTransport{base: base}
	g := &guard{secure: secureTransport{base: base}, inner: &inner, now: v.now, interval: interval}
	client.Transport = g

	provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return fmt.Errorf("oidc: discovery at %s failed: %s", cfg.Issuer, clip(err.Error()))
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		return fmt.Errorf("oidc: discovery document: %s", clip(err.Error()))
	}
	if meta.JWKSURI == "" {
		return errors.New("oidc: the discovery document has no jwks_uri")
	}
	if err := checkURL(meta.JWKSURI); err != nil {
		return fmt.Errorf("oidc: jwks_uri: %w", err)
	}
	if err := g.setJWKS(meta.JWKSURI); err != nil {
		return err
	}
	if err := prefetchKeys(ctx, client, meta.JWKSURI); err != nil {
		return err
	}
	// What provider.Verifier does, with a key set that is renewed hourly.
	// NewProvider made sure that the discovered issuer is cfg.Issuer.
	keys := &renewingKeySet{now: v.now, newSet: func() gooidc.KeySet {
		return gooidc.NewRemoteKeySet(gooidc.ClientContext(context.Background(), client), meta.JWKSURI)
	}}
	v.idv = gooidc.NewVerifier(cfg.Issuer, keys, v.oidcConfig())
	return nil
}

// keySetMaxAge is how long a fetched key set is trusted without a refetch.
const keySetMaxAge = time.Hour

// renewingKeySet is a go-oidc RemoteKeySet that is replaced by a new one,
// with an empty cache, once it is keySetMaxAge old.
type renewingKeySet struct {
	newSet func() gooidc.KeySet
	now    func() time.Time

	mu      sync.Mutex
	set     gooidc.KeySet
	created time.Time
}

// VerifySignature implements gooidc.KeySet.
func (r *renewingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	r.mu.Lock()
	now := r.now()
	if r.set == nil || now.Sub(r.created) >= keySetMaxAge || now.Before(r.created) {
		r.set, r.created = r.newSet(), now
	}
	set := r.set
	r.mu.Unlock()
	return set.VerifySignature(ctx, jwt)
}

// Verify checks raw, a bearer token without the "Bearer " prefix, and returns
// the principal it stands for. Every error is an *approval.Error of kind
// approval.KindUnauthenticated; Reason tells why.
func (v *Verifier) Verify(ctx context.Context, raw string) (approval.Principal, error) {
	if len(raw) > MaxTokenLen {
		return approval.Principal{}, refuse(msgInvalid, "", "token is %d bytes, over the limit of %d", len(raw), MaxTokenLen)
	}
	if !LooksLikeJWT(raw) {
		return approval.Principal{}, refuse(msgInvalid, "", "not a compact JWT")
	}
	var payload []byte
	if v.secret != nil {
		p, err := v.verifyHS256(raw)
		if err != nil {
			return approval.Principal{}, refuse(msgInvalid, raw, "%s", err.Error())
		}
		payload = p
	} else {
		tok, err := v.idv.Verify(ctx, raw)
		if err != nil {
			return approval.Principal{}, refuse(msgInvalid, raw, "%s", err.Error())
		}
		var p json.RawMessage
		if err := tok.Claims(&p); err != nil {
			return approval.Principal{}, refuse(msgInvalid, raw, "claims: %s", err.Error())
		}
		payload = p
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return approval.Principal{}, refuse(msgInvalid, raw, "claims: %s", err.Error())
	}
	if v.secret != nil {
		// go-oidc checked these in the other modes.
		if err := v.checkIssuerAudience(claims); err != nil {
			return approval.Principal{}, refuse(msgInvalid, raw, "%s", err.Error())
		}
	}
	if err := checkTimes(claims, v.now()); err != nil {
		var te *timeError
		msg := msgInvalid
		if errors.As(err, &te) {
			msg = te.msg
		}
		return approval.Principal{}, refuse(msg, raw, "%s", err.Error())
	}
	p, err := v.principal(claims)
	if err != nil {
		return approval.Principal{}, refuse(msgInvalid, raw, "%s", err.Error())
	}
	return p, nil
}
