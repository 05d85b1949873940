package web

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/receipt"
	"approvald/rocrate"
)

// apiGet answers GET path of the native API with key, its body read.
func (s *stack) apiGet(key, path string) response {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, string(b)}
}

// decide records reviewer's decision on request id.
func (s *stack) decide(reviewer, id string, d approval.Decision) {
	s.t.Helper()
	if _, err := s.eng.Review(context.Background(), s.principal(reviewer), id, approval.ReviewInput{Decision: d, Comment: "Checked."}, nil); err != nil {
		s.t.Fatal(err)
	}
}

// publication opens a CR8TOR publication request as the gateway's approval
// step does (a client of the API may not use a cr8tor: subject).
func (s *stack) publication(project string) *approval.Request {
	s.t.Helper()
	gw := approval.Principal{ID: "svc:cr8tor", Scopes: []approval.Scope{approval.ScopeCreate}}
	body := payload(s.t, map[string]any{"request": map[string]any{
		"project_name": project, "project_start_time": "20261201_093000",
		"destination": map[string]any{"type": "filestore", "format": "csv"},
	}})
	c, err := s.eng.Create(context.Background(), gw, approval.Draft{
		Title: "Publish " + project, Subject: "cr8tor:" + project + "/20261201_093000", Origin: approval.OriginCR8TOR, Payload: body,
	}, "", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return c.Request
}

// published records on the approved publication id the files the Publish
// service reports, as the gateway does.
func (s *stack) published(id string) {
	s.t.Helper()
	size := int64(2048)
	outcome := payload(s.t, map[string]any{"published": map[string]any{"data_published": []map[string]any{
		{"file_path": "outputs/summary.csv", "hash_value": strings.Repeat("ab", 64), "total_bytes": size},
	}}})
	gw := approval.Principal{ID: "svc:cr8tor", Scopes: []approval.Scope{approval.ScopeCreate}}
	if _, err := s.eng.RecordOutcome(context.Background(), gw, id, outcome); err != nil {
		s.t.Fatal(err)
	}
}

// receiptSection returns the page's "Signed receipt" section ("" without).
func receiptSection(page string) string {
	start := strings.Index(page, `<section class="card" aria-labelledby="receipt-h" id="receipt">`)
	if start < 0 {
		return ""
	}
	end := strings.Index(page[start:], "</section>")
	return page[start : start+end]
}

func TestReceipt_ADecidedRequestPageOffersTheReceiptTheAPIServes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	page := "/ui/requests/" + ro.req.ID
	c := s.signedIn(ro.requester)

	// Undecided: no section, and the download is a 409 page.
	if sec := receiptSection(c.get(page).body); sec != "" {
		t.Errorf("a pending request's page offers a receipt:\n%s", sec)
	}
	r := c.get(page + "/receipt")
	if r.StatusCode != http.StatusConflict || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || r.Header.Get("Content-Disposition") != "" {
		t.Fatalf("receipt before the decision: %d %v", r.StatusCode, r.Header)
	}
	mustContain(t, "the 409 page", r.body, "until it is decided", `href="`+page+`"`)

	s.decide(ro.reviewer, ro.req.ID, approval.DecisionApprove)
	body := c.get(page).body
	sec := receiptSection(body)
	if sec == "" {
		t.Fatalf("the approved request's page has no receipt section:\n%s", body)
	}
	keyID := s.receipts.Signer.PublicKey().ID
	mustContain(t, "the receipt section", sec, "Signed receipt", `id="receipt-decision">approved<`, keyID,
		`href="`+page+`/receipt" download="approval-`+ro.req.ID+`-receipt.json"`, ">Download receipt<",
		"approvalctl receipt verify approval-"+ro.req.ID+"-receipt.json --server "+s.url)
	mustNotContain(t, "the receipt section of a request that is no publication", sec, "release-record", "Download release record")

	r = c.get(page + "/receipt")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("Content-Disposition") != `attachment; filename="approval-`+ro.req.ID+`-receipt.json"` || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the receipt download: %d %v\n%s", r.StatusCode, r.Header, r.body)
	}
	if csp := r.Header.Get("Content-Security-Policy"); csp != contentSecurityPolicy || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the download lacks the UI's security headers: %v", r.Header)
	}
	api := s.apiGet(ro.reader, "/v1/approvals/"+ro.req.ID+"/receipt")
	if api.StatusCode != http.StatusOK || api.body != r.body {
		t.Errorf("the UI's receipt differs from the API's (%d):\nUI:  %q\nAPI: %q", api.StatusCode, r.body, api.body)
	}
	var env receipt.Envelope
	if err := json.Unmarshal([]byte(r.body), &env); err != nil {
		t.Fatal(err)
	}
	st, kid, err := s.receipts.Keys.VerifyKey(env)
	if err != nil || kid != keyID || st.Predicate.RequestID != ro.req.ID || st.Predicate.Decision != "approved" {
		t.Errorf("the downloaded receipt: key %q, %+v, %v", kid, st.Predicate, err)
	}

	// Not a publication: no release record.
	r = c.get(page + "/release-record")
	if r.StatusCode != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("the release record of a request that is no publication: %d %v", r.StatusCode, r.Header)
	}
	mustContain(t, "the 404 page", r.body, "not a CR8TOR publication")

	// A later change makes a newer receipt, still the API's.
	if _, err := s.eng.Revoke(context.Background(), s.principal(testAdminKey), ro.req.ID, "Paid twice.", nil); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "the revoked request's receipt section", receiptSection(c.get(page).body), `id="receipt-decision">revoked<`)
	if ui, api := c.get(page+"/receipt").body, s.apiGet(ro.reader, "/v1/approvals/"+ro.req.ID+"/receipt").body; ui != api || !strings.Contains(ui, "payloadType") {
		t.Errorf("after the revocation the UI's receipt differs from the API's:\nUI:  %q\nAPI: %q", ui, api)
	}
}

