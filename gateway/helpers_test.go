package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// examplesDir holds the contract's example bodies, beside this repository;
// examplesCopy is the copy kept in the repository, used where the contract
// folder is not there (a clone elsewhere) and checked against it where it
// is (TestExamples_CopyMatchesTheContract).
const (
	examplesDir  = "../../shared/contracts/cr8tor"
	examplesCopy = "testdata/cr8tor"
)

// example returns the contract's example body name.
func example(t testing.TB, name string) []byte {
	t.Helper()
	dir := examplesDir
	if _, err := os.Stat(dir); err != nil {
		dir = examplesCopy
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The keys of the test configuration.
const (
	clientKey   = "client-key-0123456789"
	metadataKey = "metadata-key-0123456789"
	publishKey  = "publish-key-0123456789"
)

// received is one request a fake upstream got.
type received struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// fake is a fake Metadata or Publish service on loopback. It records every
// request and answers with respond, which tests may replace.
type fake struct {
	srv *httptest.Server

	mu      sync.Mutex
	got     []received
	respond http.HandlerFunc
}

func newFake(t testing.TB, respond http.HandlerFunc) *fake {
	f := &fake{respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.got = append(f.got, received{r.Method, r.URL.Path, r.Header.Clone(), body})
		respond := f.respond
		f.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// setRespond replaces how the fake answers.
func (f *fake) setRespond(h http.HandlerFunc) {
	f.mu.Lock()
	f.respond = h
	f.mu.Unlock()
}

// requests returns the requests the fake got so far.
func (f *fake) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

func (f *fake) hostPort(t testing.TB) (string, string) {
	t.Helper()
	u, err := url.Parse(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port()
}

// answer returns a handler answering status with body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// calls is a Recorder that keeps every Call and hands them out in order.
type calls struct {
	ch chan Call
}

func (c *calls) Record(_ context.Context, call Call) { c.ch <- call }

// next returns the next recorded call, failing the test if none comes.
func (c *calls) next(t testing.TB) Call {
	t.Helper()
	select {
	case call := <-c.ch:
		return call
	case <-time.After(10 * time.Second):
		t.Fatal("no call was recorded")
		return Call{}
	}
}

// bundle is one gateway in front of fake upstreams.
type bundle struct {
	url       string // the gateway's base URL
	meta, pub *fake
	calls     *calls
	cfg       Config
}

// setup starts fake Metadata and Publish services answering with the
// contract's examples and a gateway in front of them, mounted as in
// production; edit may change the configuration and dependencies.
func setup(t testing.TB, edit func(*Config, *Deps)) *bundle {
	t.Helper()
	b := &bundle{calls: &calls{ch: make(chan Call, 1000)}}
	pkg, pub, meta := example(t, "package.response.json"), example(t, "publish.response.json"), example(t, "validate.response.json")
	b.pub = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/data-publish/validate":
			answer(http.StatusOK, `{"status":"success","payload":{"validation":"ok"}}`)(w, r)
		case "/data-publish/package":
			answer(http.StatusOK, string(pkg))(w, r)
		case "/data-publish/publish":
			answer(http.StatusOK, string(pub))(w, r)
		default:
			answer(http.StatusNotFound, `{"detail":"Not Found"}`)(w, r)
		}
	})
	b.meta = newFake(t, answer(http.StatusOK, string(meta)))
	b.cfg = Config{APIKey: clientKey, MetadataKey: metadataKey, PublishKey: publishKey,
		Timeout: 10 * time.Second, ValidateTimeout: 10 * time.Second}
	b.cfg.MetadataHost, b.cfg.MetadataPort = b.meta.hostPort(t)
	b.cfg.PublishHost, b.cfg.PublishPort = b.pub.hostPort(t)
	d := Deps{Recorder: b.calls}
	if edit != nil {
		edit(&b.cfg, &d)
	}
	mux := http.NewServeMux()
	Mount(mux, mustNew(t, b.cfg, d))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// post sends body to the gateway's path with the x-api-key key (none when
// empty) and returns the status and body of the answer.
func (b *bundle) post(t testing.TB, path, key string, body []byte) (int, []byte) {
	t.Helper()
	return do(t, context.Background(), http.MethodPost, b.url+path, key, body)
}

func do(t testing.TB, ctx context.Context, method, url, key string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}

// errorEnvelope returns the exact error body the gateway sends for detail:
// the original's, compact, "status" first.
func errorEnvelope(detail string) string {
	var q bytes.Buffer
	enc := json.NewEncoder(&q)
	enc.SetEscapeHTML(false) // as the original: "<", not "\u003c"
	if err := enc.Encode(detail); err != nil {
		panic(err)
	}
	return `{"status":"error","payload":{"detail":` + strings.TrimSuffix(q.String(), "\n") + `}}`
}

// wantError checks that the gateway answered status with the error
// envelope carrying detail, byte for byte.
func wantError(t testing.TB, gotStatus int, gotBody []byte, status int, detail string) {
	t.Helper()
	if gotStatus != status {
		t.Errorf("status = %d, want %d (body %s)", gotStatus, status, gotBody)
	}
	if want := errorEnvelope(detail); string(gotBody) != want {
		t.Errorf("body =\n%s\nwant\n%s", gotBody, want)
	}
}

// sameJSON checks that got and want are the same JSON text but for
// insignificant whitespace (so members are in the same order too).
func sameJSON(t testing.TB, got, want []byte) {
	t.Helper()
	var g, w bytes.Buffer
	if err := json.Compact(&g, got); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Compact(&w, want); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if g.String() != w.String() {
		t.Errorf("body =\n%s\nwant\n%s", g.String(), w.String())
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestExamples_CopyMatchesTheContract(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Skipf("the contract folder is not beside this checkout (%v); the tests use the copy in %s", err, examplesCopy)
	}
	for _, e := range entries {
		want, err := os.ReadFile(filepath.Join(examplesDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(examplesCopy, e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s/%s differs from the contract's %s (%v): copy the contract's examples again", examplesCopy, e.Name(), e.Name(), err)
		}
	}
}
