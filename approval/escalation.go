package approval

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
)

// Escalation: a rule with escalate_after that its stage has not satisfied
// that long after the stage opened is escalated — its escalate_to
// reviewers become eligible for it too, and are told. It fails closed:
// escalating records who else may review and changes no count (only
// reviews given after it count through it), so it never approves anything
// by itself, and a rule still needs its min_approvals.

// evaluate is r's policy evaluated over r's live reviews and escalations;
// for a request with items, the evaluation of its least advanced item (see
// itemEvaluation).
func (r *Request) evaluate() evaluation {
	if len(r.Items) > 0 {
		return r.itemEvaluation()
	}
	return r.Policy.evaluate(r.live(), r.Requester, r.Escalations)
}

// refreshEscalation keeps r's escalation state in step with the change
// from before (nil for a creation), made at now: the open stage opens
// afresh — StageOpenedAt set to now and the escalations of that stage and
// later ones forgotten — on creation, when the open stage changes, when
// the change voided reviews, and when the policy changed (escalations name
// rules of the policy they were made under). NextEscalationAt is then
// when the next rule of the open stage is due to escalate, nil for none
// and whenever r is not pending.
func (r *Request) refreshEscalation(before *Request, now time.Time) {
	if r.Status != StatusPending {
		r.NextEscalationAt = nil
		return
	}
	open := r.evaluate().open
	switch {
	case before == nil || r.StageOpenedAt == nil:
		r.openStage(open, now)
	case before.evaluate().open != open,
		len(r.live()) < len(before.live()),
		!samePolicy(before.Policy, r.Policy):
		r.openStage(open, now)
	}
	r.NextEscalationAt = nil
	for _, rule := range r.unescalated() {
		t := TruncateTime(r.StageOpenedAt.Add(time.Duration(rule.EscalateAfter)))
		if r.NextEscalationAt == nil || t.Before(*r.NextEscalationAt) {
			r.NextEscalationAt = &t
		}
	}
}

// openStage records that stage open opened at now.
func (r *Request) openStage(open int, now time.Time) {
	t := now
	r.StageOpenedAt = &t
	r.Escalations = slices.DeleteFunc(r.Escalations, func(e Escalation) bool { return e.Stage >= open })
	if len(r.Escalations) == 0 {
		r.Escalations = nil
	}
}

// samePolicy reports whether a and b are the same policy.
func samePolicy(a, b Policy) bool {
	x, _ := json.Marshal(a) // a Policy always marshals
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// unescalated returns the rules of r's open stage that may still escalate:
// not satisfied, with escalate_after and escalate_to, and not escalated yet.
func (r *Request) unescalated() []Rule {
	if r.Status != StatusPending || r.StageOpenedAt == nil {
		return nil
	}
	ev := r.evaluate()
	stages := r.Policy.stages()
	if ev.open >= len(stages) {
		return nil
	}
	var out []Rule
	for _, rule := range stages[ev.open].Rules {
		if rule.EscalateAfter <= 0 || rule.EscalateTo.empty() {
			continue
		}
		if _, done := escalationOf(r.Escalations, ev.open, rule.Name); done {
			continue
		}
		for _, rp := range ev.rules {
			if rp.Open && rp.Rule == rule.Name && !rp.Satisfied {
				out = append(out, rule)
			}
		}
	}
	return out
}

// Escalate escalates every rule of r's open stage whose escalation is due
// at now (see Rule.EscalateAfter): each is recorded in r.Escalations, and
// the change (action escalate, by the system) carries the escalation
// notification for the rules' escalate_to reviewers. It returns a zero
// Change when nothing is due, and when r is not pending or is overdue.
func (r *Request) Escalate(now time.Time) Change {
	now = TruncateTime(now)
	if !Allowed(r.Status, ActionEscalate) || r.Status != StatusPending || r.Overdue(now) || r.StageOpenedAt == nil {
		return Change{}
	}
	open := r.evaluate().open
	var due []string
	for _, rule := range r.unescalated() {
		if !r.StageOpenedAt.Add(time.Duration(rule.EscalateAfter)).After(now) {
			due = append(due, rule.Name)
		}
	}
	if len(due) == 0 {
		return Change{}
	}
	before := r.Clone()
	for _, name := range due {
		// Reviews of the version this change makes, or later, count
		// through the escalation; none before it does.
		r.Escalations = append(r.Escalations, Escalation{Stage: open, Rule: name, At: now, Version: r.Version + 1})
	}
	return r.record(before, ActionEscalate, System.ID, now)
}

// eligibleInStage reports whether a reviewer with the given id and groups
// may review for some rule of stage si, counting the rules of r escalated
// in it.
func (r *Request) eligibleInStage(si int, id string, groups []string) bool {
	stages := r.Policy.stages()
	if si < 0 || si >= len(stages) {
		return false
	}
	for _, rule := range stages[si].Rules {
		_, escalated := escalationOf(r.Escalations, si, rule.Name)
		if rule.eligibleAs(id, groups, escalated) {
			return true
		}
	}
	return false
}
