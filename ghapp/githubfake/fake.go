// Package githubfake is a fake of the GitHub REST API endpoints approvald's
// GitHub App uses, for tests: creating an installation access token (POST
// /app/installations/{installation_id}/access_tokens, authenticated with
// the App's RS256 JWT) and reviewing a run's custom deployment protection
// rule (POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule,
// authenticated with an installation token), answering as GitHub's
// documentation says. It records what it was sent, can be made to fail
// (5xx, rate limits, down), and builds and signs the webhook deliveries
// GitHub would send: deployment_protection_rule events and pings,
// complete, which its tests check against GitHub's published webhook
// schemas (@octokit/webhooks-schemas, pinned in .ci/tools).
package githubfake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTokenTTL is the lifetime of the installation tokens the fake
// issues, GitHub's: one hour.
const DefaultTokenTTL = time.Hour

// Fake is a fake GitHub API on a loopback httptest server. Its methods are
// safe for concurrent use.
type Fake struct {
	// URL is the API's base URL (no trailing slash): the App's APIURL.
	URL string
	// AppID is the App's id, which JWTs must name as their issuer.
	AppID int64
	// PrivateKeyPEM is the App's private key (PKCS #1 PEM); the fake
	// verifies JWTs with its public half.
	PrivateKeyPEM []byte
	// WebhookSecret is the App's webhook secret, which the deliveries the
	// fake builds are signed with.
	WebhookSecret []byte

	srv *httptest.Server
	key *rsa.PrivateKey

	mu            sync.Mutex
	now           func() time.Time
	ttl           time.Duration
	installations map[int64]bool
	tokens        map[string]issued
	runs          map[runKey]*runState
	failures      []failure
	down          bool
	exchanges     []Exchange
	callbacks     []Callback
	refusals      []Refusal
}

// Run is a workflow run waiting on an environment's protection rule.
type Run struct {
	Owner, Repo string
	// OwnerType is the type of the repository's owner: OwnerOrganization
	// (the default; the event names the organization too) or OwnerUser (a
	// personal repository; no organization in the event).
	OwnerType    string
	ID           int64
	Environment  string
	Installation int64
	// What the webhook event tells of it.
	Ref, SHA     string
	Event        string // the event that triggered the run (default push)
	Sender       string // the login of the user who triggered it (default octocat)
	DeploymentID int64  // GitHub's deployment of the job (when 0, one derived from the run)
	PullRequests []int
}

// Exchange is one installation token the fake issued.
type Exchange struct {
	Installation int64
	Token        string
	ExpiresAt    time.Time
	At           time.Time
}

// Callback is one review of a protection rule the fake accepted.
type Callback struct {
	Owner, Repo  string
	RunID        int64
	Environment  string
	State        string // approved or rejected
	Comment      string
	Token        string // the installation token it came with
	Installation int64  // the installation of that token
	At           time.Time
}

// Refusal is a call the fake refused (status) and why, for tests that
// check what was tried.
type Refusal struct {
	Path   string
	Status int
	Why    string
}

type issued struct {
	installation int64
	expires      time.Time
}

type runKey struct {
	repo string // owner/repo, lower case
	id   int64
}

type runState struct {
	run Run
	// waiting maps the environments still waiting for the rule's review
	// (lower case) to the run's installation.
	waiting map[string]bool
	// reviewed environments (lower case).
	reviewed map[string]bool
}

type failure struct {
	status int
	header http.Header
	body   string
}

// New starts a fake GitHub API for an App of id appID, with a fresh RSA key
// and webhook secret; it stops when t ends.
func New(t testing.TB, appID int64) *Fake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 20)
	_, _ = rand.Read(secret)
	f := &Fake{
		AppID:         appID,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		WebhookSecret: []byte(hex.EncodeToString(secret)),
		key:           key,
		now:           time.Now,
		ttl:           DefaultTokenTTL,
		installations: map[int64]bool{},
		tokens:        map[string]issued{},
		runs:          map[runKey]*runState{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /app/installations/{installation_id}/access_tokens", f.createToken)
	mux.HandleFunc("POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule", f.review)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.refuse(w, r, http.StatusNotFound, "Not Found", "no such endpoint")
	})
	f.srv = httptest.NewServer(f.gate(mux))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Close stops the fake (New's cleanup does too).
func (f *Fake) Close() { f.srv.Close() }

// SetNow sets the fake's clock (JWT checks, token expiry); default time.Now.
func (f *Fake) SetNow(now func() time.Time) { f.mu.Lock(); f.now = now; f.mu.Unlock() }

// SetTokenTTL sets the lifetime of the tokens issued from now on.
func (f *Fake) SetTokenTTL(d time.Duration) { f.mu.Lock(); f.ttl = d; f.mu.Unlock() }

// AddInstallation installs the App: tokens of installation id may be had.
func (f *Fake) AddInstallation(id int64) { f.mu.Lock(); f.installations[id] = true; f.mu.Unlock() }

// RemoveInstallation uninstalls the App: its token exchange answers 404
// and its tokens answer 401.
func (f *Fake) RemoveInstallation(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.installations, id)
	for tok, is := range f.tokens {
		if is.installation == id {
			delete(f.tokens, tok)
		}
	}
}

