package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/auth"
	"approvald/delivery"
	"approvald/engine"
	"approvald/httpapi"
	"approvald/internal/httpkit"
	"approvald/receipt"
)

// Deps is what the UI needs.
type Deps struct {
	Engine *engine.Engine
	Keys   *auth.Keys
	// Tokens verifies people's JWTs, exactly as the API does; nil accepts
	// API keys only (and then OIDC sign-in cannot be configured).
	Tokens httpapi.TokenVerifier
	// Hub feeds the live updates; nil turns them off.
	Hub    *delivery.Hub
	Logger *slog.Logger
	Config Config
	// HTTPClient talks to the OIDC provider; nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock of session expiry (tests); nil is time.Now.
	Now func() time.Time
	// Receipts issues the signed receipts of decided requests: the request
	// page offers them for download (/ui/requests/{id}/receipt). It must be
	// the issuer the API serves receipts with, so that both answer the same
	// bytes; nil: no receipt section, and the download is 404.
	Receipts *receipt.Issuer
	// ReleaseRecord makes the release record of a decided CR8TOR
	// publication, as the API's Deps.ReleaseRecord (rocrate.Maker.Record;
	// /ui/requests/{id}/release-record); its errors are shown as the API's
	// are. Nil (or Receipts nil): no link, and the download is 404.
	ReleaseRecord func(*approval.Request) ([]byte, error)
}

// server holds the UI's dependencies and state.
type server struct {
	Deps
	cfg     Config
	seal    *sealer
	pages   *pages
	oidc    *oidcLogin
	streams *streamLimiter
	log     *slog.Logger
	now     func() time.Time
	// stopping is closed when the context New was given ends: open event
	// streams end then, so that a graceful shutdown need not wait for
	// every open page.
	stopping <-chan struct{}
}

// handlerFunc is a UI handler: it returns an error instead of writing one,
// and gets the signed-in session (nil on public routes).
type handlerFunc func(w http.ResponseWriter, r *http.Request, sess *session) error

// route is one row of the route table. Its Scope "" lets any signed-in
// principal in.
type route = httpkit.Route[handlerFunc]

// eventsPattern is the one stream route: without a session it answers 401
// instead of redirecting to the sign-in page.
const eventsPattern = "/ui/events"

