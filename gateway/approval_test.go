package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"approvald/approval"
)

// fakeStep is an ApprovalStep that remembers its calls and answers with
// the errors a test sets.
type fakeStep struct {
	mu                          sync.Mutex
	packagedBody                []byte
	packagedPayload, published  json.RawMessage
	packagedRun, mayRun         Run
	caller                      approval.Principal
	packagedErr, mayErr, pubErr error
	packagedN, mayN, publishedN int
}

func (s *fakeStep) Packaged(_ context.Context, caller approval.Principal, run Run, body []byte, payload json.RawMessage) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packagedN++
	s.packagedBody, s.packagedPayload, s.packagedRun, s.caller = bytes.Clone(body), bytes.Clone(payload), run, caller
	return "0190aaaa-0000-7000-8000-000000000001", s.packagedErr
}

func (s *fakeStep) MayPublish(_ context.Context, _ approval.Principal, run Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mayN++
	s.mayRun = run
	return s.mayErr
}

func (s *fakeStep) Published(_ context.Context, _ approval.Principal, _ Run, payload json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishedN++
	s.published = bytes.Clone(payload)
	return s.pubErr
}

// payloadOfExample returns the payload member of a contract example.
func payloadOfExample(t *testing.T, name string) []byte {
	t.Helper()
	var env struct{ Payload json.RawMessage }
	if err := json.Unmarshal(example(t, name), &env); err != nil {
		t.Fatal(err)
	}
	return env.Payload
}

func TestApproval_PackageOpensTheRequestWithTheExactBody(t *testing.T) {
	t.Parallel()
	step := &fakeStep{}
	b := setup(t, func(_ *Config, d *Deps) { d.Approval = step })
	body := example(t, "package.request.json")

	status, got := b.post(t, RoutePackage, clientKey, body)

	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", status, got)
	}
	sameJSON(t, got, example(t, "package.response.json"))
	step.mu.Lock()
	defer step.mu.Unlock()
	if step.packagedN != 1 || !bytes.Equal(step.packagedBody, body) {
		t.Errorf("Packaged called %d times with body\n%s\nwant once with\n%s", step.packagedN, step.packagedBody, body)
	}
	sameJSON(t, step.packagedPayload, payloadOfExample(t, "package.response.json"))
	if want := (Run{"Pr004", "20250205_010101"}); step.packagedRun != want || step.caller.ID != ServicePrincipal.ID {
		t.Errorf("Packaged got run %+v caller %q, want %+v %q", step.packagedRun, step.caller.ID, want, ServicePrincipal.ID)
	}
	if c := b.calls.next(t); c.ApprovalRequest != "0190aaaa-0000-7000-8000-000000000001" {
		t.Errorf("recorded approval request %q", c.ApprovalRequest)
	}
}

func TestApproval_FailedPackageOpensNoRequest(t *testing.T) {
	t.Parallel()
	step := &fakeStep{}
	b := setup(t, func(_ *Config, d *Deps) { d.Approval = step })
	b.pub.setRespond(answer(http.StatusUnprocessableEntity, `{"status":"error","payload":{"detail":"no"}}`))

	status, got := b.post(t, RoutePackage, clientKey, example(t, "package.request.json"))

	wantError(t, status, got, http.StatusUnprocessableEntity, "no")
	step.mu.Lock()
	defer step.mu.Unlock()
	if step.packagedN != 0 {
		t.Errorf("Packaged was called %d times after a failed package", step.packagedN)
	}
}

func TestApproval_PackagedFailureIs500(t *testing.T) {
	t.Parallel()
	step := &fakeStep{packagedErr: errors.New("database is down")}
	b := setup(t, func(_ *Config, d *Deps) { d.Approval = step })

	status, got := b.post(t, RoutePackage, clientKey, example(t, "package.request.json"))

	wantError(t, status, got, http.StatusInternalServerError, detailNoRequest)
}

func TestApproval_PublishIsRefusedUntilApproved(t *testing.T) {
	t.Parallel()
	run := Run{"Pr004", "20250205_010101"}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"pending", NotApproved(run, "0190aaaa", approval.StatusPending), http.StatusForbidden,
			"Approval request 0190aaaa for project Pr004 run 20250205_010101 is pending; publish is allowed once it is approved."},
		{"rejected, as a conflict", approval.Errorf(approval.KindConflict, approval.CodeConflict, "Approval request 0190aaaa is rejected."),
			http.StatusForbidden, "Approval request 0190aaaa is rejected."},
		{"no request", approval.NotFound("approval request"), http.StatusForbidden,
			"There is no approval request for project Pr004 run 20250205_010101: run package first, then have its approval request approved."},
		{"step broken", errors.New("database is down"), http.StatusInternalServerError, detailInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			step := &fakeStep{mayErr: tc.err}
			b := setup(t, func(_ *Config, d *Deps) { d.Approval = step })

			status, got := b.post(t, RoutePublish, clientKey, example(t, "publish.request.json"))

			wantError(t, status, got, tc.status, tc.detail)
			if n := len(b.pub.requests()); n != 0 {
				t.Errorf("a refused publish reached the publish service %d times", n)
			}
			step.mu.Lock()
			defer step.mu.Unlock()
			if step.mayRun != run || step.publishedN != 0 {
				t.Errorf("MayPublish got run %+v; Published called %d times", step.mayRun, step.publishedN)
			}
		})
	}
}

