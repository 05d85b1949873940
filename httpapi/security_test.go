package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"approvald/approval"
	"approvald/auth/oidc"
)

// issuer is a real OpenID Connect issuer on loopback: discovery and JWKS,
// and a signer for its tokens.
type issuer struct {
	url    string
	signer jose.Signer
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"authorization_endpoint": srv.URL + "/auth", "token_endpoint": srv.URL + "/token", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{url: srv.URL, signer: signer}
}

// token signs a token for sub with the given groups and scope claim,
// valid from a minute ago for ttl (negative: already expired).
func (is *issuer) token(t *testing.T, sub string, groups []string, scope string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": is.url, "aud": "approvald", "sub": sub, "groups": groups, "scope": scope,
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(ttl).Unix(),
	}
	raw, err := jwt.Signed(is.signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func withTokens(t *testing.T, is *issuer) func(*Deps) {
	v, err := oidc.New(context.Background(), oidc.Config{Issuer: is.url, Audience: "approvald"})
	if err != nil {
		t.Fatal(err)
	}
	return func(d *Deps) { d.Tokens = v }
}

// TestJWT_PeopleSignInWithTokens: a person's JWT is a principal like an API
// key — user:<sub>, its groups count in policies, its scope claim limits it —
// and a bad token is 401 without echoing the token.
func TestJWT_PeopleSignInWithTokens(t *testing.T) {
	is := newIssuer(t)
	f := setupWith(t, withTokens(t, is))
	alice := apiClient{t: t, base: f.url, key: is.token(t, "alice", nil, "approvals:create approvals:read", time.Hour)}
	bob := apiClient{t: t, base: f.url, key: is.token(t, "bob", []string{"security"}, "approvals:review approvals:read", time.Hour)}
	carol := apiClient{t: t, base: f.url, key: is.token(t, "carol", []string{"marketing"}, "approvals:review approvals:read", time.Hour)}

	r := alice.createWith(map[string]any{"policy": map[string]any{"rules": []map[string]any{{"min_approvals": 1, "groups": []string{"security"}}}}})
	if r.Requester != "user:alice" {
		t.Fatalf("requester = %q, want user:alice", r.Requester)
	}
	// The requester's rule adds to the default policy: carol's approval
	// counts for the default rule, not for the security one.
	if got := carol.review(r.ID, approval.DecisionApprove); got.Status != "pending" || got.Progress.Rules[1].Approvals != 0 {
		t.Fatalf("carol (not in security): %s %+v", got.Status, got.Progress)
	}
	if p := alice.raw("POST", "/v1/approvals/"+r.ID+"/reviews", []byte(`{"decision":"approve"}`)); p.status != 403 || p.problem(t).Code != approval.CodeMissingScope {
		t.Fatalf("alice has no review scope in her token: %d %s", p.status, p.body)
	}
	if got := bob.review(r.ID, approval.DecisionApprove); got.Status != "approved" {
		t.Fatalf("bob (security) approving: %s", got.Status)
	}
	// An API key still works next to tokens.
	f.key("svc", approval.ScopeRead).json(200, "GET", "/v1/approvals/"+r.ID, nil, nil)

	expired := is.token(t, "alice", nil, "approvals:read", -time.Minute)
	for name, tok := range map[string]string{
		"expired":         expired,
		"tampered":        expired[:len(expired)-4] + "AAAA",
		"another issuer":  newIssuer(t).token(t, "alice", nil, "approvals:read", time.Hour),
		"not even a JWT":  "apd_not-a-key",
		"alg none header": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.",
	} {
		c := apiClient{t: t, base: f.url, key: tok}
		p := c.raw("GET", "/v1/approvals", nil)
		if p.status != 401 || strings.Contains(string(p.body), tok) {
			t.Errorf("%s: %d %s", name, p.status, p.body)
		}
	}
}

// TestScopes_EveryRouteWithEveryScope walks every operation of the OpenAPI
// document with a credential of each scope, and none: without a credential
// 401; without the route's scope (or audit, on read-only routes) 403
// missing_scope; with it, past the scope check.
func TestScopes_EveryRouteWithEveryScope(t *testing.T) {
	f := setup(t)
	c := mustContract(t)
	clients := map[string]apiClient{"": {t: t, base: f.url}}
	for _, s := range approval.Scopes() {
		clients[string(s)] = f.key("scope-"+strings.NewReplacer(":", "-").Replace(string(s)), s)
	}
	owner := clients[string(approval.ScopeCreate)]
	routes := map[string]route{}
	for _, rt := range (&server{}).routes() {
		routes[rt.Method+" "+openAPIPath(rt.Pattern)] = rt
	}
	checked := 0
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if servedByGateway(op) {
				continue
			}
			rt, ok := routes[method+" "+path]
			if !ok {
				t.Fatalf("%s %s is documented but not served", method, path)
			}
			if !authenticated(op) {
				continue
			}
			for scope, cl := range clients {
				// A fresh request per call, so that one call's effect (a
				// cancel, a decision) does not change the next one's answer.
				id := owner.createWith(map[string]any{}).ID
				url := strings.NewReplacer("{id}", id, "{name}", "nothing-here", "{key}", "user:nobody").Replace(path)
				p := cl.raw(method, url, []byte(`{}`))
				principal := approval.Principal{Scopes: []approval.Scope{approval.Scope(scope)}}
				switch {
				case scope == "":
					if p.status != 401 {
						t.Errorf("%s %s without a credential: %d", method, path, p.status)
					}
				case rt.Allows(principal):
					if p.status == 401 || (p.status == 403 && p.problem(t).Code == approval.CodeMissingScope) {
						t.Errorf("%s %s with %s: %d %s, want past the scope check", method, path, scope, p.status, p.body)
					}
				default:
					if p.status != 403 || p.problem(t).Code != approval.CodeMissingScope {
						t.Errorf("%s %s with %s: %d %s, want 403 missing_scope", method, path, scope, p.status, p.body)
					}
				}
				checked++
			}
		}
	}
	if checked < 20*len(clients) {
		t.Fatalf("only %d route × scope checks ran", checked)
	}
}