// routes is the one table of every page and form of the UI.
func (s *server) routes() []route {
	return []route{
		{Method: "GET", Pattern: "/ui/{$}", Scope: approval.ScopeRead, Audit: true, Handle: s.inbox},
		{Method: "GET", Pattern: "/ui/requests/{id}", Scope: approval.ScopeRead, Audit: true, Handle: s.request},
		// The downloads of a decided request: read as the request page is.
		{Method: "GET", Pattern: "/ui/requests/{id}/receipt", Scope: approval.ScopeRead, Audit: true, Handle: s.downloadReceipt},
		{Method: "GET", Pattern: "/ui/requests/{id}/release-record", Scope: approval.ScopeRead, Audit: true, Handle: s.downloadReleaseRecord},
		{Method: "POST", Pattern: "/ui/requests/{id}/review", Scope: approval.ScopeReview, Handle: s.review},
		{Method: "POST", Pattern: "/ui/requests/{id}/cancel", Scope: approval.ScopeCreate, Handle: s.cancel},
		{Method: "POST", Pattern: "/ui/requests/{id}/comment", Scope: approval.ScopeCreate, Handle: s.comment},
		{Method: "POST", Pattern: "/ui/requests/{id}/redeliver", Scope: approval.ScopeAdmin, Handle: s.redeliver},
		{Method: "POST", Pattern: "/ui/requests/{id}/edit", Scope: approval.ScopeCreate, Handle: s.edit},
		{Method: "POST", Pattern: "/ui/requests/{id}/resubmit", Scope: approval.ScopeCreate, Handle: s.resubmit},
		{Method: "POST", Pattern: "/ui/requests/{id}/revoke", Scope: approval.ScopeReview, Handle: s.revoke},
		{Method: "POST", Pattern: "/ui/review-selected", Scope: approval.ScopeReview, Handle: s.reviewSelected},
		{Method: "GET", Pattern: eventsPattern, Scope: approval.ScopeRead, Audit: true, Handle: s.events},
		{Method: "GET", Pattern: "/ui/admin/rules", Scope: approval.ScopeAdmin, Audit: true, Handle: s.rules},
		{Method: "POST", Pattern: "/ui/admin/rules", Scope: approval.ScopeAdmin, Handle: s.createRule},
		{Method: "POST", Pattern: "/ui/admin/rules/{name}/delete", Scope: approval.ScopeAdmin, Handle: s.deleteRule},
		{Method: "GET", Pattern: "/ui/admin/keys", Scope: approval.ScopeAdmin, Audit: true, Handle: s.keys},
		{Method: "POST", Pattern: "/ui/admin/keys", Scope: approval.ScopeAdmin, Handle: s.createKey},
		{Method: "POST", Pattern: "/ui/admin/keys/{id}/revoke", Scope: approval.ScopeAdmin, Handle: s.revokeKey},
		{Method: "POST", Pattern: "/ui/admin/keys/{id}/rotate", Scope: approval.ScopeAdmin, Handle: s.rotateKey},
		{Method: "GET", Pattern: "/ui/admin/deliveries", Scope: approval.ScopeAdmin, Audit: true, Handle: s.deliveries},
		{Method: "GET", Pattern: "/ui/admin/channels", Scope: approval.ScopeAdmin, Audit: true, Handle: s.channels},
		{Method: "POST", Pattern: "/ui/admin/channels", Scope: approval.ScopeAdmin, Handle: s.createChannel},
		{Method: "POST", Pattern: "/ui/admin/channels/{name}/delete", Scope: approval.ScopeAdmin, Handle: s.deleteChannel},
		{Method: "POST", Pattern: "/ui/admin/routes", Scope: approval.ScopeAdmin, Handle: s.createRoute},
		{Method: "POST", Pattern: "/ui/admin/routes/{id}/delete", Scope: approval.ScopeAdmin, Handle: s.deleteRoute},
		{Method: "GET", Pattern: "/ui/admin/contacts", Scope: approval.ScopeAdmin, Audit: true, Handle: s.contacts},
		{Method: "POST", Pattern: "/ui/admin/contacts", Scope: approval.ScopeAdmin, Handle: s.setContact},
		{Method: "POST", Pattern: "/ui/admin/contacts/delete", Scope: approval.ScopeAdmin, Handle: s.deleteContact},
		// Delegations and notification preferences are everyone's own; the
		// engine decides what each principal may see and change.
		{Method: "GET", Pattern: "/ui/delegations", Handle: s.delegations},
		{Method: "POST", Pattern: "/ui/delegations", Handle: s.createDelegation},
		{Method: "POST", Pattern: "/ui/delegations/{id}/revoke", Handle: s.revokeDelegation},
		{Method: "GET", Pattern: "/ui/notifications", Handle: s.preferences},
		{Method: "POST", Pattern: "/ui/notifications", Handle: s.savePreferences},
		{Method: "POST", Pattern: "/ui/signout", Handle: s.signOut},
		{Method: "GET", Pattern: "/ui/signin", Public: true, Handle: s.signInPage},
		{Method: "POST", Pattern: "/ui/signin", Public: true, Handle: s.signIn},
		{Method: "GET", Pattern: "/ui/auth/login", Public: true, Handle: s.oidcLogin},
		{Method: "GET", Pattern: "/ui/auth/callback", Public: true, Handle: s.oidcCallback},
		{Method: "GET", Pattern: "/ui/static/{file}", Public: true, Handle: s.static},
		// Browsers ask for /favicon.ico at the root whatever the page says.
		{Method: "GET", Pattern: "/favicon.ico", Public: true, Handle: s.favicon},
	}
}

