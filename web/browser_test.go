package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"approvald/approval"
)

// The browser tests drive a real headless Chromium (Debian's chromium) with
// chromedp against the stack. Without a browser they skip, unless
// APPROVALD_REQUIRE_BROWSER=1 (CI), which makes them fail instead.
// APPROVALD_CHROMIUM names the browser's executable when it is not on the
// PATH; APPROVALD_UI_SCREENSHOTS=<dir> makes them save the screenshots of
// the docs there.

// browser is the one Chromium process the tests share; each test opens
// its own browser contexts (separate cookie jars) in it.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
	path   string
}

// chromiumPath finds the browser.
func chromiumPath() string {
	if p := os.Getenv("APPROVALD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// needBrowser returns the shared browser's context, starting it on first use.
func needBrowser(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(func() {
		browser.path = chromiumPath()
		if browser.path == "" {
			browser.err = fmt.Errorf("no chromium found (install Debian's chromium, or set APPROVALD_CHROMIUM)")
			return
		}
		dir, err := os.MkdirTemp("", "approvald-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(browser.path),
			chromedp.UserDataDir(dir),
			// Chromium keeps its shared-memory files in TMPDIR: inside the
			// profile, they go when it does.
			chromedp.Env("TMPDIR="+dir),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("lang", "en-US"),
			chromedp.WindowSize(1280, 900),
		)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelBrowser := chromedp.NewContext(actx)
		browser.ctx = ctx
		browser.cancel = func() {
			cancelBrowser()
			cancelAlloc()
			os.RemoveAll(dir)
		}
		browser.err = chromedp.Do(ctx) // starts the browser, bound to no test
	})
	if browser.err != nil {
		if os.Getenv("APPROVALD_REQUIRE_BROWSER") == "1" {
			t.Fatalf("APPROVALD_REQUIRE_BROWSER=1 but the browser cannot run: %v", browser.err)
		}
		t.Skipf("skipping the browser test: %v (APPROVALD_REQUIRE_BROWSER=1 makes this a failure)", browser.err)
	}
	return browser.ctx
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// actionTimeout bounds each step of a browser test, so that a broken page
// fails the test instead of hanging it.
const actionTimeout = 30 * time.Second

// tab is a browser tab with a cookie jar of its own, on the stack.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	name string

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// newTab opens a tab in a new browser context: a second person, or the
// same person in another browser.
func (s *stack) newTab(t *testing.T, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(needBrowser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, base: s.url, name: name}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil { // opens the tab
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(tb.checkConsole)
	return tb
}

// checkConsole fails the test if the page threw or the browser refused
// anything under the content security policy.
func (tb *tab) checkConsole() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, m := range tb.console {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Refused to") {
			tb.t.Errorf("%s: browser console: %s (%s:%d)", tb.name, m, m.URL, m.Line+1)
		}
	}
}

// do runs actions with a timeout.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %s: %v\npage: %s", tb.name, what, err, tb.location())
	}
}

// location is the tab's URL, for messages.
func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// eval evaluates a JavaScript expression in the tab.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("%s: evaluating %s: %v", tb.name, js, err)
	}
	return v
}

// waitFor waits until the JavaScript expression cond is true. It asks
// again and again rather than with chromedp.Poll, which a navigation (the
// one a click starts, say) interrupts.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+cond+`) } catch (e) { return false } })()`))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
	tb.t.Fatalf("%s: waiting until %s: timed out (last error: %v)\npage %s:\n%s", tb.name, what, last, tb.location(), text)
}

// text returns the text of the first element matching a CSS selector.
func (tb *tab) text(css string) string {
	tb.t.Helper()
	js, _ := json.Marshal(css)
	return eval[string](tb, fmt.Sprintf(`(document.querySelector(%s) || {innerText: ""}).innerText`, js))
}

// exists reports whether an element matches a CSS selector.
func (tb *tab) exists(css string) bool {
	tb.t.Helper()
	js, _ := json.Marshal(css)
	return eval[bool](tb, fmt.Sprintf(`document.querySelector(%s) !== null`, js))
}

