package approval

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Action is a kind of change to a request; every history entry names one.
type Action string

// The actions. Approve, reject and cancel are decisions; review is a review
// that does not (yet) decide.
const (
	ActionCreate         Action = "create"
	ActionEdit           Action = "edit"
	ActionComment        Action = "comment"
	ActionReview         Action = "review"
	ActionApprove        Action = "approve"
	ActionReject         Action = "reject"
	ActionCancel         Action = "cancel"
	ActionExpire         Action = "expire"
	ActionDelivered      Action = "delivered"
	ActionDeliveryFailed Action = "delivery_failed"
	ActionRedeliver      Action = "redeliver"
	ActionRemind         Action = "remind"
	ActionOutcome        Action = "outcome"
	// ActionRequestChanges sends a pending request back to its requester;
	// ActionResubmit brings it back to pending; ActionRevoke takes an
	// approval back.
	ActionRequestChanges Action = "request_changes"
	ActionResubmit       Action = "resubmit"
	ActionRevoke         Action = "revoke"
	// ActionEscalate makes a rule's escalation reviewers eligible (see
	// Request.Escalate); approvald takes it by itself.
	ActionEscalate Action = "escalate"
)

// Actions returns every action, in the order of the constants above.
func Actions() []Action {
	return []Action{
		ActionCreate, ActionEdit, ActionComment, ActionReview, ActionApprove, ActionReject, ActionCancel,
		ActionExpire, ActionDelivered, ActionDeliveryFailed, ActionRedeliver, ActionRemind, ActionOutcome,
		ActionRequestChanges, ActionResubmit, ActionRevoke, ActionEscalate,
	}
}

// ValidAction reports whether a is a known action.
func ValidAction(a Action) bool { return slices.Contains(Actions(), a) }

// objectFields are the fields that make up what is being approved; together
// with comment they are what a PATCH may name.
var objectFields = []string{"title", "description", "payload", "deadline", "service_rule", "policy", "remind_after", "justification", "items"}

// toPrevious, as a target, means "back to the previous status" (redelivery
// of the decision that failed).
const toPrevious Status = -1

// state is one row of the transition table.
type state struct {
	editable []string          // fields a PATCH may change
	actions  map[Action]Status // allowed actions and the status each leads to
}