func TestLimits_RateAndStreamsPerPrincipal(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	f := setupWith(t, func(d *Deps) {
		d.Limits = Limits{Rate: 1, Burst: 3, MaxStreams: 1}
		d.Metrics = metrics
		d.Gatherer = reg
	})
	a, b := f.key("a", approval.ScopeRead), f.key("b", approval.ScopeRead)
	for range 3 {
		a.json(200, "GET", "/v1/approvals", nil, nil)
	}
	p := a.raw("GET", "/v1/approvals", nil)
	if p.status != 429 || p.problem(t).Code != approval.CodeRateLimited || p.header.Get("Retry-After") == "" {
		t.Fatalf("fourth request at once: %d %v %s", p.status, p.header, p.body)
	}
	b.json(200, "GET", "/v1/approvals", nil, nil) // another principal has its own bucket
	if got := testutil.ToFloat64(metrics.RateLimited.WithLabelValues("requests")); got != 1 {
		t.Fatalf("rate_limited_total{limit=requests} = %v", got)
	}

	// Failed authentications are limited per address and counted.
	bad := apiClient{t: t, base: f.url, key: "apd_guessing-0000000000000000000000000000"}
	// The fixture's clock stands still: no token comes back meanwhile.
	for i := range failedAuthBurst + 1 {
		p := bad.raw("GET", "/v1/approvals", nil)
		if want := map[bool]int{true: 429, false: 401}[i == failedAuthBurst]; p.status != want {
			t.Fatalf("failed authentication %d: %d, want %d", i+1, p.status, want)
		}
	}
	if got := testutil.ToFloat64(metrics.AuthFailures.WithLabelValues("api_key")); got != failedAuthBurst+1 {
		t.Fatalf("auth_failures_total{credential=api_key} = %v, want %d", got, failedAuthBurst+1)
	}
	f.clock.Advance(time.Second)
	if p := bad.raw("GET", "/v1/approvals", nil); p.status != 401 {
		t.Fatalf("a second later, the bucket has tokens again: %d", p.status)
	}
	p = f.admin.raw("GET", "/metrics", nil)
	if p.status != 200 || !strings.Contains(string(p.body), `approvald_auth_failures_total{credential="api_key"} 22`) {
		t.Fatalf("/metrics: %d %s", p.status, p.body)
	}
	if p := a.raw("GET", "/metrics", nil); p.status != 403 {
		t.Fatalf("/metrics for a reader: %d", p.status)
	}
}

func TestLimits_OpenStreamsPerPrincipal(t *testing.T) {
	t.Parallel()
	l := newLimiter(Limits{MaxStreams: 2}, time.Now)
	p := approval.Principal{ID: "svc:watcher"}
	r1, err1 := l.openStream(p)
	r2, err2 := l.openStream(p)
	_, err3 := l.openStream(p)
	if err1 != nil || err2 != nil || approval.CodeOf(err3) != approval.CodeRateLimited {
		t.Fatalf("streams: %v %v %v", err1, err2, err3)
	}
	r1()
	r1() // a second release must not free another slot
	if _, err := l.openStream(p); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := l.openStream(p); approval.CodeOf(err) != approval.CodeRateLimited {
		t.Fatalf("a double release freed two slots: %v", err)
	}
	r2()
	if _, err := l.openStream(approval.Principal{ID: "svc:other"}); err != nil {
		t.Fatalf("another principal: %v", err)
	}
}

