package ghapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/delivery"
	"approvald/engine"
	"approvald/ghapp"
	"approvald/ghapp/githubfake"
	"approvald/internal/testkit"
	"approvald/store/sqlite"
)

// decided opens the request of r and decides it: approved by alice and
// bob, or rejected by alice with a comment.
func (f *fixture) decided(r githubfake.Run, d approval.Decision) *approval.Request {
	f.t.Helper()
	req := f.open(r)
	reviewers := []approval.Principal{alice}
	if d == approval.DecisionApprove {
		reviewers = append(reviewers, bob)
	}
	var err error
	for _, p := range reviewers {
		if req.Status != approval.StatusPending {
			break
		}
		if req, err = f.eng.Review(f.ctx, p, req.ID, approval.ReviewInput{Decision: d, Comment: "looked at " + r.SHA[:7]}, nil); err != nil {
			f.t.Fatal(err)
		}
	}
	if !req.Status.Acknowledged() {
		f.t.Fatalf("request is %s", req.Status)
	}
	return req
}

// claim returns the due delivery of request id, leased for a minute.
func (f *fixture) claim(id string) approval.Claim {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claims == nil {
		f.claims = map[string]approval.Claim{}
	}
	claims, err := f.eng.ClaimDeliveries(f.ctx, time.Now(), time.Now().Add(time.Minute), nil, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range claims {
		f.claims[c.RequestID] = c // the latest event of each request
	}
	c, ok := f.claims[id]
	if !ok {
		f.t.Fatalf("no delivery of %s claimed", id)
	}
	delete(f.claims, id)
	return c
}

// send makes one attempt at the delivery c through the App.
func (f *fixture) send(c approval.Claim) delivery.Outcome {
	f.t.Helper()
	rule, err := f.eng.Rule(f.ctx, "github")
	if err != nil {
		f.t.Fatal(err)
	}
	return f.app.Send(f.ctx, rule, c)
}

// noToken fails the test when out's reason holds a token the fake issued.
func (f *fixture) noToken(out delivery.Outcome) {
	f.t.Helper()
	for _, x := range f.fake.Exchanges() {
		if strings.Contains(out.Reason, x.Token) {
			f.t.Errorf("the reason shows a token: %s", out.Reason)
		}
	}
	if strings.Contains(out.Reason, "ghs_") || strings.Contains(out.Reason, "eyJ") {
		f.t.Errorf("the reason shows a credential: %s", out.Reason)
	}
}

func TestSend_ApprovesAsTheInstallationWithOneTokenForSeveralCallbacks(t *testing.T) {
	f := setup(t, nil)
	if _, err := f.eng.CreatePolicy(f.ctx, admin, approval.StoredPolicy{Name: "two", Match: `payload.environment == "disclosure"`,
		Policy: approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2}}}}); err != nil {
		t.Fatal(err)
	}
	var reqs []*approval.Request
	for i := range 3 {
		reqs = append(reqs, f.decided(run(int64(100+i)), approval.DecisionApprove))
	}
	for _, req := range reqs {
		if out := f.send(f.claim(req.ID)); !out.OK {
			t.Fatalf("send: %+v", out)
		}
	}
	x := f.fake.Exchanges()
	if len(x) != 1 || x[0].Installation != 77 {
		t.Fatalf("exchanges %+v, want one of installation 77", x)
	}
	cbs := f.fake.Callbacks()
	if len(cbs) != 3 {
		t.Fatalf("%d callbacks", len(cbs))
	}
	for i, cb := range cbs {
		if cb.State != ghapp.StateApproved || cb.Environment != "disclosure" || cb.Owner != "org" || cb.Repo != "service" ||
			cb.RunID != int64(100+i) || cb.Token != x[0].Token || cb.Installation != 77 {
			t.Errorf("callback %d: %+v", i, cb)
		}
		want := fmt.Sprintf("Approved in approvald by svc:alice, svc:bob. https://approvals.example.test/ui/requests/%s", reqs[i].ID)
		if cb.Comment != want {
			t.Errorf("comment %q, want %q", cb.Comment, want)
		}
	}
}