// AddRun makes run wait on its environment's protection rule (installing
// its installation).
func (f *Fake) AddRun(run Run) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.installations[run.Installation] = true
	k := runKey{strings.ToLower(run.Owner + "/" + run.Repo), run.ID}
	st := f.runs[k]
	if st == nil {
		st = &runState{run: run, waiting: map[string]bool{}, reviewed: map[string]bool{}}
		f.runs[k] = st
	}
	st.waiting[strings.ToLower(run.Environment)] = true
}

// ExpireTokens makes every token issued so far expired: GitHub answers
// 401 to them, while the App may still think them good.
func (f *Fake) ExpireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok, is := range f.tokens {
		is.expires = f.now().Add(-time.Second)
		f.tokens[tok] = is
	}
}

// FailNext makes the next n calls (to either endpoint) answer status with
// a GitHub error body, before anything else is checked.
func (f *Fake) FailNext(n, status int) {
	f.inject(n, failure{status: status, body: fmt.Sprintf(`{"message":"%s"}`, http.StatusText(status))})
}

// RateLimitNext makes the next n calls answer GitHub's primary rate
// limit: 403 with x-ratelimit-remaining 0 and x-ratelimit-reset at reset.
func (f *Fake) RateLimitNext(n int, reset time.Time) {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Used", "5000")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	f.inject(n, failure{status: http.StatusForbidden, header: h,
		body: `{"message":"API rate limit exceeded for installation.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`})
}

// TooManyRequestsNext makes the next n calls answer 429 with Retry-After
// (whole seconds).
func (f *Fake) TooManyRequestsNext(n int, retryAfter time.Duration) {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	f.inject(n, failure{status: http.StatusTooManyRequests, header: h, body: `{"message":"Too Many Requests"}`})
}

func (f *Fake) inject(n int, fl failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, fl)
	}
}

// SetDown makes the fake drop every connection without an answer (true)
// or answer again (false).
func (f *Fake) SetDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

// Exchanges returns the installation tokens issued so far.
func (f *Fake) Exchanges() []Exchange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Exchange(nil), f.exchanges...)
}

// Callbacks returns the reviews accepted so far.
func (f *Fake) Callbacks() []Callback {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Callback(nil), f.callbacks...)
}

// Refusals returns the calls refused so far (injected failures included).
func (f *Fake) Refusals() []Refusal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Refusal(nil), f.refusals...)
}

