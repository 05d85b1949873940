package web

import (
	"crypto/hmac"
	"fmt"
	"net/http"
	"strings"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/auth/oidc"
)

// signInData is the data of the sign-in page.
type signInData struct {
	Next      string
	OIDC      bool
	Provider  string
	KeySignIn bool
	CSRF      string
	Notice    string
	Error     string
	// Reauth: a signed-in person is asked to sign in again (to decide from
	// a signed link).
	Reauth bool
}

// signInPage shows the ways to sign in; a signed-in browser goes on to
// where it was going.
func (s *server) signInPage(w http.ResponseWriter, r *http.Request, _ *session) error {
	q := r.URL.Query()
	next := safeNext(q.Get("next"))
	reauth := q.Get("reauth") != ""
	if _, err := s.currentSession(r); err == nil && !reauth {
		return redirect(w, r, next)
	}
	d := signInData{Next: next, OIDC: s.oidc != nil, KeySignIn: s.cfg.KeySignIn, Reauth: reauth}
	if s.oidc != nil {
		d.Provider = s.oidc.name
	}
	switch {
	case reauth:
		d.Notice = fmt.Sprintf("To decide from a link, your sign-in must be less than %s old. Sign in again to continue.", shortDuration(s.cfg.LinkReauthAge))
	case q.Get("signedout") != "":
		d.Notice = "You are signed out."
	case q.Get("expired") != "":
		d.Notice = "Your session has ended. Sign in again to continue."
	}
	return s.renderSignIn(w, r, http.StatusOK, d)
}

func (s *server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, d signInData) error {
	d.CSRF = s.seal.csrfToken(s.preSession(w, r))
	s.render(w, r, nil, status, "signin", "Sign in", d)
	return nil
}

// signIn signs in with a pasted API key or JWT: the credential is
// authenticated exactly as the API would, and kept sealed in the session
// cookie.
func (s *server) signIn(w http.ResponseWriter, r *http.Request, _ *session) error {
	if !s.cfg.KeySignIn {
		return approval.Errorf(approval.KindForbidden, approval.CodeMissingScope, "signing in with a key or token is turned off here")
	}
	pre := s.preSessionID(r)
	got := r.PostFormValue(csrfField)
	if pre == "" || got == "" || !hmac.Equal([]byte(got), []byte(s.seal.csrfToken(pre))) {
		return csrfError("the sign-in form is stale or came from elsewhere")
	}
	next := safeNext(r.PostFormValue("next"))
	d := signInData{Next: next, OIDC: s.oidc != nil, KeySignIn: true}
	if s.oidc != nil {
		d.Provider = s.oidc.name
	}
	cred := strings.TrimSpace(r.PostFormValue("credential"))
	if scheme, rest, ok := strings.Cut(cred, " "); ok && strings.EqualFold(scheme, "Bearer") {
		cred = strings.TrimSpace(rest)
	}
	if cred == "" {
		d.Error = "Paste an API key or a token."
		return s.renderSignIn(w, r, http.StatusUnprocessableEntity, d)
	}
	p, err := s.authenticate(r.Context(), cred)
	if err != nil {
		if approval.KindOf(err) != approval.KindUnauthenticated {
			return err
		}
		kind := "api_key"
		if oidc.LooksLikeJWT(cred) {
			kind = "jwt"
		}
		access.Logger(r.Context()).Warn("sign-in failed", "credential", kind, "reason", credentialReason(err), "remote_addr", r.RemoteAddr)
		d.Error = "That key or token is not valid: it is unknown, revoked or expired."
		return s.renderSignIn(w, r, http.StatusUnauthorized, d)
	}
	if !p.Has(approval.ScopeRead) && !p.Has(approval.ScopeAudit) {
		d.Error = p.ID + " may not read requests (it lacks the approvals:read scope), so the UI has nothing to show it."
		return s.renderSignIn(w, r, http.StatusForbidden, d)
	}
	via := "key"
	if oidc.LooksLikeJWT(cred) {
		via = "token"
	}
	if err := s.startSession(w, r, cred, via, time.Time{}, s.now()); err != nil {
		return err
	}
	access.Logger(r.Context()).Info("signed in", "principal", p.ID, "via", via)
	return redirect(w, r, next)
}

// startSession sets a new session for cred, ending at the session TTL or
// at until when that is sooner, whose person proved who they are at
// authAt. The pre-session cookie goes: its work is done.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, cred, via string, until, authAt time.Time) error {
	exp := s.now().Add(s.cfg.SessionTTL)
	if !until.IsZero() && until.Before(exp) {
		exp = until
	}
	sess := &session{ID: randomID(), Cred: cred, Via: via, Exp: exp.Unix(), Auth: authAt.Unix()}
	if err := s.writeSession(w, r, sess); err != nil {
		return err
	}
	if s.preSessionID(r) != "" {
		s.setCookie(w, r, preCookie, "", -1, http.SameSiteStrictMode)
	}
	return nil
}

// signOut ends the session in this browser.
func (s *server) signOut(w http.ResponseWriter, r *http.Request, sess *session) error {
	s.clearSession(w, r)
	access.Logger(r.Context()).Info("signed out", "principal", sess.P.ID)
	return redirect(w, r, "/ui/signin?signedout=1")
}

// errSignIn is the error of a sign-in that cannot go on.
func errSignIn(kind approval.Kind, msg string) error {
	return approval.Errorf(kind, "sign_in_failed", "%s", msg)
}
