package web

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/engine"
)

// Page sizes.
const (
	inboxLimit = 50
	listLimit  = 50
)

// inboxData is the data of the inbox page.
type inboxData struct {
	Awaiting     []*approval.Request
	AwaitingMore bool   // more than inboxLimit await
	AwaitingNext string // cursor of the next page of the inbox
	AwaitingPage bool   // this is not the first page of the inbox
	Reviewer     bool   // the principal may review at all

	All      []*approval.Request
	Next     string // cursor (id) of the next page of all requests
	Filtered bool
	Paged    bool
	Status   string
	Reqr     string
	Rule     string
	Rules    []string // service rule names, for the filter (admins and auditors)
	Query    url.Values
	Self     string // this page's path and query, which live updates reload
	Live     bool   // live updates are available
}

// NextHref returns the link to the next page of all requests, with the
// same filters.
func (d inboxData) NextHref() template.URL {
	q := d.filters()
	q.Set("before", d.Next)
	return template.URL("/ui/?" + q.Encode())
}

// FirstHref returns the link to the first page with the same filters.
func (d inboxData) FirstHref() template.URL {
	return template.URL("/ui/?" + d.filters().Encode())
}

// filters returns the page's query without its paging.
func (d inboxData) filters() url.Values {
	q := url.Values{}
	for k, v := range d.Query {
		if k != "before" && k != "after" {
			q[k] = v
		}
	}
	return q
}

// inbox shows the requests awaiting the principal's review, then all
// requests, filtered by status, requester and service rule, newest first.
func (s *server) inbox(w http.ResponseWriter, r *http.Request, sess *session) error {
	q := r.URL.Query()
	d := inboxData{Query: q, Self: r.URL.RequestURI(), Status: q.Get("status"), Reqr: strings.TrimSpace(q.Get("requester")), Rule: strings.TrimSpace(q.Get("service_rule"))}
	d.Reviewer = sess.P.Has(approval.ScopeReview)
	d.Live = s.Hub != nil
	ctx := r.Context()
	after := q.Get("after")
	if after != "" && !engine.ValidID(after) {
		after = ""
	}
	awaiting, next, err := s.Engine.Inbox(ctx, sess.P, after, inboxLimit)
	if err != nil {
		return err
	}
	d.Awaiting, d.AwaitingNext, d.AwaitingMore, d.AwaitingPage = awaiting, next, next != "", after != ""

	f := approval.Filter{Requester: d.Reqr, ServiceRule: d.Rule, Limit: listLimit}
	if d.Status != "" {
		st, err := approval.ParseStatus(d.Status)
		if err != nil {
			var v approval.Validation
			v.Add("status", "unknown status %q", d.Status)
			return v.Err()
		}
		f.Statuses = []approval.Status{st}
	}
	if b := q.Get("before"); b != "" && engine.ValidID(b) {
		f.Before, d.Paged = b, true
	}
	d.Filtered = d.Status != "" || d.Reqr != "" || d.Rule != ""
	if d.All, d.Next, err = s.Engine.List(ctx, f); err != nil {
		return err
	}
	if sess.P.Has(approval.ScopeAudit) || sess.P.IsAdmin() {
		rules, err := s.Engine.Rules(ctx)
		if err != nil {
			return err
		}
		for _, rule := range rules {
			d.Rules = append(d.Rules, rule.Name)
		}
	}
	s.render(w, r, sess, http.StatusOK, "inbox", "Inbox", d)
	return nil
}

// abilities are what the signed-in principal may do to a request now:
// which forms the request page shows.
type abilities struct {
	Review bool
	// WhyNot says why a principal with the review scope may not review.
	WhyNot    string
	Cancel    bool
	Comment   bool
	Redeliver bool
}

// abilitiesOf decides the forms by the transition table and then by the
// domain's own rules for p (eligibility, self-review, requester or admin),
// trying each action on a copy of the request that is thrown away.
func (s *server) abilitiesOf(p approval.Principal, r *approval.Request) abilities {
	now := s.Engine.Now()
	var a abilities
	if p.Has(approval.ScopeReview) && approval.Allowed(r.Status, approval.ActionReview) {
		_, err := r.Clone().Review(p, approval.ReviewInput{Decision: approval.DecisionApprove}, nil, now)
		a.Review = err == nil
		if err != nil {
			a.WhyNot = approval.AsError(err).Message
		}
	}
	if p.Has(approval.ScopeCreate) && approval.Allowed(r.Status, approval.ActionCancel) {
		_, err := r.Clone().Cancel(p, "", nil, now)
		a.Cancel = err == nil
	}
	if p.Has(approval.ScopeCreate) && approval.Allowed(r.Status, approval.ActionComment) {
		probe := "x"
		if r.Comment != "" {
			probe = ""
		}
		_, err := r.Clone().Edit(p, approval.Patch{Comment: approval.Some(probe)}, nil, now)
		a.Comment = err == nil
	}
	if p.IsAdmin() && approval.Allowed(r.Status, approval.ActionRedeliver) {
		_, err := r.Clone().Redeliver(p, nil, now)
		a.Redeliver = err == nil
	}
	return a
}