func TestReceipt_TheDownloadsNeedASessionThatMayReadTheRequest(t *testing.T) {
	t.Parallel()
	s := newStack(t, withLinks())
	ro := s.roles()
	s.decide(ro.reviewer, ro.req.ID, approval.DecisionReject)
	page := "/ui/requests/" + ro.req.ID
	signedIn := regexp.MustCompile(`^/ui/signin\?next=`)
	for _, path := range []string{page + "/receipt", page + "/release-record"} {
		// Signed out, also with a signed link's token: the sign-in page.
		for _, p := range []string{path, path + "?link=" + tokenOf(t, linkFor(ro.req, "svc:lead", time.Hour))} {
			r := s.client().get(p)
			if r.StatusCode != http.StatusSeeOther || !signedIn.MatchString(r.Header.Get("Location")) || strings.Contains(r.body, "payloadType") {
				t.Errorf("GET %s signed out: %d, Location %q", p, r.StatusCode, r.Header.Get("Location"))
			}
		}
		// Only GET.
		reader := s.signedIn(ro.reader)
		if r := reader.post(path, nil); r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d", path, r.StatusCode)
		}
	}
	// A principal that may not read requests cannot sign in; the routes
	// still ask for what the request page asks for.
	var pageRoute route
	for _, rt := range (&server{}).routes() {
		if rt.Pattern == "/ui/requests/{id}" && rt.Method == "GET" {
			pageRoute = rt
		}
	}
	for _, rt := range (&server{}).routes() {
		if strings.HasPrefix(rt.Pattern, "/ui/requests/{id}/re") && rt.Method == "GET" {
			if rt.Public || rt.Scope != pageRoute.Scope || rt.Audit != pageRoute.Audit || pageRoute.Scope != approval.ScopeRead {
				t.Errorf("%s is public %v, scope %q, audit %v; the request page: scope %q, audit %v", rt.Pattern, rt.Public, rt.Scope, rt.Audit, pageRoute.Scope, pageRoute.Audit)
			}
			if rt.Check(approval.Principal{ID: "svc:writer", Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeReview}}) == nil {
				t.Errorf("%s lets a principal without approvals:read in", rt.Pattern)
			}
		}
	}
	// The audit scope reads as approvals:read does.
	auditor := s.signedIn(s.key("auditor", approval.ScopeAudit))
	if r := auditor.get(page + "/receipt"); r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("the receipt with approvals:audit: %d %v", r.StatusCode, r.Header)
	}
	// No such request.
	reader := s.signedIn(ro.reader)
	for _, path := range []string{"/ui/requests/0190a7b2-0000-7000-8000-000000000000/receipt", "/ui/requests/0190a7b2-0000-7000-8000-000000000000/release-record", "/ui/requests/not-an-id/receipt"} {
		if r := reader.get(path); r.StatusCode != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %v", path, r.StatusCode, r.Header)
		}
	}
}

