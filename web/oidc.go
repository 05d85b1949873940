package web

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"approvald/access"
	"approvald/approval"
	"approvald/auth/oidc"
)

// oidcStateTTL is how long a sign-in at the provider may take.
const oidcStateTTL = 10 * time.Minute

// callbackPath is where the provider sends the browser back.
const callbackPath = "/ui/auth/callback"

// oidcLogin signs people in at an OpenID Connect provider with the
// authorization-code flow and PKCE.
type oidcLogin struct {
	conf   oauth2.Config // without RedirectURL, which depends on the request
	idv    *gooidc.IDTokenVerifier
	client *http.Client
	name   string // the provider's host, for the button
}

// newOIDCLogin discovers the provider's endpoints.
func newOIDCLogin(ctx context.Context, c OIDCConfig, client *http.Client) (*oidcLogin, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := gooidc.NewProvider(gooidc.ClientContext(dctx, client), c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC sign-in: discovery at %s failed: %w", c.Issuer, err)
	}
	name := c.Issuer
	if u, err := url.Parse(c.Issuer); err == nil && u.Host != "" {
		name = u.Host
	}
	return &oidcLogin{
		conf:   oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: p.Endpoint(), Scopes: c.Scopes},
		idv:    p.Verifier(&gooidc.Config{ClientID: c.ClientID}),
		client: client,
		name:   name,
	}, nil
}

// oidcState is what the browser keeps, sealed, during a sign-in at the
// provider: the state and nonce that bind the answer to this browser, the
// PKCE verifier, and where to go afterwards.
type oidcState struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
	Exp      int64  `json:"exp"`
	// MaxAge, when not zero, is the max_age (seconds) asked of the provider
	// with prompt=login: the sign-in again that deciding from a signed link
	// needs. The ID token's auth_time must then be that recent.
	MaxAge int64 `json:"max_age,omitempty"`
}

// config returns the OAuth2 configuration with the redirect URL for r.
func (o *oidcLogin) config(s *server, r *http.Request) oauth2.Config {
	c := o.conf
	c.RedirectURL = s.expectedOrigin(r) + callbackPath
	return c
}

// oidcLogin sends the browser to the provider, remembering (sealed, in a
// short-lived cookie) what the answer must match. With reauth=1 it asks the
// provider to authenticate the person again (prompt=login, max_age the
// link re-authentication age), whatever session the provider keeps.
func (s *server) oidcLogin(w http.ResponseWriter, r *http.Request, _ *session) error {
	if s.oidc == nil {
		return approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "signing in at an identity provider is not configured here")
	}
	st := oidcState{
		State: randomID(), Nonce: randomID(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Exp: s.now().Add(oidcStateTTL).Unix(),
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier), gooidc.Nonce(st.Nonce)}
	if r.URL.Query().Get("reauth") != "" {
		st.MaxAge = int64(s.cfg.LinkReauthAge / time.Second)
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", strconv.FormatInt(st.MaxAge, 10)))
	}
	sealed, err := s.seal.seal(purposeOIDC, st)
	if err != nil {
		return approval.Internal(err)
	}
	// Lax, not Strict: the provider's redirect back is a cross-site
	// navigation, on which a Strict cookie would not be sent.
	s.setCookie(w, r, oidcCookie, sealed, int(oidcStateTTL.Seconds()), http.SameSiteLaxMode)
	conf := s.oidc.config(s, r)
	http.Redirect(w, r, conf.AuthCodeURL(st.State, opts...), http.StatusFound)
	return nil
}

