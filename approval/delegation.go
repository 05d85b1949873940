package approval

import (
	"slices"
	"time"
)

// Delegation lends Delegator's review eligibility to Delegate from Starts
// until Ends (out of office). The delegate reviews "for" the delegator: the
// review counts as the delegator's and records who gave it (Review.By).
// Delegations do not transit: a delegate acts with the delegator's own
// eligibility — its principal id and DelegatorGroups — never with
// eligibility the delegator holds through a delegation. A revoked or ended
// delegation stops at once.
type Delegation struct {
	ID        string `json:"id"`
	Delegator string `json:"delegator"`
	// DelegatorGroups are the groups the delegator's eligibility includes:
	// those its credential carried when it delegated (self-service), or
	// those an admin gave.
	DelegatorGroups []string   `json:"delegator_groups"`
	Delegate        string     `json:"delegate"`
	Starts          time.Time  `json:"starts_at"`
	Ends            time.Time  `json:"ends_at"`
	Reason          string     `json:"reason"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
	RevokedAt       *time.Time `json:"revoked_at"`
	RevokedBy       string     `json:"revoked_by,omitempty"`
}

// ActiveAt reports whether d lends eligibility at t.
func (d Delegation) ActiveAt(t time.Time) bool {
	return d.RevokedAt == nil && !t.Before(d.Starts) && t.Before(d.Ends)
}

// Principal returns the principal a delegate reviews as: the delegator
// with its recorded groups and only the review scope.
func (d Delegation) Principal() Principal {
	return Principal{ID: d.Delegator, Groups: slices.Clone(d.DelegatorGroups), Scopes: []Scope{ScopeReview}}
}

// Validate checks d, made at now.
func (d *Delegation) Validate(now time.Time) error {
	var v Validation
	if !ValidPrincipal(d.Delegator) {
		v.Add("delegator", "must be a principal such as user:alice")
	}
	if !ValidPrincipal(d.Delegate) {
		v.Add("delegate", "must be a principal such as user:bob")
	} else if d.Delegate == d.Delegator {
		v.Add("delegate", "must be someone other than the delegator")
	}
	if d.Starts.IsZero() {
		d.Starts = now
	}
	d.Starts, d.Ends = TruncateTime(d.Starts), TruncateTime(d.Ends)
	switch {
	case d.Ends.IsZero():
		v.Add("ends_at", "is required")
	case !d.Ends.After(d.Starts):
		v.Add("ends_at", "must be after starts_at")
	case !d.Ends.After(now):
		v.Add("ends_at", "must be in the future")
	case d.Ends.Sub(now) > MaxDelegationAhead:
		v.Add("ends_at", "must be within %d days", int(MaxDelegationAhead.Hours()/24))
	}
	if len(d.DelegatorGroups) > MaxRuleGroups {
		v.Add("delegator_groups", "at most %d groups are allowed", MaxRuleGroups)
	}
	checkText(&v, "reason", d.Reason, MaxDelegationReason, false)
	if d.DelegatorGroups == nil {
		d.DelegatorGroups = []string{}
	}
	return v.Err()
}

// DelegationFilter selects delegations for a list, newest first.
type DelegationFilter struct {
	// Principal, when set, selects delegations it gave or received.
	Principal string
	// ActiveAt, when not zero, selects those active then.
	ActiveAt time.Time
	Limit    int
}
