package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"approvald/approval"
	"approvald/auth"
)

// The accessibility check runs axe-core (github.com/dequelabs/axe-core) in
// the browser tests' Chromium over every page of the UI. axe is not
// vendored: web/testdata/axe/package.json pins its version and .ci/chromium.sh
// installs it with npm ci (offline afterwards: nothing is downloaded while
// the tests run). APPROVALD_AXE names axe.min.js when it is elsewhere.
// Without it the check skips, unless APPROVALD_REQUIRE_BROWSER=1.

// defaultAxe is where npm ci in testdata/axe puts axe.
const defaultAxe = "testdata/axe/node_modules/axe-core/axe.min.js"

var axeScript struct {
	once sync.Once
	src  string
	err  error
}

// axeSource returns axe.min.js, or skips (fails under
// APPROVALD_REQUIRE_BROWSER=1) when it is not installed.
func axeSource(t *testing.T) string {
	t.Helper()
	axeScript.once.Do(func() {
		path := os.Getenv("APPROVALD_AXE")
		if path == "" {
			path = defaultAxe
		}
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			axeScript.err = fmt.Errorf("axe-core is not installed at %s (npm ci --prefix web/testdata/axe, or set APPROVALD_AXE)", path)
		case err != nil:
			axeScript.err = err
		case !strings.Contains(string(b[:min(len(b), 500)]), "axe v"):
			axeScript.err = fmt.Errorf("%s does not look like axe-core's axe.min.js", path)
		default:
			axeScript.src = string(b)
		}
	})
	if axeScript.err != nil {
		if os.Getenv("APPROVALD_REQUIRE_BROWSER") == "1" {
			t.Fatalf("APPROVALD_REQUIRE_BROWSER=1 but axe cannot run: %v", axeScript.err)
		}
		t.Skipf("skipping the accessibility check: %v", axeScript.err)
	}
	return axeScript.src
}

// axeViolation is a rule axe found broken, with the elements that break it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  json.RawMessage `json:"target"`
		HTML    string          `json:"html"`
		Summary string          `json:"failureSummary"`
	} `json:"nodes"`
}