// table is the single source of every rule about what may happen to a
// request in each status. Decisions lead to the acknowledged_* statuses; a
// request without a service rule settles at once in the final status (see settle).
var table = map[Status]state{
	StatusPending: {
		editable: append(slices.Clone(objectFields), "comment"),
		actions: map[Action]Status{
			ActionEdit:     StatusPending,
			ActionComment:  StatusPending,
			ActionReview:   StatusPending,
			ActionApprove:  StatusAcknowledgedApproved,
			ActionReject:   StatusAcknowledgedRejected,
			ActionCancel:   StatusAcknowledgedCancelled,
			ActionExpire:   StatusExpired,
			ActionRemind:   StatusPending,
			ActionEscalate: StatusPending,
			// A reviewer of the open stage sends it back (see RequestChanges).
			ActionRequestChanges: StatusChangesRequested,
		},
	},
	StatusError: {
		editable: append(slices.Clone(objectFields), "comment"),
		actions: map[Action]Status{
			ActionEdit:      StatusError,
			ActionComment:   StatusError,
			ActionReview:    StatusError,
			ActionApprove:   StatusAcknowledgedApproved,
			ActionReject:    StatusAcknowledgedRejected,
			ActionCancel:    StatusAcknowledgedCancelled,
			ActionRedeliver: toPrevious,
		},
	},
	StatusAcknowledgedApproved: {
		actions: map[Action]Status{ActionDelivered: StatusApproved, ActionDeliveryFailed: StatusError},
	},
	StatusAcknowledgedRejected: {
		actions: map[Action]Status{ActionDelivered: StatusRejected, ActionDeliveryFailed: StatusError},
	},
	StatusAcknowledgedCancelled: {
		actions: map[Action]Status{ActionDelivered: StatusCancelled, ActionDeliveryFailed: StatusError},
	},
	// Approved and delivered; an admin, or a reviewer of a rule with
	// can_revoke, may take the approval back (see Revoke).
	StatusApproved: {
		editable: []string{"comment"},
		actions:  map[Action]Status{ActionComment: 0, ActionOutcome: 0, ActionRevoke: StatusRevoked},
	},
	// Sent back to the requester (request_changes): the requester edits it
	// as in pending and resubmits (back to pending, a new cycle, the
	// reviews before it void); nothing is delivered meanwhile. The deadline
	// still runs: an overdue request expires as in pending.
	StatusChangesRequested: {
		editable: append(slices.Clone(objectFields), "comment"),
		actions: map[Action]Status{
			ActionEdit:     StatusChangesRequested,
			ActionComment:  StatusChangesRequested,
			ActionCancel:   StatusAcknowledgedCancelled,
			ActionResubmit: StatusPending,
			ActionExpire:   StatusExpired,
		},
	},
	// Revoked is final. The revocation is delivered to the service rule
	// like a decision but with no acknowledged status before it: the
	// approval is taken back at once, whatever the receiver says. The
	// delivery's outcome is recorded in delivery and the request stays
	// revoked (delivered and delivery_failed lead back to revoked; a
	// failure tells the admins as any failed delivery does).
	StatusRevoked: {
		editable: []string{"comment"},
		actions:  map[Action]Status{ActionComment: 0, ActionDelivered: 0, ActionDeliveryFailed: 0},
	},
	StatusRejected:  finalState,
	StatusCancelled: finalState,
	// Expired is final. The expiry is delivered to the service rule as a
	// revocation is (a receiver waiting for a decision, such as a GitHub
	// deployment, learns that none will come): its outcome is recorded in
	// delivery and the request stays expired.
	StatusExpired: {
		editable: []string{"comment"},
		actions:  map[Action]Status{ActionComment: 0, ActionDelivered: 0, ActionDeliveryFailed: 0},
	},
}

var finalState = state{
	editable: []string{"comment"},
	actions:  map[Action]Status{ActionComment: 0}, // 0: stays where it is
}

// Allowed reports whether action a may happen to a request in status s.
func Allowed(s Status, a Action) bool {
	_, ok := table[s].actions[a]
	return ok
}

// Editable returns the fields a PATCH may change in status s.
func Editable(s Status) []string { return slices.Clone(table[s].editable) }

