package web

import (
	"bufio"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"approvald/approval"
)

// roles are the usual principals of a test: a requester, a reviewer and a
// reader without the review scope, with a pending request of the requester.
type roles struct {
	requester, reviewer, reader string
	req                         *approval.Request
}

func (s *stack) roles() roles {
	s.t.Helper()
	r := roles{
		requester: s.key("billing", approval.ScopeCreate, approval.ScopeRead),
		reviewer:  s.keyIn("lead", []string{"finance"}, approval.ScopeReview, approval.ScopeRead),
		reader:    s.key("auditor-bot", approval.ScopeRead),
	}
	r.req = s.create(r.requester, approval.Draft{
		Title: "Pay invoice 42", Description: "Quarterly licence renewal.",
		Payload: payload(s.t, map[string]any{"invoice": 42, "amount": "1200.00", "currency": "EUR"}),
	})
	return r
}

func TestSignIn_WithAnAPIKeySetsAnHttpOnlyStrictSessionCookieWithoutTheKey(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	key := s.key("lead", approval.ScopeReview, approval.ScopeRead)
	c := s.client()
	r := c.post("/ui/signin", url.Values{"csrf": {c.csrf("/ui/signin")}, "credential": {"Bearer " + key}, "next": {"/ui/admin/../requests/x"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", r.StatusCode, r.body)
	}
	ck := setCookieNamed(r.Response, "apd_session")
	if ck == nil {
		t.Fatal("no session cookie")
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure {
		t.Errorf("cookie: HttpOnly %v, SameSite %v, Path %q, Secure %v; want HttpOnly, Strict, /, not Secure over plain http", ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
	}
	if strings.Contains(ck.Value, key) || strings.Contains(ck.Value, key[len("apd_"):12]) {
		t.Error("the session cookie holds the key in clear")
	}
	if pre := setCookieNamed(r.Response, "apd_csrf"); pre == nil || pre.MaxAge >= 0 {
		t.Error("the pre-session cookie is not deleted at sign-in")
	}
	page := c.get("/ui/")
	if page.StatusCode != 200 {
		t.Fatalf("inbox: %d", page.StatusCode)
	}
	mustContain(t, "the inbox", page.body, "svc:lead", "Awaiting your review", `action="/ui/signout"`)
}

func TestSignIn_OverTLSTheCookieIsSecureWithTheHostPrefix(t *testing.T) {
	t.Parallel()
	s := newStack(t, withConfig(func(c *Config) { c.BaseURL = "https://approvals.example" }))
	key := s.key("lead", approval.ScopeRead)
	c := s.client()
	// The UI is reached through a TLS-ending proxy at the base URL.
	r := c.post("/ui/signin", url.Values{"csrf": {"x"}, "credential": {key}}, "Origin", "https://approvals.example")
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in without the pre-session cookie: %d, want 403", r.StatusCode)
	}
	page := c.get("/ui/signin")
	pre := setCookieNamed(page.Response, "__Host-apd_csrf")
	if pre == nil || !pre.Secure {
		t.Fatalf("pre-session cookie: %+v, want __Host-apd_csrf, Secure", pre)
	}
	if got := page.Header.Get("Strict-Transport-Security"); got == "" {
		t.Error("no Strict-Transport-Security behind https")
	}
	token := csrfPattern.FindStringSubmatch(page.body)[1]
	req, _ := http.NewRequest("POST", s.url+"/ui/signin", strings.NewReader(url.Values{"csrf": {token}, "credential": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://approvals.example")
	req.AddCookie(&http.Cookie{Name: "__Host-apd_csrf", Value: pre.Value})
	r = c.do(req)
	ck := setCookieNamed(r.Response, "__Host-apd_session")
	if r.StatusCode != http.StatusSeeOther || ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in: %d, cookie %+v; want 303 and a Secure, HttpOnly, Strict __Host-apd_session", r.StatusCode, ck)
	}
}

func TestSignIn_AnUnknownKeyIsRefusedWithoutASession(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c := s.client()
	r := c.post("/ui/signin", url.Values{"csrf": {c.csrf("/ui/signin")}, "credential": {"apd_not-a-key-0123456789abcdefghijklmnopqrstu"}})
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign-in: %d, want 401", r.StatusCode)
	}
	if setCookieNamed(r.Response, "apd_session") != nil {
		t.Error("a session cookie was set")
	}
	mustContain(t, "the sign-in page", r.body, "not valid")
}

func TestSignIn_AKeyThatCannotReadIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	key := s.key("writer", approval.ScopeCreate)
	c := s.client()
	r := c.post("/ui/signin", url.Values{"csrf": {c.csrf("/ui/signin")}, "credential": {key}})
	if r.StatusCode != http.StatusForbidden || setCookieNamed(r.Response, "apd_session") != nil {
		t.Fatalf("sign-in: %d, want 403 and no session", r.StatusCode)
	}
}

func TestSignIn_WithoutTheFormsCSRFTokenIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	key := s.key("lead", approval.ScopeRead)
	c := s.client()
	c.get("/ui/signin") // has the pre-session cookie, but the form lacks the token
	r := c.post("/ui/signin", url.Values{"credential": {key}})
	if r.StatusCode != http.StatusForbidden || setCookieNamed(r.Response, "apd_session") != nil {
		t.Fatalf("sign-in without a CSRF token: %d, want 403 and no session", r.StatusCode)
	}
}

func TestPages_WithoutASessionRedirectToSignInAndBack(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.client()
	r := c.get("/ui/requests/" + ro.req.ID)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET without a session: %d, want 303", r.StatusCode)
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	if loc.Path != "/ui/signin" || loc.Query().Get("next") != "/ui/requests/"+ro.req.ID {
		t.Fatalf("redirect to %s", loc)
	}
	form := url.Values{"csrf": {c.csrf(loc.String())}, "credential": {ro.reviewer}, "next": {loc.Query().Get("next")}}
	r = c.post("/ui/signin", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/ui/requests/"+ro.req.ID {
		t.Fatalf("sign-in: %d, Location %q; want back to the request", r.StatusCode, r.Header.Get("Location"))
	}
	if r := s.client().post("/ui/requests/"+ro.req.ID+"/review", url.Values{"decision": {"approve"}}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without a session: %d, want 401", r.StatusCode)
	}
	if r := s.client().get("/ui/events"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("event stream without a session: %d, want 401", r.StatusCode)
	}
}

func TestSafeNext_OnlyReturnsToPagesOfTheUI(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"/ui/requests/1?x=y":  "/ui/requests/1?x=y",
		"":                    "/ui/",
		"https://evil.test/":  "/ui/",
		"//evil.test/ui/":     "/ui/",
		"/ui//evil.test":      "/ui/",
		"/ui/\\evil.test":     "/ui/",
		"/v1/approvals":       "/ui/",
		"/ui/signin?next=/ui": "/ui/",
		"/ui/auth/callback":   "/ui/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestReview_ApprovingWithACommentDecidesAndShowsOnTheTimeline(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + ro.req.ID
	before := c.get(page)
	mustContain(t, "the request page", before.body, `value="approve"`, `value="reject"`, "Pay invoice 42", "1200.00", "Quarterly licence renewal.")
	r := c.post(page+"/review", url.Values{"csrf": {c.csrf(page)}, "decision": {"approve"}, "comment": {"matches PO 7781"}, "version": {"1"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page+"?done=approve" {
		t.Fatalf("approve: %d, Location %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	got := s.get(ro.req.ID)
	if got.Status != approval.StatusApproved || len(got.Reviews) != 1 || got.Reviews[0].Comment != "matches PO 7781" || got.Reviews[0].Reviewer != "svc:lead" {
		t.Fatalf("after approving: status %s, reviews %+v", got.Status, got.Reviews)
	}
	after := c.get(page + "?done=approve")
	mustContain(t, "the page after approving", after.body, "You approved this request.", `data-status="approved"`, "svc:lead</span> <span class=\"verb\">approved</span>", "matches PO 7781")
	mustNotContain(t, "the page after approving", after.body, `value="approve"`)
}

func TestReview_AReviewOfAnOlderVersionIsRefusedKeepingTheComment(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + ro.req.ID
	token := c.csrf(page)
	// The requester changes the payload after the reviewer loaded the page.
	if _, err := s.eng.Edit(context.Background(), s.principal(ro.requester), ro.req.ID,
		approval.Patch{Payload: approval.Some(payload(t, map[string]any{"invoice": 42, "amount": "9999.00"}))}, nil); err != nil {
		t.Fatal(err)
	}
	r := c.post(page+"/review", url.Values{"csrf": {token}, "decision": {"approve"}, "comment": {"looks fine to me"}, "version": {"1"}})
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("stale approve: %d, want 409", r.StatusCode)
	}
	mustContain(t, "the refused page", r.body, "Not done.", "read it again", "looks fine to me", "9999.00")
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending {
		t.Fatalf("status %s after a stale review", got.Status)
	}
}

// The review form carries the content digest the reviewer saw, and the page
// shows the digest of the content and of each review: a review of content
// that changed meanwhile is refused even without a version.
func TestReview_TheFormBindsTheReviewToTheContentShown(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + ro.req.ID
	seen := s.get(ro.req.ID).Digest
	body := c.get(page).body
	mustContain(t, "the request page", body, `name="content_digest" value="`+seen+`"`, seen[:19]+"…")
	token := c.csrf(page)
	if _, err := s.eng.Edit(context.Background(), s.principal(ro.requester), ro.req.ID,
		approval.Patch{Title: approval.Some("Pay invoice 42 twice")}, nil); err != nil {
		t.Fatal(err)
	}
	r := c.post(page+"/review", url.Values{"csrf": {token}, "decision": {"approve"}, "content_digest": {seen}})
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("approving content that changed: %d, want 409", r.StatusCode)
	}
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending || len(got.Reviews) != 0 {
		t.Fatalf("status %s, reviews %+v after a review of old content", got.Status, got.Reviews)
	}
}

func TestReview_APrincipalWithoutTheReviewScopeSeesNoButtonAndGets403(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reader)
	page := "/ui/requests/" + ro.req.ID
	body := c.get(page).body
	mustNotContain(t, "the reader's page", body, `value="approve"`, `value="reject"`, `/review"`)
	mustContain(t, "the reader's page", body, "lack the approvals:review scope")
	r := c.post(page+"/review", url.Values{"csrf": {c.csrf(page)}, "decision": {"approve"}})
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("approve without the review scope: %d, want 403", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "approvals:review")
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending || len(got.Reviews) != 0 {
		t.Fatalf("the request changed: %s, %d reviews", got.Status, len(got.Reviews))
	}
}

func TestReview_TheRequesterMayCancelButNotReviewTheirOwnRequest(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	// The requester may also review, but not their own request.
	requester := s.key("ops", approval.ScopeCreate, approval.ScopeRead, approval.ScopeReview)
	req := s.create(requester, approval.Draft{Title: "Deploy 1.2.3"})
	c := s.signedIn(requester)
	page := "/ui/requests/" + req.ID
	body := c.get(page).body
	mustNotContain(t, "the requester's page", body, `value="approve"`)
	mustContain(t, "the requester's page", body, "may not review their own request", `action="/ui/requests/`+req.ID+`/cancel"`)
	r := c.post(page+"/review", url.Values{"csrf": {c.csrf(page)}, "decision": {"approve"}})
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("self-approval: %d, want 403", r.StatusCode)
	}
	r = c.post(page+"/cancel", url.Values{"csrf": {c.csrf(page)}, "comment": {"wrong build"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d\n%s", r.StatusCode, r.body)
	}
	if got := s.get(req.ID); got.Status != approval.StatusCancelled || got.Comment != "wrong build" {
		t.Fatalf("after cancel: %s, comment %q", got.Status, got.Comment)
	}
	// Another principal's request offers no cancel button, and refuses one.
	other := c.get("/ui/requests/" + ro.req.ID).body
	mustNotContain(t, "another's request", other, "/cancel\"")
	if r := c.post("/ui/requests/"+ro.req.ID+"/cancel", url.Values{"csrf": {c.csrf(page)}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("cancelling another's request: %d, want 403", r.StatusCode)
	}
}

func TestComment_TheRequesterEditsTheCommentOfADecidedRequest(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	if _, err := s.eng.Review(context.Background(), s.principal(ro.reviewer), ro.req.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	c := s.signedIn(ro.requester)
	page := "/ui/requests/" + ro.req.ID
	mustContain(t, "the requester's page", c.get(page).body, "Edit the comment")
	r := c.post(page+"/comment", url.Values{"csrf": {c.csrf(page)}, "comment": {"paid 2026-11-24"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("comment: %d\n%s", r.StatusCode, r.body)
	}
	if got := s.get(ro.req.ID); got.Comment != "paid 2026-11-24" {
		t.Fatalf("comment %q", got.Comment)
	}
	mustContain(t, "the timeline", c.get(page).body, "changed the comment", "paid 2026-11-24")
}

func TestCSRF_AFormWithoutTheTokenIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + ro.req.ID
	for name, form := range map[string]url.Values{
		"no token":        {"decision": {"approve"}},
		"empty token":     {"decision": {"approve"}, "csrf": {""}},
		"forged token":    {"decision": {"approve"}, "csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		"another's token": {"decision": {"approve"}, "csrf": {s.signedIn(ro.reader).csrf(page)}},
		"the pre-session": {"decision": {"approve"}, "csrf": {s.client().csrf("/ui/signin")}},
	} {
		r := c.post(page+"/review", form)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.StatusCode)
		}
		mustContain(t, name, r.body, "CSRF")
	}
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending {
		t.Fatalf("a forged form changed the request: %s", got.Status)
	}
}

func TestCSRF_AFormFromAnotherSiteIsRefusedEvenWithTheToken(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	page := "/ui/requests/" + ro.req.ID
	token := c.csrf(page)
	for name, hdr := range map[string][]string{
		"Origin of another site":   {"Origin", "http://evil.example"},
		"Origin null":              {"Origin", "null"},
		"Sec-Fetch-Site same-site": {"Sec-Fetch-Site", "same-site"},
		"Sec-Fetch-Site cross":     {"Sec-Fetch-Site", "cross-site"},
	} {
		r := c.post(page+"/review", url.Values{"csrf": {token}, "decision": {"approve"}}, hdr...)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.StatusCode)
		}
	}
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending {
		t.Fatalf("a cross-site form changed the request: %s", got.Status)
	}
}

func TestSignOut_EndsTheSessionInTheBrowser(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	if r := c.post("/ui/signout", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out without a CSRF token: %d, want 403", r.StatusCode)
	}
	r := c.post("/ui/signout", url.Values{"csrf": {c.csrf("/ui/")}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/ui/signin?signedout=1" {
		t.Fatalf("sign-out: %d, Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if ck := setCookieNamed(r.Response, "apd_session"); ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("sign-out does not delete the session cookie: %+v", ck)
	}
	if r := c.get("/ui/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("inbox after sign-out: %d, want a redirect to sign in", r.StatusCode)
	}
	mustContain(t, "the sign-in page", c.get("/ui/signin?signedout=1").body, "You are signed out.")
}

func TestSession_ATamperedCookieIsRefusedAndCleared(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	good := s.signedIn(ro.reviewer).cookie("apd_session").Value
	flip := func(v string, i int) string {
		b := []byte(v)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for name, value := range map[string]string{
		"a flipped byte in the ciphertext": flip(good, len(good)-10),
		"a flipped byte in the nonce":      flip(good, 2),
		"truncated":                        good[:20],
		"not base64":                       "!!!" + good,
		"empty":                            "",
		"an API key":                       ro.reviewer,
	} {
		c := s.client()
		req, _ := http.NewRequest("GET", s.url+"/ui/", nil)
		req.AddCookie(&http.Cookie{Name: "apd_session", Value: value})
		r := c.do(req)
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/ui/signin?") {
			t.Errorf("%s: %d, Location %q; want a redirect to sign in", name, r.StatusCode, r.Header.Get("Location"))
		}
		if ck := setCookieNamed(r.Response, "apd_session"); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("%s: the bad cookie is not cleared", name)
		}
	}
}

func TestSession_ACookieSealedByAnotherServerKeyIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	other := newStack(t, withConfig(func(c *Config) { c.SessionKey = []byte("another-session-key-0123456789abcdefgh") }))
	otherCookie := other.signedIn(other.key("lead", approval.ScopeRead)).cookie("apd_session")
	req, _ := http.NewRequest("GET", s.url+"/ui/", nil)
	req.AddCookie(&http.Cookie{Name: "apd_session", Value: otherCookie.Value})
	if r := s.client().do(req); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("a cookie of another server key: %d, want a redirect to sign in", r.StatusCode)
	}
	// The cookie works where it was made: the refusal is the key's doing.
	req, _ = http.NewRequest("GET", other.url+"/ui/", nil)
	req.AddCookie(&http.Cookie{Name: "apd_session", Value: otherCookie.Value})
	if r := other.client().do(req); r.StatusCode != http.StatusOK {
		t.Fatalf("the cookie on its own server: %d", r.StatusCode)
	}
}

func TestSession_EndsAtItsLifetime(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	if r := c.get("/ui/"); r.StatusCode != http.StatusOK {
		t.Fatalf("inbox: %d", r.StatusCode)
	}
	s.clock.Advance(time.Hour + time.Second)
	r := c.get("/ui/")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "expired=1") {
		t.Fatalf("inbox after the session's lifetime: %d, Location %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestSession_RevokingTheKeyEndsTheSession(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	keys, err := s.keys.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == "lead" {
			if err := s.keys.Revoke(context.Background(), k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r := c.get("/ui/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("inbox with a revoked key: %d, want a redirect to sign in", r.StatusCode)
	}
}

func TestSecurityHeaders_OnPagesErrorsAndStaticFiles(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	if r := s.client().get("/ui/signin"); r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("sign-in page: Cache-Control %q, X-Frame-Options %q", r.Header.Get("Cache-Control"), r.Header.Get("X-Frame-Options"))
	}
	for _, path := range []string{"/ui/", "/ui/requests/" + ro.req.ID, "/ui/nope", "/ui/static/app.js", "/ui/admin/keys"} {
		r := c.get(path)
		h := r.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows something unsafe: %q", path, csp)
		}
		for name, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		if strings.HasPrefix(path, "/ui/static/") {
			continue
		}
		if got := h.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, got)
		}
		if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") || strings.Contains(r.body, " onclick=") {
			t.Errorf("%s: the page has inline script or style, which the CSP would block", path)
		}
	}
	r := c.get(asset("app.js"))
	if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("versioned asset: %d, Cache-Control %q, Content-Type %q", r.StatusCode, r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
	}
	if r := c.get("/ui/static/README.md"); r.StatusCode != http.StatusNotFound {
		t.Errorf("static notes are served: %d", r.StatusCode)
	}
}

func TestFavicon_IsServedAtTheRootAndNamedByThePages(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c := s.client()
	r := c.get("/favicon.ico")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "image/x-icon" || !strings.HasPrefix(r.body, "\x00\x00\x01\x00") {
		t.Fatalf("GET /favicon.ico: %d, Content-Type %q, %d bytes", r.StatusCode, r.Header.Get("Content-Type"), len(r.body))
	}
	if r := c.get("/favicon.ico"); r.Header.Get("ETag") == "" || !strings.HasPrefix(r.Header.Get("Cache-Control"), "public") {
		t.Errorf("GET /favicon.ico: ETag %q, Cache-Control %q: browsers would ask again and again", r.Header.Get("ETag"), r.Header.Get("Cache-Control"))
	}
	page := c.get("/ui/signin").body
	mustContain(t, "the sign-in page", page, `<link rel="icon" href="`+asset("favicon.svg")+`" type="image/svg+xml">`)
	if r := c.get(asset("favicon.svg")); r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(r.body, "<svg") {
		t.Errorf("GET %s: %d, Content-Type %q", asset("favicon.svg"), r.StatusCode, r.Header.Get("Content-Type"))
	}
}

func TestPages_AreReadableWithoutJavaScript(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	dep := s.create(ro.requester, approval.Draft{Title: "Budget 2027"})
	deadline := time.Now().Add(3 * time.Hour)
	req := s.create(ro.requester, approval.Draft{
		Title: "Release cohort 7", DependsOn: []string{dep.ID}, Deadline: &deadline,
		Payload: []byte(`{"dataset":"cohort-7","zeta":true,"files":[{"name":"a.csv","rows":120}],"alpha":null}`),
		Policy:  &approval.Policy{Rules: []approval.Rule{{Name: "owners", MinApprovals: 2, Groups: []string{"data-owners"}}, {Name: "security", MinApprovals: 1, Principals: []string{"user:sam"}}}},
	})
	c := s.signedIn(ro.reviewer)
	body := c.get("/ui/requests/" + req.ID).body
	mustContain(t, "the request page", body,
		"Release cohort 7", `data-status="pending"`,
		"<details open>", `<span class="jk">files</span>`, `"a.csv"`, // the payload as a tree
		"owners", "members of data-owners", "user:sam", "0 of 2", // progress per rule
		"Budget 2027", // the dependency, by title
		"deadline soon", "in 3 hours",
		"created the request", "chain verified",
	)
	// Members keep the order the requester gave them.
	if i, j := strings.Index(body, ">zeta<"), strings.Index(body, ">alpha<"); i < 0 || j < 0 || i > j {
		t.Errorf("payload members are not in their original order (zeta at %d, alpha at %d)", i, j)
	}
	flat := c.get("/ui/requests/" + ro.req.ID).body
	mustContain(t, "a flat payload", flat, `<table class="kv">`, `<th scope="row">amount</th>`)
}

func TestInbox_ListsAwaitingRequestsThenAllWithFiltersAndPages(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	other := s.key("ops", approval.ScopeCreate, approval.ScopeRead)
	for i := range listLimit + 2 {
		s.create(other, approval.Draft{Title: "Deploy build " + string(rune('A'+i%26)) + "-" + time.Now().Format("150405.000000")})
	}
	finance := s.create(ro.requester, approval.Draft{Title: "Finance only", Policy: &approval.Policy{Rules: []approval.Rule{{Name: "fin", MinApprovals: 1, Groups: []string{"finance"}}}}})
	c := s.signedIn(ro.reviewer)
	body := c.get("/ui/").body
	mustContain(t, "the inbox", body, "Finance only", "Pay invoice 42", `id="awaiting-count">50+`, "More awaiting you")
	filtered := c.get("/ui/?requester=svc:billing").body
	mustContain(t, "the filtered list", filtered, "Finance only", "Pay invoice 42", `id="all-count">2<`)
	if strings.Count(filtered, "Deploy build") > strings.Count(body, "Deploy build") {
		t.Error("the requester filter lets other requests through")
	}
	if r := c.get("/ui/?status=bogus"); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("unknown status filter: %d, want 422", r.StatusCode)
	}
	// Someone approves the finance request: it leaves the inbox.
	if _, err := s.eng.Review(context.Background(), s.principal(s.keyIn("fin2", []string{"finance"}, approval.ScopeReview)), finance.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	pending := c.get("/ui/?status=approved").body
	mustContain(t, "approved requests", pending, "Finance only", `id="all-count">1<`)
	first := c.get("/ui/").body
	next := regexpFind(t, first, `href="(/ui/\?before=[^"]+)">Older`)
	second := c.get(html.UnescapeString(next)).body
	mustContain(t, "the second page", second, "← Newest")
}

func TestEvents_StreamTheChangesOfTheShownRequest(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reader)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/ui/events?request="+ro.req.ID, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // the retry line: the stream is subscribed
	if _, err := s.eng.Review(context.Background(), s.principal(ro.reviewer), ro.req.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			if strings.Contains(data, ro.req.ID) && strings.Contains(data, `"version":1`) && strings.Contains(data, approval.EventCreated) {
				// The hub had not yet read the request's creation when the
				// stream subscribed (a busy machine): it comes first.
				continue
			}
			if !strings.Contains(data, ro.req.ID) || !strings.Contains(data, `"version":2`) || !strings.Contains(data, approval.EventDecided) {
				t.Fatalf("event data %s", data)
			}
			return
		}
	}
	t.Fatalf("the stream ended without the change: %v", lines.Err())
}

