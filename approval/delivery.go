package approval

import (
	"slices"
	"time"
)

// MaxDeliveryErrorLen bounds the delivery error kept on a request.
const MaxDeliveryErrorLen = 1000

// Delivered records that the decision of an acknowledged request, or the
// revocation of a revoked one, reached its service rule after attempts
// attempts: the request settles in its final status (revoked stays
// revoked). It returns a zero Change when the table allows no delivery in
// r's status (a late or repeated outcome changes nothing).
func (r *Request) Delivered(attempts int, now time.Time) Change {
	now = TruncateTime(now)
	if !Allowed(r.Status, ActionDelivered) {
		return Change{}
	}
	before := r.Clone()
	r.Delivery = &Delivery{Attempts: attempts, DeliveredAt: &now}
	r.transition(ActionDelivered, now)
	return r.record(before, ActionDelivered, System.ID, now)
}

// DeliveryFailed records that the decision of an acknowledged request could
// not be delivered (retries exhausted, or a permanent refusal): the request
// moves to error, previous_status keeps the acknowledged status, and the
// failure is kept in delivery — never in the comment. A revoked request
// stays revoked, the failure kept in delivery. It returns a zero Change
// when the table allows no delivery in r's status.
func (r *Request) DeliveryFailed(attempts int, reason string, now time.Time) Change {
	now = TruncateTime(now)
	if !Allowed(r.Status, ActionDeliveryFailed) {
		return Change{}
	}
	if len(reason) > MaxDeliveryErrorLen {
		reason = reason[:MaxDeliveryErrorLen]
	}
	before := r.Clone()
	r.Delivery = &Delivery{Attempts: attempts, LastError: reason}
	r.transition(ActionDeliveryFailed, now)
	return r.record(before, ActionDeliveryFailed, System.ID, now)
}

// FinishDelivery applies the outcome res of an attempt to deliver the event
// that the change to version version made: a delivered decision settles
// (Delivered), one given up on moves to error (DeliveryFailed); for a
// revocation both record the outcome in delivery and the request stays
// revoked (the approval is taken back whatever the receiver says). It returns
// a zero Change for an attempt that will be retried, and for a stale
// outcome — the request changed after the event, or is no longer
// acknowledged.
func (r *Request) FinishDelivery(version int64, res DeliveryResult, now time.Time) Change {
	switch {
	case !res.Done || r.Version != version:
		return Change{}
	case res.Delivered:
		return r.Delivered(res.Attempts, now)
	}
	return r.DeliveryFailed(res.Attempts, res.LastError, now)
}

// Redeliver sends the decision whose delivery failed again: from error back
// to the acknowledged status it failed in. Only an admin may redeliver.
func (r *Request) Redeliver(p Principal, expect *int64, now time.Time) (Change, error) {
	now = TruncateTime(now)
	if err := r.checkVersion(expect); err != nil {
		return Change{}, err
	}
	if !p.IsAdmin() {
		return Change{}, Errorf(KindForbidden, CodeMissingScope, "redelivering needs the %s scope", ScopeAdmin)
	}
	if !Allowed(r.Status, ActionRedeliver) || r.PreviousStatus == nil || !r.PreviousStatus.Acknowledged() {
		return Change{}, refuse(r.Status, "redeliver")
	}
	if r.ServiceRule == "" {
		return Change{}, Errorf(KindConflict, CodeInvalidTransition, "the request has no service rule to deliver to; decide it again instead")
	}
	r.ensureDigest()
	if *r.PreviousStatus == StatusAcknowledgedApproved && !r.evaluate().satisfied {
		// Edited in error after the approval: the approval was of other
		// content, so it may not be delivered as an approval of this one.
		return Change{}, Errorf(KindConflict, CodeInvalidTransition, "the request changed after it was approved, which voided the approvals; it must be approved again, not redelivered")
	}
	before := r.Clone()
	to := *r.PreviousStatus
	prev := r.Status
	r.PreviousStatus = &prev
	r.Status = to
	r.DecidedAt = &now
	return r.record(before, ActionRedeliver, p.ID, now), nil
}

// webhookActions are the changes after which the request is acknowledged
// and its decision must be delivered to the service rule.
var webhookActions = []Action{ActionApprove, ActionReject, ActionCancel, ActionRedeliver}

// deliversTo returns the service rule a change's event must be delivered
// to: the request's rule when the change acknowledged a decision, revoked
// an approval or expired the request.
func deliversTo(r *Request, a Action) string {
	if a == ActionRevoke || a == ActionExpire || (r.Status.Acknowledged() && slices.Contains(webhookActions, a)) {
		return r.ServiceRule
	}
	return ""
}
