package client_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"approvald/client"
)

// fastRetry keeps the backoff of the retry tests short.
var fastRetry = client.WithRetry(client.RetryPolicy{MaxAttempts: 4, MinDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})

// faultyProxy stands between a client and the shared server. fault is asked
// about every request in turn (n counts from 1) and may answer it itself
// (returning true); otherwise the request goes on to the server. It records
// the requests it saw.
type faultyProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path Idempotency-Key"
}

func newFaultyProxy(t *testing.T, fault func(n int, w http.ResponseWriter, r *http.Request) bool) *faultyProxy {
	t.Helper()
	target, _ := url.Parse(shared.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &faultyProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
		n := len(p.seen)
		p.mu.Unlock()
		if !fault(n, w, r) {
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *faultyProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func TestRetry_ReadSucceedsAfterTwoUnavailableAnswers(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Flaky read"})
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultyProxy(t, func(n int, w http.ResponseWriter, _ *http.Request) bool {
		switch n {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
			return true
		case 2:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"type":"/docs#problem-unavailable","title":"Service Unavailable","status":503,"detail":"database down","code":"unavailable"}`))
			return true
		}
		return false
	})
	c := newClient(t, proxy.URL, a.requesterKey.Secret, fastRetry)

	var resp client.Response
	got, err := c.Get(ctx, req.ID, client.CaptureResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != req.ID || resp.Attempts != 3 || len(proxy.requests()) != 3 {
		t.Fatalf("got %s after %d attempts (%v)", got.ID, resp.Attempts, proxy.requests())
	}
}

func TestRetry_CreateWhoseAnswerWasLostIsReplayedNotDuplicated(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	// The first create reaches the server, which makes the request; then
	// the connection drops before the client sees the answer.
	proxy := newFaultyProxy(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n != 1 {
			return false
		}
		rec := httptest.NewRecorder()
		rp := httputil.NewSingleHostReverseProxy(mustParse(t, shared.URL))
		rp.ServeHTTP(rec, r)
		if rec.Code != http.StatusCreated {
			t.Errorf("the first create got %d", rec.Code)
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return true
		}
		conn.Close()
		return true
	})
	c := newClient(t, proxy.URL, a.requesterKey.Secret, fastRetry)

	var resp client.Response
	req, err := c.Create(ctx, client.CreateRequest{Title: "Exactly once"}, client.CaptureResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Replayed() || resp.Attempts != 2 {
		t.Fatalf("replayed %v after %d attempts", resp.Replayed(), resp.Attempts)
	}
	seen := proxy.requests()
	if len(seen) != 2 || seen[0] != seen[1] || seen[0] == "POST /v1/approvals " {
		t.Fatalf("the two attempts differ or carry no Idempotency-Key: %q", seen)
	}
	page, err := a.requester.List(ctx, client.ListOptions{Requester: a.requesterKey.Principal()})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != req.ID {
		t.Fatalf("the requester has %d requests, want exactly the one created", len(page.Items))
	}
}

func TestRetry_ReviewIsNotRepeatedAfterAnUnavailableAnswer(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Once"})
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultyProxy(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	c := newClient(t, proxy.URL, "", fastRetry)

	_, err = c.Approve(ctx, req.ID, "")
	if e := client.AsError(err); e == nil || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("err = %v", err)
	}
	if n := len(proxy.requests()); n != 1 {
		t.Fatalf("a review was sent %d times; it is not safe to repeat", n)
	}
}

func TestRetry_GivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var (
		mu sync.Mutex
		n  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.WriteHeader(http.StatusGatewayTimeout)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, "", client.WithRetry(client.RetryPolicy{MaxAttempts: 3, MinDelay: time.Millisecond}))
	_, err := c.Get(ctx, "x")
	if e := client.AsError(err); e == nil || e.Status != http.StatusGatewayTimeout || e.Code != "" {
		t.Fatalf("err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

func TestRetry_ConnectionRefusedIsReportedAsATransportError(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	c := newClient(t, base, "", client.WithRetry(client.RetryPolicy{MaxAttempts: 2, MinDelay: time.Millisecond}))
	_, err := c.Cancel(ctx, "x", "")
	if err == nil || client.AsError(err) != nil {
		t.Fatalf("err = %v, want a transport error", err)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNew_RefusesURLsThatAreNotHTTP(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "localhost:8000", "ftp://x", "http://", "http://x/?a=b"} {
		if _, err := client.New(bad); err == nil {
			t.Errorf("New(%q) succeeded", bad)
		}
	}
	c, err := client.New("https://approvals.example.com/prefix/")
	if err != nil || c.BaseURL() != "https://approvals.example.com/prefix" {
		t.Fatalf("New with a path prefix: %v %v", c, err)
	}
}