// open navigates to a path of the stack.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("opening "+path, chromedp.Navigate(tb.base+path))
}

// signIn signs in on the sign-in page the UI redirects to, typing the key
// as a person would.
func (tb *tab) signIn(key string) {
	tb.t.Helper()
	tb.open("/ui/")
	tb.do("signing in",
		chromedp.WaitVisible(chromedp.ID("credential")),
		chromedp.SendKeys(chromedp.ID("credential"), key),
		chromedp.Click(chromedp.ID("signin")),
	)
	tb.waitFor("the inbox shows", `document.querySelector("#awaiting-h") !== null`)
}

// screenshot saves a PNG of the whole page (or, when viewport is set, of
// what the screen shows) into APPROVALD_UI_SCREENSHOTS, when it is set.
func (tb *tab) screenshot(name string, viewport ...bool) {
	tb.t.Helper()
	dir := os.Getenv("APPROVALD_UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	shot := chromedp.FullScreenshot(100)
	if len(viewport) > 0 && viewport[0] {
		shot = chromedp.CaptureScreenshot()
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// overflow returns by how many pixels the page is wider than the screen,
// and the elements that stick out (outside of the boxes that scroll by
// themselves). It measures against the layout viewport: on an emulated
// phone, window.innerWidth grows with a page that is too wide (the browser
// zooms out to show all of it).
func (tb *tab) overflow() (int, string) {
	tb.t.Helper()
	w := eval[int](tb, `document.documentElement.scrollWidth - document.documentElement.clientWidth`)
	if w <= 0 {
		return w, ""
	}
	return w, eval[string](tb, `[...document.querySelectorAll("body *")]
		.filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !e.parentElement.closest(".scroll, .json, pre"))
		.slice(0, 10).map(e => "  " + e.tagName.toLowerCase() + (e.className ? "." + e.className.replaceAll(" ", ".") : "") + " to " + Math.round(e.getBoundingClientRect().right) + "px").join("\n")`)
}

// seedShowcase adds requests of every kind, so that the inbox shows what a
// real one does (and the screenshots do too).
func (s *stack) seedShowcase(requester, reviewer string) {
	s.t.Helper()
	ctx := context.Background()
	ops := s.key("deploy-bot", approval.ScopeCreate, approval.ScopeRead)
	soon := time.Now().Add(5 * time.Hour)
	later := time.Now().Add(6 * 24 * time.Hour)
	dep := s.create(ops, approval.Draft{Title: "Grant read access to warehouse for analytics-etl", Payload: payload(s.t, map[string]any{"role": "reader", "principal": "svc:analytics-etl"})})
	s.create(ops, approval.Draft{Title: "Deploy billing 2.14.0 to production", Deadline: &soon,
		Payload: payload(s.t, map[string]any{"service": "billing", "version": "2.14.0", "environment": "production"})})
	s.create(requester, approval.Draft{Title: "Refund order 88412", Deadline: &later, DependsOn: []string{dep.ID},
		Payload: payload(s.t, map[string]any{"order": 88412, "amount": "49.90", "currency": "EUR"})})
	rejected := s.create(ops, approval.Draft{Title: "Rotate the production database password"})
	if _, err := s.eng.Review(ctx, s.principal(reviewer), rejected.ID, approval.ReviewInput{Decision: approval.DecisionReject, Comment: "Wait for the maintenance window."}, nil); err != nil {
		s.t.Fatal(err)
	}
	cancelled := s.create(requester, approval.Draft{Title: "Pay invoice 41"})
	if _, err := s.eng.Cancel(ctx, s.principal(requester), cancelled.ID, "Paid by card instead.", nil); err != nil {
		s.t.Fatal(err)
	}
	approved := s.create(requester, approval.Draft{Title: "Pay invoice 40", Payload: payload(s.t, map[string]any{"invoice": 40, "amount": "310.00"})})
	if _, err := s.eng.Review(ctx, s.principal(reviewer), approved.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		s.t.Fatal(err)
	}
}

// TestBrowser_AReviewerApprovesWithACommentAndAnotherSessionSeesItLive is
// the reviewer's whole path in a real browser: sign in, find the request in
// the inbox, open it, approve it with a comment, see the status change and
// the timeline entry — while the requester, signed in in another browser,
// watches the same page change without reloading it.
func TestBrowser_AReviewerApprovesWithACommentAndAnotherSessionSeesItLive(t *testing.T) {
	s := newStack(t)
	requesterKey := s.key("billing", approval.ScopeCreate, approval.ScopeRead)
	reviewerKey := s.keyIn("finance-lead", []string{"finance"}, approval.ScopeReview, approval.ScopeRead)
	controllerKey := s.keyIn("controller", []string{"finance"}, approval.ScopeReview, approval.ScopeRead)
	s.seedShowcase(requesterKey, controllerKey)
	deadline := time.Now().Add(50 * time.Hour)
	req := s.create(requesterKey, approval.Draft{
		Title:       "Pay invoice 42 to Acme GmbH",
		Description: "Annual licence renewal for the design team, as agreed with procurement.\nPO 7781.",
		Deadline:    &deadline,
		Payload: []byte(`{"invoice":42,"supplier":{"name":"Acme GmbH","vat_id":"DE129273398","country":"DE"},` +
			`"amount":"1200.00","currency":"EUR","lines":[{"item":"Design suite licence","seats":10,"unit_price":"110.00"},` +
			`{"item":"Support plan","seats":1,"unit_price":"100.00"}],"approved_budget":true}`),
		Policy: &approval.Policy{Rules: []approval.Rule{{Name: "finance", MinApprovals: 2, Groups: []string{"finance"}}}},
	})
	if _, err := s.eng.Review(context.Background(), s.principal(controllerKey), req.ID, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: "Budget line confirmed."}, nil); err != nil {
		t.Fatal(err)
	}
	page := "/ui/requests/" + req.ID

	// The requester watches the request in one browser.
	watcher := s.newTab(t, "requester")
	watcher.signIn(requesterKey)
	watcher.open(page)
	watcher.waitFor("the live stream is connected", `document.documentElement.dataset.live === "connected"`)
	eval[bool](watcher, `window.__notReloaded = true`)
	if got := watcher.text("#status"); got != "pending" {
		t.Fatalf("requester sees status %q, want pending", got)
	}
	if watcher.exists("#approve") {
		t.Fatal("the requester is offered to approve their own request")
	}
	// The requester starts writing a comment meanwhile.
	watcher.do("starting a comment",
		chromedp.Click(chromedp.CSS("#comment-action summary")),
		chromedp.SendKeys(chromedp.ID("edit-comment"), "Will pay on Friday."),
	)

	// The reviewer signs in in another and finds it in the inbox.
	reviewer := s.newTab(t, "reviewer")
	reviewer.signIn(reviewerKey)
	awaiting := reviewer.text("#awaiting-h + table, #awaiting-h ~ table, section[aria-labelledby=awaiting-h] table")
	if !strings.Contains(awaiting, "Pay invoice 42 to Acme GmbH") {
		t.Fatalf("the reviewer's inbox does not list the request as awaiting:\n%s", awaiting)
	}
	reviewer.screenshot("inbox.png")
	reviewer.do("opening the request from the inbox",
		chromedp.Click(chromedp.CSS(`section[aria-labelledby=awaiting-h] a[href="`+page+`"]`)),
		chromedp.WaitVisible(chromedp.ID("approve")),
	)
	mustContain(t, "the request page", reviewer.text("main"), "Acme GmbH", "Design suite licence", "1 of 2", "svc:controller", "Budget line confirmed.")
	reviewer.do("typing a comment", chromedp.SendKeys(chromedp.ID("review-comment"), "Matches PO 7781; paid from the design budget."))
	reviewer.screenshot("request.png")
	reviewer.do("approving", chromedp.Click(chromedp.ID("approve")))
	reviewer.waitFor("the status is approved", `(document.querySelector("#status") || {}).dataset?.status === "approved"`)
	mustContain(t, "the confirmation", reviewer.text("main"), "You approved this request.")
	entry := reviewer.text("#timeline li:first-child")
	mustContain(t, "the newest timeline entry", entry, "svc:finance-lead", "approved", "Matches PO 7781; paid from the design budget.", "pending", "approved")
	if reviewer.exists("#approve") {
		t.Error("the approve button is still there after the decision")
	}
	reviewer.screenshot("request-approved.png")

	// The requester's page changed by itself.
	watcher.waitFor("the requester's page shows the approval", `document.querySelector("#status").dataset.status === "approved"`)
	if !eval[bool](watcher, `window.__notReloaded === true`) {
		t.Error("the requester's page was reloaded, not updated in place")
	}
	mustContain(t, "the requester's timeline", watcher.text("#timeline"), "svc:finance-lead", "Matches PO 7781; paid from the design budget.")
	mustContain(t, "the announcement", watcher.text("#live-status"), "approved")
	if !eval[bool](watcher, `document.querySelector("#comment-action").open && document.querySelector("#edit-comment").value === "Will pay on Friday."`) {
		t.Errorf("the live update lost the comment the requester was writing: %s", eval[string](watcher, `JSON.stringify([document.querySelector("#comment-action").open, document.querySelector("#edit-comment").value, document.querySelector("#comment-action").outerHTML.slice(0, 300)])`))
	}

	if got := s.get(req.ID); got.Status != approval.StatusApproved || got.Reviews[len(got.Reviews)-1].Comment != "Matches PO 7781; paid from the design budget." {
		t.Fatalf("stored: %s, reviews %+v", got.Status, got.Reviews)
	}

	// Both pages offer the decision's signed receipt (the requester's
	// gained it in place), and the download is what the API serves.
	watcher.waitFor("the requester's page offers the receipt", `document.querySelector("#receipt #download-receipt") !== null`)
	if got := reviewer.text("#receipt-decision"); got != "approved" {
		t.Errorf("the receipt section says the decision is %q", got)
	}
	ctx, cancel := context.WithTimeout(reviewer.ctx, actionTimeout)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`fetch(document.querySelector("#download-receipt").href)`+
		`.then(async r => [String(r.status), r.headers.get("Content-Type"), r.headers.get("Content-Disposition"), await r.text()])`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	api := s.apiGet(requesterKey, "/v1/approvals/"+req.ID+"/receipt")
	if len(got) != 4 || got[0] != "200" || got[1] != "application/json" || got[2] != `attachment; filename="approval-`+req.ID+`-receipt.json"` || got[3] != api.body {
		t.Errorf("the receipt the page downloads: %q; the API's: %q", got, api.body)
	}
}

// TestBrowser_WithoutTheReviewScopeThereIsNoApproveButtonAndPostingAnywayIs403
// signs in with a key that may only read, and then submits the approve
// form that the page did not offer.
func TestBrowser_WithoutTheReviewScopeThereIsNoApproveButtonAndPostingAnywayIs403(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	reader := s.newTab(t, "reader")
	reader.signIn(ro.reader)
	reader.open("/ui/requests/" + ro.req.ID)
	reader.waitFor("the page shows the request", `document.querySelector("#status") !== null`)
	if reader.exists("#approve") || reader.exists("#reject") || reader.exists("#review-form") {
		t.Fatal("a principal without the review scope is offered to review")
	}
	mustContain(t, "the explanation", reader.text("#why-not"), "approvals:review")
	// Post the approve form anyway, with the session's valid CSRF token.
	eval[bool](reader, `(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = location.pathname + "/review";
		for (const [k, v] of [["csrf", document.querySelector("input[name=csrf]").value], ["decision", "approve"], ["version", "1"]]) {
			const i = document.createElement("input");
			i.type = "hidden"; i.name = k; i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		f.submit();
		return true;
	})()`)
	reader.waitFor("the refusal shows", `(document.querySelector(".status-code") || {}).innerText === "403"`)
	mustContain(t, "the refusal", reader.text("#error-message"), "approvals:review")
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending || len(got.Reviews) != 0 {
		t.Fatalf("the request changed: %s, %d reviews", got.Status, len(got.Reviews))
	}
}

// TestBrowser_AFormWithoutItsCSRFTokenIsRefused removes the token from the
// approve form before clicking Approve.
func TestBrowser_AFormWithoutItsCSRFTokenIsRefused(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	reviewer := s.newTab(t, "reviewer")
	reviewer.signIn(ro.reviewer)
	reviewer.open("/ui/requests/" + ro.req.ID)
	reviewer.do("waiting for the form", chromedp.WaitVisible(chromedp.ID("approve")))
	eval[bool](reviewer, `(() => { document.querySelector("#review-form input[name=csrf]").remove(); return true })()`)
	reviewer.do("approving without a token", chromedp.Click(chromedp.ID("approve")))
	reviewer.waitFor("the refusal shows", `(document.querySelector(".status-code") || {}).innerText === "403"`)
	mustContain(t, "the refusal", reviewer.text("#error-message"), "CSRF")
	if got := s.get(ro.req.ID); got.Status != approval.StatusPending {
		t.Fatalf("a form without a CSRF token changed the request: %s", got.Status)
	}
}

// TestBrowser_ThePagesWorkOnAPhone checks the narrow layout: the decision
// comes first and the inbox needs no sideways scrolling.
func TestBrowser_ThePagesWorkOnAPhone(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	s.seedShowcase(ro.requester, ro.reviewer)
	phone := s.newTab(t, "phone")
	phone.do("emulating a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	phone.signIn(ro.reviewer)
	if w, wide := phone.overflow(); w > 0 {
		t.Errorf("the inbox is %dpx wider than a phone's screen:\n%s", w, wide)
	}
	phone.screenshot("inbox-phone.png", true)
	phone.open("/ui/requests/" + ro.req.ID)
	phone.do("waiting for the form", chromedp.WaitVisible(chromedp.ID("approve")))
	if w, wide := phone.overflow(); w > 0 {
		t.Errorf("the request page is %dpx wider than a phone's screen:\n%s", w, wide)
	}
	if !eval[bool](phone, `document.querySelector("#approve").getBoundingClientRect().top < document.querySelector("#payload-h").getBoundingClientRect().top`) {
		t.Error("on a phone the decision is not above the details")
	}
}

// TestBrowser_TheDecisionFormIsReachableWithTheKeyboard tabs from the
// comment to the buttons and approves with the Enter key.
func TestBrowser_TheDecisionFormIsReachableWithTheKeyboard(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	reviewer := s.newTab(t, "reviewer")
	reviewer.signIn(ro.reviewer)
	reviewer.open("/ui/requests/" + ro.req.ID)
	reviewer.do("typing a comment and pressing Tab then Enter",
		chromedp.WaitVisible(chromedp.ID("review-comment")),
		chromedp.Focus(chromedp.ID("review-comment")),
		chromedp.KeyEvent("ok by keyboard"),
		chromedp.KeyEvent("\t"),
	)
	if got := eval[string](reviewer, `document.activeElement.id`); got != "approve" {
		t.Fatalf("Tab from the comment focuses %q, want the approve button", got)
	}
	if outline := eval[string](reviewer, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Error("the focused button shows no focus ring")
	}
	reviewer.do("pressing Enter", chromedp.KeyEvent("\r"))
	reviewer.waitFor("the status is approved", `(document.querySelector("#status") || {}).dataset?.status === "approved"`)
	if got := s.get(ro.req.ID); got.Reviews[0].Comment != "ok by keyboard" {
		t.Fatalf("review comment %q", got.Reviews[0].Comment)
	}
}

// long returns a word of n characters without a space: what a URL, an id
// or a hash looks like to the layout.
func long(prefix string, n int) string {
	return prefix + strings.Repeat("x", n-len(prefix))
}

// TestBrowser_ARequestWithLongValuesFitsAPhone opens, on a 390 px wide
// phone, requests whose every field is as long as it may be and has no
// space to break at — the title, the principals, the service rule, the
// subject, payload keys and values, a deep payload, comments, the history
// — and checks that the page never scrolls sideways.
func TestBrowser_ARequestWithLongValuesFitsAPhone(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	rule := long("ledger-sync-", 63)
	if _, err := s.eng.CreateRule(ctx, approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}, approval.ServiceRule{Name: rule, URL: "https://ledger.example/" + long("hooks-", 120), Format: approval.FormatStandard}); err != nil {
		t.Fatal(err)
	}
	requester := s.key(long("requester-", 63), approval.ScopeCreate, approval.ScopeRead)
	reviewer := s.keyIn(long("reviewer-", 63), []string{long("group-", 60)}, approval.ScopeReview, approval.ScopeRead)
	word := long("https://example.com/invoices/", 180)
	deep := any(map[string]any{long("leaf-", 60): word})
	for i := range 12 {
		deep = map[string]any{fmt.Sprintf("level_%d_", i) + long("k", 30): []any{deep, word}}
	}
	dep := s.create(requester, approval.Draft{Title: long("Dependency-", 200)})
	flat := s.create(requester, approval.Draft{
		Title: long("Pay-invoice-", 200), Description: word + " " + word, Subject: long("subject-", 200), ServiceRule: rule,
		DependsOn: []string{dep.ID},
		Payload:   payload(t, map[string]any{long("key-", 120): word, "amount": strings.Repeat("9", 150), "hash": long("sha256:", 200)}),
		Policy:    &approval.Policy{Rules: []approval.Rule{{Name: long("rule-", 60), MinApprovals: 2, Groups: []string{long("group-", 60)}}}},
	})
	nested := s.create(requester, approval.Draft{Title: long("Nested-", 200), ServiceRule: rule, Payload: payload(t, deep)})
	for _, id := range []string{flat.ID, nested.ID} {
		if _, err := s.eng.Edit(ctx, s.principal(requester), id, approval.Patch{Title: approval.Some(long("Edited-title-", 200)), Comment: approval.Some(word)}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.Review(ctx, s.principal(reviewer), id, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: word}, nil); err != nil {
			t.Fatal(err)
		}
	}
	phone := s.newTab(t, "phone")
	phone.do("emulating a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	phone.signIn(reviewer)
	for _, id := range []string{flat.ID, nested.ID} {
		phone.open("/ui/requests/" + id)
		phone.waitFor("the page shows the request", `document.querySelector("#status") !== null`)
		eval[bool](phone, `(document.querySelectorAll("details").forEach(d => d.open = true), true)`)
		if w, wide := phone.overflow(); w > 0 {
			t.Errorf("the request page %s is %dpx wider than a 390px phone's screen:\n%s", id, w, wide)
		}
	}
}

// TestBrowser_TheKeyFormShowsEachScopeBesideItsCheckbox checks the layout
// of the API key form: each checkbox on the line of its scope's name, the
// scopes side by side, and the form apart from the table above it (on the
// service rules page too).
func TestBrowser_TheKeyFormShowsEachScopeBesideItsCheckbox(t *testing.T) {
	s := newStack(t)
	s.key("billing", approval.ScopeCreate, approval.ScopeRead)
	s.keyIn("finance-lead", []string{"finance", "approvers"}, approval.ScopeReview, approval.ScopeRead)
	admin := s.newTab(t, "admin")
	admin.signIn(testAdminKey)
	admin.open("/ui/admin/keys")
	admin.do("waiting for the form", chromedp.WaitVisible(chromedp.ID("create-key")))
	type box struct{ Top, Bottom, Left, Right float64 }
	type check struct {
		Scope       string
		Input, Text box
	}
	checks := eval[[]check](admin, `[...document.querySelectorAll("#newkey-h ~ form input[type=checkbox]")].map(i => {
		const r = document.createRange();
		r.selectNodeContents(i.closest("label"));
		r.setStartAfter(i);
		const box = b => ({Top: b.top, Bottom: b.bottom, Left: b.left, Right: b.right});
		return {Scope: i.value, Input: box(i.getBoundingClientRect()), Text: box(r.getBoundingClientRect())};
	})`)
	if len(checks) != len(approval.Scopes()) {
		t.Fatalf("%d scope checkboxes, want %d", len(checks), len(approval.Scopes()))
	}
	lines := map[float64]int{}
	for _, c := range checks {
		// On one line: the box and the text overlap vertically, and the
		// text starts after the box.
		if c.Input.Bottom <= c.Text.Top || c.Text.Bottom <= c.Input.Top || c.Text.Left < c.Input.Right {
			t.Errorf("scope %s: the checkbox %+v is not beside its label %+v", c.Scope, c.Input, c.Text)
		}
		lines[c.Input.Top]++
	}
	if len(lines) > 2 {
		t.Errorf("the %d scopes take %d lines on a wide screen, want them side by side", len(checks), len(lines))
	}
	admin.screenshot("keys.png")
	for _, page := range []string{"/ui/admin/keys", "/ui/admin/rules"} {
		admin.open(page)
		gap := eval[float64](admin, `document.querySelector("section.card form").closest("section").getBoundingClientRect().top - document.querySelector("table.list").getBoundingClientRect().bottom`)
		if gap < 16 {
			t.Errorf("%s: the new-item form is %.0fpx below the table, want at least 16px", page, gap)
		}
	}
}

// TestBrowser_AFailedDeliveryOfAnApprovalSaysSo checks that a request
// whose approval could not be delivered reads as such wherever it shows —
// the status badge and what screen readers are told on its page, the
// lists, the delivery failures page — and never as being delivered.
func TestBrowser_AFailedDeliveryOfAnApprovalSaysSo(t *testing.T) {
	s := newStack(t)
	ro := s.roles()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such invoice", http.StatusBadRequest)
	}))
	t.Cleanup(receiver.Close)
	if _, err := s.eng.CreateRule(context.Background(), approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}, approval.ServiceRule{Name: "payments", URL: receiver.URL, Format: approval.FormatStandard, MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	req := s.create(ro.requester, approval.Draft{Title: "Pay invoice 43", ServiceRule: "payments"})
	if _, err := s.eng.Review(context.Background(), s.principal(ro.reviewer), req.ID, approval.ReviewInput{Decision: approval.DecisionApprove}, nil); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(req.ID, approval.StatusError)
	const want = "approved — delivery failed"
	admin := s.newTab(t, "admin")
	admin.signIn(testAdminKey)
	admin.open("/ui/requests/" + req.ID)
	admin.waitFor("the page shows the request", `document.querySelector("#status") !== null`)
	if got := admin.text("#status"); got != want {
		t.Errorf("the status badge reads %q, want %q", got, want)
	}
	if got := eval[string](admin, `document.querySelector("#live").dataset.announce`); !strings.Contains(got, want) {
		t.Errorf("screen readers would be told %q, want it to say %q", got, want)
	}
	// The timeline: the approval was being delivered, then its delivery failed.
	if got := admin.text("#timeline li:first-child"); !strings.Contains(got, "could not deliver the decision") || !strings.Contains(got, "approved, delivering\t"+want) {
		t.Errorf("the newest timeline entry reads:\n%s", got)
	}
	// Nothing but the history (and the status filter's choices) says it is
	// being delivered.
	for _, page := range []string{"/ui/requests/" + req.ID, "/ui/", "/ui/?status=error", "/ui/admin/deliveries"} {
		admin.open(page)
		shown := eval[string](admin, `(() => { const m = document.querySelector("main").cloneNode(true); m.querySelectorAll("#timeline, #filters").forEach(e => e.remove()); document.body.append(m); const t = m.innerText; m.remove(); return t })()`)
		if strings.Contains(shown, "delivering") {
			t.Errorf("%s says the failed delivery is being delivered:\n%s", page, shown)
		}
		if page != "/ui/requests/"+req.ID {
			row := eval[string](admin, `[...document.querySelectorAll("tr")].filter(r => r.innerText.includes("Pay invoice 43")).map(r => r.innerText).join("\n")`)
			if !strings.Contains(row, want) {
				t.Errorf("%s lists the request as %q, want %q", page, row, want)
			}
		}
	}
}