// New returns the UI's handler, for the paths under /ui/ (see Mount).
// With OIDC sign-in configured it discovers the provider with ctx first,
// and fails when that fails or when d.Tokens is nil (the tokens the
// sign-in obtains must be verifiable). Without a session key it makes a
// random one, so that sessions end when the process does. The live-update
// streams end when ctx does (the browsers reconnect), so that a graceful
// shutdown started by cancelling ctx does not wait for open pages.
func New(ctx context.Context, d Deps) (http.Handler, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Config.SessionTTL <= 0 {
		d.Config.SessionTTL = DefaultSessionTTL
	}
	if d.Config.LinkReauthAge <= 0 {
		d.Config.LinkReauthAge = DefaultLinkReauthAge
	}
	key := d.Config.SessionKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		d.Logger.Warn("no UI session key configured (APPROVALD_UI_SESSION_KEY): using a random one, so UI sessions end at a restart and are not shared between instances")
	}
	seal, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &server{Deps: d, cfg: d.Config, seal: seal, pages: pg, streams: newStreamLimiter(maxStreams), log: d.Logger, now: d.Now, stopping: ctx.Done()}
	if d.Config.OIDC.Enabled() {
		if d.Tokens == nil {
			return nil, errors.New("OIDC sign-in (APPROVALD_OIDC_CLIENT_ID) needs JWT verification: set APPROVALD_OIDC_ISSUER and APPROVALD_OIDC_AUDIENCE")
		}
		client := d.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		if s.oidc, err = newOIDCLogin(ctx, d.Config.OIDC, client); err != nil {
			return nil, err
		}
	}
	mux := httpkit.Mux(s.routes(), s.serve, func(w http.ResponseWriter, r *http.Request, err error) {
		s.renderError(w, r, nil, err)
	})
	return s.observe(mux), nil
}

// Mount serves ui under /ui/ on mux, redirects /ui there, and serves the
// UI's icon at /favicon.ico, where browsers look for it.
func Mount(mux *http.ServeMux, ui http.Handler) {
	mux.Handle("/ui/", ui)
	mux.Handle("/ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.Handle("GET /favicon.ico", ui)
}

// serve checks the origin of forms and reads them, opens the session,
// checks the CSRF token and the scope, and renders the handler's error as
// a page.
func (s *server) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess *session
		err := func() error {
			if r.Method == http.MethodPost {
				if err := s.checkOrigin(r); err != nil {
					return err
				}
				if err := httpkit.ReadForm(w, r, maxFormBytes); err != nil {
					return err
				}
			}
			if rt.Public {
				return rt.Handle(w, r, nil)
			}
			var err error
			sess, err = s.currentSession(r)
			if errors.Is(err, errNoSession) {
				return s.signInFirst(w, r, rt)
			}
			if err != nil {
				return err
			}
			if r.Method == http.MethodPost {
				if err := s.checkCSRF(r, sess.ID); err != nil {
					return err
				}
			}
			if err := rt.Check(sess.P); err != nil {
				return err
			}
			return rt.Handle(w, r, sess)
		}()
		if err != nil {
			s.renderError(w, r, sess, err)
		}
	})
}

// signInFirst answers a request without a usable session: pages redirect
// to the sign-in page (which returns here afterwards), everything else is 401.
func (s *server) signInFirst(w http.ResponseWriter, r *http.Request, rt route) error {
	expired := s.hasSessionCookie(r)
	if expired {
		s.clearSession(w, r)
	}
	if rt.Pattern == eventsPattern || r.Method != http.MethodGet {
		return approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated, "sign in first: your session has ended")
	}
	q := url.Values{"next": {r.URL.RequestURI()}}
	if expired {
		q.Set("expired", "1")
	}
	target := "/ui/signin?" + q.Encode()
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return nil
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// safeNext returns next when it is a path of the UI to return to after
// signing in, else "/ui/": never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "/ui/auth/") || strings.HasPrefix(next, "/ui/signin") ||
		strings.ContainsAny(next, "\\\r\n\t") || strings.Contains(next, "//") || len(next) > 2000 {
		return "/ui/"
	}
	return next
}

