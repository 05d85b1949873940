package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"approvald/approval"
	"approvald/internal/testkit"
)

const testAudience = "approvald"

// Test keys are generated once per test binary: RSA generation is slow.
var testRSAKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// signingKey is a private key with its key id and algorithm.
type signingKey struct {
	kid  string
	priv crypto.Signer
	alg  jose.SignatureAlgorithm
}

func rsaKey(i int, kid string) signingKey {
	return signingKey{kid: kid, priv: testRSAKeys()[i], alg: jose.RS256}
}

func (k signingKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// sign returns a compact JWT of claims signed with k.
func sign(t testing.TB, k signingKey, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return signWith(t, signer, claims)
}

// signHS256 returns a compact JWT of claims with an HS256 signature by secret.
func signHS256(t testing.TB, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return signWith(t, signer, claims)
}

func signWith(t testing.TB, signer jose.Signer, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned returns an "alg": "none" token of claims.
func unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// clock is a settable time source.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// claimsAt returns the claims of a valid token of issuer iss at now.
func claimsAt(iss string, now time.Time) map[string]any {
	return map[string]any{
		"iss": iss,
		"aud": testAudience,
		"sub": "alice",
		"iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
	}
}

// with returns a copy of m with the keys and values of kv set; a nil value
// deletes the key.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// issuer is an OpenID provider served by httptest, whose key set can be
// swapped.
type issuer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	keys     jose.JSONWebKeySet
	meta     map[string]any // extra or overriding discovery fields
	jwksHits atomic.Int32
	jwksDown atomic.Bool // the JWKS endpoint answers 503
}

func newIssuer(t testing.TB, keys ...signingKey) *issuer {
	t.Helper()
	is := &issuer{}
	is.setKeys(keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{
			"issuer":                                is.srv.URL,
			"jwks_uri":                              is.srv.URL + "/keys",
			"authorization_endpoint":                is.srv.URL + "/authorize",
			"token_endpoint":                        is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		}
		is.mu.Lock()
		for k, v := range is.meta {
			doc[k] = v
		}
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		if is.jwksDown.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.mu.Lock()
		b, err := json.Marshal(is.keys)
		is.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) URL() string { return is.srv.URL }

// setKeys makes the issuer serve the public keys of keys.
func (is *issuer) setKeys(keys ...signingKey) {
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	is.mu.Lock()
	is.keys = set
	is.mu.Unlock()
}

func (is *issuer) setMeta(k string, v any) {
	is.mu.Lock()
	if is.meta == nil {
		is.meta = map[string]any{}
	}
	is.meta[k] = v
	is.mu.Unlock()
}

func newVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// checkRefused fails t unless err is the unauthenticated error of a refused
// token, with message msg (when not empty), saying nothing of token.
func checkRefused(t testing.TB, err error, token, msg string) {
	t.Helper()
	if err == nil {
		t.Fatal("token accepted, want it refused")
	}
	var e *approval.Error
	if !errors.As(err, &e) || e.Kind != approval.KindUnauthenticated || e.Code != approval.CodeUnauthenticated {
		t.Fatalf("error %#v is not an unauthenticated *approval.Error", err)
	}
	if msg != "" && e.Message != msg {
		t.Errorf("message %q, want %q (reason: %s)", e.Message, msg, Reason(err))
	}
	r := Reason(err)
	if r == "" {
		t.Error("empty reason")
	}
	for _, s := range []string{err.Error(), e.Message, r} {
		if token != "" && strings.Contains(s, token) {
			t.Errorf("error text %q contains the token", s)
		}
		if parts := strings.Split(token, "."); len(parts) == 3 && len(parts[2]) >= 8 && strings.Contains(s, parts[2]) {
			t.Errorf("error text %q contains the token's signature", s)
		}
	}
}

func checkPrincipal(t testing.TB, got, want approval.Principal) {
	t.Helper()
	if got.ID != want.ID || !slices.Equal(got.Groups, want.Groups) || !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("principal %+v, want %+v", got, want)
	}
}

func TestDiscovery(t *testing.T) {
	clk := newClock()
	k1, other := rsaKey(0, "k1"), rsaKey(2, "k3")
	is := newIssuer(t, k1)
	v := newVerifier(t, Config{
		Issuer:   is.URL(),
		Audience: testAudience,
		GroupScopes: map[string][]string{
			"reviewers": {"approvals:review"},
			"admins":    {"admin"},
		},
		Now: clk.Now,
	})
	now := clk.Now()
	base := claimsAt(is.URL(), now)
	pubDER, err := x509.MarshalPKIXPublicKey(k1.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	tests := []struct {
		name  string
		token func(t testing.TB) string
		want  approval.Principal
		msg   string // "" for a valid token
	}{
		{"valid, groups and scopes mapped", func(t testing.TB) string {
			return sign(t, k1, with(base, "groups", []string{"eng", "reviewers", "eng"}, "scope", "approvals:read audit made:up"))
		}, approval.Principal{ID: "user:alice", Groups: []string{"eng", "reviewers"}, Scopes: []approval.Scope{"approvals:read", "approvals:review", "audit"}}, ""},
		{"groups as one string", func(t testing.TB) string {
			return sign(t, k1, with(base, "groups", "eng, admins ops"))
		}, approval.Principal{ID: "user:alice", Groups: []string{"eng", "admins", "ops"}, Scopes: []approval.Scope{"admin"}}, ""},
		{"scopes as an array, bad entries ignored", func(t testing.TB) string {
			return sign(t, k1, with(base, "scope", []any{"approvals:create", 7, "nope"}, "groups", []any{"eng", 1, "", "bad\x00group"}))
		}, approval.Principal{ID: "user:alice", Groups: []string{"eng"}, Scopes: []approval.Scope{"approvals:create"}}, ""},
		{"no groups, no scopes", func(t testing.TB) string {
			return sign(t, k1, base)
		}, approval.Principal{ID: "user:alice"}, ""},
		{"audience in an array", func(t testing.TB) string {
			return sign(t, k1, with(base, "aud", []string{"other", testAudience}))
		}, approval.Principal{ID: "user:alice"}, ""},
		{"expired within the leeway", func(t testing.TB) string {
			return sign(t, k1, with(base, "exp", now.Add(-30*time.Second).Unix()))
		}, approval.Principal{ID: "user:alice"}, ""},
		{"expired", func(t testing.TB) string {
			return sign(t, k1, with(base, "exp", now.Add(-2*time.Minute).Unix()))
		}, approval.Principal{}, msgExpired},
		{"no exp", func(t testing.TB) string {
			return sign(t, k1, with(base, "exp", nil))
		}, approval.Principal{}, msgInvalid},
		{"exp not a number", func(t testing.TB) string {
			return sign(t, k1, with(base, "exp", "tomorrow"))
		}, approval.Principal{}, msgInvalid},
		{"not yet valid", func(t testing.TB) string {
			return sign(t, k1, with(base, "nbf", now.Add(5*time.Minute).Unix()))
		}, approval.Principal{}, msgNotValid},
		{"issued in the future", func(t testing.TB) string {
			return sign(t, k1, with(base, "iat", now.Add(5*time.Minute).Unix()))
		}, approval.Principal{}, msgNotValid},
		{"wrong issuer", func(t testing.TB) string {
			return sign(t, k1, with(base, "iss", "https://evil.example"))
		}, approval.Principal{}, msgInvalid},
		{"wrong audience", func(t testing.TB) string {
			return sign(t, k1, with(base, "aud", "someone-else"))
		}, approval.Principal{}, msgInvalid},
		{"no audience", func(t testing.TB) string {
			return sign(t, k1, with(base, "aud", nil))
		}, approval.Principal{}, msgInvalid},
		{"alg none", func(t testing.TB) string {
			return unsigned(t, base)
		}, approval.Principal{}, msgInvalid},
		{"HS256 with the public key as secret", func(t testing.TB) string {
			return signHS256(t, pubPEM, "k1", base)
		}, approval.Principal{}, msgInvalid},
		{"HS256 with the DER public key as secret", func(t testing.TB) string {
			return signHS256(t, pubDER, "k1", base)
		}, approval.Principal{}, msgInvalid},
		{"unknown kid", func(t testing.TB) string {
			return sign(t, other, base)
		}, approval.Principal{}, msgInvalid},
		{"known kid, other key", func(t testing.TB) string {
			return sign(t, signingKey{kid: "k1", priv: other.priv, alg: jose.RS256}, base)
		}, approval.Principal{}, msgInvalid},
		{"no kid, other key", func(t testing.TB) string {
			return sign(t, signingKey{priv: other.priv, alg: jose.RS256}, base)
		}, approval.Principal{}, msgInvalid},
		{"no kid, right key", func(t testing.TB) string {
			return sign(t, signingKey{priv: k1.priv, alg: jose.RS256}, base)
		}, approval.Principal{ID: "user:alice"}, ""},
		{"payload swapped", func(t testing.TB) string {
			good := strings.Split(sign(t, k1, base), ".")
			evil := strings.Split(sign(t, other, with(base, "sub", "mallory")), ".")
			return good[0] + "." + evil[1] + "." + good[2]
		}, approval.Principal{}, msgInvalid},
		{"no sub", func(t testing.TB) string {
			return sign(t, k1, with(base, "sub", nil))
		}, approval.Principal{}, msgInvalid},
		{"sub not a string", func(t testing.TB) string {
			return sign(t, k1, with(base, "sub", 42))
		}, approval.Principal{}, msgInvalid},
		{"sub too long", func(t testing.TB) string {
			return sign(t, k1, with(base, "sub", strings.Repeat("a", 201)))
		}, approval.Principal{}, msgInvalid},
		{"sub of 200 characters", func(t testing.TB) string {
			return sign(t, k1, with(base, "sub", strings.Repeat("é", 200)))
		}, approval.Principal{ID: "user:" + strings.Repeat("é", 200)}, ""},
		{"sub with a control character", func(t testing.TB) string {
			return sign(t, k1, with(base, "sub", "alice\nadmin"))
		}, approval.Principal{}, msgInvalid},
		{"empty", func(testing.TB) string { return "" }, approval.Principal{}, msgInvalid},
		{"API key", func(testing.TB) string { return "apd_" + strings.Repeat("x", 43) }, approval.Principal{}, msgInvalid},
		{"junk", func(testing.TB) string { return "a.b.c" }, approval.Principal{}, msgInvalid},
		{"too long", func(t testing.TB) string {
			return sign(t, k1, with(base, "pad", strings.Repeat("x", MaxTokenLen)))
		}, approval.Principal{}, msgInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token(t)
			p, err := v.Verify(context.Background(), token)
			if tt.msg != "" {
				checkRefused(t, err, token, tt.msg)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v (reason: %s)", err, Reason(err))
			}
			checkPrincipal(t, p, tt.want)
		})
	}
}

func TestCustomClaims(t *testing.T) {
	clk := newClock()
	k1 := rsaKey(0, "k1")
	is := newIssuer(t, k1)
	v := newVerifier(t, Config{
		Issuer:         is.URL(),
		Audience:       testAudience,
		PrincipalClaim: "email",
		GroupsClaim:    "realm_access.roles",
		ScopesClaim:    "scp",
		ValidScopes:    []string{"approvals:read", "reports"},
		GroupScopes:    map[string][]string{"auditors": {"reports"}},
		Now:            clk.Now,
	})
	base := claimsAt(is.URL(), clk.Now())
	tests := []struct {
		name   string
		claims map[string]any
		want   approval.Principal
		ok     bool
	}{
		{"email principal, nested groups", with(base,
			"email", "alice@example.com",
			"realm_access", map[string]any{"roles": []string{"auditors"}},
			"scp", []string{"approvals:read", "admin"}),
			approval.Principal{ID: "user:alice@example.com", Groups: []string{"auditors"}, Scopes: []approval.Scope{"approvals:read", "reports"}}, true},
		{"email verified", with(base, "email", "alice@example.com", "email_verified", true),
			approval.Principal{ID: "user:alice@example.com"}, true},
		{"email not verified", with(base, "email", "alice@example.com", "email_verified", false), approval.Principal{}, false},
		{"no email", base, approval.Principal{}, false},
		{"exact claim name wins over the path", with(base,
			"email", "alice@example.com",
			"realm_access.roles", "auditors",
			"realm_access", map[string]any{"roles": []string{"other"}}),
			approval.Principal{ID: "user:alice@example.com", Groups: []string{"auditors"}, Scopes: []approval.Scope{"reports"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := sign(t, k1, tt.claims)
			p, err := v.Verify(context.Background(), token)
			if !tt.ok {
				checkRefused(t, err, token, msgInvalid)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v (reason: %s)", err, Reason(err))
			}
			checkPrincipal(t, p, tt.want)
		})
	}
}

func TestKeyRotation(t *testing.T) {
	clk := newClock()
	k1, k2, k3 := rsaKey(0, "k1"), rsaKey(1, "k2"), rsaKey(2, "k3")
	is := newIssuer(t, k1)
	v := newVerifier(t, Config{Issuer: is.URL(), Audience: testAudience, Now: clk.Now})
	ctx := context.Background()
	verify := func(k signingKey) error {
		_, err := v.Verify(ctx, sign(t, k, claimsAt(is.URL(), clk.Now())))
		return err
	}
	// verifySoon verifies a token of a key the verifier has not seen yet.
	// go-oidc's RemoteKeySet lets a refetch that starts just after another
	// ended share that one's result until its goroutine has cleaned up, so
	// the first try may see the old key set; the next one fetches.
	verifySoon := func(k signingKey) error {
		var err error
		for range 100 {
			if err = verify(k); err == nil {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
		return err
	}
	if err := verify(k1); err != nil {
		t.Fatalf("k1 before rotation: %v (%s)", err, Reason(err))
	}
	if hits := is.jwksHits.Load(); hits != 1 {
		t.Fatalf("%d JWKS fetches after New and a first token, want 1 (New's, reused)", hits)
	}

	// Unknown key ids make go-oidc refetch, but the guard answers from its
	// cache within the refresh interval: no amplification.
	for range 5 {
		checkRefused(t, verify(k3), "", msgInvalid)
	}
	if hits := is.jwksHits.Load(); hits != 1 {
		t.Fatalf("%d JWKS fetches after 5 unknown kids within the interval, want 1", hits)
	}

	// The provider rotates: k2 replaces k1.
	is.setKeys(k2)
	clk.Advance(DefaultKeyRefreshInterval + time.Second)
	if err := verifySoon(k2); err != nil {
		t.Fatalf("k2 after rotation: %v (%s)", err, Reason(err))
	}
	if hits := is.jwksHits.Load(); hits != 2 {
		t.Fatalf("%d JWKS fetches after rotation, want 2", hits)
	}
	// go-oidc answers the fetch's waiters before its goroutine replaces the
	// cached keys, so k1 may pass for a moment after k2 first verified; it
	// must be refused once the cache holds the new set.
	var err error
	for range 100 {
		if err = verify(k1); err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	checkRefused(t, err, "", msgInvalid)
	if err := verify(k2); err != nil {
		t.Fatalf("k2 again: %v (%s)", err, Reason(err))
	}

	// Within an interval of the last fetch, a new key is not seen yet; after
	// it, it is.
	is.setKeys(k2, k3)
	for range 3 {
		checkRefused(t, verify(k3), "", msgInvalid)
	}
	if hits := is.jwksHits.Load(); hits != 2 {
		t.Fatalf("%d JWKS fetches within the interval, want 2", hits)
	}
	clk.Advance(DefaultKeyRefreshInterval)
	if err := verifySoon(k3); err != nil {
		t.Fatalf("k3 after the interval: %v (%s)", err, Reason(err))
	}
	if hits := is.jwksHits.Load(); hits != 3 {
		t.Fatalf("%d JWKS fetches after the interval, want 3", hits)
	}
}

func TestKeyWithdrawnAndOutage(t *testing.T) {
	clk := newClock()
	k1, k2 := rsaKey(0, "k1"), rsaKey(1, "k2")
	is := newIssuer(t, k1, k2)
	v := newVerifier(t, Config{Issuer: is.URL(), Audience: testAudience, Now: clk.Now})
	verify := func(k signingKey) error {
		_, err := v.Verify(context.Background(), sign(t, k, claimsAt(is.URL(), clk.Now())))
		return err
	}
	for _, k := range []signingKey{k1, k2} {
		if err := verify(k); err != nil {
			t.Fatalf("%s: %v (%s)", k.kid, err, Reason(err))
		}
	}

	// The provider withdraws k1. Tokens with k1 still verify while the
	// cached key set is young, and are refused once it has been renewed.
	is.setKeys(k2)
	clk.Advance(30 * time.Minute)
	if err := verify(k1); err != nil {
		t.Fatalf("k1 with a young key set: %v (%s)", err, Reason(err))
	}
	clk.Advance(30 * time.Minute)
	checkRefused(t, verify(k1), "", msgInvalid)
	if err := verify(k2); err != nil {
		t.Fatalf("k2 after renewal: %v (%s)", err, Reason(err))
	}

	// The provider's JWKS endpoint goes down: known keys keep working, also
	// across a renewal of the key set.
	is.jwksDown.Store(true)
	hits := is.jwksHits.Load()
	clk.Advance(keySetMaxAge + time.Second)
	if err := verify(k2); err != nil {
		t.Fatalf("k2 during an outage: %v (%s)", err, Reason(err))
	}
	if is.jwksHits.Load() == hits {
		t.Fatal("the key set was not fetched again after an hour")
	}
	checkRefused(t, verify(k1), "", msgInvalid)

	t.Run("JWKS down at start", func(t *testing.T) {
		down := newIssuer(t, k1)
		down.jwksDown.Store(true)
		_, err := New(context.Background(), Config{Issuer: down.URL(), Audience: testAudience})
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("New = %v, want the key set fetch failure", err)
		}
	})
}

func TestConcurrentVerify(t *testing.T) {
	clk := newClock()
	k1, k2 := rsaKey(0, "k1"), rsaKey(1, "k2")
	is := newIssuer(t, k1, k2)
	v := newVerifier(t, Config{Issuer: is.URL(), Audience: testAudience, KeyRefreshInterval: time.Millisecond, Now: clk.Now})
	good := sign(t, k1, claimsAt(is.URL(), clk.Now()))
	bad := sign(t, rsaKey(2, "k3"), claimsAt(is.URL(), clk.Now()))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				if i%2 == 0 {
					if _, err := v.Verify(context.Background(), good); err != nil {
						t.Errorf("good token: %v", err)
					}
				} else {
					if _, err := v.Verify(context.Background(), bad); err == nil {
						t.Error("bad token accepted")
					}
				}
				if j%5 == 0 {
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"nothing configured", Config{Audience: testAudience}, "set an issuer"},
		{"plain http issuer", Config{Issuer: "http://idp.example.com", Audience: testAudience}, "plain http"},
		{"plain http private address", Config{Issuer: "http://10.1.2.3/realms/x", Audience: testAudience}, "plain http"},
		{"other scheme", Config{Issuer: "ftp://idp.example.com", Audience: testAudience}, "scheme"},
		{"no host", Config{Issuer: "https:///x", Audience: testAudience}, "no host"},
		{"no audience", Config{Issuer: "https://idp.example.com"}, "audience"},
		{"both key files", Config{PublicKeyFile: "a.pem", HS256SecretFile: secret, Audience: testAudience}, "not both"},
		{"missing secret file", Config{HS256SecretFile: filepath.Join(dir, "nope"), Audience: testAudience}, "no such file"},
		{"missing key file", Config{PublicKeyFile: filepath.Join(dir, "nope"), Audience: testAudience}, "no such file"},
		{"unknown group scope", Config{HS256SecretFile: secret, Audience: testAudience, GroupScopes: map[string][]string{"g": {"root"}}}, "unknown scope"},
		{"bad valid scope", Config{HS256SecretFile: secret, Audience: testAudience, ValidScopes: []string{"a b"}}, "invalid scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want an error containing %q", v, err, tt.want)
			}
		})
	}
}