func TestSend_RejectedAndCancelledAreRejections(t *testing.T) {
	f := setup(t, func(c *ghapp.Config) { c.PublicURL = "" })
	rejected := f.decided(run(200), approval.DecisionReject)
	cancelled := f.open(run(201))
	if _, err := f.eng.Cancel(f.ctx, admin, cancelled.ID, "superseded", nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{rejected.ID, cancelled.ID} {
		if out := f.send(f.claim(id)); !out.OK {
			t.Fatalf("send: %+v", out)
		}
	}
	cbs := f.fake.Callbacks()
	if len(cbs) != 2 || cbs[0].State != ghapp.StateRejected || cbs[1].State != ghapp.StateRejected {
		t.Fatalf("callbacks %+v", cbs)
	}
	if want := `Rejected in approvald by svc:alice. svc:alice: "looked at 6dcb09b" (request ` + rejected.ID + ")"; cbs[0].Comment != want {
		t.Errorf("rejection comment %q, want %q", cbs[0].Comment, want)
	}
	if !strings.HasPrefix(cbs[1].Comment, "Cancelled in approvald.") || !strings.HasSuffix(cbs[1].Comment, "(request "+cancelled.ID+")") {
		t.Errorf("cancellation comment %q", cbs[1].Comment)
	}
}

func TestSend_ATokenGitHubRefusesIsDroppedAndReplaced(t *testing.T) {
	f := setup(t, nil)
	first := f.decided(run(300), approval.DecisionApprove)
	second := f.decided(run(301), approval.DecisionApprove)
	if out := f.send(f.claim(first.ID)); !out.OK {
		t.Fatalf("first: %+v", out)
	}
	f.fake.ExpireTokens() // GitHub says no; the App's cache still says yes
	c := f.claim(second.ID)
	out := f.send(c)
	if out.OK || !out.Retryable || !strings.Contains(out.Reason, "401") {
		t.Fatalf("with an expired token: %+v", out)
	}
	f.noToken(out)
	if out := f.send(c); !out.OK {
		t.Fatalf("the retry: %+v", out)
	}
	x := f.fake.Exchanges()
	cbs := f.fake.Callbacks()
	if len(x) != 2 || len(cbs) != 2 || cbs[1].Token != x[1].Token {
		t.Errorf("exchanges %d, callbacks %+v", len(x), cbs)
	}
}

func TestSend_ATokenCloseToItsExpiryIsNotUsed(t *testing.T) {
	f := setup(t, nil)
	f.fake.SetTokenTTL(50 * time.Second) // under the minute's margin
	for i := range 2 {
		req := f.decided(run(int64(310+i)), approval.DecisionApprove)
		if out := f.send(f.claim(req.ID)); !out.OK {
			t.Fatalf("send: %+v", out)
		}
	}
	if n := len(f.fake.Exchanges()); n != 2 {
		t.Errorf("%d exchanges, want one per callback", n)
	}
}

func TestSend_ConcurrentCallbacksShareOneExchange(t *testing.T) {
	f := setup(t, nil)
	var claims []approval.Claim
	for i := range 6 {
		req := f.decided(run(int64(320+i)), approval.DecisionApprove)
		claims = append(claims, f.claim(req.ID))
	}
	var wg sync.WaitGroup
	for _, c := range claims {
		wg.Go(func() {
			if out := f.send(c); !out.OK {
				t.Errorf("send: %+v", out)
			}
		})
	}
	wg.Wait()
	if n, m := len(f.fake.Exchanges()), len(f.fake.Callbacks()); n != 1 || m != 6 {
		t.Errorf("%d exchanges, %d callbacks", n, m)
	}
}

func TestSend_GitHubsAnswers(t *testing.T) {
	f := setup(t, nil)
	reset := time.Now().Add(45 * time.Second).Truncate(time.Second)
	for i, tc := range []struct {
		name      string
		prepare   func(r *githubfake.Run)
		arrange   func()
		retryable bool
		after     time.Duration // RetryAfter at least
		reason    string
	}{
		{name: "unknown run", prepare: func(r *githubfake.Run) { r.ID += 5000 }, reason: "404"},
		{name: "5xx", arrange: func() { f.fake.FailNext(1, 502) }, retryable: true, reason: "502"},
		{name: "429 with Retry-After", arrange: func() { f.fake.TooManyRequestsNext(1, 7*time.Second) }, retryable: true, after: 7 * time.Second, reason: "429"},
		{name: "primary rate limit", arrange: func() { f.fake.RateLimitNext(1, reset) }, retryable: true, after: 30 * time.Second, reason: "rate limit"},
		{name: "missing permission", arrange: func() { f.fake.FailNext(1, 403) }, reason: "Deployments (read and write)"},
		{name: "down", arrange: func() { f.fake.SetDown(true) }, retryable: true, reason: "connecting to GitHub failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(int64(400 + i))
			if tc.prepare != nil {
				// A run GitHub does not know: the event names it, the fake
				// never made it wait.
				tc.prepare(&r)
				f.fake.AddInstallation(r.Installation)
				d := githubfake.Delivery{Event: "deployment_protection_rule", ID: githubfake.NewDeliveryID(), Body: githubfake.DeploymentProtectionRuleBody(f.fake.URL, r, "requested")}
				if code, m := f.post(d, f.fake.WebhookSecret); code != 202 {
					t.Fatalf("%d %v", code, m)
				}
			}
			var req *approval.Request
			if tc.prepare == nil {
				req = f.decided(r, approval.DecisionApprove)
			} else {
				rs := f.requestsOf(fmt.Sprintf("github:org/service/disclosure/%d", r.ID))
				var err error
				for _, p := range []approval.Principal{alice, bob} {
					if req, err = f.eng.Review(f.ctx, p, rs[0].ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
						t.Fatal(err)
					}
					if req.Status != approval.StatusPending {
						break
					}
				}
			}
			// A token is cached first, so that the failure meets the callback.
			warm := f.decided(run(int64(450+i)), approval.DecisionApprove)
			if out := f.send(f.claim(warm.ID)); !out.OK {
				t.Fatalf("warm-up: %+v", out)
			}
			c := f.claim(req.ID)
			if tc.arrange != nil {
				tc.arrange()
			}
			out := f.send(c)
			f.fake.SetDown(false)
			if out.OK || out.Retryable != tc.retryable || out.RetryAfter < tc.after || !strings.Contains(out.Reason, tc.reason) {
				t.Fatalf("outcome %+v, want retryable %v after ≥ %s, reason with %q", out, tc.retryable, tc.after, tc.reason)
			}
			f.noToken(out)
			if tc.retryable {
				if out := f.send(c); !out.OK {
					t.Errorf("the retry: %+v", out)
				}
			}
		})
	}
}