func TestReceipt_APublicationOffersItsReleaseRecordOnceSomethingIsPublished(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	pub := s.publication("proj")
	page := "/ui/requests/" + pub.ID
	c := s.signedIn(ro.reader)

	if r := c.get(page + "/release-record"); r.StatusCode != http.StatusConflict {
		t.Errorf("the release record of an undecided publication: %d", r.StatusCode)
	}
	s.decide(ro.reviewer, pub.ID, approval.DecisionApprove)
	sec := receiptSection(c.get(page).body)
	mustContain(t, "the approved publication's receipt section", sec, "Download receipt")
	mustNotContain(t, "the receipt section before anything is published", sec, "Download release record")
	r := c.get(page + "/release-record")
	if r.StatusCode != http.StatusConflict || r.Header.Get("Content-Disposition") != "" {
		t.Errorf("the release record before anything is published: %d %v", r.StatusCode, r.Header)
	}
	mustContain(t, "the 409 page", r.body, "nothing has been published")

	s.published(pub.ID)
	sec = receiptSection(c.get(page).body)
	mustContain(t, "the receipt section of a publication", sec,
		`href="`+page+`/release-record" download="ro-crate-metadata.json"`, ">Download release record<")
	r = c.get(page + "/release-record")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != rocrate.ContentType ||
		r.Header.Get("Content-Disposition") != `attachment; filename="ro-crate-metadata.json"` {
		t.Fatalf("the release record: %d %v\n%s", r.StatusCode, r.Header, r.body)
	}
	api := s.apiGet(ro.reader, "/v1/approvals/"+pub.ID+"/release-record")
	if api.StatusCode != http.StatusOK || api.body != r.body {
		t.Errorf("the UI's release record differs from the API's (%d):\nUI:  %q\nAPI: %q", api.StatusCode, r.body, api.body)
	}
	var crate struct {
		Context json.RawMessage  `json:"@context"`
		Graph   []map[string]any `json:"@graph"`
	}
	if err := json.Unmarshal([]byte(r.body), &crate); err != nil || len(crate.Graph) == 0 || !strings.Contains(r.body, "outputs/summary.csv") {
		t.Errorf("the release record is no RO-Crate naming the published file (%v):\n%s", err, r.body)
	}
	// The receipt names the published file, and is the API's.
	rec := c.get(page + "/receipt")
	var env receipt.Envelope
	if err := json.Unmarshal([]byte(rec.body), &env); err != nil {
		t.Fatal(err)
	}
	st, err := s.receipts.Keys.Verify(env)
	if err != nil || !strings.Contains(r.body, env.Signatures[0].Sig) {
		t.Errorf("the receipt does not verify (%v) or the record does not carry it", err)
	}
	if n := len(st.Subject); n < 2 || st.Subject[n-1].Name != "outputs/summary.csv" {
		t.Errorf("the receipt's subjects: %+v", st.Subject)
	}
	if api := s.apiGet(ro.reader, "/v1/approvals/"+pub.ID+"/receipt"); api.body != rec.body {
		t.Errorf("the publication's receipt differs from the API's")
	}
}

func TestReceipt_AFailedDeliveryHasNoReceipt(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such invoice", http.StatusBadRequest)
	}))
	t.Cleanup(refuse.Close)
	admin := approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}
	if _, err := s.eng.CreateRule(context.Background(), admin, approval.ServiceRule{Name: "payments", URL: refuse.URL, Format: approval.FormatStandard, MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	req := s.create(ro.requester, approval.Draft{Title: "Pay invoice 43", ServiceRule: "payments"})
	s.decide(ro.reviewer, req.ID, approval.DecisionReject)
	s.waitStatus(req.ID, approval.StatusError)
	// In error the request may still be edited (voiding the decision) and
	// decided again: no receipt attests the decision that failed.
	c := s.signedIn(ro.reader)
	if sec := receiptSection(c.get("/ui/requests/" + req.ID).body); sec != "" {
		t.Errorf("a request whose delivery failed shows a receipt section: %s", sec)
	}
	if r := c.get("/ui/requests/" + req.ID + "/receipt"); r.StatusCode != http.StatusConflict {
		t.Errorf("the receipt after a failed delivery: %d, want 409", r.StatusCode)
	}
}

func TestReceipt_WithoutAnIssuerThereIsNoSectionAndTheDownloadsAre404(t *testing.T) {
	t.Parallel()
	s := newStack(t, withoutReceipts())
	ro := s.roles()
	s.decide(ro.reviewer, ro.req.ID, approval.DecisionApprove)
	pub := s.publication("proj")
	s.decide(ro.reviewer, pub.ID, approval.DecisionApprove)
	s.published(pub.ID)
	c := s.signedIn(ro.reader)
	for _, id := range []string{ro.req.ID, pub.ID} {
		page := "/ui/requests/" + id
		if body := c.get(page).body; receiptSection(body) != "" || strings.Contains(body, "/receipt") || strings.Contains(body, "/release-record") {
			t.Errorf("%s offers downloads without an issuer", page)
		}
		for _, path := range []string{page + "/receipt", page + "/release-record"} {
			if r := c.get(path); r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "are not configured") {
				t.Errorf("GET %s without an issuer: %d", path, r.StatusCode)
			}
		}
	}
}

