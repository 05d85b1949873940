package approval

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Progress is how far a request has come: each rule of its policy, its
// dependencies, and, while it is pending, why.
type Progress struct {
	// Satisfied is true when every rule of every stage holds.
	Satisfied bool `json:"satisfied"`
	// Stage names the stage open now (staged policies only).
	Stage        string            `json:"stage,omitempty"`
	Rules        []RuleProgress    `json:"rules"`
	Dependencies []DependencyState `json:"dependencies"`
	// PendingReason says, while the request is pending, what it waits for.
	PendingReason string `json:"pending_reason,omitempty"`
}

// DependencyState is one dependency and its status, when known.
type DependencyState struct {
	ID     string `json:"id"`
	Status string `json:"status,omitempty"`
}

// failedDependency reports whether a dependency in status s can never be
// approved: it ended rejected, cancelled, expired or revoked.
func failedDependency(s Status) bool {
	return s == StatusRejected || s == StatusCancelled || s == StatusExpired || s == StatusRevoked
}

// selfReviewer returns requester when pol forbids self-review (so the
// requester cannot count toward its rules), else "".
func selfReviewer(pol Policy, requester string) string {
	if pol.AllowSelfReview {
		return ""
	}
	return requester
}

// dependencyOutcome returns whether every dependency is approved and,
// if one has failed, its id and status. Unknown statuses count as not approved.
func (r *Request) dependencyOutcome() (approved bool, failedID string, failed Status) {
	approved = true
	for _, id := range r.DependsOn {
		st, ok := r.deps[id]
		switch {
		case !ok:
			approved = false
		case failedDependency(st):
			return false, id, st
		case st != StatusApproved:
			approved = false
		}
	}
	return approved, "", StatusUnknown
}