func TestSend_ARunGitHubNoLongerWaitsForIsPermanent(t *testing.T) {
	f := setup(t, nil)
	req := f.decided(run(500), approval.DecisionApprove)
	c := f.claim(req.ID)
	if out := f.send(c); !out.OK {
		t.Fatalf("first: %+v", out)
	}
	out := f.send(c) // reviewed already: 422
	if out.OK || out.Retryable || !strings.Contains(out.Reason, "422") || !strings.Contains(out.Reason, "no longer waits") {
		t.Errorf("outcome %+v", out)
	}
}

func TestSend_TokenExchangeFailures(t *testing.T) {
	f := setup(t, nil)
	gone := f.decided(run(600), approval.DecisionApprove)
	f.fake.RemoveInstallation(77)
	out := f.send(f.claim(gone.ID))
	if out.OK || out.Retryable || !strings.Contains(out.Reason, "no installation 77") {
		t.Errorf("uninstalled: %+v", out)
	}

	// A JWT GitHub refuses (another key, or a clock far off) is retryable.
	other := githubfake.New(t, appID)
	wrong, err := ghapp.New(ghapp.Config{AppID: appID, PrivateKey: other.PrivateKeyPEM, WebhookSecret: []byte("s"), APIURL: f.fake.URL, ServiceRule: "github"}, f.eng)
	if err != nil {
		t.Fatal(err)
	}
	req := f.decided(run(601), approval.DecisionApprove)
	rule, _ := f.eng.Rule(f.ctx, "github")
	c := f.claim(req.ID)
	out = wrong.Send(f.ctx, rule, c)
	if out.OK || !out.Retryable || !strings.Contains(out.Reason, "JWT") || !strings.Contains(out.Reason, "401") {
		t.Errorf("refused JWT: %+v", out)
	}
	skewed, err := ghapp.New(ghapp.Config{AppID: appID, PrivateKey: f.fake.PrivateKeyPEM, WebhookSecret: []byte("s"), APIURL: f.fake.URL, ServiceRule: "github",
		Now: func() time.Time { return time.Now().Add(-20 * time.Minute) }}, f.eng)
	if err != nil {
		t.Fatal(err)
	}
	if out := skewed.Send(f.ctx, rule, c); out.OK || !out.Retryable || !strings.Contains(out.Reason, "clock") {
		t.Errorf("a clock 20 minutes behind: %+v", out)
	}
}

