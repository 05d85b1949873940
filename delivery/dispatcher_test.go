package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"approvald/approval"
	"approvald/engine"
	"approvald/internal/testkit"
	"approvald/store/sqlite"
	"approvald/webhook"
)

var (
	requester = approval.Principal{ID: "svc:billing", Scopes: []approval.Scope{approval.ScopeCreate}}
	reviewer  = approval.Principal{ID: "svc:ops", Scopes: []approval.Scope{approval.ScopeReview}}
	admin     = approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}
)

type fixture struct {
	t     *testing.T
	store approval.Store
	eng   *engine.Engine
	ctx   context.Context
}

// setup returns a store, an engine and a running dispatcher with fast
// retries; they stop when the test ends.
func setup(t *testing.T, cfg Config) *fixture {
	t.Helper()
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return 20 * time.Millisecond }
	}
	cfg.Poll = 20 * time.Millisecond
	cfg.Wake = st.Changes()
	eng := engine.New(st)
	d := NewDispatcher(eng, cfg)
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return &fixture{t: t, store: st, eng: eng, ctx: ctx}
}

func (f *fixture) rule(name, url string, mut func(*approval.ServiceRule)) *approval.ServiceRule {
	f.t.Helper()
	// A generous timeout: on a loaded machine a loopback answer can take
	// longer than a few hundred milliseconds, and a timed-out 400 is retried.
	r := approval.ServiceRule{Name: name, URL: url, Timeout: 5 * time.Second, MaxAttempts: 3}
	if mut != nil {
		mut(&r)
	}
	created, err := f.eng.CreateRule(f.ctx, admin, r)
	if err != nil {
		f.t.Fatal(err)
	}
	return created
}