// Progress returns r's progress under its policy and dependencies.
func (r *Request) Progress() Progress {
	ev := r.evaluate()
	p := Progress{Satisfied: ev.satisfied, Rules: ev.rules, Dependencies: []DependencyState{}}
	if p.Rules == nil {
		p.Rules = []RuleProgress{}
	}
	stages := r.Policy.stages()
	if len(r.Policy.Stages) > 0 && ev.open < len(stages) {
		p.Stage = stages[ev.open].Name
	}
	var waiting []string
	for _, id := range r.DependsOn {
		d := DependencyState{ID: id}
		if st, ok := r.deps[id]; ok {
			d.Status = st.String()
			if st != StatusApproved {
				waiting = append(waiting, fmt.Sprintf("%s (%s)", id, st))
			}
		} else if r.deps != nil {
			waiting = append(waiting, id+" (unknown)")
		} else {
			waiting = append(waiting, id)
		}
		p.Dependencies = append(p.Dependencies, d)
	}
	if r.Status != StatusPending {
		return p
	}
	if !ev.satisfied {
		var parts []string
		for _, rp := range ev.rules {
			if !rp.Open || rp.Satisfied {
				continue
			}
			n := rp.Needed - rp.Approvals
			parts = append(parts, fmt.Sprintf("%d more %s for rule %s (%s)", n, plural(n, "approval", "approvals"), rp.Rule, rp.MayApprove.describe()))
		}
		reason := "waiting for " + strings.Join(parts, "; ")
		if p.Stage != "" {
			reason = fmt.Sprintf("stage %s: %s", p.Stage, reason)
		}
		p.PendingReason = reason
		return p
	}
	if len(waiting) > 0 {
		p.PendingReason = "the policy is satisfied; waiting for dependencies to be approved: " + strings.Join(waiting, ", ")
	}
	return p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// describe names the reviewers of e for a sentence.
func (e Eligibility) describe() string {
	if e.Anyone {
		return "anyone with the review scope"
	}
	var parts []string
	if len(e.Principals) > 0 {
		parts = append(parts, strings.Join(e.Principals, ", "))
	}
	if len(e.Groups) > 0 {
		parts = append(parts, "members of "+strings.Join(e.Groups, ", "))
	}
	if len(parts) == 0 {
		return "no eligible reviewer has not yet reviewed"
	}
	return strings.Join(parts, " or ")
}

// Index is what a store keeps beside a request, derived from it on every
// write, to answer queries the request's columns cannot: whose inbox it is
// in, which dependencies it waits for, whether it is held only by them.
// Every part is empty unless the request is pending.
type Index struct {
	// Inbox holds the keys (see InboxKeys) of reviewers whose review the
	// open stage still needs: "*" for anyone, "p:<principal>", "g:<group>".
	Inbox []string
	// Excluded holds principals who must not see the request in their
	// inbox although a key matches: reviewers who have reviewed, and the
	// requester unless self-review is allowed.
	Excluded []string
	// DependsOn holds the dependencies while the request is pending.
	DependsOn []string
	// Blocked is true when the policy is satisfied and only dependencies
	// keep the request pending.
	Blocked bool
}

// Equal reports whether x and y index alike.
func (x Index) Equal(y Index) bool {
	return slices.Equal(x.Inbox, y.Inbox) && slices.Equal(x.Excluded, y.Excluded) &&
		slices.Equal(x.DependsOn, y.DependsOn) && x.Blocked == y.Blocked
}

// Index returns r's index entries.
func (r *Request) Index() Index {
	var ix Index
	if r.Status != StatusPending {
		return ix
	}
	ix.DependsOn = slices.Clone(r.DependsOn)
	ev := r.evaluate()
	ix.Blocked = ev.satisfied && len(r.DependsOn) > 0
	for _, rp := range ev.rules {
		if !rp.Open || rp.Satisfied {
			continue
		}
		if rp.MayApprove.Anyone {
			ix.Inbox = append(ix.Inbox, keyAnyone)
		}
		for _, id := range rp.MayApprove.Principals {
			ix.Inbox = append(ix.Inbox, keyPrincipal+id)
		}
		for _, g := range rp.MayApprove.Groups {
			ix.Inbox = append(ix.Inbox, keyGroup+g)
		}
	}
	for _, rv := range r.Reviews {
		if !rv.Void {
			ix.Excluded = append(ix.Excluded, rv.Reviewer)
			if rv.By != "" {
				ix.Excluded = append(ix.Excluded, rv.By) // a delegate counts once too
			}
		}
	}
	if !r.Policy.AllowSelfReview {
		ix.Excluded = append(ix.Excluded, r.Requester)
	}
	slices.Sort(ix.Inbox)
	ix.Inbox = slices.Compact(ix.Inbox)
	slices.Sort(ix.Excluded)
	ix.Excluded = slices.Compact(ix.Excluded)
	return ix
}

// scheduleReminder sets when the next reminder is due: RemindAfter from
// now while pending, none otherwise.
func (r *Request) scheduleReminder(now time.Time) {
	r.NextReminderAt = nil
	if r.Status == StatusPending && r.RemindAfter > 0 {
		t := TruncateTime(now.Add(time.Duration(r.RemindAfter)))
		r.NextReminderAt = &t
	}
}

// Remind re-requests reviews of a pending request whose reminder is due:
// the change's event (approval.review_requested) carries the request with
// its progress, which names who may still approve. It returns a zero Change
// when no reminder is due at now.
func (r *Request) Remind(now time.Time) Change {
	now = TruncateTime(now)
	if r.Status != StatusPending || r.NextReminderAt == nil || r.NextReminderAt.After(now) || r.Overdue(now) {
		return Change{}
	}
	if r.Progress().Satisfied {
		return Change{} // only dependencies hold it: no reviewer to remind (Review clears the reminder)
	}
	before := r.Clone()
	r.scheduleReminder(now)
	return r.record(before, ActionRemind, System.ID, now)
}

// Resolve decides a pending request by its dependencies, whose statuses
// must have been set with SetDependencies: a dependency that ended
// rejected, cancelled or expired rejects it; when its policy is satisfied
// and every dependency is approved, it is approved. Otherwise (and when r
// is not pending) it returns a zero Change.
func (r *Request) Resolve(now time.Time) Change {
	now = TruncateTime(now)
	if r.Status != StatusPending || len(r.DependsOn) == 0 || r.Overdue(now) {
		return Change{}
	}
	approved, failedID, failed := r.dependencyOutcome()
	before := r.Clone()
	switch {
	case failedID != "":
		r.Reason = fmt.Sprintf("dependency %s ended %s", failedID, failed)
		r.settleItems(ActionReject)
		r.transition(ActionReject, now)
		return r.record(before, ActionReject, System.ID, now)
	case approved && r.approvedByPolicy():
		r.Reason = "the policy was satisfied and every dependency is approved"
		r.settleItems(ActionApprove)
		r.transition(ActionApprove, now)
		return r.record(before, ActionApprove, System.ID, now)
	}
	return Change{}
}