func TestSend_ARevocationIsNotSent(t *testing.T) {
	f := setup(t, nil)
	req := f.decided(run(700), approval.DecisionApprove)
	c := f.claim(req.ID)
	if out := f.send(c); !out.OK {
		t.Fatalf("approval: %+v", out)
	}
	if _, err := f.eng.FinishDelivery(f.ctx, c, approval.DeliveryResult{Attempts: 1, Done: true, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Revoke(f.ctx, admin, req.ID, "wrong artefact", nil); err != nil {
		t.Fatal(err)
	}
	out := f.send(f.claim(req.ID))
	if out.OK || out.Retryable || out.Reason != ghapp.RevokeReason {
		t.Errorf("revocation: %+v", out)
	}
	if n := len(f.fake.Callbacks()); n != 1 {
		t.Errorf("%d callbacks, want the approval's only", n)
	}
}

func TestSend_RefusesARuleThatIsNotTheConfiguredAPI(t *testing.T) {
	f := setup(t, nil)
	req := f.decided(run(800), approval.DecisionApprove)
	rule, _ := f.eng.Rule(f.ctx, "github")
	rule.URL = "https://evil.example.test"
	out := f.app.Send(f.ctx, rule, f.claim(req.ID))
	if out.OK || out.Retryable || !strings.Contains(out.Reason, "not at the GitHub API") {
		t.Errorf("outcome %+v", out)
	}
	if n := len(f.fake.Exchanges()); n != 0 {
		t.Errorf("%d tokens were asked for", n)
	}
}

func TestSend_ARequestNotOfTheApp(t *testing.T) {
	f := setup(t, nil)
	// Nobody but the App opens requests for its rule (approval.Origin)…
	requester := approval.Principal{ID: "svc:someone", Scopes: []approval.Scope{approval.ScopeCreate}}
	_, err := f.eng.Create(f.ctx, requester, approval.Draft{Title: "t", ServiceRule: "github", Payload: []byte(`{"repository":"org/service"}`)}, "", nil)
	if approval.KindOf(err) != approval.KindInvalid || !strings.Contains(err.Error(), "only the GitHub App") {
		t.Fatalf("a request for the App's rule opened through the API: %v", err)
	}
	// …and a request of the App's origin that names no run is not sent.
	c, err := f.eng.Create(f.ctx, requester, approval.Draft{Title: "t", ServiceRule: "github", Payload: []byte(`{"repository":"org/service"}`), Origin: approval.OriginGitHub}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Review(f.ctx, alice, c.Request.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	if out := f.send(f.claim(c.Request.ID)); out.OK || out.Retryable || !strings.Contains(out.Reason, "does not name a GitHub run") {
		t.Errorf("outcome %+v", out)
	}
}

// TestDispatcher_DeliversThroughTheApp runs the real dispatcher with the
// App as the github format's sender: approved, the request settles once
// GitHub has taken the review, after GitHub's outage.
func TestDispatcher_DeliversThroughTheApp(t *testing.T) {
	f := setup(t, nil)
	st, err := sqlite.Open(f.ctx, filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(st)
	app, err := ghapp.New(ghapp.Config{AppID: appID, PrivateKey: f.fake.PrivateKeyPEM, WebhookSecret: f.fake.WebhookSecret,
		APIURL: f.fake.URL, ServiceRule: "github"}, eng)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.EnsureRule(f.ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	d := delivery.NewDispatcher(eng, delivery.Config{Poll: 20 * time.Millisecond, Wake: st.Changes(),
		Backoff: func(int) time.Duration { return 20 * time.Millisecond }, Senders: map[approval.RuleFormat]delivery.Sender{approval.FormatGitHub: app}})
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	r := run(900)
	f.fake.AddRun(r)
	p := ghapp.Payload{Repository: "org/service", Environment: "disclosure", RunID: 900, InstallationID: 77}
	c, err := eng.Create(f.ctx, app.Requester(), approval.Draft{Title: "Deploy", ServiceRule: "github", Subject: p.Subject(), Payload: []byte(mustJSON(p)), Origin: approval.OriginGitHub}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.fake.FailNext(3, 503)
	if _, err := eng.Review(f.ctx, alice, c.Request.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() (bool, string) {
		got, err := eng.Get(f.ctx, c.Request.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == approval.StatusApproved, fmt.Sprintf("status %s, delivery %+v", got.Status, got.Delivery)
	})
	got, _ := eng.Get(f.ctx, c.Request.ID)
	if got.Delivery == nil || got.Delivery.Attempts < 2 {
		t.Errorf("delivery %+v, want retries", got.Delivery)
	}
	if cbs := f.fake.Callbacks(); len(cbs) != 1 || cbs[0].RunID != 900 || cbs[0].State != ghapp.StateApproved {
		t.Errorf("callbacks %+v", cbs)
	}
}

// TestSend_AnOlderRequestOfTheRunIsNeverSent: GitHub's review is keyed by
// run and environment, not by attempt; once a newer request stands for
// the run (a re-run), the older one's decision is not sent.
func TestSend_AnOlderRequestOfTheRunIsNeverSent(t *testing.T) {
	f := setup(t, nil)
	r := run(850)
	f.fake.AddRun(r)
	old := f.decided(r, approval.DecisionReject)
	c := f.claim(old.ID)
	// A re-run of the run opened a newer request, as the App does.
	var p ghapp.Payload
	if err := json.Unmarshal(old.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Create(f.ctx, f.app.Requester(), approval.Draft{Title: "Deploy again", ServiceRule: "github",
		Subject: p.Subject(), Payload: old.Payload, Origin: approval.OriginGitHub}, "", nil); err != nil {
		t.Fatal(err)
	}
	out := f.send(c)
	if out.OK || out.Retryable || !strings.Contains(out.Reason, "superseded") {
		t.Errorf("outcome %+v, want a permanent superseded", out)
	}
	if n := len(f.fake.Callbacks()); n != 0 {
		t.Errorf("%d callbacks reached GitHub", n)
	}
}

// TestSend_OnlyTheAppsOwnRequestsSpeakForIt: a request of the github
// format that the App did not open — here opened with the App's origin by
// another principal, as a rule changed to the github format would carry
// requests of others — is not sent, whatever run its payload names.
func TestSend_OnlyTheAppsOwnRequestsSpeakForIt(t *testing.T) {
	f := setup(t, nil)
	r := run(860)
	f.fake.AddRun(r)
	p := ghapp.Payload{Repository: "org/service", Environment: "disclosure", RunID: 860, InstallationID: 77}
	someone := approval.Principal{ID: "svc:someone", Scopes: []approval.Scope{approval.ScopeCreate}}
	c, err := f.eng.Create(f.ctx, someone, approval.Draft{Title: "t", ServiceRule: "github", Subject: p.Subject(),
		Payload: []byte(mustJSON(p)), Origin: approval.OriginGitHub}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Review(f.ctx, alice, c.Request.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	out := f.send(f.claim(c.Request.ID))
	if out.OK || out.Retryable || !strings.Contains(out.Reason, "was not opened by this GitHub App") {
		t.Errorf("outcome %+v", out)
	}
	if n := len(f.fake.Callbacks()); n != 0 {
		t.Errorf("%d callbacks reached GitHub", n)
	}
}