func TestCORSAndSecurityHeaders(t *testing.T) {
	f := setup(t)
	res, err := http.Get(f.url + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for h, want := range map[string]string{"Content-Security-Policy": "default-src 'none'", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
		if got := res.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("/docs %s = %q", h, got)
		}
	}
	req, _ := http.NewRequest("OPTIONS", f.url+"/v1/approvals", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS is on without configured origins")
	}
}

func TestCORS_OnlyConfiguredOrigins(t *testing.T) {
	g := setupWith(t, func(d *Deps) { d.CORSOrigins = []string{"https://ui.example"} })
	for origin, allowed := range map[string]bool{"https://ui.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest("OPTIONS", g.url+"/v1/approvals", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("Access-Control-Allow-Origin")
		if allowed && (res.StatusCode != 204 || got != origin || !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization")) {
			t.Errorf("preflight from %s: %d %v", origin, res.StatusCode, res.Header)
		}
		if !allowed && got != "" {
			t.Errorf("preflight from %s allowed", origin)
		}
	}
}

func TestAudit_ReadsEverythingChangesNothing(t *testing.T) {
	f := setup(t)
	auditor := f.key("auditor", approval.ScopeAudit)
	r := f.key("ci", approval.ScopeCreate, approval.ScopeRead).createWith(map[string]any{})
	auditor.json(200, "GET", "/v1/approvals/"+r.ID+"/history", nil, nil)
	var keys struct{ Items []map[string]any }
	auditor.json(200, "GET", "/v1/api-keys", nil, &keys)
	for _, k := range keys.Items {
		if _, ok := k["key"]; ok {
			t.Fatalf("the key list shows a secret: %v", k)
		}
	}
	auditor.json(200, "GET", "/v1/service-rules", nil, nil)
	for _, call := range [][2]string{{"POST", "/v1/approvals"}, {"POST", "/v1/api-keys"}, {"POST", "/v1/approvals/" + r.ID + "/cancel"}, {"DELETE", "/v1/policies/x"}} {
		if p := auditor.raw(call[0], call[1], []byte(`{}`)); p.status != 403 {
			t.Errorf("auditor %s %s: %d", call[0], call[1], p.status)
		}
	}
}

// capture records every log line of a handler and every response it sends.
type capture struct {
	mu   sync.Mutex
	logs bytes.Buffer
	resp []string
}

func (c *capture) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.Write(b)
}

// TestSecrets_NeverInLogsOrResponses drives keys, tokens, service-rule
// secrets and failed logins through the API with debug logging, then greps
// every log line and every response — except the one response that hands
// out each secret — for every secret used, and finds none.
func TestSecrets_NeverInLogsOrResponses(t *testing.T) {
	is := newIssuer(t)
	c := &capture{}
	log := slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := setupWith(t, withTokens(t, is), func(d *Deps) { d.Logger = log })
	var secrets []string
	handout := map[string]bool{} // responses allowed to show a secret, by body

	var created struct {
		Key string `json:"key"`
	}
	r := f.admin.json(201, "POST", "/v1/api-keys", map[string]any{"name": "svc", "scopes": []string{"approvals:create", "approvals:read", "approvals:review"}}, &created)
	handout[string(r.body)] = true
	svc := apiClient{t: t, base: f.url, key: created.Key}
	secrets = append(secrets, created.Key, f.admin.key)

	var rule struct {
		Secret string `json:"secret"`
	}
	r = f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": "hooks", "url": "http://127.0.0.1:1/x"}, &rule)
	handout[string(r.body)] = true
	legacyKey := "legacy-receiver-key-do-not-leak-0123456789"
	f.admin.json(201, "POST", "/v1/service-rules", map[string]any{"name": "old", "url": "http://127.0.0.1:1/y", "format": "legacy", "api_key": legacyKey}, nil)
	secrets = append(secrets, rule.Secret, legacyKey)

	tok := is.token(t, "alice", []string{"ops"}, "approvals:create approvals:read", time.Hour)
	expired := is.token(t, "alice", nil, "approvals:read", -time.Hour)
	secrets = append(secrets, tok, expired)
	user := apiClient{t: t, base: f.url, key: tok}

	// Normal work, errors and failed logins.
	req := user.createWith(map[string]any{"service_rule": "hooks"})
	svc.review(req.ID, approval.DecisionApprove)
	svc.json(200, "GET", "/v1/approvals/"+req.ID+"/history", nil, nil)
	f.admin.json(200, "GET", "/v1/service-rules", nil, nil)
	f.admin.json(200, "GET", "/v1/api-keys", nil, nil)
	for _, bad := range []string{expired, created.Key + "x", "apd_" + strings.Repeat("z", 43)} {
		apiClient{t: t, base: f.url, key: bad}.raw("GET", "/v1/approvals", nil)
	}
	secrets = append(secrets, created.Key+"x")
	svc.raw("POST", "/v1/approvals", []byte(`{"title": "`+created.Key+`"`)) // malformed, echoing nothing

	all := f.responses()
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret proves nothing")
		}
		if strings.Contains(c.logs.String(), s) {
			t.Errorf("a log line holds the secret %s…", s[:8])
		}
		for _, body := range all {
			if !isHandout(handout, body) && strings.Contains(body, s) {
				t.Errorf("a response holds the secret %s…: %.200s", s[:8], body)
			}
		}
	}
	if !strings.Contains(c.logs.String(), "authentication failed") {
		t.Fatal("failed authentications were not logged")
	}
}

