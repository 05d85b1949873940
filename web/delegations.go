package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"approvald/access"
	"approvald/approval"
)

// delegationsShown bounds the delegations page's list.
const delegationsShown = 200

// dateTimeLocal is the format of an <input type="datetime-local">, read as UTC.
const dateTimeLocal = "2006-01-02T15:04"

// delegationsData is the data of the delegations page.
type delegationsData struct {
	Delegations []approval.Delegation
	All         bool // the list holds everyone's (an admin or auditor)
	Me          string
	Admin       bool
	Reviewer    bool // may delegate its own reviews
	Now         time.Time
	Done        string
	Error       string
	Form        map[string]string
}

// State says where d stands now: "active", "scheduled", "ended" or "revoked".
func (d delegationsData) State(dl approval.Delegation) string {
	switch {
	case dl.RevokedAt != nil:
		return "revoked"
	case d.Now.Before(dl.Starts):
		return "scheduled"
	case !d.Now.Before(dl.Ends):
		return "ended"
	}
	return "active"
}

// MayRevoke reports whether the signed-in principal may revoke dl now.
func (d delegationsData) MayRevoke(dl approval.Delegation) bool {
	return dl.RevokedAt == nil && d.Now.Before(dl.Ends) && (d.Admin || dl.Delegator == d.Me || dl.Delegate == d.Me)
}

// delegations lists the delegations the principal gave and received (an
// admin or auditor: everyone's), with the form that delegates.
func (s *server) delegations(w http.ResponseWriter, r *http.Request, sess *session) error {
	d := delegationsData{}
	switch r.URL.Query().Get("done") {
	case "create":
		d.Done = "The delegation is saved."
	case "revoke":
		d.Done = "The delegation is revoked: it stopped at once."
	}
	return s.renderDelegations(w, r, sess, http.StatusOK, d)
}

func (s *server) renderDelegations(w http.ResponseWriter, r *http.Request, sess *session, status int, d delegationsData) error {
	d.Me, d.Admin, d.Reviewer, d.Now = sess.P.ID, sess.P.IsAdmin(), sess.P.Has(approval.ScopeReview), s.Engine.Now()
	d.All = d.Admin || sess.P.Has(approval.ScopeAudit)
	var err error
	if d.Delegations, err = s.Engine.Delegations(r.Context(), sess.P, approval.DelegationFilter{Limit: delegationsShown}); err != nil {
		return err
	}
	s.render(w, r, sess, status, "delegations", "Delegations", d)
	return nil
}

// createDelegation lends the principal's review eligibility (an admin:
// anyone's) to a delegate for a time window, in UTC.
func (s *server) createDelegation(w http.ResponseWriter, r *http.Request, sess *session) error {
	form := trimmedForm(r, "delegator", "delegate", "starts", "ends", "reason", "groups")
	dl := approval.Delegation{Delegate: form["delegate"], Reason: form["reason"]}
	var v approval.Validation
	for _, f := range []struct {
		name, field string
		to          *time.Time
	}{{"starts", "starts_at", &dl.Starts}, {"ends", "ends_at", &dl.Ends}} {
		if form[f.name] == "" {
			continue
		}
		t, err := time.Parse(dateTimeLocal, form[f.name])
		if err != nil {
			v.Add(f.field, "must be a date and time such as 2030-01-31T17:00 (UTC)")
		}
		*f.to = t
	}
	if sess.P.IsAdmin() {
		dl.Delegator = form["delegator"]
		groups := strings.FieldsFunc(form["groups"], func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
		switch {
		case len(groups) > 0:
			dl.DelegatorGroups = groups
		case dl.Delegator == "" || dl.Delegator == sess.P.ID:
			dl.DelegatorGroups = slices.Clone(sess.P.Groups) // an admin delegating its own reviews
		}
	}
	err := v.Err()
	var made *approval.Delegation
	if err == nil {
		made, err = s.Engine.CreateDelegation(r.Context(), sess.P, dl)
	}
	if err != nil {
		if k := approval.KindOf(err); k != approval.KindInvalid && k != approval.KindConflict && k != approval.KindForbidden {
			return err
		}
		return s.renderDelegations(w, r, sess, statusOf(err), delegationsData{Error: approval.AsError(err).Message, Form: form})
	}
	access.Logger(r.Context()).Info("delegation created in the UI", "delegation_id", made.ID, "delegator", made.Delegator, "delegate", made.Delegate, "by", sess.P.ID)
	return redirect(w, r, "/ui/delegations?done=create")
}

// revokeDelegation ends a delegation at once (its delegator, its delegate
// or an admin).
func (s *server) revokeDelegation(w http.ResponseWriter, r *http.Request, sess *session) error {
	if _, err := s.Engine.RevokeDelegation(r.Context(), sess.P, r.PathValue("id")); err != nil {
		if approval.KindOf(err) != approval.KindConflict {
			return err
		}
		return s.renderDelegations(w, r, sess, http.StatusConflict, delegationsData{Error: approval.AsError(err).Message})
	}
	access.Logger(r.Context()).Info("delegation revoked in the UI", "delegation_id", r.PathValue("id"), "by", sess.P.ID)
	return redirect(w, r, "/ui/delegations?done=revoke")
}

// preferencesData is the data of the notification preferences page.
type preferencesData struct {
	Kinds []kindChoice
	Done  string
}

// kindChoice is a kind of notification and whether it is muted.
type kindChoice struct {
	Kind  approval.NotifyKind
	Label string
	Muted bool
}

// kindLabels say what each kind of notification is about.
var kindLabels = map[approval.NotifyKind]string{
	approval.NotifyReviewRequested: "A request awaits my review (created, a stage opened, or changed so that reviews must be given again)",
	approval.NotifyReminder:        "Reminders of requests that still await my review",
	approval.NotifyEscalation:      "A request was escalated to me",
	approval.NotifyDecision:        "My request was decided",
	approval.NotifyDeliveryFailed:  "The decision on my request could not be delivered",
	approval.NotifyExpired:         "My request expired undecided",
}

// preferences shows the kinds of notification the principal gets and
// those it muted.
func (s *server) preferences(w http.ResponseWriter, r *http.Request, sess *session) error {
	muted, err := s.Engine.Mutes(r.Context(), sess.P)
	if err != nil {
		return err
	}
	d := preferencesData{}
	if r.URL.Query().Get("done") == "save" {
		d.Done = "Your notification preferences are saved."
	}
	for _, k := range approval.NotifyKinds() {
		d.Kinds = append(d.Kinds, kindChoice{Kind: k, Label: kindLabels[k], Muted: slices.Contains(muted, k)})
	}
	s.render(w, r, sess, http.StatusOK, "preferences", "Notifications", d)
	return nil
}

// savePreferences mutes the kinds ticked and unmutes the others.
func (s *server) savePreferences(w http.ResponseWriter, r *http.Request, sess *session) error {
	kinds := []approval.NotifyKind{}
	for _, k := range r.PostForm["muted"] {
		kinds = append(kinds, approval.NotifyKind(k))
	}
	if _, err := s.Engine.SetMutes(r.Context(), sess.P, kinds); err != nil {
		return err
	}
	return redirect(w, r, "/ui/notifications?done=save")
}
