package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v84/github"

	"approvald/approval"
	"approvald/receipt"
)

func TestRun_GitHubScenarioOpensARequestPerDelivery(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	rep := load(t, "-url", srv.URL, "-scenario", "github", "-github-secret", srv.GitHubSecret, "-github-api-url", srv.GitHubAPIURL+"/",
		"-clients", "4", "-count", "40", "-server-pid", strconv.Itoa(os.Getpid()))
	checkOps(t, rep, "deliver")
	if rep.Ops[0].Count != 40 || rep.Target != srv.URL+"/v1/github/webhook" || rep.BodyBytes < 1000 {
		t.Errorf("report %+v, want 40 deliveries to the webhook, of their body's size", rep)
	}
	// The test's server runs in this process: its CPU time is this one's.
	if rep.ServerCPUms <= 0 || rep.ServerCPUPerCallUs*40 < rep.ServerCPUms*1000-1 || rep.ServerCPUPerCallUs*40 > rep.ServerCPUms*1000+1 {
		t.Errorf("server CPU %v ms, %v µs per call over 40 calls", rep.ServerCPUms, rep.ServerCPUPerCallUs)
	}

	// Each delivery opened a request of its own run, pending on the App's
	// service rule.
	reqs, _, err := srv.Engine.List(context.Background(), approval.Filter{ServiceRule: "github", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	subject := regexp.MustCompile(`^github:approvald-load/load-[0-9a-f]{8}/production/100000000[0-9]{2}$`)
	runs := map[string]bool{}
	for _, r := range reqs {
		if !subject.MatchString(r.Subject) || r.Status != approval.StatusPending || r.Requester != "github-app:1" {
			t.Errorf("request %s: subject %q, status %s, requester %s", r.ID, r.Subject, r.Status, r.Requester)
		}
		runs[r.Subject] = true
	}
	if len(reqs) != 40 || len(runs) != 40 {
		t.Errorf("%d requests of %d runs, want 40 of 40", len(reqs), len(runs))
	}
}

func TestRun_GitHubScenarioCountsRefusedDeliveries(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	for name, c := range map[string]struct {
		secret, apiURL, status string
	}{
		"wrong secret":  {"not-the-secret", srv.GitHubAPIURL, "401"},
		"other API URL": {srv.GitHubSecret, "https://api.github.com", "422"},
	} {
		var out bytes.Buffer
		args := []string{"-url", srv.URL, "-scenario", "github", "-github-secret", c.secret, "-github-api-url", c.apiURL,
			"-clients", "2", "-count", "6", "-json", "-fail-on-error"}
		if err := run(context.Background(), args, func(string) string { return "" }, &out); err == nil {
			t.Errorf("%s: a run of refused deliveries succeeded", name)
		}
		var rep Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 6 || len(rep.Ops) != 1 || rep.Ops[0].ErrorsByStatus[c.status] != 6 {
			t.Errorf("%s: report %+v, want 6 failures, all %s", name, rep, c.status)
		}
	}
}

func TestGitHubLoad_DeliveriesAreSignedEventsOfNewRuns(t *testing.T) {
	t.Parallel()
	g := newGitHubLoad(options{url: "http://127.0.0.1:8000", scenario: "github", githubSecret: "s3cret", githubAPIURL: "http://ghe.example/api/v3"})
	body, err := g.event(10_000_000_007)
	if err != nil {
		t.Fatal(err)
	}
	h := g.headers(body)
	if err := github.ValidateSignature(h.Get(github.SHA256SignatureHeader), body, []byte("s3cret")); err != nil {
		t.Errorf("signature: %v", err)
	}
	if github.ValidateSignature(h.Get(github.SHA256SignatureHeader), body, []byte("other")) == nil {
		t.Error("the signature verifies under another secret")
	}
	if h.Get("X-GitHub-Event") != "deployment_protection_rule" || len(h.Get("X-GitHub-Delivery")) != 36 || h.Get("X-GitHub-Delivery") == g.headers(body).Get("X-GitHub-Delivery") {
		t.Errorf("headers %v: want the event and a new GUID per delivery", h)
	}
	parsed, err := github.ParseWebHook("deployment_protection_rule", body)
	if err != nil {
		t.Fatal(err)
	}
	ev := parsed.(*github.DeploymentProtectionRuleEvent)
	want := "http://ghe.example/api/v3/repos/approvald-load/" + g.repo + "/actions/runs/10000000007/deployment_protection_rule"
	if ev.GetAction() != "requested" || ev.GetDeploymentCallbackURL() != want || ev.GetInstallation().GetID() <= 0 ||
		ev.GetRepo().GetOwner().GetLogin() != "approvald-load" || ev.GetEnvironment() == "" {
		t.Errorf("event %s, want action requested, callback %s, an installation, the owner and an environment", body, want)
	}
}

func TestIsDuplicate_OnlyAnOpenedRequestCounts(t *testing.T) {
	t.Parallel()
	for reply, want := range map[string]bool{
		`{"approval_id":"apr_1","subject":"github:o/r/e/1","status":"pending","duplicate":false}`: false,
		`{"approval_id":"apr_1","subject":"github:o/r/e/1","status":"pending","duplicate":true}`:  true,
		`{"status":"ignored","reason":"no"}`:                                                      true,
		`not json`:                                                                                true,
	} {
		if got := isDuplicate([]byte(reply)); got != want {
			t.Errorf("isDuplicate(%s) = %v, want %v", reply, got, want)
		}
	}
}

func TestRun_ReceiptScenarioReadsAndVerifiesEachReceipt(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	rep := load(t, "-url", srv.URL, "-key", admin, "-clients", "3", "-scenario", "receipt", "-count", "20", "-verify")
	checkOps(t, rep, "receipt")
	// Each of the 20 decided requests is read once: 20 distinct envelopes.
	if rep.Ops[0].Count != 20 || rep.Verified != 20 {
		t.Errorf("report %+v, want 20 receipts read and verified", rep)
	}
}

// receiptProxy forwards to target, but answers the receipt keys with a key
// set of its own (keys "other") or every receipt with the first one it
// forwarded (receipts "first").
func receiptProxy(t *testing.T, target, mode string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	signer, err := receipt.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	other, err := receipt.NewKeySet(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		firstPath string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case mode == "keys" && r.URL.Path == "/.well-known/approvald/keys":
			b, _ := other.JWKS()
			_, _ = w.Write(b)
			return
		case mode == "first" && strings.HasSuffix(r.URL.Path, "/receipt"):
			mu.Lock()
			if firstPath == "" {
				firstPath = r.URL.Path
			}
			r.URL.Path = firstPath
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRun_ReceiptScenarioFailsOnReceiptsThatDoNotVerify(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	for mode, want := range map[string]string{
		"keys":  "signed by no known key",
		"first": "is of request",
	} {
		var out bytes.Buffer
		args := []string{"-url", receiptProxy(t, srv.URL, mode), "-key", admin, "-clients", "1", "-scenario", "receipt", "-count", "5", "-verify", "-json"}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := run(ctx, args, func(string) string { return "" }, &out)
		cancel()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", mode, err, want)
		}
		var rep Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Ops[0].Count != 5 {
			t.Errorf("%s: the report (%v) is printed before the failure: %s", mode, err, out.Bytes())
		}
	}
}

func TestParseStat_CountsFieldsFromTheCommandNamesEnd(t *testing.T) {
	t.Parallel()
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
	got, err := parseStat("4242 (app (v2) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 1000\n")
	if err != nil || got != 2870*time.Millisecond {
		t.Errorf("parseStat = %v, %v; want 2.87s (287 ticks)", got, err)
	}
	for _, bad := range []string{"", "4242 app S 1", "4242 (app) S 1 2 3", "4242 (app) S 1 4242 4242 0 -1 4194560 100 0 0 0 x 37 0"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}