// dependencyView is a dependency with its title, when it can be read.
type dependencyView struct {
	ID     string
	Title  string
	Status shownStatus
	Known  bool
}

// onBehalf is a delegator the signed-in principal may review for now,
// through an active delegation.
type onBehalf struct {
	Delegator string
	Until     time.Time
}

// requestData is the data of the request page.
type requestData struct {
	R        *approval.Request
	Progress approval.Progress
	Can      abilities
	// For are the delegators the principal may review this request for.
	For []onBehalf
	// Link is the token of the signed link the page was opened from,
	// checked: the decision forms carry it, and it is checked again.
	Link         string
	Dependencies []dependencyView
	History      []entryView
	Verified     bool
	VerifyError  string
	Done         string // what the principal just did, to confirm
	Error        string // why the principal's last form was refused
	Comment      string // the comment of a refused form, to try again
	Live         bool
}

// doneMessages confirm a form's success on the page it redirects to.
var doneMessages = map[string]string{
	"approve":   "You approved this request.",
	"reject":    "You rejected this request.",
	"cancel":    "You cancelled this request.",
	"comment":   "The comment is saved.",
	"redeliver": "The decision will be delivered again.",
}

// request shows one request. Opened from a signed link (?link=…), it
// checks the link first (see checkLink) and shows the decision form ready.
func (s *server) request(w http.ResponseWriter, r *http.Request, sess *session) error {
	id := r.PathValue("id")
	if token := r.URL.Query().Get(linkParam); token != "" {
		if err := s.checkLink(r, sess, id, token); err != nil {
			return s.linkFailed(w, r, sess, id, token, err)
		}
	}
	return s.renderRequest(w, r, sess, id, http.StatusOK, nil, "")
}

// linkToken returns the token of the signed link a page or form carries
// ("" for none): the handlers check it before rendering.
func linkToken(r *http.Request) string {
	if r.Method == http.MethodPost {
		return r.PostFormValue(linkParam)
	}
	return r.URL.Query().Get(linkParam)
}

// delegatorsFor returns the delegators p may review req for now: those of
// p's active delegations under which the domain finds p eligible
// (Request.Eligible: a delegate never reviews its own request for someone
// else, and a human counts once).
func (s *server) delegatorsFor(r *http.Request, p approval.Principal, req *approval.Request) ([]onBehalf, error) {
	if !p.Has(approval.ScopeReview) || !approval.Allowed(req.Status, approval.ActionReview) {
		return nil, nil
	}
	ds, err := s.Engine.ActiveDelegations(r.Context(), p)
	if err != nil {
		return nil, err
	}
	now := s.Engine.Now()
	var out []onBehalf
	for _, d := range ds {
		if slices.ContainsFunc(out, func(o onBehalf) bool { return o.Delegator == d.Delegator }) {
			continue
		}
		if req.Eligible(p, &d, now) == nil {
			out = append(out, onBehalf{Delegator: d.Delegator, Until: d.Ends})
		}
	}
	return out, nil
}