// maxFormBytes bounds a form body: a comment of 10,000 characters fits
// many times.
const maxFormBytes = 256 << 10

// renderError answers err with an error page (see httpkit.Renderer.Fail):
// internal errors are logged and shown only as "internal error" with the
// request id.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	httpkit.Renderer(func(w http.ResponseWriter, r *http.Request, status int, e *approval.Error) {
		if r.Header.Get("Accept") == "text/event-stream" {
			http.Error(w, e.Message, status)
			return
		}
		data := errorPage{Status: status, StatusText: http.StatusText(status), Message: e.Message, Code: e.Code, Fields: e.Fields, Back: backLink(r)}
		if status == http.StatusUnauthorized {
			data.SignIn = "/ui/signin"
		}
		s.render(w, r, sess, status, "error", http.StatusText(status), data)
	}).Fail(w, r, err)
}

// backLink is where the error page's "Back" link goes: the request page a
// form was posted from, else the inbox.
func backLink(r *http.Request) string {
	if id := r.PathValue("id"); id != "" && strings.HasPrefix(r.URL.Path, "/ui/requests/") {
		return "/ui/requests/" + url.PathEscape(id)
	}
	if strings.HasPrefix(r.URL.Path, "/ui/admin/") {
		if parts := strings.SplitN(r.URL.Path, "/", 5); len(parts) >= 4 {
			return "/ui/admin/" + parts[3]
		}
	}
	return "/ui/"
}

// errorPage is the data of the error page.
type errorPage struct {
	Status     int
	StatusText string
	Message    string
	Code       string
	Fields     []approval.FieldError
	Back       string
	SignIn     string
	// Open, when set, links to the request without a signed link's token
	// (the pages that refuse a link).
	Open string
}

// pageData is what every page's template gets.
type pageData struct {
	Title     string
	Nav       string
	P         *approval.Principal
	Via       string
	CSRF      string
	IsAdmin   bool
	CanAdmin  bool // admin or audit: may see the admin pages
	RequestID string
	Data      any
}

// render executes page into a buffer and writes it with status and the
// HTML headers; a template failure becomes a plain 500.
func (s *server) render(w http.ResponseWriter, r *http.Request, sess *session, status int, page, title string, data any) {
	pd := pageData{Title: title, Nav: page, RequestID: access.RequestID(r.Context()), Data: data}
	if sess != nil {
		pd.P, pd.Via, pd.CSRF = &sess.P, sess.Via, sess.CSRF
		pd.IsAdmin = sess.P.IsAdmin()
		pd.CanAdmin = pd.IsAdmin || sess.P.Has(approval.ScopeAudit)
	}
	var buf bytes.Buffer
	if err := s.pages.execute(&buf, page, pd, r.Header.Get("HX-Request") != ""); err != nil {
		access.Logger(r.Context()).Error("rendering a page failed", "page", page, "err", err)
		http.Error(w, "internal error (request id "+pd.RequestID+")", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "HX-Request")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// redirect answers a form with 303 See Other to target.
func redirect(w http.ResponseWriter, r *http.Request, target string) error {
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// contentSecurityPolicy allows the UI's own scripts, styles and event
// stream and nothing else: no inline script or style, no framing, forms
// only to the UI itself.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every UI response carries.
func (s *server) securityHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: browsers then send "Origin: null" with forms, which
	// the origin check must refuse. Other sites get no referrer.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if s.secure(r) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// observe is access.Log for the UI, which also sets the security headers:
// panics answer with the error page.
func (s *server) observe(next http.Handler) http.Handler {
	logged := access.Log(access.Face{Name: "ui", Logger: s.log, Fail: func(w http.ResponseWriter, r *http.Request, err error) {
		s.renderError(w, r, nil, approval.Internal(err))
	}}, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.securityHeaders(w, r)
		logged.ServeHTTP(w, r)
	})
}
