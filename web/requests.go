package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"path"
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
	// SentBack are the principal's own requests whose changes were
	// requested: theirs to edit and resubmit.
	SentBack []*approval.Request

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

	if sess.P.Has(approval.ScopeCreate) && after == "" {
		if d.SentBack, _, err = s.Engine.List(ctx, approval.Filter{Requester: sess.P.ID, Statuses: []approval.Status{approval.StatusChangesRequested}, Limit: inboxLimit}); err != nil {
			return err
		}
	}

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
	WhyNot string
	// RequestChanges: the principal may send the request back (a reviewer,
	// below the policy's cap of cycles).
	RequestChanges bool
	Cancel         bool
	Comment        bool
	Redeliver      bool
	// Edit lists the fields of the request's content the principal may
	// change now (the requester or an admin, of a request sent back).
	Edit editable
	// Resubmit: the requester (or an admin) may send it back to review.
	Resubmit bool
	// Revoke: an admin, or an eligible reviewer of a rule that can_revoke,
	// may take the approval back.
	Revoke bool
}

// editable says which fields the edit form offers.
type editable struct {
	Title, Description, Payload, Justification, Items bool
}

// Any reports whether any field may be edited.
func (e editable) Any() bool {
	return e.Title || e.Description || e.Payload || e.Justification || e.Items
}