// oidcCallback completes the sign-in: it checks the state, exchanges the
// code with the PKCE verifier, verifies the ID token and its nonce, and
// keeps the first of the access token and the ID token that approvald's
// JWT verification accepts — the same check every API request gets.
func (s *server) oidcCallback(w http.ResponseWriter, r *http.Request, _ *session) error {
	if s.oidc == nil {
		return approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "signing in at an identity provider is not configured here")
	}
	log := access.Logger(r.Context())
	var st oidcState
	c, err := r.Cookie(s.cookieName(r, oidcCookie))
	if err == nil {
		err = s.seal.open(purposeOIDC, c.Value, &st)
	}
	s.setCookie(w, r, oidcCookie, "", -1, http.SameSiteLaxMode)
	q := r.URL.Query()
	switch {
	case err != nil:
		log.Warn("OIDC callback without a usable state cookie", "reason", err.Error())
		return errSignIn(approval.KindMalformed, "This sign-in was not started in this browser, or took too long. Sign in again.")
	case !s.now().Before(time.Unix(st.Exp, 0)):
		return errSignIn(approval.KindMalformed, "The sign-in took too long. Sign in again.")
	case !hmac.Equal([]byte(q.Get("state")), []byte(st.State)):
		log.Warn("OIDC callback with a state that does not match")
		return errSignIn(approval.KindMalformed, "The answer of the identity provider does not belong to this sign-in. Sign in again.")
	case q.Get("error") != "":
		desc := q.Get("error_description")
		if !utf8.ValidString(desc) || len(desc) > 300 {
			desc = ""
		}
		log.Info("the identity provider refused the sign-in", "error", q.Get("error"), "description", desc)
		return errSignIn(approval.KindUnauthenticated, "The identity provider did not sign you in ("+clip(q.Get("error"), 60)+"). "+desc)
	case q.Get("code") == "":
		return errSignIn(approval.KindMalformed, "The identity provider sent no authorization code. Sign in again.")
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, s.oidc.client)
	conf := s.oidc.config(s, r)
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		log.Warn("OIDC code exchange failed", "err", clip(err.Error(), 500))
		return errSignIn(approval.KindUnauthenticated, "The identity provider did not complete the sign-in. Sign in again.")
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return errSignIn(approval.KindUnauthenticated, "The identity provider sent no ID token.")
	}
	idt, err := s.oidc.idv.Verify(gooidc.ClientContext(r.Context(), s.oidc.client), rawID)
	if err != nil {
		log.Warn("OIDC ID token refused", "reason", clip(err.Error(), 500))
		return errSignIn(approval.KindUnauthenticated, "The identity provider's ID token is not valid.")
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(st.Nonce)) {
		log.Warn("OIDC ID token with a nonce that does not match")
		return errSignIn(approval.KindUnauthenticated, "The identity provider's ID token does not belong to this sign-in.")
	}
	var claims idClaims
	if err := idt.Claims(&claims); err != nil {
		log.Warn("OIDC ID token claims do not decode", "reason", clip(err.Error(), 300))
		return errSignIn(approval.KindUnauthenticated, "The identity provider's ID token is not valid.")
	}
	// When the person signed in at the provider: auth_time, else now. A
	// provider that signs in silently from its own older session gives an
	// older auth_time, which a signed link does not accept as fresh.
	authAt := s.now()
	if claims.AuthTime > 0 && claims.AuthTime < authAt.Unix() {
		authAt = time.Unix(claims.AuthTime, 0)
	}
	if st.MaxAge > 0 && claims.AuthTime > 0 && s.now().Sub(authAt) > time.Duration(st.MaxAge)*time.Second+authTimeSkew {
		log.Warn("OIDC sign-in again: the provider did not authenticate the person again", "auth_time", claims.AuthTime, "max_age", st.MaxAge)
		return errSignIn(approval.KindUnauthenticated, "The identity provider did not ask you to sign in again. Sign in again to decide from the link, or open the request from the inbox.")
	}
	var (
		cred   string
		p      approval.Principal
		reason string
	)
	for _, c := range []string{tok.AccessToken, rawID} {
		if c == "" || !oidc.LooksLikeJWT(c) {
			continue
		}
		if p, err = s.Tokens.Verify(r.Context(), c); err == nil {
			cred = c
			break
		}
		reason = credentialReason(err)
	}
	if cred == "" {
		log.Warn("OIDC sign-in: approvald's JWT verification accepts neither the access token nor the ID token", "reason", reason)
		return errSignIn(approval.KindForbidden, "You signed in at the identity provider, but approvald does not accept its tokens (check APPROVALD_OIDC_AUDIENCE and the provider's audience).")
	}
	if !p.Has(approval.ScopeRead) && !p.Has(approval.ScopeAudit) {
		return errSignIn(approval.KindForbidden, p.ID+" may not read requests (no approvals:read scope), so the UI has nothing to show.")
	}
	until := idt.Expiry
	if cred == tok.AccessToken && !tok.Expiry.IsZero() {
		until = tok.Expiry
	}
	if err := s.startSession(w, r, cred, "oidc", until, authAt); err != nil {
		return err
	}
	log.Info("signed in", "principal", p.ID, "via", "oidc")
	s.rememberEmail(r.Context(), p.ID, claims)
	// A page, not a redirect: after the provider's cross-site redirect,
	// the browser would not send the new SameSite=Strict cookie with a
	// redirect; a navigation this page starts is same-site.
	s.render(w, r, nil, http.StatusOK, "signedin", "Signed in", st.Next)
	return nil
}

// authTimeSkew is how far the provider's clock may be ahead of ours when
// its auth_time is compared with max_age.
const authTimeSkew = time.Minute

// idClaims are the ID token's claims the UI reads beyond those go-oidc checks.
type idClaims struct {
	Email string `json:"email"`
	// EmailVerified is a boolean, or a string "true"/"false" at some
	// providers.
	EmailVerified json.RawMessage `json:"email_verified"`
	AuthTime      int64           `json:"auth_time"`
}

// emailUnverified reports whether the provider says the address is not
// verified (an absent claim does not).
func (c idClaims) emailUnverified() bool {
	v := strings.Trim(strings.TrimSpace(string(c.EmailVerified)), `"`)
	return strings.EqualFold(v, "false")
}

// rememberEmail keeps the address of a person who signed in, for their
// notifications, unless the provider says it is not verified. A failure is
// logged: it never stops the sign-in.
func (s *server) rememberEmail(ctx context.Context, principal string, c idClaims) {
	if c.Email == "" || c.emailUnverified() {
		return
	}
	if err := s.Engine.RememberContact(ctx, principal, c.Email, approval.ContactOIDC); err != nil {
		access.Logger(ctx).Warn("remembering the email of the signed-in person failed", "principal", principal, "err", err)
	}
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