func TestApproval_ApprovedPublishIsForwardedAndRecorded(t *testing.T) {
	t.Parallel()
	for _, pubErr := range []error{nil, errors.New("history is down")} {
		step := &fakeStep{pubErr: pubErr}
		b := setup(t, func(_ *Config, d *Deps) { d.Approval = step })
		body := example(t, "publish.request.json")

		status, got := b.post(t, RoutePublish, clientKey, body)

		// The data is published either way: the client gets its 200.
		if status != http.StatusOK {
			t.Fatalf("Published error %v: status = %d, want 200: %s", pubErr, status, got)
		}
		sameJSON(t, got, example(t, "publish.response.json"))
		if reqs := b.pub.requests(); len(reqs) != 1 || !bytes.Equal(reqs[0].Body, body) {
			t.Errorf("publish service got %d calls", len(reqs))
		}
		step.mu.Lock()
		if step.mayN != 1 || step.publishedN != 1 {
			t.Errorf("MayPublish called %d times, Published %d; want once each", step.mayN, step.publishedN)
		}
		sameJSON(t, step.published, payloadOfExample(t, "publish.response.json"))
		step.mu.Unlock()
	}
}

func TestApproval_RequiredButNotWiredFailsClosed(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) { c.Approval = ApprovalPublish })

	status, got := b.post(t, RoutePublish, clientKey, example(t, "publish.request.json"))

	wantError(t, status, got, http.StatusInternalServerError, detailInternal)
	if n := len(b.pub.requests()); n != 0 {
		t.Errorf("an ungated publish reached the publish service %d times", n)
	}
	// package still works: the gate is only on publish.
	if status, got = b.post(t, RoutePackage, clientKey, example(t, "package.request.json")); status != http.StatusOK {
		t.Errorf("package: %d %s, want 200", status, got)
	}
}

func TestRecorder_OneCallPerRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	b.post(t, RoutePackage, clientKey, example(t, "package.request.json"))
	c := b.calls.next(t)
	if c.Caller != ServicePrincipal.ID || c.Route != RoutePackage || c.Run != (Run{"Pr004", "20250205_010101"}) ||
		c.UpstreamStatus != 200 || c.Status != 200 || c.Detail != "" || c.Duration <= 0 || c.At.IsZero() {
		t.Errorf("recorded %+v", c)
	}

	b.post(t, RoutePublish, "wrong", example(t, "publish.request.json"))
	c = b.calls.next(t)
	if c.Caller != "" || c.Route != RoutePublish || c.Run != (Run{}) || c.UpstreamStatus != 0 || c.Status != 403 || c.Detail != detailForbidden {
		t.Errorf("recorded %+v", c)
	}

	b.post(t, "/project/other", clientKey, nil)
	if c = b.calls.next(t); c.Route != "" || c.Status != 404 {
		t.Errorf("recorded %+v", c)
	}
	select {
	case extra := <-b.calls.ch:
		t.Errorf("an extra call was recorded: %+v", extra)
	default:
	}
}

func TestLog_OneLinePerCallWithoutKeysOrBodies(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	step := &fakeStep{packagedErr: errors.New("cause-for-the-operator")}
	b := setup(t, func(_ *Config, d *Deps) {
		d.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		d.Approval = step
	})
	body := example(t, "package.request.json")

	b.post(t, RoutePackage, clientKey, body)
	b.calls.next(t) // logged before it is recorded

	out := logs.String()
	for _, secret := range []string{clientKey, publishKey, metadataKey, "postgres-password-secret", "pg.example.internal"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q: %s", secret, out)
		}
	}
	// The gateway's own line (the cause, the project) and the access line
	// every face writes; nothing else.
	if n := strings.Count(out, "\n"); n != 2 || strings.Count(out, `"level":"ERROR"`) != 1 ||
		!strings.Contains(out, "cause-for-the-operator") || !strings.Contains(out, `"project":"Pr004"`) ||
		!strings.Contains(out, `"msg":"http request"`) {
		t.Errorf("want one error line with the cause and the project, and one access line, got: %s", out)
	}
}