// renderRequest renders the request page with status; formErr, when set,
// is why the principal's form was refused, and comment what they typed.
func (s *server) renderRequest(w http.ResponseWriter, r *http.Request, sess *session, id string, status int, formErr error, comment string) error {
	ctx := r.Context()
	req, err := s.Engine.Get(ctx, id)
	if err != nil {
		return err
	}
	chain, err := s.Engine.History(ctx, id)
	if err != nil {
		return err
	}
	d := requestData{
		R: req, Progress: req.Progress(), Can: s.abilitiesOf(sess.P, req), History: viewEntries(chain.Entries),
		Verified: true, Done: doneMessages[r.URL.Query().Get("done")], Comment: comment, Live: s.Hub != nil,
		Link: linkToken(r),
	}
	if d.Done != "" && r.URL.Query().Get("for") != "" && approval.ValidPrincipal(r.URL.Query().Get("for")) {
		d.Done = strings.TrimSuffix(d.Done, ".") + " for " + r.URL.Query().Get("for") + "."
	}
	if d.For, err = s.delegatorsFor(r, sess.P, req); err != nil {
		return err
	}
	if formErr != nil {
		d.Error = approval.AsError(formErr).Message
	}
	// As the API's history: the chain against the request's version and head.
	if err := chain.Verify(); err != nil {
		d.Verified, d.VerifyError = false, err.Error()
		access.Logger(ctx).Error("history chain does not verify", "approval_id", id, "err", err)
	}
	for _, dep := range d.Progress.Dependencies {
		dv := dependencyView{ID: dep.ID}
		if dr, err := s.Engine.Get(ctx, dep.ID); err == nil {
			dv.Title, dv.Status, dv.Known = dr.Title, requestStatus(dr), true
		} else if approval.KindOf(err) != approval.KindNotFound {
			return err
		}
		d.Dependencies = append(d.Dependencies, dv)
	}
	s.render(w, r, sess, status, "request", req.Title, d)
	return nil
}

// formComment returns the form's comment; a comment over the limit is
// refused by the domain with the same message as in the API.
func formComment(r *http.Request) string {
	return strings.ReplaceAll(r.PostFormValue("comment"), "\r\n", "\n")
}

// actionDone redirects to the request page, confirming what was done; a
// refusal the principal can act on re-renders the page with the reason
// and what they typed.
func (s *server) actionDone(w http.ResponseWriter, r *http.Request, sess *session, done string, err error) error {
	id := r.PathValue("id")
	if err == nil {
		q := url.Values{"done": {done}}
		if f := r.PostFormValue("on_behalf_of"); f != "" {
			q.Set("for", f)
		}
		return redirect(w, r, "/ui/requests/"+url.PathEscape(id)+"?"+q.Encode())
	}
	switch approval.KindOf(err) {
	case approval.KindConflict, approval.KindPrecondition, approval.KindInvalid, approval.KindForbidden:
		if rerr := s.renderRequest(w, r, sess, id, statusOf(err), err, formComment(r)); rerr == nil {
			return nil
		}
	}
	return err
}

// review records the principal's decision, with the version and content
// digest they saw: a request that changed meanwhile is refused
// (stale_version), so nobody approves what they did not read. With
// on_behalf_of it reviews for that delegator (the engine checks the
// delegation). A form opened from a signed link carries its token, and the
// link is checked again first, exactly as when it was opened: the session
// decides, never the link alone.
func (s *server) review(w http.ResponseWriter, r *http.Request, sess *session) error {
	id := r.PathValue("id")
	if token := r.PostFormValue(linkParam); token != "" {
		if err := s.checkLink(r, sess, id, token); err != nil {
			return s.linkFailed(w, r, sess, id, token, err)
		}
	}
	in := approval.ReviewInput{
		Decision: approval.Decision(r.PostFormValue("decision")), Comment: formComment(r), SeenDigest: r.PostFormValue("content_digest"),
		OnBehalfOf: strings.TrimSpace(r.PostFormValue("on_behalf_of")),
	}
	if v := r.PostFormValue("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			var val approval.Validation
			val.Add("version", "must be a whole number")
			return val.Err()
		}
		in.Seen = &n
	}
	_, err := s.Engine.Review(r.Context(), sess.P, id, in, nil)
	return s.actionDone(w, r, sess, string(in.Decision), err)
}

// cancel cancels the request (the requester or an admin).
func (s *server) cancel(w http.ResponseWriter, r *http.Request, sess *session) error {
	_, err := s.Engine.Cancel(r.Context(), sess.P, r.PathValue("id"), formComment(r), nil)
	return s.actionDone(w, r, sess, "cancel", err)
}

// comment replaces the request's comment (the requester or an admin).
func (s *server) comment(w http.ResponseWriter, r *http.Request, sess *session) error {
	patch := approval.Patch{Comment: approval.Some(formComment(r))}
	_, err := s.Engine.Edit(r.Context(), sess.P, r.PathValue("id"), patch, nil)
	return s.actionDone(w, r, sess, "comment", err)
}

// redeliver delivers a failed decision again (admins).
func (s *server) redeliver(w http.ResponseWriter, r *http.Request, sess *session) error {
	_, err := s.Engine.Redeliver(r.Context(), sess.P, r.PathValue("id"), nil)
	if err == nil && r.PostFormValue("from") == "deliveries" {
		return redirect(w, r, "/ui/admin/deliveries?done=redeliver")
	}
	return s.actionDone(w, r, sess, "redeliver", err)
}