// gate applies SetDown and the injected failures before the endpoints.
func (f *Fake) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		down := f.down
		var fl *failure
		if !down && len(f.failures) > 0 {
			fl = &f.failures[0]
			f.failures = f.failures[1:]
		}
		f.mu.Unlock()
		if down {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		if fl != nil {
			for k, v := range fl.header {
				w.Header()[k] = v
			}
			f.refuse(w, r, fl.status, "", "injected failure")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers status with GitHub's error shape ({"message",
// "documentation_url"}) and records it; a message "" leaves the body to
// the injected failure's text.
func (f *Fake) refuse(w http.ResponseWriter, r *http.Request, status int, message, why string) {
	f.mu.Lock()
	f.refusals = append(f.refusals, Refusal{Path: r.URL.Path, Status: status, Why: why})
	f.mu.Unlock()
	body := map[string]any{"message": message, "documentation_url": "https://docs.github.com/rest"}
	if message == "" {
		body["message"] = http.StatusText(status)
		if status == http.StatusForbidden && w.Header().Get("X-RateLimit-Remaining") == "0" {
			body["message"] = "API rate limit exceeded for installation."
		}
	}
	if status == http.StatusUnprocessableEntity {
		body["status"] = "422"
	}
	writeJSON(w, status, body)
}

// createToken is POST /app/installations/{installation_id}/access_tokens:
// the App's JWT (Authorization: Bearer) is checked — RS256 under the App's
// key, iss the App id, iat not in the future, exp in the future and at
// most 10 minutes ahead —, then an unknown installation is 404, and a
// known one gets a new token (201 {"token","expires_at",…}).
func (f *Fake) createToken(w http.ResponseWriter, r *http.Request) {
	if why := f.checkJWT(r.Header.Get("Authorization")); why != "" {
		f.refuse(w, r, http.StatusUnauthorized, "A JSON web token could not be decoded", why)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("installation_id"), 10, 64)
	f.mu.Lock()
	known := err == nil && f.installations[id]
	f.mu.Unlock()
	if !known {
		f.refuse(w, r, http.StatusNotFound, "Not Found", "no such installation")
		return
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	token := "ghs_" + hex.EncodeToString(b)
	f.mu.Lock()
	now := f.now()
	expires := now.Add(f.ttl).UTC().Truncate(time.Second)
	f.tokens[token] = issued{installation: id, expires: expires}
	f.exchanges = append(f.exchanges, Exchange{Installation: id, Token: token, ExpiresAt: expires, At: now})
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":                token,
		"expires_at":           expires.Format(time.RFC3339),
		"permissions":          map[string]string{"actions": "read", "deployments": "write"},
		"repository_selection": "all",
	})
}

// checkJWT returns why the Authorization header auth does not carry a
// valid App JWT ("" when it does).
func (f *Fake) checkJWT(auth string) string {
	raw, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return "no Bearer JWT"
	}
	f.mu.Lock()
	now := f.now
	f.mu.Unlock()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &f.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(now))
	if err != nil {
		return "JWT: " + err.Error()
	}
	switch iss := claims["iss"].(type) {
	case string:
		if iss != strconv.FormatInt(f.AppID, 10) {
			return "JWT: iss is not the App id"
		}
	case float64:
		if int64(iss) != f.AppID {
			return "JWT: iss is not the App id"
		}
	default:
		return "JWT: no iss"
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil || exp.After(now().Add(10*time.Minute+30*time.Second)) {
		return "JWT: exp is more than 10 minutes ahead"
	}
	return ""
}

// review is POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule:
// an unknown or expired installation token is 401 (Bad credentials), an
// unknown run (or one of another installation) 404, a body that is not
// JSON 400, a state other than approved or rejected or a missing
// environment_name 422, an environment not waiting (or already reviewed)
// 422; else 204, and the review is recorded.
func (f *Fake) review(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(auth, "token ")
	}
	f.mu.Lock()
	is, known := f.tokens[token]
	now := f.now()
	f.mu.Unlock()
	switch {
	case !ok || !known:
		f.refuse(w, r, http.StatusUnauthorized, "Bad credentials", "unknown token")
		return
	case !now.Before(is.expires):
		f.refuse(w, r, http.StatusUnauthorized, "Bad credentials", "expired token")
		return
	}
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	runID, err := strconv.ParseInt(r.PathValue("run_id"), 10, 64)
	f.mu.Lock()
	st := f.runs[runKey{strings.ToLower(owner + "/" + repo), runID}]
	f.mu.Unlock()
	if err != nil || st == nil || st.run.Installation != is.installation {
		f.refuse(w, r, http.StatusNotFound, "Not Found", "no such run for this installation")
		return
	}
	var body struct {
		EnvironmentName *string `json:"environment_name"`
		State           *string `json:"state"`
		Comment         *string `json:"comment"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		f.refuse(w, r, http.StatusBadRequest, "Problems parsing JSON", "body is not JSON")
		return
	}
	if body.EnvironmentName == nil || *body.EnvironmentName == "" || body.State == nil || (*body.State != "approved" && *body.State != "rejected") {
		f.refuse(w, r, http.StatusUnprocessableEntity, "Validation Failed", "environment_name and state (approved or rejected) are required")
		return
	}
	env := strings.ToLower(*body.EnvironmentName)
	f.mu.Lock()
	switch {
	case st.reviewed[env]:
		f.mu.Unlock()
		f.refuse(w, r, http.StatusUnprocessableEntity, "No pending custom deployment protection rule for this environment", "already reviewed")
		return
	case !st.waiting[env]:
		f.mu.Unlock()
		f.refuse(w, r, http.StatusUnprocessableEntity, "No pending custom deployment protection rule for this environment", "environment not waiting")
		return
	}
	st.reviewed[env] = true
	delete(st.waiting, env)
	cb := Callback{Owner: owner, Repo: repo, RunID: runID, Environment: *body.EnvironmentName, State: *body.State,
		Token: token, Installation: is.installation, At: now}
	if body.Comment != nil {
		cb.Comment = *body.Comment
	}
	f.callbacks = append(f.callbacks, cb)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