// abilitiesOf decides the forms by the transition table and then by the
// domain's own rules for p (eligibility, self-review, requester or admin),
// trying each action on a copy of the request that is thrown away.
func (s *server) abilitiesOf(p approval.Principal, r *approval.Request) abilities {
	now := s.Engine.Now()
	var a abilities
	if p.Has(approval.ScopeReview) && approval.Allowed(r.Status, approval.ActionReview) {
		// With a comment: a policy may require one, which the form asks for.
		_, err := r.Clone().Review(p, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: "probe"}, nil, now)
		a.Review = err == nil
		if err != nil {
			a.WhyNot = approval.AsError(err).Message
		}
		a.RequestChanges = a.Review && approval.Allowed(r.Status, approval.ActionRequestChanges) &&
			(r.Policy.MaxChangeCycles == 0 || r.Cycle < r.Policy.MaxChangeCycles)
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
	// The edit form is for a request sent back: a pending request's
	// content changes through the API (its reviewers are mid-way).
	if r.Status == approval.StatusChangesRequested && p.Has(approval.ScopeCreate) && approval.Allowed(r.Status, approval.ActionEdit) {
		fields := approval.Editable(r.Status)
		if _, err := r.Clone().Edit(p, approval.Patch{Title: approval.Some(r.Title)}, nil, now); err != nil {
			fields = nil
		}
		a.Edit = editable{
			Title: slices.Contains(fields, "title"), Description: slices.Contains(fields, "description"),
			Payload: slices.Contains(fields, "payload"), Justification: slices.Contains(fields, "justification"),
			Items: slices.Contains(fields, "items"),
		}
	}
	if p.Has(approval.ScopeCreate) && approval.Allowed(r.Status, approval.ActionResubmit) {
		_, err := r.Clone().Resubmit(p, nil, now)
		a.Resubmit = err == nil
	}
	if approval.Allowed(r.Status, approval.ActionRevoke) {
		_, err := r.Clone().Revoke(p, "probe", nil, now)
		a.Revoke = err == nil
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
	// Refused names the form that was refused (review, edit, revoke…) and
	// Decision the decision it carried, so that the page opens that form
	// again with what was typed.
	Refused  string
	Decision string
	// Items are the request's items as the page shows them, with the
	// decisions of a refused form kept.
	Items []itemView
	// ChangeRequests are the reviews that sent the request back: what the
	// requester is asked to change.
	ChangeRequests []approval.Review
	// NeedsComment says which decisions need a comment (request_changes
	// always; the others when the policy requires it).
	NeedsComment map[string]bool
	// Edit is what the edit form shows: the request's values, or what a
	// refused edit carried.
	Edit editValues
	// RevokeReason is the reason of a refused revocation.
	RevokeReason string
	// Receipt is the signed receipt of a decided request; nil before the
	// decision or when the server issues none.
	Receipt *receiptView
}

// itemView is an item on the request page.
type itemView struct {
	approval.Item
	Short    string // the digest shortened
	Size     string // the size for people
	Meta     string // the metadata as compact JSON, "" without
	Decision string // what a refused form decided for it
	// Outcome is "approved" or "rejected" once the request is decided
	// item by item, else "".
	Outcome string
}

// editValues are the edit form's fields.
type editValues struct {
	Title, Description, Payload, Justification, Items string
}

// valuesOf returns the edit form's values for req.
func valuesOf(req *approval.Request) editValues {
	v := editValues{Title: req.Title, Description: req.Description, Justification: req.Justification, Payload: string(displayPretty(req.Payload))}
	if len(req.Items) > 0 {
		b, _ := json.MarshalIndent(req.Items, "", "  ")
		v.Items = string(b)
	}
	return v
}

// doneMessages confirm a form's success on the page it redirects to.
var doneMessages = map[string]string{
	"approve":   "You approved this request.",
	"reject":    "You rejected this request.",
	"cancel":    "You cancelled this request.",
	"comment":   "The comment is saved.",
	"redeliver": "The decision will be delivered again.",
	"items":     "Your decisions on the items are recorded.",
	// request_changes is the decision's value in the review form.
	"request_changes": "You asked the requester for changes.",
	"edit":            "Your changes are saved. Resubmit the request when it is ready for review again.",
	"resubmit":        "You resubmitted this request: it is pending review again.",
	"revoke":          "You revoked the approval of this request.",
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
		Link: linkToken(r), Receipt: s.receiptOf(r, req),
	}
	if d.Done != "" && r.URL.Query().Get("for") != "" && approval.ValidPrincipal(r.URL.Query().Get("for")) {
		d.Done = strings.TrimSuffix(d.Done, ".") + " for " + r.URL.Query().Get("for") + "."
	}
	if d.For, err = s.delegatorsFor(r, sess.P, req); err != nil {
		return err
	}
	d.NeedsComment = map[string]bool{string(approval.DecisionRequestChanges): true}
	for _, dec := range req.Policy.RequireComment {
		d.NeedsComment[string(dec)] = true
	}
	d.Edit = valuesOf(req)
	for _, it := range req.Items {
		iv := itemView{Item: it, Short: shortDigest(it.Digest), Size: humanSize(it.Size)}
		if o := req.ItemOutcome; o != nil {
			switch {
			case slices.ContainsFunc(o.Approved, func(ref approval.ItemRef) bool { return ref.ID == it.ID }):
				iv.Outcome = "approved"
			case slices.ContainsFunc(o.Rejected, func(ref approval.ItemRef) bool { return ref.ID == it.ID }):
				iv.Outcome = "rejected"
			}
		}
		if len(it.Metadata) > 0 && displayJSON(it.Metadata) != "—" {
			iv.Meta = displayJSON(it.Metadata)
		}
		d.Items = append(d.Items, iv)
	}
	if req.Status == approval.StatusChangesRequested {
		d.ChangeRequests = changeRequests(req.Reviews)
	}
	if formErr != nil {
		d.Error = approval.AsError(formErr).Message
		if r.Method == http.MethodPost {
			d.Refused = path.Base(r.URL.Path)
			d.Decision = r.PostFormValue("decision")
			switch d.Refused {
			case "edit":
				d.Edit = editValues{
					Title: r.PostFormValue("title"), Description: formText(r, "description"), Payload: formText(r, "payload"),
					Justification: formText(r, "justification"), Items: formText(r, "items"),
				}
			case "revoke":
				d.RevokeReason = formText(r, "reason")
			case "review":
				for i := range d.Items {
					d.Items[i].Decision = r.PostFormValue(itemField(d.Items[i].ID))
				}
			}
		}
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
	req, err := s.Engine.Get(r.Context(), id)
	if err != nil {
		return err
	}
	in := approval.ReviewInput{
		Decision: approval.Decision(r.PostFormValue("decision")), Comment: formComment(r), SeenDigest: r.PostFormValue("content_digest"),
		OnBehalfOf: strings.TrimSpace(r.PostFormValue("on_behalf_of")),
	}
	done := string(in.Decision)
	if in.Decision == decisionItems {
		if in.Items, in.Decision, err = itemDecisions(r, req); err != nil {
			return s.actionDone(w, r, sess, done, err)
		}
	}
	if err := commentNeeded(req, in.Decision, in.Comment); err != nil {
		return s.actionDone(w, r, sess, done, err)
	}
	if in.Seen, err = formVersion(r); err != nil {
		return err
	}
	_, err = s.Engine.Review(r.Context(), sess.P, id, in, nil)
	return s.actionDone(w, r, sess, done, err)
}

// decisionItems is the review form's decision that decides the items one
// by one (ReviewInput.Items); the request's decision follows from them.
const decisionItems = "items"

// itemField is the name of an item's radio buttons in the review form.
func itemField(id string) string { return "item:" + id }

// itemDecisions reads the decision on every item of req from the form, and
// the request's decision that follows: approve when any item is approved.
func itemDecisions(r *http.Request, req *approval.Request) ([]approval.ItemDecision, approval.Decision, error) {
	var v approval.Validation
	if len(req.Items) == 0 {
		v.Add("items", "this request has no items to decide one by one")
		return nil, "", v.Err()
	}
	out := make([]approval.ItemDecision, 0, len(req.Items))
	decision := approval.DecisionReject
	var missing []string
	for _, it := range req.Items {
		switch d := approval.Decision(r.PostFormValue(itemField(it.ID))); d {
		case approval.DecisionApprove, approval.DecisionReject:
			out = append(out, approval.ItemDecision{ID: it.ID, Decision: d})
			if d == approval.DecisionApprove {
				decision = approval.DecisionApprove
			}
		default:
			missing = append(missing, it.Name)
		}
	}
	if len(missing) > 0 {
		v.Add("items", "approve or reject every item: %s %s no decision", strings.Join(missing, ", "), plural(len(missing), "has", "have"))
		return nil, "", v.Err()
	}
	return out, decision, nil
}

// commentNeeded refuses, before the engine is asked, a decision without
// the comment it needs: asking for changes always does (the requester
// must learn what to change), and a policy may require one to approve or
// reject.
func commentNeeded(req *approval.Request, d approval.Decision, comment string) error {
	if strings.TrimSpace(comment) != "" {
		return nil
	}
	var v approval.Validation
	switch {
	case d == approval.DecisionRequestChanges:
		v.Add("comment", "say what should change: a comment is required to request changes")
	case slices.Contains(req.Policy.RequireComment, d):
		v.Add("comment", "this request's policy requires a comment to %s", d)
	}
	return v.Err()
}

// formVersion returns the version a form was rendered with (nil when it
// carries none).
func formVersion(r *http.Request) (*int64, error) {
	v := r.PostFormValue("version")
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		var val approval.Validation
		val.Add("version", "must be a whole number")
		return nil, val.Err()
	}
	return &n, nil
}