// decide creates a request naming rule and approves (or rejects) it.
func (f *fixture) decide(rule string, d approval.Decision) *approval.Request {
	f.t.Helper()
	c, err := f.eng.Create(f.ctx, requester, approval.Draft{Title: "t", ServiceRule: rule}, "", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := f.eng.Review(f.ctx, reviewer, c.Request.ID, approval.ReviewInput{Decision: d, Comment: ""}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// waitStatus polls until the request reaches status, or fails.
func (f *fixture) waitStatus(id string, want approval.Status) *approval.Request {
	f.t.Helper()
	var r *approval.Request
	testkit.Eventually(f.t, 10*time.Second, func() (bool, string) {
		var err error
		if r, err = f.eng.Get(f.ctx, id); err != nil {
			f.t.Fatal(err)
		}
		return r.Status == want, fmt.Sprintf("request %s is %s, want %s (delivery %+v)", id, r.Status, want, r.Delivery)
	})
	return r
}

// receiver is a loopback webhook receiver answering with handle.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	ids  map[string]int
	hits atomic.Int32
	last []byte
	hdr  http.Header
}

func newReceiver(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{ids: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int(rc.hits.Add(1))
		rc.mu.Lock()
		rc.ids[r.Header.Get(webhook.HeaderID)]++
		rc.last, rc.hdr = body, r.Header.Clone()
		rc.mu.Unlock()
		handle(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func ok(int, http.ResponseWriter, *http.Request) {}

func TestDispatcher_DeliversSignedEventAndSettles(t *testing.T) {
	f := setup(t, Config{})
	rc := newReceiver(t, ok)
	rule := f.rule("billing", rc.URL, nil)
	r := f.decide("billing", approval.DecisionApprove)
	if r.Status != approval.StatusAcknowledgedApproved {
		t.Fatalf("after approve: %s", r.Status)
	}
	got := f.waitStatus(r.ID, approval.StatusApproved)
	if got.Delivery == nil || got.Delivery.Attempts != 1 || got.Delivery.DeliveredAt == nil {
		t.Fatalf("delivery %+v", got.Delivery)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	v, err := webhook.NewVerifier(rule.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(rc.hdr, rc.last); err != nil {
		t.Fatalf("signature: %v", err)
	}
	ev, err := webhook.ParseEvent(rc.last)
	if err != nil || ev.Type != approval.EventDecided {
		t.Fatalf("event %+v %v", ev, err)
	}
	var data approval.Request
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.ID != r.ID || data.Status != approval.StatusAcknowledgedApproved {
		t.Fatalf("event data %+v %v", data, err)
	}
	chain, _ := f.eng.History(f.ctx, r.ID)
	h := chain.Entries
	if last := h[len(h)-1]; last.Action != approval.ActionDelivered || last.Actor != approval.System.ID {
		t.Fatalf("last history entry %+v", last)
	}
}

func TestDispatcher_RetriesServerErrorsWithTheSameID(t *testing.T) {
	f := setup(t, Config{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	f.rule("flaky", rc.URL, nil)
	r := f.decide("flaky", approval.DecisionReject)
	got := f.waitStatus(r.ID, approval.StatusRejected)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.hits.Load() != 3 || len(rc.ids) != 1 || got.Delivery.Attempts != 3 {
		t.Fatalf("hits %d, ids %v, attempts %d", rc.hits.Load(), rc.ids, got.Delivery.Attempts)
	}
}

func TestDispatcher_RetryAfterIsHonoured(t *testing.T) {
	f := setup(t, Config{})
	var first atomic.Int64
	var gap atomic.Int64
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		gap.Store(time.Now().UnixNano() - first.Load())
	})
	f.rule("busy", rc.URL, nil)
	r := f.decide("busy", approval.DecisionApprove)
	f.waitStatus(r.ID, approval.StatusApproved)
	if d := time.Duration(gap.Load()); d < 900*time.Millisecond {
		t.Fatalf("retried after %s, before Retry-After's 1s", d)
	}
}

func TestDispatcher_PermanentRefusalMovesToErrorKeepingTheComment(t *testing.T) {
	f := setup(t, Config{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("unknown approval"))
	})
	f.rule("strict", rc.URL, nil)
	c, _ := f.eng.Create(f.ctx, requester, approval.Draft{Title: "t", ServiceRule: "strict"}, "", nil)
	if _, err := f.eng.Edit(f.ctx, requester, c.Request.ID, approval.Patch{Comment: approval.Some("keep me")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Review(f.ctx, reviewer, c.Request.ID, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: ""}, nil); err != nil {
		t.Fatal(err)
	}
	got := f.waitStatus(c.Request.ID, approval.StatusError)
	if got.Comment != "keep me" || got.PreviousStatus == nil || *got.PreviousStatus != approval.StatusAcknowledgedApproved ||
		got.Delivery == nil || got.Delivery.Attempts != 1 || got.Delivery.LastError == "" {
		t.Fatalf("after a 400: %+v delivery %+v", got, got.Delivery)
	}
	if rc.hits.Load() != 1 {
		t.Fatalf("a 400 was retried: %d hits", rc.hits.Load())
	}
	// From error: fix the receiver's side and redeliver.
	if _, err := f.eng.UpdateRule(f.ctx, admin, "strict", func(r *approval.ServiceRule) { r.URL = newReceiver(t, ok).URL }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Redeliver(f.ctx, admin, c.Request.ID, nil); err != nil {
		t.Fatal(err)
	}
	f.waitStatus(c.Request.ID, approval.StatusApproved)
}

func TestDispatcher_ExhaustedRetriesMoveToErrorThenDecideAgain(t *testing.T) {
	f := setup(t, Config{})
	down := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	f.rule("down", down.URL, nil)
	r := f.decide("down", approval.DecisionApprove)
	got := f.waitStatus(r.ID, approval.StatusError)
	if got.Delivery.Attempts != 3 || down.hits.Load() != 3 {
		t.Fatalf("attempts %d, hits %d", got.Delivery.Attempts, down.hits.Load())
	}
	// Decide again, differently, after pointing the request at another rule.
	up := newReceiver(t, ok)
	f.rule("up", up.URL, nil)
	if _, err := f.eng.Edit(f.ctx, requester, r.ID, approval.Patch{ServiceRule: approval.Some("up")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Review(f.ctx, reviewer, r.ID, approval.ReviewInput{Decision: approval.DecisionReject, Comment: "changed my mind"}, nil); err != nil {
		t.Fatal(err)
	}
	f.waitStatus(r.ID, approval.StatusRejected)
}

func TestDispatcher_StalledReceiverTimesOutAndDoesNotBlockOthers(t *testing.T) {
	f := setup(t, Config{PerRule: 2, Workers: 4})
	stalled := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	f.rule("stalled", stalled.URL, func(r *approval.ServiceRule) { r.Timeout = 500 * time.Millisecond; r.MaxAttempts = 1 })
	var slow []string
	for range 6 {
		slow = append(slow, f.decide("stalled", approval.DecisionApprove).ID)
	}
	for _, id := range slow {
		got := f.waitStatus(id, approval.StatusError)
		if got.Delivery.LastError == "" || got.Delivery.Attempts != 1 {
			t.Fatalf("a timed-out delivery: %+v", got.Delivery)
		}
	}
}

// TestDispatcher_StalledRuleDoesNotBlockAnother holds every request to a
// stalled receiver open until the test ends: the other rule's deliveries
// must all complete meanwhile.
func TestDispatcher_StalledRuleDoesNotBlockAnother(t *testing.T) {
	f := setup(t, Config{PerRule: 2, Workers: 4})
	release := make(chan struct{})
	stalled := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before the receiver closes: cleanups run last first
	f.rule("stalled", stalled.URL, func(r *approval.ServiceRule) { r.Timeout = time.Minute })
	var slow []string
	for range 6 {
		slow = append(slow, f.decide("stalled", approval.DecisionApprove).ID)
	}
	fast := newReceiver(t, ok)
	f.rule("fast", fast.URL, nil)
	for range 10 {
		r := f.decide("fast", approval.DecisionApprove)
		f.waitStatus(r.ID, approval.StatusApproved)
	}
	for _, id := range slow {
		if r, _ := f.eng.Get(f.ctx, id); r.Status != approval.StatusAcknowledgedApproved {
			t.Fatalf("a stalled delivery finished (%s) before the receiver answered", r.Status)
		}
	}
}

func TestDispatcher_LegacyFormat(t *testing.T) {
	f := setup(t, Config{})
	var body atomic.Value
	var auth atomic.Value
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { auth.Store(r.Header.Get("Authorization")) })
	f.rule("old", rc.URL, func(r *approval.ServiceRule) { r.Format = approval.FormatLegacy; r.APIKey = "s3cret-key" })
	r := f.decide("old", approval.DecisionReject)
	f.waitStatus(r.ID, approval.StatusRejected)
	rc.mu.Lock()
	body.Store(string(rc.last))
	rc.mu.Unlock()
	want := `{"id":"` + r.ID + `","status":4}`
	if body.Load() != want || auth.Load() != "s3cret-key" {
		t.Fatalf("legacy callback %v with Authorization %v, want %s", body.Load(), auth.Load(), want)
	}
}

// TestDispatcher_ReceiverRepeatingACredentialDoesNotLeakIt: a receiver that
// refuses a delivery by repeating its credential (a header value, the
// legacy API key) does not put it into last_error.
func TestDispatcher_ReceiverRepeatingACredentialDoesNotLeakIt(t *testing.T) {
	f := setup(t, Config{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprintf(w, "invalid key %q (authorization %q)", r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"))
	})
	const headerCred, apiKey = "receiver-credential-0123", "legacy-api-key-4567"
	f.rule("echo", rc.URL, func(r *approval.ServiceRule) { r.Headers = map[string]string{"X-Api-Key": headerCred} })
	f.rule("echo-legacy", rc.URL, func(r *approval.ServiceRule) {
		r.Format, r.APIKey, r.Headers = approval.FormatLegacy, apiKey, map[string]string{"X-Api-Key": headerCred}
	})
	for _, rule := range []string{"echo", "echo-legacy"} {
		got := f.waitStatus(f.decide(rule, approval.DecisionApprove).ID, approval.StatusError)
		if e := got.Delivery.LastError; !strings.Contains(e, "HTTP 401") || !strings.Contains(e, "[redacted]") ||
			strings.Contains(e, headerCred) || strings.Contains(e, apiKey) {
			t.Errorf("%s: last_error %q", rule, e)
		}
	}
}

func TestDispatcher_CancelWithRuleIsDelivered(t *testing.T) {
	f := setup(t, Config{})
	rc := newReceiver(t, ok)
	f.rule("c", rc.URL, nil)
	c, _ := f.eng.Create(f.ctx, requester, approval.Draft{Title: "t", ServiceRule: "c"}, "", nil)
	r, err := f.eng.Cancel(f.ctx, requester, c.Request.ID, "", nil)
	if err != nil || r.Status != approval.StatusAcknowledgedCancelled {
		t.Fatalf("cancel: %v %v", r, err)
	}
	f.waitStatus(r.ID, approval.StatusCancelled)
}

func TestBackoff_GrowsAndIsCapped(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 30: time.Hour} {
		for range 20 {
			if d := Backoff(n); d < want/2 || d > want {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", n, d, want/2, want)
			}
		}
	}
}

func TestRetryAfter_SecondsAndDates(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := retryAfter("7", now); d != 7*time.Second {
		t.Errorf("seconds: %s", d)
	}
	if d := retryAfter(now.Add(time.Minute).Format(http.TimeFormat), now); d != time.Minute {
		t.Errorf("date: %s", d)
	}
	for _, bad := range []string{"", "soon", "-3", now.Add(-time.Minute).Format(http.TimeFormat)} {
		if d := retryAfter(bad, now); d != 0 {
			t.Errorf("%q: %s", bad, d)
		}
	}
}

func TestHTTPClient_RefusesMetadataAndLinkLocal(t *testing.T) {
	t.Parallel()
	c := NewHTTPClient(true)
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://[fe80::1]:80/"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		_, err := c.Do(req)
		cancel()
		if err == nil {
			t.Errorf("%s: connected", u)
		}
	}
	strict := NewHTTPClient(false)
	rc := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer rc.Close()
	if _, err := strict.Get(rc.URL); err == nil {
		t.Error("a client refusing private targets reached loopback")
	}
}

// TestDispatcher_BacklogOfAStalledRuleDoesNotStarveAnother fills the outbox
// with due deliveries to a stalled receiver before the fast rule's arrive:
// claims in due order would be all the stalled rule's, yet it must never
// hold more than PerRule workers.
// It holds whether a rule's slot comes free on the receiver's answer or once
// the outcome is written.
func TestDispatcher_BacklogOfAStalledRuleDoesNotStarveAnother(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(fmt.Sprintf("FreeRuleOnAnswer=%v", early), func(t *testing.T) {
			testStalledRuleBacklog(t, Config{PerRule: 2, Workers: 4, FreeRuleOnAnswer: early})
		})
	}
}

func testStalledRuleBacklog(t *testing.T, cfg Config) {
	f := setup(t, cfg)
	release := make(chan struct{})
	var inFlight, peak atomic.Int32
	stalled := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	f.rule("stalled", stalled.URL, func(r *approval.ServiceRule) { r.Timeout = time.Minute })
	for range 20 {
		f.decide("stalled", approval.DecisionApprove)
	}
	fast := newReceiver(t, ok)
	f.rule("fast", fast.URL, nil)
	for range 5 { // each would wait a minute if the backlog held every worker
		r := f.decide("fast", approval.DecisionApprove)
		f.waitStatus(r.ID, approval.StatusApproved)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("the stalled rule had %d deliveries in flight, above PerRule 2", p)
	}
}

// TestDispatcher_ReadsShowTheDeliveryInProgress: while retries are pending,
// a read of the acknowledged request shows the attempts, the last error and
// when the next attempt is due.
func TestDispatcher_ReadsShowTheDeliveryInProgress(t *testing.T) {
	f := setup(t, Config{Backoff: func(int) time.Duration { return time.Hour }})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	f.rule("later", rc.URL, nil)
	r := f.decide("later", approval.DecisionApprove)
	var got *approval.Request
	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		var err error
		if got, err = f.eng.Get(f.ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		return got.Delivery != nil && got.Delivery.Attempts == 1, fmt.Sprintf("no attempt shown: %+v", got.Delivery)
	})
	if d := got.Delivery; got.Status != approval.StatusAcknowledgedApproved || d.LastError == "" || d.NextAttempt == nil ||
		d.NextAttempt.Before(time.Now().Add(50*time.Minute)) || d.DeliveredAt != nil {
		t.Fatalf("delivery in progress: %s %+v", got.Status, d)
	}
}
