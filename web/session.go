package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/auth/oidc"
)

// Cookie names, without the __Host- prefix they get over TLS.
const (
	sessionCookie = "apd_session"
	preCookie     = "apd_csrf" // the pre-session CSRF id of the sign-in form
	oidcCookie    = "apd_oidc" // state, nonce and PKCE verifier of an OIDC sign-in
)

// Purposes sealed values are bound to (the AEAD's additional data), so
// that a value sealed for one cookie is refused as another.
const (
	purposeSession = "approvald/ui/session/v1"
	purposeOIDC    = "approvald/ui/oidc/v1"
)

// A session cookie is split into chunks of at most cookieChunk bytes, at
// most maxChunks of them: browsers keep cookies up to about 4 KiB, and an
// identity provider's token can come close to that on its own.
const (
	cookieChunk = 3800
	maxChunks   = 4
)

// csrfField is the name of the hidden form field holding the CSRF token.
const csrfField = "csrf"

// CodeCSRF is the error code of a POST refused as a possible cross-site
// request forgery.
const CodeCSRF = "csrf_failed"

// errNoSession means the request has no usable session: no cookie, one
// that does not open, or an expired one.
var errNoSession = errors.New("no session")

// sealer seals values with AES-256-GCM and derives CSRF tokens; both keys
// are derived from the configured session key.
type sealer struct {
	aead    cipher.AEAD
	csrfKey []byte
}

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(derive(key, "approvald/ui/seal"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, csrfKey: derive(key, "approvald/ui/csrf")}, nil
}

// derive returns a 32-byte key for label from key material.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// seal returns v, as JSON, encrypted and authenticated for purpose, in
// base64url: safe as a cookie value.
func (s *sealer) seal(purpose string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(purpose))), nil
}

// open decrypts a value sealed for purpose into v. Anything tampered with,
// sealed under another key or for another purpose fails.
func (s *sealer) open(purpose, sealed string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	n := s.aead.NonceSize()
	if err != nil || len(raw) < n+s.aead.Overhead() {
		return errors.New("not a sealed value")
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(purpose))
	if err != nil {
		return errors.New("sealed value does not open")
	}
	return json.Unmarshal(plain, v)
}

// csrfToken returns the CSRF token of session (or pre-session) id sid.
func (s *sealer) csrfToken(sid string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("csrf\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// randomID returns 128 random bits in base64url.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// session is a signed-in browser: what the cookie seals, and, once the
// credential was authenticated again, its principal.
type session struct {
	ID   string `json:"sid"`
	Cred string `json:"cred"`
	// Via says how the session was made: "key", "token" or "oidc".
	Via string `json:"via"`
	Exp int64  `json:"exp"`
	// Auth is when the person last proved who they are (Unix seconds): the
	// sign-in, or the identity provider's auth_time. Zero in cookies made
	// before it existed, which count as too old to decide from a link.
	Auth int64 `json:"auth,omitempty"`

	P    approval.Principal `json:"-"`
	CSRF string             `json:"-"`
}

// secure reports whether cookies must be Secure: the UI is served over
// TLS, directly or (per the base URL) behind a proxy.
func (s *server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.cfg.BaseURL, "https://")
}

// cookieName is name with the __Host- prefix when cookies are Secure: the
// browser then refuses the cookie from any other host or path, so a
// sibling subdomain cannot plant one.
func (s *server) cookieName(r *http.Request, name string) string {
	if s.secure(r) {
		return "__Host-" + name
	}
	return name
}

// setCookie sets an HttpOnly cookie for the whole host; maxAge < 0 deletes it.
func (s *server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int, site http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(r, name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: site,
	})
}

// chunkName is the name of chunk i of the session cookie.
func chunkName(name string, i int) string {
	if i == 0 {
		return name
	}
	return fmt.Sprintf("%s.%d", name, i)
}

// writeSession seals sess into the session cookie, in chunks when needed.
func (s *server) writeSession(w http.ResponseWriter, r *http.Request, sess *session) error {
	value, err := s.seal.seal(purposeSession, sess)
	if err != nil {
		return approval.Internal(err)
	}
	if len(value) > cookieChunk*maxChunks {
		return approval.Errorf(approval.KindTooLarge, approval.CodeTooLarge,
			"the credential is too large to keep in a session cookie (%d bytes sealed, at most %d)", len(value), cookieChunk*maxChunks)
	}
	maxAge := int(time.Unix(sess.Exp, 0).Sub(s.now()).Seconds())
	i := 0
	for ; len(value) > 0; i++ {
		n := min(len(value), cookieChunk)
		s.setCookie(w, r, chunkName(sessionCookie, i), value[:n], maxAge, http.SameSiteStrictMode)
		value = value[n:]
	}
	for ; i < maxChunks; i++ {
		if _, err := r.Cookie(s.cookieName(r, chunkName(sessionCookie, i))); err == nil {
			s.setCookie(w, r, chunkName(sessionCookie, i), "", -1, http.SameSiteStrictMode)
		}
	}
	return nil
}

