package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/signedlink"
)

// testLinks is the signer of the tests' links, as the notifier would sign.
var testLinks = func() *signedlink.Signer {
	s, err := signedlink.New(signedlink.Key{ID: "k1", Secret: []byte("web-test-link-key-0123456789abcdef")})
	if err != nil {
		panic(err)
	}
	return s
}()

// withLinks makes the UI accept testLinks' links.
func withLinks() stackOption {
	return withConfig(func(c *Config) { c.Links = testLinks })
}

// logBuffer is a slog JSON sink the tests read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the log records whose message is msg.
func (b *logBuffer) records(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withLog sends the UI's log to b.
func withLog(b *logBuffer) stackOption {
	return func(d *Deps) {
		d.Logger = slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// linkFor returns the path of a link to req for recipient, valid for ttl
// (expired when negative), as a notification carries it.
func linkFor(req *approval.Request, recipient string, ttl time.Duration) string {
	tok := testLinks.Sign(signedlink.Claims{RequestID: req.ID, Version: req.Version, Digest: req.Digest, Recipient: recipient, Expires: time.Now().Add(ttl)})
	return "/ui/requests/" + req.ID + "?" + url.Values{linkParam: {tok}}.Encode()
}

// tokenOf returns the token of a link's path.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(linkParam)
}

// reviewForm returns the review form of a link, with the session's CSRF
// token, the request's version and digest, and the link's token.
func reviewForm(c *client, req *approval.Request, link, decision string) url.Values {
	c.t.Helper()
	return url.Values{
		"csrf": {c.csrf("/ui/requests/" + req.ID)}, "decision": {decision}, "version": {strconv.FormatInt(req.Version, 10)},
		"content_digest": {req.Digest}, linkParam: {tokenOf(c.t, link)},
	}
}

func TestLink_SignedOutItSignsInAndComesBackWithTheDecisionFormReady(t *testing.T) {
	t.Parallel()
	s := newStack(t, withLinks())
	ro := s.roles()
	link := linkFor(ro.req, "svc:lead", time.Hour)
	c := s.client()
	r := c.get(link)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the link signed out: %d, want 303 to the sign-in page", r.StatusCode)
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	if loc.Path != "/ui/signin" || loc.Query().Get("next") != link {
		t.Fatalf("the link redirects to %s, want the sign-in page coming back to the link", loc)
	}
	r = c.post("/ui/signin", url.Values{"csrf": {c.csrf(loc.RequestURI())}, "credential": {ro.reviewer}, "next": {loc.Query().Get("next")}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != link {
		t.Fatalf("sign-in: %d to %q, want 303 back to the link", r.StatusCode, r.Header.Get("Location"))
	}
	page := c.get(link)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("the link signed in: %d\n%s", page.StatusCode, page.body)
	}
	mustContain(t, "the page opened from the link", page.body, `id="from-link"`, `name="link" value="`+tokenOf(t, link)+`"`, `name="comment" rows="4" maxlength="10000" autofocus`)
}

func TestLink_TheRecipientApprovesFromTheLinkAndTheLinkIsCheckedAgain(t *testing.T) {
	t.Parallel()
	s := newStack(t, withLinks())
	ro := s.roles()
	link := linkFor(ro.req, "svc:lead", time.Hour)
	c := s.signedIn(ro.reviewer)
	if r := c.get(link); r.StatusCode != http.StatusOK {
		t.Fatalf("the link: %d", r.StatusCode)
	}
	r := c.post("/ui/requests/"+ro.req.ID+"/review", reviewForm(c, ro.req, link, "approve"))
	if r.StatusCode != http.StatusSeeOther || strings.Contains(r.Header.Get("Location"), linkParam) {
		t.Fatalf("approving from the link: %d to %q, want 303 to the page without the token\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if got := s.get(ro.req.ID); got.Status != approval.StatusApproved || got.Reviews[0].Reviewer != "svc:lead" {
		t.Fatalf("after approving from the link: %s, %+v", got.Status, got.Reviews)
	}
}

func TestLink_AnotherPrincipalsLinkIsRefusedWith403AndLogged(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	s := newStack(t, withLinks(), withLog(logs))
	ro := s.roles()
	other := s.keyIn("other-lead", []string{"finance"}, approval.ScopeReview, approval.ScopeRead)
	link := linkFor(ro.req, "svc:lead", time.Hour)
	c := s.signedIn(other)
	r := c.get(link)
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("someone else's link: %d, want 403", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "sent to someone else", CodeLinkRecipient, `href="/ui/requests/`+ro.req.ID+`"`)
	// The form of the page opened without the token, posted with someone
	// else's token: refused before the engine is asked.
	form := reviewForm(c, ro.req, link, "approve")
	if r := c.post("/ui/requests/"+ro.req.ID+"/review", form); r.StatusCode != http.StatusForbidden {
		t.Fatalf("reviewing with someone else's link: %d, want 403", r.StatusCode)
	}
	if got := s.get(ro.req.ID); len(got.Reviews) != 0 {
		t.Fatalf("the review with someone else's link was recorded: %+v", got.Reviews)
	}
	recs := logs.records("signed link used by another principal")
	if len(recs) != 2 {
		t.Fatalf("%d warnings, want one per use:\n%s", len(recs), logs)
	}
	if rec := recs[0]; rec["level"] != "WARN" || rec["recipient"] != "svc:lead" || rec["principal"] != "svc:other-lead" || rec["approval_id"] != ro.req.ID {
		t.Errorf("the warning: %v", rec)
	}
	if strings.Contains(logs.String(), tokenOf(t, link)) {
		t.Error("the log shows the link's token")
	}
}

func TestLink_ALinkToContentThatChangedIsRefusedWith409(t *testing.T) {
	t.Parallel()
	s := newStack(t, withLinks())
	ro := s.roles()
	link := linkFor(ro.req, "svc:lead", time.Hour)
	if _, err := s.eng.Edit(context.Background(), s.principal(ro.requester), ro.req.ID, approval.Patch{Payload: approval.Some(json.RawMessage(`{"invoice":42,"amount":"9999.00"}`))}, nil); err != nil {
		t.Fatal(err)
	}
	c := s.signedIn(ro.reviewer)
	r := c.get(link)
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("a link to changed content: %d, want 409", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "changed after the link was sent", `id="open-request" href="/ui/requests/`+ro.req.ID+`"`)
	form := reviewForm(c, s.get(ro.req.ID), link, "approve")
	if r := c.post("/ui/requests/"+ro.req.ID+"/review", form); r.StatusCode != http.StatusConflict {
		t.Fatalf("reviewing with a voided link: %d, want 409", r.StatusCode)
	}
	if got := s.get(ro.req.ID); len(got.Reviews) != 0 {
		t.Fatalf("a review with a voided link was recorded: %+v", got.Reviews)
	}
	// Without the token the page works as always.
	if r := c.get("/ui/requests/" + ro.req.ID); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `id="approve"`) {
		t.Fatalf("the request without the token: %d", r.StatusCode)
	}
}

func TestLink_AnExpiredLinkIsRefusedWith410(t *testing.T) {
	t.Parallel()
	s := newStack(t, withLinks())
	ro := s.roles()
	link := linkFor(ro.req, "svc:lead", -time.Minute)
	c := s.signedIn(ro.reviewer)
	r := c.get(link)
	if r.StatusCode != http.StatusGone {
		t.Fatalf("an expired link: %d, want 410", r.StatusCode)
	}
	mustContain(t, "the refusal", r.body, "Ask for a new link", "from the inbox", CodeLinkExpired)
	if r := c.post("/ui/requests/"+ro.req.ID+"/review", reviewForm(c, ro.req, link, "approve")); r.StatusCode != http.StatusGone {
		t.Fatalf("reviewing with an expired link: %d, want 410", r.StatusCode)
	}
	if got := s.get(ro.req.ID); len(got.Reviews) != 0 {
		t.Fatal("a review with an expired link was recorded")
	}
}

func TestLink_ForgedTamperedOrMisdirectedTokensAreRefusedWith400(t *testing.T) {
	t.Parallel()
	s := newStack(t, withLinks())
	ro := s.roles()
	other := s.create(ro.requester, approval.Draft{Title: "Pay invoice 43"})
	foreign, _ := signedlink.New(signedlink.Key{ID: "k1", Secret: []byte("another-servers-link-key-0123456789")})
	good := tokenOf(t, linkFor(ro.req, "svc:lead", time.Hour))
	c := s.signedIn(ro.reviewer)
	for name, tok := range map[string]string{
		"malformed":          "not-a-token",
		"tampered":           good[:len(good)-2] + "AA",
		"another server's":   foreign.Sign(signedlink.Claims{RequestID: ro.req.ID, Digest: ro.req.Digest, Recipient: "svc:lead", Expires: time.Now().Add(time.Hour)}),
		"another request's":  tokenOf(t, linkFor(other, "svc:lead", time.Hour)),
		"too long to verify": strings.Repeat("a", 3000),
	} {
		path := "/ui/requests/" + ro.req.ID + "?" + url.Values{linkParam: {tok}}.Encode()
		if r := c.get(path); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, CodeLinkInvalid) {
			t.Errorf("%s token: %d, want 400 %s", name, r.StatusCode, CodeLinkInvalid)
		}
		form := reviewForm(c, ro.req, path, "approve")
		if r := c.post("/ui/requests/"+ro.req.ID+"/review", form); r.StatusCode != http.StatusBadRequest {
			t.Errorf("reviewing with a %s token: %d, want 400", name, r.StatusCode)
		}
	}
	if got := s.get(ro.req.ID); len(got.Reviews) != 0 {
		t.Fatal("a review with a bad token was recorded")
	}
}

func TestLink_WithoutALinkSignerLinksAreRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	if r := c.get(linkFor(ro.req, "svc:lead", time.Hour)); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("a link to a UI without a signer: %d, want 400", r.StatusCode)
	}
}