// AllowedActions returns the actions allowed in status s, sorted.
func AllowedActions(s Status) []Action {
	var out []Action
	for a := range table[s].actions {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Target returns the status that action a leads to from status s for a
// request that has (hasRule) or has not a service rule, and whether a is
// allowed at all. Redelivery's target depends on the previous status and is
// reported as s.
func Target(s Status, a Action, hasRule bool) (Status, bool) {
	to, ok := table[s].actions[a]
	switch {
	case !ok:
		return StatusUnknown, false
	case to == 0 || to == toPrevious:
		return s, true
	}
	return settle(to, hasRule), true
}

// settle maps an acknowledged status to its final status when there is no
// service rule to deliver the decision to.
func settle(to Status, hasRule bool) Status {
	if hasRule {
		return to
	}
	return to.Settled()
}

// Settled returns the final status that a decision in status s settles in
// once it is delivered — the target of ActionDelivered in the transition
// table: approved for acknowledged_approved, rejected for
// acknowledged_rejected, cancelled for acknowledged_cancelled — and s itself
// for any status that has no decision to deliver. Everything that maps an
// acknowledged status to its decision (the legacy callback, metrics, labels)
// uses it, so that the mapping lives in the table alone.
func (s Status) Settled() Status {
	if to, ok := table[s].actions[ActionDelivered]; ok && to > 0 {
		return to
	}
	return s
}

// refuse returns the 409 error for action a in status s, naming what is allowed.
func refuse(s Status, what string) error {
	allowed := AllowedActions(s)
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	detail := "nothing"
	if len(names) > 0 {
		detail = strings.Join(names, ", ")
	}
	if f := table[s].editable; len(f) > 0 {
		detail += "; editable fields: " + strings.Join(f, ", ")
	}
	return Errorf(KindConflict, CodeInvalidTransition, "cannot %s a request that is %s; allowed in %s: %s", what, s, s, detail)
}

// checkVersion returns a precondition error when expect is set and differs
// from the request's version.
func (r *Request) checkVersion(expect *int64) error {
	if expect != nil && *expect != r.Version {
		return Errorf(KindPrecondition, CodeVersionMismatch, "request is at version %d, not %d", r.Version, *expect)
	}
	return nil
}

func (r *Request) checkOverdue(now time.Time) error {
	if r.Overdue(now) {
		return Errorf(KindConflict, CodeInvalidTransition, "the deadline of this request passed at %s; it is expired", r.Deadline.Format(time.RFC3339))
	}
	return nil
}

// mayManage reports whether p may edit or cancel r: the requester or an admin.
func (r *Request) mayManage(p Principal, what string) error {
	if p.ID == r.Requester || p.IsAdmin() {
		return nil
	}
	return Errorf(KindForbidden, CodeNotOwner, "only the requester or an admin may %s this request", what)
}

// Edit applies patch to r on behalf of p. expect, when set, is the version
// the caller saw (If-Match). An empty patch changes nothing and returns a
// zero Change.
func (r *Request) Edit(p Principal, patch Patch, expect *int64, now time.Time) (Change, error) {
	now = TruncateTime(now)
	if err := r.checkVersion(expect); err != nil {
		return Change{}, err
	}
	if err := r.mayManage(p, "edit"); err != nil {
		return Change{}, err
	}
	fields := patch.fields()
	if len(fields) == 0 {
		return Change{}, nil
	}
	editable := table[r.Status].editable
	for _, f := range fields {
		if !slices.Contains(editable, f) {
			return Change{}, refuse(r.Status, "change "+f+" of")
		}
	}
	if err := r.checkOverdue(now); err != nil {
		return Change{}, err
	}
	if patch.Policy.Set && !p.IsAdmin() {
		return Change{}, Errorf(KindForbidden, CodeNotOwner, "only an admin may change the policy of a request")
	}
	if patch.ServiceRule.Set && patch.ServiceRule.Value != r.ServiceRule && patch.Mandate == nil {
		return Change{}, Internal(errors.New("approval: a change of service rule without its policy mandate"))
	}
	if patch.ServiceRule.Set && patch.ServiceRule.Value != r.ServiceRule && strings.HasPrefix(r.PolicySource, sourceOverride) && !p.IsAdmin() {
		// Moving resolves the policy afresh, which would undo the admin's.
		return Change{}, Errorf(KindForbidden, CodeNotOwner, "an admin set this request's policy; only an admin may move it to another service rule")
	}
	r.ensureDigest()
	var v Validation
	if patch.Policy.Set {
		patch.Policy.Value = patch.Policy.Value.Clone()
		patch.Policy.Value.Normalize()
		patch.Policy.Value.Validate(&v, "policy", selfReviewer(patch.Policy.Value, r.Requester))
	}
	if patch.RemindAfter.Set {
		checkRemindAfter(&v, patch.RemindAfter.Value)
	}
	if patch.Title.Set {
		checkTitle(&v, patch.Title.Value)
	}
	if patch.Description.Set {
		checkText(&v, "description", patch.Description.Value, MaxDescriptionLen, false)
	}
	if patch.Payload.Set {
		checkPayload(&v, patch.Payload.Value)
	}
	if patch.ServiceRule.Set {
		checkServiceRule(&v, patch.ServiceRule.Value)
	}
	if patch.Deadline.Set {
		checkDeadline(&v, patch.Deadline.Value, now)
	}
	if patch.Comment.Set {
		checkText(&v, "comment", patch.Comment.Value, MaxCommentLen, false)
	}
	if patch.Justification.Set {
		checkText(&v, "justification", patch.Justification.Value, MaxJustificationLen, false)
	}
	if patch.Items.Set {
		checkItems(&v, "items", patch.Items.Value)
	}
	if err := v.Err(); err != nil {
		return Change{}, err
	}

	before := r.Clone()
	if patch.Justification.Set {
		r.Justification = patch.Justification.Value
	}
	if patch.Items.Set {
		r.Items = cloneItems(patch.Items.Value)
	}
	if patch.Title.Set {
		r.Title = patch.Title.Value
	}
	if patch.Description.Set {
		r.Description = patch.Description.Value
	}
	if patch.Payload.Set {
		r.Payload = compactPayload(patch.Payload.Value)
	}
	if patch.ServiceRule.Set && patch.ServiceRule.Value != r.ServiceRule {
		// Another service rule: its mandate applies afresh, with the
		// requester's own requirements on top.
		r.ServiceRule = patch.ServiceRule.Value
		pol, source, err := Combine(*patch.Mandate, r.PolicyRequest.Policy)
		if err == nil {
			pol.Validate(&v, "policy", selfReviewer(pol, r.Requester))
			err = v.Err()
		}
		if err != nil {
			*r = *before
			return Change{}, err
		}
		r.Policy, r.PolicySource = pol, source
	}
	if patch.Deadline.Set {
		r.Deadline = nil
		if d := patch.Deadline.Value; d != nil {
			t := TruncateTime(*d)
			r.Deadline = &t
		}
	}
	if patch.Comment.Set {
		r.Comment = patch.Comment.Value
	}
	if patch.Policy.Set {
		r.Policy = patch.Policy.Value
		r.PolicySource = sourceOverride + p.ID
	}
	if patch.RemindAfter.Set && patch.RemindAfter.Value != r.RemindAfter {
		r.RemindAfter = patch.RemindAfter.Value
		r.scheduleReminder(now)
	}
	if r.Policy.RequireJustification && blank(r.Justification) {
		// Checked on the result: a new policy may require what the
		// request lacks, as may clearing the justification.
		*r = *before
		v.Add("justification", "the policy requires a justification")
		return Change{}, v.Err()
	}
	// Any change of content voids the reviews of the content before it.
	r.redigest(before)
	changed := changedFields(before, r)
	if len(changed) == 0 {
		return Change{}, nil
	}
	action := ActionEdit
	if len(changed) == 1 && changed[0] == "comment" {
		action = ActionComment
	}
	return r.record(before, action, p.ID, now), nil
}

// ReviewInput is a reviewer's decision. Seen, when set, is the version of
// the request the reviewer looked at; a review of an older version is refused.
type ReviewInput struct {
	Decision Decision
	Comment  string
	Seen     *int64
	// SeenDigest, when set, is the content digest the reviewer looked at;
	// a review of other content is refused.
	SeenDigest string
	// Items, when the request has items, decides them one by one (every
	// item must be named; the decision is then derived: approve when any
	// item is approved).
	Items []ItemDecision
	// OnBehalfOf, when set, names the delegator the reviewer reviews for
	// (the engine checks an active delegation and passes it as Delegation).
	OnBehalfOf string
	// Delegation is the active delegation under which the review is given;
	// the engine sets it, never the caller.
	Delegation *Delegation
}

// Review records p's decision on r, with an optional comment, and decides the
// request when the decision tips the policy. expect is the If-Match version.
// An approval that satisfies the policy approves the request only when every
// dependency is approved (see SetDependencies); otherwise it stays pending.
func (r *Request) Review(p Principal, in ReviewInput, expect *int64, now time.Time) (Change, error) {
	now = TruncateTime(now)
	d := in.Decision
	if d != DecisionApprove && d != DecisionReject && d != DecisionRequestChanges && (d != "" || len(in.Items) == 0) {
		var v Validation
		v.Add("decision", "must be %q, %q or %q", DecisionApprove, DecisionReject, DecisionRequestChanges)
		return Change{}, v.Err()
	}
	if err := r.checkVersion(expect); err != nil {
		return Change{}, err
	}
	if in.Seen != nil && *in.Seen != r.Version {
		return Change{}, Errorf(KindConflict, CodeStaleVersion, "the review is of version %d but the request is at version %d; read it again before reviewing", *in.Seen, r.Version)
	}
	r.ensureDigest()
	if in.SeenDigest != "" && in.SeenDigest != r.Digest {
		return Change{}, Errorf(KindConflict, CodeStaleVersion, "the review is of content %s but the request's content is now %s; read it again before reviewing", in.SeenDigest, r.Digest)
	}
	allowedAs := ActionReview
	if d == DecisionRequestChanges {
		allowedAs = ActionRequestChanges
	}
	if !Allowed(r.Status, allowedAs) {
		what := string(d)
		if what == "" {
			what = "review"
		}
		return Change{}, refuse(r.Status, what)
	}
	if err := r.checkOverdue(now); err != nil {
		return Change{}, err
	}
	var v Validation
	if len(in.Items) > 0 {
		if d == DecisionRequestChanges {
			v.Add("items", "request changes of the request as a whole, not item by item")
		} else if derived := r.checkItemDecisions(&v, in.Items); d == "" || d == derived {
			d = derived
		} else {
			v.Add("decision", "is %q but the item decisions make it %q (approve when any item is approved); leave it out", d, derived)
		}
	}
	checkText(&v, "comment", in.Comment, MaxCommentLen, r.Policy.commentRequired(d))
	if err := v.Err(); err != nil {
		return Change{}, err
	}
	if d == DecisionRequestChanges && r.Policy.MaxChangeCycles > 0 && r.Cycle >= r.Policy.MaxChangeCycles {
		return Change{}, Errorf(KindConflict, CodeInvalidTransition, "changes were requested %d times, as many as the policy allows (max_change_cycles); approve or reject the request instead", r.Cycle)
	}
	if !p.Has(ScopeReview) {
		return Change{}, Errorf(KindForbidden, CodeMissingScope, "reviewing needs the %s scope", ScopeReview)
	}
	as, stage, err := r.mayReview(p, in.OnBehalfOf, in.Delegation, now)
	if err != nil {
		return Change{}, err
	}
	by := ""
	if as.ID != p.ID {
		by = p.ID
	}
	before := r.Clone()
	for i, rv := range r.Reviews {
		if rv.Reviewer != as.ID || rv.Void {
			continue
		}
		// Only in error (deciding again after a failed delivery; pending
		// refused a second review above): the new decision replaces the old.
		r.Reviews[i].Void = true
	}
	r.Reviews = append(r.Reviews, Review{
		Reviewer: as.ID, Groups: slices.Clone(as.Groups), Decision: d,
		Comment: in.Comment, At: now, Version: r.Version, Digest: r.Digest, Stage: stage, By: by,
		Items: slices.Clone(in.Items),
	})
	if d == DecisionRequestChanges {
		// Back to the requester; the review stays, with its comment,
		// until the resubmission voids it.
		r.transition(ActionRequestChanges, now)
		return r.record(before, ActionRequestChanges, p.ID, now), nil
	}
	// The history names who acted: the delegate, for a delegated review.
	return r.record(before, r.decide(d, now), p.ID, now), nil
}

// decide moves r along the table for the decision its policy now makes
// after a review with decision d (d is "" for a review that is no
// reviewer's, such as an automatic one) and returns the action: approve,
// reject or review. Without items a review decides only its own way (an
// approval never rejects, a rejection never approves); with items the
// item verdicts decide (see items.go). An approval that satisfies the
// policy approves only when every dependency is approved.
func (r *Request) decide(d Decision, now time.Time) Action {
	action := ActionReview
	approves, rejects := r.policyOutcome()
	depsApproved, _, _ := r.dependencyOutcome()
	byItems := len(r.Items) > 0 || d == ""
	switch {
	case rejects && (byItems || d == DecisionReject):
		action = ActionReject
	case approves && depsApproved && (byItems || d == DecisionApprove):
		action = ActionApprove
	}
	if action != ActionReview {
		r.settleItems(action)
		r.transition(action, now)
	} else if r.evaluate().satisfied {
		r.NextReminderAt = nil // only dependencies hold it now
	}
	return action
}

// Eligible reports whether p may review r now — for d's delegator when d
// is not nil (a delegation to p) — with the error Review would refuse the
// review with: the requester, or a delegate for the requester, may not
// review unless the policy allows it; a human counts once per request; p
// (or the delegator, with the groups recorded in d) must be eligible for a
// rule of the open stage, escalated rules counting their escalation
// reviewers. It checks neither the scope nor the status.
func (r *Request) Eligible(p Principal, d *Delegation, now time.Time) error {
	onBehalfOf := ""
	if d != nil {
		onBehalfOf = d.Delegator
	}
	_, _, err := r.mayReview(p, onBehalfOf, d, TruncateTime(now))
	return err
}

// mayReview returns who p's review counts as — p, or the delegator of d
// when p reviews on behalf of someone (onBehalfOf) — and the stage it
// counts in, or why p may not review. A delegation must be p's, from
// onBehalfOf, and active at now; it lends the delegator's own id and the
// groups recorded in it, never eligibility the delegator holds through
// delegations of its own (they do not transit).
func (r *Request) mayReview(p Principal, onBehalfOf string, d *Delegation, now time.Time) (Principal, int, error) {
	as := p
	if onBehalfOf != "" || d != nil {
		switch {
		case d == nil:
			return Principal{}, 0, Errorf(KindForbidden, CodeNotDelegated, "%s has not delegated reviews to %s", onBehalfOf, p.ID)
		case d.Delegate != p.ID || (onBehalfOf != "" && d.Delegator != onBehalfOf):
			return Principal{}, 0, Errorf(KindForbidden, CodeNotDelegated, "%s has not delegated reviews to %s", d.Delegator, p.ID)
		case !d.ActiveAt(now):
			return Principal{}, 0, Errorf(KindForbidden, CodeNotDelegated, "the delegation from %s to %s is not active", d.Delegator, p.ID)
		case p.ID == r.Requester && !r.Policy.AllowSelfReview:
			return Principal{}, 0, Errorf(KindForbidden, CodeSelfReview, "the requester may not review their own request, for someone else either")
		}
		as = d.Principal()
	}
	// In pending a human counts once, whatever stage is open now and
	// whether they reviewed themselves or for someone: a second review is
	// "already reviewed", not "not eligible". In error a reviewer may decide
	// again, replacing their review (see Review), but not through another.
	humans := []string{p.ID, as.ID}
	for _, rv := range r.Reviews {
		if rv.Void || (r.Status != StatusPending && rv.Reviewer == as.ID) {
			continue
		}
		for _, h := range humans {
			if rv.Reviewer == h || rv.By == h {
				return Principal{}, 0, Errorf(KindConflict, CodeAlreadyReviewed, "%s has already reviewed this request", h)
			}
		}
	}
	stage, err := r.reviewStage(as)
	if err != nil {
		return Principal{}, 0, err
	}
	return as, stage, nil
}

// reviewStage returns the stage p's review counts in, or why p may not
// review. While pending that is the open stage. In error (deciding again
// after a failed delivery) every stage is done: p must be eligible for some
// rule (escalated ones counting their escalation reviewers), and the review
// keeps the stage of p's earlier review.
func (r *Request) reviewStage(p Principal) (int, error) {
	if r.Status == StatusPending {
		if err := r.Policy.eligibleNow(p, r.Requester, r.evaluate(), r.Escalations); err != nil {
			return 0, err
		}
		return r.evaluate().open, nil
	}
	if p.ID == r.Requester && !r.Policy.AllowSelfReview {
		return 0, Errorf(KindForbidden, CodeSelfReview, "the requester may not review their own request")
	}
	for i := len(r.Reviews) - 1; i >= 0; i-- {
		if rv := r.Reviews[i]; rv.Reviewer == p.ID && !rv.Void {
			return rv.Stage, nil
		}
	}
	for si := range r.Policy.stages() {
		if r.eligibleInStage(si, p.ID, p.Groups) {
			return si, nil
		}
	}
	return 0, Errorf(KindForbidden, CodeNotEligible, "%s is not an eligible reviewer for this request", p.ID)
}

// Cancel cancels r on behalf of p (the requester or an admin).
func (r *Request) Cancel(p Principal, comment string, expect *int64, now time.Time) (Change, error) {
	now = TruncateTime(now)
	if err := r.checkVersion(expect); err != nil {
		return Change{}, err
	}
	if !Allowed(r.Status, ActionCancel) {
		return Change{}, refuse(r.Status, "cancel")
	}
	if err := r.mayManage(p, "cancel"); err != nil {
		return Change{}, err
	}
	if err := r.checkOverdue(now); err != nil {
		return Change{}, err
	}
	var v Validation
	checkText(&v, "comment", comment, MaxCommentLen, false)
	if err := v.Err(); err != nil {
		return Change{}, err
	}
	before := r.Clone()
	if comment != "" {
		r.Comment = comment
	}
	r.transition(ActionCancel, now)
	return r.record(before, ActionCancel, p.ID, now), nil
}

// RecordOutcome records, on an approved request, what the service that
// acted on the approval reports it did (the CR8TOR gateway: the published
// files with their sizes and hashes). outcome must be a JSON object; it
// replaces an earlier outcome, which stays in the history.
func (r *Request) RecordOutcome(p Principal, outcome json.RawMessage, now time.Time) (Change, error) {
	now = TruncateTime(now)
	if !Allowed(r.Status, ActionOutcome) {
		return Change{}, refuse(r.Status, "record the outcome of")
	}
	var v Validation
	checkPayload(&v, outcome)
	if err := v.Err(); err != nil {
		return Change{}, err
	}
	before := r.Clone()
	r.Outcome = compactPayload(outcome)
	return r.record(before, ActionOutcome, p.ID, now), nil
}

// Expire moves an overdue pending request to expired. It returns a zero
// Change when r is not overdue at now (for instance, already expired).
func (r *Request) Expire(now time.Time) Change {
	now = TruncateTime(now)
	if !r.Overdue(now) {
		return Change{}
	}
	before := r.Clone()
	r.Reason = "the deadline passed before the request was approved"
	r.transition(ActionExpire, now)
	return r.record(before, ActionExpire, System.ID, now)
}

// transition moves r along the table for action a, keeping the previous
// status and stamping the decision time.
func (r *Request) transition(a Action, now time.Time) {
	to, ok := Target(r.Status, a, r.ServiceRule != "")
	if !ok {
		panic(fmt.Sprintf("approval: transition %s from %s is not in the table", a, r.Status))
	}
	if to == r.Status {
		return
	}
	prev := r.Status
	r.PreviousStatus = &prev
	r.Status = to
	r.scheduleReminder(now)
	if to.Acknowledged() || to.Final() {
		if r.DecidedAt == nil || prev == StatusError {
			r.DecidedAt = &now
		}
	}
}
