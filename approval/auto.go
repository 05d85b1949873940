package approval

import (
	"encoding/json"
	"time"
)

// Automatic decisions: a rule may carry CEL expressions (auto_reject_if,
// auto_approve_if) that decide it by themselves. The domain does not
// evaluate them (it imports no expression language): the engine asks
// AutoRules which rules an expression may decide now, evaluates their
// expressions, and records each one that holds with AutoDecide, as its own
// change, by AutoPrincipal(policy). An automatic decision counts only for
// its own rule, and only while the rule has that expression: an automatic
// rejection rejects the rule as its reject threshold would, an automatic
// approval satisfies the rule whatever its min_approvals — unless the
// policy forbids automatic approval (forbid_auto_approve), in which case
// none is recorded and none counts. Only an admin's policy may approve
// automatically (Combine refuses auto_approve_if in a requester's inline
// policy). An evaluation error decides nothing (the engine logs it).

// AutoRule is a rule of a request's open stage that an expression may
// decide now: it is not satisfied and not yet decided automatically.
// RejectIf is its auto_reject_if, ApproveIf its auto_approve_if ("" when it
// has none, or when the policy forbids automatic approval). The engine
// evaluates RejectIf first.
type AutoRule struct {
	Stage     int
	Rule      string
	RejectIf  string
	ApproveIf string
}

// AutoRules returns the rules of r's open stage that an expression may
// decide now, in the policy's order; none unless r is pending.
func (r *Request) AutoRules() []AutoRule {
	if r.Status != StatusPending {
		return nil
	}
	ev := r.evaluate()
	stages := r.Policy.stages()
	if ev.open >= len(stages) {
		return nil
	}
	var out []AutoRule
	for _, rule := range stages[ev.open].Rules {
		ar := AutoRule{Stage: ev.open, Rule: rule.Name, RejectIf: rule.AutoRejectIf}
		if !r.Policy.ForbidAutoApprove {
			ar.ApproveIf = rule.AutoApproveIf
		}
		if (ar.RejectIf == "" && ar.ApproveIf == "") || r.autoDecided(ev.open, rule.Name) {
			continue
		}
		for _, rp := range ev.rules {
			if rp.Open && rp.Rule == rule.Name && !rp.Satisfied {
				out = append(out, ar)
			}
		}
	}
	return out
}

// autoDecided reports whether rule of stage si has a live automatic
// decision of r's content.
func (r *Request) autoDecided(si int, rule string) bool {
	for _, rv := range r.live() {
		if !rv.Void && rv.Auto != nil && rv.Stage == si && rv.Auto.Rule == rule {
			return true
		}
	}
	return false
}

// AutoDecide records the automatic decision d (approve or reject) of the
// rule named by a.Rule in r's open stage, made because its expression
// a.Expression held over a.Inputs; the reviewer is AutoPrincipal(a.Policy).
// The rule must be one AutoRules returns now with that expression as its
// RejectIf (to reject) or ApproveIf (to approve); otherwise it is a
// KindConflict error and nothing changes. The decision then decides the
// request as a review would (see Review): an automatic rejection rejects
// it, an automatic approval that completes the policy approves it.
func (r *Request) AutoDecide(d Decision, a AutoDecision, now time.Time) (Change, error) {
	now = TruncateTime(now)
	if !Allowed(r.Status, ActionReview) || r.Status != StatusPending {
		return Change{}, refuse(r.Status, "decide automatically")
	}
	if err := r.checkOverdue(now); err != nil {
		return Change{}, err
	}
	r.ensureDigest()
	var stage = -1
	for _, ar := range r.AutoRules() {
		if ar.Rule != a.Rule {
			continue
		}
		if (d == DecisionReject && ar.RejectIf == a.Expression && a.Expression != "") ||
			(d == DecisionApprove && ar.ApproveIf == a.Expression && a.Expression != "") {
			stage = ar.Stage
		}
	}
	if stage < 0 {
		return Change{}, Errorf(KindConflict, CodeInvalidTransition, "rule %s cannot be decided automatically by that expression now", a.Rule)
	}
	if !json.Valid(a.Inputs) {
		a.Inputs = json.RawMessage(`null`)
	}
	before := r.Clone()
	who := AutoPrincipal(a.Policy)
	r.Reviews = append(r.Reviews, Review{
		Reviewer: who, Decision: d, At: now, Version: r.Version, Digest: r.Digest, Stage: stage,
		Comment: "decided by rule " + a.Rule + ": " + a.Expression, Auto: &a,
	})
	return r.record(before, r.decide("", now), who, now), nil
}
