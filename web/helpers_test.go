package web

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/delivery"
	"approvald/engine"
	"approvald/gateway"
	"approvald/httpapi"
	"approvald/receipt"
	"approvald/rocrate"
	"approvald/store/sqlite"
)

const testAdminKey = "apd_web-test-admin-key-0123456789abcdefghijklmn"

// stack is approvald as run.go wires it — the native API at / and the UI
// at /ui/ on one listener, the event hub and the delivery dispatcher — on a
// fresh SQLite database.
type stack struct {
	t     *testing.T
	url   string
	srv   *httptest.Server
	store approval.Store
	eng   *engine.Engine
	keys  *auth.Keys
	clock *clock
	// receipts is the issuer the API and the UI share (nil withoutReceipts).
	receipts *receipt.Issuer
	// stopUI cancels the context the UI was made with, as a shutdown does.
	stopUI func()
}

// clock is the UI's session clock, which a test may move.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// stackOption changes the UI's dependencies before the stack starts.
type stackOption func(*Deps)

// withoutReceipts serves no receipts and no release records, in the API
// and the UI.
func withoutReceipts() stackOption {
	return func(d *Deps) { d.Receipts, d.ReleaseRecord = nil, nil }
}

// testReceipts returns a receipt issuer wired as approvald's run.go wires
// it (cmd/approvald/receipt.go): a key made at start, and a CR8TOR
// publication's files as extra subjects.
func testReceipts(t *testing.T) *receipt.Issuer {
	t.Helper()
	signer, err := receipt.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := receipt.NewKeySet(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return &receipt.Issuer{Signer: signer, Keys: keys, Extra: func(r *approval.Request) []receipt.Subject {
		var out []receipt.Subject
		for _, f := range gateway.PublishedFiles(r) {
			out = append(out, receipt.Subject{Name: f.Path, Digest: map[string]string{"sha512": f.SHA512}})
		}
		return out
	}}
}

// withConfig changes the UI's configuration.
func withConfig(f func(*Config)) stackOption { return func(d *Deps) { f(&d.Config) } }

func newStack(t *testing.T, opts ...stackOption) *stack {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st)
	keys := auth.NewKeys(st, time.Now)
	t.Cleanup(keys.Close)
	if err := keys.Bootstrap(ctx, testAdminKey, io.Discard); err != nil {
		t.Fatal(err)
	}
	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	waker := delivery.NewWaker()
	hub := delivery.NewHub(st, waker.Listen(), 20*time.Millisecond, nil)
	dispatcher := delivery.NewDispatcher(eng, delivery.Config{
		Poll: 20 * time.Millisecond, Wake: waker.Listen(), Client: delivery.NewHTTPClient(true),
		Backoff: func(int) time.Duration { return 20 * time.Millisecond },
	})
	wg.Go(func() { waker.Run(bg, st.Changes()) })
	wg.Go(func() { hub.Run(bg) })
	wg.Go(func() { dispatcher.Run(bg) })

	c := &clock{}
	issuer := testReceipts(t)
	d := Deps{
		Engine: eng, Keys: keys, Hub: hub, Now: c.Now, Receipts: issuer, ReleaseRecord: rocrate.Maker{Receipts: issuer}.Record,
		Config: Config{Enabled: true, KeySignIn: true, SessionKey: []byte("web-test-session-key-0123456789abcdef"), SessionTTL: time.Hour},
	}
	for _, o := range opts {
		o(&d)
	}
	uiCtx, stopUI := context.WithCancel(ctx)
	t.Cleanup(stopUI)
	ui, err := New(uiCtx, d)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", httpapi.New(httpapi.Deps{Engine: eng, Keys: keys, Ready: st.Ping, Hub: hub, Tokens: d.Tokens, Limits: httpapi.Limits{Rate: -1, Burst: 1, MaxStreams: 100},
		Receipts: d.Receipts, ReleaseRecord: d.ReleaseRecord,
	}))
	Mount(mux, ui)
	srv := httptest.NewServer(mux)
	// Close the server first (ending event streams), then the background work.
	t.Cleanup(func() { stop(); wg.Wait() })
	t.Cleanup(srv.Close)
	select {
	case <-hub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not become ready")
	}
	return &stack{t: t, url: srv.URL, srv: srv, store: st, eng: eng, keys: keys, clock: c, receipts: d.Receipts, stopUI: stopUI}
}

// key creates an API key and returns its secret.
func (s *stack) key(name string, scopes ...approval.Scope) string {
	return s.keyIn(name, nil, scopes...)
}

// keyIn creates an API key in groups and returns its secret.
func (s *stack) keyIn(name string, groups []string, scopes ...approval.Scope) string {
	s.t.Helper()
	_, secret, err := s.keys.Create(context.Background(), auth.NewKey{Name: name, Scopes: scopes, Groups: groups})
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// principal returns the principal of an API key.
func (s *stack) principal(key string) approval.Principal {
	s.t.Helper()
	p, err := s.keys.Authenticate(context.Background(), key)
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// create makes a request as the holder of key.
func (s *stack) create(key string, d approval.Draft) *approval.Request {
	s.t.Helper()
	c, err := s.eng.Create(context.Background(), s.principal(key), d, "", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return c.Request
}

// get reads a request.
func (s *stack) get(id string) *approval.Request {
	s.t.Helper()
	r, err := s.eng.Get(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// waitStatus waits until request id has status want.
func (s *stack) waitStatus(id string, want approval.Status) *approval.Request {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := s.get(id)
		if r.Status == want {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("request %s is %s, want %s", id, r.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// client is a browser without JavaScript: a cookie jar and forms. It does
// not follow redirects, so tests see them.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (s *stack) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: s.t, base: s.url, hc: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is an answer with its body read.
type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, string(b)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

// post sends a form, with the headers a same-origin browser form sends.
func (c *client) post(path string, form url.Values, hdr ...string) response {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return c.do(req)
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the forms on page path.
func (c *client) csrf(path string) string {
	c.t.Helper()
	r := c.get(path)
	m := csrfPattern.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("GET %s (%d): no CSRF token in the page", path, r.StatusCode)
	}
	return html.UnescapeString(m[1])
}

// signIn signs the client in with key and checks it lands on the inbox.
func (c *client) signIn(key string) {
	c.t.Helper()
	r := c.post("/ui/signin", url.Values{"csrf": {c.csrf("/ui/signin")}, "credential": {key}, "next": {"/ui/"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/ui/" {
		c.t.Fatalf("sign-in: %d, Location %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
}

// signedIn returns a client signed in with key.
func (s *stack) signedIn(key string) *client {
	s.t.Helper()
	c := s.client()
	c.signIn(key)
	return c
}

// cookie returns the client's cookie named name for the stack, or nil.
func (c *client) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.base)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// setCookieNamed returns the Set-Cookie of resp named name, or nil.
func setCookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// payload encodes v as a request payload.
func payload(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustContain fails unless body contains every one of wants.
func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not contain %q", what, w)
		}
	}
}

// mustNotContain fails if body contains any of unwanted.
func mustNotContain(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("%s contains %q", what, w)
		}
	}
}