// axe runs axe-core over the page the tab shows and returns what it
// found. axe goes in through the DevTools protocol (Runtime.evaluate),
// which the page's content security policy does not govern: the page
// itself still may not run any script but its own.
func (tb *tab) axe(src string) []axeViolation {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 2*actionTimeout)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err == nil && !loaded {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src))
	}
	if err != nil {
		tb.t.Fatalf("%s: loading axe: %v", tb.name, err)
	}
	// Every rule axe runs by default, and target-size (WCAG 2.2 AA, 2.5.8),
	// which it leaves off by default.
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](
		`axe.run(document, {resultTypes: ["violations"], rules: {"target-size": {enabled: true}}}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: running axe on %s: %v", tb.name, tb.location(), err)
	}
	return out
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// checkAxe fails the test for every serious or critical violation on the
// page the tab shows, and logs the others.
func (tb *tab) checkAxe(src, page string) (serious map[string]int) {
	tb.t.Helper()
	serious = map[string]int{}
	for _, v := range tb.axe(src) {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprintf("    %s %s\n      %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n      ")))
		}
		msg := fmt.Sprintf("%s: axe %s (%s, %d elements): %s\n%s", page, v.ID, v.Impact, len(v.Nodes), v.Help, strings.Join(where, "\n"))
		if v.Impact == "serious" || v.Impact == "critical" {
			serious[v.ID] += len(v.Nodes)
			tb.t.Error(msg)
		} else {
			tb.t.Log(msg)
		}
	}
	return serious
}

// everyState holds requests in the states the request page shows
// differently.
type everyState struct {
	pending, nested, approved, rejected, cancelled, failed, retrying, voided string
}

// seedEveryState adds a request in each state the UI shows differently:
// pending with a nested payload and a dependency, one whose reviews were
// voided by an edit, decided ones, one whose delivery failed (error) and
// one whose delivery is being retried.
func (s *stack) seedEveryState(requester, reviewer string) everyState {
	s.t.Helper()
	ctx := context.Background()
	var st everyState
	s.seedShowcase(requester, reviewer)

	// Deliveries: a receiver that refuses everything, and one that refuses
	// once and then keeps the next attempt waiting for the test's end.
	release := make(chan struct{})
	var slowCalls sync.Map
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			if _, again := slowCalls.LoadOrStore("called", true); again {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
			http.Error(w, "upstream busy", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "no such invoice", http.StatusBadRequest)
	}))
	s.t.Cleanup(receiver.Close)
	s.t.Cleanup(func() { close(release) })
	for _, rule := range []approval.ServiceRule{
		{Name: "payments", URL: receiver.URL + "/payments", Format: approval.FormatStandard, MaxAttempts: 1},
		{Name: "ledger-sync-with-a-rather-long-service-rule-name-for-wrapping", URL: receiver.URL + "/slow", Format: approval.FormatStandard, MaxAttempts: 5, Timeout: time.Minute},
	} {
		if _, err := s.eng.CreateRule(ctx, approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}, rule); err != nil {
			s.t.Fatal(err)
		}
	}
	rp := s.principal(reviewer)
	dep := s.create(requester, approval.Draft{Title: "Open the Q3 budget"})
	st.nested = s.create(requester, approval.Draft{
		Title: "Pay invoice 77 to Globex", DependsOn: []string{dep.ID},
		Payload: json.RawMessage(`{"invoice":77,"supplier":{"name":"Globex","address":{"city":"Springfield","country":"US"}},` +
			`"lines":[{"item":"Widgets","qty":3},{"item":"Gadgets","qty":1,"tags":[]}],"note":null,"urgent":false}`),
	}).ID
	st.pending = s.create(requester, approval.Draft{Title: "Pay invoice 78", Payload: payload(s.t, map[string]any{"invoice": 78})}).ID
	voided := s.create(requester, approval.Draft{Title: "Pay invoice 79", Payload: payload(s.t, map[string]any{"amount": "10.00"}),
		Policy: &approval.Policy{Rules: []approval.Rule{{Name: "finance", MinApprovals: 2}}}})
	if _, err := s.eng.Review(ctx, rp, voided.ID, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: "Fine at 10."}, nil); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.eng.Edit(ctx, s.principal(requester), voided.ID, approval.Patch{Payload: approval.Some(json.RawMessage(`{"amount":"1000.00"}`))}, nil); err != nil {
		s.t.Fatal(err)
	}
	st.voided = voided.ID
	decide := func(title, rule string, d approval.Decision) string {
		r := s.create(requester, approval.Draft{Title: title, ServiceRule: rule, Payload: payload(s.t, map[string]any{"title": title})})
		if d == "" {
			if _, err := s.eng.Cancel(ctx, s.principal(requester), r.ID, "Not needed any more.", nil); err != nil {
				s.t.Fatal(err)
			}
			return r.ID
		}
		if _, err := s.eng.Review(ctx, rp, r.ID, approval.ReviewInput{Decision: d, Comment: "Checked."}, nil); err != nil {
			s.t.Fatal(err)
		}
		return r.ID
	}
	st.approved = decide("Pay invoice 80", "", approval.DecisionApprove)
	st.rejected = decide("Pay invoice 81", "", approval.DecisionReject)
	st.cancelled = decide("Pay invoice 82", "", "")
	st.failed = decide("Pay invoice 83", "payments", approval.DecisionApprove)
	s.waitStatus(st.failed, approval.StatusError)
	st.retrying = decide("Sync ledger 84", "ledger-sync-with-a-rather-long-service-rule-name-for-wrapping", approval.DecisionReject)
	deadline := time.Now().Add(20 * time.Second)
	for r := s.get(st.retrying); r.Delivery == nil || r.Delivery.LastError == ""; r = s.get(st.retrying) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the delivery of %s did not fail once", st.retrying)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Keys in every state: revoked, and one that expires.
	soon := time.Now().Add(30 * 24 * time.Hour)
	k, _, err := s.keys.Create(ctx, auth.NewKey{Name: "old-bot", Scopes: []approval.Scope{approval.ScopeRead}})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.keys.Revoke(ctx, k.ID); err != nil {
		s.t.Fatal(err)
	}
	if _, _, err := s.keys.Create(ctx, auth.NewKey{Name: "contractor", Scopes: []approval.Scope{approval.ScopeRead, approval.ScopeReview}, Groups: []string{"finance"}, ExpiresAt: &soon}); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// TestBrowser_EveryPageHasNoSeriousAccessibilityViolation runs axe over
// every page of the UI — signed out, as a reviewer, a requester, a reader
// and an admin, a request in every state, the admin pages with the secrets
// shown once, an error page —, on a desktop and on a phone, and fails on
// any serious or critical violation.
func TestBrowser_EveryPageHasNoSeriousAccessibilityViolation(t *testing.T) {
	src := axeSource(t)
	s := newStack(t, withLinks())
	ro := s.roles()
	st := s.seedEveryState(ro.requester, ro.reviewer)
	req := func(id string) string { return "/ui/requests/" + id }
	notes := s.seedNotifications(ro.reviewer)
	lc := s.seedLifecycle(ro.requester, ro.reviewer)
	// A CR8TOR publication with its files published: the receipt section
	// offers its release record.
	pub := s.publication("proj")
	s.decide(ro.reviewer, pub.ID, approval.DecisionApprove)
	s.published(pub.ID)
	// bulkRefused selects a decided request in the inbox's multi-select and
	// approves it: the summary page lists the refusal, and nothing changes
	// for the other visits.
	bulkRefused := func(tb *tab) {
		eval[bool](tb, fmt.Sprintf(`(f => { const c = f.querySelector("input[name=id]"); c.value = %s; c.checked = true; f.querySelector("#approve-selected").click(); return true })(document.querySelector("#bulk-form"))`, jsString(st.approved)))
		tb.waitFor("the summary shows", `document.querySelector("#bulk-results") !== null`)
	}

	type visit struct {
		who  string // a key, or "" signed out
		path string
		// then, when set, does something on the page before the check
		// (opens every section, submits a form).
		then func(tb *tab)
	}
	openAll := func(tb *tab) {
		eval[bool](tb, `(document.querySelectorAll("details").forEach(d => d.open = true), true)`)
	}
	made := 0
	// submit fills in the form, names what it creates afresh each time,
	// sends it and waits for the secret shown once.
	submit := func(form, fill string) func(tb *tab) {
		return func(tb *tab) {
			made++
			eval[bool](tb, fmt.Sprintf(`(f => { %s; f.elements.name.value += "-%d"; f.requestSubmit(); return true })(document.querySelector(%s))`, fill, made, jsString(form)))
			tb.waitFor("the created secret shows", `document.querySelector("#new-secret") !== null`)
		}
	}
	visits := []visit{
		{"", "/ui/signin", nil},
		{ro.reviewer, "/ui/", nil},
		{ro.reviewer, "/ui/?status=pending&requester=svc%3Abilling", nil},
		{ro.reviewer, "/ui/?status=expired", nil},
		{ro.reviewer, req(st.nested), openAll},
		{ro.reviewer, req(st.pending), nil},
		{ro.reviewer, req(st.voided), openAll},
		{ro.requester, req(st.pending), openAll},
		{ro.requester, req(st.approved), openAll},
		{ro.reader, req(st.pending), nil},
		{ro.reader, req(st.rejected), nil},
		{ro.reader, req(st.cancelled), nil},
		{testAdminKey, req(st.failed), openAll},
		{testAdminKey, req(st.retrying), nil},
		{testAdminKey, "/ui/admin/rules", nil},
		{testAdminKey, "/ui/admin/rules", submit(`form[action="/ui/admin/rules"]`, `f.elements.name.value = "refunds"; f.elements.url.value = "https://refunds.example/approvals"`)},
		{testAdminKey, "/ui/admin/keys", nil},
		{testAdminKey, "/ui/admin/keys", submit(`form[action="/ui/admin/keys"]`, `f.elements.name.value = "refund-bot"; f.querySelector("[value='approvals:read']").checked = true`)},
		{testAdminKey, "/ui/admin/deliveries", nil},
		{ro.reader, "/ui/requests/0190a7b2-0000-7000-8000-000000000000", nil},
		{ro.reviewer, notes.link, nil},
		{ro.reviewer, notes.voidedLink, nil},
		{ro.reviewer, "/ui/delegations", nil},
		{ro.reviewer, "/ui/notifications", nil},
		{notes.deputy, req(st.pending), nil},
		{notes.deputy, "/ui/delegations", nil},
		{testAdminKey, "/ui/admin/channels", nil},
		{testAdminKey, "/ui/admin/contacts", nil},
		{testAdminKey, "/ui/delegations", nil},
		{ro.reviewer, "/ui/?status=changes_requested", nil},
		{ro.reviewer, req(lc.changesRequested), openAll},
		{ro.requester, req(lc.changesRequested), openAll},
		{ro.requester, "/ui/", nil},
		{ro.reviewer, req(lc.items), nil},
		{ro.requester, req(lc.items), openAll},
		{ro.reader, req(lc.partial), openAll},
		{ro.reader, req(lc.revoked), openAll},
		{ro.reviewer, req(lc.auto), openAll},
		{testAdminKey, req(st.approved), openAll},
		{ro.reader, req(pub.ID), nil},
		{ro.reviewer, "/ui/", bulkRefused},
	}
	found := map[string]int{}
	for _, size := range []struct {
		name string
		emu  chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)},
	} {
		tabs := map[string]*tab{}
		for _, v := range visits {
			tb := tabs[v.who]
			if tb == nil {
				tb = s.newTab(t, size.name)
				tb.do("sizing the viewport", size.emu)
				if v.who != "" {
					tb.signIn(v.who)
				}
				tabs[v.who] = tb
			}
			tb.open(v.path)
			tb.waitFor("the page is shown", `document.readyState === "complete" && document.querySelector("main") !== null`)
			if v.then != nil {
				v.then(tb)
			}
			for id, n := range tb.checkAxe(src, size.name+" "+v.path) {
				found[id] += n
			}
		}
	}
	if len(found) > 0 {
		t.Logf("serious or critical violations by rule (elements): %v", found)
	}
	// The check can fail: a button without a name is critical.
	tb := s.newTab(t, "self-check")
	tb.open("/ui/signin")
	eval[bool](tb, `(document.querySelector("main").append(document.createElement("button")), true)`)
	var ids []string
	for _, v := range tb.axe(src) {
		ids = append(ids, v.ID+" "+v.Impact)
	}
	if !slices.Contains(ids, "button-name critical") {
		t.Errorf("axe does not see a button without a name; it reports %v", ids)
	}
}

// seededNotifications are what seedNotifications made.
type seededNotifications struct {
	link, voidedLink string // a link to a pending request, and one voided by an edit
	deputy           string // a key reviewer delegated to
}

// seedNotifications adds notification channels, a route, contacts, a
// delegation from reviewer (svc:lead) to a deputy, and signed links.
func (s *stack) seedNotifications(reviewer string) seededNotifications {
	s.t.Helper()
	ctx := context.Background()
	admin := approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}
	for _, c := range []approval.NotificationChannel{
		{Name: "ops-chat", Type: approval.ChannelSlack, URL: "https://hooks.slack.com/services/T0/B0/secret"},
		{Name: "ops-mail", Type: approval.ChannelEmail, Email: &approval.EmailSettings{Host: "smtp.example.com", Port: 587, TLS: approval.TLSStartTLS, From: "approvald@example.com", Username: "approvald", PasswordFile: "/run/secrets/smtp"}},
	} {
		if _, err := s.eng.CreateChannel(ctx, admin, c); err != nil {
			s.t.Fatal(err)
		}
	}
	if _, err := s.eng.CreateRoute(ctx, admin, approval.NotificationRoute{Channel: "ops-chat", Scope: "group:finance", Events: []approval.NotifyKind{approval.NotifyReviewRequested}}); err != nil {
		s.t.Fatal(err)
	}
	for _, c := range []approval.Contact{{Principal: "svc:lead", Email: "lead@example.com"}, {Group: "finance", Emails: []string{"a@example.com", "b@example.com"}, Channel: "ops-chat", Admin: true}} {
		if _, err := s.eng.PutContact(ctx, admin, c); err != nil {
			s.t.Fatal(err)
		}
	}
	deputy := s.key("deputy", approval.ScopeReview, approval.ScopeRead)
	lead := s.principal(reviewer)
	if _, err := s.eng.CreateDelegation(ctx, lead, approval.Delegation{Delegate: "svc:deputy", Ends: time.Now().Add(72 * time.Hour), Reason: "On leave until Thursday"}); err != nil {
		s.t.Fatal(err)
	}
	requester := s.key("link-requester", approval.ScopeCreate, approval.ScopeRead)
	pending := s.create(requester, approval.Draft{Title: "Pay invoice 90", Payload: payload(s.t, map[string]any{"invoice": 90})})
	voided := s.create(requester, approval.Draft{Title: "Pay invoice 91", Payload: payload(s.t, map[string]any{"invoice": 91})})
	out := seededNotifications{link: linkFor(pending, lead.ID, time.Hour), voidedLink: linkFor(voided, lead.ID, time.Hour), deputy: deputy}
	if _, err := s.eng.Edit(ctx, s.principal(requester), voided.ID, approval.Patch{Payload: approval.Some(json.RawMessage(`{"invoice":91,"amount":"3.00"}`))}, nil); err != nil {
		s.t.Fatal(err)
	}
	return out
}