// formText returns a text field of the form with the browser's line breaks
// made plain.
func formText(r *http.Request, name string) string {
	return strings.ReplaceAll(r.PostFormValue(name), "\r\n", "\n")
}

// changeRequests returns the reviews that sent a request back: those of
// the current cycle (not void), else the last one.
func changeRequests(reviews []approval.Review) []approval.Review {
	var live []approval.Review
	last := -1
	for i, rv := range reviews {
		if rv.Decision != approval.DecisionRequestChanges {
			continue
		}
		last = i
		if !rv.Void {
			live = append(live, rv)
		}
	}
	if len(live) == 0 && last >= 0 {
		live = append(live, reviews[last])
	}
	return live
}

// edit changes the content of a request sent back to its requester: the
// fields of the form that differ from the request as it is (an unchanged
// field is not sent, so it voids nothing).
func (s *server) edit(w http.ResponseWriter, r *http.Request, sess *session) error {
	id := r.PathValue("id")
	req, err := s.Engine.Get(r.Context(), id)
	if err != nil {
		return err
	}
	expect, err := formVersion(r)
	if err != nil {
		return err
	}
	patch, err := editPatch(r, req)
	if err == nil {
		_, err = s.Engine.Edit(r.Context(), sess.P, id, patch, expect)
	}
	return s.actionDone(w, r, sess, "edit", err)
}

// editPatch builds the patch of the edit form: each field the form
// carries and that differs from req. The payload and the items are JSON.
func editPatch(r *http.Request, req *approval.Request) (approval.Patch, error) {
	var patch approval.Patch
	var v approval.Validation
	form := r.PostForm
	if form.Has("title") && r.PostFormValue("title") != req.Title {
		patch.Title = approval.Some(r.PostFormValue("title"))
	}
	if form.Has("description") && formText(r, "description") != req.Description {
		patch.Description = approval.Some(formText(r, "description"))
	}
	if form.Has("justification") && formText(r, "justification") != req.Justification {
		patch.Justification = approval.Some(formText(r, "justification"))
	}
	if form.Has("payload") {
		raw := strings.TrimSpace(formText(r, "payload"))
		var now, was bytes.Buffer
		switch {
		case !json.Valid([]byte(raw)):
			v.Add("payload", "must be JSON (an object, say {\"amount\": \"10.00\"})")
		case json.Compact(&now, []byte(raw)) == nil && (json.Compact(&was, req.Payload) != nil || now.String() != was.String()):
			patch.Payload = approval.Some(json.RawMessage(now.Bytes()))
		}
	}
	if form.Has("items") {
		raw := strings.TrimSpace(formText(r, "items"))
		var items []approval.Item
		if raw != "" {
			dec := json.NewDecoder(strings.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&items); err != nil {
				v.Add("items", "must be a JSON array of items (id, name, media_type, size, digest, metadata): %v", err)
			}
		}
		if items == nil {
			items = []approval.Item{}
		}
		was, _ := json.Marshal(req.Items)
		now, _ := json.Marshal(items)
		if len(req.Items) == 0 && len(items) == 0 {
			now = was
		}
		if string(now) != string(was) {
			patch.Items = approval.Some(items)
		}
	}
	return patch, v.Err()
}

// resubmit sends a request that was sent back to review again (its
// requester or an admin).
func (s *server) resubmit(w http.ResponseWriter, r *http.Request, sess *session) error {
	expect, err := formVersion(r)
	if err != nil {
		return err
	}
	_, err = s.Engine.Resubmit(r.Context(), sess.P, r.PathValue("id"), expect)
	return s.actionDone(w, r, sess, "resubmit", err)
}

// revoke takes an approval back, with the reason it requires (an admin, or
// a reviewer of a rule that can_revoke: the engine decides).
func (s *server) revoke(w http.ResponseWriter, r *http.Request, sess *session) error {
	expect, err := formVersion(r)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(formText(r, "reason"))
	if reason == "" {
		var v approval.Validation
		v.Add("reason", "say why the approval is revoked: a reason is required")
		err = v.Err()
	} else {
		_, err = s.Engine.Revoke(r.Context(), sess.P, r.PathValue("id"), reason, expect)
	}
	return s.actionDone(w, r, sess, "revoke", err)
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