func TestEvents_StreamsEndWhenTheServerStops(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reader)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/ui/events", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Scan()
	s.stopUI()
	for lines.Scan() {
	}
	if ctx.Err() != nil || lines.Err() != nil {
		t.Fatalf("the stream did not end when the server began to stop: %v %v", ctx.Err(), lines.Err())
	}
}

func TestAdmin_PagesNeedTheAdminScope(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	for _, path := range []string{"/ui/admin/keys", "/ui/admin/rules", "/ui/admin/deliveries"} {
		if r := c.get(path); r.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s as a reviewer: %d, want 403", path, r.StatusCode)
		}
	}
	if r := c.post("/ui/admin/keys", url.Values{"csrf": {c.csrf("/ui/")}, "name": {"x"}, "scopes": {"admin"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("creating a key as a reviewer: %d, want 403", r.StatusCode)
	}
	mustNotContain(t, "a reviewer's navigation", c.get("/ui/").body, "/ui/admin/")
	auditor := s.signedIn(s.key("auditor", approval.ScopeAudit))
	r := auditor.get("/ui/admin/keys")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("keys page as an auditor: %d", r.StatusCode)
	}
	mustNotContain(t, "the auditor's keys page", r.body, "Create key", "/revoke")
}

func TestAdmin_ACreatedKeyIsShownOnceAndWorks(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c := s.signedIn(testAdminKey)
	form := url.Values{"csrf": {c.csrf("/ui/admin/keys")}, "name": {"finance-lead"}, "scopes": {"approvals:review", "approvals:read"}, "groups": {"finance, approvers"}}
	r := c.post("/ui/admin/keys", form)
	if r.StatusCode != http.StatusCreated || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create key: %d, Cache-Control %q\n%s", r.StatusCode, r.Header.Get("Cache-Control"), r.body)
	}
	secret := regexpFind(t, r.body, `<code id="new-secret" class="secretval">(apd_[^<]+)</code>`)
	p := s.principal(secret)
	if p.ID != "svc:finance-lead" || !p.InGroup("approvers") || !p.Has(approval.ScopeReview) || p.Has(approval.ScopeCreate) {
		t.Fatalf("the created key is %+v", p)
	}
	if strings.Contains(c.get("/ui/admin/keys").body, secret) {
		t.Fatal("the keys page shows the secret again")
	}
	r = c.post("/ui/admin/keys", url.Values{"csrf": {form.Get("csrf")}, "name": {"Bad Name"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid key: %d, want 422", r.StatusCode)
	}
	mustContain(t, "the refused form", r.body, "must be 1-63 characters", `value="Bad Name"`)
}

func TestAdmin_AFailedDeliveryIsListedAndRedelivered(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	var refuse atomic.Bool
	refuse.Store(true)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			http.Error(w, "no such invoice", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	admin := s.signedIn(testAdminKey)
	r := admin.post("/ui/admin/rules", url.Values{"csrf": {admin.csrf("/ui/admin/rules")}, "name": {"payments"}, "url": {receiver.URL}, "format": {"standard"}, "max_attempts": {"1"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create rule: %d\n%s", r.StatusCode, r.body)
	}
	mustContain(t, "the created rule", r.body, "whsec_", "shown only now")
	req := s.create(ro.requester, approval.Draft{Title: "Pay invoice 43", ServiceRule: "payments"})
	if _, err := s.eng.Review(context.Background(), s.principal(ro.reviewer), req.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(req.ID, approval.StatusError)
	page := admin.get("/ui/admin/deliveries").body
	mustContain(t, "the deliveries page", page, "Pay invoice 43", "400", `action="/ui/requests/`+req.ID+`/redeliver"`)
	reqPage := admin.get("/ui/requests/" + req.ID).body
	mustContain(t, "the failed request's page", reqPage, "Deliver again", "Last error")
	refuse.Store(false)
	r = admin.post("/ui/requests/"+req.ID+"/redeliver", url.Values{"csrf": {admin.csrf("/ui/admin/deliveries")}, "from": {"deliveries"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/ui/admin/deliveries?done=redeliver" {
		t.Fatalf("redeliver: %d, Location %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	s.waitStatus(req.ID, approval.StatusApproved)
	mustContain(t, "the history", admin.get("/ui/requests/"+req.ID).body, "asked to deliver the decision again", "delivered the decision")
	// A reviewer may not redeliver.
	rc := s.signedIn(ro.reviewer)
	if r := rc.post("/ui/requests/"+req.ID+"/redeliver", url.Values{"csrf": {rc.csrf("/ui/")}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("redeliver as a reviewer: %d, want 403", r.StatusCode)
	}
}

func TestErrors_UnknownPagesAndRequestsAre404Pages(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reader)
	for _, path := range []string{"/ui/requests/0190a7b2-0000-7000-8000-000000000000", "/ui/requests/not-an-id", "/ui/nothing-here"} {
		r := c.get(path)
		if r.StatusCode != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s, want a 404 page", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	if r := c.get("/ui"); r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d → %q, want a redirect to /ui/", r.StatusCode, r.Header.Get("Location"))
	}
}

// regexpFind returns the first group of pattern's first match in s.
func regexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s", pattern)
	}
	return m[1]
}

func TestRequestPage_ShowsInvisibleCharactersOfThePayloadAsEscapes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	span := func(code, esc string) string {
		return `<span class="invisible" title="U+` + code + `, an invisible character">` + esc + `</span>`
	}
	for _, p := range []string{
		// A flat payload (a table) and a nested one (a tree), with the
		// review's deceptive file name in a value and in a key.
		`{"file":"invoice-42-gnp\u202e.exe","am\u200bount":"1200.00"}`,
		`{"files":[{"name":"invoice-42-gnp\u202e.exe","am\u200bount":"1200.00"}]}`,
	} {
		req := s.create(ro.requester, approval.Draft{Title: "Pay invoice 42", Payload: json.RawMessage(p)})
		page := s.signedIn(ro.reviewer).get("/ui/requests/" + req.ID)
		if page.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", page.StatusCode, page.body)
		}
		mustContain(t, "the request page", page.body,
			"invoice-42-gnp"+span("202E", `\u202e`)+".exe",
			"am"+span("200B", `\u200b`)+"ount",
		)
		// Nowhere on the page, the raw JSON included, does the override
		// or the zero-width space itself appear.
		if strings.ContainsAny(page.body, "\u202e\u200b") {
			i := strings.IndexAny(page.body, "\u202e\u200b")
			t.Errorf("the page holds an invisible character itself: …%s…", page.body[max(0, i-80):min(len(page.body), i+80)])
		}
	}
}

func TestForms_OverTheLimitAre413AndOtherMethodsAre405(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.requester)
	page := "/ui/requests/" + ro.req.ID
	r := c.post(page+"/comment", url.Values{"csrf": {c.csrf(page)}, "comment": {strings.Repeat("a", maxFormBytes)}})
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "larger than") {
		t.Errorf("a form over the limit: %d, want a 413 page\n%.300s", r.StatusCode, r.body)
	}
	if got := s.get(ro.req.ID); got.Comment != ro.req.Comment {
		t.Errorf("comment %q changed", got.Comment)
	}
	r = c.get(page + "/comment")
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET of a form's route: %d Allow %q, want a 405 page allowing POST", r.StatusCode, r.Header.Get("Allow"))
	}
}