// isHandout reports whether a recorded response is one that hands out a secret.
func isHandout(handout map[string]bool, recorded string) bool {
	for body := range handout {
		if strings.Contains(recorded, body) {
			return true
		}
	}
	return false
}

// responses returns every response body and header the fixture's clients
// received so far.
func (f *fixture) responses() []string {
	responsesMu.Lock()
	defer responsesMu.Unlock()
	return slices.Clone(recorded[f.url])
}

var (
	responsesMu sync.Mutex
	recorded    = map[string][]string{}
)

// record keeps a response of the server at base for TestSecrets.
func record(base string, status int, header http.Header, body []byte) {
	responsesMu.Lock()
	defer responsesMu.Unlock()
	recorded[base] = append(recorded[base], fmt.Sprint(status, header, string(body)))
}

// FuzzBearer feeds arbitrary Authorization headers to the parser and to the
// whole API: the parser never panics and returns a trimmed, non-empty token
// only for the Bearer scheme; the API answers 401, never 5xx.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer ", "Bearer x", "bearer apd_abc", "Basic dXNlcjpwYXNz", "Bearer  a b ", "BEARER \t tok", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer \x00"} {
		f.Add(s)
	}
	h, _, _ := testAPI(f)
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/v1/approvals", nil)
		r.Header["Authorization"] = []string{header}
		tok, ok := bearer(r)
		if ok && (tok == "" || tok != strings.TrimSpace(tok) || !strings.EqualFold(header[:6], "bearer")) {
			t.Fatalf("bearer(%q) = %q", header, tok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 401 && w.Code != 429 {
			t.Fatalf("Authorization %q: %d %s", header, w.Code, w.Body)
		}
	})
}

func TestKeys_ExpiryRotationAndLastUse(t *testing.T) {
	f := setup(t)
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	expires := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	f.admin.json(201, "POST", "/v1/api-keys", map[string]any{"name": "ci", "scopes": []string{"approvals:read"}, "expires_at": expires}, &k)
	old := apiClient{t: t, base: f.url, key: k.Key}
	old.json(200, "GET", "/v1/approvals", nil, nil)

	var rotated struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	f.admin.json(200, "POST", "/v1/api-keys/"+k.ID+"/rotate", nil, &rotated)
	if rotated.ID != k.ID || rotated.Key == k.Key {
		t.Fatalf("rotate: %+v", rotated)
	}
	if p := old.raw("GET", "/v1/approvals", nil); p.status != 401 {
		t.Fatalf("the old secret after rotation: %d", p.status)
	}
	fresh := apiClient{t: t, base: f.url, key: rotated.Key}
	fresh.json(200, "GET", "/v1/approvals", nil, nil)

	f.clock.Advance(2 * time.Hour)
	if p := fresh.raw("GET", "/v1/approvals", nil); p.status != 401 || !strings.Contains(p.problem(t).Detail, "expired") {
		t.Fatalf("an expired key: %d %s", p.status, p.body)
	}
	if p := f.admin.raw("POST", "/v1/api-keys", mustJSON(map[string]any{"name": "x", "scopes": []string{"approvals:read"}, "expires_at": "2001-01-01T00:00:00Z"})); p.status != 422 {
		t.Fatalf("a key expiring in the past: %d", p.status)
	}
	f.admin.json(404, "POST", "/v1/api-keys/0190a5f0-0000-7000-8000-000000000009/rotate", nil, nil)
}
