package web

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"approvald/approval"
	"approvald/auth/oidc"
)

const (
	testClientID = "approvald-ui"
	testAudience = "approvald"
)

// provider is an OpenID Connect provider on httptest that signs everyone
// in as alice at once: /authorize redirects straight back with a code,
// /token checks the PKCE verifier against the challenge and answers with
// an ID token and an access token.
type provider struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey

	mu     sync.Mutex
	grants map[string]grant // by code
	// The next token answers are changed by these, when set.
	idNonce        string // an ID token nonce other than the one asked for
	accessAudience string // an access token audience other than approvald
	exchanged      int
	// email and emailVerified, when set, are the ID token's claims.
	email         string
	emailVerified any
	// now is the provider's clock for auth_time (a test moves it with the
	// UI's); staleAuth makes it ignore prompt=login and answer with an
	// auth_time of an hour ago, as a provider keeping its own session may.
	now       func() time.Time
	staleAuth bool
}

// grant is what /authorize was asked for, kept for /token.
type grant struct {
	challenge, method, nonce, redirect, clientID string
	prompt                                       string
}

var providerKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{t: t, key: providerKey(), grants: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTest(w, map[string]any{
			"issuer":                                p.srv.URL,
			"authorization_endpoint":                p.srv.URL + "/authorize",
			"token_endpoint":                        p.srv.URL + "/token",
			"jwks_uri":                              p.srv.URL + "/keys",
			"response_types_supported":              []string{"code"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTest(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: p.key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := randomID()
		p.mu.Lock()
		p.grants[code] = grant{challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri"), clientID: q.Get("client_id"), prompt: q.Get("prompt")}
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		bq := url.Values{"code": {code}, "state": {q.Get("state")}}
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		p.mu.Lock()
		g, ok := p.grants[r.PostForm.Get("code")]
		delete(p.grants, r.PostForm.Get("code"))
		p.exchanged++
		idNonce, aud := p.idNonce, p.accessAudience
		email, verified, clock, stale := p.email, p.emailVerified, p.now, p.staleAuth
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		id, secret, _ := r.BasicAuth()
		if id == "" {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		switch {
		case !ok:
			oauthError(w, "invalid_grant", "unknown or used code")
			return
		case g.method != "S256" || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			oauthError(w, "invalid_grant", "PKCE verification failed")
			return
		case r.PostForm.Get("redirect_uri") != g.redirect || id != testClientID || id != g.clientID || secret != "client-secret":
			oauthError(w, "invalid_client", "wrong client or redirect")
			return
		}
		if idNonce == "" {
			idNonce = g.nonce
		}
		if aud == "" {
			aud = testAudience
		}
		now := time.Now()
		access := p.sign(map[string]any{"iss": p.srv.URL, "aud": aud, "sub": "alice", "scope": "approvals:read approvals:review",
			"groups": []string{"finance"}, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
		idClaims := map[string]any{"iss": p.srv.URL, "aud": testClientID, "sub": "alice", "nonce": idNonce,
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		if email != "" {
			idClaims["email"] = email
		}
		if verified != nil {
			idClaims["email_verified"] = verified
		}
		if clock != nil {
			authAt := clock()
			if stale || g.prompt != "login" {
				authAt = authAt.Add(-time.Hour)
			}
			idClaims["auth_time"] = authAt.Unix()
		}
		idt := p.sign(idClaims)
		writeJSONTest(w, map[string]any{"access_token": access, "id_token": idt, "token_type": "Bearer", "expires_in": 600})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// set changes the provider's answers.
func (p *provider) set(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// exchanges returns how many codes were presented at /token.
func (p *provider) exchanges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exchanged
}

func (p *provider) sign(claims map[string]any) string {
	p.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := signer.Sign(b)
	if err != nil {
		p.t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

func oauthError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func writeJSONTest(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// withOIDC configures OIDC sign-in at p, and the API's JWT verification
// with p as the issuer, as run.go does from the environment.
func withOIDC(t *testing.T, p *provider) stackOption {
	return func(d *Deps) {
		v, err := oidc.New(context.Background(), oidc.Config{Issuer: p.srv.URL, Audience: testAudience})
		if err != nil {
			t.Fatal(err)
		}
		d.Tokens = v
		d.Config.OIDC = OIDCConfig{Issuer: p.srv.URL, ClientID: testClientID, ClientSecret: "client-secret", Scopes: []string{"openid", "profile"}}
	}
}

// startLogin starts a sign-in at the provider and returns the callback
// URL the provider sends the browser back to.
func startLogin(t *testing.T, c *client, next string) *url.URL {
	t.Helper()
	r := c.get("/ui/auth/login?next=" + url.QueryEscape(next))
	if r.StatusCode != http.StatusFound {
		t.Fatalf("login: %d\n%s", r.StatusCode, r.body)
	}
	ck := setCookieNamed(r.Response, "apd_oidc")
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("state cookie %+v, want HttpOnly and SameSite=Lax", ck)
	}
	authorize, _ := url.Parse(r.Header.Get("Location"))
	q := authorize.Query()
	for name, want := range map[string]string{"response_type": "code", "client_id": testClientID, "code_challenge_method": "S256", "redirect_uri": c.base + callbackPath} {
		if got := q.Get(name); got != want {
			t.Errorf("authorize %s = %q, want %q", name, got, want)
		}
	}
	if q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
		t.Errorf("authorize misses PKCE, state, nonce or the openid scope: %s", authorize.RawQuery)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(authorize.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	return back
}

// callback sends the browser back from the provider.
func callback(c *client, back *url.URL) response {
	return c.get(back.RequestURI())
}

func TestOIDC_SignInWithPKCEKeepsATokenTheAPIAccepts(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	s := newStack(t, withOIDC(t, p))
	req := s.create(s.key("billing", approval.ScopeCreate, approval.ScopeRead), approval.Draft{Title: "Pay invoice 42"})
	c := s.client()
	mustContain(t, "the sign-in page", c.get("/ui/signin").body, `id="oidc-signin"`, "Sign in with 127.0.0.1")
	r := callback(c, startLogin(t, c, "/ui/requests/"+req.ID))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d\n%s", r.StatusCode, r.body)
	}
	// A page that moves on, not a redirect: see oidcCallback.
	mustContain(t, "the signed-in page", r.body, `http-equiv="refresh"`, "/ui/requests/"+req.ID)
	if ck := setCookieNamed(r.Response, "apd_session"); ck == nil || ck.SameSite != http.SameSiteStrictMode || !ck.HttpOnly {
		t.Fatalf("session cookie %+v", ck)
	}
	if ck := setCookieNamed(r.Response, "apd_oidc"); ck == nil || ck.MaxAge >= 0 {
		t.Error("the state cookie outlives the sign-in")
	}
	page := c.get("/ui/requests/" + req.ID)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("request page: %d", page.StatusCode)
	}
	// alice's access token has the review scope and the finance group.
	mustContain(t, "alice's page", page.body, "user:alice", `value="approve"`)
	// Signing in again starts afresh, with a new code.
	if r := callback(c, startLogin(t, c, "/ui/")); r.StatusCode != http.StatusOK {
		t.Fatalf("second sign-in: %d", r.StatusCode)
	}
}

func TestOIDC_ACallbackWithAnotherStateIsRefused(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	s := newStack(t, withOIDC(t, p))
	c := s.client()
	back := startLogin(t, c, "/ui/")
	q := back.Query()
	q.Set("state", "forged-state")
	back.RawQuery = q.Encode()
	r := callback(c, back)
	if r.StatusCode != http.StatusBadRequest || setCookieNamed(r.Response, "apd_session") != nil {
		t.Fatalf("callback with another state: %d, want 400 and no session", r.StatusCode)
	}
	if n := p.exchanges(); n != 0 {
		t.Error("the code was exchanged although the state did not match")
	}
}

func TestOIDC_ACallbackStartedInAnotherBrowserIsRefused(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	s := newStack(t, withOIDC(t, p))
	// An attacker starts a sign-in and sends the victim the callback link.
	back := startLogin(t, s.client(), "/ui/")
	victim := s.client()
	r := callback(victim, back)
	if r.StatusCode != http.StatusBadRequest || setCookieNamed(r.Response, "apd_session") != nil {
		t.Fatalf("callback without the state cookie: %d, want 400 and no session", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "not started in this browser")
}

func TestOIDC_AnIDTokenForAnotherSignInIsRefused(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	p.set(func() { p.idNonce = "replayed-nonce" })
	s := newStack(t, withOIDC(t, p))
	c := s.client()
	r := callback(c, startLogin(t, c, "/ui/"))
	if r.StatusCode != http.StatusUnauthorized || setCookieNamed(r.Response, "apd_session") != nil {
		t.Fatalf("ID token with another nonce: %d, want 401 and no session", r.StatusCode)
	}
}

func TestOIDC_TokensApprovaldDoesNotAcceptSignNobodyIn(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	p.set(func() { p.accessAudience = "another-api" })
	s := newStack(t, withOIDC(t, p)) // the ID token's audience is the client id, not approvald
	c := s.client()
	r := callback(c, startLogin(t, c, "/ui/"))
	if r.StatusCode != http.StatusForbidden || setCookieNamed(r.Response, "apd_session") != nil {
		t.Fatalf("tokens of other audiences: %d, want 403 and no session", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "APPROVALD_OIDC_AUDIENCE")
}

func TestOIDC_TheProvidersRefusalIsShown(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	s := newStack(t, withOIDC(t, p))
	c := s.client()
	back := startLogin(t, c, "/ui/")
	q := back.Query()
	q.Del("code")
	q.Set("error", "access_denied")
	q.Set("error_description", "The user <b>declined</b>.")
	back.RawQuery = q.Encode()
	r := callback(c, back)
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refused sign-in: %d, want 401", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "access_denied", "The user &lt;b&gt;declined&lt;/b&gt;.")
}

func TestNew_OIDCSignInNeedsTheAPIsTokenVerification(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	_, err := New(context.Background(), Deps{Config: Config{OIDC: OIDCConfig{Issuer: p.srv.URL, ClientID: testClientID}}})
	if err == nil || !strings.Contains(err.Error(), "APPROVALD_OIDC_AUDIENCE") {
		t.Fatalf("New without Tokens = %v, want an error naming the settings", err)
	}
	d := Deps{Tokens: fakeVerifier{}, Config: Config{OIDC: OIDCConfig{Issuer: "http://127.0.0.1:1", ClientID: testClientID}}}
	if _, err := New(context.Background(), d); err == nil {
		t.Fatal("New succeeded with an unreachable provider")
	}
}

type fakeVerifier struct{}

func (fakeVerifier) Verify(context.Context, string) (approval.Principal, error) {
	return approval.Principal{}, approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated, "no")
}
