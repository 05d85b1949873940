package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"approvald/access"
	"approvald/signedlink"
)

// linkParam names the query parameter of a signed link's token
// (/ui/requests/{id}?link=…), and the hidden field of the decision form
// opened from it.
const linkParam = "link"

// Codes of the pages that refuse a signed link.
const (
	CodeLinkInvalid   = "link_invalid"   // 400: malformed, not ours, or for another request
	CodeLinkRecipient = "link_recipient" // 403: sent to another principal
	CodeLinkChanged   = "link_changed"   // 409: the request's content changed since
	CodeLinkExpired   = "link_expired"   // 410: past its expiry
)

// linkRefusal is why a signed link is refused: a page with Status, never
// the token.
type linkRefusal struct {
	Status  int
	Code    string
	Message string
}

func (e *linkRefusal) Error() string { return e.Message }

// errReauth means the session is too old to decide from a signed link: the
// person signs in again first.
var errReauth = errors.New("the sign-in is too old to decide from a link")

// checkLink checks token, from a link to request id, for the signed-in
// session: signed by this server, not expired, for this request, sent to
// this principal, for the content the request has now (an edit that voided
// the reviews voids the link), and a sign-in recent enough. It returns a
// *linkRefusal, errReauth, or another error (the store's). A link never
// decides anything by itself: it only adds these checks to a session that
// may already review.
func (s *server) checkLink(r *http.Request, sess *session, id, token string) error {
	log := access.Logger(r.Context())
	if s.cfg.Links == nil {
		return &linkRefusal{http.StatusBadRequest, CodeLinkInvalid, "This server does not accept links from notifications. Open the request from the inbox."}
	}
	c, err := s.cfg.Links.Verify(token, s.now())
	switch {
	case errors.Is(err, signedlink.ErrExpired):
		log.Info("expired signed link", "approval_id", id, "recipient", c.Recipient, "principal", sess.P.ID, "expired_at", c.Expires)
		return &linkRefusal{http.StatusGone, CodeLinkExpired, "This link has expired. Ask for a new link, or open the request from the inbox."}
	case err != nil:
		log.Warn("signed link refused", "approval_id", id, "reason", err.Error(), "principal", sess.P.ID)
		return &linkRefusal{http.StatusBadRequest, CodeLinkInvalid, "This link is not valid: it is damaged, or was not made by this server. Open the request from the inbox."}
	case c.RequestID != id:
		log.Warn("signed link refused", "approval_id", id, "reason", "the token is for another request", "principal", sess.P.ID)
		return &linkRefusal{http.StatusBadRequest, CodeLinkInvalid, "This link is not valid: it was made for another request."}
	case c.Recipient != sess.P.ID:
		log.Warn("signed link used by another principal", "approval_id", id, "recipient", c.Recipient, "principal", sess.P.ID)
		return &linkRefusal{http.StatusForbidden, CodeLinkRecipient,
			fmt.Sprintf("This link was sent to someone else, not to %s, who is signed in here. It cannot be used by another person; the attempt is logged.", sess.P.ID)}
	}
	req, err := s.Engine.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if req.Digest != c.Digest {
		log.Info("signed link for content that changed since", "approval_id", id, "link_version", c.Version, "version", req.Version, "principal", sess.P.ID)
		return &linkRefusal{http.StatusConflict, CodeLinkChanged,
			"This request changed after the link was sent, and reviews of what it said before no longer count. Open the request to read what it asks now."}
	}
	if sess.Auth == 0 || s.now().Sub(time.Unix(sess.Auth, 0)) > s.cfg.LinkReauthAge {
		return errReauth
	}
	return nil
}

// linkFailed answers a link that checkLink did not accept: the refusal's
// page, or a sign-in again that comes back to the link. It returns other
// errors as they are.
func (s *server) linkFailed(w http.ResponseWriter, r *http.Request, sess *session, id, token string, err error) error {
	var refusal *linkRefusal
	switch {
	case errors.As(err, &refusal):
		open := "/ui/requests/" + url.PathEscape(id)
		s.render(w, r, sess, refusal.Status, "error", http.StatusText(refusal.Status), errorPage{
			Status: refusal.Status, StatusText: http.StatusText(refusal.Status), Message: refusal.Message,
			Code: refusal.Code, Back: "/ui/", Open: open,
		})
		return nil
	case errors.Is(err, errReauth):
		next := "/ui/requests/" + url.PathEscape(id) + "?" + url.Values{linkParam: {token}}.Encode()
		q := url.Values{"reauth": {"1"}, "next": {next}}
		target := "/ui/signin?" + q.Encode()
		if sess.Via == "oidc" && s.oidc != nil {
			target = "/ui/auth/login?" + q.Encode()
		}
		access.Logger(r.Context()).Info("signed link needs a recent sign-in", "approval_id", id, "principal", sess.P.ID, "via", sess.Via)
		return redirect(w, r, target)
	}
	return err
}

// shortDuration says d the way people do: "15 minutes", "1 hour".
func shortDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d %s", d/time.Hour, plural(int(d/time.Hour), "hour", "hours"))
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d %s", d/time.Minute, plural(int(d/time.Minute), "minute", "minutes"))
	}
	return d.String()
}