// clearSession deletes the session cookie and its chunks.
func (s *server) clearSession(w http.ResponseWriter, r *http.Request) {
	for i := range maxChunks {
		if _, err := r.Cookie(s.cookieName(r, chunkName(sessionCookie, i))); err == nil || i == 0 {
			s.setCookie(w, r, chunkName(sessionCookie, i), "", -1, http.SameSiteStrictMode)
		}
	}
}

// hasSessionCookie reports whether the request carries a session cookie,
// usable or not.
func (s *server) hasSessionCookie(r *http.Request) bool {
	_, err := r.Cookie(s.cookieName(r, sessionCookie))
	return err == nil
}

// currentSession opens the session cookie and authenticates its
// credential again. It returns errNoSession when there is no usable
// session (the reason is logged), and other errors when authentication
// could not be done (the key store failed).
func (s *server) currentSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(s.cookieName(r, sessionCookie))
	if err != nil {
		return nil, errNoSession
	}
	value := c.Value
	for i := 1; i < maxChunks; i++ {
		c, err := r.Cookie(s.cookieName(r, chunkName(sessionCookie, i)))
		if err != nil {
			break
		}
		value += c.Value
	}
	log := access.Logger(r.Context())
	var sess session
	if err := s.seal.open(purposeSession, value, &sess); err != nil {
		log.Warn("session cookie refused", "reason", err.Error(), "remote_addr", r.RemoteAddr)
		return nil, errNoSession
	}
	if !s.now().Before(time.Unix(sess.Exp, 0)) {
		log.Info("session expired")
		return nil, errNoSession
	}
	p, err := s.authenticate(r.Context(), sess.Cred)
	if err != nil {
		if approval.KindOf(err) == approval.KindUnauthenticated {
			log.Info("session credential no longer accepted", "reason", credentialReason(err))
			return nil, errNoSession
		}
		return nil, err
	}
	sess.P = p
	sess.CSRF = s.seal.csrfToken(sess.ID)
	return &sess, nil
}

// authenticate returns the principal of a credential, as the API would: a
// JWT when token verification is configured and it looks like one, else
// an API key.
func (s *server) authenticate(ctx context.Context, cred string) (approval.Principal, error) {
	if s.Tokens != nil && oidc.LooksLikeJWT(cred) {
		return s.Tokens.Verify(ctx, cred)
	}
	return s.Keys.Authenticate(ctx, cred)
}

// credentialReason is why a credential was refused, for the log (never
// the credential itself).
func credentialReason(err error) string {
	if r := oidc.Reason(err); r != "" {
		return r
	}
	return approval.AsError(err).Message
}

// expectedOrigin returns the origin forms must come from: the base URL, or
// the request's own host.
func (s *server) expectedOrigin(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// checkOrigin refuses a POST that a browser marks as coming from another
// site. Without a base URL only the host is compared: a proxy that ends
// TLS makes the scheme unknowable here.
func (s *server) checkOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return csrfError("the form was sent from another site")
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	if s.cfg.BaseURL != "" {
		if o != s.cfg.BaseURL {
			return csrfError("the form was sent from another origin")
		}
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Host != r.Host {
		return csrfError("the form was sent from another origin")
	}
	return nil
}

// checkCSRF compares the form's CSRF token with the one of sid.
func (s *server) checkCSRF(r *http.Request, sid string) error {
	got := r.PostFormValue(csrfField)
	if got == "" {
		return csrfError("the form has no CSRF token")
	}
	if sid == "" || !hmac.Equal([]byte(got), []byte(s.seal.csrfToken(sid))) {
		return csrfError("the form's CSRF token does not match this session")
	}
	return nil
}

func csrfError(why string) error {
	return approval.Errorf(approval.KindForbidden, CodeCSRF,
		"refused: %s. Reload the page and try again", why)
}

// preSession returns the pre-session id of the sign-in form's CSRF token,
// setting a new one when the browser has none.
func (s *server) preSession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.cookieName(r, preCookie)); err == nil && len(c.Value) >= 16 && len(c.Value) <= 64 {
		return c.Value
	}
	id := randomID()
	s.setCookie(w, r, preCookie, id, int(time.Hour.Seconds()), http.SameSiteStrictMode)
	return id
}

// preSessionID returns the pre-session id the request carries, or "".
func (s *server) preSessionID(r *http.Request) string {
	if c, err := r.Cookie(s.cookieName(r, preCookie)); err == nil {
		return c.Value
	}
	return ""
}