func TestLink_AnOldSessionSignsInAgainWithTheKeyAndComesBack(t *testing.T) {
	t.Parallel()
	s := newStack(t, withLinks(), withConfig(func(c *Config) { c.LinkReauthAge = 10 * time.Minute }))
	ro := s.roles()
	link := linkFor(ro.req, "svc:lead", 2*time.Hour)
	c := s.signedIn(ro.reviewer)
	if r := c.get(link); r.StatusCode != http.StatusOK {
		t.Fatalf("a fresh session: %d", r.StatusCode)
	}
	form := reviewForm(c, ro.req, link, "approve")
	s.clock.Advance(11 * time.Minute)
	// The session still works, but is too old to decide from a link.
	if r := c.get("/ui/requests/" + ro.req.ID); r.StatusCode != http.StatusOK {
		t.Fatalf("the page without the link: %d", r.StatusCode)
	}
	r := c.post("/ui/requests/"+ro.req.ID+"/review", form)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reviewing from the link with an old session: %d, want 303 to sign in again", r.StatusCode)
	}
	if got := s.get(ro.req.ID); len(got.Reviews) != 0 {
		t.Fatal("a review from a link with an old session was recorded")
	}
	r = c.get(link)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || loc.Path != "/ui/signin" || loc.Query().Get("reauth") != "1" || loc.Query().Get("next") != link {
		t.Fatalf("the link with an old session: %d to %s, want 303 to sign in again and come back", r.StatusCode, loc)
	}
	// Signed in, the sign-in page asks again instead of moving on.
	page := c.get(loc.RequestURI())
	if page.StatusCode != http.StatusOK {
		t.Fatalf("the sign-in page asking again: %d to %q", page.StatusCode, page.Header.Get("Location"))
	}
	mustContain(t, "the sign-in page", page.body, "less than 10 minutes old", `id="credential"`)
	r = c.post("/ui/signin", url.Values{"csrf": {csrfPattern.FindStringSubmatch(page.body)[1]}, "credential": {ro.reviewer}, "next": {link}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != link {
		t.Fatalf("signing in again: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := c.get(link); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `name="link"`) {
		t.Fatalf("the link after signing in again: %d", r.StatusCode)
	}
	if r := c.post("/ui/requests/"+ro.req.ID+"/review", reviewForm(c, ro.req, link, "approve")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("approving after signing in again: %d", r.StatusCode)
	}
	s.waitStatus(ro.req.ID, approval.StatusApproved)
}

func TestLink_AnOIDCSessionSignsInAgainWithPromptLoginAndMaxAge(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	s := newStack(t, withLinks(), withOIDC(t, p))
	p.set(func() { p.now = s.clock.Now })
	requester := s.key("billing", approval.ScopeCreate, approval.ScopeRead)
	req := s.create(requester, approval.Draft{Title: "Pay invoice 42"})
	link := linkFor(req, "user:alice", time.Hour)
	c := s.client()
	// The provider signs alice in from its own session of an hour ago:
	// a sign-in, but not a fresh one.
	if r := callback(c, startLogin(t, c, "/ui/")); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d", r.StatusCode)
	}
	r := c.get(link)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || loc.Path != "/ui/auth/login" || loc.Query().Get("reauth") != "1" || loc.Query().Get("next") != link {
		t.Fatalf("the link after a sign-in that was not fresh: %d to %s, want 303 to sign in at the provider again", r.StatusCode, loc)
	}
	r = c.get(loc.RequestURI())
	authorize, _ := url.Parse(r.Header.Get("Location"))
	if q := authorize.Query(); q.Get("prompt") != "login" || q.Get("max_age") != "900" {
		t.Fatalf("authorize: prompt %q, max_age %q; want login and 900 (15 minutes)", q.Get("prompt"), q.Get("max_age"))
	}
	back := followAuthorize(t, authorize)
	r = callback(c, back)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, strings.ReplaceAll(link, "&", "&amp;")) {
		t.Fatalf("callback: %d\n%s", r.StatusCode, r.body)
	}
	page := c.get(link)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("the link after signing in again: %d", page.StatusCode)
	}
	mustContain(t, "the page", page.body, `name="link"`, `id="approve"`)

	// A provider that does not authenticate again is not taken for one that did.
	p.set(func() { p.staleAuth = true })
	c2 := s.client()
	callback(c2, startLogin(t, c2, "/ui/"))
	r = c2.get(link)
	loc, _ = url.Parse(r.Header.Get("Location"))
	r = c2.get(loc.RequestURI())
	authorize, _ = url.Parse(r.Header.Get("Location"))
	if r := callback(c2, followAuthorize(t, authorize)); r.StatusCode != http.StatusUnauthorized || setCookieNamed(r.Response, "apd_session") != nil {
		t.Fatalf("a sign-in again with an old auth_time: %d, want 401 and no new session", r.StatusCode)
	}
}