func TestNewDiscoveryFailures(t *testing.T) {
	k1 := rsaKey(0, "k1")
	t.Run("issuer hangs", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := New(ctx, Config{Issuer: srv.URL, Audience: testAudience}); err == nil {
			t.Fatal("New succeeded against a hanging issuer")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("New took %s despite its context's deadline", d)
		}
	})
	t.Run("issuer unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		if _, err := New(context.Background(), Config{Issuer: url, Audience: testAudience}); err == nil {
			t.Fatal("New succeeded against a closed port")
		}
	})
	t.Run("no discovery document", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		if _, err := New(context.Background(), Config{Issuer: srv.URL, Audience: testAudience}); err == nil {
			t.Fatal("New succeeded without a discovery document")
		}
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		is := newIssuer(t, k1)
		is.setMeta("issuer", "https://other.example")
		_, err := New(context.Background(), Config{Issuer: is.URL(), Audience: testAudience})
		if err == nil || !strings.Contains(err.Error(), "did not match") {
			t.Fatalf("New = %v, want an issuer mismatch", err)
		}
	})
	t.Run("plain http jwks_uri", func(t *testing.T) {
		is := newIssuer(t, k1)
		is.setMeta("jwks_uri", "http://keys.example.com/jwks")
		_, err := New(context.Background(), Config{Issuer: is.URL(), Audience: testAudience})
		if err == nil || !strings.Contains(err.Error(), "plain http") {
			t.Fatalf("New = %v, want plain http refused", err)
		}
		if hits := is.jwksHits.Load(); hits != 0 {
			t.Fatalf("%d JWKS fetches", hits)
		}
	})
	t.Run("redirect to plain http", func(t *testing.T) {
		is := newIssuer(t, k1)
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://keys.example.com/jwks", http.StatusFound)
		}))
		defer redirect.Close()
		is.setMeta("jwks_uri", redirect.URL+"/keys")
		_, err := New(context.Background(), Config{Issuer: is.URL(), Audience: testAudience})
		if err == nil || !strings.Contains(err.Error(), "plain http") {
			t.Fatalf("New = %v, want the redirect refused", err)
		}
	})
	t.Run("empty key set", func(t *testing.T) {
		is := newIssuer(t)
		if _, err := New(context.Background(), Config{Issuer: is.URL(), Audience: testAudience}); err == nil || !strings.Contains(err.Error(), "no keys") {
			t.Fatalf("New = %v, want an empty key set refused", err)
		}
	})
	t.Run("custom client kept", func(t *testing.T) {
		is := newIssuer(t, k1)
		var used atomic.Bool
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			used.Store(true)
			return http.DefaultTransport.RoundTrip(r)
		})}
		newVerifier(t, Config{Issuer: is.URL(), Audience: testAudience, HTTPClient: client})
		if !used.Load() {
			t.Fatal("the configured HTTP client was not used")
		}
		if client.Timeout != 0 {
			t.Fatal("the configured HTTP client was changed")
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// writePEM writes the public key of k to a PEM file and returns its path.
func writePEM(t testing.TB, pub crypto.PublicKey, blockType string) string {
	t.Helper()
	var der []byte
	var err error
	if blockType == "RSA PUBLIC KEY" {
		der = x509.MarshalPKCS1PublicKey(pub.(*rsa.PublicKey))
	} else {
		der, err = x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStaticPublicKey(t *testing.T) {
	clk := newClock()
	const iss = "https://idp.example.com"
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1, rsa2 := rsaKey(0, ""), rsaKey(1, "")
	ec := signingKey{priv: ecKey, alg: jose.ES256}
	ed := signingKey{priv: edKey, alg: jose.EdDSA}
	base := claimsAt(iss, clk.Now())

	tests := []struct {
		name      string
		key       signingKey
		blockType string
		issuer    string
		token     func(t testing.TB) string
		msg       string
	}{
		{"RSA", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string { return sign(t, rsa1, base) }, ""},
		{"RSA PKCS1 PS256", rsa1, "RSA PUBLIC KEY", iss, func(t testing.TB) string {
			return sign(t, signingKey{priv: rsa1.priv, alg: jose.PS256}, base)
		}, ""},
		{"RSA512", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string {
			return sign(t, signingKey{priv: rsa1.priv, alg: jose.RS512}, base)
		}, ""},
		{"ECDSA", ec, "PUBLIC KEY", iss, func(t testing.TB) string { return sign(t, ec, base) }, ""},
		{"Ed25519", ed, "PUBLIC KEY", iss, func(t testing.TB) string { return sign(t, ed, base) }, ""},
		{"no issuer configured: iss not checked", rsa1, "PUBLIC KEY", "", func(t testing.TB) string {
			return sign(t, rsa1, with(base, "iss", "https://anyone.example"))
		}, ""},
		{"wrong key", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string { return sign(t, rsa2, base) }, msgInvalid},
		{"ES256 token, RSA key", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string { return sign(t, ec, base) }, msgInvalid},
		{"wrong issuer", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string {
			return sign(t, rsa1, with(base, "iss", "https://evil.example"))
		}, msgInvalid},
		{"wrong audience", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string {
			return sign(t, rsa1, with(base, "aud", "x"))
		}, msgInvalid},
		{"expired", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string {
			return sign(t, rsa1, with(base, "exp", clk.Now().Add(-time.Hour).Unix()))
		}, msgExpired},
		{"not yet valid", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string {
			return sign(t, rsa1, with(base, "nbf", clk.Now().Add(time.Hour).Unix()))
		}, msgNotValid},
		{"alg none", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string { return unsigned(t, base) }, msgInvalid},
		{"HS256 with the public key as secret", rsa1, "PUBLIC KEY", iss, func(t testing.TB) string {
			der, _ := x509.MarshalPKIXPublicKey(rsa1.priv.Public())
			return signHS256(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), "", base)
		}, msgInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, Config{
				Issuer:        tt.issuer,
				Audience:      testAudience,
				PublicKeyFile: writePEM(t, tt.key.priv.Public(), tt.blockType),
				Now:           clk.Now,
			})
			token := tt.token(t)
			p, err := v.Verify(context.Background(), token)
			if tt.msg != "" {
				checkRefused(t, err, token, tt.msg)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v (reason: %s)", err, Reason(err))
			}
			checkPrincipal(t, p, approval.Principal{ID: "user:alice"})
		})
	}
}

func TestStaticPublicKeyFileRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(testRSAKeys()[0])
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521DER, _ := x509.MarshalPKIXPublicKey(&p521.PublicKey)
	tests := map[string]struct {
		path, want string
	}{
		"private key":   {write("priv.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), "private key"},
		"small RSA key": {write("small.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}), "1024 bits"},
		"P-521":         {write("p521.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: p521DER}), "P-521"},
		"no PEM":        {write("empty.pem"), "no PEM public key"},
		"garbage block": {write("junk.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), "PUBLIC KEY block"},
		"other block":   {write("csr.pem", &pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("x")}), "unsupported"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), Config{PublicKeyFile: tt.path, Audience: testAudience})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestHS256(t *testing.T) {
	clk := newClock()
	const iss = "https://idp.example.com"
	dir := t.TempDir()
	secret := []byte("0123456789abcdef0123456789abcdef-and-more")
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, append(append([]byte("  "), secret...), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, Config{Issuer: iss, Audience: testAudience, HS256SecretFile: path, Now: clk.Now})
	base := with(claimsAt(iss, clk.Now()), "scope", "approvals:create")

	tests := []struct {
		name  string
		token func(t testing.TB) string
		msg   string
	}{
		{"valid", func(t testing.TB) string { return signHS256(t, secret, "", base) }, ""},
		{"audience in an array", func(t testing.TB) string {
			return signHS256(t, secret, "", with(base, "aud", []string{"x", testAudience}))
		}, ""},
		{"fractional times", func(t testing.TB) string {
			return signHS256(t, secret, "", with(base, "exp", float64(clk.Now().Unix())+600.5))
		}, ""},
		{"wrong secret", func(t testing.TB) string {
			return signHS256(t, []byte("another secret of at least thirty-two bytes"), "", base)
		}, msgInvalid},
		{"wrong issuer", func(t testing.TB) string { return signHS256(t, secret, "", with(base, "iss", "https://x")) }, msgInvalid},
		{"no issuer", func(t testing.TB) string { return signHS256(t, secret, "", with(base, "iss", nil)) }, msgInvalid},
		{"wrong audience", func(t testing.TB) string { return signHS256(t, secret, "", with(base, "aud", "x")) }, msgInvalid},
		{"bad audience type", func(t testing.TB) string { return signHS256(t, secret, "", with(base, "aud", 3)) }, msgInvalid},
		{"expired", func(t testing.TB) string {
			return signHS256(t, secret, "", with(base, "exp", clk.Now().Add(-time.Hour).Unix()))
		}, msgExpired},
		{"not yet valid", func(t testing.TB) string {
			return signHS256(t, secret, "", with(base, "nbf", clk.Now().Add(time.Hour).Unix()))
		}, msgNotValid},
		{"no exp", func(t testing.TB) string { return signHS256(t, secret, "", with(base, "exp", nil)) }, msgInvalid},
		{"alg none", func(t testing.TB) string { return unsigned(t, base) }, msgInvalid},
		{"RS256", func(t testing.TB) string { return sign(t, rsaKey(0, "k1"), base) }, msgInvalid},
		{"HS384", func(t testing.TB) string {
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS384, Key: append(secret, secret...)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return signWith(t, signer, base)
		}, msgInvalid},
		{"payload not an object", func(t testing.TB) string {
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, nil)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := signer.Sign([]byte(`["x"]`))
			if err != nil {
				t.Fatal(err)
			}
			s, _ := jws.CompactSerialize()
			return s
		}, msgInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token(t)
			p, err := v.Verify(context.Background(), token)
			if tt.msg != "" {
				checkRefused(t, err, token, tt.msg)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v (reason: %s)", err, Reason(err))
			}
			checkPrincipal(t, p, approval.Principal{ID: "user:alice", Scopes: []approval.Scope{"approvals:create"}})
		})
	}

	t.Run("secret too short", func(t *testing.T) {
		short := filepath.Join(dir, "short")
		if err := os.WriteFile(short, []byte(strings.Repeat("s", 31)+"\n\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(context.Background(), Config{Audience: testAudience, HS256SecretFile: short})
		if err == nil || !strings.Contains(err.Error(), "at least 32") {
			t.Fatalf("New = %v, want a short secret refused", err)
		}
	})
}

func TestReason(t *testing.T) {
	if Reason(nil) != "" {
		t.Error("Reason(nil) is not empty")
	}
	if got := Reason(errors.New("plain")); got != "plain" {
		t.Errorf("Reason(plain) = %q", got)
	}
	token := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
	err := refuse(msgInvalid, token, "saw %s and %s\x00 %s", token, "c2lnbmF0dXJlc2lnbmF0dXJl", strings.Repeat("x", 1000))
	r := Reason(err)
	if strings.Contains(r, token) || strings.Contains(r, "c2lnbmF0dXJlc2lnbmF0dXJl") || strings.ContainsRune(r, 0) || len(r) > maxReasonLen+len("…") {
		t.Errorf("reason not redacted and clipped: %q", r)
	}
	if approval.KindOf(err) != approval.KindUnauthenticated || approval.CodeOf(err) != approval.CodeUnauthenticated {
		t.Errorf("refuse gave %v", err)
	}
}

func TestLooksLikeJWT(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	real := sign(t, rsaKey(0, "k1"), map[string]any{"sub": "x"})
	tests := []struct {
		in   string
		want bool
	}{
		{real, true},
		{unsigned(t, map[string]any{"sub": "x"}), true},
		{enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{}`)) + ".c2ln", true},
		{"", false},
		{"apd_" + strings.Repeat("A", 43), false},
		{"apd_" + real, false},
		{"not a token", false},
		{"a.b.c", false},
		{"...", false},
		{real + ".x", false},
		{strings.Replace(real, ".", "..", 1), false},
		{enc([]byte(`{"typ":"JWT"}`)) + "." + enc([]byte(`{}`)) + ".c2ln", false},
		{enc([]byte(`{"alg":7}`)) + "." + enc([]byte(`{}`)) + ".c2ln", false},
		{enc([]byte(`{"alg":""}`)) + "." + enc([]byte(`{}`)) + ".c2ln", false},
		{enc([]byte(`["alg"]`)) + "." + enc([]byte(`{}`)) + ".c2ln", false},
		{enc([]byte(`{"alg":"HS256"}`)) + "." + ".c2ln", false},
		{enc([]byte(`{"alg":"HS256","kid":"a"}`)) + "." + enc([]byte(`{}`)) + ".c2ln", true},
		{base64.URLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"a"}`)) + "." + enc([]byte(`{}`)) + ".c2ln", false},
		{base64.StdEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"??>"}`)) + "." + enc([]byte(`{}`)) + ".c2ln", false},
		{"Bearer " + real, false},
		{real + "\n", false},
	}
	for _, tt := range tests {
		if got := LooksLikeJWT(tt.in); got != tt.want {
			t.Errorf("LooksLikeJWT(%.60q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