func TestReceipt_AReceiptThatDoesNotVerifyIsNotOfferedOnThePage(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	stranger := testReceipts(t)
	s := newStack(t, withLog(&logs), func(d *Deps) {
		// Signed by one key, published another: no verifier would accept it.
		d.Receipts = &receipt.Issuer{Signer: d.Receipts.Signer, Keys: stranger.Keys}
	})
	ro := s.roles()
	s.decide(ro.reviewer, ro.req.ID, approval.DecisionApprove)
	c := s.signedIn(ro.reader)
	r := c.get("/ui/requests/" + ro.req.ID)
	if r.StatusCode != http.StatusOK || receiptSection(r.body) != "" {
		t.Errorf("the page with a receipt that does not verify: %d, section %q", r.StatusCode, receiptSection(r.body))
	}
	if recs := logs.records("the receipt does not verify against the server's receipt keys"); len(recs) != 1 || recs[0]["approval_id"] != ro.req.ID {
		t.Errorf("logged: %s", logs.String())
	}
}

// hrefPattern finds the links of a page.
var hrefPattern = regexp.MustCompile(`href="([^"]*)"`)

// TestRequestPage_AGitHubDeploymentShowsItsRunURLAsTextOnly opens the page
// of a request the GitHub App opened, with hostile values where GitHub's
// would be: the run_url is shown as text, never a link, and nothing on the
// page links out of the UI.
func TestRequestPage_AGitHubDeploymentShowsItsRunURLAsTextOnly(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	app := approval.Principal{ID: "github-app:123456", Scopes: []approval.Scope{approval.ScopeCreate}}
	for _, runURL := range []string{"javascript:alert(document.cookie)", "https://github.com/acme/shop/actions/runs/42", `https://x.example/"><script>alert(1)</script>`} {
		c, err := s.eng.Create(context.Background(), app, approval.Draft{
			Title: "Deploy acme/shop to production", Subject: "github:acme/shop/production/42", Origin: approval.OriginGitHub,
			Payload: payload(t, map[string]any{
				"repository": "acme/shop", "environment": "production", "ref": "refs/heads/main", "sha": strings.Repeat("a", 40),
				"run_id": 42, "run_url": runURL, "actor": "octocat", "event": "push", "installation_id": 7,
			}),
		}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		s.decide(ro.reviewer, c.Request.ID, approval.DecisionApprove)
		body := s.signedIn(ro.reader).get("/ui/requests/" + c.Request.ID).body
		mustContain(t, "the deployment's page", body, "github-app:123456", "acme/shop", html.EscapeString(runURL), "Signed receipt")
		mustNotContain(t, "the deployment's page", body, "<script>alert", `href="javascript`)
		for _, m := range hrefPattern.FindAllStringSubmatch(body, -1) {
			if !strings.HasPrefix(m[1], "#") && (!strings.HasPrefix(m[1], "/") || strings.HasPrefix(m[1], "//")) {
				t.Errorf("the page links out of the UI: %q", m[1])
			}
		}
	}
}

// TestReceipt_TheSectionIsInTheLiveFragment checks that a page updated in
// place (the #live fragment htmx fetches) gains the section once decided.
func TestReceipt_TheSectionIsInTheLiveFragment(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	s.decide(ro.reviewer, ro.req.ID, approval.DecisionApprove)
	c := s.signedIn(ro.reader)
	req, _ := http.NewRequest("GET", s.url+"/ui/requests/"+ro.req.ID, nil)
	req.Header.Set("HX-Request", "true")
	r := c.do(req)
	if r.StatusCode != http.StatusOK || receiptSection(r.body) == "" || bytes.Contains([]byte(r.body), []byte("<html")) {
		t.Errorf("the live fragment: %d, section %v", r.StatusCode, receiptSection(r.body) != "")
	}
}