// followAuthorize asks the provider's /authorize and returns where it sends
// the browser back.
func followAuthorize(t *testing.T, authorize *url.URL) *url.URL {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(authorize.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	return back
}

func TestOIDC_SignInRemembersTheVerifiedEmail(t *testing.T) {
	t.Parallel()
	admin := approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}
	for name, tc := range map[string]struct {
		verified any
		want     bool
	}{
		"verified":        {true, true},
		"no verification": {nil, true},
		"as a string":     {"true", true},
		"unverified":      {false, false},
		"unverified text": {"false", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t)
			p.set(func() { p.email, p.emailVerified = "alice@example.com", tc.verified })
			s := newStack(t, withOIDC(t, p))
			c := s.client()
			if r := callback(c, startLogin(t, c, "/ui/")); r.StatusCode != http.StatusOK {
				t.Fatalf("sign-in: %d", r.StatusCode)
			}
			contacts, err := s.eng.Contacts(context.Background(), admin)
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, ct := range contacts {
				if ct.Principal == "user:alice" && ct.Email == "alice@example.com" && ct.Source == approval.ContactOIDC {
					got = true
				}
			}
			if got != tc.want {
				t.Fatalf("remembered %v, want %v: %+v", got, tc.want, contacts)
			}
		})
	}
}
